//! Data Layout message 0x08, version 3 (spec §IV.A.2.i): compact, contiguous and chunked
//! storage (the chunked layout indexes its chunks with a v1 B-tree of type 1).

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

/// Encodes a version-3 chunked layout: the chunk B-tree at `btree` (undefined when no chunk is
/// allocated) and the chunk dimensions followed by the element size in bytes.
pub fn encode_chunked(btree: u64, chunk_dims: &[u32], element_size: u32) -> Result<Vec<u8>> {
    if chunk_dims.is_empty() || chunk_dims.len() > 32 || chunk_dims.contains(&0) {
        return Err(crate::Error::Invalid(format!(
            "chunk dimensions {chunk_dims:?}: rank 1..=32, no zero"
        )));
    }
    let mut b = Vec::with_capacity(11 + 4 * (chunk_dims.len() + 1));
    b.u8(3);
    b.u8(2); // layout class: chunked
    b.u8(chunk_dims.len() as u8 + 1);
    b.u64(btree);
    for d in chunk_dims {
        b.u32(*d);
    }
    b.u32(element_size);
    Ok(b)
}
