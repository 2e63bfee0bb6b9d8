//! `runoci-gen OUT_DIR`: writes runoci's man pages and shell completions,
//! generated from the clap definitions in `runoci/src/cli.rs` (the single
//! source of the command line), for `packaging/build-deb.sh`:
//!
//! - `OUT_DIR/man/runoci.8` and `runoci-COMMAND.8` for each command;
//! - `OUT_DIR/completions/runoci.bash`, `_runoci` (zsh), `runoci.fish`.

use clap::CommandFactory;
use clap_complete::Shell;
use std::path::{Path, PathBuf};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, out] = args.as_slice() else {
        eprintln!("usage: runoci-gen OUT_DIR");
        std::process::exit(2);
    };
    if let Err(e) = generate(Path::new(out)) {
        eprintln!("runoci-gen: {e}");
        std::process::exit(1);
    }
}

fn generate(out: &Path) -> std::io::Result<()> {
    let man = out.join("man");
    let comp = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&comp)?;
    for path in man_pages(&man)? {
        println!("{}", path.display());
    }
    for (shell, name) in [
        (Shell::Bash, "runoci.bash"),
        (Shell::Zsh, "_runoci"),
        (Shell::Fish, "runoci.fish"),
    ] {
        let mut cmd = runoci::cli::Cli::command();
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cmd, "runoci", &mut buf);
        let path = comp.join(name);
        std::fs::write(&path, buf)?;
        println!("{}", path.display());
    }
    Ok(())
}

/// runoci(8) and one page per command, runoci-COMMAND(8).
fn man_pages(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut cmd = runoci::cli::Cli::command();
    cmd.build();
    let mut written = Vec::new();
    let mut write = |c: clap::Command, file: String| -> std::io::Result<()> {
        let mut buf = Vec::new();
        clap_mangen::Man::new(c)
            .section("8")
            .manual("System Administration")
            .source(format!("runoci {}", env!("CARGO_PKG_VERSION")))
            .render(&mut buf)?;
        let path = dir.join(file);
        std::fs::write(&path, buf)?;
        written.push(path);
        Ok(())
    };
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("runoci-{}", sub.get_name());
        // After build(), a subcommand's display name is "runoci-run" and
        // its bin name "runoci run": the page's title and its synopsis.
        write(sub.clone(), format!("{name}.8"))?;
    }
    write(cmd, "runoci.8".to_string())?;
    Ok(written)
}
