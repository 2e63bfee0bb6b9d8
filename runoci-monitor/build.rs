//! Link options of the monitor binary (see tests/bench/README.md, "The
//! monitor's memory").

fn main() {
    // Each loadable segment starts on a page of its own. By default lld
    // starts the RW segments mid-page, right after the end of the text,
    // so the relocated RELRO (0x6db8 bytes) spanned 8 pages and .data
    // (0x2b90 bytes) 4; page-aligned they take 7 and 3. The static-pie
    // start-up writes every one of those pages (relocations), so each is
    // a private page of every monitor for its container's whole life.
    // The cost is file padding only.
    println!("cargo:rustc-link-arg-bin=runoci-monitor=-Wl,-z,separate-loadable-segments");
}
