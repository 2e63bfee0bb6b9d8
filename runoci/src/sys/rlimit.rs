//! setrlimit(2) by the raw resource number the spec's rlimit table gives
//! (nix's `Resource` cannot be made from one).

pub fn set(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> std::io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: the kernel only reads `lim`, which outlives the call.
    super::check(unsafe { libc::setrlimit(resource, &lim) }.into())?;
    Ok(())
}
