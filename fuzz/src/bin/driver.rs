//! A stable-Rust fuzz driver for machines without cargo-fuzz (which needs
//! a nightly toolchain): deterministic mutation of the seed corpus.
//!
//! `fuzz-driver <config_parser|proto_decode> <seconds> [seed]`
//!
//! - Seeds: every file in `corpus/<target>/`.
//! - Mutations (a seeded xorshift64* RNG, so a run is reproducible from its
//!   seed): bit flips, byte sets to interesting values, inserts and deletes
//!   of bytes and ranges, duplicated ranges, splices with another corpus
//!   entry, and insertion of JSON/protocol tokens; 1 to 8 per input.
//! - Feedback (no coverage instrumentation on stable): each target returns
//!   the kind of result it reached (see `runoci_fuzz`); an input reaching a
//!   kind not seen before joins the in-memory corpus.
//! - Panics are caught (catch_unwind), the input saved to
//!   `artifacts/<target>/crash-<n>` and the run goes on; a watchdog thread
//!   aborts the process if one input runs longer than the per-input limit
//!   (`FUZZ_INPUT_TIMEOUT_MS`, default 2000), after saving it as
//!   `artifacts/<target>/timeout`.
//! - Prints executions, rate, corpus size and findings every 30 s and at
//!   the end; exits 1 if anything was found.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const TOKENS: &[&[u8]] = &[
    b"{", b"}", b"[", b"]", b"\"", b":", b",", b"null", b"true", b"false", b"0", b"-1",
    b"1e999", b"-0", b"18446744073709551616", b"4294967296", b"9223372036854775807",
    b"\\u0000", b"\\ud800", b"\"\"", b"[]", b"{}", b"\n", b"\"version\":1",
    b"\"request\":\"kill\"", b"\"signal\":\"SIGRTMAX+1\"", b"\"signal\":64", b"\"all\":true",
    b"\"SCMP_ACT_NOTIFY\"", b"\"SCMP_CMP_MASKED_EQ\"", b"\"index\":6", b"\"args\":[",
    b"\"linux\":{", b"\"seccomp\":{", b"\"defaultAction\":\"SCMP_ACT_ERRNO\"",
    b"\"uidMappings\":[{\"containerID\":0,\"hostID\":4294967295,\"size\":4294967295}]",
    b"\"rlimits\":[", b"\"hooks\":{", b"\"timeout\":0", b"\"mounts\":[",
    b"\"options\":[\"rbind\",\"rprivate\"]", b"\"devices\":[", b"\"major\":-1",
    b"\"hostname\":", b"\"namespaces\":[{\"type\":\"user\"}]", b"\"capabilities\":{",
    b"\"CAP_SYS_ADMIN\"", b"\"consoleSize\":{\"height\":65536}", b"\xff", b"\xc3\x28",
];

const INTERESTING: &[u8] = &[0, 1, 0x7f, 0x80, 0xff, b'"', b'\\', b'{', b'}', b'0', b'9', b'-'];

fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut d = input.to_vec();
    let rounds = 1 + rng.below(8);
    for _ in 0..rounds {
        let len = d.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                d[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                d[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let i = rng.below(len + 1);
                d.insert(i, rng.next() as u8);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                d.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(256));
                let chunk = d[i..i + n].to_vec();
                let at = rng.below(d.len() + 1);
                d.splice(at..at, chunk);
            }
            5 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let i = rng.below(other.len());
                    let n = 1 + rng.below((other.len() - i).min(512));
                    let at = rng.below(len + 1);
                    let end = (at + rng.below(len - at + 1)).min(len);
                    d.splice(at..end, other[i..i + n].iter().copied());
                }
            }
            6 | 7 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                d.splice(at..at, t.iter().copied());
            }
            8 if len > 1 => {
                // Truncate.
                d.truncate(rng.below(len));
            }
            _ => {}
        }
    }
    // Keep inputs bounded (the decoders refuse long lines anyway).
    d.truncate(256 * 1024);
    d
}

fn load_seeds(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: fuzz-driver <config_parser|proto_decode> <seconds> [seed]");
        std::process::exit(2);
    }
    let target_name = args[1].clone();
    let target: fn(&[u8]) -> String = match target_name.as_str() {
        "config_parser" => runoci_fuzz::config_parser,
        "proto_decode" => runoci_fuzz::proto_decode,
        other => {
            eprintln!("unknown target {other}");
            std::process::exit(2);
        }
    };
    let seconds: u64 = args[2].parse().expect("seconds");
    let seed: u64 = args.get(3).map(|s| s.parse().expect("seed")).unwrap_or(0x5eed_f00d);
    let limit = Duration::from_millis(
        std::env::var("FUZZ_INPUT_TIMEOUT_MS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2000),
    );
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let artifacts = here.join("artifacts").join(&target_name);
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");
    let mut corpus = load_seeds(&here.join("corpus").join(&target_name));
    assert!(!corpus.is_empty(), "no seeds in corpus/{target_name}");
    let seeds = corpus.len();

    // Quiet panics: they are counted and saved, not printed one by one.
    std::panic::set_hook(Box::new(|_| {}));

    // Watchdog: the current input and when it started.
    let current: Arc<Mutex<(Vec<u8>, Instant)>> = Arc::new(Mutex::new((Vec::new(), Instant::now())));
    let busy = Arc::new(AtomicU64::new(0));
    {
        let current = Arc::clone(&current);
        let busy = Arc::clone(&busy);
        let artifacts = artifacts.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(100));
            if busy.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let (data, started) = {
                let g = current.lock().unwrap_or_else(|e| e.into_inner());
                (g.0.clone(), g.1)
            };
            if busy.load(Ordering::Relaxed) != 0 && started.elapsed() > limit {
                let p = artifacts.join("timeout");
                let _ = std::fs::write(&p, &data);
                eprintln!(
                    "TIMEOUT: one input ran over {limit:?}; saved to {}",
                    p.display()
                );
                std::process::abort();
            }
        });
    }

    // FUZZ_SHOW_KINDS=N prints the first N outcome kinds (to tune them).
    let show_kinds: usize = std::env::var("FUZZ_SHOW_KINDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut rng = Rng(seed | 1);
    let mut seen: HashSet<String> = HashSet::new();
    let mut crashes = 0u64;
    let mut execs = 0u64;
    let mut crash_kinds: HashSet<String> = HashSet::new();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut last_report = start;
    // Seeds first, as they are.
    let mut queue: Vec<Vec<u8>> = corpus.clone();
    while Instant::now() < deadline {
        let input = match queue.pop() {
            Some(i) => i,
            None => {
                let base = corpus[rng.below(corpus.len())].clone();
                mutate(&mut rng, &base, &corpus)
            }
        };
        {
            let mut g = current.lock().unwrap_or_else(|e| e.into_inner());
            g.0.clear();
            g.0.extend_from_slice(&input);
            g.1 = Instant::now();
        }
        busy.store(1, Ordering::Relaxed);
        let r = catch_unwind(AssertUnwindSafe(|| target(&input)));
        busy.store(0, Ordering::Relaxed);
        execs += 1;
        match r {
            Ok(outcome) => {
                if seen.len() < show_kinds && !seen.contains(&outcome) {
                    eprintln!("new kind: {outcome}");
                }
                if seen.insert(outcome) {
                    if corpus.len() < 5000 {
                        corpus.push(input);
                    } else {
                        // Full: replace an entry that is not a seed.
                        let i = seeds + rng.below(corpus.len() - seeds);
                        corpus[i] = input;
                    }
                }
            }
            Err(payload) => {
                crashes += 1;
                let msg = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "(non-string panic)".into());
                if crash_kinds.insert(msg.clone()) {
                    let p = artifacts.join(format!("crash-{}", crash_kinds.len()));
                    let _ = std::fs::write(&p, &input);
                    eprintln!("PANIC: {msg}\n  input saved to {}", p.display());
                }
            }
        }
        if last_report.elapsed() >= Duration::from_secs(30) {
            last_report = Instant::now();
            let secs = start.elapsed().as_secs_f64();
            eprintln!(
                "#{execs} {:.0}s {:.0} exec/s corpus {} kinds {} panics {crashes}",
                secs,
                execs as f64 / secs,
                corpus.len(),
                seen.len()
            );
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "target {target_name}: {execs} executions in {secs:.0} s ({:.0}/s), seed {seed}, \
         {seeds} seeds, corpus grew to {}, {} outcome kinds, {crashes} panics ({} distinct), 0 timeouts",
        execs as f64 / secs,
        corpus.len(),
        seen.len(),
        crash_kinds.len()
    );
    std::process::exit(if crashes > 0 { 1 } else { 0 });
}
