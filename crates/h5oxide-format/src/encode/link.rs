//! New-style group messages (spec §IV.A.2.c Link Info, §IV.A.2.g Group Info, §IV.A.2.k Link).
//!
//! - Link Info 0x02, version 0: flags (bit 0 creation order tracked, bit 1 indexed), [maximum
//!   creation index, 8 bytes, if tracked], fractal heap address and name-index v2 B-tree
//!   address (both undefined while the links are compact), [creation-order B-tree address if
//!   indexed].
//! - Group Info 0x0A, version 0: flags 0 (libhdf5's defaults: compact up to 8 links, dense
//!   down to 6; estimates 4 entries of 8 bytes), stored with the constant flag.
//! - Link 0x06, version 1: flags (bits 0–1 width of the name length, bit 2 creation order
//!   present, bit 3 link type present — absent for hard links, bit 4 character set present —
//!   absent for ASCII), [type], [creation order, 8 bytes], [charset], name length, name without
//!   NUL, then the target: hard = object header address; soft = 2-byte length + path; external
//!   = 2-byte length + flags byte 0 + file name NUL + object path NUL.
//!
//! The same Link message bodies are the objects of a dense group's fractal heap.

use super::{to_u16, Put};
use crate::{Error, Result};

/// Where a link points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTarget {
    /// A hard link to the object header at this address.
    Hard(u64),
    /// A soft link: a path resolved when the link is followed.
    Soft(String),
    /// An external link: an object path in another file.
    External {
        /// The other file's name.
        file: String,
        /// The object's path in that file.
        path: String,
    },
}

/// Encodes the body of a Link message for `name` with `target` and, when the group tracks
/// creation order, the link's `creation_order`.
pub fn encode_link(
    name: &str,
    target: &LinkTarget,
    creation_order: Option<u64>,
) -> Result<Vec<u8>> {
    if name.is_empty() || name.as_bytes().contains(&0) {
        return Err(Error::Invalid(format!(
            "link name {name:?}: must be non-empty and without NUL"
        )));
    }
    let n = name.len();
    let (width, wbits) = if n <= 0xff {
        (1, 0u8)
    } else if n <= 0xffff {
        (2, 1)
    } else {
        (4, 2)
    };
    let mut flags = wbits;
    let link_type = match target {
        LinkTarget::Hard(_) => None,
        LinkTarget::Soft(_) => Some(1u8),
        LinkTarget::External { .. } => Some(64u8),
    };
    if link_type.is_some() {
        flags |= 0x08;
    }
    if creation_order.is_some() {
        flags |= 0x04;
    }
    let utf8 = !name.is_ascii();
    if utf8 {
        flags |= 0x10;
    }
    let mut b = Vec::with_capacity(16 + n);
    b.u8(1);
    b.u8(flags);
    if let Some(t) = link_type {
        b.u8(t);
    }
    if let Some(c) = creation_order {
        b.u64(c);
    }
    if utf8 {
        b.u8(1);
    }
    b.extend_from_slice(&(n as u64).to_le_bytes()[..width]);
    b.extend_from_slice(name.as_bytes());
    match target {
        LinkTarget::Hard(addr) => b.u64(*addr),
        LinkTarget::Soft(path) => {
            check_value(path, "soft link target")?;
            b.u16(to_u16(path.len(), "soft link target")?);
            b.extend_from_slice(path.as_bytes());
        }
        LinkTarget::External { file, path } => {
            check_value(file, "external link file name")?;
            check_value(path, "external link object path")?;
            b.u16(to_u16(file.len() + path.len() + 3, "external link value")?);
            b.u8(0); // version 0, flags 0
            b.extend_from_slice(file.as_bytes());
            b.u8(0);
            b.extend_from_slice(path.as_bytes());
            b.u8(0);
        }
    }
    Ok(b)
}

fn check_value(s: &str, what: &str) -> Result<()> {
    if s.is_empty() || s.as_bytes().contains(&0) {
        return Err(Error::Invalid(format!(
            "{what} {s:?}: must be non-empty and without NUL"
        )));
    }
    Ok(())
}

/// The fields of a Link Info message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkInfo {
    /// Creation order tracked (flags bit 0).
    pub track_order: bool,
    /// Creation order indexed (flags bit 1).
    pub index_order: bool,
    /// The maximum creation index: the next creation order to hand out (written if tracked).
    pub max_creation_index: u64,
    /// Fractal heap of dense link storage, or [`super::UNDEF`] (compact links).
    pub heap: u64,
    /// Name-index v2 B-tree (type 5), or [`super::UNDEF`].
    pub name_index: u64,
    /// Creation-order v2 B-tree (type 6), or [`super::UNDEF`]; written when `index_order`.
    pub order_index: u64,
}

/// Encodes the body of a Link Info message (version 0).
pub fn encode_link_info(info: &LinkInfo) -> Vec<u8> {
    let mut b = Vec::new();
    b.u8(0);
    b.u8(u8::from(info.track_order) | (u8::from(info.index_order) << 1));
    if info.track_order {
        b.u64(info.max_creation_index);
    }
    b.u64(info.heap);
    b.u64(info.name_index);
    if info.index_order {
        b.u64(info.order_index);
    }
    b
}

/// Encodes the body of a Group Info message with libhdf5's default values (version 0,
/// flags 0: nothing stored).
pub fn encode_group_info() -> Vec<u8> {
    vec![0, 0]
}
