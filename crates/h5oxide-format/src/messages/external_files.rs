//! External Data Files message 0x07 (spec §IV.A.2.h): raw data stored in other files.

use crate::cursor::Cursor;
use crate::{Error, Result};

/// One slot of the external file list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalFileSlot {
    /// Offset of the file name in the list's local heap.
    pub name_offset: u64,
    /// Byte offset in that file where the data starts.
    pub offset: u64,
    /// Number of bytes in this file (`u64::MAX` = unlimited).
    pub size: u64,
}

/// The external file list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalFileList {
    /// Local heap holding the file names.
    pub heap_address: u64,
    /// The used slots, in order.
    pub slots: Vec<ExternalFileSlot>,
}

impl ExternalFileList {
    /// Decodes the message body.
    pub fn decode(c: &mut Cursor<'_>) -> Result<Self> {
        let version = c.u8()?;
        if version != 1 {
            return Err(Error::UnsupportedVersion {
                structure: "external data files message",
                version: version as u32,
            });
        }
        c.skip(3)?;
        let _allocated = c.u16()?;
        let used = c.u16()? as usize;
        let heap_address = c.offset()?;
        let per = 3 * c.sizes().length as usize;
        if used.saturating_mul(per) > c.remaining() {
            return Err(c.truncated(used.saturating_mul(per)));
        }
        let mut slots = Vec::with_capacity(used);
        for _ in 0..used {
            slots.push(ExternalFileSlot {
                name_offset: c.length()?,
                offset: c.length()?,
                size: c.length()?,
            });
        }
        Ok(ExternalFileList {
            heap_address,
            slots,
        })
    }
}
