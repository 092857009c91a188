//! Superblock versions 0 and 3 (spec §II.A.1, "Superblock Format – Versions 0 and 1" and
//! "Versions 2 and 3").
//!
//! Written as libhdf5 does with default properties: sizes of offsets and lengths 8, group leaf
//! node K 4, group internal node K 16, consistency flags 0, base address 0, free-space and
//! driver-information addresses undefined, and the root group's symbol table entry (with cache
//! type 1 for an old-style root group). The End of File Address is the absolute end of the last
//! allocated byte.

use super::symbol_table::SymbolTableEntry;
use super::{Put, SIZE_OF_LENGTHS, SIZE_OF_OFFSETS, UNDEF};

/// The format signature at the start of every HDF5 file.
pub const SIGNATURE: [u8; 8] = [0x89, b'H', b'D', b'F', b'\r', b'\n', 0x1a, b'\n'];
/// Group leaf node K: a symbol table node holds up to `2 * GROUP_LEAF_K` entries.
pub const GROUP_LEAF_K: u16 = 4;
/// Group internal node K: a group B-tree node has up to `2 * GROUP_INTERNAL_K` children.
pub const GROUP_INTERNAL_K: u16 = 16;
/// Encoded size of a version-0 superblock with 8-byte offsets and lengths.
pub const SUPERBLOCK_V0_SIZE: usize = 96;

/// Encodes a version-0 superblock whose root group is `root` and whose end-of-file address is
/// `eof` (absolute, base address 0).
pub fn encode_v0(root: &SymbolTableEntry, eof: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(SUPERBLOCK_V0_SIZE);
    b.extend_from_slice(&SIGNATURE);
    b.u8(0); // superblock version
    b.u8(0); // free-space storage version
    b.u8(0); // root group symbol table entry version
    b.u8(0); // reserved
    b.u8(0); // shared header message format version
    b.u8(SIZE_OF_OFFSETS);
    b.u8(SIZE_OF_LENGTHS);
    b.u8(0); // reserved
    b.u16(GROUP_LEAF_K);
    b.u16(GROUP_INTERNAL_K);
    b.u32(0); // file consistency flags
    b.u64(0); // base address
    b.u64(UNDEF); // free-space info (address of global free-space index)
    b.u64(eof);
    b.u64(UNDEF); // driver information block
    root.encode(&mut b);
    b
}

/// Encoded size of a version-3 superblock with 8-byte offsets and lengths.
pub const SUPERBLOCK_V3_SIZE: usize = 48;

/// Encodes a version-3 superblock (what libhdf5 writes with `libver=latest`): sizes of offsets
/// and lengths 8, file consistency flags 0 (the file is not left marked open for writing), base
/// address 0, no superblock extension, end-of-file address `eof`, the root group's object
/// header at `root_header`, and the lookup3 checksum.
pub fn encode_v3(root_header: u64, eof: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(SUPERBLOCK_V3_SIZE);
    b.extend_from_slice(&SIGNATURE);
    b.u8(3); // superblock version
    b.u8(SIZE_OF_OFFSETS);
    b.u8(SIZE_OF_LENGTHS);
    b.u8(0); // file consistency flags
    b.u64(0); // base address
    b.u64(UNDEF); // superblock extension address
    b.u64(eof);
    b.u64(root_header);
    let sum = crate::checksum::lookup3(&b, 0);
    b.u32(sum);
    b
}
