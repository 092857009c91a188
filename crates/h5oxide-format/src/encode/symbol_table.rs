//! Symbol table entries (spec §III.C) and symbol table nodes, `SNOD` (spec §III.B).
//!
//! A symbol table node is always written at its full size, `2 * GROUP_LEAF_K` entries, with the
//! unused entries zeroed, as libhdf5 reads the whole node.

use super::superblock::GROUP_LEAF_K;
use super::{Put, UNDEF};
use crate::{Error, Result};

/// Encoded size of one symbol table entry (8-byte offsets and lengths).
pub const ENTRY_SIZE: usize = 40;
/// Encoded size of a full symbol table node.
pub const SNOD_SIZE: usize = 8 + 2 * GROUP_LEAF_K as usize * ENTRY_SIZE;
/// Most entries one symbol table node holds.
pub const SNOD_CAPACITY: usize = 2 * GROUP_LEAF_K as usize;

/// What a symbol table entry caches in its scratch-pad space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryCache {
    /// Cache type 0: nothing cached.
    None,
    /// Cache type 1: the object is an old-style group; its B-tree and local heap addresses.
    Group {
        /// Address of the group's v1 B-tree root node.
        btree: u64,
        /// Address of the group's local heap.
        heap: u64,
    },
    /// Cache type 2: a soft link; the offset of its value in the group's local heap.
    SoftLink {
        /// Local heap offset of the link value.
        offset: u32,
    },
}

/// One symbol table entry: a link name (as a local heap offset) and an object header address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolTableEntry {
    /// Offset of the link name in the group's local heap (0 for the root entry).
    pub name_offset: u64,
    /// Address of the object header.
    pub header_addr: u64,
    /// Scratch-pad cache.
    pub cache: EntryCache,
}

impl SymbolTableEntry {
    /// Appends the 40-byte encoding of the entry to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.u64(self.name_offset);
        out.u64(self.header_addr);
        match self.cache {
            EntryCache::None => {
                out.u32(0);
                out.u32(0); // reserved
                out.zeros(16);
            }
            EntryCache::Group { btree, heap } => {
                out.u32(1);
                out.u32(0);
                out.u64(btree);
                out.u64(heap);
            }
            EntryCache::SoftLink { offset } => {
                out.u32(2);
                out.u32(0);
                out.u32(offset);
                out.zeros(12);
            }
        }
    }
}

impl Default for SymbolTableEntry {
    fn default() -> Self {
        SymbolTableEntry {
            name_offset: 0,
            header_addr: UNDEF,
            cache: EntryCache::None,
        }
    }
}

/// Encodes a full-size symbol table node holding `entries` (already sorted by name).
pub fn encode_snod(entries: &[SymbolTableEntry]) -> Result<Vec<u8>> {
    if entries.len() > SNOD_CAPACITY {
        return Err(Error::Invalid(format!(
            "symbol table node: {} entries exceed the capacity {SNOD_CAPACITY}",
            entries.len()
        )));
    }
    let mut b = Vec::with_capacity(SNOD_SIZE);
    b.extend_from_slice(b"SNOD");
    b.u8(1); // version
    b.u8(0); // reserved
    b.u16(entries.len() as u16);
    for e in entries {
        e.encode(&mut b);
    }
    b.zeros(SNOD_SIZE - b.len());
    Ok(b)
}

/// Encodes the body of a Symbol Table message (type 0x11, spec §IV.A.2.r).
pub fn encode_message(btree: u64, heap: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(16);
    b.u64(btree);
    b.u64(heap);
    b
}
