//! Give back the pages of code and read-only data the monitor touched while
//! it started and served its last requests.
//!
//! The monitor lives as long as its container and spends that life blocked
//! in epoll_wait. The text and read-only pages of the binary and of libc it
//! mapped on the way (the kernel maps 64 KiB around each fault) stay in its
//! resident set for nothing. Once idle, it drops them from its page tables
//! with MADV_DONTNEED; the few it needs again fault back in from the page
//! cache. Only file-backed, never-written (no anonymous page in smaps),
//! non-writable private mappings are touched: for those, DONTNEED means
//! "re-read from the file", which is the same content. Relocated read-only
//! data (RELRO) has anonymous pages and is left alone.

pub fn drop_clean_file_pages() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut current: Option<(usize, usize, bool)> = None;
    for line in smaps.lines() {
        if let Some((range, rest)) = line.split_once(' ') {
            if let Some((lo, hi)) = range.split_once('-') {
                if let (Ok(lo), Ok(hi)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                {
                    let f: Vec<&str> = rest.split_whitespace().collect();
                    let perms = f.first().copied().unwrap_or("");
                    let inode = f.get(3).copied().unwrap_or("0");
                    let eligible = perms.starts_with('r')
                        && !perms.contains('w')
                        && perms.ends_with('p')
                        && inode != "0";
                    current = Some((lo, hi, eligible));
                    continue;
                }
            }
        }
        if let Some(kb) = line.strip_prefix("Anonymous:") {
            if let Some((lo, hi, true)) = current {
                if kb.trim().trim_end_matches("kB").trim() == "0" {
                    // SAFETY: a whole mapping of ours, clean and read-only
                    // (checked above): DONTNEED only drops its page table
                    // entries; later accesses refault the same file data.
                    unsafe { libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_DONTNEED) };
                }
            }
            current = None;
        }
    }
}
