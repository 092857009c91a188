//! Fill Value message 0x05, version 2 (spec §IV.A.2.f), and the old Fill Value message 0x04
//! (spec §IV.A.2.e) that libhdf5 adds when the user sets a fill value.
//!
//! Version 3 (the "latest" profile) packs allocation time, write time and the defined /
//! undefined state into one flags byte.
//!
//! libhdf5 writes version 2 by default; with no user fill value it marks the value as defined
//! with size 0 ("the library default", zeros).

use super::{to_u32, Put};
use crate::Result;

/// Space allocation time: early.
pub const ALLOC_EARLY: u8 = 1;
/// Space allocation time: late (libhdf5's default for contiguous datasets).
pub const ALLOC_LATE: u8 = 2;
/// Space allocation time: incremental.
pub const ALLOC_INCREMENTAL: u8 = 3;
/// Fill value write time: on allocation (h5py uses it for variable-length types).
pub const FILL_ON_ALLOC: u8 = 0;
/// Fill value write time: never.
pub const FILL_NEVER: u8 = 1;
/// Fill value write time: if set by the user (the default).
pub const FILL_IF_SET: u8 = 2;

/// The value part of a Fill Value message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fill {
    /// The library default (defined, size 0): zeros.
    Default,
    /// Undefined.
    Undefined,
    /// A user-defined value, one element in the dataset's type.
    Value(Vec<u8>),
}

/// Encodes the body of a version-2 Fill Value message.
pub fn encode_v2(alloc_time: u8, fill_time: u8, fill: &Fill) -> Result<Vec<u8>> {
    let mut b = Vec::new();
    b.u8(2);
    b.u8(alloc_time);
    b.u8(fill_time);
    match fill {
        Fill::Undefined => b.u8(0),
        Fill::Default => {
            b.u8(1);
            b.u32(0);
        }
        Fill::Value(v) => {
            b.u8(1);
            b.u32(to_u32(v.len(), "fill value size")?);
            b.extend_from_slice(v);
        }
    }
    Ok(b)
}

/// Encodes the body of an old Fill Value message (type 0x04): size and value.
pub fn encode_old(value: &[u8]) -> Result<Vec<u8>> {
    let mut b = Vec::with_capacity(4 + value.len());
    b.u32(to_u32(value.len(), "fill value size")?);
    b.extend_from_slice(value);
    Ok(b)
}

/// Encodes the body of a version-3 Fill Value message: flags (bits 0–1 allocation time,
/// bits 2–3 write time, bit 4 undefined, bit 5 value present), then size and value when a
/// user value is given. The library default (zeros) has neither bit 4 nor bit 5.
pub fn encode_v3(alloc_time: u8, fill_time: u8, fill: &Fill) -> Result<Vec<u8>> {
    let mut b = Vec::new();
    b.u8(3);
    let mut flags = (alloc_time & 0x03) | ((fill_time & 0x03) << 2);
    match fill {
        Fill::Default => b.u8(flags),
        Fill::Undefined => {
            flags |= 0x10;
            b.u8(flags);
        }
        Fill::Value(v) => {
            flags |= 0x20;
            b.u8(flags);
            b.u32(to_u32(v.len(), "fill value size")?);
            b.extend_from_slice(v);
        }
    }
    Ok(b)
}
