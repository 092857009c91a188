//! Symbol Table message 0x11 (spec §IV.A.2.r): marks an old-style group.

use crate::cursor::Cursor;
use crate::Result;

/// The v1 B-tree and local heap of an old-style group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolTableMessage {
    /// Address of the group's v1 B-tree (node type 0).
    pub btree_address: u64,
    /// Address of the group's local heap.
    pub heap_address: u64,
}

impl SymbolTableMessage {
    /// Decodes the message body.
    pub fn decode(c: &mut Cursor<'_>) -> Result<Self> {
        Ok(SymbolTableMessage {
            btree_address: c.offset()?,
            heap_address: c.offset()?,
        })
    }
}
