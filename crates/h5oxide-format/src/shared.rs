//! Shared object header messages (spec §IV.A.2 "Shared Message" stubs, §III.I "Shared Object
//! Header Message Table", §IV.A.2.p Shared Message Table message 0x0F).
//!
//! A message whose header flag bit 1 is set holds a *stub* instead of its body:
//! - version 1: version, type, 6 reserved bytes, an L-byte field libhdf5 skips, the address of
//!   the object header holding the message (FORMAT-MAP §2.5 — the spec's table omits the L field);
//! - version 2: version, type, address (committed);
//! - version 3: version, type, then for type 1 an 8-byte fractal heap ID into the SOHM heap, for
//!   type 2 an address (committed).
//!
//! Committed messages are the first message of the same type in the object header at that
//! address (e.g. a committed datatype). SOHM messages live in the fractal heap of the index of
//! the master table `SMTB` that handles that message type. The index's *message type flags* are
//! numbered by message type in libhdf5 files (`1 << type`), not 0–4 as the spec's table says.

use crate::checksum;
use crate::fractal_heap::FractalHeap;
use crate::object_header::{msg, ObjectHeader};
use crate::source::Ctx;
use crate::{Error, Result};

/// Where a shared message is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedLocation {
    /// In the object header at this address (a committed message).
    Committed(u64),
    /// In the SOHM fractal heap under this 8-byte heap ID.
    Sohm([u8; 8]),
}

/// Decodes a shared-message stub.
pub fn decode_stub(ctx: &Ctx<'_>, body: &[u8], addr: u64) -> Result<SharedLocation> {
    const S: &str = "shared message stub";
    let mut c = ctx.cursor(body, addr, S);
    let version = c.u8()?;
    let kind = c.u8()?;
    match version {
        1 => {
            c.skip(6)?;
            c.skip(ctx.sizes.length as usize)?;
            Ok(SharedLocation::Committed(c.offset()?))
        }
        2 => Ok(SharedLocation::Committed(c.offset()?)),
        3 => match kind {
            1 => Ok(SharedLocation::Sohm(c.array()?)),
            2 => Ok(SharedLocation::Committed(c.offset()?)),
            k => Err(c.corrupt(format!("shared message type {k}"))),
        },
        v => Err(Error::UnsupportedVersion {
            structure: S,
            version: v as u32,
        }),
    }
}

/// One index of the shared message table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedMessageIndex {
    /// Index type: 0 list (`SMLI`), 1 v2 B-tree (type 7).
    pub index_type: u8,
    /// Message types stored: libhdf5 sets bit `message type` (0x2 dataspace, 0x8 datatype, 0x20
    /// fill value, 0x800 filter pipeline, 0x1000 attribute); the spec numbers them 0–4.
    pub message_type_flags: u16,
    /// Smallest message stored in the index.
    pub min_message_size: u32,
    /// List-to-B-tree cutoff.
    pub list_cutoff: u16,
    /// B-tree-to-list cutoff.
    pub btree_cutoff: u16,
    /// Number of messages in the index.
    pub num_messages: u16,
    /// Address of the list or B-tree.
    pub index_address: u64,
    /// Address of the fractal heap holding the messages.
    pub fractal_heap_address: u64,
}

/// The shared object header message master table `SMTB`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedMessageTable {
    /// Address of the table.
    pub addr: u64,
    /// The indexes.
    pub indexes: Vec<SharedMessageIndex>,
}

/// The bit of the SOHM message-type flags for message type `kind` as the spec's table gives it
/// (bit 0 dataspace, 1 datatype, 2 fill value, 3 filter pipeline, 4 attribute).
fn spec_type_flag(kind: u16) -> Option<u16> {
    match kind {
        msg::DATASPACE => Some(1),
        msg::DATATYPE => Some(2),
        msg::FILL_VALUE => Some(4),
        msg::FILTER_PIPELINE => Some(8),
        msg::ATTRIBUTE => Some(16),
        _ => None,
    }
}

/// The bit libhdf5 actually writes: `1 << message type` (dataspace 0x2, datatype 0x8, fill value
/// 0x20, filter pipeline 0x800, attribute 0x1000; `h5stat_tsohm.h5` stores 0x182a).
fn lib_type_flag(kind: u16) -> Option<u16> {
    match kind {
        msg::DATASPACE
        | msg::DATATYPE
        | msg::FILL_VALUE
        | msg::FILTER_PIPELINE
        | msg::ATTRIBUTE => Some(1 << kind),
        _ => None,
    }
}

impl SharedMessageTable {
    /// Reads the table named by the Shared Message Table message of the superblock extension
    /// `ext`; `None` when the extension has no such message.
    pub fn read(ctx: &Ctx<'_>, ext: &ObjectHeader) -> Result<Option<SharedMessageTable>> {
        let Some(m) = ext.find(msg::SHARED_TABLE) else {
            return Ok(None);
        };
        let mut c = ctx.cursor(&m.data, m.addr, "shared message table message");
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                structure: "shared message table message",
                version: version as u32,
            });
        }
        let addr = c.offset()?;
        let n = c.u8()?;
        Self::read_table(ctx, addr, n).map(Some)
    }

    /// Reads the `SMTB` table at `addr` holding `nindexes` indexes.
    pub fn read_table(ctx: &Ctx<'_>, addr: u64, nindexes: u8) -> Result<SharedMessageTable> {
        const S: &str = "shared message table";
        let o = ctx.sizes.offset as u64;
        let per = 1 + 1 + 2 + 4 + 2 + 2 + 2 + 2 * o;
        let len = 4 + per * nindexes as u64 + 4;
        let buf = ctx.read(addr, len, S)?;
        let mut c = ctx.cursor(&buf, addr, S);
        c.signature(b"SMTB")?;
        checksum::verify(&buf, S, addr)?;
        let mut indexes = Vec::with_capacity(nindexes as usize);
        for _ in 0..nindexes {
            let version = c.u8()?;
            if version != 0 {
                return Err(Error::UnsupportedVersion {
                    structure: "shared message index",
                    version: version as u32,
                });
            }
            indexes.push(SharedMessageIndex {
                index_type: c.u8()?,
                message_type_flags: c.u16()?,
                min_message_size: c.u32()?,
                list_cutoff: c.u16()?,
                btree_cutoff: c.u16()?,
                num_messages: c.u16()?,
                index_address: c.offset()?,
                fractal_heap_address: c.offset()?,
            });
        }
        Ok(SharedMessageTable { addr, indexes })
    }

    /// The index storing messages of type `kind`.
    ///
    /// The spec's table numbers the type flags 0–4, but libhdf5 sets bit `message type`; the
    /// libhdf5 bit is tried first, then the spec's, then a table with a single index is used.
    pub fn index_for(&self, kind: u16) -> Option<&SharedMessageIndex> {
        let has = |f: Option<u16>| {
            f.and_then(|f| self.indexes.iter().find(|i| i.message_type_flags & f != 0))
        };
        let single = match self.indexes.as_slice() {
            [only] => Some(only),
            _ => None,
        };
        has(lib_type_flag(kind))
            .or(has(spec_type_flag(kind)))
            .or(single)
    }

    /// Reads the body of a message of type `kind` stored in the SOHM heap under `id`.
    pub fn get(&self, ctx: &Ctx<'_>, kind: u16, id: &[u8]) -> Result<Vec<u8>> {
        let ix = self.index_for(kind).ok_or_else(|| {
            Error::corrupt(
                "shared message table",
                self.addr,
                format!("no index for message type {kind:#x}"),
            )
        })?;
        let mut heap = FractalHeap::open(ctx, ix.fractal_heap_address)?;
        heap.get(ctx, id)
    }
}

/// Resolves a shared-message stub of message type `kind` (body `body` at file address `addr`)
/// to the real message body.
pub fn resolve(
    ctx: &Ctx<'_>,
    sohm: Option<&SharedMessageTable>,
    kind: u16,
    body: &[u8],
    addr: u64,
) -> Result<Vec<u8>> {
    match decode_stub(ctx, body, addr)? {
        SharedLocation::Committed(a) => {
            let oh = ObjectHeader::read(ctx, a)?;
            let m = oh.find(kind).ok_or_else(|| {
                Error::corrupt(
                    "shared message",
                    addr,
                    format!("object header at {a:#x} has no message of type {kind:#x}"),
                )
            })?;
            if m.is_shared() {
                return Err(Error::corrupt(
                    "shared message",
                    addr,
                    format!("committed message at {a:#x} is itself shared"),
                ));
            }
            Ok(m.data.clone())
        }
        SharedLocation::Sohm(id) => match sohm {
            Some(t) => t.get(ctx, kind, &id),
            None => Err(Error::corrupt(
                "shared message",
                addr,
                "stored in the shared message heap, but the file has no shared message table",
            )),
        },
    }
}

/// The object header address of a committed message (e.g. a named datatype) when `body` is a
/// committed stub; `None` for SOHM stubs.
pub fn committed_address(ctx: &Ctx<'_>, body: &[u8], addr: u64) -> Result<Option<u64>> {
    Ok(match decode_stub(ctx, body, addr)? {
        SharedLocation::Committed(a) => Some(a),
        SharedLocation::Sohm(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Sizes;

    #[test]
    fn stubs() {
        let f: Vec<u8> = Vec::new();
        let ctx = Ctx::new(&f, Sizes::default());
        let mut v1 = vec![1u8, 3, 0, 0, 0, 0, 0, 0];
        v1.extend_from_slice(&[0; 8]);
        v1.extend_from_slice(&0x800u64.to_le_bytes());
        assert_eq!(
            decode_stub(&ctx, &v1, 0).unwrap(),
            SharedLocation::Committed(0x800)
        );
        let mut v2 = vec![2u8, 2];
        v2.extend_from_slice(&0x900u64.to_le_bytes());
        assert_eq!(
            decode_stub(&ctx, &v2, 0).unwrap(),
            SharedLocation::Committed(0x900)
        );
        let v3 = vec![3u8, 1, 1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(
            decode_stub(&ctx, &v3, 0).unwrap(),
            SharedLocation::Sohm([1, 2, 3, 4, 5, 6, 7, 8])
        );
        assert!(decode_stub(&ctx, &[3u8, 0], 0).is_err());
        assert!(decode_stub(&ctx, &[9u8, 0], 0).is_err());
    }
}
