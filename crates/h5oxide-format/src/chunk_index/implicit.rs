//! Implicit chunk index (spec Appendix C, layout v4+ index type 2; FORMAT-MAP §2.17).
//!
//! Used for fixed-size, unfiltered datasets with early allocation: every chunk of the grid is
//! allocated, back to back from the layout's address, chunk *i* at `address + i × chunk_bytes`,
//! where *i* numbers chunks row-major over the grid of the **maximum** dims.

use crate::chunk_index::{down_products, linear, ChunkRecord, Geometry};
use crate::cursor::UNDEF;
use crate::messages::layout::ChunkedLayout;
use crate::source::Ctx;
use crate::{Error, Result};

fn max_down(geom: &Geometry, addr: u64) -> Result<Vec<u64>> {
    let grid: Option<Vec<u64>> = geom.max_grid().into_iter().collect();
    let grid = grid.ok_or_else(|| {
        Error::corrupt(
            "implicit chunk index",
            addr,
            "implicit index on a dataset with unlimited dims",
        )
    })?;
    down_products(&grid)
        .ok_or_else(|| Error::corrupt("implicit chunk index", addr, "chunk grid overflows"))
}

fn at(geom: &Geometry, base: u64, down: &[u64], scaled: &[u64]) -> Result<Option<ChunkRecord>> {
    let bad = || Error::corrupt("implicit chunk index", base, "chunk address overflows");
    let idx = linear(scaled, down).ok_or_else(bad)?;
    let address = idx
        .checked_mul(geom.chunk_bytes)
        .and_then(|o| o.checked_add(base))
        .ok_or_else(bad)?;
    let offset = geom.offset_of(scaled).ok_or_else(bad)?;
    Ok(Some(ChunkRecord {
        offset,
        address,
        size: geom.chunk_bytes,
        filter_mask: 0,
    }))
}

/// Every chunk of the current-dims grid.
pub fn records(ctx: &Ctx<'_>, layout: &ChunkedLayout, geom: &Geometry) -> Result<Vec<ChunkRecord>> {
    let base = layout.index_address();
    if base == UNDEF || geom.dims.contains(&0) {
        return Ok(Vec::new());
    }
    let down = max_down(geom, base)?;
    let grid = geom.grid();
    let n = grid.iter().try_fold(1u64, |a, &g| a.checked_mul(g));
    // No index structure bounds this count, but every chunk of an implicit index is allocated
    // (early allocation, back to back), so they must all lie inside the file: that keeps the
    // records within a constant factor of the file's size. The visit budget caps it as well.
    let limit = ctx.limits.max_visits;
    let n = match n {
        Some(n) if n <= limit => n,
        _ => {
            return Err(Error::Limit {
                what: "chunks of an implicit index",
                requested: n.unwrap_or(u64::MAX),
                limit,
            })
        }
    };
    let end = n
        .checked_mul(geom.chunk_bytes)
        .and_then(|b| b.checked_add(base));
    if geom.chunk_bytes == 0 || end.is_none_or(|e| e > ctx.src.size()) {
        return Err(Error::corrupt(
            "implicit chunk index",
            base,
            format!(
                "{n} chunks of {} bytes from this address do not fit in the file of {} bytes",
                geom.chunk_bytes,
                ctx.src.size()
            ),
        ));
    }
    let mut out = Vec::new();
    let mut scaled = vec![0u64; geom.rank()];
    loop {
        if let Some(r) = at(geom, base, &down, &scaled)? {
            out.push(r);
        }
        // increment row-major
        let mut d = geom.rank();
        loop {
            if d == 0 {
                return Ok(out);
            }
            d -= 1;
            let (Some(s), Some(&g)) = (scaled.get_mut(d), grid.get(d)) else {
                return Ok(out);
            };
            *s += 1;
            if *s < g {
                break;
            }
            *s = 0;
        }
    }
}

/// The chunk at `scaled`, computed.
pub fn lookup(
    layout: &ChunkedLayout,
    geom: &Geometry,
    scaled: &[u64],
) -> Result<Option<ChunkRecord>> {
    let base = layout.index_address();
    if base == UNDEF {
        return Ok(None);
    }
    if scaled.iter().zip(geom.grid()).any(|(&s, g)| s >= g) {
        return Ok(None);
    }
    let down = max_down(geom, base)?;
    at(geom, base, &down, scaled)
}
