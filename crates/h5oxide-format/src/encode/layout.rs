//! Data Layout message 0x08 (spec §IV.A.2.i).
//!
//! Version 3: compact, contiguous and chunked storage (the chunked layout indexes its chunks
//! with a v1 B-tree of type 1). Version 4 (written by the "latest" profile for chunked storage
//! only; libhdf5 keeps version 3 for compact and contiguous): flags, dimensionality (rank + 1),
//! the byte width of the dimension fields, the chunk dimensions and element size in that width,
//! the chunk index type with its parameters, and the index address (spec §IV.A.2.i, "Layout:
//! Version 4"; FORMAT-MAP §2.16–2.17: the single-chunk filtered size is present when flags
//! bit 1 is set).

use super::{to_u16, Put};
use crate::messages::layout::ChunkIndexKind;
use crate::{Error, Result};

/// Encodes an External Data Files message 0x07 (spec §IV.A.2.h), version 1: the local heap
/// at `heap` holds the names; each slot is `(name offset in the heap, offset in the file, bytes)`
/// (`u64::MAX` bytes: unlimited). As many slots allocated as used, as libhdf5 writes it.
pub fn encode_external_files(heap: u64, slots: &[(u64, u64, u64)]) -> Result<Vec<u8>> {
    let n = u16::try_from(slots.len())
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::Invalid(format!("{} external files", slots.len())))?;
    let mut b = Vec::with_capacity(16 + 24 * slots.len());
    b.u8(1);
    b.zeros(3);
    b.u16(n); // allocated
    b.u16(n); // used
    b.u64(heap);
    for &(name, offset, size) in slots {
        b.u64(name);
        b.u64(offset);
        b.u64(size);
    }
    Ok(b)
}

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

/// Encodes a version-4 virtual layout (class 3; spec §IV.A.2.i "Layout: Version 4"): the
/// mapping block is object `index` of the global heap collection at `heap`
/// ([`super::vds::encode_mappings`]).
pub fn encode_virtual(heap: u64, index: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(14);
    b.u8(4);
    b.u8(3); // layout class: virtual
    b.u64(heap);
    b.u32(index);
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

/// Chunked layout flag bit 1: the single chunk of a single-chunk index is filtered.
pub const FLAG_SINGLE_INDEX_WITH_FILTER: u8 = 0x02;

/// Bytes of each dimension field of a version-4 chunked layout: enough for the largest of the
/// chunk dimensions and the element size (libhdf5's rule, `(floor(log2(max)) + 8) / 8`).
pub fn dim_width(chunk_dims: &[u64], element_size: u32) -> usize {
    let max = chunk_dims
        .iter()
        .copied()
        .chain([u64::from(element_size)])
        .max()
        .unwrap_or(1)
        .max(1);
    ((63 - max.leading_zeros() as usize) + 8) / 8
}

/// Encodes a version-4 chunked layout with `chunk_dims` (one per dataset dimension),
/// `element_size` and the chunk `index` (any index type but the v1 B-tree).
pub fn encode_chunked_v4(
    chunk_dims: &[u64],
    element_size: u32,
    index: &ChunkIndexKind,
) -> Result<Vec<u8>> {
    if chunk_dims.is_empty() || chunk_dims.len() > 32 || chunk_dims.contains(&0) {
        return Err(Error::Invalid(format!(
            "chunk dimensions {chunk_dims:?}: rank 1..=32, no zero"
        )));
    }
    let width = dim_width(chunk_dims, element_size);
    let flags = match index {
        ChunkIndexKind::Single {
            filtered_size: Some(_),
            ..
        } => FLAG_SINGLE_INDEX_WITH_FILTER,
        _ => 0,
    };
    let mut b = Vec::new();
    b.u8(4);
    b.u8(2); // layout class: chunked
    b.u8(flags);
    b.u8(chunk_dims.len() as u8 + 1);
    b.u8(width as u8);
    for d in chunk_dims.iter().copied().chain([u64::from(element_size)]) {
        b.extend_from_slice(&d.to_le_bytes()[..width]);
    }
    match index {
        ChunkIndexKind::Single {
            address,
            filtered_size,
            filter_mask,
        } => {
            b.u8(1);
            if let Some(size) = filtered_size {
                b.u64(*size);
                b.u32(*filter_mask);
            }
            b.u64(*address);
        }
        ChunkIndexKind::Implicit { address } => {
            b.u8(2);
            b.u64(*address);
        }
        ChunkIndexKind::FixedArray { page_bits, address } => {
            b.u8(3);
            b.u8(*page_bits);
            b.u64(*address);
        }
        ChunkIndexKind::ExtensibleArray { params, address } => {
            b.u8(4);
            b.u8(params.max_elements_bits);
            b.u8(params.index_block_elements);
            b.u8(params.min_data_block_pointers);
            b.u8(params.min_data_block_elements);
            b.u8(params.page_bits);
            b.u64(*address);
        }
        ChunkIndexKind::BTreeV2 {
            node_size,
            split_percent,
            merge_percent,
            address,
        } => {
            b.u8(5);
            b.u32(*node_size);
            b.u8(*split_percent);
            b.u8(*merge_percent);
            b.u64(*address);
        }
        ChunkIndexKind::BTreeV1 { .. } => {
            return Err(Error::Invalid(
                "a version-4 layout cannot use the v1 B-tree chunk index".into(),
            ))
        }
    }
    Ok(b)
}

/// Bytes of a filtered chunk's stored size in the chunk index records of a version-4 layout:
/// `1 + (floor(log2(chunk bytes)) + 8) / 8`, at most 8 (libhdf5's rule; FORMAT-MAP §2.17).
pub fn filtered_size_width(chunk_bytes: u64) -> usize {
    let log2 = 63 - chunk_bytes.max(1).leading_zeros() as usize;
    (1 + (log2 + 8) / 8).min(8)
}
