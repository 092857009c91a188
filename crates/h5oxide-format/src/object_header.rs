//! Object headers (spec §IV.A.1), versions 1 and 2, with their continuation blocks.
//!
//! An object header is a list of messages spread over one or more chunks: the first follows the
//! prefix, the others are reached through Object Header Continuation messages (type 0x10). Version
//! 1 chunks are bare 8-aligned message lists; version 2 chunks (`OHDR`, `OCHK`) are packed and end
//! with a lookup3 checksum. Messages are kept as raw bodies and decoded on demand by the modules
//! under [`crate::messages`].

use std::collections::HashSet;

use crate::checksum;
use crate::cursor::Cursor;
use crate::source::Ctx;
use crate::{Error, Result};

/// Message type numbers (spec §IV.A.2).
pub mod msg {
    /// NIL (padding).
    pub const NIL: u16 = 0x00;
    /// Dataspace.
    pub const DATASPACE: u16 = 0x01;
    /// Link Info.
    pub const LINK_INFO: u16 = 0x02;
    /// Datatype.
    pub const DATATYPE: u16 = 0x03;
    /// Fill Value (old).
    pub const FILL_VALUE_OLD: u16 = 0x04;
    /// Fill Value.
    pub const FILL_VALUE: u16 = 0x05;
    /// Link.
    pub const LINK: u16 = 0x06;
    /// External Data Files.
    pub const EXTERNAL_FILES: u16 = 0x07;
    /// Data Layout.
    pub const LAYOUT: u16 = 0x08;
    /// Bogus (testing only).
    pub const BOGUS: u16 = 0x09;
    /// Group Info.
    pub const GROUP_INFO: u16 = 0x0A;
    /// Filter Pipeline.
    pub const FILTER_PIPELINE: u16 = 0x0B;
    /// Attribute.
    pub const ATTRIBUTE: u16 = 0x0C;
    /// Object Comment.
    pub const COMMENT: u16 = 0x0D;
    /// Object Modification Time (old).
    pub const MTIME_OLD: u16 = 0x0E;
    /// Shared Message Table.
    pub const SHARED_TABLE: u16 = 0x0F;
    /// Object Header Continuation.
    pub const CONTINUATION: u16 = 0x10;
    /// Symbol Table.
    pub const SYMBOL_TABLE: u16 = 0x11;
    /// Object Modification Time.
    pub const MTIME: u16 = 0x12;
    /// B-tree 'K' Values.
    pub const BTREE_K: u16 = 0x13;
    /// Driver Info.
    pub const DRIVER_INFO: u16 = 0x14;
    /// Attribute Info.
    pub const ATTRIBUTE_INFO: u16 = 0x15;
    /// Object Reference Count.
    pub const REFCOUNT: u16 = 0x16;
    /// File Space Info.
    pub const FSINFO: u16 = 0x17;
    /// Metadata cache image (libhdf5; not in the spec).
    pub const MDC_IMAGE: u16 = 0x18;
}

/// Message flag: the body is a shared-message stub (spec §IV.A.2 "Header Message Flags" bit 1).
pub const FLAG_SHARED: u8 = 0x02;
/// Message flag: fail to open the object at all if the type is unknown (bit 7).
pub const FLAG_FAIL_IF_UNKNOWN_ALWAYS: u8 = 0x80;

/// One header message, undecoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Message type (see [`msg`]).
    pub kind: u16,
    /// Message flags.
    pub flags: u8,
    /// Creation order (v2 headers that track attribute creation order).
    pub creation_order: Option<u16>,
    /// File address of the message body.
    pub addr: u64,
    /// The message body.
    pub data: Vec<u8>,
}

impl Message {
    /// True when the body is a shared-message stub rather than the message itself.
    pub fn is_shared(&self) -> bool {
        self.flags & FLAG_SHARED != 0
    }
}

/// A decoded object header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHeader {
    /// Address of the header (identity of the object).
    pub addr: u64,
    /// Header version, 1 or 2.
    pub version: u8,
    /// Version 2 header flags (0 for version 1).
    pub flags: u8,
    /// Object reference count (v1 prefix; v2 from message 0x16, default 1).
    pub refcount: u32,
    /// v2: access, modification, change and birth times when stored.
    pub times: Option<[u32; 4]>,
    /// v2: maximum compact and minimum dense attribute counts when stored.
    pub attr_phase_change: Option<(u16, u16)>,
    /// All messages of all chunks, in order, NIL and continuation messages removed.
    pub messages: Vec<Message>,
    /// Where the header's chunks are, in order: `(address, length)`. For version 1 the first
    /// entry is the message area after the 16-byte prefix; for version 2 it is the whole first
    /// chunk from the signature to the checksum. Continuation blocks follow as their
    /// continuation messages give them. Writers rewrite a header in place from these.
    pub chunks: Vec<(u64, u64)>,
}

impl ObjectHeader {
    /// True when attribute creation order is tracked (v2 flags bit 2).
    pub fn tracks_attr_creation_order(&self) -> bool {
        self.version == 2 && self.flags & 0x04 != 0
    }

    /// True when attribute creation order is indexed (v2 flags bit 3).
    pub fn indexes_attr_creation_order(&self) -> bool {
        self.version == 2 && self.flags & 0x08 != 0
    }

    /// The first message of type `kind`.
    pub fn find(&self, kind: u16) -> Option<&Message> {
        self.messages.iter().find(|m| m.kind == kind)
    }

    /// Every message of type `kind`.
    pub fn all(&self, kind: u16) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(move |m| m.kind == kind)
    }

    /// True if a message of type `kind` is present.
    pub fn has(&self, kind: u16) -> bool {
        self.find(kind).is_some()
    }

    /// Reads the object header at `addr`.
    pub fn read(ctx: &Ctx<'_>, addr: u64) -> Result<ObjectHeader> {
        let head = ctx.read_upto(addr, 64, "object header")?;
        if head.len() >= 4 && &head[..4] == b"OHDR" {
            Self::read_v2(ctx, addr, &head)
        } else if head.first() == Some(&1) {
            Self::read_v1(ctx, addr, &head)
        } else {
            match head.first() {
                Some(&v) => Err(Error::UnsupportedVersion {
                    structure: "object header",
                    version: v as u32,
                }),
                None => Err(Error::Truncated {
                    structure: "object header",
                    addr,
                    needed: 16,
                    available: 0,
                }),
            }
        }
    }

    fn read_v1(ctx: &Ctx<'_>, addr: u64, head: &[u8]) -> Result<ObjectHeader> {
        let mut c = ctx.cursor(head, addr, "object header");
        c.skip(2)?;
        let nmessages = c.u16()?;
        let refcount = c.u32()?;
        let chunk0_size = c.u32()? as u64;
        let mut oh = ObjectHeader {
            addr,
            version: 1,
            flags: 0,
            refcount,
            times: None,
            attr_phase_change: None,
            messages: Vec::new(),
            chunks: Vec::new(),
        };
        let mut chunks = vec![(addr + 16, chunk0_size)];
        let mut seen = HashSet::new();
        let mut i = 0;
        let mut total = 0usize;
        while let Some(&(caddr, clen)) = chunks.get(i) {
            i += 1;
            if !seen.insert(caddr) || seen.len() as u64 > ctx.limits.max_visits {
                return Err(Error::Cycle {
                    structure: "object header continuation",
                    addr: caddr,
                });
            }
            let buf = ctx.read(caddr, clen, "object header chunk")?;
            let mut c = ctx.cursor(&buf, caddr, "object header chunk");
            while c.remaining() >= 8 {
                let kind = c.u16()?;
                let size = c.u16()? as usize;
                let flags = c.u8()?;
                c.skip(3)?;
                // Version 1 messages are padded to multiples of 8 bytes.
                if !size.is_multiple_of(8) {
                    return Err(c.corrupt("message size is not a multiple of 8"));
                }
                let maddr = c.addr();
                let data = c.bytes(size)?;
                total += 1;
                oh.push(ctx, kind, flags, None, maddr, data, &mut chunks)?;
            }
            if c.remaining() != 0 {
                return Err(c.corrupt("gap at the end of a version 1 header chunk"));
            }
            // The prefix counts every message (NIL and continuation included); the first
            // chunk alone holding more than that means the prefix or the chunk is corrupt.
            if i == 1 && total > nmessages as usize {
                return Err(Error::corrupt(
                    "object header",
                    addr,
                    format!("bad object header message count: {nmessages} in the prefix, {total} in the first chunk"),
                ));
            }
        }
        if oh.has(msg::REFCOUNT) {
            return Err(Error::corrupt(
                "object header",
                addr,
                "version 1 object header has a reference count message",
            ));
        }
        oh.chunks = chunks;
        Ok(oh)
    }

    fn read_v2(ctx: &Ctx<'_>, addr: u64, head: &[u8]) -> Result<ObjectHeader> {
        let mut c = ctx.cursor(head, addr, "object header");
        c.skip(4)?;
        let version = c.u8()?;
        if version != 2 {
            return Err(Error::UnsupportedVersion {
                structure: "object header",
                version: version as u32,
            });
        }
        let flags = c.u8()?;
        let times = if flags & 0x20 != 0 {
            Some([c.u32()?, c.u32()?, c.u32()?, c.u32()?])
        } else {
            None
        };
        let attr_phase_change = if flags & 0x10 != 0 {
            Some((c.u16()?, c.u16()?))
        } else {
            None
        };
        let width = 1usize << (flags & 0x03);
        let chunk0_size = c.uint(width)?;
        let prefix = c.pos() as u64;
        let mut oh = ObjectHeader {
            addr,
            version: 2,
            flags,
            refcount: 1,
            times,
            attr_phase_change,
            messages: Vec::new(),
            chunks: Vec::new(),
        };
        // (start of checksummed block, start of messages, end of messages)
        let total0 = prefix
            .checked_add(chunk0_size)
            .and_then(|v| v.checked_add(4));
        let total0 =
            total0.ok_or_else(|| Error::corrupt("object header", addr, "chunk size overflows"))?;
        let mut chunks: Vec<(u64, u64)> = vec![(addr, total0)];
        let mut seen = HashSet::new();
        let mut i = 0;
        while let Some(&(caddr, clen)) = chunks.get(i) {
            let first = i == 0;
            i += 1;
            if !seen.insert(caddr) || seen.len() as u64 > ctx.limits.max_visits {
                return Err(Error::Cycle {
                    structure: "object header continuation",
                    addr: caddr,
                });
            }
            let structure = if first {
                "object header"
            } else {
                "object header continuation block"
            };
            let buf = ctx.read(caddr, clen, structure)?;
            checksum::verify(&buf, structure, caddr)?;
            let mut c = ctx.cursor(&buf, caddr, structure);
            if first {
                c.skip(prefix as usize)?;
            } else {
                c.signature(b"OCHK")?;
            }
            let end = buf.len().saturating_sub(4);
            let hdr = if flags & 0x04 != 0 { 6 } else { 4 };
            let mut nulls = 0usize;
            while end.saturating_sub(c.pos()) >= hdr {
                let kind = c.u8()? as u16;
                let size = c.u16()? as usize;
                let mflags = c.u8()?;
                let corder = if flags & 0x04 != 0 {
                    Some(c.u16()?)
                } else {
                    None
                };
                if c.pos() + size > end {
                    return Err(c.corrupt("message runs past the end of its chunk"));
                }
                let maddr = c.addr();
                let data = c.bytes(size)?;
                if kind == msg::NIL {
                    nulls += 1;
                }
                oh.push(ctx, kind, mflags, corder, maddr, data, &mut chunks)?;
            }
            // A gap (too short for a message header) is only legal in a chunk without NIL
            // messages.
            if c.pos() < end && nulls != 0 {
                return Err(c.corrupt("gap in an object header chunk that has NIL messages"));
            }
        }
        if let Some(m) = oh.find(msg::REFCOUNT) {
            let mut c = ctx.cursor(&m.data, m.addr, "object reference count message");
            let v = c.u8()?;
            if v != 0 {
                return Err(Error::UnsupportedVersion {
                    structure: "object reference count message",
                    version: v as u32,
                });
            }
            oh.refcount = c.u32()?;
        }
        oh.chunks = chunks;
        Ok(oh)
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        ctx: &Ctx<'_>,
        kind: u16,
        flags: u8,
        creation_order: Option<u16>,
        addr: u64,
        data: &[u8],
        chunks: &mut Vec<(u64, u64)>,
    ) -> Result<()> {
        check_flags(kind, flags)
            .map_err(|reason| Error::corrupt("object header message", addr, reason))?;
        match kind {
            msg::NIL => {}
            msg::CONTINUATION => {
                let mut c = ctx.cursor(data, addr, "object header continuation message");
                let caddr = c.offset()?;
                let clen = c.length()?;
                if clen == 0 {
                    return Err(c.corrupt("continuation block of length 0"));
                }
                chunks.push((caddr, clen));
            }
            _ => {
                // The metadata cache image message (superblock extension) is applied by
                // whoever opens the file (see `cache_image`).
                let unknown = kind == msg::BOGUS || kind > msg::MDC_IMAGE;
                if unknown && flags & FLAG_FAIL_IF_UNKNOWN_ALWAYS != 0 {
                    return Err(Error::unsupported(format!(
                        "object header message type {kind:#x} marked fail-if-unknown"
                    )));
                }
                if self.messages.len() as u64 >= ctx.limits.max_visits {
                    return Err(Error::Limit {
                        what: "messages in one object header",
                        requested: self.messages.len() as u64,
                        limit: ctx.limits.max_visits,
                    });
                }
                self.messages.push(Message {
                    kind,
                    flags,
                    creation_order,
                    addr,
                    data: data.to_vec(),
                });
            }
        }
        Ok(())
    }
}

/// Message types whose messages may be shared (flag bit 6 "shareable" is only legal on them).
fn shareable_kind(kind: u16) -> bool {
    matches!(
        kind,
        msg::DATASPACE
            | msg::DATATYPE
            | msg::FILL_VALUE_OLD
            | msg::FILL_VALUE
            | msg::FILTER_PIPELINE
            | msg::ATTRIBUTE
    )
}

/// The consistency rules on a message's flags (spec §IV.A.2 "Header Message Flags").
fn check_flags(kind: u16, flags: u8) -> std::result::Result<(), &'static str> {
    const SHARED: u8 = 0x02;
    const DONT_SHARE: u8 = 0x04;
    const FAIL_IF_UNKNOWN_WRITE: u8 = 0x08;
    const MARK_IF_UNKNOWN: u8 = 0x10;
    const WAS_UNKNOWN: u8 = 0x20;
    const SHAREABLE: u8 = 0x40;
    if flags & SHARED != 0 && flags & DONT_SHARE != 0 {
        return Err("message flagged both shared and not shareable");
    }
    if flags & WAS_UNKNOWN != 0
        && (flags & FAIL_IF_UNKNOWN_WRITE != 0 || flags & MARK_IF_UNKNOWN == 0)
    {
        return Err("bad combination of the unknown-message flags");
    }
    let known = kind != msg::BOGUS && kind < msg::MDC_IMAGE;
    if known && flags & (SHARED | SHAREABLE) != 0 && !shareable_kind(kind) {
        return Err("message of an unshareable type flagged as shareable");
    }
    Ok(())
}

/// A cursor over a message body, for the message decoders.
pub fn body<'a>(ctx: &Ctx<'_>, m: &'a Message, structure: &'static str) -> Cursor<'a> {
    ctx.cursor(&m.data, m.addr, structure)
}
