//! The systemd cgroup driver (`--systemd-cgroup`): systemd owns the
//! container's cgroup. The init goes into a transient scope started over
//! D-Bus (`StartTransientUnit` with `Delegate=yes` and the init's pid, in
//! the slice of `slice:prefix:name`); the resources systemd has
//! properties for are given to it as unit properties (`props`), and all
//! of `linux.resources` is then written to the scope's cgroup through
//! cgroupfs, as runc does. `update` goes through `SetUnitProperties`,
//! `delete` stops the unit and waits for the stop job.
//!
//! As root this is the system manager; as another user, that user's
//! manager on the session bus (`$DBUS_SESSION_BUS_ADDRESS`, else
//! `$XDG_RUNTIME_DIR/bus`).
//!
//! Only the runoci binary speaks D-Bus (zbus is not linked into the
//! monitor): a monitor cleans up only after every process of the
//! container is gone, and systemd stops an empty transient scope by
//! itself; `delete` stops it explicitly, as runc does.

pub mod props;

use crate::error::{Context, Error, Result};
use props::{Prop, Props};
use runoci_core::cgroups::{self, Cgroup};
use runoci_core::state::SystemdUnit;
use std::sync::mpsc;
use std::time::Duration;
use zbus::blocking::{Connection, Proxy};
use zbus::zvariant::{OwnedObjectPath, Value};

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// How long a start or stop job may take.
const JOB_LIMIT: Duration = Duration::from_secs(30);

/// The scope to start for a container.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopePlan {
    pub unit: SystemdUnit,
    pub slice: String,
    pub description: String,
    /// `linux.resources` as written to the scope's cgroup, and as unit
    /// properties: made with the plan, so that a value systemd cannot be
    /// given is refused before the init or the scope exists.
    pub resources: crate::spec::Resources,
    pub props: Props,
}

impl ScopePlan {
    /// The container's scope with `--systemd-cgroup`, else `None`.
    pub fn for_container(
        spec: &crate::spec::Spec,
        opts: &crate::options::ContainerOptions,
    ) -> Result<Option<ScopePlan>> {
        if !opts.systemd_cgroup {
            return Ok(None);
        }
        // runc gives these to systemd as unit properties, their values
        // parsed as GVariant text; runoci does not: refused rather than
        // left out of the scope unsaid.
        let prefix = "org.systemd.property.";
        if let Some(key) = spec.annotations.keys().find(|k| k.starts_with(prefix)) {
            return Err(Error::new(format!(
                "annotations.{key}: runoci does not pass annotations to systemd as unit properties; drop the annotation or leave out --systemd-cgroup"
            )));
        }
        let path = spec.linux.as_ref().and_then(|l| l.cgroups_path.as_deref());
        let resources = crate::cgroup_setup::resources_to_apply(spec);
        Ok(Some(ScopePlan {
            props: resource_props_here(&resources)?,
            resources,
            ..ScopePlan::new(&opts.id, path, opts.cgroup_parent.as_deref())?
        }))
    }

    /// From `cgroupsPath` (`slice:prefix:name`), else `--cgroup_parent`
    /// as the slice and `runoci-<id>.scope`, as runc does without a path.
    pub fn new(id: &str, cgroups_path: Option<&str>, parent: Option<&str>) -> Result<ScopePlan> {
        let user = !nix::unistd::geteuid().is_root();
        // Errors name where the path came from.
        let (field, path) = match (cgroups_path.filter(|p| !p.is_empty()), parent) {
            (Some(p), _) => ("linux.cgroupsPath", p.to_string()),
            (None, Some(parent)) if !parent.is_empty() => {
                ("--cgroup_parent", format!("{parent}:runoci:{id}"))
            }
            _ => ("container id", format!(":runoci:{id}")),
        };
        let parsed = runoci_core::cgroups::parse_systemd_path(&path)
            .map_err(|e| Error::new(format!("{field}: {e}")))?;
        if !parsed.unit.ends_with(".scope") {
            return Err(Error::new(format!(
                "{field}: {path:?} names a slice ({}) for the container: with --systemd-cgroup runoci puts a container in a scope; give slice:prefix:name with a name that does not end in .slice",
                parsed.unit
            )));
        }
        // Checked here, not by systemd's refusal of StartTransientUnit,
        // which comes once the init exists.
        for name in std::iter::once(&parsed.unit).chain(&parsed.slice) {
            if !is_unit_name(name) {
                return Err(Error::new(format!(
                    "{field}: {path:?}: {name:?} is not a systemd unit name (at most 255 of letters, digits, ':', '-', '_', '.', '\\')"
                )));
            }
        }
        let default_slice = if user { "user.slice" } else { "system.slice" };
        Ok(ScopePlan {
            unit: SystemdUnit {
                name: parsed.unit,
                user,
            },
            slice: parsed.slice.unwrap_or_else(|| default_slice.to_string()),
            description: format!("runoci container {id}"),
            resources: Default::default(),
            props: Props::new(),
        })
    }

    /// Starts the scope with `pid` in it and waits for the start job.
    /// Returns the scope's cgroup (systemd's `ControlGroup`, from the root
    /// of the hierarchy).
    pub fn start(&self, pid: i32) -> Result<String> {
        let bus = Bus::connect(self.unit.user)?;
        // A failed scope of an earlier container with this name would make
        // the start fail with "already exists".
        let _ = bus.manager_call::<()>("ResetFailedUnit", &(self.unit.name.as_str(),));
        let mut props: Props = vec![
            ("Description", Prop::Str(self.description.clone())),
            ("Slice", Prop::Str(self.slice.clone())),
            ("Delegate", Prop::Bool(true)),
            ("PIDs", Prop::Pids(vec![pid as u32])),
            // Not stopped with the slice's ordinary dependencies at
            // shutdown before its owner (engine, kubelet) does.
            ("DefaultDependencies", Prop::Bool(false)),
            ("MemoryAccounting", Prop::Bool(true)),
            ("CPUAccounting", Prop::Bool(true)),
            ("IOAccounting", Prop::Bool(true)),
            ("TasksAccounting", Prop::Bool(true)),
        ];
        props.extend(self.props.iter().cloned());
        let values = values(&props);
        let aux: Vec<(&str, Vec<(&str, Value)>)> = Vec::new();
        bus.run_job(
            "StartTransientUnit",
            &(self.unit.name.as_str(), "fail", values, aux),
            &self.unit.name,
        )?;
        let unit_path: OwnedObjectPath =
            bus.manager_call("GetUnit", &(self.unit.name.as_str(),))?;
        let scope = Proxy::new(&bus.conn, DEST, unit_path, "org.freedesktop.systemd1.Scope")
            .map_err(|e| bus.err("open the scope's object", e))?;
        scope
            .get_property::<String>("ControlGroup")
            .map_err(|e| bus.err(&format!("read {}'s ControlGroup", self.unit.name), e))
    }
}

/// systemd's `unit_name_is_valid` for a plain (non-template) unit: the
/// characters it takes, and the length its `UNIT_NAME_MAX` allows.
fn is_unit_name(name: &str) -> bool {
    name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":-_.\\".contains(&b))
}

/// Starts `plan`'s scope with `pid` in it (the init; at restore, criu,
/// whose restored tree stays in the scope when it exits) and writes
/// `linux.resources` to the scope's cgroup; the unit and then the cgroup
/// are noted in the record first (a creator killed half-way leaves what
/// the record names for `destroy`). The caller stops the unit on error.
pub fn start_scope(
    plan: &ScopePlan,
    spec: &crate::spec::Spec,
    opts: &crate::options::ContainerOptions,
    pid: i32,
) -> Result<Cgroup> {
    let note = |f: &dyn Fn(&mut runoci_core::state::RuntimeRecord)| match &opts.state_dir {
        Some(dir) => runoci_core::state::StateDir::open_dir(dir).update_record(|r| f(r)),
        None => Ok(()),
    };
    note(&|r| r.systemd_unit = Some(plan.unit.clone()))?;
    let control_group = plan.start(pid)?;
    let layout = cgroups::Layout::detect().ctx("detect the cgroup layout")?;
    let rel = std::path::Path::new(control_group.trim_start_matches('/'));
    let cg = cgroups::Cgroup::existing(&layout, rel)?.ok_or_else(|| {
        Error::new(format!(
            "--systemd-cgroup: systemd started {} with cgroup {control_group}, which is in no mounted hierarchy",
            plan.unit.name
        ))
    })?;
    note(&|r| r.cgroup = Some(cg.to_record()))?;
    let cpu = spec.linux.as_ref().and_then(|l| l.cpu.as_ref());
    cg.apply(&plan.resources, cpu)?;
    Ok(cg)
}

/// `resource_props` with this host's /proc/devices (device classes), read
/// only when there are device rules to name.
pub fn resource_props_here(res: &crate::spec::Resources) -> Result<Props> {
    let proc_devices = match res.devices.is_empty() {
        true => String::new(),
        false => std::fs::read_to_string("/proc/devices").unwrap_or_default(),
    };
    props::resource_props(res, &proc_devices).map_err(Error::new)
}

/// `update`: the new limits as unit properties (for the running unit).
pub fn set_properties(unit: &SystemdUnit, props: &Props) -> Result<()> {
    if props.is_empty() {
        return Ok(());
    }
    let bus = Bus::connect(unit.user)?;
    bus.manager_call::<()>(
        "SetUnitProperties",
        &(unit.name.as_str(), true, values(props)),
    )
}

/// Stops the unit and waits for the stop job; a unit already gone (an
/// empty scope systemd collected) is fine.
pub fn stop(unit: &SystemdUnit) -> Result<()> {
    let bus = Bus::connect(unit.user)?;
    match bus.run_job("StopUnit", &(unit.name.as_str(), "replace"), &unit.name) {
        Ok(()) => {}
        Err(e) if e.message().contains("org.freedesktop.systemd1.NoSuchUnit") => {}
        Err(e) => return Err(e),
    }
    let _ = bus.manager_call::<()>("ResetFailedUnit", &(unit.name.as_str(),));
    Ok(())
}

fn values(props: &Props) -> Vec<(&str, Value<'_>)> {
    props
        .iter()
        .map(|(name, prop)| {
            let v = match prop {
                Prop::Bool(b) => Value::from(*b),
                Prop::Str(s) => Value::from(s.as_str()),
                Prop::U64(n) => Value::from(*n),
                Prop::Bytes(b) => Value::from(b.clone()),
                Prop::Pids(p) => Value::from(p.clone()),
                Prop::Devices(d) => Value::from(d.clone()),
                Prop::IoLimits(l) => Value::from(l.clone()),
            };
            (*name, v)
        })
        .collect()
}

struct Bus {
    conn: Connection,
    manager: Proxy<'static>,
    which: &'static str,
}

impl Bus {
    fn connect(user: bool) -> Result<Bus> {
        let (conn, which) = if user {
            (Connection::session(), "user manager (session bus)")
        } else {
            (Connection::system(), "system manager (system bus)")
        };
        let conn = conn.map_err(|e| {
            Error::new(format!(
                "--systemd-cgroup: cannot reach systemd's {which} over D-Bus: {e}; with --systemd-cgroup systemd must run as {} and its bus be reachable{}, or leave out --systemd-cgroup for runoci to manage the cgroup itself",
                if user { "this user's manager" } else { "init" },
                if user { " ($DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus)" } else { " (/run/dbus/system_bus_socket)" }
            ))
        })?;
        let manager = Proxy::new(&conn, DEST, PATH, MANAGER)
            .map_err(|e| Error::new(format!("--systemd-cgroup: systemd's {which}: {e}")))?;
        Ok(Bus {
            conn,
            manager,
            which,
        })
    }

    fn err(&self, what: &str, e: zbus::Error) -> Error {
        Error::new(format!(
            "--systemd-cgroup: systemd's {}: {what}: {e}",
            self.which
        ))
    }

    fn manager_call<R>(
        &self,
        method: &str,
        body: &(impl serde::Serialize + zbus::zvariant::DynamicType),
    ) -> Result<R>
    where
        R: serde::de::DeserializeOwned + zbus::zvariant::Type,
    {
        self.manager
            .call(method, body)
            .map_err(|e| self.err(method, e))
    }

    /// Calls a manager method that returns a job and waits for the job's
    /// `JobRemoved`; an outcome other than "done" is an error.
    fn run_job(
        &self,
        method: &str,
        body: &(impl serde::Serialize + zbus::zvariant::DynamicType),
        unit: &str,
    ) -> Result<()> {
        // Signals are sent only to subscribers; subscribed before the
        // call, so the job's end cannot be missed.
        let _ = self.manager_call::<()>("Subscribe", &());
        let signals = self
            .manager
            .receive_signal("JobRemoved")
            .map_err(|e| self.err("subscribe to JobRemoved", e))?;
        let job: OwnedObjectPath = self.manager_call(method, body)?;
        let (tx, rx) = mpsc::channel();
        let wanted = job.clone();
        std::thread::spawn(move || {
            for msg in signals {
                let Ok((_, path, _, result)) = msg
                    .body()
                    .deserialize::<(u32, OwnedObjectPath, String, String)>()
                else {
                    continue;
                };
                if path == wanted {
                    let _ = tx.send(result);
                    return;
                }
            }
        });
        match rx.recv_timeout(JOB_LIMIT) {
            Ok(result) if result == "done" => Ok(()),
            Ok(result) => Err(Error::new(format!(
                "--systemd-cgroup: systemd's {}: {method} {unit}: the job ended \"{result}\" (see journalctl -u {unit})",
                self.which
            ))),
            Err(_) => Err(Error::new(format!(
                "--systemd-cgroup: systemd's {}: {method} {unit}: the job did not end within {JOB_LIMIT:?}",
                self.which
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_from_the_path_or_the_id() {
        let p = ScopePlan::new("c1", Some("machine.slice:libpod:abc"), None).unwrap();
        assert_eq!(p.unit.name, "libpod-abc.scope");
        assert_eq!(p.slice, "machine.slice");
        let p = ScopePlan::new("c1", None, None).unwrap();
        assert_eq!(p.unit.name, "runoci-c1.scope");
        let p = ScopePlan::new("c1", Some("::c1"), None).unwrap();
        assert_eq!(p.unit.name, "c1.scope");
        let p = ScopePlan::new("c1", None, Some("k.slice")).unwrap();
        assert_eq!(
            (p.unit.name.as_str(), p.slice.as_str()),
            ("runoci-c1.scope", "k.slice")
        );
        for bad in ["a/b", "x:y", "a.slice:p:own.slice", "nota:p:n"] {
            let e = ScopePlan::new("c1", Some(bad), None)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("linux.cgroupsPath"), "{bad}: {e}");
        }
    }

    fn spec(cpus: &str, annotations: serde_json::Value) -> crate::spec::Spec {
        let json = serde_json::json!({
            "ociVersion": "1.0.2", "root": {"path": "rootfs"},
            "process": {"args": ["sh"], "cwd": "/"},
            "linux": {"resources": {"cpu": {"cpus": cpus}}},
            "annotations": annotations,
        });
        crate::spec::parse(&json.to_string(), "test").expect("valid config")
    }

    #[test]
    fn systemd_property_annotations_are_refused_with_the_plan() {
        let mut opts = crate::options::ContainerOptions {
            id: "c1".into(),
            systemd_cgroup: true,
            ..Default::default()
        };
        let annotated = spec(
            "0",
            serde_json::json!({"org.systemd.property.TimeoutStopUSec": "uint64 5", "a.b": "c"}),
        );
        let e = ScopePlan::for_container(&annotated, &opts)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("annotations.org.systemd.property.TimeoutStopUSec:"),
            "{e}"
        );
        // Without the systemd driver there is no unit for them.
        opts.systemd_cgroup = false;
        assert_eq!(ScopePlan::for_container(&annotated, &opts).unwrap(), None);
    }

    #[test]
    fn a_resource_systemd_cannot_take_is_refused_with_the_plan() {
        let opts = crate::options::ContainerOptions {
            id: "c1".into(),
            systemd_cgroup: true,
            ..Default::default()
        };
        let plan = ScopePlan::for_container(&spec("0-1", serde_json::json!({})), &opts)
            .unwrap()
            .expect("a scope under --systemd-cgroup");
        assert_eq!(plan.props, [("AllowedCPUs", Prop::Bytes(vec![0b11]))]);
        let e = ScopePlan::for_container(&spec("x", serde_json::json!({})), &opts)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("linux.resources.cpu.cpus"), "{e}");
    }

    #[test]
    fn a_name_systemd_would_refuse_is_refused_naming_its_source() {
        let e = |path, parent| ScopePlan::new("c1", path, parent).unwrap_err().to_string();
        let bad = e(Some("machine.slice:p:a b"), None);
        assert!(bad.starts_with("linux.cgroupsPath"), "{bad}");
        assert!(bad.contains("\"p-a b.scope\""), "{bad}");
        let bad = e(Some("m@x.slice:p:n"), None);
        assert!(bad.starts_with("linux.cgroupsPath"), "{bad}");
        let long = format!("m.slice:p:{}", "n".repeat(250));
        assert!(e(Some(&long), None).starts_with("linux.cgroupsPath"));
        for parent in ["x:y.slice", "a+b.slice"] {
            let bad = e(None, Some(parent));
            assert!(bad.starts_with("--cgroup_parent"), "{parent}: {bad}");
        }
        let bad = ScopePlan::new("a+b", None, None).unwrap_err().to_string();
        assert!(bad.starts_with("container id"), "{bad}");
        assert!(is_unit_name("runoci-a_b.c:1\\x2d.scope"));
    }

    #[test]
    fn values_have_systemds_signatures() {
        let props: Props = vec![
            ("PIDs", Prop::Pids(vec![1])),
            ("AllowedCPUs", Prop::Bytes(vec![3])),
            (
                "DeviceAllow",
                Prop::Devices(vec![("char-pts".into(), "rwm".into())]),
            ),
            (
                "IOReadBandwidthMax",
                Prop::IoLimits(vec![("/dev/block/8:0".into(), 1)]),
            ),
            ("Delegate", Prop::Bool(true)),
            ("TasksMax", Prop::U64(5)),
        ];
        let sigs: Vec<String> = values(&props)
            .iter()
            .map(|(_, v)| v.value_signature().to_string())
            .collect();
        assert_eq!(sigs, ["au", "ay", "a(ss)", "a(st)", "b", "t"]);
    }

    #[test]
    fn a_missing_bus_names_the_flag() {
        // A bus address that cannot be there: the error names the flag
        // and what was tried.
        let dir = std::env::temp_dir().join(format!("runoci-nobus-{}", std::process::id()));
        std::env::set_var(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}/bus", dir.display()),
        );
        let e = Bus::connect(true).err().expect("no bus there").to_string();
        assert!(
            e.starts_with("--systemd-cgroup: cannot reach systemd's user manager"),
            "{e}"
        );
    }
}
