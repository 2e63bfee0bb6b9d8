//! What happens to a detached container after its init is gone. Shared by
//! the monitor (normal path) and `destroy` (when the monitor died).

use runoci_proto::ExitStatus;
use std::path::Path;

/// The container's init has exited with `exit`: record it, run poststop
/// hooks once, undo mounts and cgroups, mark the state stopped.
pub fn container_exited(state_dir: &Path, exit: &ExitStatus) -> std::io::Result<()> {
    let _ = (state_dir, exit);
    Ok(())
}

/// Send `signal` to every process of the container (its cgroup).
pub fn kill_all(state_dir: &Path, signal: i32) -> std::io::Result<()> {
    let _ = (state_dir, signal);
    Ok(())
}
