//! Attribute Info message 0x15 (spec §IV.A.2.v): locates an object's dense attribute storage.

use crate::cursor::{Cursor, UNDEF};
use crate::{Error, Result};

/// A decoded Attribute Info message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeInfoMessage {
    /// Attribute creation order is tracked (flags bit 0).
    pub creation_order_tracked: bool,
    /// Attribute creation order is indexed (flags bit 1).
    pub creation_order_indexed: bool,
    /// Maximum creation index, when tracked (2 bytes on disk).
    pub max_creation_index: Option<u16>,
    /// Fractal heap address of dense attributes ([`UNDEF`] when compact).
    pub fractal_heap_address: u64,
    /// Address of the name-index v2 B-tree (type 8) or [`UNDEF`].
    pub name_index_address: u64,
    /// Address of the creation-order-index v2 B-tree (type 9), when indexed.
    pub creation_order_index_address: Option<u64>,
}

impl AttributeInfoMessage {
    /// Decodes the message body.
    pub fn decode(c: &mut Cursor<'_>) -> Result<Self> {
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                structure: "attribute info message",
                version: version as u32,
            });
        }
        let flags = c.u8()?;
        let max_creation_index = if flags & 1 != 0 { Some(c.u16()?) } else { None };
        let fractal_heap_address = c.offset()?;
        let name_index_address = c.offset()?;
        let creation_order_index_address = if flags & 2 != 0 {
            Some(c.offset()?)
        } else {
            None
        };
        Ok(AttributeInfoMessage {
            creation_order_tracked: flags & 1 != 0,
            creation_order_indexed: flags & 2 != 0,
            max_creation_index,
            fractal_heap_address,
            name_index_address,
            creation_order_index_address,
        })
    }

    /// True when attributes are stored densely.
    pub fn is_dense(&self) -> bool {
        self.fractal_heap_address != UNDEF
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Sizes;

    #[test]
    fn decode() {
        let mut b = vec![0u8, 1];
        b.extend_from_slice(&7u16.to_le_bytes());
        b.extend_from_slice(&0x100u64.to_le_bytes());
        b.extend_from_slice(&0x200u64.to_le_bytes());
        let m =
            AttributeInfoMessage::decode(&mut Cursor::new(&b, 0, "t", Sizes::default())).unwrap();
        assert!(m.creation_order_tracked && !m.creation_order_indexed && m.is_dense());
        assert_eq!(m.max_creation_index, Some(7));
        assert_eq!(m.creation_order_index_address, None);
        assert!(
            AttributeInfoMessage::decode(&mut Cursor::new(&b[..5], 0, "t", Sizes::default()))
                .is_err()
        );
    }
}
