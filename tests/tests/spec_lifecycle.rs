//! The lifecycle rules of runtime-spec 1.3.0 that engines rely on, one test
//! per rule, each cited to the spec section it checks. They go through the
//! runc dialect only, so that `RUNOCI_BIN=/usr/bin/runc` runs the same
//! tests against runc. runc 1.1.5 passes all but one: it stops at the
//! first failing poststop hook (the later ones never run), against
//! runtime.md's step 13.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use runoci_tests::{unique_id, Bundle, Runtime};
use serde_json::{json, Value};

/// A hook that saves the state on its stdin as `LOG/NAME.json`, appends
/// NAME to `LOG/order`, and exits with `code`.
fn hook(log: &Path, name: &str, code: i32) -> Value {
    let log = log.display();
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("cat > {log}/{name}.json; echo {name} >> {log}/order; exit {code}")],
    })
}

/// The names the hooks of [`hook`] appended to `LOG/order`, in order.
fn order(log: &Path) -> Vec<String> {
    fs::read_to_string(log.join("order"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The state hook NAME got on its stdin.
#[track_caller]
fn hook_state(log: &Path, name: &str) -> Value {
    let text = fs::read_to_string(log.join(format!("{name}.json")))
        .unwrap_or_else(|e| panic!("hook {name} left no state ({e})"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("hook {name}: state {text:?}: {e}"))
}

/// A bundle running `args`, with an empty directory `hooklog` for [`hook`].
fn bundle_with_log(name: &str, args: &[&str]) -> (Bundle, std::path::PathBuf) {
    let mut bundle = Bundle::new(name);
    bundle.set_args(args);
    let log = bundle.path().join("hooklog");
    fs::create_dir(&log).unwrap();
    (bundle, log)
}

/// Polls `state ID` until its status is `want` (panics after 30 s).
#[track_caller]
fn wait_status(rt: &Runtime, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = rt.run(["state", id]);
        if st.success() && st.json()["status"] == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "container {id} never became {want}\n{st}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// runtime.md, Lifecycle step 13: "If any `poststop` hook fails, the
/// runtime MUST log a warning, but the remaining hooks and lifecycle
/// continue as if the hook had succeeded" (config.md#poststop: they run
/// before `delete` returns).
#[test]
fn a_failing_poststop_hook_warns_and_the_next_hooks_and_delete_go_on() {
    let (mut bundle, log) = bundle_with_log("spec-poststop-fails", &["true"]);
    bundle.config_mut()["hooks"] = json!({
        "poststop": [hook(&log, "first", 3), hook(&log, "second", 0)],
    });
    let rt = Runtime::runoci();
    let id = unique_id("poststop-fails");
    let log_file = bundle.path().join("runtime.log");
    let global = ["--log", log_file.to_str().unwrap()];
    rt.run(["create", "--bundle", bundle.path_str(), &id])
        .assert_ok();
    rt.run(["start", &id]).assert_ok();
    wait_status(&rt, &id, "stopped");

    let mut delete = global.to_vec();
    delete.extend(["delete", &id]);
    rt.run(delete).assert_ok();
    assert_eq!(
        order(&log),
        ["first", "second"],
        "runtime.md#lifecycle step 13: every poststop hook runs, once, though the first failed"
    );
    let gone = rt.run(["state", &id]);
    assert!(
        !gone.success(),
        "runtime.md#lifecycle step 13: the lifecycle goes on: delete removed the container\n{gone}"
    );
    let logged = fs::read_to_string(&log_file).unwrap_or_default();
    assert!(
        logged.contains("poststop"),
        "runtime.md#lifecycle step 13: the failure is logged as a warning; log:\n{logged}"
    );
}

/// runtime.md, Lifecycle step 9 (1.3.0): "If any `poststart` hook fails,
/// the runtime MUST generate an error, stop the container, and continue
/// the lifecycle at step 12" (destroyed, then step 13: poststop hooks).
/// runc 1.1.5 runs poststart hooks at `create`, so there `create` fails;
/// the rule holds either way: the operation that ran them fails, the
/// program does not run on, poststop runs once.
#[test]
fn a_failing_poststart_hook_is_an_error_that_stops_the_container() {
    let (mut bundle, log) = bundle_with_log("spec-poststart-fails", &["sleep", "1000"]);
    bundle.config_mut()["hooks"] = json!({
        "poststart": [hook(&log, "poststart", 3)],
        "poststop": [hook(&log, "poststop", 0)],
    });
    let rt = Runtime::runoci();
    let id = unique_id("poststart-fails");
    let created = rt.run(["create", "--bundle", bundle.path_str(), &id]);
    let pid = created
        .success()
        .then(|| rt.state(&id)["pid"].as_i64().unwrap_or(0));
    let failed = match pid {
        Some(_) => rt.run(["start", &id]),
        None => created,
    };
    assert!(
        !failed.success(),
        "runtime.md#lifecycle step 9: a failing poststart hook is an error\n{failed}"
    );
    assert_eq!(
        order(&log),
        ["poststart", "poststop"],
        "runtime.md#lifecycle steps 9, 12, 13: the container is destroyed and its poststop hooks run"
    );
    if let Some(pid) = pid {
        let st = rt.state(&id);
        assert_eq!(
            st["status"], "stopped",
            "runtime.md#lifecycle step 9: the container is stopped (pid {pid}): {st}"
        );
    }
    rt.run(["delete", "--force", &id]).assert_ok();
    assert_eq!(
        order(&log),
        ["poststart", "poststop"],
        "config.md#poststop: poststop hooks run once, not again at delete"
    );
}

/// The annotations of a container made through the runc dialect, in
/// `state` and in every hook's state, are exactly the config's
/// (runtime.md#state: "annotations ... associated with the container";
/// config.md#posix-platform-hooks: hooks get "the state of the
/// container"). runoci's run_oci dialect adds its container_root
/// annotation, as the reference does (run_hooks.rs checks that one).
#[test]
fn state_and_hooks_carry_exactly_the_configs_annotations() {
    let (mut bundle, log) = bundle_with_log("spec-annotations", &["sleep", "1000"]);
    let annotations =
        json!({"com.example.owner": "tests", "org.opencontainers.image.title": "a b"});
    bundle.config_mut()["annotations"] = annotations.clone();
    let stages = ["createRuntime", "createContainer", "poststart", "poststop"];
    let mut hooks = serde_json::Map::new();
    for stage in stages {
        hooks.insert(stage.to_string(), json!([hook(&log, stage, 0)]));
    }
    // createContainer runs in the container: its log must be reachable.
    bundle.config_mut()["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "destination": log, "type": "bind", "source": log, "options": ["rbind"]
        }));
    fs::create_dir_all(bundle.rootfs().join(log.strip_prefix("/").unwrap())).unwrap();
    bundle.config_mut()["hooks"] = Value::Object(hooks);
    let rt = Runtime::runoci();
    let id = unique_id("annotations");
    rt.run(["create", "--bundle", bundle.path_str(), &id])
        .assert_ok();
    let created = rt.state(&id);
    assert_eq!(
        created["annotations"], annotations,
        "runtime.md#state: the created container's annotations are the config's: {created}"
    );
    rt.run(["start", &id]).assert_ok();
    let running = rt.state(&id);
    assert_eq!(
        running["annotations"], annotations,
        "runtime.md#state: the running container's annotations are the config's: {running}"
    );
    rt.run(["kill", &id, "KILL"]).assert_ok();
    wait_status(&rt, &id, "stopped");
    rt.run(["delete", &id]).assert_ok();
    for stage in stages {
        let st = hook_state(&log, stage);
        assert_eq!(
            st["annotations"], annotations,
            "config.md#posix-platform-hooks: the {stage} hook's state has the config's annotations: {st}"
        );
    }
}

/// `state`'s ociVersion is the spec version the runtime implements
/// (runtime.md#state: "the version of the Open Container Initiative
/// Runtime Specification with which the state complies"), the one
/// `features` reports as ociVersionMax, whatever the config's is.
#[test]
fn state_reports_the_runtimes_spec_version_not_the_configs() {
    let mut bundle = Bundle::new("spec-version");
    bundle.set_args(&["sleep", "1000"]);
    bundle.config_mut()["ociVersion"] = json!("1.0.0");
    let rt = Runtime::runoci();
    let id = unique_id("spec-version");
    rt.run(["create", "--bundle", bundle.path_str(), &id])
        .assert_ok();
    let st = rt.state(&id);
    let features = rt.run(["features"]).assert_ok().json();
    assert!(
        features["ociVersionMax"].is_string(),
        "features-linux.md: ociVersionMax: {features}"
    );
    assert_eq!(
        st["ociVersion"], features["ociVersionMax"],
        "runtime.md#state: ociVersion is the runtime's spec version: {st}"
    );
    rt.run(["delete", "--force", &id]).assert_ok();
}
