//! Group Info message 0x0A (spec §IV.A.2.k): compact/dense thresholds of a new-style group.

use crate::cursor::Cursor;
use crate::{Error, Result};

/// A decoded Group Info message; absent values take the library defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupInfoMessage {
    /// Most links stored compactly (default 8).
    pub max_compact: u16,
    /// Fewest links stored densely (default 6).
    pub min_dense: u16,
    /// Estimated number of entries (default 4).
    pub estimated_entries: u16,
    /// Estimated link name length (default 8).
    pub estimated_name_length: u16,
    /// True when the phase-change values were stored (flags bit 0).
    pub phase_change_stored: bool,
    /// True when the estimates were stored (flags bit 1).
    pub estimates_stored: bool,
}

impl GroupInfoMessage {
    /// Decodes the message body.
    pub fn decode(c: &mut Cursor<'_>) -> Result<Self> {
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                structure: "group info message",
                version: version as u32,
            });
        }
        let flags = c.u8()?;
        let (max_compact, min_dense) = if flags & 1 != 0 {
            (c.u16()?, c.u16()?)
        } else {
            (8, 6)
        };
        let (estimated_entries, estimated_name_length) = if flags & 2 != 0 {
            (c.u16()?, c.u16()?)
        } else {
            (4, 8)
        };
        Ok(GroupInfoMessage {
            max_compact,
            min_dense,
            estimated_entries,
            estimated_name_length,
            phase_change_stored: flags & 1 != 0,
            estimates_stored: flags & 2 != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Sizes;

    #[test]
    fn defaults_and_values() {
        let m = GroupInfoMessage::decode(&mut Cursor::new(&[0u8, 0], 0, "t", Sizes::default()))
            .unwrap();
        assert_eq!((m.max_compact, m.min_dense), (8, 6));
        assert_eq!((m.estimated_entries, m.estimated_name_length), (4, 8));
        let b = [0u8, 3, 20, 0, 10, 0, 5, 0, 16, 0];
        let m = GroupInfoMessage::decode(&mut Cursor::new(&b, 0, "t", Sizes::default())).unwrap();
        assert_eq!((m.max_compact, m.min_dense), (20, 10));
        assert_eq!((m.estimated_entries, m.estimated_name_length), (5, 16));
    }
}
