//! Version-1 object headers (spec §IV.A.1.a).
//!
//! A 16-byte prefix (version 1, message count, reference count, header size, then 4 bytes of
//! alignment padding) followed by the messages of one chunk. Each message has an 8-byte header
//! (type, size, flags, 3 reserved bytes) and a body padded to a multiple of 8; the message size
//! field holds the padded size. Room beyond the messages (when a minimum size is asked for) is
//! filled with one NIL message.

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
}

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
}

impl Message {
    /// A message of `msg_type` with `flags` and `body`.
    pub fn new(msg_type: u16, flags: u8, body: Vec<u8>) -> Self {
        Message {
            msg_type,
            flags,
            body,
        }
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
