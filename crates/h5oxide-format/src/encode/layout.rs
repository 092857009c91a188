//! Data Layout message 0x08, version 3 (spec §IV.A.2.i), compact and contiguous storage.

use super::{to_u16, Put};
use crate::Result;

/// Encodes a version-3 contiguous layout: raw data at `addr` (undefined when not allocated),
/// `size` bytes.
pub fn encode_contiguous(addr: u64, size: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(18);
    b.u8(3);
    b.u8(1); // layout class: contiguous
    b.u64(addr);
    b.u64(size);
    b
}

/// Encodes a version-3 compact layout holding `data` in the message itself (at most 64 KiB).
pub fn encode_compact(data: &[u8]) -> Result<Vec<u8>> {
    let mut b = Vec::with_capacity(4 + data.len());
    b.u8(3);
    b.u8(0); // layout class: compact
    b.u16(to_u16(data.len(), "compact dataset")?);
    b.extend_from_slice(data);
    Ok(b)
}
