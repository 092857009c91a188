//! Data Layout message 0x08 (spec §IV.A.2.i), versions 1 to 5.
//!
//! * Versions 1 and 2 (HDF5 ≤ 1.6) store a dimensionality, a class, an address (not for compact)
//!   and `ndims` 4-byte sizes. In practice `ndims` = rank + 1 for *every* class: the last "dimension"
//!   is the element size in bytes (FORMAT-MAP §2.16; the spec's separate *Dataset Element Size* row
//!   is that dimension). Contiguous sizes may be truncated to 32 bits in these versions, so callers
//!   should compute the byte size from the dataspace.
//! * Version 3: compact (2-byte size + data), contiguous (address + length), chunked (ndims,
//!   v1 B-tree address, ndims 4-byte dims, the last one the element size).
//! * Versions 4 and 5: chunked storage gains flags, a dimension-size width and one of five chunk
//!   indexes with their parameters (Appendix C); class 3 is a virtual dataset. Version 5 (HDF5 2.0)
//!   differs only in the width of filtered chunk sizes inside the index records.
//!
//! Quirks from FORMAT-MAP §5: the single-chunk filter information is present when flags **bit 1**
//! is set (not bit 0), and the extensible-array *page bits* parameter is 1 byte.

use crate::cursor::{Cursor, UNDEF};
use crate::{Error, Result};

/// Chunked layout flag bit 0: partial edge chunks are stored unfiltered.
pub const FLAG_DONT_FILTER_PARTIAL_EDGE_CHUNKS: u8 = 0x01;
/// Chunked layout flag bit 1: the single chunk of a single-chunk index is filtered.
pub const FLAG_SINGLE_INDEX_WITH_FILTER: u8 = 0x02;

/// A decoded Data Layout message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataLayout {
    /// The raw data is stored in the message itself.
    Compact {
        /// The raw data bytes.
        data: Vec<u8>,
    },
    /// The raw data is one contiguous block of the file.
    Contiguous {
        /// File address of the data, or [`UNDEF`] when not allocated.
        address: u64,
        /// Size in bytes as stored. For versions 1 and 2 this is the product of the stored
        /// (32-bit) dimensions and may be truncated; prefer dataspace × element size.
        size: u64,
    },
    /// The raw data is stored in chunks found through a chunk index.
    Chunked(ChunkedLayout),
    /// A virtual dataset: the mappings are in a global heap object.
    Virtual {
        /// Address of the global heap collection.
        heap_address: u64,
        /// Index of the object within the collection.
        index: u32,
    },
}

/// The chunked-storage part of a Data Layout message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedLayout {
    /// Layout message version (1–5).
    pub version: u8,
    /// Flags (versions 4 and 5; 0 otherwise): see [`FLAG_DONT_FILTER_PARTIAL_EDGE_CHUNKS`] and
    /// [`FLAG_SINGLE_INDEX_WITH_FILTER`].
    pub flags: u8,
    /// Chunk dimensions in elements, one per dataspace dimension (the element-size dimension
    /// removed). Scalar datasets have none.
    pub chunk_dims: Vec<u64>,
    /// Size of one element in bytes (the trailing stored dimension).
    pub element_size: u64,
    /// The chunk index and its parameters.
    pub index: ChunkIndexKind,
}

impl ChunkedLayout {
    /// True when partial edge chunks are stored without filters (flags bit 0).
    pub fn dont_filter_partial_edge_chunks(&self) -> bool {
        self.flags & FLAG_DONT_FILTER_PARTIAL_EDGE_CHUNKS != 0
    }

    /// Number of elements in one chunk, `None` on overflow.
    pub fn chunk_elements(&self) -> Option<u64> {
        self.chunk_dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
    }

    /// Size in bytes of one (unfiltered) chunk, `None` on overflow.
    pub fn chunk_bytes(&self) -> Option<u64> {
        self.chunk_elements()?.checked_mul(self.element_size)
    }

    /// The address of the chunk index (or of the chunk(s) for single and implicit indexes).
    pub fn index_address(&self) -> u64 {
        match self.index {
            ChunkIndexKind::BTreeV1 { address }
            | ChunkIndexKind::Single { address, .. }
            | ChunkIndexKind::Implicit { address }
            | ChunkIndexKind::FixedArray { address, .. }
            | ChunkIndexKind::ExtensibleArray { address, .. }
            | ChunkIndexKind::BTreeV2 { address, .. } => address,
        }
    }
}

/// Creation parameters of an extensible-array chunk index (layout v4+, index type 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensibleArrayParams {
    /// Bits needed to store the maximum number of elements.
    pub max_elements_bits: u8,
    /// Elements stored directly in the index block.
    pub index_block_elements: u8,
    /// Minimum data-block pointers in a super block.
    pub min_data_block_pointers: u8,
    /// Minimum elements in a data block.
    pub min_data_block_elements: u8,
    /// log2 of the elements in a data-block page.
    pub page_bits: u8,
}

/// Which chunk index a chunked layout uses, with its parameters and address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkIndexKind {
    /// Version 1 B-tree, node type 1 (layout versions 1–3).
    BTreeV1 {
        /// Root node address, or [`UNDEF`] when no chunk is allocated.
        address: u64,
    },
    /// A single chunk (index type 1).
    Single {
        /// Chunk address, or [`UNDEF`].
        address: u64,
        /// Stored size of the filtered chunk (only when the chunk is filtered).
        filtered_size: Option<u64>,
        /// Filter mask of the filtered chunk (0 when unfiltered).
        filter_mask: u32,
    },
    /// Implicit index (type 2): chunks stored back to back from `address`.
    Implicit {
        /// Address of the first chunk, or [`UNDEF`].
        address: u64,
    },
    /// Fixed array (type 3).
    FixedArray {
        /// log2 of the elements in a data-block page.
        page_bits: u8,
        /// Fixed array header address, or [`UNDEF`].
        address: u64,
    },
    /// Extensible array (type 4).
    ExtensibleArray {
        /// Creation parameters.
        params: ExtensibleArrayParams,
        /// Extensible array header address, or [`UNDEF`].
        address: u64,
    },
    /// Version 2 B-tree (type 5), record types 10/11.
    BTreeV2 {
        /// Node size in bytes.
        node_size: u32,
        /// Split percent.
        split_percent: u8,
        /// Merge percent.
        merge_percent: u8,
        /// B-tree header address, or [`UNDEF`].
        address: u64,
    },
}

impl ChunkIndexKind {
    /// The canonical name (`btree_v1`, `single`, `implicit`, `fixed_array`, `extensible_array`,
    /// `btree_v2`).
    pub fn name(&self) -> &'static str {
        match self {
            ChunkIndexKind::BTreeV1 { .. } => "btree_v1",
            ChunkIndexKind::Single { .. } => "single",
            ChunkIndexKind::Implicit { .. } => "implicit",
            ChunkIndexKind::FixedArray { .. } => "fixed_array",
            ChunkIndexKind::ExtensibleArray { .. } => "extensible_array",
            ChunkIndexKind::BTreeV2 { .. } => "btree_v2",
        }
    }
}

/// Largest dimensionality a layout message can describe (HDF5's 32 + the element-size dim).
const MAX_NDIMS: usize = 33;

impl DataLayout {
    /// Decodes a Data Layout message body.
    pub fn decode(c: &mut Cursor<'_>) -> Result<DataLayout> {
        let version = c.u8()?;
        match version {
            1 | 2 => Self::decode_v1_v2(c, version),
            3 => Self::decode_v3(c),
            4 | 5 => Self::decode_v4_v5(c, version),
            v => Err(Error::UnsupportedVersion {
                structure: "data layout message",
                version: v as u32,
            }),
        }
    }

    /// The chunked layout, if this is one.
    pub fn chunked(&self) -> Option<&ChunkedLayout> {
        match self {
            DataLayout::Chunked(c) => Some(c),
            _ => None,
        }
    }

    /// The canonical layout name (`compact`, `contiguous`, `chunked`, `virtual`).
    pub fn name(&self) -> &'static str {
        match self {
            DataLayout::Compact { .. } => "compact",
            DataLayout::Contiguous { .. } => "contiguous",
            DataLayout::Chunked(_) => "chunked",
            DataLayout::Virtual { .. } => "virtual",
        }
    }

    fn decode_v1_v2(c: &mut Cursor<'_>, version: u8) -> Result<DataLayout> {
        let ndims = c.u8()? as usize;
        let class = c.u8()?;
        c.skip(5)?;
        if ndims == 0 || ndims > MAX_NDIMS {
            return Err(c.corrupt(format!("layout dimensionality {ndims}")));
        }
        let address = if class != 0 { c.offset()? } else { UNDEF };
        let mut dims = Vec::with_capacity(ndims);
        for _ in 0..ndims {
            dims.push(c.u32()? as u64);
        }
        match class {
            0 => {
                let size = c.u32()? as usize;
                let data = c.bytes(size)?.to_vec();
                Ok(DataLayout::Compact { data })
            }
            1 => {
                let size = dims.iter().fold(1u64, |a, &d| a.saturating_mul(d));
                Ok(DataLayout::Contiguous { address, size })
            }
            2 => chunked_from_dims(c, version, 0, dims, ChunkIndexKind::BTreeV1 { address }),
            k => Err(c.corrupt(format!("layout class {k}"))),
        }
    }

    fn decode_v3(c: &mut Cursor<'_>) -> Result<DataLayout> {
        let class = c.u8()?;
        match class {
            0 => {
                let size = c.u16()? as usize;
                Ok(DataLayout::Compact {
                    data: c.bytes(size)?.to_vec(),
                })
            }
            1 => Ok(DataLayout::Contiguous {
                address: c.offset()?,
                size: c.length()?,
            }),
            2 => {
                let ndims = c.u8()? as usize;
                if ndims == 0 || ndims > MAX_NDIMS {
                    return Err(c.corrupt(format!("layout dimensionality {ndims}")));
                }
                let address = c.offset()?;
                let mut dims = Vec::with_capacity(ndims);
                for _ in 0..ndims {
                    dims.push(c.u32()? as u64);
                }
                chunked_from_dims(c, 3, 0, dims, ChunkIndexKind::BTreeV1 { address })
            }
            k => Err(c.corrupt(format!("layout class {k}"))),
        }
    }

    fn decode_v4_v5(c: &mut Cursor<'_>, version: u8) -> Result<DataLayout> {
        let class = c.u8()?;
        match class {
            // Identical to version 3 for these classes.
            0 => {
                let size = c.u16()? as usize;
                Ok(DataLayout::Compact {
                    data: c.bytes(size)?.to_vec(),
                })
            }
            1 => Ok(DataLayout::Contiguous {
                address: c.offset()?,
                size: c.length()?,
            }),
            2 => {
                let flags = c.u8()?;
                if flags & !0x03 != 0 {
                    return Err(c.corrupt(format!("unknown chunked layout flags {flags:#x}")));
                }
                let ndims = c.u8()? as usize;
                if ndims == 0 || ndims > MAX_NDIMS {
                    return Err(c.corrupt(format!("layout dimensionality {ndims}")));
                }
                let width = c.u8()? as usize;
                if !(1..=8).contains(&width) {
                    return Err(c.corrupt(format!("chunk dimension size width {width}")));
                }
                let mut dims = Vec::with_capacity(ndims);
                for _ in 0..ndims {
                    dims.push(c.uint(width)?);
                }
                let index_type = c.u8()?;
                let index = match index_type {
                    1 => {
                        let (filtered_size, filter_mask) =
                            if flags & FLAG_SINGLE_INDEX_WITH_FILTER != 0 {
                                (Some(c.length()?), c.u32()?)
                            } else {
                                (None, 0)
                            };
                        ChunkIndexKind::Single {
                            address: c.offset()?,
                            filtered_size,
                            filter_mask,
                        }
                    }
                    2 => ChunkIndexKind::Implicit {
                        address: c.offset()?,
                    },
                    3 => {
                        let page_bits = c.u8()?;
                        ChunkIndexKind::FixedArray {
                            page_bits,
                            address: c.offset()?,
                        }
                    }
                    4 => {
                        let params = ExtensibleArrayParams {
                            max_elements_bits: c.u8()?,
                            index_block_elements: c.u8()?,
                            min_data_block_pointers: c.u8()?,
                            min_data_block_elements: c.u8()?,
                            page_bits: c.u8()?,
                        };
                        ChunkIndexKind::ExtensibleArray {
                            params,
                            address: c.offset()?,
                        }
                    }
                    5 => {
                        let node_size = c.u32()?;
                        let split_percent = c.u8()?;
                        let merge_percent = c.u8()?;
                        ChunkIndexKind::BTreeV2 {
                            node_size,
                            split_percent,
                            merge_percent,
                            address: c.offset()?,
                        }
                    }
                    t => return Err(c.corrupt(format!("chunk index type {t}"))),
                };
                chunked_from_dims(c, version, flags, dims, index)
            }
            3 => Ok(DataLayout::Virtual {
                heap_address: c.offset()?,
                index: c.u32()?,
            }),
            k => Err(c.corrupt(format!("layout class {k}"))),
        }
    }
}

/// Splits the stored dims into chunk dims and the trailing element size, and validates them.
fn chunked_from_dims(
    c: &Cursor<'_>,
    version: u8,
    flags: u8,
    mut dims: Vec<u64>,
    index: ChunkIndexKind,
) -> Result<DataLayout> {
    let element_size = dims
        .pop()
        .ok_or_else(|| c.corrupt("chunked layout without dimensions"))?;
    if element_size == 0 {
        return Err(c.corrupt("chunked layout with element size 0"));
    }
    if dims.contains(&0) {
        return Err(c.corrupt("chunk dimension of 0"));
    }
    let layout = ChunkedLayout {
        version,
        flags,
        chunk_dims: dims,
        element_size,
        index,
    };
    if layout.chunk_bytes().is_none() {
        return Err(c.corrupt("chunk size overflows"));
    }
    Ok(DataLayout::Chunked(layout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Sizes;

    fn dec(b: &[u8]) -> Result<DataLayout> {
        DataLayout::decode(&mut Cursor::new(b, 0, "layout", Sizes::default()))
    }

    #[test]
    fn v3_chunked() {
        let mut b = vec![3u8, 2, 3];
        b.extend_from_slice(&0x1234u64.to_le_bytes());
        for d in [10u32, 20, 4] {
            b.extend_from_slice(&d.to_le_bytes());
        }
        let l = dec(&b).unwrap();
        let c = l.chunked().unwrap();
        assert_eq!(c.chunk_dims, vec![10, 20]);
        assert_eq!(c.element_size, 4);
        assert_eq!(c.index, ChunkIndexKind::BTreeV1 { address: 0x1234 });
        assert_eq!(c.chunk_bytes(), Some(800));
    }

    #[test]
    fn v1_contiguous_and_compact() {
        let mut b = vec![1u8, 3, 1, 0, 0, 0, 0, 0];
        b.extend_from_slice(&0x800u64.to_le_bytes());
        for d in [4u32, 5, 8] {
            b.extend_from_slice(&d.to_le_bytes());
        }
        assert_eq!(
            dec(&b).unwrap(),
            DataLayout::Contiguous {
                address: 0x800,
                size: 160
            }
        );
        let mut b = vec![2u8, 2, 0, 0, 0, 0, 0, 0];
        for d in [2u32, 2] {
            b.extend_from_slice(&d.to_le_bytes());
        }
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(
            dec(&b).unwrap(),
            DataLayout::Compact {
                data: vec![1, 2, 3, 4]
            }
        );
    }

    #[test]
    fn v4_indexes() {
        // single, filtered
        let mut b = vec![4u8, 2, 2, 2, 2];
        b.extend_from_slice(&[10, 0, 8, 0]);
        b.push(1);
        b.extend_from_slice(&55u64.to_le_bytes());
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&0x99u64.to_le_bytes());
        let l = dec(&b).unwrap();
        let c = l.chunked().unwrap();
        assert_eq!(c.chunk_dims, vec![10]);
        assert_eq!(c.element_size, 8);
        assert_eq!(
            c.index,
            ChunkIndexKind::Single {
                address: 0x99,
                filtered_size: Some(55),
                filter_mask: 3
            }
        );
        // extensible array: 5 one-byte parameters
        let mut b = vec![4u8, 2, 0, 2, 1, 10, 4, 4];
        b.extend_from_slice(&[32, 4, 4, 16, 10]);
        b.extend_from_slice(&0x77u64.to_le_bytes());
        let c = dec(&b).unwrap();
        match &c.chunked().unwrap().index {
            ChunkIndexKind::ExtensibleArray { params, address } => {
                assert_eq!(*address, 0x77);
                assert_eq!(params.page_bits, 10);
                assert_eq!(params.min_data_block_elements, 16);
            }
            other => panic!("{other:?}"),
        }
        // truncated / overflowing inputs are errors, not panics
        for n in 0..b.len() {
            assert!(dec(&b[..n]).is_err());
        }
        let mut b = vec![4u8, 2, 0, 3, 8];
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        b.extend_from_slice(&8u64.to_le_bytes());
        b.push(2);
        b.extend_from_slice(&0u64.to_le_bytes());
        assert!(dec(&b).is_err());
    }
}
