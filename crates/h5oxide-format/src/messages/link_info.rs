//! Link Info message 0x02 (spec §IV.A.2.c): marks a new-style group and locates its dense storage.

use crate::cursor::{Cursor, UNDEF};
use crate::{Error, Result};

/// A decoded Link Info message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkInfoMessage {
    /// Link creation order is tracked (flags bit 0).
    pub creation_order_tracked: bool,
    /// Link creation order is indexed (flags bit 1).
    pub creation_order_indexed: bool,
    /// Maximum creation index used so far, when tracked.
    pub max_creation_index: Option<u64>,
    /// Fractal heap address of dense links ([`UNDEF`] when links are compact).
    pub fractal_heap_address: u64,
    /// Address of the name-index v2 B-tree (type 5) or [`UNDEF`].
    pub name_index_address: u64,
    /// Address of the creation-order-index v2 B-tree (type 6), when indexed.
    pub creation_order_index_address: Option<u64>,
}

impl LinkInfoMessage {
    /// Decodes the message body.
    pub fn decode(c: &mut Cursor<'_>) -> Result<Self> {
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                structure: "link info message",
                version: version as u32,
            });
        }
        let flags = c.u8()?;
        let max_creation_index = if flags & 1 != 0 { Some(c.u64()?) } else { None };
        let fractal_heap_address = c.offset()?;
        let name_index_address = c.offset()?;
        let creation_order_index_address = if flags & 2 != 0 {
            Some(c.offset()?)
        } else {
            None
        };
        Ok(LinkInfoMessage {
            creation_order_tracked: flags & 1 != 0,
            creation_order_indexed: flags & 2 != 0,
            max_creation_index,
            fractal_heap_address,
            name_index_address,
            creation_order_index_address,
        })
    }

    /// True when the links are stored densely (fractal heap + B-tree).
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
        let mut b = vec![0u8, 3];
        b.extend_from_slice(&9u64.to_le_bytes());
        b.extend_from_slice(&0x100u64.to_le_bytes());
        b.extend_from_slice(&0x200u64.to_le_bytes());
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        let m = LinkInfoMessage::decode(&mut Cursor::new(&b, 0, "t", Sizes::default())).unwrap();
        assert!(m.creation_order_tracked && m.creation_order_indexed && m.is_dense());
        assert_eq!(m.max_creation_index, Some(9));
        assert_eq!(m.name_index_address, 0x200);
        assert_eq!(m.creation_order_index_address, Some(UNDEF));
        let mut b = vec![0u8, 0];
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        let m = LinkInfoMessage::decode(&mut Cursor::new(&b, 0, "t", Sizes::default())).unwrap();
        assert!(!m.is_dense() && !m.creation_order_tracked);
        assert!(
            LinkInfoMessage::decode(&mut Cursor::new(&[1u8, 0], 0, "t", Sizes::default())).is_err()
        );
    }
}
