//! A plain user with subordinate ids, and sessions of it, for the rootless
//! tests: what a user logged in with pam_systemd has, without loginctl.
//!
//! - [`plain_user`]: the user [`USER`], made once per machine (`useradd`,
//!   plus `/etc/subuid` and `/etc/subgid` ranges when useradd gave none),
//!   under a lock shared by every test process;
//! - [`Session`]: a HOME and an XDG_RUNTIME_DIR of the user's own (0700)
//!   under a new test directory, commands run as the user (`setpriv`,
//!   a clean environment), and on drop the rootless podman pause process
//!   (if one was started) killed and the directory removed;
//! - [`RootlessPodman`]: rootless podman in a session, with its storage
//!   under the session's directory (`--root`/`--runroot`, vfs), the busybox
//!   image imported, any runtime (`--runtime`) per call.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::engines::{busybox_tarball, ENGINE_TIMEOUT, PODMAN_ULIMITS};
use crate::{run_command, test_dir, unique_id, unmount_under, Output};

/// The plain user of the rootless tests.
pub const USER: &str = "runoci-rootless";

/// Subordinate ids given when useradd gave none.
const SUB_IDS: &str = "400000-465535";

#[derive(Debug)]
pub struct PlainUser {
    pub uid: u32,
    pub gid: u32,
}

fn lookup() -> Option<PlainUser> {
    let u = nix::unistd::User::from_name(USER).ok()??;
    Some(PlainUser {
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
    })
}

fn has_sub_ids(file: &str) -> bool {
    fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with(&format!("{USER}:")))
}

/// [`USER`], made if missing (see the module doc).
pub fn plain_user() -> &'static PlainUser {
    static USER_ONCE: OnceLock<PlainUser> = OnceLock::new();
    USER_ONCE.get_or_init(|| {
        let lock_path = test_dir().join(".rootless-user.lock");
        let lock = fs::File::create(&lock_path)
            .unwrap_or_else(|e| panic!("create {}: {e}", lock_path.display()));
        let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .unwrap_or_else(|(_, e)| panic!("lock {}: {e}", lock_path.display()));
        if lookup().is_none() {
            let mut c = Command::new("useradd");
            c.args(["--create-home", "--user-group", "--shell", "/bin/sh", USER]);
            run_command(&mut c, b"", ENGINE_TIMEOUT).assert_ok();
        }
        if !has_sub_ids("/etc/subuid") || !has_sub_ids("/etc/subgid") {
            let mut c = Command::new("usermod");
            c.args(["--add-subuids", SUB_IDS, "--add-subgids", SUB_IDS, USER]);
            run_command(&mut c, b"", ENGINE_TIMEOUT).assert_ok();
        }
        lookup().unwrap_or_else(|| panic!("user {USER} missing after useradd"))
    })
}

/// A login session of [`plain_user`] (see the module doc).
#[derive(Debug)]
pub struct Session {
    /// Owned by root (0755): what the test puts here the user can read.
    pub dir: PathBuf,
    pub home: PathBuf,
    pub xdg_runtime_dir: PathBuf,
    pub user: &'static PlainUser,
}

impl Session {
    pub fn new(name: &str) -> Session {
        let user = plain_user();
        let dir = test_dir().join(unique_id(name));
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let s = Session {
            home: dir.join("home"),
            xdg_runtime_dir: dir.join("xdg"),
            dir,
            user,
        };
        s.user_dir(&s.home);
        s.user_dir(&s.xdg_runtime_dir);
        s
    }

    /// A 0700 directory owned by the user.
    pub fn user_dir(&self, path: &Path) {
        fs::create_dir_all(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        std::os::unix::fs::chown(path, Some(self.user.uid), Some(self.user.gid)).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o700)).unwrap();
    }

    /// `program args...` as the user: its uid, gid and groups, a clean
    /// environment with HOME, USER, PATH and XDG_RUNTIME_DIR, cwd HOME.
    pub fn cmd<S: AsRef<std::ffi::OsStr>>(&self, program: impl AsRef<Path>, args: &[S]) -> Command {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            &self.user.uid.to_string(),
            "--regid",
            &self.user.gid.to_string(),
            "--init-groups",
            "--",
        ])
        .arg(program.as_ref())
        .args(args)
        .env_clear()
        .env("HOME", &self.home)
        .env("USER", USER)
        .env("LOGNAME", USER)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("XDG_RUNTIME_DIR", &self.xdg_runtime_dir)
        .current_dir(&self.home);
        c
    }

    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, program: impl AsRef<Path>, args: &[S]) -> Output {
        run_command(&mut self.cmd(program, args), b"", ENGINE_TIMEOUT)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Rootless podman keeps its user namespace alive with a pause
        // process of its own, named in this file; it outlives every
        // podman command of the session.
        let pause = self.xdg_runtime_dir.join("libpod/tmp/pause.pid");
        if let Some(pid) = fs::read_to_string(&pause)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        unmount_under(&self.dir);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Rootless podman in a [`Session`] (see the module doc).
#[derive(Debug)]
pub struct RootlessPodman {
    pub image: String,
    pub session: Session,
}

impl RootlessPodman {
    pub fn new(name: &str) -> RootlessPodman {
        let session = Session::new(name);
        session.user_dir(&session.dir.join("storage"));
        let p = RootlessPodman {
            image: format!("localhost/{}", unique_id("rl-bb")),
            session,
        };
        let tar = p.session.dir.join("busybox.tar");
        busybox_tarball(&tar);
        fs::set_permissions(&tar, fs::Permissions::from_mode(0o644)).unwrap();
        let tar = tar.display().to_string();
        p.run(
            Path::new("/usr/bin/crun"),
            &[
                "import",
                "--change",
                "ENV=PATH=/bin:/usr/bin:/sbin",
                &tar,
                &p.image,
            ],
        )
        .assert_ok();
        p
    }

    /// `podman --runtime RUNTIME <private storage> <args>` as the user.
    pub fn run(&self, runtime: &Path, args: &[&str]) -> Output {
        let storage = self.session.dir.join("storage");
        let mut all: Vec<String> = vec![
            "--runtime".into(),
            runtime.display().to_string(),
            "--root".into(),
            storage.join("root").display().to_string(),
            "--runroot".into(),
            storage.join("run").display().to_string(),
            "--storage-driver".into(),
            "vfs".into(),
            "--cgroup-manager".into(),
            "cgroupfs".into(),
            "--events-backend".into(),
            "file".into(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        self.session.run("podman", &all)
    }

    /// `podman run --rm --net none <ulimits> <opts...> IMAGE <cmd...>`.
    pub fn run_rm(&self, runtime: &Path, opts: &[&str], cmd: &[&str]) -> Output {
        let mut args: Vec<&str> = vec!["run", "--rm", "--net", "none"];
        args.extend(PODMAN_ULIMITS);
        args.extend(opts);
        args.push(&self.image);
        args.extend(cmd);
        self.run(runtime, &args)
    }
}

impl Drop for RootlessPodman {
    fn drop(&mut self) {
        // Containers of either runtime: each is removed by the runtime
        // that made it (podman remembers it).
        let out = self.run(
            Path::new("/usr/bin/crun"),
            &["rm", "--all", "--force", "-t", "0"],
        );
        if !out.success() {
            eprintln!("runoci-tests: rootless podman rm --all failed\n{out}");
        }
    }
}
