//! Helpers shared by the `run_*` integration tests: run a shell script in a
//! busybox container with `runoci run` and look at what it printed.
#![allow(dead_code)] // each test crate uses its own subset

use runoci_tests::{unique_id, Bundle, Output, Runtime};

/// `runoci run -c BUNDLE ID` with `process.args = ["sh", "-c", script]`.
pub fn run_sh(bundle: &mut Bundle, rt: &Runtime, prefix: &str, script: &str) -> Output {
    bundle.set_args(&["sh", "-c", script]);
    let id = unique_id(prefix);
    rt.run(["run", "-c", bundle.path_str(), &id])
}

/// Like [`run_sh`], and the run must succeed; returns stdout.
#[track_caller]
pub fn run_sh_ok(bundle: &mut Bundle, rt: &Runtime, prefix: &str, script: &str) -> String {
    let out = run_sh(bundle, rt, prefix, script);
    out.assert_ok();
    out.stdout
}

/// The value of `key:` in a `/proc/*/status`-like text (trimmed).
pub fn status_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// One line of stderr contains `needle` (errors are single lines).
pub fn stderr_line_with<'a>(out: &'a Output, needle: &str) -> Option<&'a str> {
    out.stderr.lines().find(|l| l.contains(needle))
}

/// Panics unless the run failed and one stderr line contains `needle`.
#[track_caller]
pub fn assert_fails_with(out: &Output, needle: &str) {
    out.assert_failed();
    if stderr_line_with(out, needle).is_none() {
        panic!("expected one stderr line containing {needle:?}, saw none\n{out}");
    }
}
