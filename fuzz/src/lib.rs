//! The h5oxide fuzz targets' shared code. The target bodies live in
//! `crates/h5oxide/tests/targets/mod.rs`, which the regression test
//! (`crates/h5oxide/tests/regressions.rs`) also uses, so every saved crash is replayed through
//! the code that found it. See `fuzz/README.md`.
#![deny(unsafe_code)]

#[path = "../../crates/h5oxide/tests/targets/mod.rs"]
pub mod targets;

pub use targets::*;

/// A global allocator that turns a memory blow-up into a crash libFuzzer records: it aborts
/// (printing the size) when one allocation asks for more than [`MAX_ALLOCATION`] or the live
/// heap passes [`MAX_LIVE`]. libFuzzer's own `-malloc_limit_mb` needs a sanitizer's malloc
/// hooks, which `-s none` builds do not have.
#[allow(unsafe_code)]
mod alloc_cap {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Largest single allocation.
    pub const MAX_ALLOCATION: usize = 512 << 20;
    /// Largest live heap.
    pub const MAX_LIVE: usize = 1 << 30;

    static LIVE: AtomicUsize = AtomicUsize::new(0);

    struct Capped;

    /// Appends the decimal digits of `v` to `buf` at `*n`.
    fn put_number(v: usize, buf: &mut [u8], n: &mut usize) {
        let mut digits = [0u8; 20];
        let (mut k, mut v) = (0, v);
        loop {
            digits[k] = b'0' + (v % 10) as u8;
            k += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for &d in digits[..k].iter().rev() {
            if let Some(slot) = buf.get_mut(*n) {
                *slot = d;
                *n += 1;
            }
        }
    }

    /// Appends `s` to `buf` at `*n`.
    fn put_text(s: &[u8], buf: &mut [u8], n: &mut usize) {
        for &b in s {
            if let Some(slot) = buf.get_mut(*n) {
                *slot = b;
                *n += 1;
            }
        }
    }

    #[cold]
    fn blow_up(size: usize, live: usize) -> ! {
        // No allocation here: the message is formatted on the stack.
        let mut buf = [0u8; 128];
        let mut n = 0;
        put_text(
            b"==h5oxide-fuzz== memory blow-up: allocation of ",
            &mut buf,
            &mut n,
        );
        put_number(size, &mut buf, &mut n);
        put_text(b" bytes, live heap ", &mut buf, &mut n);
        put_number(live, &mut buf, &mut n);
        put_text(b" bytes\n", &mut buf, &mut n);
        let _ = std::io::Write::write_all(&mut std::io::stderr(), &buf[..n]);
        std::process::abort();
    }

    fn grow(size: usize) {
        let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
        if size > MAX_ALLOCATION || live > MAX_LIVE {
            blow_up(size, live);
        }
    }

    // SAFETY: every call is forwarded unchanged to the system allocator; only a counter is kept.
    unsafe impl GlobalAlloc for Capped {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            grow(layout.size());
            System.alloc(layout)
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            grow(layout.size());
            System.alloc_zeroed(layout)
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            System.dealloc(ptr, layout)
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            if new_size > layout.size() {
                grow(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
            System.realloc(ptr, layout, new_size)
        }
    }

    #[global_allocator]
    static GLOBAL: Capped = Capped;
}
