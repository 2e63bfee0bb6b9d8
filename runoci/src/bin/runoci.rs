use clap::Parser;
use runoci::cli::{Cli, Command};
use runoci::commands;
use runoci::error::{Context, Result};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

fn main() {
    runoci::sys::malloc::keep_heap();
    let mut cli = Cli::parse();
    let _log = runoci::log::init(&runoci::log::LogConfig {
        file: cli.log.clone(),
        format: cli.log_format,
        debug: cli.debug,
        log_dir: cli.log_dir.is_some(),
    });
    runoci::debug!("runoci {:?}", std::env::args().collect::<Vec<_>>());
    match cli.resolve_root().and_then(|()| dispatch(&cli)) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("runoci: {e}");
            if runoci::log::is_syslog() {
                runoci::log::emit_error(format_args!("{e}"));
            }
            if let Some(log) = &cli.log {
                log_error_line(log, cli.log_format, &e.to_string());
            }
            std::process::exit(1);
        }
    }
}

/// Engines read the last error from `--log`: make sure it is there.
fn log_error_line(path: &Path, format: runoci::log::LogFormat, msg: &str) {
    use std::io::Write;
    let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    else {
        return;
    };
    let line = match format {
        runoci::log::LogFormat::Json => serde_json::json!({
            "level": "error", "msg": msg, "time": runoci::log::rfc3339_now()
        })
        .to_string(),
        runoci::log::LogFormat::Text => format!("{} error: {msg}", runoci::log::rfc3339_now()),
    };
    let _ = writeln!(f, "{line}");
}

fn dispatch(cli: &Cli) -> Result<i32> {
    if matches!(
        cli.command,
        Command::State(_)
            | Command::List(_)
            | Command::Features
            | Command::Ps(_)
            | Command::Events(_)
            | Command::Check(_)
    ) {
        // Commands that only print: `runoci state ID | head -1` ends them
        // quietly, as any Unix filter. (Commands that run hooks keep
        // SIGPIPE ignored: a hook that does not read its stdin must not
        // kill us.)
        runoci_core::sys::signal::set_default(libc::SIGPIPE);
    }
    match &cli.command {
        Command::Run(args) => {
            if let Some(dir) = &cli.log_dir {
                let file = log_file_for(dir, &args.id)?;
                redirect_output(&file)?;
            }
            commands::run::run(cli, args)
        }
        Command::Create(args) => commands::create::create(cli, args),
        Command::Start(args) if runoci_core::state::StateDir::exists(&cli.root, &args.id) => {
            commands::create::start_created(&cli.root, &args.id)
        }
        Command::Start(args) => {
            let log_file = match &cli.log_dir {
                Some(dir) => {
                    let f = log_file_for(dir, &args.id)?;
                    redirect_output(&f)?;
                    Some(f)
                }
                None => None,
            };
            commands::start::start_new(cli, args, log_file.as_deref())
        }
        Command::Kill(a) => {
            restore_log_redirection(&cli.root, &a.id);
            let name = a
                .signal_opt
                .as_deref()
                .or(a.signal.as_deref())
                .unwrap_or("TERM");
            let sig = commands::kill::parse_signal(name)?;
            commands::kill::kill(&cli.root, &a.id, sig, a.all).map(|_| 0)
        }
        Command::Destroy(a) => {
            restore_log_redirection(&cli.root, &a.id);
            commands::destroy::destroy(&cli.root, &a.id, a.force).map(|_| 0)
        }
        Command::Exec(a) => commands::exec::exec(cli, a),
        Command::Pause(a) => commands::resources::pause(&cli.root, &a.id),
        Command::Resume(a) => commands::resources::resume(&cli.root, &a.id),
        Command::Update(a) => commands::resources::update(&cli.root, a),
        Command::Events(a) if a.stats => commands::resources::stats(&cli.root, &a.id),
        Command::Events(a) => commands::monitor_client::follow_events(&cli.root, &a.id),
        Command::Features => commands::features::features(),
        Command::State(a) => commands::state::print_state(&cli.root, &a.id),
        Command::List(a) => commands::state::list(&cli.root, a.format == "json", a.quiet),
        Command::Ps(a) => commands::ps::ps(&cli.root, a),
        Command::Spec(a) => {
            commands::spec::spec(a.bundle.as_deref().unwrap_or(Path::new(".")), a.rootless)
        }
        Command::Check(a) => commands::check::check(&a.format),
        Command::Checkpoint(a) => commands::checkpoint::checkpoint(&cli.root, a),
        Command::Restore(a) => commands::restore::restore(cli, a),
    }
}

/// run_oci's log file: `<dir>/<id>.<time>`; the directory is made 0755.
fn log_file_for(dir: &Path, id: &str) -> Result<PathBuf> {
    runoci_core::ids::validate(id)?;
    let dir = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir().ctx("getcwd")?.join(dir)
    };
    if !dir.is_dir() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o755)
            .create(&dir)
            .with_ctx(|| format!("create log directory {}", dir.display()))?;
    }
    let stamp = runoci::log::rfc3339_now().replace(':', "");
    Ok(dir.join(format!("{id}.{stamp}")))
}

/// Send our stdout and stderr (and so hooks' and the container's) to `file`.
fn redirect_output(file: &Path) -> Result<()> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .with_ctx(|| format!("open log {}", file.display()))?;
    nix::unistd::dup2(f.as_raw_fd(), 1).ctx("redirect stdout")?;
    nix::unistd::dup2(f.as_raw_fd(), 2).ctx("redirect stderr")?;
    Ok(())
}

/// The reference's RestoreLogRedirection: later commands on a container
/// started with --log_dir log to the same file.
fn restore_log_redirection(root: &Path, id: &str) {
    if runoci_core::ids::validate(id).is_err() {
        return;
    }
    let link = root.join(id).join(runoci_core::state::LOG_LINK);
    if link.exists() {
        let _ = redirect_output(&link);
    }
}
