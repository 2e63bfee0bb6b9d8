//! `runoci run`: create the container, wait for it, return its status.
//! runoci itself is the parent; signals it gets are forwarded to the init.

use crate::cli::{Cli, RunArgs};
use crate::container;
use crate::error::Result;
use crate::forward::Forwarder;
use crate::hooks;

pub fn run(cli: &Cli, args: &RunArgs) -> Result<i32> {
    if args.detach {
        // runc's `run -d`: create, then start; the caller (or init) is the
        // parent, as after `create`.
        super::create::create(cli, args)?;
        return super::create::start_created(&cli.root, &args.id);
    }
    let mut opts = super::container_options(args)?;
    opts.systemd_cgroup = cli.systemd_cgroup;
    opts.console_socket = args.console_socket.clone();
    let spec = super::load_spec(&opts)?;

    let forwarder = Forwarder::block()?;
    let created =
        container::create(&spec, &opts).map_err(|e| e.context(format!("container {}", opts.id)))?;
    let hooks = spec.hooks.clone().unwrap_or_default();
    if let Err(e) = hooks::run_stage(
        "poststart",
        &hooks.poststart,
        &created.hook_state.json("running"),
    ) {
        let state = created.hook_state.json("stopped");
        created.abandon();
        let _ = hooks::run_stage("poststop", &hooks.poststop, &state);
        return Err(e.context(format!("container {}", opts.id)));
    }
    let code = forwarder.wait(created.pid, &created.pidfd, "the container");
    let _ = hooks::run_stage(
        "poststop",
        &hooks.poststop,
        &created.hook_state.json("stopped"),
    )
    .map_err(|e| eprintln!("runoci: container {}: {e}", opts.id));
    if let Some(cg) = &created.cgroup {
        if let Err(e) = cg.destroy() {
            eprintln!("runoci: container {}: remove cgroup: {e}", opts.id);
        }
    }
    code
}
