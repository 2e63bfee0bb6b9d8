//! Start-up and `state` latency of OCI runtimes, interleaved so that machine
//! noise hits every runtime alike.
//!
//! `runoci-bench start|state [-n N] [--rt NAME=PATH]...`
//! - `start`: N × `RT --root R run -b BUNDLE ID-i` of `/bin/true` (no
//!   terminal), wall time from spawn to exit.
//! - `state`: one created (not started) `sleep` container per runtime, then
//!   N × `RT --root R state ID`.
//! - `podman`: N × `podman --runtime RT --cgroup-manager cgroupfs run --rm
//!   --net none IMAGE true` with a busybox image imported for the bench
//!   (and removed after).
//!
//! Prints median, p90, mean and min per runtime in ms, and the ratio of
//! medians of `runoci` to each other runtime. A runtime that cannot run the
//! bundle at all is reported and left out.

use std::process::ExitCode;
use std::time::Duration;

use runoci_tests::engines::Podman;
use runoci_tests::{Bundle, Output, Runtime};

const WARMUP: usize = 3;

struct Rt {
    name: String,
    rt: Runtime,
    /// `podman` mode: podman with this runtime.
    podman: Option<Podman>,
    samples: Vec<Duration>,
}

fn usage() -> ExitCode {
    eprintln!("usage: runoci-bench start|state|podman [-n N] [--rt NAME=PATH]...");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(mode) = args.next() else {
        return usage();
    };
    if mode != "start" && mode != "state" && mode != "podman" {
        return usage();
    }
    let mut n = 50usize;
    let mut specs: Vec<(String, String)> = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "-n" => match args.next().and_then(|v| v.parse().ok()) {
                Some(v) => n = v,
                None => return usage(),
            },
            "--rt" => match args.next().as_deref().and_then(|v| v.split_once('=')) {
                Some((name, path)) => specs.push((name.to_string(), path.to_string())),
                None => return usage(),
            },
            _ => return usage(),
        }
    }
    if specs.is_empty() {
        specs = vec![
            ("runc".into(), "/usr/bin/runc".into()),
            ("crun".into(), "/usr/bin/crun".into()),
        ];
    }

    let mut bundle = Bundle::new("bench");
    if mode == "start" {
        bundle.set_args(&["/bin/true"]);
    } else {
        bundle.set_args(&["sleep", "100000"]);
    }
    bundle.write_config();
    let bundle_path = bundle.path_str().to_string();

    // Check each runtime once; keep those that work.
    let mut rts: Vec<Rt> = Vec::new();
    for (name, path) in specs {
        let rt = Runtime::at(&path).with_timeout(Duration::from_secs(30));
        let podman = (mode == "podman").then(|| Podman::with_runtime(std::path::Path::new(&path)));
        let out = if let Some(p) = &podman {
            p.run_rm(&[], &["true"])
        } else if mode == "start" {
            rt.run(["run", "-b", &bundle_path, &format!("{name}-check")])
        } else {
            rt.run(["create", "-b", &bundle_path, &format!("{name}-c")])
        };
        if !out.success() {
            println!("{name} ({path}): left out, it cannot run the bundle:\n{out}\n");
            continue;
        }
        rts.push(Rt {
            name,
            rt,
            podman,
            samples: Vec::with_capacity(n),
        });
    }
    if rts.is_empty() {
        println!("no runtime works");
        return ExitCode::FAILURE;
    }

    let sample = |r: &Rt, i: usize| -> Output {
        let out = if let Some(p) = &r.podman {
            p.run_rm(&[], &["true"])
        } else if mode == "start" {
            r.rt.run(["run", "-b", &bundle_path, &format!("{}-{i}", r.name)])
        } else {
            r.rt.run(["state", &format!("{}-c", r.name)])
        };
        if !out.success() {
            panic!("{} failed during the bench\n{out}", r.name);
        }
        out
    };
    for i in 0..WARMUP {
        for r in &rts {
            sample(r, 1_000_000 + i);
        }
    }
    for i in 0..n {
        for r in rts.iter_mut() {
            let out = sample(r, i);
            r.samples.push(out.elapsed);
        }
    }

    let what = if mode == "podman" {
        "podman run --rm --net none IMAGE true"
    } else if mode == "start" {
        "run -b BUNDLE ID  (/bin/true)"
    } else {
        "state ID  (created container)"
    };
    println!("{what}: {n} interleaved samples per runtime, {WARMUP} warm-up");
    println!(
        "{:<8} {:>10} {:>10} {:>10} {:>10}",
        "runtime", "median ms", "p90 ms", "mean ms", "min ms"
    );
    let mut medians = Vec::new();
    for r in rts.iter_mut() {
        r.samples.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let med = ms(r.samples[r.samples.len() / 2]);
        let p90 = ms(r.samples[(r.samples.len() * 9).div_ceil(10).saturating_sub(1)]);
        let mean = r.samples.iter().map(|d| ms(*d)).sum::<f64>() / r.samples.len() as f64;
        let min = ms(r.samples[0]);
        println!(
            "{:<8} {med:>10.2} {p90:>10.2} {mean:>10.2} {min:>10.2}",
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
    // Dropping the runtimes kills and deletes the state-bench containers.
    drop(rts);
    ExitCode::SUCCESS
}
