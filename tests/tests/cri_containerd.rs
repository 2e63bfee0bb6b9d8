//! Pods through CRI, as the kubelet drives them: a private containerd with
//! its CRI plugin and two runtime handlers on containerd's runc shim,
//! `runc` and `runoci` (`BinaryName`, cgroupfs), CNI bridge networking,
//! a locally imported pause image (see `cri_common`). Every test runs its
//! scenario on runc first (the scenario proves itself on the reference
//! runtime), then on runoci.

mod cri_common;

use cri_common::{node, Pod, HANDLERS};
use k8s_cri::v1::*;
use runoci_tests::{cgroup_dirs, mentions, pid_alive, pid_cmdline, HostSnapshot};

#[test]
fn run_pod_sandbox_is_ready_with_an_address_on_each_handler() {
    let node = node();
    let cri = node.client();
    for handler in HANDLERS {
        let pod = Pod::run(&node, &cri, handler, "sandbox");
        let (status, info) = pod.status();
        assert_eq!(
            status.state,
            PodSandboxState::SandboxReady as i32,
            "{handler}: {status:?}"
        );
        assert_eq!(status.runtime_handler, handler);
        let ip = status
            .network
            .as_ref()
            .map(|n| n.ip.clone())
            .unwrap_or_default();
        let prefix = node.subnet.trim_end_matches("0/24");
        assert!(
            ip.starts_with(prefix),
            "{handler}: pod ip {ip:?} not in {}",
            node.subnet
        );
        let pid = cri_common::pid_of(&info);
        assert!(pid_alive(pid), "{handler}: pause pid {pid} not running");
        // The handler's runtime made it: its state is in that runtime's root.
        let state = node.state_dir(handler, &pod.id);
        assert!(state.exists(), "{handler}: no {}", state.display());
    }
}

/// The namespaces (by inode) `pid` is in.
fn ns(pid: i32, kind: &str) -> std::path::PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/ns/{kind}: {e}"))
}

#[test]
fn containers_share_the_sandbox_network_ipc_and_uts_namespaces() {
    let node = node();
    let cri = node.client();
    for handler in HANDLERS {
        let pod = Pod::run(&node, &cri, handler, "share");
        let pause = pod.pid();
        let id = pod.run_container(&node, "app", &["sleep", "300"]);
        let (status, info) = cri.container_status(&id);
        assert_eq!(
            status.state,
            ContainerState::ContainerRunning as i32,
            "{handler}: {status:?}"
        );
        let pid = cri_common::pid_of(&info);
        for kind in ["net", "ipc", "uts"] {
            assert_eq!(
                ns(pid, kind),
                ns(pause, kind),
                "{handler}: {kind} namespace not shared"
            );
        }
        for kind in ["mnt", "pid"] {
            assert_ne!(
                ns(pid, kind),
                ns(pause, kind),
                "{handler}: {kind} namespace shared"
            );
        }
        // Inside: the pod's hostname and the pod's address on eth0.
        let ip = pod.status().0.network.map(|n| n.ip).unwrap_or_default();
        let out = cri.exec_sync(&id, &["sh", "-c", "hostname; ip -4 addr show eth0"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.exit_code, 0, "{handler}: {out:?}");
        assert!(stdout.starts_with("share\n"), "{handler}: {stdout}");
        assert!(
            stdout.contains(&format!("inet {ip}/24")),
            "{handler}: {stdout}"
        );
    }
}

#[test]
fn container_status_and_exec_sync_report_exit_codes_and_output() {
    let node = node();
    let cri = node.client();
    for handler in HANDLERS {
        let pod = Pod::run(&node, &cri, handler, "exec");
        let id = pod.run_container(&node, "app", &["sh", "-c", "echo started; exec sleep 300"]);
        let (status, _) = cri.container_status(&id);
        assert_eq!(
            status.state,
            ContainerState::ContainerRunning as i32,
            "{handler}: {status:?}"
        );
        assert!(
            status.started_at >= status.created_at && status.started_at > 0,
            "{status:?}"
        );
        assert_eq!(
            status.image.as_ref().map(|i| i.image.as_str()),
            Some(node.busybox.as_str())
        );

        let out = cri.exec_sync(&id, &["sh", "-c", "echo out; echo err >&2; exit 3"]);
        assert_eq!(out.exit_code, 3, "{handler}: {out:?}");
        assert_eq!(out.stdout, b"out\n", "{handler}: {out:?}");
        assert_eq!(out.stderr, b"err\n", "{handler}: {out:?}");
        let out = cri.exec_sync(&id, &["cat", "/proc/1/cmdline"]);
        assert_eq!(out.exit_code, 0, "{handler}: {out:?}");
        assert_eq!(out.stdout, b"sleep\0300\0", "{handler}: {out:?}");
        // A program that is not there: the exec fails, and says which.
        let err = cri
            .try_call(cri.rs().exec_sync(ExecSyncRequest {
                container_id: id.clone(),
                cmd: vec!["/no/such/program".into()],
                timeout: 60,
            }))
            .expect_err("exec of a missing program");
        assert!(err.contains("/no/such/program"), "{handler}: {err}");
        // The container goes on.
        assert_eq!(cri.exec_sync(&id, &["true"]).exit_code, 0, "{handler}");

        // A container that exits: its code and the reason come back.
        let done = pod.run_container(&node, "done", &["sh", "-c", "echo bye; exit 4"]);
        let status = cri.wait_exited(&done);
        assert_eq!(status.exit_code, 4, "{handler}: {status:?}");
        assert_eq!(status.reason, "Error", "{handler}: {status:?}");
        assert!(status.finished_at >= status.started_at, "{status:?}");
        assert_eq!(pod.log("done"), "bye\n", "{handler}");
    }
}

/// The file `name` of `pid`'s cgroup for `controller` (v1, or the v2
/// unified path when the controller has no v1 hierarchy).
fn cgroup_file(pid: i32, controller: &str, name: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        if ctrls.split(',').any(|c| c == controller) {
            return format!("/sys/fs/cgroup/{controller}{path}/{name}").into();
        }
    }
    panic!("{pid} has no {controller} cgroup:\n{text}")
}

fn read_trimmed(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

const MIB: i64 = 1024 * 1024;

#[test]
fn container_stats_and_update_container_resources_reach_the_cgroup() {
    let node = node();
    let cri = node.client();
    for handler in HANDLERS {
        let pod = Pod::run(&node, &cri, handler, "res");
        let mut config = pod.container_config(&node, "app", &["sh", "-c", "exec sleep 300"]);
        config.linux.as_mut().expect("linux").resources = Some(LinuxContainerResources {
            memory_limit_in_bytes: 128 * MIB,
            cpu_period: 100_000,
            cpu_quota: 200_000,
            cpu_shares: 1024,
            ..Default::default()
        });
        let id = pod.start(config);
        let pid = cri_common::pid_of(&cri.container_status(&id).1);
        let limit = cgroup_file(pid, "memory", "memory.limit_in_bytes");
        let quota = cgroup_file(pid, "cpu", "cpu.cfs_quota_us");
        let shares = cgroup_file(pid, "cpu", "cpu.shares");
        assert_eq!(read_trimmed(&limit), (128 * MIB).to_string(), "{handler}");
        assert_eq!(read_trimmed(&quota), "200000", "{handler}");

        // Some CPU time and memory, then the stats show them.
        let out = cri.exec_sync(
            &id,
            &[
                "sh",
                "-c",
                "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done",
            ],
        );
        assert_eq!(out.exit_code, 0, "{handler}: {out:?}");
        let stats = cri
            .call(
                "ContainerStats",
                cri.rs().container_stats(ContainerStatsRequest {
                    container_id: id.clone(),
                }),
            )
            .stats
            .expect("stats");
        assert_eq!(
            stats.attributes.as_ref().map(|a| a.id.as_str()),
            Some(id.as_str())
        );
        let cpu = stats
            .cpu
            .and_then(|c| c.usage_core_nano_seconds)
            .map(|v| v.value);
        assert!(cpu.unwrap_or(0) > 0, "{handler}: cpu {cpu:?}");
        let mem = stats
            .memory
            .and_then(|m| m.working_set_bytes)
            .map(|v| v.value);
        assert!(mem.unwrap_or(0) > 0, "{handler}: memory {mem:?}");

        cri.call(
            "UpdateContainerResources",
            cri.rs()
                .update_container_resources(UpdateContainerResourcesRequest {
                    container_id: id.clone(),
                    linux: Some(LinuxContainerResources {
                        memory_limit_in_bytes: 96 * MIB,
                        cpu_period: 100_000,
                        cpu_quota: 50_000,
                        cpu_shares: 512,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
        );
        assert_eq!(read_trimmed(&limit), (96 * MIB).to_string(), "{handler}");
        assert_eq!(read_trimmed(&quota), "50000", "{handler}");
        assert_eq!(read_trimmed(&shares), "512", "{handler}");
        let (status, _) = cri.container_status(&id);
        assert_eq!(
            status.state,
            ContainerState::ContainerRunning as i32,
            "{handler}: {status:?}"
        );
    }
}

#[test]
fn stop_container_sends_term_then_kill_after_the_grace_period() {
    let node = node();
    let cri = node.client();
    for handler in HANDLERS {
        let pod = Pod::run(&node, &cri, handler, "stop");
        let loop_ = "echo ready; while :; do sleep 0.1; done";
        let stubborn = pod.run_container(
            &node,
            "stubborn",
            &["sh", "-c", &format!("trap 'echo got TERM' TERM; {loop_}")],
        );
        let polite = pod.run_container(
            &node,
            "polite",
            &[
                "sh",
                "-c",
                &format!("trap 'echo bye; exit 7' TERM; {loop_}"),
            ],
        );
        for name in ["stubborn", "polite"] {
            cri.wait_for(&format!("{handler}: {name} ready"), || {
                pod.log(name).contains("ready")
            });
        }
        // Ignores TERM: KILLed once the 2 s grace period is over.
        cri.call(
            "StopContainer",
            cri.rs().stop_container(StopContainerRequest {
                container_id: stubborn.clone(),
                timeout: 2,
            }),
        );
        let status = cri.wait_exited(&stubborn);
        assert_eq!(status.exit_code, 137, "{handler}: {status:?}");
        assert!(
            pod.log("stubborn").contains("got TERM"),
            "{handler}: {}",
            pod.log("stubborn")
        );
        // Exits on TERM, well within its grace period.
        let start = std::time::Instant::now();
        cri.call(
            "StopContainer",
            cri.rs().stop_container(StopContainerRequest {
                container_id: polite.clone(),
                timeout: 60,
            }),
        );
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "{handler}: stop took {:?}",
            start.elapsed()
        );
        let status = cri.wait_exited(&polite);
        assert_eq!(status.exit_code, 7, "{handler}: {status:?}");
        assert!(
            pod.log("polite").contains("bye"),
            "{handler}: {}",
            pod.log("polite")
        );
    }
}

#[test]
fn a_container_over_its_memory_limit_is_reported_oom_killed() {
    let node = node();
    let cri = node.client();
    for handler in HANDLERS {
        let pod = Pod::run(&node, &cri, handler, "oom");
        let mut config = pod.container_config(
            &node,
            "hog",
            &["dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1"],
        );
        config.linux.as_mut().expect("linux").resources = Some(LinuxContainerResources {
            memory_limit_in_bytes: 32 * MIB,
            memory_swap_limit_in_bytes: 32 * MIB,
            ..Default::default()
        });
        let id = pod.start(config);
        let status = cri.wait_exited(&id);
        assert_eq!(status.reason, "OOMKilled", "{handler}: {status:?}");
        assert_eq!(status.exit_code, 137, "{handler}: {status:?}");
    }
}

#[test]
fn pods_reach_each_other_over_the_pod_network() {
    let node = node();
    let cri = node.client();
    for handler in HANDLERS {
        let a = Pod::run(&node, &cri, handler, "net-a");
        let b = Pod::run(&node, &cri, handler, "net-b");
        let ip = |p: &Pod| p.status().0.network.map(|n| n.ip).unwrap_or_default();
        let (ip_a, ip_b) = (ip(&a), ip(&b));
        assert_ne!(ip_a, ip_b, "{handler}");
        let server = b.run_container(
            &node,
            "server",
            &["sh", "-c", "mkdir /www && echo hello from b > /www/index.html && exec httpd -f -p 8080 -h /www"],
        );
        let client = a.run_container(&node, "client", &["sleep", "300"]);
        // TCP from a to b, once b's server listens.
        // (busybox-static's wget crashes in its resolver: nc speaks HTTP.)
        let mut last = None;
        cri.wait_for(&format!("{handler}: {ip_b}:8080 from pod a"), || {
            let get =
                format!("printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {ip_b} 8080");
            let out = cri.exec_sync(&client, &["sh", "-c", &get]);
            let ok = out.exit_code == 0 && !out.stdout.is_empty();
            last = Some(out);
            ok
        });
        let out = last.expect("nc");
        let reply = String::from_utf8_lossy(&out.stdout);
        assert!(
            reply.starts_with("HTTP/1.") && reply.ends_with("\r\n\r\nhello from b\n"),
            "{handler}: {reply}"
        );
        // And back: ICMP from b to a.
        let out = cri.exec_sync(&server, &["ping", "-c", "1", "-W", "5", &ip_a]);
        assert_eq!(out.exit_code, 0, "{handler}: {out:?}");
    }
}

#[test]
fn stop_and_remove_pod_sandbox_leave_nothing_behind() {
    let node = node();
    let cri = node.client();
    for handler in HANDLERS {
        let before = HostSnapshot::take();
        let pod = Pod::run(&node, &cri, handler, "gone");
        let c1 = pod.run_container(&node, "one", &["sleep", "300"]);
        let c2 = pod.run_container(
            &node,
            "two",
            &["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"],
        );
        let out = cri.exec_sync(
            &c1,
            &["sh", "-c", "sleep 300 >/dev/null 2>&1 & echo started"],
        );
        assert_eq!(out.exit_code, 0, "{handler}: {out:?}");
        let netns = pod.netns_path();
        let ip = pod.status().0.network.map(|n| n.ip).unwrap_or_default();
        assert!(netns.exists(), "{handler}: {}", netns.display());
        assert!(
            node.leased_ips().contains(&ip),
            "{handler}: {ip} not leased"
        );
        let pids = [
            pod.pid(),
            cri_common::pid_of(&cri.container_status(&c1).1),
            cri_common::pid_of(&cri.container_status(&c2).1),
        ];

        pod.stop();
        let (status, _) = pod.status();
        assert_eq!(
            status.state,
            PodSandboxState::SandboxNotready as i32,
            "{handler}: {status:?}"
        );
        for pid in pids {
            assert!(
                !pid_alive(pid),
                "{handler}: pid {pid} ({}) alive after StopPodSandbox",
                pid_cmdline(pid)
            );
        }
        assert!(
            !netns.exists(),
            "{handler}: {} left after StopPodSandbox",
            netns.display()
        );
        assert!(
            !node.leased_ips().contains(&ip),
            "{handler}: {ip} still leased"
        );

        pod.remove();
        let list = cri.call(
            "ListPodSandbox",
            cri.rs()
                .list_pod_sandbox(ListPodSandboxRequest { filter: None }),
        );
        assert!(
            list.items.iter().all(|p| p.id != pod.id),
            "{handler}: sandbox still listed"
        );
        let ids = [pod.id.as_str(), c1.as_str(), c2.as_str()];
        for id in ids {
            let state = node.state_dir(handler, id);
            assert!(
                !state.exists(),
                "{handler}: runtime state {} left",
                state.display()
            );
        }
        before.assert_nothing_leaked(&ids);
        // With its containers' cgroups gone, the pod's parent is empty: the
        // kubelet's rmdir of it succeeds.
        cri_common::remove_cgroup_parent(&pod.cgroup_parent);
        let left: Vec<_> = cgroup_dirs()
            .into_iter()
            .filter(|d| {
                mentions(
                    &d.to_string_lossy(),
                    pod.cgroup_parent.trim_start_matches('/'),
                )
            })
            .collect();
        assert!(left.is_empty(), "{handler}: cgroups left: {left:?}");
    }
}

/// Median of `samples`.
fn median(samples: &mut [std::time::Duration]) -> std::time::Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Not a benchmark with assertions on time: the table of CRI call
/// latencies, runoci against runc in the same run (`-- --nocapture` shows
/// it); what it asserts is that every call succeeds on both.
#[test]
fn cri_call_latencies_runoci_vs_runc() {
    const ROUNDS: usize = 5;
    let node = node();
    let cri = node.client();
    let calls = [
        "RunPodSandbox",
        "CreateContainer+StartContainer",
        "ExecSync",
        "StopPodSandbox",
    ];
    let mut table: Vec<Vec<Vec<std::time::Duration>>> =
        vec![vec![Vec::new(); calls.len()]; HANDLERS.len()];
    for _ in 0..ROUNDS {
        for (h, handler) in HANDLERS.iter().enumerate() {
            let t = std::time::Instant::now();
            let pod = Pod::run(&node, &cri, handler, "lat");
            table[h][0].push(t.elapsed());
            let config = pod.container_config(&node, "app", &["sleep", "300"]);
            let t = std::time::Instant::now();
            let id = pod.start(config);
            table[h][1].push(t.elapsed());
            let t = std::time::Instant::now();
            let out = cri.exec_sync(&id, &["true"]);
            table[h][2].push(t.elapsed());
            assert_eq!(out.exit_code, 0, "{handler}: {out:?}");
            let t = std::time::Instant::now();
            pod.stop();
            table[h][3].push(t.elapsed());
            pod.remove();
        }
    }
    let mut text = format!(
        "CRI call latency, median of {ROUNDS} (ms)\n| call | {} |\n|---|---|---|\n",
        HANDLERS.join(" | ")
    );
    for (c, call) in calls.iter().enumerate() {
        let cells: Vec<String> = (0..HANDLERS.len())
            .map(|h| format!("{:.1}", median(&mut table[h][c]).as_secs_f64() * 1000.0))
            .collect();
        text.push_str(&format!("| {call} | {} |\n", cells.join(" | ")));
    }
    eprintln!("{text}");
}
