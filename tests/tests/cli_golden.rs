//! Golden tests of what a person reads: `runoci --help`, each command's
//! `--help`, and the messages of the most common mistakes (missing
//! bundle, missing config.json, bad id, unknown container, starting a
//! running container), compared with the files under `tests/golden/`.
//!
//! After a deliberate change, regenerate them with
//! `UPDATE_GOLDEN=1 cargo test -p runoci-tests --test cli_golden` (the
//! tests whose files it rewrote fail, saying so), review the diff and run
//! again without it. Paths that vary per run are written as `$ROOT`
//! (the runtime's --root) and `$BUNDLE` / `$DIR` (the test's directories).

use runoci_tests::{runoci_bin, test_dir, unique_id, workspace_root, Bundle, Output, Runtime};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every command of `runoci --help`, in its order.
const COMMANDS: &[&str] = &[
    "run",
    "start",
    "create",
    "kill",
    "destroy",
    "exec",
    "pause",
    "resume",
    "update",
    "events",
    "ps",
    "features",
    "state",
    "list",
    "spec",
    "checkpoint",
    "restore",
    "check",
];

fn golden_dir(kind: &str) -> PathBuf {
    workspace_root().join("tests/golden").join(kind)
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Compares `actual` with the golden file; the panic shows both and the
/// first differing line. With UPDATE_GOLDEN=1 a differing (or missing)
/// file is rewritten instead and its path returned: the caller then fails
/// the test with [`fail_if_updated`], so an update never passes silently.
#[track_caller]
fn compare_golden(kind: &str, name: &str, actual: &str) -> Option<PathBuf> {
    let path = golden_dir(kind).join(format!("{name}.txt"));
    let found = fs::read_to_string(&path);
    if updating() {
        if found.as_deref().ok() == Some(actual) {
            return None;
        }
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, actual).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        return Some(path);
    }
    let expected = found.unwrap_or_else(|e| {
        panic!(
            "{}: {e}\n(run with UPDATE_GOLDEN=1 to create it)\nactual:\n{actual}",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the output (first at line {}); \
             UPDATE_GOLDEN=1 regenerates it\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display(),
            first + 1
        );
    }
    None
}

/// Fails the test if UPDATE_GOLDEN=1 rewrote any golden file.
#[track_caller]
fn fail_if_updated(updated: &[PathBuf]) {
    assert!(
        updated.is_empty(),
        "UPDATE_GOLDEN=1 rewrote {updated:?}: review the diff and re-run without UPDATE_GOLDEN"
    );
}

/// [`compare_golden`] and [`fail_if_updated`] for one file.
#[track_caller]
fn check_golden(kind: &str, name: &str, actual: &str) {
    let updated: Vec<PathBuf> = compare_golden(kind, name, actual).into_iter().collect();
    fail_if_updated(&updated);
}

fn runoci(args: &[&str]) -> Output {
    let mut c = Command::new(runoci_bin());
    c.args(args);
    runoci_tests::run_command(&mut c, b"", runoci_tests::default_timeout())
}

#[test]
fn top_level_help_matches_golden() {
    let out = runoci(&["--help"]);
    out.assert_ok();
    check_golden("help", "runoci", &out.stdout);
}

#[test]
fn every_command_help_matches_golden() {
    let mut updated = Vec::new();
    for cmd in COMMANDS {
        let out = runoci(&[cmd, "--help"]);
        out.assert_ok();
        assert!(
            out.stdout.contains("Example"),
            "`runoci {cmd} --help` has no example\n{out}"
        );
        updated.extend(compare_golden(
            "help",
            &format!("runoci-{cmd}"),
            &out.stdout,
        ));
    }
    fail_if_updated(&updated);
}

/// The list above is complete: a new command gets a golden help too.
#[test]
fn command_list_is_complete() {
    let out = runoci(&["--help"]);
    out.assert_ok();
    let listed: Vec<&str> = out
        .stdout
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands: section")
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert_eq!(listed, COMMANDS, "update COMMANDS (and the goldens)");
    if !updating() {
        let mut files: Vec<String> = fs::read_dir(golden_dir("help"))
            .expect("tests/golden/help")
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut want: Vec<String> = COMMANDS
            .iter()
            .map(|c| format!("runoci-{c}.txt"))
            .chain(["runoci.txt".to_string()])
            .collect();
        want.sort();
        assert_eq!(files, want, "stale or missing files in tests/golden/help");
    }
}

/// `exit N` and stderr, with per-run paths replaced.
fn transcript(out: &Output, subst: &[(&Path, &str)]) -> String {
    let code = out
        .code()
        .map_or("by a signal".to_string(), |c| c.to_string());
    let text = format!("exit {code}\n{}", out.stderr);
    substitute(text, subst)
}

fn substitute(mut text: String, subst: &[(&Path, &str)]) -> String {
    for (path, name) in subst {
        text = text.replace(path.to_str().expect("UTF-8 path"), name);
    }
    text
}

#[test]
fn missing_bundle_message() {
    let rt = Runtime::runoci();
    let dir = test_dir().join(unique_id("golden-nobundle"));
    let missing = dir.join("no-such-bundle");
    let out = rt.run(["run", "-c", missing.to_str().unwrap(), "web"]);
    out.assert_failed();
    check_golden(
        "errors",
        "missing-bundle",
        &transcript(&out, &[(&dir, "$DIR"), (rt.root(), "$ROOT")]),
    );
}

#[test]
fn missing_config_json_message() {
    let rt = Runtime::runoci();
    let dir = test_dir().join(unique_id("golden-noconfig"));
    fs::create_dir_all(dir.join("rootfs")).unwrap();
    let out = rt.run(["run", "-c", dir.to_str().unwrap(), "web"]);
    let _ = fs::remove_dir_all(&dir);
    out.assert_failed();
    check_golden(
        "errors",
        "missing-config-json",
        &transcript(&out, &[(&dir, "$DIR"), (rt.root(), "$ROOT")]),
    );
}

#[test]
fn bad_id_messages() {
    let bundle = Bundle::new("golden-badid");
    let rt = Runtime::runoci();
    let mut text = String::new();
    for args in [
        vec!["run", "-c", bundle.path_str(), "a/b"],
        vec!["run", "-c", bundle.path_str(), ".."],
        vec!["state", "../etc"],
    ] {
        let out = rt.run(&args);
        out.assert_failed();
        let subst = [(bundle.path(), "$BUNDLE"), (rt.root(), "$ROOT")];
        text.push_str(&substitute(
            format!("$ runoci {}\n", args.join(" ")),
            &subst,
        ));
        text.push_str(&transcript(&out, &subst));
    }
    check_golden("errors", "bad-id", &text);
}

#[test]
fn unknown_container_messages() {
    let rt = Runtime::runoci();
    let mut text = String::new();
    for args in [
        vec!["state", "nosuch"],
        vec!["kill", "nosuch"],
        vec!["kill", "-S", "KILL", "nosuch"],
        vec!["delete", "nosuch"],
        vec!["destroy", "nosuch"],
    ] {
        let out = rt.run(&args);
        out.assert_failed();
        text.push_str(&format!("$ runoci {}\n", args.join(" ")));
        text.push_str(&transcript(&out, &[(rt.root(), "$ROOT")]));
    }
    check_golden("errors", "unknown-container", &text);
    // As with runc (containerd's shim relies on it): forcing the delete of
    // a container that is already gone is not an error.
    rt.run(["delete", "--force", "nosuch"]).assert_ok();
}

#[test]
fn start_of_a_running_container_message() {
    let mut bundle = Bundle::new("golden-running");
    bundle.set_args(&["sleep", "1000"]);
    let rt = Runtime::runoci();
    // A fixed id (it is in the message); this test is its only user.
    let id = "golden-running";
    rt.run(["start", "-c", bundle.path_str(), id]).assert_ok();
    let mut text = String::new();
    for args in [
        vec!["start", id],
        vec!["start", "-c", bundle.path_str(), id],
    ] {
        let out = rt.run(&args);
        out.assert_failed();
        let subst = [(bundle.path(), "$BUNDLE"), (rt.root(), "$ROOT")];
        text.push_str(&substitute(
            format!("$ runoci {}\n", args.join(" ")),
            &subst,
        ));
        text.push_str(&transcript(&out, &subst));
    }
    rt.run(["kill", "-S", "KILL", id]).assert_ok();
    rt.run(["destroy", "--force", id]).assert_ok();
    check_golden("errors", "start-running", &text);
}
