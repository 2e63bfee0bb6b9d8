use clap::Parser;
use runoci::cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let _log = runoci::log::init(&runoci::log::LogConfig {
        file: cli.log.clone(),
        format: cli.log_format,
        debug: cli.debug,
    });
    let result = match &cli.command {
        Command::Run(args) => runoci::commands::run::run(&cli, args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("runoci: {e}");
            std::process::exit(1);
        }
    }
}
