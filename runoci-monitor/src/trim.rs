//! Give back the pages the monitor touched while it started and served its
//! last requests: code and read-only data, free heap, and the stack below
//! the event loop.
//!
//! The monitor lives as long as its container and spends that life blocked
//! in epoll_wait. The text and read-only pages of the binary it mapped on
//! the way (the kernel maps 64 KiB around each fault) stay in its resident
//! set for nothing. Once idle, it drops them from its page tables with
//! MADV_DONTNEED; the few it needs again fault back in from the page cache.
//! Only file-backed, never-written (no anonymous page in smaps),
//! non-writable private mappings are touched: for those, DONTNEED means
//! "re-read from the file", which is the same content. Relocated read-only
//! data (RELRO) has anonymous pages and is left alone. Free heap pages go
//! back to the kernel as well (`malloc_trim`), and so do the stack pages
//! that start-up's deepest calls (parsing, formatting) dirtied below the
//! loop's frames.

/// Clean file mappings: the binary's text and read-only data, two for a
/// static binary. More are left resident, never an error.
const MAX_RANGES: usize = 16;

pub fn drop_clean_file_pages() {
    let mut ranges = [(0usize, 0usize); MAX_RANGES];
    let (n, stack_lo) = clean_file_mappings(&mut ranges);
    // The heap keeps what start-up, the smaps text just read and the last
    // requests freed: give the free pages back too.
    crate::sys::release_free_heap();
    // Last, and with no other work in between: whatever code runs after a
    // mapping is dropped faults its 64 KiB windows back in.
    if let Some(lo) = stack_lo {
        crate::sys::drop_stack_below_caller(lo);
    }
    for &(lo, hi) in &ranges[..n] {
        crate::sys::drop_clean_pages(lo, hi - lo);
    }
}

/// Fills `out` with the clean file mappings (see the module's comment) and
/// returns how many, and where the main thread's stack mapping starts.
/// Not inlined: its locals would deepen the frame from which the stack
/// below is dropped, keeping a page more of it.
#[inline(never)]
fn clean_file_mappings(out: &mut [(usize, usize); MAX_RANGES]) -> (usize, Option<usize>) {
    use std::io::BufRead;
    let mut n = 0;
    let mut stack_lo = None;
    // Read a line at a time: the whole text (~1 kB per mapping) would grow
    // the heap for good.
    let Ok(file) = std::fs::File::open("/proc/self/smaps") else {
        return (0, None);
    };
    let mut smaps = std::io::BufReader::with_capacity(1024, file);
    let mut line = String::with_capacity(256);
    let mut current: Option<(usize, usize, bool)> = None;
    loop {
        line.clear();
        match smaps.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = line.trim_end();
        if let Some((range, rest)) = line.split_once(' ') {
            if let Some((lo, hi)) = range.split_once('-') {
                if let (Ok(lo), Ok(hi)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                {
                    let mut f = rest.split_whitespace();
                    let perms = f.next().unwrap_or("");
                    let inode = f.nth(2).unwrap_or("0");
                    if f.next() == Some("[stack]") {
                        stack_lo = Some(lo);
                    }
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
                if kb.trim().trim_end_matches("kB").trim() == "0" && n < MAX_RANGES {
                    out[n] = (lo, hi);
                    n += 1;
                }
            }
            current = None;
        }
    }
    (n, stack_lo)
}
