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

/// Container `id` is running (per ContainerStatus).
#[track_caller]
fn assert_running(cri: &cri_common::Cri, id: &str, handler: &str) {
    let (status, _) = cri.container_status(id);
    assert_eq!(
        status.state,
        ContainerState::ContainerRunning as i32,
        "{handler}: {status:?}"
    );
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
        let pod = Pod::run_with(&node, &cri, handler, "share", |c| {
            let linux = c.linux.as_mut().expect("linux");
            linux
                .sysctls
                .insert("net.ipv4.ip_local_port_range".into(), "20000 30000".into());
        });
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
        let out = cri.exec_sync(
            &id,
            &[
                "sh",
                "-c",
                "hostname; ip -4 addr show eth0; cat /proc/sys/net/ipv4/ip_local_port_range",
            ],
        );
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
        assert_running(&cri, &id, handler);
        let (status, _) = cri.container_status(&id);
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
        assert_eq!(out.stdout, b"sleep\x00300\x00", "{handler}: {out:?}");
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
        // (Not finished_at >= started_at: CRI stamps the start once the
        // runtime's `start` has returned, and a short program may be done
        // by then, on either runtime.)
        assert!(
            status.finished_at > status.created_at,
            "{handler}: {status:?}"
        );
        pod.wait_log("done", "bye\n");
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
                        cpuset_cpus: "0".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
        );
        assert_eq!(read_trimmed(&limit), (96 * MIB).to_string(), "{handler}");
        assert_eq!(read_trimmed(&quota), "50000", "{handler}");
        assert_eq!(read_trimmed(&shares), "512", "{handler}");
        assert_eq!(
            read_trimmed(&cgroup_file(pid, "cpuset", "cpuset.cpus")),
            "0",
            "{handler}"
        );
        let out = cri.exec_sync(&id, &["grep", "Cpus_allowed_list", "/proc/self/status"]);
        assert_eq!(out.stdout, b"Cpus_allowed_list:\t0\n", "{handler}: {out:?}");
        assert_running(&cri, &id, handler);
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
            pod.wait_log(name, "ready\n");
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
        pod.wait_log("stubborn", "got TERM\n");
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
        pod.wait_log("polite", "bye\n");
    }
}

#[test]
fn a_container_over_its_memory_limit_is_reported_oom_killed() {
    let node = node();
    let cri = node.client();
    for handler in HANDLERS {
        let pod = Pod::run(&node, &cri, handler, "oom");
        // A container that runs a while, then grows past its limit, as
        // the kubelet's case is. containerd 1.6's shim watches for OOM
        // only once the runtime's `start` has returned: a program killed
        // before that is reported "Error", not "OOMKilled" (seen in CI on
        // runc, with finished_at before started_at).
        let mut config = pod.container_config(
            &node,
            "hog",
            &[
                "sh",
                "-c",
                "sleep 1; exec dd if=/dev/zero of=/dev/null bs=128M count=1",
            ],
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
    const ROUNDS: usize = 10;
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

/// `NAME:\tVALUE` lines of /proc/self/status (as the exec saw them).
fn status_field<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[test]
fn security_context_user_groups_read_only_rootfs_caps_seccomp_and_mounts() {
    let node = node();
    let cri = node.client();
    let host = node
        .containerd
        .dir
        .join(runoci_tests::unique_id("hostpath"));
    std::fs::create_dir_all(host.join("ro")).expect("hostpath");
    std::fs::create_dir_all(host.join("rw")).expect("hostpath");
    std::fs::write(host.join("ro/file"), "from the host\n").expect("hostpath file");
    std::fs::set_permissions(
        host.join("rw"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    let mut on_runc = None;
    for handler in HANDLERS {
        let pod = Pod::run(&node, &cri, handler, "secctx");
        let mut config = pod.container_config(&node, "app", &["sleep", "300"]);
        let linux = config.linux.as_mut().expect("linux");
        let sc = linux.security_context.as_mut().expect("security context");
        sc.run_as_user = Some(Int64Value { value: 1000 });
        sc.run_as_group = Some(Int64Value { value: 1000 });
        sc.supplemental_groups = vec![2000];
        sc.readonly_rootfs = true;
        sc.no_new_privs = true;
        sc.capabilities = Some(Capability {
            drop_capabilities: vec!["ALL".into()],
            add_capabilities: vec!["NET_BIND_SERVICE".into()],
            ..Default::default()
        });
        sc.seccomp = Some(SecurityProfile {
            profile_type: security_profile::ProfileType::RuntimeDefault as i32,
            ..Default::default()
        });
        let mount = |path: &str, host_dir: &str, readonly: bool| Mount {
            container_path: path.into(),
            host_path: host.join(host_dir).display().to_string(),
            readonly,
            ..Default::default()
        };
        config.mounts = vec![mount("/data", "ro", true), mount("/scratch", "rw", false)];
        let id = pod.start(config);

        let script = "id -u; id -g; id -G; grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status; \
                      touch /x 2>/dev/null && echo rootfs-writable; cat /data/file; \
                      touch /data/y 2>/dev/null && echo data-writable; echo hi > /scratch/f && echo scratch-ok; \
                      ls -lA /sys/firmware /proc/timer_list /proc/acpi /proc/keys 2>&1 | sed 's/ [A-Z][a-z][a-z] .* / DATE /'";
        let out = cri.exec_sync(&id, &["sh", "-c", script]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.exit_code, 0, "{handler}: {out:?}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            &lines[..3],
            ["1000", "1000", "1000 2000"],
            "{handler}: {text}"
        );
        assert_eq!(
            status_field(&text, "CapBnd"),
            "0000000000000400",
            "{handler}: {text}"
        );
        assert_eq!(
            status_field(&text, "CapEff"),
            "0000000000000000",
            "{handler}: {text}"
        );
        assert_eq!(status_field(&text, "NoNewPrivs"), "1", "{handler}: {text}");
        assert_eq!(status_field(&text, "Seccomp"), "2", "{handler}: {text}");
        assert!(!text.contains("rootfs-writable"), "{handler}: {text}");
        assert!(text.contains("from the host\n"), "{handler}: {text}");
        assert!(!text.contains("data-writable"), "{handler}: {text}");
        assert!(text.contains("scratch-ok\n"), "{handler}: {text}");
        // Everything else (the masked paths with it) as on runc.
        match &on_runc {
            None => on_runc = Some(text.into_owned()),
            Some(runc) => assert_eq!(&text, runc, "{handler}: not as on runc"),
        }
        // The default profile's refusals: no unshare of a user namespace
        // without CAP_SYS_ADMIN, mount refused.
        let out = cri.exec_sync(&id, &["unshare", "-U", "true"]);
        assert_ne!(out.exit_code, 0, "{handler}: unshare -U allowed: {out:?}");
    }
    let _ = std::fs::remove_dir_all(&host);
}

#[test]
fn a_privileged_pod_gets_every_capability_and_the_host_devices() {
    let node = node();
    let cri = node.client();
    let bnd = std::fs::read_to_string("/proc/self/status").expect("status");
    let host_bnd = status_field(&bnd, "CapBnd").to_string();
    // How /sys is mounted depends on who owns this machine's network
    // namespace: whatever runc gives, runoci must give too.
    let mut sys_on_runc = None;
    for handler in HANDLERS {
        let pod = Pod::run_with(&node, &cri, handler, "priv", |c| {
            let sc = c
                .linux
                .as_mut()
                .and_then(|l| l.security_context.as_mut())
                .expect("sc");
            sc.privileged = true;
        });
        let mut config = pod.container_config(&node, "app", &["sleep", "300"]);
        config
            .linux
            .as_mut()
            .and_then(|l| l.security_context.as_mut())
            .expect("sc")
            .privileged = true;
        let id = pod.start(config);
        let script = "grep -E '^(CapBnd|CapEff|Seccomp):' /proc/self/status; \
                      test -c /dev/kmsg && echo kmsg; test -c /dev/loop-control && echo loop-control; \
                      grep ' /sys ' /proc/self/mounts";
        let out = cri.exec_sync(&id, &["sh", "-c", script]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.exit_code, 0, "{handler}: {out:?}");
        assert_eq!(status_field(&text, "CapBnd"), host_bnd, "{handler}: {text}");
        assert_eq!(status_field(&text, "CapEff"), host_bnd, "{handler}: {text}");
        assert_eq!(status_field(&text, "Seccomp"), "0", "{handler}: {text}");
        for dev in ["/dev/kmsg", "/dev/loop-control"] {
            if std::path::Path::new(dev).exists() {
                assert!(
                    text.contains(&format!("{}\n", &dev[5..])),
                    "{handler}: no {dev}: {text}"
                );
            }
        }
        let sys = text
            .lines()
            .find(|l| l.contains(" /sys sysfs "))
            .map(str::to_string);
        assert!(sys.is_some(), "{handler}: no /sys: {text}");
        match &sys_on_runc {
            None => sys_on_runc = sys,
            Some(runc) => assert_eq!(sys.as_ref(), Some(runc), "{handler}: /sys not as on runc"),
        }
    }
}

#[test]
fn a_pod_sharing_its_process_namespace_loses_a_stopped_containers_children() {
    let node = node();
    let cri = node.client();
    for handler in HANDLERS {
        let pod = Pod::run_with(&node, &cri, handler, "sharepid", |c| {
            let sc = c
                .linux
                .as_mut()
                .and_then(|l| l.security_context.as_mut())
                .expect("sc");
            sc.namespace_options.as_mut().expect("ns").pid = NamespaceMode::Pod as i32;
        });
        let parent = pod.run_container(
            &node,
            "parent",
            &[
                "sh",
                "-c",
                "sleep 1001 & sleep 1002 & trap 'exit 0' TERM; echo ready; wait",
            ],
        );
        let watcher = pod.run_container(&node, "watcher", &["sleep", "300"]);
        pod.wait_log("parent", "ready\n");
        let ps = |c: &str| {
            String::from_utf8_lossy(&cri.exec_sync(c, &["ps", "-o", "pid,args"]).stdout)
                .into_owned()
        };
        let seen = ps(&watcher);
        // One PID namespace: the pause is its pid 1, the others' processes are seen.
        assert!(
            seen.contains("sleep 1001") && seen.contains("sleep 1002"),
            "{handler}: {seen}"
        );
        assert!(
            seen.lines()
                .any(|l| l.trim_start().starts_with("1 ") && l.contains("trap 'exit 0' TERM INT")),
            "{handler}: {seen}"
        );
        cri.call(
            "StopContainer",
            cri.rs().stop_container(StopContainerRequest {
                container_id: parent.clone(),
                timeout: 10,
            }),
        );
        assert_eq!(cri.wait_exited(&parent).exit_code, 0, "{handler}");
        // The container's other processes go with it (the shim kills all
        // that are left in its cgroup: `kill --all`).
        cri.wait_for(&format!("{handler}: parent's children gone"), || {
            !ps(&watcher).contains("sleep 100")
        });
        assert_running(&cri, &watcher, handler);
    }
}

#[test]
fn env_a_missing_working_dir_a_device_and_a_tty_container() {
    let node = node();
    let cri = node.client();
    for handler in HANDLERS {
        let pod = Pod::run(&node, &cri, handler, "config");
        let mut config = pod.container_config(
            &node,
            "app",
            &["sh", "-c", "echo FOO=$FOO; pwd; echo x > /dev/xnull && ls -l /dev/xnull; echo ready; exec sleep 300"],
        );
        config.envs = vec![KeyValue {
            key: "FOO".into(),
            value: "bar baz".into(),
        }];
        config.working_dir = "/work/not/in/the/image".into();
        config.devices = vec![Device {
            container_path: "/dev/xnull".into(),
            host_path: "/dev/null".into(),
            permissions: "rwm".into(),
        }];
        pod.start(config);
        pod.wait_log("app", "ready\n");
        let log = pod.log("app");
        assert!(
            log.starts_with("FOO=bar baz\n/work/not/in/the/image\ncrw-rw-rw-"),
            "{handler}: {log}"
        );
        assert!(
            log.contains(" 1,   3 ") && log.contains("/dev/xnull\n"),
            "{handler}: {log}"
        );

        let mut config = pod.container_config(&node, "tty", &["sh", "-c", "tty; echo tty-done"]);
        config.tty = true;
        let id = pod.start(config);
        let status = cri.wait_exited(&id);
        assert_eq!(status.exit_code, 0, "{handler}: {status:?}");
        pod.wait_log("tty", "tty-done");
        assert!(
            pod.log("tty").contains("/dev/pts/0"),
            "{handler}: {:?}",
            pod.log("tty")
        );
    }
}

#[test]
fn a_host_network_pod_uses_the_host_namespaces() {
    let node = node();
    let cri = node.client();
    let me = std::process::id() as i32;
    for handler in HANDLERS {
        let pod = Pod::run_with(&node, &cri, handler, "hostnet", |c| {
            // As the kubelet: no hostname for a host-network pod.
            c.hostname.clear();
            let sc = c
                .linux
                .as_mut()
                .and_then(|l| l.security_context.as_mut())
                .expect("sc");
            let ns = sc.namespace_options.as_mut().expect("ns");
            ns.network = NamespaceMode::Node as i32;
            ns.ipc = NamespaceMode::Node as i32;
            ns.pid = NamespaceMode::Node as i32;
        });
        let id = pod.run_container(&node, "app", &["sleep", "300"]);
        let pid = cri_common::pid_of(&cri.container_status(&id).1);
        for kind in ["net", "ipc", "pid", "uts"] {
            assert_eq!(
                ns(pid, kind),
                ns(me, kind),
                "{handler}: not the host's {kind} namespace"
            );
        }
        assert_ne!(ns(pid, "mnt"), ns(me, "mnt"), "{handler}");
        // The host's pids are seen, this test's among them.
        let out = cri.exec_sync(
            &id,
            &["sh", "-c", &format!("test -d /proc/{me} && echo seen")],
        );
        assert_eq!(out.stdout, b"seen\n", "{handler}: {out:?}");
    }
}

#[test]
fn a_container_whose_program_is_not_there_fails_to_start_and_leaves_nothing() {
    let node = node();
    let cri = node.client();
    for handler in HANDLERS {
        let pod = Pod::run(&node, &cri, handler, "nostart");
        let before = HostSnapshot::take();
        let config = pod.container_config(&node, "app", &["/no/such/program"]);
        let id = pod.create(config);
        let err = cri
            .try_call(cri.rs().start_container(StartContainerRequest {
                container_id: id.clone(),
            }))
            .expect_err("start of a missing program");
        assert!(err.contains("/no/such/program"), "{handler}: {err}");
        let (status, _) = cri.container_status(&id);
        assert_eq!(
            status.state,
            ContainerState::ContainerExited as i32,
            "{handler}: {status:?}"
        );
        assert_eq!(status.reason, "StartError", "{handler}: {status:?}");
        assert_eq!(status.exit_code, 128, "{handler}: {status:?}");
        cri.call(
            "RemoveContainer",
            cri.rs().remove_container(RemoveContainerRequest {
                container_id: id.clone(),
            }),
        );
        let state = node.state_dir(handler, &id);
        assert!(
            !state.exists(),
            "{handler}: runtime state {} left",
            state.display()
        );
        before.assert_nothing_leaked(&[&id]);
        // The pod goes on: a good container starts in it.
        let ok = pod.run_container(&node, "ok", &["sh", "-c", "echo fine"]);
        assert_eq!(cri.wait_exited(&ok).exit_code, 0, "{handler}");
    }
}

#[test]
fn the_kubelets_files_hostname_resolv_conf_shared_shm_and_termination_log() {
    let node = node();
    let cri = node.client();
    for handler in HANDLERS {
        let pod = Pod::run_with(&node, &cri, handler, "files", |c| {
            c.dns_config = Some(DnsConfig {
                servers: vec!["192.0.2.53".into()],
                searches: vec!["runoci.test".into()],
                options: vec!["ndots:2".into()],
            });
            let linux = c.linux.as_mut().expect("linux");
            linux
                .sysctls
                .insert("kernel.shm_rmid_forced".into(), "1".into());
        });
        // The kubelet's termination message: a host file bind-mounted
        // into the container's /dev.
        let term = pod.log_dir.join("termination-log");
        std::fs::write(&term, "").expect("termination log");
        let mut config = pod.container_config(&node, "writer", &["sleep", "300"]);
        config.mounts = vec![Mount {
            container_path: "/dev/termination-log".into(),
            host_path: term.display().to_string(),
            ..Default::default()
        }];
        let writer = pod.start(config);
        let reader = pod.run_container(&node, "reader", &["sleep", "300"]);

        let script = "cat /etc/hostname /etc/resolv.conf; \
                      cat /proc/sys/kernel/shm_rmid_forced; echo shared > /dev/shm/f; \
                      echo done > /dev/termination-log; grep -E ' /dev/(shm|termination-log) ' /proc/self/mounts | cut -d' ' -f2 | sort";
        let out = cri.exec_sync(&writer, &["sh", "-c", script]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.exit_code, 0, "{handler}: {out:?}");
        assert_eq!(
            text,
            "files\nsearch runoci.test\nnameserver 192.0.2.53\noptions ndots:2\n1\n/dev/shm\n/dev/termination-log\n",
            "{handler}"
        );
        assert_eq!(
            std::fs::read_to_string(&term).expect("read"),
            "done\n",
            "{handler}"
        );
        // The pod's /dev/shm is one tmpfs for all its containers.
        let out = cri.exec_sync(&reader, &["cat", "/dev/shm/f"]);
        assert_eq!(out.stdout, b"shared\n", "{handler}: {out:?}");
    }
}

/// CRI's streaming Exec (`kubectl exec`, `-it` with `tty`), read over a
/// WebSocket.
fn stream_exec(
    cri: &cri_common::Cri,
    id: &str,
    cmd: &[&str],
    tty: bool,
) -> cri_common::stream::Streamed {
    let url = cri
        .call(
            "Exec",
            cri.rs().exec(ExecRequest {
                container_id: id.to_string(),
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                tty,
                // `kubectl exec -it`: a terminal comes with stdin (left
                // open and silent here); CRI closes a tty exec's output
                // with its stdin.
                stdin: tty,
                stdout: true,
                stderr: !tty,
            }),
        )
        .url;
    cri_common::stream::exec(&url)
}

#[test]
fn kubectl_exec_streams_with_and_without_a_terminal() {
    let node = node();
    let cri = node.client();
    for handler in HANDLERS {
        let pod = Pod::run(&node, &cri, handler, "kexec");
        let id = pod.run_container(&node, "app", &["sleep", "300"]);
        // `kubectl exec -t`: the exec gets a terminal of its own (runtime
        // exec with a console socket); the exit code comes back.
        let out = stream_exec(
            &cri,
            &id,
            &["sh", "-c", "tty; test -t 1 && echo on-a-tty; exit 3"],
            true,
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.starts_with("/dev/pts/") && text.contains("on-a-tty\r\n"),
            "{handler}: {out:?}"
        );
        assert_eq!(out.exit_code(), Some(3), "{handler}: {out:?}");
        // Without: stdout and stderr apart, and Success.
        let out = stream_exec(
            &cri,
            &id,
            &[
                "sh",
                "-c",
                "echo out; echo err >&2; test -t 1 || echo no-tty",
            ],
            false,
        );
        assert_eq!(out.stdout, b"out\nno-tty\n", "{handler}: {out:?}");
        assert_eq!(out.stderr, b"err\n", "{handler}: {out:?}");
        assert_eq!(out.exit_code(), Some(0), "{handler}: {out:?}");
    }
}
