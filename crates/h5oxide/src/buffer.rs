//! Output buffers for whole-dataset reads.
//!
//! A large read lands in a fresh buffer that the kernel maps page by page as the data arrives.
//! With 4 KiB pages, a 1 GiB read takes 262,144 page faults, which cost more than copying the
//! bytes. NumPy asks for transparent huge pages on its large arrays (`madvise(MADV_HUGEPAGE)`,
//! effective where THP is in the default `madvise` mode), so h5py's `ds[:]` pays 512 times fewer
//! faults; [`zeroed`] gives our buffers the same advice. It is the one `unsafe` call of this
//! module, a plain system call on memory the buffer owns.

/// Buffers smaller than this are left alone (the advice only pays for whole 2 MiB pages).
const MIN_ADVISED: usize = 8 << 20;

/// Size of an x86-64 / AArch64 transparent huge page.
const HUGE_PAGE: usize = 2 << 20;

/// `n` elements of `T::default()`. For the primitive element types the allocation comes from
/// `calloc` (untouched, zero pages); a large one is advised to use huge pages before anything
/// touches it.
pub(crate) fn zeroed<T: Clone + Default>(n: usize) -> Vec<T> {
    let mut v = vec![T::default(); n];
    advise_huge_pages(&mut v);
    v
}

/// An empty `Vec` with room for `n` bytes; a large one is advised to use huge pages before
/// anything is written into it (for buffers filled by pushing, like encoded element bytes).
pub(crate) fn with_capacity(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n);
    advise_huge_pages(v.spare_capacity_mut());
    v
}

/// Asks the kernel to back the 2 MiB-aligned interior of `buf` with transparent huge pages.
/// Only a hint: errors (no THP, other kernels) are ignored, contents never change.
#[cfg(target_os = "linux")]
fn advise_huge_pages<T>(buf: &mut [T]) {
    let bytes = std::mem::size_of_val(buf);
    if bytes < MIN_ADVISED {
        return;
    }
    let start = buf.as_mut_ptr() as usize;
    let Some(first) = start
        .checked_add(HUGE_PAGE - 1)
        .map(|a| a & !(HUGE_PAGE - 1))
    else {
        return;
    };
    let end = (start + bytes) & !(HUGE_PAGE - 1);
    if end <= first {
        return;
    }
    // SAFETY: [first, end) lies inside `buf`, which is borrowed mutably here, so the range is
    // mapped memory this process owns. MADV_HUGEPAGE only changes how the kernel backs the pages
    // (it never changes or discards their contents), so no Rust value is affected.
    unsafe {
        libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages<T>(_buf: &mut [T]) {}

#[cfg(test)]
mod tests {
    #[test]
    fn zeroed_buffers_are_zero() {
        let v: Vec<f64> = super::zeroed(3 << 20);
        assert_eq!(v.len(), 3 << 20);
        assert!(v.iter().all(|&x| x == 0.0));
        let b: Vec<u8> = super::zeroed(17);
        assert_eq!(b, vec![0u8; 17]);
        let mut c = super::with_capacity(20 << 20);
        assert!(c.is_empty() && c.capacity() >= 20 << 20);
        c.extend_from_slice(&[7; 100]);
        assert_eq!(c[99], 7);
    }
}
