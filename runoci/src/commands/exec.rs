//! runc's `exec`: run a process in a running container.

use crate::cli::{Cli, ExecArgs};
use crate::error::{Error, Result};
use crate::exec::{self, ExecRequest};
use crate::spec::Process;
use runoci_core::forward::Forwarder;
use runoci_core::state::StateDir;

pub fn exec(cli: &Cli, a: &ExecArgs) -> Result<i32> {
    let sub_cgroups = runoci_core::cgroups::parse_exec_sub_cgroups(&a.cgroup)?;
    let sd = StateDir::open(&cli.root, &a.id)?;
    let (st, record) = super::state::from_files_with_record(&sd)?;
    match st.status {
        runoci_proto::Status::Running | runoci_proto::Status::Created => {}
        runoci_proto::Status::Paused if a.ignore_paused => {}
        runoci_proto::Status::Paused => {
            return Err(Error::new(format!(
                "container {} is paused: resume it first, or give --ignore-paused (the process then stays frozen until resume)",
                a.id
            )))
        }
        other => {
            return Err(Error::new(format!(
                "container {} is {}: cannot exec in it",
                a.id,
                other.as_str()
            )))
        }
    }
    let spec = crate::spec::load(std::path::Path::new(&st.bundle))?;
    if let Some(s) = spec.linux.as_ref().and_then(|l| l.seccomp.as_ref()) {
        crate::seccomp::prepare_exec(&sd.dir, s);
    }
    let process = build_process(&spec, a)?;
    let req = ExecRequest {
        id: a.id.clone(),
        init: runoci_core::state::ProcessRef {
            pid: record.pid,
            start_time: record.pid_start_time,
        },
        process,
        cgroup: record
            .cgroup
            .as_ref()
            .map(runoci_core::cgroups::Cgroup::from_record),
        sub_cgroups,
        spec,
        console_socket: a.console_socket.clone(),
        preserve_fds: a.preserve_fds,
        session_keyring: (!record.no_new_keyring)
            .then(|| crate::child::session_keyring::name(&a.id)),
    };
    let forwarder = if a.detach {
        None
    } else {
        Some(Forwarder::block()?)
    };
    let spawned = exec::spawn(&req).map_err(|e| e.context(format!("container {}: exec", a.id)))?;
    if let Some(p) = &a.pid_file {
        super::create::write_pid_file(p, spawned.pid)?;
    }
    match forwarder {
        Some(f) => f.wait(spawned.pid, &spawned.pidfd, "the exec process"),
        None => Ok(0),
    }
}

/// The process to run: `--process FILE`, or the container's own process
/// with the command line's overrides. `--cap` adds to bounding, effective,
/// permitted and ambient — never inheritable (CVE-2022-27650).
fn build_process(spec: &crate::spec::Spec, a: &ExecArgs) -> Result<Process> {
    let mut p = match &a.process {
        Some(f) => {
            crate::spec::load_process(f).map_err(|e| Error::new(format!("exec --process: {e}")))?
        }
        None => {
            let mut p = spec.process.clone().unwrap_or_default();
            if a.args.is_empty() {
                return Err(Error::new("exec: no command given (ARGS or --process)"));
            }
            p.args = a.args.clone();
            p.terminal = a.tty;
            if let Some(c) = &mut p.capabilities {
                c.inheritable.clear();
            }
            p
        }
    };
    if p.args.is_empty() {
        return Err(Error::new("exec: process.args is empty"));
    }
    if let Some(cwd) = &a.cwd {
        p.cwd = cwd.clone();
    }
    for e in &a.env {
        let key = e.split('=').next().unwrap_or("");
        p.env.retain(|x| x.split('=').next() != Some(key));
        p.env.push(e.clone());
    }
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u.as_str(), None),
        };
        p.user.uid = crate::spec::parse_id("--user", uid)?;
        if let Some(g) = gid {
            p.user.gid = crate::spec::parse_id("--user", g)?;
        }
    }
    if !a.additional_gids.is_empty() {
        p.user.additional_gids = a.additional_gids.clone();
    }
    if a.no_new_privs {
        p.no_new_privileges = true;
    }
    // As runc: the labels replace config.json's for this process; the Lsm
    // step applies them, or refuses them where the LSM is not enabled.
    if let Some(label) = &a.process_label {
        p.selinux_label = Some(label.clone());
    }
    if let Some(profile) = &a.apparmor {
        p.apparmor_profile = Some(profile.clone());
    }
    if !a.cap.is_empty() {
        let c = p.capabilities.get_or_insert_with(Default::default);
        for cap in &a.cap {
            if crate::spec::capability(cap).is_none() {
                return Err(Error::new(format!("--cap {cap:?}: unknown capability")));
            }
            for set in [
                &mut c.bounding,
                &mut c.effective,
                &mut c.permitted,
                &mut c.ambient,
            ] {
                if !set.contains(cap) {
                    set.push(cap.clone());
                }
            }
        }
    }
    // The overrides are checked as config.json's process is: one set of
    // rules, whichever way the process came.
    crate::spec::check_process(&p).map_err(|e| Error::new(format!("exec: {e}")))?;
    Ok(p)
}
