//! Rewriting an existing object header in place (spec §IV.A.1.a version 1, §IV.A.1.b version 2).
//!
//! An object's identity is the address of its header, so a writer that changes an object's
//! messages (attributes, dataspace, layout, links) must keep the header at that address. The
//! first chunk keeps its size: its messages are re-laid out in it, the unused rest becomes a NIL
//! message (or, in version 2, a gap shorter than a message header). When the messages do not fit,
//! the first chunk ends with a Continuation message (§IV.A.2.q) and the rest go to one new
//! continuation block, which the caller allocates ([`Plan::continuation_len`] bytes) before
//! calling [`encode`]. Version-2 chunks carry their Jenkins lookup3 checksum, and continuation
//! blocks start with `OCHK`.

use super::{pad8, to_u16, to_u32, Put};
use crate::checksum::lookup3;
use crate::{Error, Result};

/// Continuation message type.
const CONTINUATION: u16 = 0x10;
/// NIL message type.
const NIL: u16 = 0x00;

/// One message to store, undecoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// Message type.
    pub kind: u16,
    /// Message flags.
    pub flags: u8,
    /// Creation order (version-2 headers that store it; 0 when absent).
    pub creation_order: u16,
    /// Body (version 1 pads it to a multiple of 8 when encoding).
    pub body: Vec<u8>,
}

/// The fixed part of a header being rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prefix {
    /// Version 1: the reference count (prefix field) and the size of the first chunk's message
    /// area (the prefix's "object header size").
    V1 {
        /// Object reference count.
        refcount: u32,
        /// Bytes of messages in the first chunk (after the 16-byte prefix).
        chunk0_size: u64,
    },
    /// Version 2: flags, optional times and attribute phase change values, and the first chunk's
    /// message-area size (the prefix's "size of chunk #0").
    V2 {
        /// Header flags (bits 0–1: width of the chunk size field; bit 2: messages carry a
        /// creation order; bit 4: phase change values stored; bit 5: times stored).
        flags: u8,
        /// Access, modification, change and birth times (flags bit 5).
        times: Option<[u32; 4]>,
        /// Maximum compact / minimum dense attribute counts (flags bit 4).
        attr_phase_change: Option<(u16, u16)>,
        /// Bytes of messages (and gap) in the first chunk.
        chunk0_size: u64,
    },
}

impl Prefix {
    fn v2_corder(&self) -> bool {
        matches!(self, Prefix::V2 { flags, .. } if flags & 0x04 != 0)
    }

    /// Size of one message's header.
    fn msg_header(&self) -> usize {
        match self {
            Prefix::V1 { .. } => 8,
            Prefix::V2 { .. } if self.v2_corder() => 6,
            Prefix::V2 { .. } => 4,
        }
    }

    fn msg_size(&self, body_len: usize) -> usize {
        match self {
            Prefix::V1 { .. } => 8 + pad8(body_len),
            Prefix::V2 { .. } => self.msg_header() + body_len,
        }
    }

    fn chunk0_size(&self) -> u64 {
        match self {
            Prefix::V1 { chunk0_size, .. } | Prefix::V2 { chunk0_size, .. } => *chunk0_size,
        }
    }
}

/// How the messages are split between the first chunk and a continuation block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Messages `0..in_chunk0` stay in the first chunk.
    pub in_chunk0: usize,
    /// Length of the continuation block to allocate, when one is needed.
    pub continuation_len: Option<u64>,
}

/// Size of a continuation message body with 8-byte offsets and lengths.
const CONT_BODY: usize = 16;

/// Decides where `msgs` go. `slack` extra bytes are reserved in a continuation block (as a NIL
/// message) so later small additions fit without another block.
pub fn plan(prefix: &Prefix, msgs: &[RawMessage], slack: usize) -> Result<Plan> {
    let cap = usize::try_from(prefix.chunk0_size())
        .map_err(|_| Error::Invalid("object header chunk size".into()))?;
    for m in msgs {
        if m.body.len() > u16::MAX as usize - 8 {
            return Err(Error::Invalid(format!(
                "header message type {:#x}: {} bytes exceed the 64 KiB limit of a message",
                m.kind,
                m.body.len()
            )));
        }
    }
    let sizes: Vec<usize> = msgs.iter().map(|m| prefix.msg_size(m.body.len())).collect();
    let total: usize = sizes.iter().sum();
    if total <= cap {
        return Ok(Plan {
            in_chunk0: msgs.len(),
            continuation_len: None,
        });
    }
    let cont = prefix.msg_size(CONT_BODY);
    if cap < cont {
        return Err(Error::unsupported(format!(
            "growing an object header whose first chunk ({cap} bytes) cannot hold a continuation \
             message"
        )));
    }
    let mut used = 0;
    let mut k = 0;
    while k < sizes.len() && used + sizes[k] + cont <= cap {
        used += sizes[k];
        k += 1;
    }
    let rest: usize = sizes[k..].iter().sum();
    let slack = match prefix {
        Prefix::V1 { .. } => pad8(slack.max(8)),
        Prefix::V2 { .. } => slack.max(prefix.msg_header()),
    };
    let framing = match prefix {
        Prefix::V1 { .. } => 0,
        Prefix::V2 { .. } => 8, // "OCHK" and the checksum
    };
    Ok(Plan {
        in_chunk0: k,
        continuation_len: Some((rest + slack + framing) as u64),
    })
}

/// Appends one message (header and body, v1 padding included).
fn put_message(b: &mut Vec<u8>, prefix: &Prefix, m: &RawMessage) -> Result<()> {
    match prefix {
        Prefix::V1 { .. } => {
            let size = pad8(m.body.len());
            b.u16(m.kind);
            b.u16(to_u16(size, "header message")?);
            b.u8(m.flags);
            b.zeros(3);
            b.extend_from_slice(&m.body);
            b.zeros(size - m.body.len());
        }
        Prefix::V2 { .. } => {
            let kind = u8::try_from(m.kind).map_err(|_| {
                Error::Invalid(format!("message type {:#x} in a v2 header", m.kind))
            })?;
            b.u8(kind);
            b.u16(to_u16(m.body.len(), "header message")?);
            b.u8(m.flags);
            if prefix.v2_corder() {
                b.u16(m.creation_order);
            }
            b.extend_from_slice(&m.body);
        }
    }
    Ok(())
}

/// Fills `room` bytes: one NIL message when there is room for its header, else (version 2
/// only) a gap of zeros. Returns the number of NIL messages written.
fn put_fill(b: &mut Vec<u8>, prefix: &Prefix, room: usize) -> Result<usize> {
    let hdr = prefix.msg_header();
    if room == 0 {
        return Ok(0);
    }
    if room < hdr {
        b.zeros(room);
        return Ok(0);
    }
    let nil = RawMessage {
        kind: NIL,
        flags: 0,
        creation_order: 0,
        body: vec![0; room - hdr],
    };
    put_message(b, prefix, &nil)?;
    Ok(1)
}

/// The bytes to write: the header from its address (prefix and first chunk, checksum included)
/// and the continuation block, when the plan has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Bytes at the header address.
    pub head: Vec<u8>,
    /// Bytes at the continuation address.
    pub continuation: Option<Vec<u8>>,
}

/// Encodes `msgs` laid out by `plan`; `continuation_addr` is where the caller allocated the
/// continuation block (ignored without one).
pub fn encode(
    prefix: &Prefix,
    msgs: &[RawMessage],
    plan: &Plan,
    continuation_addr: u64,
) -> Result<Image> {
    let cap = usize::try_from(prefix.chunk0_size())
        .map_err(|_| Error::Invalid("object header chunk size".into()))?;
    let (first, rest) = msgs.split_at(plan.in_chunk0.min(msgs.len()));
    let mut body = Vec::with_capacity(cap);
    let mut count = first.len();
    for m in first {
        put_message(&mut body, prefix, m)?;
    }
    let mut cont_block = None;
    if let Some(len) = plan.continuation_len {
        let mut cb = Vec::new();
        let len = usize::try_from(len).map_err(|_| Error::Invalid("continuation".into()))?;
        if matches!(prefix, Prefix::V2 { .. }) {
            cb.extend_from_slice(b"OCHK");
        }
        for m in rest {
            put_message(&mut cb, prefix, m)?;
        }
        count += rest.len();
        let end = match prefix {
            Prefix::V1 { .. } => len,
            Prefix::V2 { .. } => len - 4,
        };
        if cb.len() > end {
            return Err(Error::Invalid("continuation block overflow".into()));
        }
        let room = end - cb.len();
        count += put_fill(&mut cb, prefix, room)?;
        if matches!(prefix, Prefix::V2 { .. }) {
            let sum = lookup3(&cb, 0);
            cb.u32(sum);
        }
        let mut cm = Vec::with_capacity(CONT_BODY);
        cm.u64(continuation_addr);
        cm.u64(len as u64);
        put_message(
            &mut body,
            prefix,
            &RawMessage {
                kind: CONTINUATION,
                flags: 0,
                creation_order: 0,
                body: cm,
            },
        )?;
        count += 1;
        cont_block = Some(cb);
    } else if !rest.is_empty() {
        return Err(Error::Invalid(
            "messages left without a continuation".into(),
        ));
    }
    if body.len() > cap {
        return Err(Error::Invalid("first object header chunk overflow".into()));
    }
    let room = cap - body.len();
    count += put_fill(&mut body, prefix, room)?;
    let mut head = Vec::with_capacity(cap + 64);
    match prefix {
        Prefix::V1 { refcount, .. } => {
            head.u8(1);
            head.u8(0);
            head.u16(to_u16(count, "object header message count")?);
            head.u32(*refcount);
            head.u32(to_u32(cap, "object header size")?);
            head.u32(0);
            head.extend_from_slice(&body);
        }
        Prefix::V2 {
            flags,
            times,
            attr_phase_change,
            ..
        } => {
            head.extend_from_slice(b"OHDR");
            head.u8(2);
            head.u8(*flags);
            if let Some(t) = times {
                for v in t {
                    head.u32(*v);
                }
            }
            if let Some((a, b)) = attr_phase_change {
                head.u16(*a);
                head.u16(*b);
            }
            let width = 1usize << (flags & 0x03);
            let v = cap as u64;
            if width < 8 && v >> (8 * width) != 0 {
                return Err(Error::Invalid("chunk size does not fit its field".into()));
            }
            head.extend_from_slice(&v.to_le_bytes()[..width]);
            head.extend_from_slice(&body);
            let sum = lookup3(&head, 0);
            head.u32(sum);
        }
    }
    Ok(Image {
        head,
        continuation: cont_block,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object_header::ObjectHeader;
    use crate::source::Ctx;
    use crate::Sizes;

    fn msg(kind: u16, len: usize, fill: u8) -> RawMessage {
        RawMessage {
            kind,
            flags: 0,
            creation_order: 0,
            body: vec![fill; len],
        }
    }

    fn roundtrip(prefix: Prefix, msgs: Vec<RawMessage>) {
        let p = plan(&prefix, &msgs, 40).unwrap();
        let cont_addr = 4096;
        let img = encode(&prefix, &msgs, &p, cont_addr).unwrap();
        let mut file = vec![0u8; 8192];
        file[..img.head.len()].copy_from_slice(&img.head);
        if let Some(c) = &img.continuation {
            file[cont_addr as usize..cont_addr as usize + c.len()].copy_from_slice(c);
        }
        let sizes = Sizes {
            offset: 8,
            length: 8,
        };
        let ctx = Ctx::new(&file, sizes);
        let oh = ObjectHeader::read(&ctx, 0).unwrap();
        let got: Vec<(u16, Vec<u8>)> = oh
            .messages
            .iter()
            .map(|m| {
                (
                    m.kind,
                    m.data[..msgs.iter().find(|x| x.kind == m.kind).unwrap().body.len()].to_vec(),
                )
            })
            .collect();
        let want: Vec<(u16, Vec<u8>)> = msgs.iter().map(|m| (m.kind, m.body.clone())).collect();
        assert_eq!(got, want);
        assert_eq!(p.continuation_len.is_some(), img.continuation.is_some());
    }

    #[test]
    fn v1_fits_and_overflows() {
        let msgs = vec![msg(1, 20, 1), msg(3, 8, 2)];
        roundtrip(
            Prefix::V1 {
                refcount: 1,
                chunk0_size: 64,
            },
            msgs.clone(),
        );
        let mut many = msgs;
        many.push(msg(0xC, 100, 3));
        many.push(msg(0xD, 30, 4));
        roundtrip(
            Prefix::V1 {
                refcount: 2,
                chunk0_size: 48,
            },
            many,
        );
    }

    #[test]
    fn v2_fits_and_overflows() {
        let msgs = vec![msg(1, 20, 1), msg(3, 7, 2), msg(0xC, 90, 5)];
        for flags in [0x00u8, 0x04, 0x20 | 0x10 | 0x01] {
            let prefix = |cap| Prefix::V2 {
                flags,
                times: (flags & 0x20 != 0).then_some([1, 2, 3, 4]),
                attr_phase_change: (flags & 0x10 != 0).then_some((8, 6)),
                chunk0_size: cap,
            };
            roundtrip(prefix(200), msgs.clone());
            roundtrip(prefix(40), msgs.clone());
        }
    }

    #[test]
    fn too_small_first_chunk_is_unsupported() {
        let p = plan(
            &Prefix::V1 {
                refcount: 1,
                chunk0_size: 16,
            },
            &[msg(1, 40, 0)],
            0,
        );
        assert!(matches!(p, Err(Error::Unsupported { .. })));
    }
}
