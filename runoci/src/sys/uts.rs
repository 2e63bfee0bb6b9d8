//! setdomainname(2) (nix wraps sethostname only).

pub fn set_domainname(name: &[u8]) -> std::io::Result<()> {
    // SAFETY: the kernel reads `name.len()` bytes from `name`.
    super::check(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) }.into())?;
    Ok(())
}
