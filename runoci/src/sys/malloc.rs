//! glibc's allocator, set for a command that lives a few milliseconds.

/// Never give heap back to the kernel, nor serve large buffers from their
/// own mappings: by default glibc shrinks the heap whenever 128 KiB at its
/// top are free and maps every allocation of 128 KiB or more separately,
/// so a buffer freed and allocated again (a message buffer per receive)
/// costs a brk or munmap and then a page fault per 4 KiB on its next use;
/// `run` paid ~30% of its page faults that way. The process exits soon,
/// returning everything at once.
pub fn keep_heap() {
    // SAFETY: mallopt takes two integers and changes only allocator
    // tunables; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}
