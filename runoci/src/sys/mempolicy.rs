//! set_mempolicy(2), which libc and nix do not wrap.

/// Sets the calling thread's NUMA memory policy: `mode` (with `MPOL_F_*`
/// flags or'ed in) over the nodes of `nodes`, bit `n` of word `n / 64` for
/// node `n` (empty: no nodes).
pub fn set_own(mode: i32, nodes: &[u64]) -> std::io::Result<()> {
    let (ptr, maxnode) = if nodes.is_empty() {
        (std::ptr::null(), 0)
    } else {
        // The kernel reads maxnode - 1 bits (an off-by-one it keeps for
        // compatibility): one more than the mask holds.
        (nodes.as_ptr(), nodes.len() as libc::c_ulong * 64 + 1)
    };
    // SAFETY: the kernel reads at most maxnode - 1 bits from `ptr`, all
    // within `nodes`; a null mask with maxnode 0 is "no nodes".
    super::check(unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) })?;
    Ok(())
}
