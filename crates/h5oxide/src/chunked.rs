//! Reading chunked datasets: chunk lookup, the filter pipeline, edge chunks and fill values
//! (spec §IV.A.2.i Data Layout, §IV.A.2.l Filter Pipeline, §VII Appendix C; FORMAT-MAP §2.16–2.18).
//!
//! [`read_chunked`] copies a [`Hyperslab`] selection of a chunked dataset into a caller's buffer:
//! * only chunks the selection intersects are looked up and read; for a few chunks each is found
//!   through the index directly ([`ChunkIndex::lookup`]), for many the index is enumerated once;
//! * each chunk's pipeline is undone in reverse order, skipping filter *i* when bit *i* of the
//!   chunk's filter mask is set; partial edge chunks are not unfiltered at all when the layout says
//!   they were stored unfiltered (flags bit 0);
//! * chunks absent from the index read as the fill value;
//! * only the in-extent part of an edge chunk is copied;
//! * chunks are read and decoded in parallel with rayon, in batches that bound the decoded bytes
//!   in flight ([`MAX_BYTES_IN_FLIGHT`]).
//!
//! Like libhdf5, a filter that fails while reading is an error even when the pipeline marks it
//! optional (libhdf5 only skips optional filters when *writing*, recording the skip in the chunk's
//! filter mask), and an unregistered filter is [`Error::Unsupported`] naming its id and name.

use std::collections::HashMap;
use std::sync::Arc;

use h5oxide_filters::Registry;
use h5oxide_format::chunk_index::{ChunkIndex, ChunkRecord, Geometry};
use h5oxide_format::messages::filter_pipeline::FilterPipeline;
use h5oxide_format::messages::layout::ChunkedLayout;
use h5oxide_format::source::Ctx;
use h5oxide_format::{Error, Result};
use rayon::prelude::*;

pub use h5oxide_format::chunk_index::chunk_records;

/// Upper bound on decoded chunk bytes held at once by one [`read_chunked`] call (at least one
/// chunk per worker thread is always allowed).
pub const MAX_BYTES_IN_FLIGHT: u64 = 256 << 20;

/// Up to this many intersected chunks are looked up one by one; more enumerate the index.
const LOOKUP_THRESHOLD: u64 = 16;

/// A regular hyperslab selection: per dimension `start`, `stride`, `count`, `block`.
///
/// Selects, in dimension *d*, the coordinates `start + k·stride + b` for `k < count`, `b < block`.
/// The selection's elements are delivered row-major over its shape `count·block` per dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hyperslab {
    /// First selected coordinate per dimension.
    pub start: Vec<u64>,
    /// Distance between the starts of consecutive blocks (≥ `block` when `count` > 1).
    pub stride: Vec<u64>,
    /// Number of blocks per dimension.
    pub count: Vec<u64>,
    /// Block size per dimension.
    pub block: Vec<u64>,
}

impl Hyperslab {
    /// The whole extent `dims`.
    pub fn all(dims: &[u64]) -> Hyperslab {
        Hyperslab {
            start: vec![0; dims.len()],
            stride: vec![1; dims.len()],
            count: dims.to_vec(),
            block: vec![1; dims.len()],
        }
    }

    /// A contiguous box: `count[d]` elements from `start[d]` in each dimension.
    pub fn new_box(start: &[u64], count: &[u64]) -> Hyperslab {
        Hyperslab {
            start: start.to_vec(),
            stride: vec![1; start.len()],
            count: count.to_vec(),
            block: vec![1; start.len()],
        }
    }

    /// Rank of the selection.
    pub fn rank(&self) -> usize {
        self.start.len()
    }

    /// Shape of the selected block of elements (`count·block` per dimension), `None` on
    /// overflow.
    pub fn shape(&self) -> Option<Vec<u64>> {
        self.count
            .iter()
            .zip(&self.block)
            .map(|(&c, &b)| c.checked_mul(b))
            .collect()
    }

    /// Number of selected elements, `None` on overflow.
    pub fn num_elements(&self) -> Option<u64> {
        self.shape()?
            .iter()
            .try_fold(1u64, |a, &n| a.checked_mul(n))
    }

    /// Checks the selection against a dataset extent.
    pub fn validate(&self, dims: &[u64]) -> Result<()> {
        let r = dims.len();
        if self.start.len() != r
            || self.stride.len() != r
            || self.count.len() != r
            || self.block.len() != r
        {
            return Err(Error::Invalid(format!(
                "selection rank does not match the dataset rank {r}"
            )));
        }
        for (d, &n) in dims.iter().enumerate() {
            let (s, st, c, b) = (self.start[d], self.stride[d], self.count[d], self.block[d]);
            if c == 0 || b == 0 {
                continue;
            }
            if c > 1 && st < b {
                return Err(Error::Invalid(format!(
                    "dimension {d}: stride {st} smaller than block {b}"
                )));
            }
            let last = (c - 1)
                .checked_mul(st)
                .and_then(|v| v.checked_add(s))
                .and_then(|v| v.checked_add(b - 1));
            if last.is_none_or(|l| l >= n) {
                return Err(Error::Invalid(format!(
                    "dimension {d}: selection exceeds the extent {n}"
                )));
            }
        }
        Ok(())
    }
}

/// A contiguous run shared by the output and a chunk along one dimension.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Index along the selection's shape.
    out: u64,
    /// Index within the chunk.
    chunk: u64,
    /// Length.
    len: u64,
}

/// The chunk indices along one dimension that the selection touches.
fn chunks_touched(start: u64, stride: u64, count: u64, block: u64, cdim: u64) -> Vec<u64> {
    let mut v: Vec<u64> = Vec::new();
    if count == 0 || block == 0 {
        return v;
    }
    let stride = stride.max(1);
    let mut k = 0u64;
    while k < count {
        let s = start + k * stride;
        let e = s + block - 1;
        let (c0, c1) = (s / cdim, e / cdim);
        let from = match v.last() {
            Some(&l) if l >= c0 => l + 1,
            _ => c0,
        };
        for c in from..=c1 {
            v.push(c);
        }
        // Skip the blocks that start inside chunk c1 except the last of them (it reaches
        // furthest).
        let next_chunk_start = (c1 + 1).saturating_mul(cdim);
        let k_next = next_chunk_start.saturating_sub(start).div_ceil(stride);
        k = (k + 1).max(k_next.saturating_sub(1));
    }
    v
}

/// The runs where the selection meets chunk `c` along one dimension.
fn runs_in_chunk(start: u64, stride: u64, count: u64, block: u64, cdim: u64, c: u64) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    let stride = stride.max(1);
    let lo = c * cdim;
    let hi = lo.saturating_add(cdim); // exclusive
    if count == 0 || block == 0 {
        return runs;
    }
    if count == 1 || stride == block {
        // The blocks touch: one range [start, start + count·block), so at most one run (without
        // this, a whole-extent read walked every element of every chunk here).
        let end = start.saturating_add(count.saturating_mul(block));
        let (a, b) = (start.max(lo), end.min(hi));
        if a < b {
            runs.push(Run {
                out: a - start,
                chunk: a - lo,
                len: b - a,
            });
        }
        return runs;
    }
    // First block that ends at or after lo.
    let k0 = if start + block > lo {
        0
    } else {
        (lo - start - block + 1).div_ceil(stride)
    };
    let mut k = k0;
    while k < count {
        let s = start + k * stride;
        if s >= hi {
            break;
        }
        let a = s.max(lo);
        let b = (s + block).min(hi);
        if a < b {
            let run = Run {
                out: k * block + (a - s),
                chunk: a - lo,
                len: b - a,
            };
            match runs.last_mut() {
                Some(r) if r.out + r.len == run.out && r.chunk + r.len == run.chunk => {
                    r.len += run.len
                }
                _ => runs.push(run),
            }
        }
        k += 1;
    }
    runs
}

/// Copies the selected part of one decoded chunk (or the fill value when `src` is `None`)
/// into `out`. `runs[d]` are the runs of dimension `d`; the outer dimensions are expanded element
/// by element, the innermost is copied run by run.
fn scatter(
    runs: &[Vec<Run>],
    chunk_strides: &[u64],
    out_strides: &[u64],
    elem: usize,
    src: Option<&[u8]>,
    fill: &[u8],
    out: &mut [u8],
) -> Result<()> {
    let too_small = || Error::Invalid("output buffer too small".into());
    let short_chunk = || Error::Invalid("chunk offset overflows".into());
    let Some((inner, outer)) = runs.split_last() else {
        // Scalar: one element.
        let dst = out.get_mut(..elem).ok_or_else(too_small)?;
        match src {
            Some(s) => copy_padded(dst, s, 0),
            None => dst.copy_from_slice(fill),
        }
        return Ok(());
    };
    // Outer dims: every (output offset, chunk offset) contribution, element by element.
    let expanded: Vec<Vec<(u64, u64)>> = outer
        .iter()
        .enumerate()
        .map(|(d, rs)| {
            let (os, cs) = (out_strides[d], chunk_strides[d]);
            rs.iter()
                .flat_map(|r| (0..r.len).map(move |i| ((r.out + i) * os, (r.chunk + i) * cs)))
                .collect()
        })
        .collect();
    if expanded.iter().any(Vec::is_empty) || inner.is_empty() {
        return Ok(());
    }
    let mut pos = vec![0usize; expanded.len()];
    loop {
        let (mut o, mut c) = (0u64, 0u64);
        for (e, &p) in expanded.iter().zip(&pos) {
            let (eo, ec) = e[p];
            o += eo;
            c += ec;
        }
        for r in inner {
            let ob = usize::try_from(o + r.out).map_err(|_| too_small())? * elem;
            let n = r.len as usize * elem;
            let dst = out.get_mut(ob..ob + n).ok_or_else(too_small)?;
            match src {
                Some(s) => {
                    let cb = usize::try_from(c + r.chunk)
                        .ok()
                        .and_then(|c| c.checked_mul(elem))
                        .ok_or_else(short_chunk)?;
                    copy_padded(dst, s, cb);
                }
                None => fill_run(dst, fill),
            }
        }
        // Odometer over the outer dims.
        let mut d = expanded.len();
        loop {
            if d == 0 {
                return Ok(());
            }
            d -= 1;
            pos[d] += 1;
            if pos[d] < expanded[d].len() {
                break;
            }
            pos[d] = 0;
        }
    }
}

/// Fills `dst` (a whole number of elements) with copies of the element `fill`.
fn fill_run(dst: &mut [u8], fill: &[u8]) {
    if fill.iter().all(|&b| b == 0) {
        dst.fill(0);
        return;
    }
    let Some(first) = dst.get_mut(..fill.len()) else {
        return;
    };
    first.copy_from_slice(fill);
    let mut done = fill.len();
    while done < dst.len() {
        let n = done.min(dst.len() - done);
        dst.copy_within(0..n, done);
        done += n;
    }
}

/// Copies `src[at..at + dst.len()]` into `dst`, with zeros for the part beyond `src`'s end: a
/// decoded chunk shorter than the chunk dims reads as zero padded (see [`decode_chunk`]) without
/// making the padding, whose size the file chooses.
fn copy_padded(dst: &mut [u8], src: &[u8], at: usize) {
    let have = src.get(at..).unwrap_or(&[]);
    let k = have.len().min(dst.len());
    dst[..k].copy_from_slice(&have[..k]);
    dst[k..].fill(0);
}

/// Undoes the filter pipeline on one stored chunk. `filter_mask` bit *i* set skips filter *i*;
/// `chunk_bytes` is the expected decoded size (the result is exactly that long, zero padded if
/// the stored data is shorter).
pub fn decode_chunk(
    raw: Vec<u8>,
    pipeline: Option<&FilterPipeline>,
    registry: &Registry,
    filter_mask: u32,
    chunk_bytes: usize,
) -> Result<Vec<u8>> {
    let mut buf = unfilter(raw, pipeline, registry, filter_mask, chunk_bytes)?;
    buf.resize(chunk_bytes, 0);
    Ok(buf)
}

/// [`decode_chunk`] without the zero padding: the result may be shorter than `chunk_bytes`.
fn unfilter(
    raw: Vec<u8>,
    pipeline: Option<&FilterPipeline>,
    registry: &Registry,
    filter_mask: u32,
    chunk_bytes: usize,
) -> Result<Vec<u8>> {
    let mut buf = raw;
    if let Some(p) = pipeline {
        for (i, f) in p.filters.iter().enumerate().rev() {
            if i < 32 && filter_mask & (1u32 << i) != 0 {
                continue;
            }
            let filter = registry.get(f.id).ok_or_else(|| {
                let name = f.name_lossy();
                Error::unsupported(if name.is_empty() {
                    format!("filter {}", f.id)
                } else {
                    format!("filter {} ({name})", f.id)
                })
            })?;
            buf = filter.decode(&buf, &f.cd_values, chunk_bytes)?;
        }
    }
    buf.truncate(chunk_bytes);
    Ok(buf)
}

/// Reads a selection of a chunked dataset into `out`.
///
/// * `layout`: the dataset's chunked layout; `pipeline`: its filter pipeline, if any;
///   `registry`: the filters available.
/// * `dims`, `max_dims`: the dataspace's current and maximum dims (`None` = unlimited).
/// * `elem_size`: bytes per element (must equal the layout's element size).
/// * `fill`: one element's bytes in file byte order, used for unallocated chunks (zeros if the
///   dataset has no fill value).
/// * `selection`: what to read; `out` receives the selected elements row-major over
///   [`Hyperslab::shape`] and must be exactly `num_elements × elem_size` bytes long.
#[allow(clippy::too_many_arguments)]
pub fn read_chunked(
    ctx: &Ctx<'_>,
    layout: &ChunkedLayout,
    pipeline: Option<&FilterPipeline>,
    registry: &Registry,
    dims: &[u64],
    max_dims: &[Option<u64>],
    elem_size: usize,
    fill: &[u8],
    selection: &Hyperslab,
    out: &mut [u8],
) -> Result<()> {
    read_chunked_cached(
        ctx, layout, pipeline, registry, dims, max_dims, elem_size, fill, selection, out, None,
    )
}

/// [`read_chunked`] with a cache of decoded chunks: reads that touch at most
/// [`CACHED_READ_MAX_CHUNKS`] chunks take them from `cache` when present and leave them there,
/// so repeated small reads (rows, points) decode each chunk once. Larger reads bypass the cache.
#[allow(clippy::too_many_arguments)]
pub fn read_chunked_cached(
    ctx: &Ctx<'_>,
    layout: &ChunkedLayout,
    pipeline: Option<&FilterPipeline>,
    registry: &Registry,
    dims: &[u64],
    max_dims: &[Option<u64>],
    elem_size: usize,
    fill: &[u8],
    selection: &Hyperslab,
    out: &mut [u8],
    cache: Option<&ChunkCache>,
) -> Result<()> {
    if elem_size as u64 != layout.element_size {
        return Err(Error::Invalid(format!(
            "element size {elem_size} does not match the layout's {}",
            layout.element_size
        )));
    }
    if fill.len() != elem_size {
        return Err(Error::Invalid(format!(
            "fill value of {} bytes for elements of {elem_size}",
            fill.len()
        )));
    }
    selection.validate(dims)?;
    let shape = selection
        .shape()
        .ok_or_else(|| Error::Invalid("selection size overflows".into()))?;
    let n = selection
        .num_elements()
        .and_then(|n| n.checked_mul(elem_size as u64))
        .ok_or_else(|| Error::Invalid("selection size overflows".into()))?;
    if n != out.len() as u64 {
        return Err(Error::Invalid(format!(
            "output buffer has {} bytes, the selection needs {n}",
            out.len()
        )));
    }
    if n == 0 {
        return Ok(());
    }
    let filtered = pipeline.is_some_and(|p| !p.is_empty());
    // The index is opened on first need: repeated small reads served by the cache of chunk
    // records skip it (and its header reads) entirely.
    let mut index: Option<ChunkIndex<'_>> = None;
    let geom = Geometry::new(layout, dims, max_dims)?;
    let rank = geom.rank();
    let chunk_bytes = usize::try_from(geom.chunk_bytes)
        .ok()
        .filter(|&b| b as u64 <= ctx.limits.max_data_bytes)
        .ok_or(Error::Limit {
            what: "bytes in one chunk",
            requested: geom.chunk_bytes,
            limit: ctx.limits.max_data_bytes,
        })?;

    // Per dimension: chunk indices touched.
    let per_dim: Vec<Vec<u64>> = (0..rank)
        .map(|d| {
            chunks_touched(
                selection.start[d],
                selection.stride[d],
                selection.count[d],
                selection.block[d],
                geom.chunk_dims[d],
            )
        })
        .collect();
    let ntouched = per_dim
        .iter()
        .try_fold(1u64, |a, v| a.checked_mul(v.len() as u64))
        .unwrap_or(u64::MAX);

    // Strides (in elements) of the output shape and of a chunk.
    let strides = |ext: &[u64]| -> Vec<u64> {
        let mut s = vec![1u64; ext.len()];
        for d in (0..ext.len().saturating_sub(1)).rev() {
            s[d] = s[d + 1].saturating_mul(ext[d + 1]);
        }
        s
    };
    let out_strides = strides(&shape);
    let chunk_strides = strides(&geom.chunk_dims);

    // Find the records of the touched chunks.
    let mut tasks: Vec<(Vec<u64>, Option<ChunkRecord>)> = Vec::new();
    let mut map: Option<HashMap<Vec<u64>, ChunkRecord>> = None;
    // Few chunks (absolutely, or relative to the grid): look each up; else enumerate once.
    let grid_total = geom.grid().iter().fold(1u64, |a, &g| a.saturating_mul(g));
    if ntouched > LOOKUP_THRESHOLD && ntouched.saturating_mul(32) > grid_total {
        open_index(&mut index, ctx, layout, dims, max_dims, filtered)?;
        let recs = match &index {
            Some(i) => i.records()?,
            None => Vec::new(),
        };
        map = Some(recs.into_iter().map(|r| (r.offset.clone(), r)).collect());
    }
    let mut pos = vec![0usize; rank];
    loop {
        let scaled: Vec<u64> = (0..rank).map(|d| per_dim[d][pos[d]]).collect();
        let rec = match &map {
            Some(m) => geom.offset_of(&scaled).and_then(|o| m.get(&o).cloned()),
            None => {
                let key = (layout.index_address(), scaled.clone());
                match cache.and_then(|c| c.record(&key)) {
                    Some(hit) => hit,
                    None => {
                        open_index(&mut index, ctx, layout, dims, max_dims, filtered)?;
                        let rec = match &index {
                            Some(i) => i.lookup(&scaled)?,
                            None => None,
                        };
                        if let Some(c) = cache {
                            c.insert_record(key, rec.clone());
                        }
                        rec
                    }
                }
            }
        };
        tasks.push((scaled, rec));
        // next
        let mut d = rank;
        let mut done = true;
        while d > 0 {
            d -= 1;
            pos[d] += 1;
            if pos[d] < per_dim[d].len() {
                done = false;
                break;
            }
            pos[d] = 0;
        }
        if done {
            break;
        }
    }

    let runs_of = |scaled: &[u64]| -> Vec<Vec<Run>> {
        (0..rank)
            .map(|d| {
                runs_in_chunk(
                    selection.start[d],
                    selection.stride[d],
                    selection.count[d],
                    selection.block[d],
                    geom.chunk_dims[d],
                    scaled[d],
                )
            })
            .collect()
    };

    // Unallocated chunks read as the fill value.
    for (scaled, rec) in &tasks {
        if rec.is_none() {
            scatter(
                &runs_of(scaled),
                &chunk_strides,
                &out_strides,
                elem_size,
                None,
                fill,
                out,
            )?;
        }
    }

    let present: Vec<(&Vec<u64>, &ChunkRecord)> = tasks
        .iter()
        .filter_map(|(s, r)| r.as_ref().map(|r| (s, r)))
        .collect();
    let cache = cache.filter(|_| present.len() <= CACHED_READ_MAX_CHUNKS);

    // Chunks whose selected part is one contiguous range of both the decoded chunk and the
    // output (whole chunks of a row-major read, the usual case) are decoded in parallel straight
    // into their disjoint parts of `out`, through reused per-thread buffers: no allocation and
    // no copy per chunk. The rest are decoded into buffers and scattered.
    let mut dense: Vec<(&ChunkRecord, DenseRun)> = Vec::new();
    let mut sparse: Vec<(&Vec<u64>, &ChunkRecord)> = Vec::new();
    for &(scaled, rec) in &present {
        let d = if cache.is_none() {
            dense_run(&runs_of(scaled), &geom.chunk_dims, &shape, elem_size)
        } else {
            None
        };
        match d {
            Some(d) => dense.push((rec, d)),
            None => sparse.push((scaled, rec)),
        }
    }
    if !dense.is_empty() {
        dense.sort_by_key(|(_, d)| d.out);
        let mut jobs: Vec<(&ChunkRecord, DenseRun, &mut [u8])> = Vec::with_capacity(dense.len());
        let mut rest: &mut [u8] = out;
        let mut pos = 0usize;
        for (rec, d) in dense {
            let skip = d
                .out
                .checked_sub(pos)
                .ok_or_else(|| Error::Invalid("overlapping chunk destinations".into()))?;
            if rest.len() < skip + d.len || d.chunk + d.len > chunk_bytes {
                return Err(Error::Invalid("output buffer too small".into()));
            }
            let (dst, tail) = std::mem::take(&mut rest)
                .split_at_mut(skip)
                .1
                .split_at_mut(d.len);
            rest = tail;
            pos = d.out + d.len;
            jobs.push((rec, d, dst));
        }
        let run = |(rec, d, dst): (&ChunkRecord, DenseRun, &mut [u8])| {
            with_scratch(|scratch| {
                decode_dense(
                    ctx,
                    &geom,
                    layout,
                    pipeline,
                    registry,
                    rec,
                    chunk_bytes,
                    d,
                    dst,
                    scratch,
                )
            })
        };
        if parallel(jobs.len()) {
            jobs.into_par_iter().try_for_each(run)?;
        } else {
            jobs.into_iter().try_for_each(run)?;
        }
    }

    let threads = rayon::current_num_threads().max(1) as u64;
    let per_batch = (MAX_BYTES_IN_FLIGHT / geom.chunk_bytes.max(1)).max(threads) as usize;
    for batch in sparse.chunks(per_batch.max(1)) {
        let load = |(_, rec): &(&Vec<u64>, &ChunkRecord)| {
            if let Some(hit) = cache.and_then(|c| c.get(rec.address)) {
                return Ok(hit);
            }
            let data = Arc::new(load_chunk(
                ctx,
                &geom,
                layout,
                pipeline,
                registry,
                rec,
                chunk_bytes,
            )?);
            if let Some(c) = cache {
                c.insert(rec.address, data.clone());
            }
            Ok(data)
        };
        let decoded: Vec<Result<Arc<Vec<u8>>>> = if parallel(batch.len()) {
            batch.par_iter().map(load).collect()
        } else {
            batch.iter().map(load).collect()
        };
        for ((scaled, _), data) in batch.iter().zip(decoded) {
            let data = data?;
            scatter(
                &runs_of(scaled),
                &chunk_strides,
                &out_strides,
                elem_size,
                Some(&data),
                fill,
                out,
            )?;
        }
    }
    Ok(())
}

/// Whether `jobs` chunks are worth handing to the rayon pool: more than one, and a pool of
/// more than one thread. Otherwise the calling thread decodes them itself: a single chunk
/// gains nothing from the pool but its hand-off cost, and with a one-thread pool every reading
/// thread would queue behind that one worker instead of decoding in parallel.
pub(crate) fn parallel(jobs: usize) -> bool {
    jobs > 1 && rayon::current_num_threads() > 1
}

/// Where one chunk's selected elements go when they form a single contiguous byte range of
/// both the decoded chunk (`chunk..chunk + len`) and the output (`out..out + len`).
#[derive(Debug, Clone, Copy)]
struct DenseRun {
    out: usize,
    chunk: usize,
    len: usize,
}

/// The [`DenseRun`] of a chunk from its per-dimension runs, when there is one: one run per
/// dimension, and every dimension after the first covering the whole chunk and the whole
/// output (so the strides agree).
fn dense_run(
    runs: &[Vec<Run>],
    chunk_dims: &[u64],
    shape: &[u64],
    elem: usize,
) -> Option<DenseRun> {
    let (first, inner) = runs.split_first()?;
    let [r0] = first.as_slice() else {
        return None;
    };
    let mut row = elem as u64;
    for ((rs, &cd), &sd) in inner.iter().zip(&chunk_dims[1..]).zip(&shape[1..]) {
        let [r] = rs.as_slice() else {
            return None;
        };
        if r.chunk != 0 || r.out != 0 || r.len != cd || sd != cd {
            return None;
        }
        row = row.checked_mul(cd)?;
    }
    Some(DenseRun {
        out: usize::try_from(r0.out.checked_mul(row)?).ok()?,
        chunk: usize::try_from(r0.chunk.checked_mul(row)?).ok()?,
        len: usize::try_from(r0.len.checked_mul(row)?).ok()?,
    })
}

/// Per-thread buffers reused across chunks: the stored bytes and two pipeline stages.
#[derive(Default)]
struct Scratch {
    raw: Vec<u8>,
    stage: [Vec<u8>; 2],
}

/// Scratch buffers larger than this are freed after use rather than kept by the thread.
const SCRATCH_KEEP: usize = 64 << 20;

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers (fresh ones if they are in use).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => {
            let r = f(&mut s);
            let Scratch { raw, stage } = &mut *s;
            for v in std::iter::once(raw).chain(stage.iter_mut()) {
                if v.capacity() > SCRATCH_KEEP {
                    *v = Vec::new();
                }
            }
            r
        }
        Err(_) => f(&mut Scratch::default()),
    })
}

/// Sets `v` to `len` bytes (contents unspecified), reusing its allocation.
fn sized(v: &mut Vec<u8>, len: usize) -> &mut [u8] {
    v.truncate(len);
    v.resize(len, 0);
    v
}

/// Decodes one chunk and writes its bytes `d.chunk..d.chunk + d.len` into `dst` (`d.len`
/// bytes): straight into `dst` when that is the whole chunk and every filter can decode into
/// a given slice, else through the scratch buffers; the same result and errors as
/// [`load_chunk`] followed by a copy.
#[allow(clippy::too_many_arguments)]
fn decode_dense(
    ctx: &Ctx<'_>,
    geom: &Geometry,
    layout: &ChunkedLayout,
    pipeline: Option<&FilterPipeline>,
    registry: &Registry,
    rec: &ChunkRecord,
    chunk_bytes: usize,
    d: DenseRun,
    dst: &mut [u8],
    scratch: &mut Scratch,
) -> Result<()> {
    let skip = layout.dont_filter_partial_edge_chunks() && geom.is_partial_edge(&rec.offset);
    let p = if skip { None } else { pipeline };
    let len = rec.size;
    if len > ctx.limits.max_data_bytes {
        return Err(Error::Limit {
            what: "stored chunk bytes",
            requested: len,
            limit: ctx.limits.max_data_bytes,
        });
    }
    let fsize = ctx.src.size();
    if rec.address.checked_add(len).is_none_or(|e| e > fsize) {
        return Err(Error::OutOfBounds {
            structure: "chunk",
            addr: rec.address,
            len,
            size: fsize,
        });
    }
    let len = len as usize;
    let active: Vec<&h5oxide_format::messages::filter_pipeline::FilterDesc> = p
        .map(|p| {
            p.filters
                .iter()
                .enumerate()
                .filter(|&(i, _)| !(i < 32 && rec.filter_mask & (1 << i) != 0))
                .map(|(_, f)| f)
                .collect()
        })
        .unwrap_or_default();
    let whole = d.chunk == 0 && d.len == chunk_bytes;
    if active.is_empty() {
        if len < chunk_bytes {
            return Err(Error::corrupt(
                "chunk",
                rec.address,
                format!(
                    "unfiltered chunk at offset {:?} stores {len} of its {chunk_bytes} bytes",
                    rec.offset
                ),
            ));
        }
        let at = rec.address + d.chunk as u64;
        return ctx.src.read_into(at, dst);
    }
    let Scratch { raw, stage } = scratch;
    let raw: std::borrow::Cow<'_, [u8]> = if ctx.src.as_bytes().is_some() {
        ctx.src.read(rec.address, len)?
    } else {
        let buf = sized(raw, len);
        ctx.src.read_into(rec.address, buf)?;
        std::borrow::Cow::Borrowed(&*buf)
    };
    let [s0, s1] = stage;
    let corrupt = |e: Error| match e {
        Error::Unsupported { .. } | Error::Limit { .. } => e,
        other => Error::corrupt(
            "chunk",
            rec.address,
            format!("chunk at offset {:?}: {other}", rec.offset),
        ),
    };
    // The current stage's input: the stored bytes, a scratch buffer, or an owned fallback.
    enum Cur {
        Raw,
        S0,
        S1,
        Dst,
        Owned(Vec<u8>),
    }
    let mut cur = Cur::Raw;
    let n = active.len();
    for (k, f) in active.iter().rev().enumerate() {
        let filter = registry.get(f.id).ok_or_else(|| {
            let name = f.name_lossy();
            Error::unsupported(if name.is_empty() {
                format!("filter {}", f.id)
            } else {
                format!("filter {} ({name})", f.id)
            })
        })?;
        let last = k + 1 == n;
        let (input, target, next): (&[u8], &mut [u8], Cur) = match &cur {
            Cur::Raw => (&raw, sized(s0, chunk_bytes), Cur::S0),
            Cur::S0 => (&s0[..], sized(s1, chunk_bytes), Cur::S1),
            Cur::S1 => (&s1[..], sized(s0, chunk_bytes), Cur::S0),
            Cur::Owned(v) => (&v[..], sized(s0, chunk_bytes), Cur::S0),
            Cur::Dst => return Err(Error::Invalid("a filter stage after the last one".into())),
        };
        let (target, next) = if last && whole {
            (&mut *dst, Cur::Dst)
        } else {
            (target, next)
        };
        cur = if filter.decode_to_slice(input, &f.cd_values, target) {
            next
        } else {
            Cur::Owned(
                filter
                    .decode(input, &f.cd_values, chunk_bytes)
                    .map_err(corrupt)?,
            )
        };
    }
    let result: &[u8] = match &cur {
        Cur::Dst => return Ok(()),
        Cur::Raw => &raw,
        Cur::S0 => s0,
        Cur::S1 => s1,
        Cur::Owned(v) => v,
    };
    let result = result.get(..chunk_bytes).unwrap_or(result);
    copy_padded(dst, result, d.chunk);
    Ok(())
}

/// Opens the chunk index into `slot` unless it is open already.
fn open_index<'a>(
    slot: &mut Option<ChunkIndex<'a>>,
    ctx: &Ctx<'a>,
    layout: &ChunkedLayout,
    dims: &[u64],
    max_dims: &[Option<u64>],
    filtered: bool,
) -> Result<()> {
    if slot.is_none() {
        *slot = Some(ChunkIndex::open(ctx, layout, dims, max_dims, filtered)?);
    }
    Ok(())
}

/// Reads touching at most this many chunks go through the chunk cache.
pub const CACHED_READ_MAX_CHUNKS: usize = 8;

/// A cache of decoded chunks keyed by their file address, bounded in bytes, evicting the least
/// recently used. Shared by every dataset of a file; safe to use from many threads (one short
/// lock per lookup, never held while decoding).
#[derive(Debug)]
pub struct ChunkCache {
    budget: u64,
    inner: std::sync::Mutex<CacheInner>,
    /// Index lookups of small reads: (index address, scaled chunk coordinates) → the chunk's
    /// record (`None`: unallocated), at most [`MAX_CACHED_RECORDS`], cleared when full.
    records: std::sync::Mutex<HashMap<ChunkKey, Option<ChunkRecord>>>,
}

/// A chunk of a dataset: its index address and scaled chunk coordinates.
type ChunkKey = (u64, Vec<u64>);

/// Most chunk records a [`ChunkCache`] keeps.
const MAX_CACHED_RECORDS: usize = 1 << 16;

#[derive(Debug, Default)]
struct CacheInner {
    map: HashMap<u64, (Arc<Vec<u8>>, u64)>,
    bytes: u64,
    tick: u64,
}

impl ChunkCache {
    /// A cache holding at most `budget` bytes of decoded chunks (0 disables it).
    pub fn new(budget: u64) -> Self {
        ChunkCache {
            budget,
            inner: std::sync::Mutex::new(CacheInner::default()),
            records: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The cached index lookup of a chunk: `Some(None)` for a chunk known to be unallocated,
    /// `None` when not cached (or the cache is disabled).
    fn record(&self, key: &ChunkKey) -> Option<Option<ChunkRecord>> {
        if self.budget == 0 {
            return None;
        }
        self.records.lock().ok()?.get(key).cloned()
    }

    /// Caches an index lookup.
    fn insert_record(&self, key: ChunkKey, rec: Option<ChunkRecord>) {
        if self.budget == 0 {
            return;
        }
        let Ok(mut g) = self.records.lock() else {
            return;
        };
        if g.len() >= MAX_CACHED_RECORDS {
            g.clear();
        }
        g.insert(key, rec);
    }

    /// The configured budget in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Decoded bytes held now.
    pub fn bytes(&self) -> u64 {
        self.inner.lock().map(|g| g.bytes).unwrap_or(0)
    }

    /// The decoded chunk stored at `address`, if cached.
    pub fn get(&self, address: u64) -> Option<Arc<Vec<u8>>> {
        let mut g = self.inner.lock().ok()?;
        g.tick += 1;
        let t = g.tick;
        let e = g.map.get_mut(&address)?;
        e.1 = t;
        Some(e.0.clone())
    }

    /// Caches a decoded chunk (ignored when larger than the budget).
    pub fn insert(&self, address: u64, data: Arc<Vec<u8>>) {
        let size = data.len() as u64;
        if size > self.budget {
            return;
        }
        let Ok(mut g) = self.inner.lock() else { return };
        g.tick += 1;
        let t = g.tick;
        if let Some(old) = g.map.insert(address, (data, t)) {
            g.bytes -= old.0.len() as u64;
        }
        g.bytes += size;
        while g.bytes > self.budget {
            let Some((&victim, _)) = g.map.iter().min_by_key(|(_, (_, t))| *t) else {
                break;
            };
            if let Some((d, _)) = g.map.remove(&victim) {
                g.bytes -= d.len() as u64;
            }
        }
    }
}

/// Reads one chunk's stored bytes and undoes its filters.
fn load_chunk(
    ctx: &Ctx<'_>,
    geom: &Geometry,
    layout: &ChunkedLayout,
    pipeline: Option<&FilterPipeline>,
    registry: &Registry,
    rec: &ChunkRecord,
    chunk_bytes: usize,
) -> Result<Vec<u8>> {
    let skip = layout.dont_filter_partial_edge_chunks() && geom.is_partial_edge(&rec.offset);
    let p = if skip { None } else { pipeline };
    // The stored size as the index records it (libhdf5 reads that much too).
    let len = rec.size;
    if len > ctx.limits.max_data_bytes {
        return Err(Error::Limit {
            what: "stored chunk bytes",
            requested: len,
            limit: ctx.limits.max_data_bytes,
        });
    }
    let fsize = ctx.src.size();
    if rec.address.checked_add(len).is_none_or(|e| e > fsize) {
        return Err(Error::OutOfBounds {
            structure: "chunk",
            addr: rec.address,
            len,
            size: fsize,
        });
    }
    let raw = ctx.src.read(rec.address, len as usize)?.into_owned();
    let unfiltered = p.is_none_or(|p| {
        p.filters.is_empty()
            || p.filters
                .iter()
                .enumerate()
                .all(|(i, _)| i < 32 && rec.filter_mask & (1 << i) != 0)
    });
    if unfiltered && raw.len() < chunk_bytes {
        // libhdf5 reads such a chunk into a buffer that keeps stale bytes past the stored
        // size; there is no right value to give, so this is corruption.
        return Err(Error::corrupt(
            "chunk",
            rec.address,
            format!(
                "unfiltered chunk at offset {:?} stores {} of its {chunk_bytes} bytes",
                rec.offset,
                raw.len()
            ),
        ));
    }
    unfilter(raw, p, registry, rec.filter_mask, chunk_bytes).map_err(|e| match e {
        Error::Unsupported { .. } | Error::Limit { .. } => e,
        other => Error::corrupt(
            "chunk",
            rec.address,
            format!("chunk at offset {:?}: {other}", rec.offset),
        ),
    })
}

/// Summary of a chunked dataset's allocated storage, as the canonical dump reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSummary {
    /// Number of allocated chunks (`num_chunks`).
    pub num_chunks: u64,
    /// Sum of the stored chunk sizes (`storage_size`).
    pub storage_size: u64,
    /// The chunks with the offsets libhdf5 reports, sorted by them (`chunk_info`; see
    /// [`ChunkIndex::records_as_reported`] for the one case where these differ from the true
    /// offsets).
    pub chunk_info: Vec<ChunkRecord>,
}

/// Enumerates the allocated chunks of a chunked dataset for the canonical dump.
pub fn chunk_summary(
    ctx: &Ctx<'_>,
    layout: &ChunkedLayout,
    dims: &[u64],
    max_dims: &[Option<u64>],
    filtered: bool,
) -> Result<ChunkSummary> {
    let chunk_info =
        ChunkIndex::open(ctx, layout, dims, max_dims, filtered)?.records_as_reported()?;
    Ok(ChunkSummary {
        num_chunks: chunk_info.len() as u64,
        storage_size: chunk_info
            .iter()
            .fold(0u64, |a, r| a.saturating_add(r.size)),
        chunk_info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use h5oxide_format::messages::filter_pipeline::FilterDesc;
    use std::sync::Arc;

    /// Test filter: decoding adds `cd_values[0]` to every byte.
    struct AddFilter(u16);
    impl h5oxide_filters::Filter for AddFilter {
        fn id(&self) -> u16 {
            self.0
        }
        fn name(&self) -> &str {
            "add"
        }
        fn decode(&self, input: &[u8], cd: &[u32], _hint: usize) -> Result<Vec<u8>> {
            let k = cd.first().copied().unwrap_or(0) as u8;
            Ok(input.iter().map(|b| b.wrapping_add(k)).collect())
        }
    }

    fn pipeline(ids: &[(u16, u32)]) -> FilterPipeline {
        FilterPipeline {
            version: 2,
            filters: ids
                .iter()
                .map(|&(id, k)| FilterDesc {
                    id,
                    name: Some(b"my filter".to_vec()),
                    flags: 0,
                    cd_values: vec![k],
                })
                .collect(),
        }
    }

    #[test]
    fn pipeline_reverse_mask_and_unknown() {
        let mut reg = Registry::empty();
        reg.register(Arc::new(AddFilter(300)));
        reg.register(Arc::new(AddFilter(301)));
        let p = pipeline(&[(300, 1), (301, 10)]);
        assert_eq!(
            decode_chunk(vec![0, 0], Some(&p), &reg, 0, 2).unwrap(),
            vec![11, 11]
        );
        // bit 1 set: filter 301 skipped
        assert_eq!(
            decode_chunk(vec![0, 0], Some(&p), &reg, 2, 2).unwrap(),
            vec![1, 1]
        );
        // short output is zero padded to the chunk size
        assert_eq!(
            decode_chunk(vec![0], Some(&p), &reg, 3, 3).unwrap(),
            vec![0, 0, 0]
        );
        let p = pipeline(&[(32013, 0)]);
        let e = decode_chunk(vec![0], Some(&p), &reg, 0, 1).unwrap_err();
        assert_eq!(e.kind(), "unsupported");
        assert!(e.to_string().contains("32013") && e.to_string().contains("my filter"));
        // masked out, the unknown filter is not needed
        assert!(decode_chunk(vec![0], Some(&p), &reg, 1, 1).is_ok());
    }

    #[test]
    fn selection_validation() {
        let dims = [10u64, 10];
        assert!(Hyperslab::all(&dims).validate(&dims).is_ok());
        let mut h = Hyperslab::new_box(&[5, 5], &[5, 6]);
        assert!(h.validate(&dims).is_err());
        h.count = vec![5, 5];
        assert!(h.validate(&dims).is_ok());
        assert!(Hyperslab::all(&[3]).validate(&dims).is_err());
        let h = Hyperslab {
            start: vec![0, 0],
            stride: vec![1, 1],
            count: vec![2, 1],
            block: vec![2, 1],
        };
        assert!(h.validate(&dims).is_err(), "overlapping blocks");
        let h = Hyperslab {
            start: vec![u64::MAX, 0],
            stride: vec![1, 1],
            count: vec![1, 1],
            block: vec![2, 1],
        };
        assert!(h.validate(&dims).is_err(), "overflow");
    }

    #[test]
    fn fill_runs() {
        let mut b = vec![0u8; 12];
        fill_run(&mut b, &[1, 2, 3]);
        assert_eq!(b, [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
    }

    #[test]
    fn chunk_cache_is_lru_and_bounded() {
        let c = ChunkCache::new(30);
        c.insert(1, Arc::new(vec![1; 10]));
        c.insert(2, Arc::new(vec![2; 10]));
        c.insert(3, Arc::new(vec![3; 10]));
        assert_eq!(c.get(1).map(|d| d[0]), Some(1)); // 1 is now the most recent
        c.insert(4, Arc::new(vec![4; 10])); // evicts 2, the least recently used
        assert!(c.get(2).is_none());
        assert!(c.get(1).is_some() && c.get(3).is_some() && c.get(4).is_some());
        c.insert(5, Arc::new(vec![5; 31])); // larger than the budget: not cached
        assert!(c.get(5).is_none());
        assert!(ChunkCache::new(0).get(1).is_none());
    }

    #[test]
    fn touched_and_runs() {
        assert_eq!(chunks_touched(0, 1, 10, 1, 4), vec![0, 1, 2]);
        assert_eq!(chunks_touched(5, 1, 1, 1, 4), vec![1]);
        assert_eq!(chunks_touched(0, 8, 3, 2, 4), vec![0, 2, 4]);
        assert_eq!(chunks_touched(3, 4, 3, 3, 4), vec![0, 1, 2, 3]);
        let r = runs_in_chunk(0, 1, 10, 1, 4, 1);
        assert_eq!((r.len(), r[0].out, r[0].chunk, r[0].len), (1, 4, 0, 4));
        let r = runs_in_chunk(1, 3, 4, 2, 5, 1);
        // coords 1,2 4,5 7,8 10,11 ; chunk 1 = [5,10): 5 (out 3), 7,8 (out 4,5)
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].out, r[0].chunk, r[0].len), (3, 0, 1));
        assert_eq!((r[1].out, r[1].chunk, r[1].len), (4, 2, 2));
    }

    /// The runs of a selection in a chunk, by enumerating its elements.
    fn runs_by_element(
        start: u64,
        stride: u64,
        count: u64,
        block: u64,
        cdim: u64,
        c: u64,
    ) -> Vec<(u64, u64, u64)> {
        let (lo, hi) = (c * cdim, (c + 1) * cdim);
        let mut v: Vec<(u64, u64, u64)> = Vec::new();
        for k in 0..count {
            for b in 0..block {
                let (x, o) = (start + k * stride.max(1) + b, k * block + b);
                if (lo..hi).contains(&x) {
                    match v.last_mut() {
                        Some(r) if r.0 + r.2 == o && r.1 + r.2 == x - lo => r.2 += 1,
                        _ => v.push((o, x - lo, 1)),
                    }
                }
            }
        }
        v
    }

    #[test]
    fn runs_match_elementwise_enumeration() {
        for start in [0u64, 1, 3, 7] {
            for (stride, block) in [(1u64, 1u64), (2, 2), (3, 3), (3, 1), (5, 2), (4, 4)] {
                for count in [0u64, 1, 2, 5, 9] {
                    for c in 0..6 {
                        let got: Vec<(u64, u64, u64)> =
                            runs_in_chunk(start, stride, count, block, 4, c)
                                .iter()
                                .map(|r| (r.out, r.chunk, r.len))
                                .collect();
                        let want = runs_by_element(start, stride, count, block, 4, c);
                        assert_eq!(
                            got, want,
                            "start {start} stride {stride} count {count} block {block} chunk {c}"
                        );
                    }
                }
            }
        }
    }
}
