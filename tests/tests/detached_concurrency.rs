//! Many detached containers at once: distinct ids all start and all stop
//! with nothing left behind; one id started twice at once has exactly one
//! winner, and the loser does not disturb it.

mod detached_common;

use detached_common::*;
use runoci_tests::{pid_alive, pid_cmdline, unique_id, Bundle, HostSnapshot, Runtime};

#[test]
fn fifty_containers_started_at_once_all_start_all_stop_and_nothing_leaks() {
    const N: usize = 50;
    let mut bundle = Bundle::new("d-fifty");
    let rt = Runtime::runoci();
    let tag = unique_id("d-fifty");
    set_args(&mut bundle, &forever_args(&tag));
    let ids: Vec<String> = (0..N).map(|i| format!("{tag}-{i}")).collect();
    let snap = HostSnapshot::take();
    let path = bundle.path_str().to_string();

    let outs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| {
                let (rt, path) = (&rt, &path);
                s.spawn(move || start_at(rt, path, id, &[]))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let failed: Vec<String> = outs
        .iter()
        .filter(|o| !o.success())
        .map(|o| o.to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "expected all {N} starts to succeed, {} failed:\n{}",
        failed.len(),
        failed.join("\n\n")
    );

    let mut pids = std::collections::BTreeSet::new();
    let mut monitors = Vec::new();
    for id in &ids {
        let pid = container_pid(&rt, id);
        assert!(
            pid_alive(pid),
            "container {id}: init {pid} not running after start"
        );
        let st = rt.state(id);
        assert_eq!(st["status"], "running", "container {id}: state {st}");
        pids.insert(pid);
        monitors.push(monitor_pid(&rt, id));
    }
    assert_eq!(
        pids.len(),
        N,
        "expected {N} distinct init pids, saw {pids:?}"
    );

    std::thread::scope(|s| {
        for id in &ids {
            let rt = &rt;
            s.spawn(move || {
                rt.run(["kill", "-S", "KILL", id]).assert_ok();
            });
        }
    });
    for (id, monitor) in ids.iter().zip(&monitors) {
        wait_monitor_done(&rt, id, *monitor);
        assert_eq!(exit_status(&rt, id), 137, "container {id}: exit-status");
        assert_eq!(rt.state(id)["status"], "stopped", "container {id}");
    }
    std::thread::scope(|s| {
        for id in &ids {
            let rt = &rt;
            s.spawn(move || {
                rt.run(["destroy", id]).assert_ok();
            });
        }
    });
    let left = rt.container_ids();
    assert!(
        left.is_empty(),
        "expected every record destroyed, left: {left:?}"
    );
    snap.assert_nothing_leaked(&[&tag, bundle.path_str(), rt.root_str()]);
}

#[test]
fn the_same_id_started_twice_at_once_has_exactly_one_winner() {
    let mut bundle = Bundle::new("d-race");
    let rt = Runtime::runoci();
    let tag = unique_id("d-race");
    let log = add_poststop_log(&mut bundle);
    set_args(&mut bundle, &forever_args(&tag));
    let path = bundle.path_str().to_string();
    for round in 0..5 {
        let id = format!("{tag}-{round}");
        let barrier = std::sync::Barrier::new(2);
        let outs: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let (rt, path, id, barrier) = (&rt, &path, &id, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        start_at(rt, path, id, &[])
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let wins = outs.iter().filter(|o| o.success()).count();
        let fails = outs
            .iter()
            .filter(|o| matches!(o.code(), Some(c) if c != 0))
            .count();
        assert!(
            wins == 1 && fails == 1,
            "round {round}: expected exactly one start to win and one to fail, saw {wins} wins:\n{}\n\n{}",
            outs[0],
            outs[1]
        );
        let loser = outs.iter().find(|o| !o.success()).unwrap();
        assert!(
            loser.stderr.contains("already exists"),
            "round {round}: expected the loser to say the container already exists\n{loser}"
        );
        // The winner's container runs, with one monitor.
        let pid = container_pid(&rt, &id);
        assert!(
            pid_alive(pid),
            "round {round}: the winner's init ({pid}) is not running"
        );
        assert_eq!(rt.state(&id)["status"], "running", "round {round}");
        let dir = state_dir(&rt, &id).display().to_string();
        let monitors: Vec<i32> = runoci_tests::all_pids()
            .into_iter()
            .filter(|p| pid_alive(*p))
            .filter(|p| {
                let c = pid_cmdline(*p);
                c.contains("runoci-monitor") && c.contains(&format!("{dir} "))
            })
            .collect();
        assert_eq!(
            monitors.len(),
            1,
            "round {round}: expected one monitor for {id}, saw {monitors:?}"
        );
        assert_eq!(
            hook_runs(&log),
            round,
            "round {round}: the loser must not run poststop"
        );
        rt.run(["kill", "-S", "KILL", &id]).assert_ok();
        wait_monitor_done(&rt, &id, monitors[0]);
        rt.run(["destroy", &id]).assert_ok();
        assert_eq!(
            hook_runs(&log),
            round + 1,
            "round {round}: poststop once for the winner"
        );
    }
}
