//! Chunk indexes of chunked datasets (spec §VII Appendix C, §III.A.1, §III.A.2; FORMAT-MAP §2.17).
//!
//! A chunked dataset's layout message names one of six indexes; each maps a chunk's position in
//! the chunk grid to the chunk's file address, stored size and filter mask:
//!
//! | index | module | layout versions |
//! |---|---|---|
//! | v1 B-tree, node type 1 | [`btree_v1`] | 1–3 |
//! | single chunk | [`single`] | 4–5 |
//! | implicit | [`implicit`] | 4–5 |
//! | fixed array | [`fixed_array`] | 4–5 |
//! | extensible array | [`extensible_array`] | 4–5 |
//! | v2 B-tree, record types 10/11 | [`btree_v2`] | 4–5 |
//!
//! [`ChunkIndex::open`] reads the index's header once; [`ChunkIndex::records`] enumerates every
//! allocated chunk and [`ChunkIndex::lookup`] finds the chunk at one grid position without
//! enumerating (the array indexes compute the element, the B-trees descend by key).
//!
//! The implicit, fixed-array and extensible-array indexes number chunks row-major over the grid
//! built from the **maximum** dimensions; the extensible array first moves its unlimited dimension
//! to the front ("swizzle", FORMAT-MAP §2.17).

pub mod btree_v1;
pub mod btree_v2;
pub mod extensible_array;
pub mod fixed_array;
pub mod implicit;
pub mod single;

use crate::cursor::UNDEF;
use crate::messages::layout::{ChunkIndexKind, ChunkedLayout};
use crate::source::Ctx;
use crate::{Error, Result};

/// One allocated chunk.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChunkRecord {
    /// Element coordinates of the chunk's first element (a multiple of the chunk dims).
    pub offset: Vec<u64>,
    /// File address of the stored chunk.
    pub address: u64,
    /// Stored (possibly filtered) size in bytes.
    pub size: u64,
    /// Filter mask: bit *i* set means filter *i* of the pipeline was not applied.
    pub filter_mask: u32,
}

/// The chunk grid of a dataset: chunk dims, current and maximum dims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geometry {
    /// Chunk dimensions in elements (never 0).
    pub chunk_dims: Vec<u64>,
    /// Current dataset dimensions.
    pub dims: Vec<u64>,
    /// Maximum dataset dimensions (`None` = unlimited).
    pub max_dims: Vec<Option<u64>>,
    /// Bytes in one unfiltered chunk.
    pub chunk_bytes: u64,
}

impl Geometry {
    /// Builds and checks the geometry of a chunked layout over a dataspace.
    pub fn new(layout: &ChunkedLayout, dims: &[u64], max_dims: &[Option<u64>]) -> Result<Self> {
        let bad = |r: String| Error::corrupt("chunked layout", layout.index_address(), r);
        if layout.chunk_dims.len() != dims.len() {
            return Err(bad(format!(
                "layout has {} chunk dimensions, dataspace rank is {}",
                layout.chunk_dims.len(),
                dims.len()
            )));
        }
        let max_dims: Vec<Option<u64>> = if max_dims.len() == dims.len() {
            max_dims.to_vec()
        } else {
            dims.iter().map(|&d| Some(d)).collect()
        };
        let chunk_bytes = layout
            .chunk_bytes()
            .ok_or_else(|| bad("chunk size overflows".into()))?;
        Ok(Geometry {
            chunk_dims: layout.chunk_dims.clone(),
            dims: dims.to_vec(),
            max_dims,
            chunk_bytes,
        })
    }

    /// Rank of the dataset.
    pub fn rank(&self) -> usize {
        self.dims.len()
    }

    /// Number of chunks along each dimension covering the current dims.
    pub fn grid(&self) -> Vec<u64> {
        self.dims
            .iter()
            .zip(&self.chunk_dims)
            .map(|(&d, &c)| d.div_ceil(c))
            .collect()
    }

    /// Number of chunks along each dimension covering the maximum dims (`None` = unlimited).
    pub fn max_grid(&self) -> Vec<Option<u64>> {
        self.max_dims
            .iter()
            .zip(&self.chunk_dims)
            .map(|(m, &c)| m.map(|m| m.div_ceil(c)))
            .collect()
    }

    /// Element offset of the chunk at grid position `scaled`, `None` on overflow.
    pub fn offset_of(&self, scaled: &[u64]) -> Option<Vec<u64>> {
        scaled
            .iter()
            .zip(&self.chunk_dims)
            .map(|(&s, &c)| s.checked_mul(c))
            .collect()
    }

    /// True when the chunk at element offset `offset` extends past the current dims.
    pub fn is_partial_edge(&self, offset: &[u64]) -> bool {
        offset
            .iter()
            .zip(&self.chunk_dims)
            .zip(&self.dims)
            .any(|((&o, &c), &d)| o.saturating_add(c) > d)
    }
}

/// Row-major strides ("down chunks") of a grid; `None` when the product overflows. The first
/// dimension's extent is not used (it may be unlimited).
pub(crate) fn down_products(grid: &[u64]) -> Option<Vec<u64>> {
    let mut down = vec![1u64; grid.len()];
    let mut acc = 1u64;
    for i in (0..grid.len()).rev() {
        if let Some(d) = down.get_mut(i) {
            *d = acc;
        }
        if i > 0 {
            acc = acc.checked_mul(*grid.get(i)?)?;
        }
    }
    Some(down)
}

/// Linear index of `scaled` with the given down products, `None` on overflow.
pub(crate) fn linear(scaled: &[u64], down: &[u64]) -> Option<u64> {
    scaled
        .iter()
        .zip(down)
        .try_fold(0u64, |a, (&s, &d)| a.checked_add(s.checked_mul(d)?))
}

/// Grid position of linear index `idx` with the given down products (inverse of [`linear`]).
pub(crate) fn unlinear(mut idx: u64, down: &[u64]) -> Vec<u64> {
    down.iter()
        .map(|&d| {
            let d = d.max(1);
            let s = idx / d;
            idx %= d;
            s
        })
        .collect()
}

/// An opened chunk index.
pub struct ChunkIndex<'a> {
    ctx: Ctx<'a>,
    geom: Geometry,
    layout: ChunkedLayout,
    state: State,
}

impl std::fmt::Debug for ChunkIndex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkIndex")
            .field("geom", &self.geom)
            .field("layout", &self.layout)
            .field("state", &self.state)
            .finish()
    }
}

#[derive(Debug)]
enum State {
    /// No storage allocated (index address undefined).
    Empty,
    BTreeV1,
    Single,
    Implicit,
    FixedArray(fixed_array::FixedArray),
    ExtensibleArray(Box<extensible_array::ExtensibleArray>),
    BTreeV2(btree_v2::ChunkBTree),
}

impl<'a> ChunkIndex<'a> {
    /// Opens the index of `layout` for a dataset of current dims `dims` and maximum dims
    /// `max_dims` (`None` = unlimited; an empty slice means "same as `dims`"). `filtered` says
    /// whether the dataset has a non-empty filter pipeline; the fixed-array, extensible-array and
    /// v2 B-tree indexes take the record format from their own headers (client id / record type)
    /// instead, so a disagreement does not stop reading.
    pub fn open(
        ctx: &Ctx<'a>,
        layout: &ChunkedLayout,
        dims: &[u64],
        max_dims: &[Option<u64>],
        filtered: bool,
    ) -> Result<Self> {
        let geom = Geometry::new(layout, dims, max_dims)?;
        let addr = layout.index_address();
        let state = if addr == UNDEF {
            State::Empty
        } else {
            match &layout.index {
                ChunkIndexKind::BTreeV1 { .. } => State::BTreeV1,
                ChunkIndexKind::Single { .. } => State::Single,
                ChunkIndexKind::Implicit { .. } => State::Implicit,
                ChunkIndexKind::FixedArray { .. } => {
                    State::FixedArray(fixed_array::FixedArray::open(ctx, addr, &geom, filtered)?)
                }
                ChunkIndexKind::ExtensibleArray { .. } => State::ExtensibleArray(Box::new(
                    extensible_array::ExtensibleArray::open(ctx, addr, &geom, filtered)?,
                )),
                ChunkIndexKind::BTreeV2 { .. } => State::BTreeV2(btree_v2::ChunkBTree::open(
                    ctx,
                    addr,
                    &geom,
                    layout.version,
                    filtered,
                )?),
            }
        };
        Ok(ChunkIndex {
            ctx: *ctx,
            geom,
            layout: layout.clone(),
            state,
        })
    }

    /// The grid geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geom
    }

    /// The layout this index belongs to.
    pub fn layout(&self) -> &ChunkedLayout {
        &self.layout
    }

    /// Every allocated chunk, sorted by offset.
    pub fn records(&self) -> Result<Vec<ChunkRecord>> {
        self.records_impl(false)
    }

    /// Every allocated chunk with the offsets libhdf5's chunk iteration reports
    /// (`H5Dget_chunk_info`, `H5Dchunk_iter`, the canonical dump's `chunk_info`), sorted by
    /// those offsets. They equal [`ChunkIndex::records`] except for extensible-array indexes whose
    /// unlimited dimension is not the first: libhdf5 2.0 steps the coordinates there as if the
    /// array were not swizzled, so it reports e.g. `[0, 20]` for the chunk at `[0, 5]`.
    pub fn records_as_reported(&self) -> Result<Vec<ChunkRecord>> {
        self.records_impl(true)
    }

    fn records_impl(&self, reported: bool) -> Result<Vec<ChunkRecord>> {
        let ctx = &self.ctx;
        let mut v = match &self.state {
            State::Empty => Vec::new(),
            State::BTreeV1 => btree_v1::records(ctx, &self.layout, &self.geom)?,
            State::Single => single::records(&self.layout, &self.geom)?,
            State::Implicit => implicit::records(ctx, &self.layout, &self.geom)?,
            State::FixedArray(fa) => fa.records(ctx, &self.geom)?,
            State::ExtensibleArray(ea) => ea.records(ctx, &self.geom, reported)?,
            State::BTreeV2(bt) => bt.records(ctx, &self.geom)?,
        };
        v.sort_by(|a, b| a.offset.cmp(&b.offset));
        Ok(v)
    }

    /// The allocated chunk at grid position `scaled` (element offset / chunk dims), if any.
    pub fn lookup(&self, scaled: &[u64]) -> Result<Option<ChunkRecord>> {
        if scaled.len() != self.geom.rank() {
            return Err(Error::Invalid(format!(
                "chunk coordinate of rank {} for a dataset of rank {}",
                scaled.len(),
                self.geom.rank()
            )));
        }
        let ctx = &self.ctx;
        match &self.state {
            State::Empty => Ok(None),
            State::BTreeV1 => btree_v1::lookup(ctx, &self.layout, &self.geom, scaled),
            State::Single => single::lookup(&self.layout, &self.geom, scaled),
            State::Implicit => implicit::lookup(&self.layout, &self.geom, scaled),
            State::FixedArray(fa) => fa.lookup(ctx, &self.geom, scaled),
            State::ExtensibleArray(ea) => ea.lookup(ctx, &self.geom, scaled),
            State::BTreeV2(bt) => bt.lookup(ctx, &self.geom, scaled),
        }
    }
}

/// Every allocated chunk of a chunked dataset, sorted by offset (see [`ChunkIndex`]).
pub fn chunk_records(
    ctx: &Ctx<'_>,
    layout: &ChunkedLayout,
    dims: &[u64],
    max_dims: &[Option<u64>],
    filtered: bool,
) -> Result<Vec<ChunkRecord>> {
    ChunkIndex::open(ctx, layout, dims, max_dims, filtered)?.records()
}

/// Decodes one chunk element of a fixed or extensible array: address, and for filtered arrays
/// the chunk size (`entry_size − O − 4` bytes) and filter mask.
pub(crate) fn decode_array_entry(
    c: &mut crate::cursor::Cursor<'_>,
    filtered: bool,
    entry_size: usize,
    chunk_bytes: u64,
) -> Result<Option<(u64, u64, u32)>> {
    let addr = c.offset()?;
    let (size, mask) = if filtered {
        let o = c.sizes().offset as usize;
        let w = entry_size
            .checked_sub(o + 4)
            .filter(|w| (1..=8).contains(w))
            .ok_or_else(|| c.corrupt(format!("filtered chunk entry size {entry_size}")))?;
        (c.uint(w)?, c.u32()?)
    } else {
        (chunk_bytes, 0)
    };
    Ok(if addr == UNDEF {
        None
    } else {
        Some((addr, size, mask))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_roundtrip() {
        let down = down_products(&[3, 4, 5]).unwrap();
        assert_eq!(down, vec![20, 5, 1]);
        for i in 0..60 {
            assert_eq!(linear(&unlinear(i, &down), &down), Some(i));
        }
        assert_eq!(down_products(&[u64::MAX, 3, 2]), Some(vec![6, 2, 1]));
        assert!(down_products(&[1, u64::MAX, 3]).is_none());
    }
}
