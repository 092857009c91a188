//! Partial reads: hyperslab selections over any layout, and NumPy/ndarray-style slicing.
//!
//! A selection is a regular [`Hyperslab`] (start / stride / count / block per dimension, as in
//! `H5Sselect_hyperslab`). Chunked datasets touch only the chunks the selection intersects
//! ([`crate::chunked::read_chunked`]); contiguous datasets read the selected runs, coalescing
//! them into one read when they are dense enough; compact datasets copy from the header.

use h5oxide_format::messages::layout::DataLayout;
use h5oxide_format::{Error, Result, UNDEF};
use ndarray::{ArrayD, Axis, IxDyn, SliceInfoElem};

pub use crate::chunked::Hyperslab;
use crate::dataset::DatasetInfo;
use crate::file::FileInner;

/// Calls `f(linear_element_index, out_element_index, run_len)` for every run of consecutive
/// selected elements (consecutive both in the dataset and in the output), in output order.
fn for_each_run(
    dims: &[u64],
    sel: &Hyperslab,
    mut f: impl FnMut(u64, u64, u64) -> Result<()>,
) -> Result<()> {
    let rank = dims.len();
    if rank == 0 {
        return f(0, 0, 1);
    }
    let shape = sel
        .shape()
        .ok_or_else(|| Error::Invalid("selection size overflows".into()))?;
    if shape.contains(&0) {
        return Ok(());
    }
    let last = rank - 1;
    // Runs along the last dimension: `count` runs of `block`, or one run when they touch.
    let (run_len, nruns_last, run_step) =
        if sel.stride[last] == sel.block[last] || sel.count[last] == 1 {
            (shape[last], 1, 0)
        } else {
            (sel.block[last], sel.count[last], sel.stride[last])
        };
    // Row-major strides of the dataset.
    let mut dstride = vec![1u64; rank];
    for d in (0..last).rev() {
        dstride[d] = dstride[d + 1].saturating_mul(dims[d + 1]);
    }
    // Iterate over the outer coordinates (all dims but the last) in output order.
    let outer: Vec<u64> = shape[..last].to_vec();
    let mut idx = vec![0u64; last];
    let mut out_pos = 0u64;
    loop {
        let mut base = 0u64;
        for d in 0..last {
            let i = idx[d];
            let coord = sel.start[d] + (i / sel.block[d]) * sel.stride[d] + i % sel.block[d];
            base += coord * dstride[d];
        }
        for r in 0..nruns_last {
            let c = sel.start[last] + r * run_step;
            f(base + c, out_pos, run_len)?;
            out_pos += run_len;
        }
        // advance
        let mut d = last;
        loop {
            if d == 0 {
                return Ok(());
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < outer[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// Reads the elements selected by `sel` into `out` (row-major over the selection's shape,
/// stored byte order).
pub(crate) fn read_selection(
    file: &FileInner,
    info: &DatasetInfo,
    sel: &Hyperslab,
    out: &mut [u8],
) -> Result<()> {
    read_selection_with(file, info, sel, out, Some(&file.chunk_cache))
}

/// [`read_selection`] with a choice of chunk cache (None: chunks are decoded for this read only
/// and not kept, as [`crate::chunk_iter`] needs).
pub(crate) fn read_selection_with(
    file: &FileInner,
    info: &DatasetInfo,
    sel: &Hyperslab,
    out: &mut [u8],
    cache: Option<&crate::chunked::ChunkCache>,
) -> Result<()> {
    let dims = info.space.dims();
    sel.validate(dims)?;
    let es = info.dtype.size() as u64;
    let n = sel
        .num_elements()
        .and_then(|n| n.checked_mul(es))
        .ok_or_else(|| Error::Invalid("selection size overflows".into()))?;
    if out.len() as u64 != n {
        return Err(Error::Invalid(format!(
            "buffer of {} bytes for a selection of {n} bytes",
            out.len()
        )));
    }
    if n == 0 {
        return Ok(());
    }
    match &info.layout {
        DataLayout::Virtual { .. } => crate::vds::read_virtual(file, info, sel, out),
        DataLayout::Chunked(c) => crate::chunked::read_chunked_cached(
            &file.ctx(),
            c,
            info.pipeline.as_ref(),
            &file.registry,
            dims,
            &crate::read::max_dims(info),
            es as usize,
            &info.fill_bytes(),
            sel,
            out,
            cache,
        ),
        DataLayout::Contiguous { address, .. } if info.external.is_none() && *address != UNDEF => {
            // One read of the whole span when the selection is dense enough, else a read per run.
            let (mut lo, mut hi) = (u64::MAX, 0u64);
            for_each_run(dims, sel, |lin, _, len| {
                lo = lo.min(lin);
                hi = hi.max(lin + len);
                Ok(())
            })?;
            let span = (hi - lo) * es;
            if span == n {
                // One contiguous run (a row, a block of rows): straight into `out`.
                let at = address
                    .checked_add(lo * es)
                    .ok_or_else(|| Error::corrupt("contiguous layout", *address, "overflow"))?;
                return file.src_read_into(at, out);
            }
            if span <= (4 * n).max(1 << 20) {
                let data = file.src_read(address + lo * es, span as usize)?;
                for_each_run(dims, sel, |lin, o, len| {
                    let src =
                        data.get(((lin - lo) * es) as usize..((lin - lo + len) * es) as usize);
                    let dst = out.get_mut((o * es) as usize..((o + len) * es) as usize);
                    match (src, dst) {
                        (Some(s), Some(d)) => {
                            d.copy_from_slice(s);
                            Ok(())
                        }
                        _ => Err(Error::Invalid("selection outside the buffer".into())),
                    }
                })
            } else {
                for_each_run(dims, sel, |lin, o, len| {
                    let data = file.src_read(address + lin * es, (len * es) as usize)?;
                    let dst = out
                        .get_mut((o * es) as usize..((o + len) * es) as usize)
                        .ok_or_else(|| Error::Invalid("selection outside the buffer".into()))?;
                    dst.copy_from_slice(&data);
                    Ok(())
                })
            }
        }
        _ => {
            // Compact, external, unallocated: materialise the whole (small or fill) dataset.
            let total = info.num_bytes()?;
            if total > file.limits.max_data_bytes {
                return Err(Error::Limit {
                    what: "dataset read",
                    requested: total,
                    limit: file.limits.max_data_bytes,
                });
            }
            let mut all = vec![0u8; total as usize];
            crate::read::read_all(file, info, &mut all)?;
            for_each_run(dims, sel, |lin, o, len| {
                let src = all.get((lin * es) as usize..((lin + len) * es) as usize);
                let dst = out.get_mut((o * es) as usize..((o + len) * es) as usize);
                match (src, dst) {
                    (Some(s), Some(d)) => {
                        d.copy_from_slice(s);
                        Ok(())
                    }
                    _ => Err(Error::Invalid("selection outside the dataset".into())),
                }
            })
        }
    }
}

/// How one axis of an ndarray-style slice maps onto the hyperslab and the result.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AxisPlan {
    /// Keep the axis; reverse it afterwards when the step was negative.
    Keep { reverse: bool },
    /// An integer index: the axis is dropped from the result.
    Drop,
}

/// Translates ndarray `s![...]` slice elements into a hyperslab over `dims`, with what to do
/// to each axis of the read block afterwards and where new axes go.
pub(crate) fn plan_slice(
    dims: &[u64],
    elems: &[SliceInfoElem],
) -> Result<(Hyperslab, Vec<AxisPlan>, Vec<usize>)> {
    let rank = dims.len();
    let mut sel = Hyperslab::all(dims);
    let mut plans = Vec::with_capacity(rank);
    let mut new_axes = Vec::new();
    let mut d = 0usize;
    let mut out_axis = 0usize;
    let norm = |i: isize, n: u64| -> i128 {
        if i < 0 {
            n as i128 + i as i128
        } else {
            i as i128
        }
    };
    for e in elems {
        match *e {
            SliceInfoElem::NewAxis => {
                new_axes.push(out_axis);
                out_axis += 1;
                continue;
            }
            _ if d >= rank => {
                return Err(Error::Invalid(format!(
                    "too many indices for a dataset of rank {rank}"
                )))
            }
            SliceInfoElem::Index(i) => {
                let n = dims[d];
                let i = norm(i, n);
                if i < 0 || i >= n as i128 {
                    return Err(Error::Invalid(format!(
                        "index {i} out of range for axis {d} of length {n}"
                    )));
                }
                sel.start[d] = i as u64;
                sel.count[d] = 1;
                plans.push(AxisPlan::Drop);
            }
            SliceInfoElem::Slice { start, end, step } => {
                if step == 0 {
                    return Err(Error::Invalid("slice step cannot be zero".into()));
                }
                let n = dims[d] as i128;
                let s = norm(start, n as u64).clamp(0, n);
                let e = end.map_or(n, |e| norm(e, n as u64)).clamp(0, n);
                let len = (e - s).max(0);
                let st = step.unsigned_abs() as i128;
                let count = (len + st - 1) / st;
                if step > 0 {
                    sel.start[d] = s as u64;
                } else {
                    // ndarray semantics: take [s, e) then step from its end.
                    sel.start[d] = if count > 0 {
                        (e - 1 - (count - 1) * st) as u64
                    } else {
                        0
                    };
                }
                sel.stride[d] = st as u64;
                sel.count[d] = count as u64;
                plans.push(AxisPlan::Keep { reverse: step < 0 });
                out_axis += 1;
            }
        }
        d += 1;
    }
    while d < rank {
        plans.push(AxisPlan::Keep { reverse: false });
        d += 1;
    }
    Ok((sel, plans, new_axes))
}

/// Applies the axis plans to the block read for a slice: reverses, drops and inserts axes.
pub(crate) fn shape_result<T: Clone>(
    block: ArrayD<T>,
    plans: &[AxisPlan],
    new_axes: &[usize],
) -> Result<ArrayD<T>> {
    let mut a = block;
    for (ax, p) in plans.iter().enumerate() {
        if let AxisPlan::Keep { reverse: true } = p {
            a.invert_axis(Axis(ax));
        }
    }
    let mut shape: Vec<usize> = plans
        .iter()
        .zip(a.shape())
        .filter(|(p, _)| matches!(p, AxisPlan::Keep { .. }))
        .map(|(_, &n)| n)
        .collect();
    for &ax in new_axes {
        let ax = ax.min(shape.len());
        shape.insert(ax, 1);
    }
    let reversed = plans
        .iter()
        .any(|p| matches!(p, AxisPlan::Keep { reverse: true }));
    let v: Vec<T> = if reversed {
        a.iter().cloned().collect()
    } else {
        // Still the block's row-major buffer: dropping or inserting length-1 axes keeps the
        // order, so the buffer is reused as is (no element-by-element copy).
        let (v, off) = a.into_raw_vec_and_offset();
        if off.is_some_and(|o| o != 0) {
            return Err(Error::Invalid("unexpected array offset".into()));
        }
        v
    };
    ArrayD::from_shape_vec(IxDyn(&shape), v).map_err(|e| Error::Invalid(e.to_string()))
}

/// Stored bytes of a contiguous dataset read per window of merged points (bounds the buffer,
/// which is reused, so a selection spread over the whole dataset costs no fresh memory).
const POINT_WINDOW: usize = 1 << 20;

/// Reads points given by their row-major linear indices (each below the element count; checked
/// by the caller) into `out`, in the order given. Points are sorted once (skipped when already
/// sorted) and grouped, so every chunk is read and decoded once however many points fall in
/// it, and contiguous data is read in merged windows of at most [`POINT_WINDOW`] bytes into
/// one reused buffer.
pub(crate) fn read_points_linear(
    file: &FileInner,
    info: &DatasetInfo,
    lin: &[u64],
    out: &mut [u8],
) -> Result<()> {
    use rayon::prelude::*;
    let dims = info.space.dims();
    let rank = dims.len();
    let es = info.dtype.size() as usize;
    if out.len() != lin.len().saturating_mul(es) {
        return Err(Error::Invalid(format!(
            "buffer of {} bytes for {} points",
            out.len(),
            lin.len()
        )));
    }
    if lin.is_empty() {
        return Ok(());
    }
    // Coordinates of a linear index.
    let unravel = |mut l: u64, c: &mut [u64]| {
        for d in (0..rank).rev() {
            let n = dims[d].max(1);
            c[d] = l % n;
            l /= n;
        }
    };
    match &info.layout {
        DataLayout::Chunked(c) => {
            let cd = &c.chunk_dims;
            if cd.len() < rank || cd.iter().take(rank).any(|&k| k == 0) {
                return Err(Error::corrupt("chunked layout", 0, "zero chunk dimension"));
            }
            let grid: Vec<u64> = dims.iter().zip(cd).map(|(&n, &k)| n.div_ceil(k)).collect();
            // Linear index of the chunk holding a point.
            let mut co = vec![0u64; rank];
            let mut chunk_of = |l: u64| {
                unravel(l, &mut co);
                co.iter()
                    .zip(cd)
                    .zip(&grid)
                    .fold(0u64, |a, ((&x, &k), &g)| a * g + x / k)
            };
            // (chunk, linear index, point) sorted, so each chunk's points are adjacent.
            let mut order: Vec<(u64, u64, usize)> = lin
                .iter()
                .enumerate()
                .map(|(i, &l)| (chunk_of(l), l, i))
                .collect();
            if !order.is_sorted() {
                order.sort_unstable();
            }
            let groups: Vec<&[(u64, u64, usize)]> = order.chunk_by(|a, b| a.0 == b.0).collect();
            // The chunk cache serves repeated small point reads; a selection over many chunks
            // reads each once, and caching them would only cost a copy and evictions.
            let cache = (groups.len() <= crate::chunked::CACHED_READ_MAX_CHUNKS)
                .then_some(&file.chunk_cache);
            let fill = info.fill_bytes();
            // Per group: the picked element bytes, in the group's order.
            let pick = |buf: &mut Vec<u8>, g: &&[(u64, u64, usize)]| -> Result<Vec<u8>> {
                let mut first = vec![0u64; rank];
                unravel(g[0].1, &mut first);
                let cstart: Vec<u64> = first.iter().zip(cd).map(|(&x, &k)| x / k * k).collect();
                let count: Vec<u64> = cstart
                    .iter()
                    .zip(cd)
                    .zip(dims)
                    .map(|((&s, &k), &n)| k.min(n - s))
                    .collect();
                let sel = Hyperslab::new_box(&cstart, &count);
                let nbytes = usize::try_from(sel.num_elements().unwrap_or(0))
                    .ok()
                    .and_then(|n| n.checked_mul(es))
                    .filter(|&n| n as u64 <= file.limits.max_data_bytes)
                    .ok_or(Error::Limit {
                        what: "chunk read for points",
                        requested: u64::MAX,
                        limit: file.limits.max_data_bytes,
                    })?;
                buf.clear();
                buf.resize(nbytes, 0);
                crate::chunked::read_chunked_cached(
                    &file.ctx(),
                    c,
                    info.pipeline.as_ref(),
                    &file.registry,
                    dims,
                    &crate::read::max_dims(info),
                    es,
                    &fill,
                    &sel,
                    buf,
                    cache,
                )?;
                let mut picked = Vec::with_capacity(g.len() * es);
                let mut c = vec![0u64; rank];
                for &(_, l, _) in g.iter() {
                    unravel(l, &mut c);
                    let mut off = 0u64;
                    for d in 0..rank {
                        off = off * count[d] + (c[d] - cstart[d]);
                    }
                    let at = off as usize * es;
                    picked.extend_from_slice(buf.get(at..at + es).unwrap_or(&[]));
                }
                Ok(picked)
            };
            let results: Vec<Result<Vec<u8>>> = if crate::chunked::parallel(groups.len()) {
                groups.par_iter().map_init(Vec::new, pick).collect()
            } else {
                let mut buf = Vec::new();
                groups.iter().map(|g| pick(&mut buf, g)).collect()
            };
            for (g, r) in groups.iter().zip(results) {
                let r = r?;
                for (&(_, _, i), b) in g.iter().zip(r.chunks_exact(es)) {
                    if let Some(dst) = out.get_mut(i * es..(i + 1) * es) {
                        dst.copy_from_slice(b);
                    }
                }
            }
            Ok(())
        }
        DataLayout::Contiguous { address, .. } if info.external.is_none() && *address != UNDEF => {
            let sorted = lin.is_sorted();
            let order: Vec<usize> = if sorted {
                Vec::new()
            } else {
                let mut o: Vec<usize> = (0..lin.len()).collect();
                o.sort_by_key(|&i| lin[i]);
                o
            };
            let point = |k: usize| if sorted { k } else { order[k] };
            // Merge points into windows with gaps of at most 64 KiB and at most POINT_WINDOW
            // bytes (a single element may be larger).
            let es64 = es.max(1) as u64;
            let gap = 65536 / es64;
            let window = (POINT_WINDOW as u64 / es64).max(1);
            let mut buf: Vec<u8> = Vec::new();
            let mut i = 0;
            while i < lin.len() {
                let lo = lin[point(i)];
                let mut j = i + 1;
                while j < lin.len() {
                    let (prev, next) = (lin[point(j - 1)], lin[point(j)]);
                    if next > prev + gap || next - lo >= window {
                        break;
                    }
                    j += 1;
                }
                let hi = lin[point(j - 1)] + 1;
                let len = usize::try_from((hi - lo) * es64)
                    .ok()
                    .filter(|&n| n as u64 <= file.limits.max_data_bytes)
                    .ok_or_else(|| Error::Limit {
                        what: "raw data read",
                        requested: (hi - lo).saturating_mul(es64),
                        limit: file.limits.max_data_bytes,
                    })?;
                let at = address
                    .checked_add(lo * es64)
                    .ok_or_else(|| Error::corrupt("contiguous layout", *address, "overflow"))?;
                if at
                    .checked_add(len as u64)
                    .is_none_or(|e| e > file.src_size())
                {
                    return Err(Error::OutOfBounds {
                        structure: "raw data",
                        addr: at,
                        len: len as u64,
                        size: file.src_size(),
                    });
                }
                buf.clear();
                buf.resize(len, 0);
                file.src_read_into(at, &mut buf)?;
                for k in i..j {
                    let p = point(k);
                    let off = ((lin[p] - lo) as usize) * es;
                    if let (Some(src), Some(dst)) =
                        (buf.get(off..off + es), out.get_mut(p * es..(p + 1) * es))
                    {
                        dst.copy_from_slice(src);
                    }
                }
                i = j;
            }
            Ok(())
        }
        _ => {
            let total = info.num_bytes()?;
            if total > file.limits.max_data_bytes {
                return Err(Error::Limit {
                    what: "dataset read",
                    requested: total,
                    limit: file.limits.max_data_bytes,
                });
            }
            let mut all = vec![0u8; total as usize];
            crate::read::read_all(file, info, &mut all)?;
            for (p, &l) in lin.iter().enumerate() {
                let off = l as usize * es;
                if let (Some(src), Some(dst)) =
                    (all.get(off..off + es), out.get_mut(p * es..(p + 1) * es))
                {
                    dst.copy_from_slice(src);
                }
            }
            Ok(())
        }
    }
}

/// One axis of an orthogonal ("fancy") selection, as in h5py / NumPy `ds[idx, mask, :]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AxisIndex {
    /// The whole axis.
    All,
    /// These indices, in this order (duplicates allowed).
    List(Vec<u64>),
    /// The indices where the mask is true.
    Mask(Vec<bool>),
}
