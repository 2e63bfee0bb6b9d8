//! `linux.seccomp`: the spec's filter, compiled with libseccomp (the
//! library runc and crun use: it knows every architecture's syscall
//! numbers and multiplexers, and builds the notification listener).
//!
//! Loaded in the child by `child::user_caps`, as late as the privileges
//! allow: right before exec when noNewPrivileges is set (after
//! capabilities are dropped, as runc), else before the drop, while
//! CAP_SYS_ADMIN is still held.

use crate::error::{Error, Result};
use crate::spec::{Seccomp, SeccompArg, Spec};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use std::cell::RefCell;
use std::os::fd::OwnedFd;

thread_local! {
    /// The filter prepared for the child, with the config it came from:
    /// compiled by `check` (`run`, `create`, `start`), or the program kept
    /// for `exec` (`prepare_exec`). The child, a clone of this process,
    /// loads it instead of compiling the same config again: libseccomp's
    /// rule building is most of the runtime's own work for a Docker-like
    /// profile (~10M instructions).
    static PREPARED: RefCell<Option<(Seccomp, Filter)>> = const { RefCell::new(None) };
}

/// Compile the config's filter right after it is loaded (`run`, `create`,
/// `start`), before any state directory, cgroup or hook exists, so that a
/// filter libseccomp refuses fails the command with nothing to undo. Kept
/// for the child ([`compiled`]).
pub fn check(spec: &Spec) -> Result<()> {
    if let Some(s) = spec.linux.as_ref().and_then(|l| l.seccomp.as_ref()) {
        let ctx = build(s)?;
        PREPARED.with(|c| *c.borrow_mut() = Some((s.clone(), Filter::Compiled(ctx))));
    }
    Ok(())
}

/// A filter ready to load: libseccomp's, or a program kept for `exec`.
pub enum Filter {
    Compiled(ScmpFilterContext),
    Kept(crate::seccomp_cache::CachedFilter),
}

/// For `exec`, before its clone: the program kept in the container's
/// state directory `dir` for this config, or compiled now and kept there
/// (`seccomp_cache`); the child loads it ([`compiled`]).
pub fn prepare_exec(dir: &std::path::Path, s: &Seccomp) {
    use crate::seccomp_cache::{keep, keeps, read};
    if !keeps(s) {
        return;
    }
    let kept = read(dir, s).or_else(|| keep(dir, s, &build(s).ok()?));
    if let Some(f) = kept {
        PREPARED.with(|p| *p.borrow_mut() = Some((s.clone(), Filter::Kept(f))));
    }
}

/// The filter of `s`: the program [`prepare_exec`] found for this same
/// config (an `exec`), the one [`check`] compiled (the child of `run`,
/// `create`, `start`), else compiled now (a config changed since).
pub fn compiled(s: &Seccomp) -> Result<Filter> {
    match PREPARED.with(|p| p.borrow_mut().take()) {
        Some((config, f)) if config == *s => Ok(f),
        _ => build(s).map(Filter::Compiled),
    }
}

fn action(name: &str, errno: Option<u32>, field: &str) -> Result<ScmpAction> {
    Ok(match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(errno.unwrap_or(libc::EPERM as u32) as i32),
        "SCMP_ACT_TRACE" => ScmpAction::Trace(errno.unwrap_or(libc::EPERM as u32) as u16),
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_NOTIFY" => ScmpAction::Notify,
        other => {
            return Err(Error::new(format!(
                "{field}: unknown seccomp action {other:?}"
            )))
        }
    })
}

fn compare(a: &SeccompArg, field: &str) -> Result<ScmpArgCompare> {
    let op = match a.op.as_str() {
        "SCMP_CMP_NE" => ScmpCompareOp::NotEqual,
        "SCMP_CMP_LT" => ScmpCompareOp::Less,
        "SCMP_CMP_LE" => ScmpCompareOp::LessOrEqual,
        "SCMP_CMP_EQ" => ScmpCompareOp::Equal,
        "SCMP_CMP_GE" => ScmpCompareOp::GreaterEqual,
        "SCMP_CMP_GT" => ScmpCompareOp::Greater,
        // value is the mask, valueTwo the datum (runc's reading).
        "SCMP_CMP_MASKED_EQ" => {
            return Ok(ScmpArgCompare::new(
                a.index,
                ScmpCompareOp::MaskedEqual(a.value),
                a.value_two,
            ))
        }
        other => {
            return Err(Error::new(format!(
                "{field}.op: unknown seccomp operator {other:?}"
            )))
        }
    };
    if a.index > 5 {
        return Err(Error::new(format!(
            "{field}.index: {} is not a syscall argument (0-5)",
            a.index
        )));
    }
    Ok(ScmpArgCompare::new(a.index, op, a.value))
}

fn lib_err(what: &str) -> impl Fn(libseccomp::error::SeccompError) -> Error + '_ {
    move |e| Error::new(format!("{what}: {e}"))
}

/// Compile the filter (not yet loaded).
pub fn build(s: &Seccomp) -> Result<ScmpFilterContext> {
    let default = action(
        &s.default_action,
        s.default_errno_ret,
        "linux.seccomp.defaultAction",
    )?;
    let mut ctx = ScmpFilterContext::new(default).map_err(lib_err("seccomp init"))?;
    // no_new_privs is the config's business (process.noNewPrivileges),
    // not a side effect of loading the filter.
    ctx.set_ctl_nnp(false).map_err(lib_err("seccomp nnp"))?;
    for (i, a) in s.architectures.iter().enumerate() {
        let arch: ScmpArch = a.parse().map_err(|_| {
            Error::new(format!(
                "linux.seccomp.architectures[{i}]: unknown architecture {a:?}"
            ))
        })?;
        ctx.add_arch(arch).map_err(lib_err("seccomp add_arch"))?;
    }
    for (i, f) in s.flags.iter().enumerate() {
        match f.as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => ctx.set_ctl_tsync(true).map(|_| ()),
            "SECCOMP_FILTER_FLAG_LOG" => ctx.set_ctl_log(true).map(|_| ()),
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => ctx.set_ctl_ssb(true).map(|_| ()),
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => ctx.set_ctl_waitkill(true).map(|_| ()),
            other => {
                return Err(Error::new(format!(
                    "linux.seccomp.flags[{i}]: unknown flag {other:?}"
                )))
            }
        }
        .map_err(|e| Error::new(format!("linux.seccomp.flags[{i}]: {e}")))?;
    }
    for (i, rule) in s.syscalls.iter().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let act = action(&rule.action, rule.errno_ret, &format!("{field}.action"))?;
        // libseccomp refuses a rule that repeats the default action.
        if act == default {
            continue;
        }
        let conds: Vec<ScmpArgCompare> = rule
            .args
            .iter()
            .enumerate()
            .map(|(j, a)| compare(a, &format!("{field}.args[{j}]")))
            .collect::<Result<_>>()?;
        let mut seen = [false; 6];
        let repeats = rule
            .args
            .iter()
            .any(|a| std::mem::replace(&mut seen[a.index.min(5) as usize], true));
        for name in rule.names.iter().chain(rule.name.iter()) {
            // Unknown names (another kernel's, another arch's) are skipped,
            // as runc does.
            let Ok(sc) = ScmpSyscall::from_name(name) else {
                continue;
            };
            let r = if conds.is_empty() {
                ctx.add_rule(act, sc)
            } else if !repeats {
                ctx.add_rule_conditional(act, sc, &conds)
            } else {
                // libseccomp takes one comparison per argument per rule:
                // several on one argument become separate rules (OR), as
                // runc does.
                conds
                    .iter()
                    .try_for_each(|c| ctx.add_rule_conditional(act, sc, &[*c]).map(|_| ()))
                    .map(|_| &mut ctx)
            };
            r.map_err(|e| Error::new(format!("{field} {name}: {e}")))?;
        }
    }
    Ok(ctx)
}

/// The architectures of the validation table that this libseccomp
/// compiles: `features`' `archs`.
pub fn supported_archs() -> Vec<&'static str> {
    runoci_core::spec::names::SECCOMP_ARCHES
        .into_iter()
        .filter(|a| compiles(|s| s.architectures.push(a.to_string())))
        .collect()
}

/// The flags of the validation table that this libseccomp sets:
/// `features`' `supportedFlags`.
pub fn supported_flags() -> Vec<&'static str> {
    runoci_core::spec::names::SECCOMP_FLAGS
        .into_iter()
        .filter(|f| compiles(|s| s.flags.push(f.to_string())))
        .collect()
}

/// Whether an allow-all filter changed by `edit` compiles.
fn compiles(edit: impl FnOnce(&mut Seccomp)) -> bool {
    let mut s = Seccomp {
        default_action: "SCMP_ACT_ALLOW".into(),
        ..Default::default()
    };
    edit(&mut s);
    build(&s).is_ok()
}

/// Load the filter; returns the notification listener when a rule uses
/// SCMP_ACT_NOTIFY.
pub fn load(s: &Seccomp, filter: &Filter) -> Result<Option<OwnedFd>> {
    let ctx = match filter {
        Filter::Compiled(ctx) => ctx,
        // Kept programs have no listener (seccomp_cache keeps none).
        Filter::Kept(p) => {
            crate::sys::seccomp::load_program(&p.bpf, p.flags)
                .map_err(|e| Error::new(format!("load the seccomp filter: {e}")))?;
            return Ok(None);
        }
    };
    ctx.load().map_err(lib_err("load the seccomp filter"))?;
    if !s.wants_notify() {
        return Ok(None);
    }
    let fd = crate::sys::seccomp::take_listener(ctx).map_err(lib_err("seccomp listener fd"))?;
    Ok(Some(fd))
}

/// Send the listener to `listenerPath` as the spec says: the container
/// process state as JSON, the fd as SCM_RIGHTS.
pub fn send_listener(path: &str, fd: &OwnedFd, state_json: &str) -> Result<()> {
    crate::fdpass::send_fd(
        std::path::Path::new(path),
        state_json.as_bytes(),
        fd,
        "linux.seccomp.listenerPath",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &serde_json::Value) -> Result<Seccomp> {
        serde_json::from_value(v.clone()).map_err(|e| Error::new(format!("linux.seccomp: {e}")))
    }

    #[test]
    fn reference_fixture_filter_compiles() {
        let v: serde_json::Value = serde_json::json!({
            "defaultAction": "SCMP_ACT_KILL",
            "architectures": ["SCMP_ARCH_X86"],
            "syscalls": [
                {"name": "read", "action": "SCMP_ACT_ALLOW"},
                {"name": "write", "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 1, "value": 255, "value2": 4, "op": "SCMP_CMP_EQ"}]}
            ]
        });
        let s = parse(&v).unwrap();
        build(&s).unwrap();
    }

    /// The filter as libseccomp's pseudo filter code (its own text dump).
    fn pfc(ctx: &ScmpFilterContext) -> String {
        use std::io::{Read, Seek};
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .open(std::env::temp_dir())
            .expect("an unnamed temporary file");
        ctx.export_pfc(&f).expect("export_pfc");
        f.rewind().unwrap();
        let mut text = String::new();
        f.read_to_string(&mut text).unwrap();
        text
    }

    /// The PFC lines of the filter for syscall `name` (from its
    /// "# filter for syscall" comment to the next one).
    fn pfc_rules_for(pfc: &str, name: &str) -> Vec<String> {
        let head = format!("# filter for syscall \"{name}\"");
        pfc.lines()
            .skip_while(|l| !l.contains(&head))
            .skip(1)
            .take_while(|l| !l.contains("# filter for syscall") && !l.contains("# default action"))
            .map(|l| l.trim().to_string())
            .collect()
    }

    #[test]
    fn null_lists_are_empty() {
        let v = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW", "architectures": null, "flags": null,
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "args": null}]
        });
        let s = parse(&v).unwrap();
        assert!(s.architectures.is_empty() && s.flags.is_empty(), "{s:?}");
        assert_eq!(s.syscalls.len(), 1, "{s:?}");
        assert!(s.syscalls[0].args.is_empty(), "{s:?}");
        // `args: null` is a rule without conditions: getpid always fails.
        let pfc = pfc(&build(&s).unwrap());
        let rules = pfc_rules_for(&pfc, "getpid");
        assert!(rules.iter().any(|l| l.starts_with("action ERRNO")), "{pfc}");
        assert!(
            !rules.iter().any(|l| l.contains("$a")),
            "no argument test: {pfc}"
        );
    }

    #[test]
    fn unknown_action_names_the_field() {
        let v = serde_json::json!({"defaultAction": "SCMP_ACT_NOPE"});
        let e = build(&parse(&v).unwrap()).unwrap_err().to_string();
        assert!(
            e.contains("linux.seccomp.defaultAction") && e.contains("SCMP_ACT_NOPE"),
            "{e}"
        );
    }

    #[test]
    fn unknown_syscalls_are_skipped_and_repeated_args_split() {
        let v = serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["no_such_syscall_xyz", "getpid"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                    {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
            ]
        });
        let pfc = pfc(&build(&parse(&v).unwrap()).unwrap());
        // The unknown name is skipped; its sibling still gets the rule.
        assert!(!pfc.contains("no_such_syscall_xyz"), "{pfc}");
        let getpid = pfc_rules_for(&pfc, "getpid");
        assert!(getpid.iter().any(|l| l == "action ALLOW;"), "{pfc}");
        // Two comparisons on argument 0 are two rules (0 OR 8), not one
        // impossible rule (0 AND 8).
        let personality = pfc_rules_for(&pfc, "personality");
        let tests: Vec<&String> = personality
            .iter()
            .filter(|l| l.starts_with("if ($a0"))
            .collect();
        assert!(
            tests.iter().any(|l| l.contains("== 0"))
                && tests.iter().any(|l| l.contains("== 8"))
                && personality.iter().filter(|l| *l == "action ALLOW;").count() >= 2,
            "expected personality(0) and personality(8) allowed by separate rules:\n{pfc}"
        );
    }

    /// Every name validation accepts is one `build` compiles: the tables in
    /// `runoci_core::spec::names` and the mapping here agree.
    #[test]
    fn every_validated_name_compiles() {
        use runoci_core::spec::names::{
            SECCOMP_ACTIONS, SECCOMP_ARCHES, SECCOMP_FLAGS, SECCOMP_OPS,
        };
        for action in SECCOMP_ACTIONS {
            let v = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getpid"], "action": action}]});
            build(&parse(&v).unwrap()).unwrap_or_else(|e| panic!("{action}: {e}"));
        }
        for op in SECCOMP_OPS {
            let v = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 1, "op": op}]}]});
            build(&parse(&v).unwrap()).unwrap_or_else(|e| panic!("{op}: {e}"));
        }
        for arch in SECCOMP_ARCHES {
            arch.parse::<ScmpArch>()
                .unwrap_or_else(|e| panic!("{arch}: {e}"));
        }
        for flag in SECCOMP_FLAGS {
            let v = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": [flag]});
            // A flag the running kernel lacks fails in libseccomp, not as
            // an unknown name.
            if let Err(e) = build(&parse(&v).unwrap()) {
                assert!(!e.to_string().contains("unknown flag"), "{flag}: {e}");
            }
        }
    }

    /// What validation cannot see, libseccomp refuses when the config is
    /// loaded (`check`): here an errno it cannot encode (-1).
    #[test]
    fn check_refuses_what_libseccomp_refuses() {
        let text = r#"{"ociVersion": "1.0.2", "root": {"path": "rootfs"},
            "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}},
            "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4294967295}]}}}"#;
        let spec = runoci_core::spec::parse(text, "config.json").expect("valid names");
        let e = check(&spec).expect_err("errno -1");
        assert_eq!(
            e.to_string(),
            "linux.seccomp.syscalls[0] getpid: Invalid input to the libseccomp API"
        );
        let fine = text.replace("4294967295", "38");
        check(&runoci_core::spec::parse(&fine, "config.json").unwrap()).expect("compiles");
    }
}
