//! Encoders for the on-disk structures of the HDF5 file format: the inverse of the decoders.
//!
//! Two profiles (see `FORMAT-MAP.md` §3). The "compatible" profile, the structures libhdf5
//! writes with its default (earliest) format bounds, which is what h5py writes by default:
//! - superblock version 0 (spec §II.A.1) with sizes of offsets and lengths both 8,
//! - version-1 object headers (§IV.A.1.a) with 8-byte aligned messages,
//! - old-style groups: Symbol Table message (§IV.A.2.r), v1 B-tree of type 0 (§III.A.1),
//!   symbol table nodes (§III.B) and a local heap (§III.D),
//! - Dataspace v1 (§IV.A.2.b), Datatype v1 (§IV.A.2.d), Fill Value v2 (§IV.A.2.f),
//!   Data Layout v3 (§IV.A.2.i) compact, contiguous and chunked with a v1 B-tree of type 1
//!   (§III.A.1), Filter Pipeline v1 (§IV.A.2.l), Attribute v1/v3 (§IV.A.2.m), global heap
//!   collections (§III.E).
//!
//! The "latest" profile, what libhdf5 1.10–1.14 write with `libver=latest` (h5py
//! `libver="latest"`; HDF5 2.0 would use layout version 5 for filtered chunks):
//! superblock version 3 (§II.A.1), version-2 object headers (§IV.A.1.b), new-style groups with
//! Link Info, Group Info and Link messages (§IV.A.2.c/g/k, [`link`]), dense links and
//! attributes in a fractal heap (§III.G, [`fractal_heap`]) indexed by v2 B-trees (§III.A.2,
//! [`btree_v2`]), Attribute Info (§IV.A.2.v), Dataspace v2, Fill Value v3, Filter Pipeline v2
//! and Data Layout v4 with the single-chunk, fixed-array ([`fixed_array`]), extensible-array
//! ([`extensible_array`]) and v2 B-tree chunk indexes (§VII Appendix C).
//!
//! All addresses and lengths are 8 bytes wide ([`SIZE_OF_OFFSETS`], [`SIZE_OF_LENGTHS`]).
//! Encoders work on byte vectors and never perform I/O; placing the structures in a file
//! (allocation) is the caller's job.

pub mod attribute;
pub mod btree_v1;
pub mod btree_v2;
pub mod dataspace;
pub mod datatype;
pub mod extensible_array;
pub mod fill_value;
pub mod filter_pipeline;
pub mod fixed_array;
pub mod fractal_heap;
pub mod global_heap;
pub mod header_rewrite;
pub mod layout;
pub mod link;
pub mod local_heap;
pub mod object_header;
pub mod selection;
pub mod shared;
pub mod superblock;
pub mod symbol_table;
pub mod vds;

pub use crate::cursor::UNDEF;

/// Size of offsets (addresses) of every file this module writes, in bytes.
pub const SIZE_OF_OFFSETS: u8 = 8;
/// Size of lengths of every file this module writes, in bytes.
pub const SIZE_OF_LENGTHS: u8 = 8;

/// Rounds `n` up to a multiple of 8.
pub fn pad8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// Little-endian append helpers used by every encoder.
pub(crate) trait Put {
    fn u8(&mut self, v: u8);
    fn u16(&mut self, v: u16);
    fn u32(&mut self, v: u32);
    fn u64(&mut self, v: u64);
    /// Appends zero bytes until the length is a multiple of 8.
    fn align8(&mut self);
    /// Appends `n` zero bytes.
    fn zeros(&mut self, n: usize);
}

impl Put for Vec<u8> {
    fn u8(&mut self, v: u8) {
        self.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn align8(&mut self) {
        let n = pad8(self.len()) - self.len();
        self.zeros(n);
    }
    fn zeros(&mut self, n: usize) {
        self.resize(self.len() + n, 0);
    }
}

/// Converts a length to a `u16` field, or fails with [`crate::Error::Invalid`] naming `what`.
pub(crate) fn to_u16(n: usize, what: &str) -> crate::Result<u16> {
    u16::try_from(n).map_err(|_| {
        crate::Error::Invalid(format!(
            "{what}: {n} bytes does not fit a 16-bit size field"
        ))
    })
}

/// Converts a length to a `u32` field, or fails with [`crate::Error::Invalid`] naming `what`.
pub(crate) fn to_u32(n: usize, what: &str) -> crate::Result<u32> {
    u32::try_from(n)
        .map_err(|_| crate::Error::Invalid(format!("{what}: {n} does not fit a 32-bit field")))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_latest;
