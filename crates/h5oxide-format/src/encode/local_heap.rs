//! Local heaps, `HEAP` (spec §III.D), as used by old-style groups for link names.
//!
//! The data segment starts with the empty string at offset 0; every name is NUL-terminated and
//! padded to a multiple of 8. Like libhdf5, a small heap gets a data segment of at least 88
//! bytes with the spare room as one free block; a heap without free space has a free-list head
//! of 1 (libhdf5's "no free block" value, not the undefined address — `FORMAT-MAP.md` §5).

use super::{pad8, Put};
use crate::{Error, Result};

/// Encoded size of a local heap header (8-byte offsets and lengths).
pub const HEADER_SIZE: usize = 32;
/// Free-list head of a heap without free blocks, as libhdf5 writes it.
pub const FREE_LIST_EMPTY: u64 = 1;
/// Smallest data segment written (libhdf5's default for a new group).
pub const MIN_DATA_SIZE: usize = 88;

/// A local heap being filled with names.
#[derive(Debug, Clone)]
pub struct LocalHeapBuilder {
    data: Vec<u8>,
}

impl Default for LocalHeapBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalHeapBuilder {
    /// A heap holding only the empty string at offset 0.
    pub fn new() -> Self {
        LocalHeapBuilder { data: vec![0; 8] }
    }

    /// Adds `name` (without terminator; must not contain NUL) and returns its offset.
    pub fn add(&mut self, name: &[u8]) -> Result<u64> {
        if name.contains(&0) {
            return Err(Error::Invalid("a name must not contain a NUL byte".into()));
        }
        let off = self.data.len() as u64;
        self.data.extend_from_slice(name);
        self.data.push(0);
        self.data.align8();
        Ok(off)
    }

    /// Bytes used by names so far.
    pub fn used(&self) -> usize {
        self.data.len()
    }

    /// Total encoded size: header followed by the data segment.
    pub fn encoded_size(&self) -> usize {
        HEADER_SIZE + self.data_size()
    }

    fn data_size(&self) -> usize {
        let used = pad8(self.data.len());
        if used + 16 <= MIN_DATA_SIZE {
            MIN_DATA_SIZE
        } else {
            used
        }
    }

    /// Encodes header and data segment, the data segment right after the header; `addr` is the
    /// address the heap header will be written at.
    pub fn encode(&self, addr: u64) -> Vec<u8> {
        self.encode_sized(addr, self.data_size())
    }

    /// [`LocalHeapBuilder::encode`] with a data segment of exactly the names (no free block),
    /// as libhdf5 writes the heap of an external file list.
    pub fn encode_exact(&self, addr: u64) -> Vec<u8> {
        self.encode_sized(addr, pad8(self.data.len()))
    }

    fn encode_sized(&self, addr: u64, size: usize) -> Vec<u8> {
        let used = pad8(self.data.len());
        let mut b = Vec::with_capacity(HEADER_SIZE + size);
        b.extend_from_slice(b"HEAP");
        b.u8(0); // version
        b.zeros(3);
        b.u64(size as u64);
        b.u64(if size > used {
            used as u64
        } else {
            FREE_LIST_EMPTY
        });
        b.u64(addr + HEADER_SIZE as u64);
        b.extend_from_slice(&self.data);
        b.align8();
        if size > used {
            b.u64(FREE_LIST_EMPTY); // next free block: none
            b.u64((size - used) as u64);
            b.zeros(size - used - 16);
        }
        b
    }
}
