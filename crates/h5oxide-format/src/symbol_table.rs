//! Symbol table entries (spec §III.C) and symbol table nodes `SNOD` (§III.B).

use crate::cursor::Cursor;
use crate::source::Ctx;
use crate::{Error, Result};

/// A symbol table entry: a link name (local heap offset) and its target, with the scratch pad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolTableEntry {
    /// Offset of the link name in the group's local heap.
    pub link_name_offset: u64,
    /// Address of the object header ([`crate::UNDEF`] for a soft link).
    pub object_header_address: u64,
    /// Cache type: 0 nothing cached, 1 group B-tree and heap, 2 soft link.
    pub cache_type: u32,
    /// Scratch pad contents.
    pub scratch: Scratch,
}

/// The scratch-pad space of a symbol table entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scratch {
    /// Cache type 0 (or unknown).
    None,
    /// Cache type 1: the group's v1 B-tree and local heap addresses.
    Group {
        /// v1 B-tree address.
        btree_address: u64,
        /// Local heap address.
        heap_address: u64,
    },
    /// Cache type 2: offset of the soft link value in the local heap.
    SoftLink {
        /// Local heap offset of the link value.
        offset: u32,
    },
}

impl SymbolTableEntry {
    /// Size of an entry in bytes for the given sizes (L + O + 24).
    pub fn encoded_size(sizes: crate::Sizes) -> usize {
        sizes.length as usize + sizes.offset as usize + 24
    }

    /// Decodes one entry.
    pub fn decode(c: &mut Cursor<'_>) -> Result<Self> {
        let link_name_offset = c.length()?;
        let object_header_address = c.offset()?;
        let cache_type = c.u32()?;
        c.skip(4)?;
        let scratch_bytes = c.bytes(16)?;
        let mut s = Cursor::new(
            scratch_bytes,
            c.addr(),
            "symbol table entry scratch pad",
            c.sizes(),
        );
        let scratch = match cache_type {
            1 => Scratch::Group {
                btree_address: s.offset()?,
                heap_address: s.offset()?,
            },
            2 => Scratch::SoftLink { offset: s.u32()? },
            _ => Scratch::None,
        };
        Ok(SymbolTableEntry {
            link_name_offset,
            object_header_address,
            cache_type,
            scratch,
        })
    }
}

/// A symbol table node `SNOD` (spec §III.B): the entries of one leaf of a group's v1 B-tree,
/// sorted by name. Only the used entries are read (the node is allocated for 2 × leaf K).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolTableNode {
    /// Address of the node.
    pub addr: u64,
    /// The used entries, in name order.
    pub entries: Vec<SymbolTableEntry>,
}

impl SymbolTableNode {
    /// Reads the node at `addr`.
    pub fn read(ctx: &Ctx<'_>, addr: u64) -> Result<SymbolTableNode> {
        const S: &str = "symbol table node";
        let head = ctx.read(addr, 8, S)?;
        let mut c = ctx.cursor(&head, addr, S);
        c.signature(b"SNOD")?;
        let version = c.u8()?;
        if version != 1 {
            return Err(Error::UnsupportedVersion {
                structure: S,
                version: version as u32,
            });
        }
        c.skip(1)?;
        let n = c.u16()? as u64;
        if ctx.group_leaf_k != 0 && n > 2 * ctx.group_leaf_k as u64 {
            return Err(c.corrupt(format!(
                "{n} entries in a node of at most {}",
                2 * ctx.group_leaf_k as u64
            )));
        }
        let es = SymbolTableEntry::encoded_size(ctx.sizes) as u64;
        let body_addr = addr
            .checked_add(8)
            .ok_or_else(|| Error::corrupt(S, addr, "address overflows"))?;
        let body = ctx.read(body_addr, n * es, S)?;
        let mut c = ctx.cursor(&body, body_addr, S);
        let mut entries = Vec::with_capacity(n as usize);
        for _ in 0..n {
            entries.push(SymbolTableEntry::decode(&mut c)?);
        }
        Ok(SymbolTableNode { addr, entries })
    }
}
