//! Object headers: version 1 (spec §IV.A.1.a) and version 2 (spec §IV.A.1.b).
//!
//! Version 1: a 16-byte prefix (version 1, message count, reference count, header size, then 4 bytes of
//! alignment padding) followed by the messages of one chunk. Each message has an 8-byte header
//! (type, size, flags, 3 reserved bytes) and a body padded to a multiple of 8; the message size
//! field holds the padded size. Room beyond the messages (when a minimum size is asked for) is
//! filled with one NIL message.
//!
//! Version 2 (`OHDR`): signature, version 2, flags, [attribute phase change values], the size
//! of chunk 0 in 1, 2, 4 or 8 bytes (flags bits 0–1), then packed messages, each with a 4-byte
//! header (type, size, flags) or 6 bytes when attribute creation order is tracked (flags bit 2
//! adds a 2-byte creation order to every message header), and a lookup3 checksum of everything
//! before it. Modification times (flags bit 5) are never written, like h5py. All messages go to
//! chunk 0, whose size field grows as needed, so no continuation block (`OCHK`) is ever needed.

use super::{pad8, to_u16, to_u32, Put};
use crate::{Error, Result};

/// Size of the version-1 object header prefix, including its alignment padding.
pub const PREFIX_SIZE: usize = 16;
/// Size of a version-1 message header.
pub const MESSAGE_HEADER_SIZE: usize = 8;

/// Message type numbers (spec §IV.A.2) used by the writer.
pub mod msg_type {
    /// NIL (padding).
    pub const NIL: u16 = 0x0000;
    /// Dataspace.
    pub const DATASPACE: u16 = 0x0001;
    /// Datatype.
    pub const DATATYPE: u16 = 0x0003;
    /// Fill value (old), written next to the new one when the user sets a value.
    pub const FILL_VALUE_OLD: u16 = 0x0004;
    /// Fill value (new).
    pub const FILL_VALUE: u16 = 0x0005;
    /// Data layout.
    pub const LAYOUT: u16 = 0x0008;
    /// Filter pipeline.
    pub const FILTER_PIPELINE: u16 = 0x000B;
    /// Attribute.
    pub const ATTRIBUTE: u16 = 0x000C;
    /// Symbol table.
    pub const SYMBOL_TABLE: u16 = 0x0011;
    /// Link info (new-style groups).
    pub const LINK_INFO: u16 = 0x0002;
    /// Link.
    pub const LINK: u16 = 0x0006;
    /// Group info (new-style groups).
    pub const GROUP_INFO: u16 = 0x000A;
    /// Attribute info (dense attribute storage, attribute creation order).
    pub const ATTRIBUTE_INFO: u16 = 0x0015;
}

/// Message flag bit 2: the message must not be shared (libhdf5 sets it on Attribute Info).
pub const FLAG_DONT_SHARE: u8 = 0x04;

/// Message flag bit 0: the message is constant.
pub const FLAG_CONSTANT: u8 = 0x01;

/// One header message before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Message type.
    pub msg_type: u16,
    /// Message flags.
    pub flags: u8,
    /// Unpadded body.
    pub body: Vec<u8>,
    /// Creation order stored in the message header of a version-2 object header that tracks
    /// attribute creation order (the attribute's creation index; 0 for other messages).
    pub creation_order: u16,
}

impl Message {
    /// A message of `msg_type` with `flags` and `body`.
    pub fn new(msg_type: u16, flags: u8, body: Vec<u8>) -> Self {
        Message {
            msg_type,
            flags,
            body,
            creation_order: 0,
        }
    }

    /// The same message with `order` as its creation order (version-2 headers).
    pub fn with_creation_order(mut self, order: u16) -> Self {
        self.creation_order = order;
        self
    }
}

/// Encoded size of a version-1 header holding `messages` (before any minimum size).
pub fn encoded_size_v1(messages: &[Message]) -> usize {
    PREFIX_SIZE
        + messages
            .iter()
            .map(|m| MESSAGE_HEADER_SIZE + pad8(m.body.len()))
            .sum::<usize>()
}

/// Encodes a version-1 object header with `messages`, reference count `refcount`, and a
/// message area of at least `min_data_size` bytes (the rest filled by a NIL message).
pub fn encode_v1(messages: &[Message], refcount: u32, min_data_size: usize) -> Result<Vec<u8>> {
    let mut data_size = encoded_size_v1(messages) - PREFIX_SIZE;
    let mut nil = None;
    if data_size < min_data_size {
        let room = pad8(min_data_size) - data_size;
        if room >= MESSAGE_HEADER_SIZE {
            nil = Some(room - MESSAGE_HEADER_SIZE);
            data_size += room;
        }
    }
    let count = messages.len() + usize::from(nil.is_some());
    let count = to_u16(count, "object header message count")?;
    let mut b = Vec::with_capacity(PREFIX_SIZE + data_size);
    b.u8(1); // version
    b.u8(0); // reserved
    b.u16(count);
    b.u32(refcount);
    b.u32(to_u32(data_size, "object header size")?);
    b.u32(0); // alignment padding of the prefix
    for m in messages {
        let size = pad8(m.body.len());
        let size16 = to_u16(size, "header message").map_err(|_| {
            Error::Invalid(format!(
                "header message type {:#x}: body of {} bytes exceeds the 64 KiB limit of a message",
                m.msg_type,
                m.body.len()
            ))
        })?;
        b.u16(m.msg_type);
        b.u16(size16);
        b.u8(m.flags);
        b.zeros(3);
        b.extend_from_slice(&m.body);
        b.zeros(size - m.body.len());
    }
    if let Some(n) = nil {
        b.u16(msg_type::NIL);
        b.u16(to_u16(n, "NIL message")?);
        b.u8(0);
        b.zeros(3 + n);
    }
    Ok(b)
}

/// Object header flag bit 2: attribute creation order is tracked.
pub const OHDR_ATTR_CRT_ORDER_TRACKED: u8 = 0x04;
/// Object header flag bit 3: attribute creation order is indexed.
pub const OHDR_ATTR_CRT_ORDER_INDEXED: u8 = 0x08;

/// Largest body of one header message (its size field is 16 bits).
pub const MAX_MESSAGE_SIZE: usize = u16::MAX as usize;

/// Encoded size of a version-2 header holding `messages` with object header `flags`
/// (bits 2–3 only; the chunk-size width is chosen here).
pub fn encoded_size_v2(messages: &[Message], flags: u8) -> usize {
    let (_, _, total) = v2_layout(messages, flags);
    total
}

/// (message bytes, chunk-size width, total encoded size).
fn v2_layout(messages: &[Message], flags: u8) -> (usize, usize, usize) {
    let hdr = if flags & OHDR_ATTR_CRT_ORDER_TRACKED != 0 {
        6
    } else {
        4
    };
    let data: usize = messages.iter().map(|m| hdr + m.body.len()).sum();
    let width = if data <= 0xff {
        1
    } else if data <= 0xffff {
        2
    } else if data <= 0xffff_ffff {
        4
    } else {
        8
    };
    (data, width, 4 + 1 + 1 + width + data + 4)
}

/// Encodes a version-2 object header (spec §IV.A.1.b) with `messages` in chunk 0 and object
/// header `flags`: only bits 2 (attribute creation order tracked) and 3 (indexed) are taken
/// from it; the chunk-size width (bits 0–1) is chosen from the size, and no times or
/// attribute phase change values are stored.
pub fn encode_v2(messages: &[Message], flags: u8) -> Result<Vec<u8>> {
    let flags = flags & (OHDR_ATTR_CRT_ORDER_TRACKED | OHDR_ATTR_CRT_ORDER_INDEXED);
    let (data, width, total) = v2_layout(messages, flags);
    let mut b = Vec::with_capacity(total);
    b.extend_from_slice(b"OHDR");
    b.u8(2);
    let size_bits = match width {
        1 => 0,
        2 => 1,
        4 => 2,
        _ => 3,
    };
    b.u8(flags | size_bits);
    b.extend_from_slice(&(data as u64).to_le_bytes()[..width]);
    for m in messages {
        let kind = u8::try_from(m.msg_type).map_err(|_| {
            Error::Invalid(format!(
                "message type {:#x} does not fit a version 2 object header",
                m.msg_type
            ))
        })?;
        if m.body.len() > MAX_MESSAGE_SIZE {
            return Err(Error::Invalid(format!(
                "object header message is too large: message type {:#x} of {} bytes exceeds \
                 the 64 KiB limit of a header message",
                m.msg_type,
                m.body.len()
            )));
        }
        b.u8(kind);
        b.u16(m.body.len() as u16);
        b.u8(m.flags);
        if flags & OHDR_ATTR_CRT_ORDER_TRACKED != 0 {
            b.u16(m.creation_order);
        }
        b.extend_from_slice(&m.body);
    }
    let sum = crate::checksum::lookup3(&b, 0);
    b.u32(sum);
    debug_assert_eq!(b.len(), total);
    Ok(b)
}
