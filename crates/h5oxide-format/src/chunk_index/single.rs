//! Single-chunk index (spec Appendix C, layout v4+ index type 1; FORMAT-MAP §2.16–2.17).
//!
//! The dataset is one chunk whose dims equal the current and maximum dims. The layout's index
//! address is the chunk's address; when the chunk is filtered (layout flags bit 1) the layout also
//! stores its size and filter mask, otherwise the stored size is the chunk's byte size.

use crate::chunk_index::{ChunkRecord, Geometry};
use crate::cursor::UNDEF;
use crate::messages::layout::{ChunkIndexKind, ChunkedLayout};
use crate::{Error, Result};

fn the_record(layout: &ChunkedLayout, geom: &Geometry) -> Result<Option<ChunkRecord>> {
    let ChunkIndexKind::Single {
        address,
        filtered_size,
        filter_mask,
    } = &layout.index
    else {
        return Err(Error::Invalid("not a single-chunk index".into()));
    };
    if *address == UNDEF {
        return Ok(None);
    }
    Ok(Some(ChunkRecord {
        offset: vec![0; geom.rank()],
        address: *address,
        size: filtered_size.unwrap_or(geom.chunk_bytes),
        filter_mask: *filter_mask,
    }))
}

/// The chunk, if allocated.
pub fn records(layout: &ChunkedLayout, geom: &Geometry) -> Result<Vec<ChunkRecord>> {
    Ok(the_record(layout, geom)?.into_iter().collect())
}

/// The chunk when `scaled` is the origin.
pub fn lookup(
    layout: &ChunkedLayout,
    geom: &Geometry,
    scaled: &[u64],
) -> Result<Option<ChunkRecord>> {
    if scaled.iter().any(|&s| s != 0) {
        return Ok(None);
    }
    the_record(layout, geom)
}
