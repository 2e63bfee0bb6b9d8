//! Latency, density and memory of OCI runtimes, interleaved so that machine
//! noise hits every runtime alike.
//!
//! `runoci-bench start|state|exec|podman|density [-n N] [--count] [--rt NAME=PATH]...`
//! - `start`: N × `RT --root R run -b BUNDLE ID-i` of `/bin/true` (no
//!   terminal), wall time from spawn to exit.
//! - `state`: one created (not started) `sleep` container per runtime, then
//!   N × `RT --root R state ID`.
//! - `exec`: one running `sleep` container per runtime, then N × `RT --root
//!   R exec ID true`.
//! - `podman`: N × `podman --runtime RT --cgroup-manager cgroupfs run --rm
//!   --net none IMAGE true` with a busybox image imported for the bench
//!   (and removed after).
//! - `density`: N rounds (default 3) of 100 detached containers started 8
//!   at a time: runoci's `start -c BUNDLE ID` (run_oci dialect: each gets
//!   its monitor) against the others' `create` + `start` (no monitor); wall
//!   time of the whole batch. After runoci's batch, the proportional set
//!   size (PSS) of its 100 monitors is read from `smaps_rollup`. Teardown
//!   is not timed.
//!
//! Prints median, p90, mean and min per runtime in ms, and the ratio of
//! medians of `runoci` to each other runtime. `--count` runs each sample of
//! `start`, `state` and `exec` under `valgrind --tool=callgrind` instead and
//! reports instructions executed (user space, all processes the command
//! starts), which do not move with machine noise. A runtime that cannot run
//! the bundle at all is reported and left out.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use runoci_tests::engines::Podman;
use runoci_tests::{run_command, Bundle, Output, Runtime};

const WARMUP: usize = 3;
/// Containers per density batch, and how many start at once.
const DENSITY_BATCH: usize = 100;
const DENSITY_PARALLEL: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Start,
    State,
    Exec,
    Podman,
    Density,
}

struct Rt {
    name: String,
    /// Prefix of its container ids (unique per bench process).
    id: String,
    rt: Runtime,
    /// `podman` mode: podman with this runtime.
    podman: Option<Podman>,
    /// Wall times, or instruction counts (as nanoseconds) with `--count`.
    samples: Vec<Duration>,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: runoci-bench start|state|exec|podman|density [-n N] [--count] [--rt NAME=PATH]..."
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mode = match args.next().as_deref() {
        Some("start") => Mode::Start,
        Some("state") => Mode::State,
        Some("exec") => Mode::Exec,
        Some("podman") => Mode::Podman,
        Some("density") => Mode::Density,
        _ => return usage(),
    };
    let mut n = None;
    let mut count = false;
    let mut specs: Vec<(String, String)> = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "-n" => match args.next().and_then(|v| v.parse().ok()) {
                Some(v) => n = Some(v),
                None => return usage(),
            },
            "--count" => count = true,
            "--rt" => match args.next().as_deref().and_then(|v| v.split_once('=')) {
                Some((name, path)) => specs.push((name.to_string(), path.to_string())),
                None => return usage(),
            },
            _ => return usage(),
        }
    }
    if count && matches!(mode, Mode::Podman | Mode::Density) {
        eprintln!("--count goes with start, state and exec");
        return usage();
    }
    let n: usize = n.unwrap_or(match mode {
        Mode::Density => 3,
        _ if count => 5,
        _ => 50,
    });
    if specs.is_empty() {
        specs = vec![
            ("runc".into(), "/usr/bin/runc".into()),
            ("crun".into(), "/usr/bin/crun".into()),
        ];
    }

    let mut bundle = Bundle::new("bench");
    if mode == Mode::Start {
        bundle.set_args(&["/bin/true"]);
    } else {
        bundle.set_args(&["sleep", "100000"]);
    }
    bundle.write_config();
    let bundle_path = bundle.path_str().to_string();

    // runc and crun `create` a detached init whose parent exits: make the
    // bench their subreaper so that killed inits are reaped, not left as
    // zombies of a PID 1 that never reaps.
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };

    // Check each runtime once; keep those that work.
    let mut rts: Vec<Rt> = Vec::new();
    for (name, path) in specs {
        // Ids name cgroups, which every root shares: keep them unique.
        let name_id = format!("{name}-{}", std::process::id());
        let rt = Runtime::at(&path).with_timeout(Duration::from_secs(60));
        let podman = (mode == Mode::Podman).then(|| Podman::with_runtime(Path::new(&path)));
        let out = match mode {
            Mode::Podman => podman.as_ref().expect("podman").run_rm(&[], &["true"]),
            Mode::Start => rt.run(["run", "-b", &bundle_path, &format!("{name_id}-check")]),
            Mode::State => rt.run(["create", "-b", &bundle_path, &format!("{name_id}-c")]),
            Mode::Exec => {
                let out = rt.run(["run", "-d", "-b", &bundle_path, &format!("{name_id}-c")]);
                if out.success() {
                    rt.run(["exec", &format!("{name_id}-c"), "true"])
                } else {
                    out
                }
            }
            Mode::Density => detached_start(&rt, &name, &format!("{name_id}-check"), &bundle_path),
        };
        if !out.success() {
            println!("{name} ({path}): left out, it cannot run the bundle:\n{out}\n");
            continue;
        }
        if count && name != "runoci" {
            // crun re-executes itself from a memfd, which valgrind cannot
            // follow; Go's runtime (runc) trips valgrind now and then.
            println!("{name}: left out, instruction counts are for runoci's own tuning");
            continue;
        }
        if mode == Mode::Density {
            remove_all(&rt);
        }
        rts.push(Rt {
            name,
            id: name_id,
            rt,
            podman,
            samples: Vec::with_capacity(n),
        });
    }
    if rts.is_empty() {
        println!("no runtime works");
        return ExitCode::FAILURE;
    }

    let mut monitor_pss: Vec<(String, Vec<u64>)> = Vec::new();
    if mode == Mode::Density {
        for round in 0..n {
            for r in rts.iter_mut() {
                let elapsed = density_batch(r, &bundle_path, round);
                r.samples.push(elapsed);
                if r.name.starts_with("runoci") {
                    let kb = monitor_pss_kb(r.rt.root());
                    match monitor_pss.iter_mut().find(|(n, _)| *n == r.name) {
                        Some((_, all)) => all.extend(kb),
                        None => monitor_pss.push((r.name.clone(), kb)),
                    }
                }
                remove_all(&r.rt);
            }
        }
    } else {
        let args = |r: &Rt, i: usize| -> Vec<String> {
            let id = match mode {
                Mode::Start => format!("{}-{i}", r.id),
                _ => format!("{}-c", r.id),
            };
            match mode {
                Mode::Start => vec!["run".into(), "-b".into(), bundle_path.clone(), id],
                Mode::State => vec!["state".into(), id],
                _ => vec!["exec".into(), id, "true".into()],
            }
        };
        let sample = |r: &Rt, i: usize| -> Duration {
            if let Some(p) = &r.podman {
                let out = p.run_rm(&[], &["true"]);
                ok_or_panic(&r.name, &out);
                return out.elapsed;
            }
            if count {
                let n = instructions(&r.rt, &args(r, i))
                    .unwrap_or_else(|out| panic!("{} failed under callgrind\n{out}", r.name));
                return Duration::from_nanos(n);
            }
            let out = r.rt.run(args(r, i));
            ok_or_panic(&r.name, &out);
            out.elapsed
        };
        for i in 0..if count { 1 } else { WARMUP } {
            for r in &rts {
                sample(r, 1_000_000 + i);
            }
        }
        for i in 0..n {
            for r in rts.iter_mut() {
                let s = sample(r, i);
                r.samples.push(s);
            }
        }
    }

    let what = match mode {
        Mode::Podman => "podman run --rm --net none IMAGE true".to_string(),
        Mode::Start => "run -b BUNDLE ID  (/bin/true)".to_string(),
        Mode::State => "state ID  (created container)".to_string(),
        Mode::Exec => "exec ID true  (running container)".to_string(),
        Mode::Density => format!(
            "{DENSITY_BATCH} detached starts, {DENSITY_PARALLEL} at a time \
             (runoci: start, with monitors; others: create + start)"
        ),
    };
    let (unit, scale) = if count {
        ("M instr", 1e-6 * 1e9)
    } else {
        ("ms", 1000.0)
    };
    println!(
        "{what}: {n} interleaved {} per runtime{}",
        if mode == Mode::Density {
            "batches"
        } else {
            "samples"
        },
        if count {
            ", instructions under callgrind".to_string()
        } else if mode == Mode::Density {
            String::new()
        } else {
            format!(", {WARMUP} warm-up")
        }
    );
    println!(
        "{:<8} {:>12} {:>12} {:>12} {:>12}",
        "runtime",
        format!("median {unit}"),
        format!("p90 {unit}"),
        format!("mean {unit}"),
        format!("min {unit}")
    );
    let mut medians = Vec::new();
    for r in rts.iter_mut() {
        r.samples.sort();
        let v = |d: Duration| d.as_secs_f64() * scale;
        let med = v(r.samples[r.samples.len() / 2]);
        let p90 = v(r.samples[(r.samples.len() * 9).div_ceil(10).saturating_sub(1)]);
        let mean = r.samples.iter().map(|d| v(*d)).sum::<f64>() / r.samples.len() as f64;
        let min = v(r.samples[0]);
        println!(
            "{:<8} {med:>12.2} {p90:>12.2} {mean:>12.2} {min:>12.2}",
            r.name
        );
        medians.push((r.name.clone(), med));
    }
    if let Some((_, base)) = medians.iter().find(|(n, _)| n == "runoci") {
        for (name, med) in medians.iter().filter(|(n, _)| n != "runoci") {
            println!("median ratio runoci/{name}: {:.2}", base / med);
        }
    }
    if medians.len() >= 2 && !medians.iter().any(|(n, _)| n == "runoci") {
        let (n0, m0) = &medians[0];
        for (name, med) in &medians[1..] {
            println!("median ratio {n0}/{name}: {:.2}", m0 / med);
        }
    }
    for (name, pss) in monitor_pss.iter().filter(|(_, p)| !p.is_empty()) {
        let mean = pss.iter().sum::<u64>() as f64 / pss.len() as f64;
        let max = pss.iter().max().copied().unwrap_or(0);
        println!(
            "{name}: runoci-monitor PSS over {} monitors: mean {mean:.0} kB, max {max} kB",
            pss.len()
        );
    }
    // Dropping the runtimes kills and deletes the state/exec containers.
    drop(rts);
    reap_orphans();
    ExitCode::SUCCESS
}

fn ok_or_panic(name: &str, out: &Output) {
    if !out.success() {
        panic!("{name} failed during the bench\n{out}");
    }
}

/// One detached container of the density batch: runoci's own `start`
/// (which gives it a monitor), or `create` + `start` for the others.
fn detached_start(rt: &Runtime, name: &str, id: &str, bundle: &str) -> Output {
    // `runoci`, or another build of it named `runoci-…` (`--rt
    // runoci-base=PATH` to compare two builds).
    if name.starts_with("runoci") {
        return rt.run(["start", "-c", bundle, id]);
    }
    let out = rt.run(["create", "-b", bundle, id]);
    if !out.success() {
        return out;
    }
    rt.run(["start", id])
}

/// Starts [`DENSITY_BATCH`] containers, [`DENSITY_PARALLEL`] at a time;
/// returns the wall time of the whole batch.
fn density_batch(r: &Rt, bundle: &str, round: usize) -> Duration {
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..DENSITY_PARALLEL {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= DENSITY_BATCH {
                    break;
                }
                let id = format!("{}-d{round}-{i}", r.id);
                let out = detached_start(&r.rt, &r.name, &id, bundle);
                ok_or_panic(&r.name, &out);
            });
        }
    });
    start.elapsed()
}

/// Kills and deletes every container of `rt` (not timed), then reaps what
/// reparented to the bench.
fn remove_all(rt: &Runtime) {
    rt.cleanup_now();
    reap_orphans();
}

fn reap_orphans() {
    // SAFETY: waitpid on any child, no pointers kept; only reaps children
    // that already exited (WNOHANG), never one a Command still waits for
    // (no command runs while this is called).
    while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
}

/// PSS in kB of every runoci-monitor serving a container under `root`.
fn monitor_pss_kb(root: &Path) -> Vec<u64> {
    let root = root.to_string_lossy().into_owned();
    let mut out = Vec::new();
    for pid in runoci_tests::all_pids() {
        let cmdline = runoci_tests::pid_cmdline(pid);
        if !cmdline.contains("runoci-monitor") || !cmdline.contains(&root) {
            continue;
        }
        let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            continue;
        };
        if let Some(kb) = rollup
            .lines()
            .find_map(|l| l.strip_prefix("Pss:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
        {
            out.push(kb);
        }
    }
    out
}

/// Instructions executed by `RT --root R ARGS` and every process it starts
/// (callgrind, `--trace-children=yes`), summed over their outputs; the
/// command's output when it fails under valgrind.
fn instructions(rt: &Runtime, args: &[String]) -> Result<u64, Output> {
    let dir = std::env::temp_dir().join(format!("runoci-bench-cg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("callgrind output dir");
    let mut c = Command::new("valgrind");
    c.arg("--tool=callgrind")
        .arg("--trace-children=yes")
        .arg(format!("--callgrind-out-file={}/cg.%p", dir.display()))
        .arg(rt.bin())
        .arg("--root")
        .arg(rt.root())
        .args(args);
    let out = run_command(&mut c, b"", Duration::from_secs(300));
    if !out.success() {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(out);
    }
    let mut total = 0;
    for e in std::fs::read_dir(&dir)
        .expect("read callgrind dir")
        .flatten()
    {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        total += text
            .lines()
            .find_map(|l| l.strip_prefix("summary:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(total)
}
