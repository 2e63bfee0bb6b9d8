//! A Kubernetes node without the kubelet, for `cri_containerd.rs`: a
//! private containerd with its CRI plugin ([`Node`]), runtime handlers
//! `runc` and `runoci` (containerd's runc shim with `BinaryName` = the
//! runtime, cgroupfs), a pause image and the busybox image imported
//! locally (no registry), CNI from Debian's containernetworking-plugins
//! (bridge + host-local; CRI adds loopback) on a bridge and subnet of its
//! own, and a CRI client ([`Cri`], k8s-cri's generated tonic client) over
//! the daemon's socket, driven the way the kubelet drives it.
//!
//! The bridge has no address and the pods no default route: pod traffic
//! stays between the pods' network namespaces.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, Weak};

use k8s_cri::v1::*;
use runoci_tests::engines::{self, shared, snippet, Containerd, DockerArchive, PodmanImage};
use runoci_tests::{cgroup_dirs, unique_id};
use serde_json::Value;

mod client;
pub mod stream;
use client::info;
pub use client::Cri;

/// The handlers every scenario runs on, runc first: the scenario proves
/// itself on the reference runtime before it judges runoci.
pub const HANDLERS: [&str; 2] = ["runc", "runoci"];

/// The node: containerd with CRI, its images and pod network. Shared by
/// the tests of this process while any holds it ([`node`]).
pub struct Node {
    pub containerd: Containerd,
    /// The busybox image's reference, for containers.
    pub busybox: String,
    /// The pause image's reference (`sandbox_image`).
    pub pause: String,
    pub bridge: String,
    /// The pods' subnet, `10.X.Y.0/24`.
    pub subnet: String,
    /// host-local's record of the addresses it gave out.
    pub ipam_dir: PathBuf,
    _pause_image: PodmanImage,
}

/// The node of this test process (see [`Node`]).
pub fn node() -> Arc<Node> {
    static SLOT: Mutex<Weak<Node>> = Mutex::new(Weak::new());
    shared(&SLOT, Node::start)
}

/// A short, unique bridge name (IFNAMSIZ: at most 15 bytes) and a /24.
fn bridge_and_subnet() -> (String, String) {
    let id = unique_id("n");
    let mut parts = id.rsplit('-');
    let n: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let pid = std::process::id();
    (
        format!("rcri{}x{}", pid % 100_000, n % 1000),
        format!("10.{}.{}.0/24", 200 + pid % 50, (pid / 50 + n) % 256),
    )
}

impl Node {
    fn start() -> Node {
        // A pause that sleeps until TERM (or INT) and then exits: a shell as
        // the pod's pid 1 gets TERM only because it traps it.
        let pause_image = PodmanImage::import(
            "runoci-pause",
            &[r#"CMD ["/bin/sh", "-c", "trap 'exit 0' TERM INT; sleep 2147483647 & wait"]"#],
        );
        let pause_archive = DockerArchive::save(&pause_image);
        let (bridge, subnet) = bridge_and_subnet();
        let pause = pause_archive.image.clone();
        let mut ipam_dir = PathBuf::new();
        let containerd = Containerd::start_cri(|dir, snapshotter| {
            ipam_dir = dir.join("ipam");
            write_cni_config(&dir.join("net.d"), &bridge, &subnet, &ipam_dir);
            cri_config(dir, snapshotter, &pause)
        });
        let busybox = containerd.import_busybox();
        containerd.import(&pause_archive);
        let node = Node {
            containerd,
            busybox,
            pause,
            bridge,
            subnet,
            ipam_dir,
            _pause_image: pause_image,
        };
        // CRI learns of imported images from containerd's events: wait
        // until it knows both, or it would try to pull them.
        let cri = node.client();
        for image in [&node.busybox, &node.pause] {
            cri.wait_for(&format!("CRI knows image {image}"), || {
                let status = cri.call(
                    "ImageStatus",
                    cri.is().image_status(ImageStatusRequest {
                        image: Some(image_spec(image)),
                        verbose: false,
                    }),
                );
                status.image.is_some()
            });
        }
        node
    }

    /// A new CRI client on the node's socket.
    pub fn client(&self) -> Cri {
        Cri::connect(
            &self.containerd.socket,
            self.containerd.dir.join("containerd.log"),
        )
    }

    /// Where handler `h` keeps its containers' state (`<root>/k8s.io/<id>`).
    pub fn state_dir(&self, handler: &str, id: &str) -> PathBuf {
        self.containerd
            .runc_root()
            .join(handler)
            .join("k8s.io")
            .join(id)
    }

    /// The IPv4 addresses host-local has given out and not yet released.
    pub fn leased_ips(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(rd) = fs::read_dir(&self.ipam_dir) {
            for net in rd.flatten() {
                for f in fs::read_dir(net.path()).into_iter().flatten().flatten() {
                    let name = f.file_name().to_string_lossy().into_owned();
                    if name.parse::<std::net::Ipv4Addr>().is_ok() {
                        out.push(name);
                    }
                }
            }
        }
        out
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Every sandbox on this (private) node is a test's: stop and remove
        // them through CRI so their network namespaces and addresses go.
        let log = self.containerd.dir.join("containerd.log");
        if let Ok(cri) = Cri::try_connect(&self.containerd.socket, log) {
            let all = ListPodSandboxRequest { filter: None };
            for p in cri
                .try_call(cri.rs().list_pod_sandbox(all))
                .map(|l| l.items)
                .unwrap_or_default()
            {
                stop_and_remove(&cri, &p.id);
            }
        }
        // The bridge plugin makes the bridge and never deletes it.
        let _ = engines::run(Command::new("ip").args(["link", "del", &self.bridge]));
    }
}

fn write_cni_config(dir: &Path, bridge: &str, subnet: &str, ipam_dir: &Path) {
    fs::create_dir_all(dir).expect("CNI config dir");
    let conf = serde_json::json!({
        "cniVersion": "0.4.0",
        "name": bridge,
        "plugins": [{
            "type": "bridge",
            "bridge": bridge,
            "isGateway": false,
            "ipMasq": false,
            "hairpinMode": true,
            "ipam": {
                "type": "host-local",
                "ranges": [[{ "subnet": subnet }]],
                "dataDir": ipam_dir,
            },
        }],
    });
    fs::write(dir.join("10-runoci-test.conflist"), conf.to_string()).expect("CNI config");
}

/// The CRI plugin's section: the two handlers (cgroupfs, each with its
/// state under the daemon's runc root), the pause image, CNI. Without
/// CAP_SYS_RESOURCE (not in this machine's bounding set) no runtime can
/// lower `oom_score_adj` to the sandbox's -998: `restrict_oom_score_adj`
/// keeps it at or above containerd's own.
fn cri_config(dir: &Path, snapshotter: &str, pause: &str) -> String {
    let d = dir.display();
    let cri = r#"plugins."io.containerd.grpc.v1.cri""#;
    let mut toml = format!(
        r#"[{cri}]
  sandbox_image = "{pause}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  enable_selinux = false
  restrict_oom_score_adj = true
[{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{d}/net.d"
  max_conf_num = 1
[{cri}.containerd]
  snapshotter = "{snapshotter}"
  default_runtime_name = "runc"
"#
    );
    toml.push_str(&format!(
        r#"[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[{cri}.containerd.runtimes.runc.options]
  BinaryName = "/usr/bin/runc"
  Root = "{d}/rt/runc"
  SystemdCgroup = false
"#
    ));
    // runoci's handler is the snippet the package ships (README, "On a
    // Kubernetes node"), its options table last: the test's own keys go
    // into it.
    let shipped = snippet("containerd-config.toml");
    let last_table = shipped.lines().rfind(|l| l.trim_start().starts_with('['));
    assert_eq!(
        last_table.map(str::trim),
        Some(format!("[{cri}.containerd.runtimes.runoci.options]").as_str()),
        "containerd-config.toml no longer ends with runoci's options"
    );
    toml.push_str(&shipped);
    toml.push_str(&format!(
        "    Root = \"{d}/rt/runoci\"\n    SystemdCgroup = false\n"
    ));
    toml
}

pub fn image_spec(image: &str) -> ImageSpec {
    ImageSpec {
        image: image.to_string(),
        ..Default::default()
    }
}

/// What the kubelet asks for a pod without `shareProcessNamespace`: the
/// pod's network, IPC and UTS namespaces, a PID namespace per container.
pub fn namespaces() -> NamespaceOption {
    NamespaceOption {
        network: NamespaceMode::Pod as i32,
        pid: NamespaceMode::Container as i32,
        ipc: NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

/// A pod sandbox on handler `handler`; stopped and removed on drop (with
/// its cgroup parent, which the kubelet would remove).
pub struct Pod<'a> {
    pub cri: &'a Cri,
    pub id: String,
    pub handler: String,
    pub config: PodSandboxConfig,
    /// `/runoci-cri-<pid>-<n>`, made by the runtime under every hierarchy.
    pub cgroup_parent: String,
    pub log_dir: PathBuf,
}

impl<'a> Pod<'a> {
    /// RunPodSandbox on `handler`.
    pub fn run(node: &Node, cri: &'a Cri, handler: &str, name: &str) -> Pod<'a> {
        Pod::run_with(node, cri, handler, name, |_| {})
    }

    /// [`Pod::run`] with the sandbox config changed by `edit` first.
    pub fn run_with(
        node: &Node,
        cri: &'a Cri,
        handler: &str,
        name: &str,
        edit: impl FnOnce(&mut PodSandboxConfig),
    ) -> Pod<'a> {
        let uid = unique_id(name);
        let cgroup_parent = format!("/{}", unique_id("runoci-cri"));
        let log_dir = node.containerd.dir.join("pods").join(&uid);
        fs::create_dir_all(&log_dir).expect("pod log dir");
        let mut config = PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: uid.clone(),
                uid: uid.clone(),
                namespace: "runoci-test".into(),
                attempt: 0,
            }),
            hostname: name.to_string(),
            log_directory: log_dir.display().to_string(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: cgroup_parent.clone(),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(namespaces()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        edit(&mut config);
        let r = cri.call(
            &format!("RunPodSandbox ({handler})"),
            cri.rs().run_pod_sandbox(RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: handler.to_string(),
            }),
        );
        Pod {
            cri,
            id: r.pod_sandbox_id,
            handler: handler.to_string(),
            config,
            cgroup_parent,
            log_dir,
        }
    }

    pub fn status(&self) -> (PodSandboxStatus, Value) {
        let r = self.cri.call(
            "PodSandboxStatus",
            self.cri.rs().pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: self.id.clone(),
                verbose: true,
            }),
        );
        (r.status.expect("sandbox status"), info(&r.info))
    }

    /// The pause process's pid.
    pub fn pid(&self) -> i32 {
        pid_of(&self.status().1)
    }

    /// The sandbox's network namespace file (`/var/run/netns/cni-...`).
    pub fn netns_path(&self) -> PathBuf {
        let info = self.status().1;
        let ns = info["runtimeSpec"]["linux"]["namespaces"]
            .as_array()
            .and_then(|a| a.iter().find(|n| n["type"] == "network"))
            .and_then(|n| n["path"].as_str())
            .map(PathBuf::from);
        ns.unwrap_or_else(|| panic!("no network namespace path in {info}"))
    }

    /// The container config of `name` running `cmd` in the busybox image,
    /// in the pod's namespaces (as the kubelet asks: the sandbox's options).
    pub fn container_config(&self, node: &Node, name: &str, cmd: &[&str]) -> ContainerConfig {
        let namespaces = self
            .config
            .linux
            .as_ref()
            .and_then(|l| l.security_context.as_ref())
            .and_then(|s| s.namespace_options.clone());
        ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: name.to_string(),
                attempt: 0,
            }),
            image: Some(image_spec(&node.busybox)),
            command: cmd.iter().map(|s| s.to_string()).collect(),
            log_path: format!("{name}.log"),
            linux: Some(LinuxContainerConfig {
                security_context: Some(LinuxContainerSecurityContext {
                    namespace_options: namespaces,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// CreateContainer then StartContainer; the container's id.
    pub fn start(&self, config: ContainerConfig) -> String {
        let id = self.create(config);
        self.cri.call(
            &format!("StartContainer ({})", self.handler),
            self.cri.rs().start_container(StartContainerRequest {
                container_id: id.clone(),
            }),
        );
        id
    }

    pub fn create(&self, config: ContainerConfig) -> String {
        self.cri
            .call(
                &format!("CreateContainer ({})", self.handler),
                self.cri.rs().create_container(CreateContainerRequest {
                    pod_sandbox_id: self.id.clone(),
                    config: Some(config),
                    sandbox_config: Some(self.config.clone()),
                }),
            )
            .container_id
    }

    /// A container running `cmd`, started.
    pub fn run_container(&self, node: &Node, name: &str, cmd: &[&str]) -> String {
        self.start(self.container_config(node, name, cmd))
    }

    /// What container `name` wrote to its CRI log (the payload of each
    /// `<time> <stream> <tag> <text>` line).
    pub fn log(&self, name: &str) -> String {
        fs::read_to_string(self.log_dir.join(format!("{name}.log")))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.splitn(4, ' ').nth(3))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// Waits until container `name`'s log holds `needle` (CRI copies the
    /// output after the exit is reported); panics with the log.
    #[track_caller]
    pub fn wait_log(&self, name: &str, needle: &str) {
        let what = format!("{}: {needle:?} in {name}'s log", self.handler);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !self.log(name).contains(needle) {
            if std::time::Instant::now() > deadline {
                panic!("never: {what}; the log:\n{}", self.log(name));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn stop(&self) {
        self.cri.call(
            &format!("StopPodSandbox ({})", self.handler),
            self.cri.rs().stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: self.id.clone(),
            }),
        );
    }

    pub fn remove(&self) {
        self.cri.call(
            &format!("RemovePodSandbox ({})", self.handler),
            self.cri.rs().remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: self.id.clone(),
            }),
        );
    }
}

impl Drop for Pod<'_> {
    fn drop(&mut self) {
        stop_and_remove(self.cri, &self.id);
        remove_cgroup_parent(&self.cgroup_parent);
    }
}

/// StopPodSandbox and RemovePodSandbox, errors ignored (for cleanup).
fn stop_and_remove(cri: &Cri, id: &str) {
    let pod_sandbox_id = id.to_string();
    let _ = cri.try_call(cri.rs().stop_pod_sandbox(StopPodSandboxRequest {
        pod_sandbox_id: pod_sandbox_id.clone(),
    }));
    let _ = cri.try_call(
        cri.rs()
            .remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id }),
    );
}

/// Removes the pod's parent cgroup from every hierarchy, as the kubelet
/// does (the runtime removes only its containers' own cgroups).
pub fn remove_cgroup_parent(parent: &str) {
    let name = parent.trim_start_matches('/');
    let mut dirs: Vec<PathBuf> = cgroup_dirs()
        .into_iter()
        .filter(|d| d.components().any(|c| c.as_os_str() == name))
        .collect();
    // Deepest first.
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        let _ = fs::remove_dir(&d);
    }
}

/// `pid` from a verbose status's info.
pub fn pid_of(info: &Value) -> i32 {
    info["pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("no pid in {info}")) as i32
}
