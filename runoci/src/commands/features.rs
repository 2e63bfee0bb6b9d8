//! `features`: the runtime-spec features document (features.md,
//! features-linux.md), generated from the tables that decide what a config
//! may hold and what is applied, so it cannot claim what the code does not
//! do (`tests::features_agree_with_what_is_applied` checks the pairs).

use crate::error::{Error, Result};
use runoci_core::hooks::Stage;
use runoci_core::spec::{attrs, names};
use serde_json::{json, Value};

/// The oldest config version runoci loads (`validate` takes any 1.x).
const OCI_VERSION_MIN: &str = "1.0.0";

pub fn features() -> Result<i32> {
    println!(
        "{}",
        serde_json::to_string_pretty(&document()).map_err(|e| Error::new(e.to_string()))?
    );
    Ok(0)
}

fn document() -> Value {
    let hooks: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
    let mount_options: Vec<&str> = names::mount_option_names();
    let namespaces: Vec<&str> = names::namespace_names().collect();
    let capabilities: Vec<&str> = names::capability_names().collect();
    let criu = super::check::criu_status();
    json!({
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": runoci_proto::OCI_VERSION,
        "hooks": hooks,
        "mountOptions": mount_options,
        "linux": {
            "namespaces": namespaces,
            "capabilities": capabilities,
            // --systemd-cgroup: a transient scope over D-Bus, from the
            // system manager as root, the user's manager otherwise.
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": true, "rdma": true},
            "seccomp": {
                "enabled": true,
                "actions": names::SECCOMP_ACTIONS,
                "operators": names::SECCOMP_OPS,
                "archs": crate::seccomp::supported_archs(),
                "knownFlags": names::SECCOMP_FLAGS,
                "supportedFlags": crate::seccomp::supported_flags(),
            },
            "apparmor": {"enabled": runoci_core::lsm::apparmor_enabled()},
            "selinux": {"enabled": runoci_core::lsm::selinux_enabled()},
            "intelRdt": {"enabled": runoci_core::resctrl::mount_point().is_some()},
            "memoryPolicy": {
                "modes": attrs::names(&attrs::MEMPOLICY_MODES),
                "flags": attrs::names(&attrs::MEMPOLICY_FLAGS)
            },
            // moved in by runoci/src/netdev.rs
            "netDevices": {"enabled": true},
            // open_tree + mount_setattr(MOUNT_ATTR_IDMAP), runoci/src/rootfs/idmap.rs
            "mountExtensions": {"idmap": {"enabled": true}}
        },
        // runoci acts on no annotation of the config.
        "potentiallyUnsafeConfigAnnotations": [],
        "annotations": {
            "org.opencontainers.runc.checkpoint.enabled": criu.starts_with("usable").to_string(),
            "io.github.runoci.criu": criu,
            "io.github.runoci.version": env!("CARGO_PKG_VERSION")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &Value) -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("expected an array, saw {v}"))
            .iter()
            .map(|s| s.as_str().expect("a string").to_string())
            .collect()
    }

    /// Each list of `features` against the code that applies or refuses.
    #[test]
    fn features_agree_with_what_is_applied() {
        let doc = document();
        for name in strings(&doc["mountOptions"]) {
            let parsed = names::mount_options(std::slice::from_ref(&name));
            assert!(
                parsed.data.is_empty(),
                "mountOptions lists {name:?}, which mount_options passes on as filesystem data"
            );
        }
        let linux = &doc["linux"];
        for ns in strings(&linux["namespaces"]) {
            assert!(names::namespace_flag(&ns).is_some(), "namespace {ns}");
        }
        for cap in strings(&linux["capabilities"]) {
            assert!(names::capability(&cap).is_some(), "capability {cap}");
        }
        for hook in strings(&doc["hooks"]) {
            let hooks: runoci_core::spec::Hooks =
                serde_json::from_value(json!({ hook.clone(): [{"path": "/bin/true"}] }))
                    .unwrap_or_else(|e| panic!("hooks.{hook}: {e}"));
            let stage = Stage::ALL.iter().find(|s| s.as_str() == hook).unwrap();
            assert_eq!(
                stage.of(&hooks).len(),
                1,
                "hooks.{hook} is read into its stage"
            );
        }
        let seccomp = &linux["seccomp"];
        // Loaded (validated) and compiled as `create` does.
        let compile = |filter: Value| {
            let config = json!({"ociVersion": "1.0.0", "root": {"path": "rootfs"},
                "process": {"args": ["sh"], "cwd": "/"}, "linux": {"seccomp": filter}});
            runoci_core::spec::parse(&config.to_string(), "config.json")
                .map_err(|e| Error::new(e.to_string()))
                .and_then(|spec| crate::seccomp::check(&spec))
        };
        let allow = |extra: Value| {
            let mut f = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/l"});
            f.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            f
        };
        for action in strings(&seccomp["actions"]) {
            let r = compile(allow(
                json!({"syscalls": [{"names": ["getcwd"], "action": action}]}),
            ));
            assert!(r.is_ok(), "seccomp action {action}: {r:?}");
        }
        for op in strings(&seccomp["operators"]) {
            let rule = json!({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 1, "value": 1, "op": op}]});
            let r = compile(allow(json!({ "syscalls": [rule] })));
            assert!(r.is_ok(), "seccomp operator {op}: {r:?}");
        }
        for arch in strings(&seccomp["archs"]) {
            let r = compile(allow(json!({ "architectures": [arch] })));
            assert!(r.is_ok(), "seccomp arch {arch}: {r:?}");
        }
        let known = strings(&seccomp["knownFlags"]);
        for flag in strings(&seccomp["supportedFlags"]) {
            let r = compile(allow(json!({ "flags": [flag] })));
            assert!(r.is_ok(), "seccomp flag {flag}: {r:?}");
            assert!(
                known.contains(&flag),
                "supported flag {flag} is a known one"
            );
        }
        assert_eq!(doc["ociVersionMax"], runoci_proto::OCI_VERSION);
        let max_config = json!({"ociVersion": doc["ociVersionMax"], "root": {"path": "rootfs"},
            "process": {"args": ["sh"], "cwd": "/"}});
        let min_config = json!({"ociVersion": doc["ociVersionMin"], "root": {"path": "rootfs"},
            "process": {"args": ["sh"], "cwd": "/"}});
        for config in [max_config, min_config] {
            let r = runoci_core::spec::parse(&config.to_string(), "config.json");
            assert!(r.is_ok(), "{config} loads: {r:?}");
        }
    }
}
