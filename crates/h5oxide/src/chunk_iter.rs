//! Reading a dataset piece by piece with bounded memory: [`Dataset::chunk_iter`].
//!
//! The dataset is cut into *tiles* that are visited in row-major order of their position:
//!
//! * **chunked** layouts: one tile per chunk of the chunk grid, clipped to the dataset's extent
//!   (edge chunks yield only their in-extent part). Each chunk is decoded through the filter
//!   pipeline straight into the buffer that is handed out; chunks absent from the index yield
//!   the fill value. The per-file chunk cache is not used, so iterating over a large dataset
//!   neither keeps decoded chunks alive nor evicts what other reads cached.
//! * **contiguous, compact and external** layouts: blocks of whole rows of about
//!   [`DEFAULT_BLOCK_BYTES`] (or the size given to [`Dataset::chunk_iter_with`]). When a single
//!   row is larger than that, the block is cut along the next axis instead, so a block is always
//!   one contiguous range of the dataset's elements in row-major order. Unallocated storage
//!   yields the fill value.
//!
//! At most one tile's data is held by the iterator at a time (plus what the caller keeps): memory
//! stays bounded by the chunk size (or block size) whatever the dataset's size.

use h5oxide_format::messages::layout::DataLayout;
use h5oxide_format::{Error, Result};
use ndarray::{ArrayD, IxDyn};

use crate::chunked::Hyperslab;
use crate::dataset::Dataset;
use crate::types::H5Type;

/// Bytes per block of the row-block iteration of non-chunked datasets (whole rows when they fit).
pub const DEFAULT_BLOCK_BYTES: u64 = 1 << 20;

impl Dataset {
    /// Iterates over the dataset chunk by chunk (chunked layouts) or in blocks of whole rows of
    /// about one MiB (other layouts), in row-major order. Each item is the selection in dataset
    /// coordinates (clipped to the extent) and its elements' stored bytes, row-major over the
    /// selection's shape. Only one piece is read at a time, so memory stays bounded whatever the
    /// dataset's size; see the [module docs](crate::chunk_iter).
    ///
    /// ```no_run
    /// let f = h5oxide::File::open("big.h5")?;
    /// let ds = f.dataset("/samples")?;
    /// let mut sum = 0.0f64;
    /// for piece in ds.chunk_iter().typed::<f64>() {
    ///     let (sel, values) = piece?; // sel: h5oxide::Hyperslab, values: ndarray::ArrayD<f64>
    ///     assert_eq!(values.len() as u64, sel.num_elements().unwrap_or(0));
    ///     sum += values.sum();
    /// }
    /// // Raw bytes (file byte order), e.g. to copy the data elsewhere:
    /// for piece in ds.chunk_iter() {
    ///     let (sel, bytes) = piece?;
    ///     println!("{:?}: {} bytes", sel.start, bytes.len());
    /// }
    /// # Ok::<(), h5oxide::Error>(())
    /// ```
    pub fn chunk_iter(&self) -> ChunkIter<'_> {
        self.chunk_iter_with(DEFAULT_BLOCK_BYTES)
    }

    /// Like [`Dataset::chunk_iter`], with blocks of about `block_bytes` for non-chunked layouts
    /// (at least one element; chunked datasets always go by chunk).
    pub fn chunk_iter_with(&self, block_bytes: u64) -> ChunkIter<'_> {
        if self.info.num_elements().ok() == Some(0) {
            // Nothing to read (a zero extent or a null dataspace), whatever the layout.
            return ChunkIter {
                ds: self,
                tile: Vec::new(),
                grid: Vec::new(),
                next: 0,
                total: 0,
                error: None,
            };
        }
        let plan = plan(self, block_bytes.max(1));
        let (tile, grid, total, error) = match plan {
            Ok((tile, grid)) => {
                let total = grid.iter().try_fold(1u64, |a, &g| a.checked_mul(g));
                match total {
                    Some(t) => (tile, grid, t, None),
                    None => (
                        tile,
                        grid,
                        0,
                        Some(Error::Invalid("number of chunks overflows".into())),
                    ),
                }
            }
            Err(e) => (Vec::new(), Vec::new(), 0, Some(e)),
        };
        ChunkIter {
            ds: self,
            tile,
            grid,
            next: 0,
            total,
            error,
        }
    }
}

/// The tile shape and the number of tiles along each axis.
fn plan(ds: &Dataset, block_bytes: u64) -> Result<(Vec<u64>, Vec<u64>)> {
    let info = &ds.info;
    let dims = info.space.dims();
    let tile: Vec<u64> = match &info.layout {
        DataLayout::Chunked(c) => {
            if c.chunk_dims.len() != dims.len() {
                return Err(Error::corrupt(
                    "chunked layout",
                    c.index_address(),
                    format!(
                        "layout has {} chunk dimensions, dataspace rank is {}",
                        c.chunk_dims.len(),
                        dims.len()
                    ),
                ));
            }
            if c.chunk_dims.contains(&0) {
                return Err(Error::corrupt(
                    "chunked layout",
                    c.index_address(),
                    "chunk dimension of 0",
                ));
            }
            c.chunk_dims.clone()
        }
        _ => {
            // Rows of the innermost axes as long as they fit in `block_bytes`; the first axis
            // (from the inside) that does not fit is cut into blocks, the outer ones go one by one.
            let es = (info.dtype.size() as u64).max(1);
            let mut tile = dims.to_vec();
            let mut inner = es; // bytes of one step along the current axis
            let mut axis = dims.len();
            while axis > 0 {
                let d = axis - 1;
                let whole = inner.saturating_mul(dims[d]);
                if whole > block_bytes {
                    tile[d] = (block_bytes / inner).max(1);
                    for t in tile.iter_mut().take(d) {
                        *t = 1;
                    }
                    break;
                }
                inner = whole;
                axis = d;
            }
            tile
        }
    };
    let grid = dims
        .iter()
        .zip(&tile)
        .map(|(&n, &t)| n.div_ceil(t.max(1)))
        .collect();
    Ok((tile, grid))
}

/// Iterator over a dataset's chunks (or row blocks), created by [`Dataset::chunk_iter`]. Yields
/// `(selection, stored bytes)`; [`ChunkIter::typed`] converts to arrays of `T`.
///
/// A read error of one piece is yielded as an `Err` and the iteration goes on with the next
/// piece; an error about the whole dataset (e.g. an unsupported layout) ends it.
#[derive(Debug)]
pub struct ChunkIter<'a> {
    ds: &'a Dataset,
    /// Tile shape (chunk dims, or the row block).
    tile: Vec<u64>,
    /// Tiles per axis.
    grid: Vec<u64>,
    /// Row-major index of the next tile.
    next: u64,
    /// Number of tiles.
    total: u64,
    /// An error found while planning, yielded once.
    error: Option<Error>,
}

impl<'a> ChunkIter<'a> {
    /// Converts each piece to an array of `T` shaped like its selection (read straight into the
    /// array's buffer when `T` is the stored layout).
    pub fn typed<T: H5Type>(self) -> TypedChunkIter<'a, T> {
        TypedChunkIter {
            inner: self,
            _t: std::marker::PhantomData,
        }
    }

    /// The selection of the next piece, advancing the iterator.
    fn next_selection(&mut self) -> Option<Hyperslab> {
        if self.next >= self.total {
            return None;
        }
        let dims = self.ds.info.space.dims();
        let mut k = self.next;
        self.next += 1;
        let rank = self.grid.len();
        let mut start = vec![0u64; rank];
        let mut count = vec![0u64; rank];
        for d in (0..rank).rev() {
            let g = self.grid[d].max(1);
            let p = k % g;
            k /= g;
            let s = p.saturating_mul(self.tile[d]);
            start[d] = s;
            count[d] = self.tile[d].min(dims.get(d).copied().unwrap_or(0).saturating_sub(s));
        }
        Some(Hyperslab::new_box(&start, &count))
    }

    /// Reads the elements of `sel` (one tile) into `out`, row-major.
    fn read_into(&self, sel: &Hyperslab, out: &mut [u8]) -> Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        let file = &self.ds.file;
        let info = &self.ds.info;
        let dims = info.space.dims();
        let es = info.dtype.size() as u64;
        if let DataLayout::Virtual { .. } = &info.layout {
            // Row blocks like a contiguous dataset, each read through the mappings.
            return crate::select::read_selection_with(file, info, sel, out, None);
        }
        if let DataLayout::Chunked(_) = &info.layout {
            // No chunk cache: each chunk is decoded straight into `out` (or, for a partial edge
            // chunk, into a buffer dropped before this returns).
            return crate::select::read_selection_with(file, info, sel, out, None);
        }
        // Other layouts: a tile is one run of consecutive elements in row-major order.
        let mut lin = 0u64;
        let mut stride = 1u64;
        for (d, &n) in dims.iter().enumerate().rev() {
            lin = sel.start[d]
                .checked_mul(stride)
                .and_then(|v| v.checked_add(lin))
                .ok_or_else(|| Error::Invalid("element offset overflows".into()))?;
            stride = stride.saturating_mul(n);
        }
        let offset = lin
            .checked_mul(es)
            .ok_or_else(|| Error::Invalid("byte offset overflows".into()))?;
        crate::read::read_range(file, info, offset, out)
    }

    /// Reads and checks the size of one tile's buffer.
    fn tile_bytes(&self, sel: &Hyperslab) -> Result<usize> {
        let n = sel
            .num_elements()
            .and_then(|n| n.checked_mul(self.ds.info.dtype.size() as u64))
            .ok_or_else(|| Error::Invalid("selection size overflows".into()))?;
        if n > self.ds.file.limits.max_data_bytes {
            return Err(Error::Limit {
                what: "chunk read",
                requested: n,
                limit: self.ds.file.limits.max_data_bytes,
            });
        }
        usize::try_from(n).map_err(|_| Error::Invalid("selection too large".into()))
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = Result<(Hyperslab, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.error.take() {
            return Some(Err(e));
        }
        let sel = self.next_selection()?;
        let read = || {
            let mut buf = vec![0u8; self.tile_bytes(&sel)?];
            self.read_into(&sel, &mut buf)?;
            Ok(buf)
        };
        Some(read().map(|b| (sel.clone(), b)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.total - self.next.min(self.total) + u64::from(self.error.is_some());
        let left = usize::try_from(left).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

/// [`ChunkIter`] yielding arrays of `T`: `(selection, values shaped like the selection)`.
#[derive(Debug)]
pub struct TypedChunkIter<'a, T> {
    inner: ChunkIter<'a>,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: H5Type> Iterator for TypedChunkIter<'_, T> {
    type Item = Result<(Hyperslab, ArrayD<T>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.inner.error.take() {
            return Some(Err(e));
        }
        let sel = self.inner.next_selection()?;
        let it = &self.inner;
        let read = || -> Result<ArrayD<T>> {
            let bytes = it.tile_bytes(&sel)?;
            let dtype = &it.ds.info.dtype;
            let es = (dtype.size() as usize).max(1);
            let n = bytes / es;
            let mut v = vec![T::default(); n];
            if T::is_native(dtype) {
                it.read_into(&sel, bytemuck::cast_slice_mut(&mut v))?;
            } else {
                let mut raw = vec![0u8; bytes];
                it.read_into(&sel, &mut raw)?;
                if n > 0 {
                    T::convert(dtype, &raw, &mut v)?;
                }
            }
            let shape: Vec<usize> = sel.count.iter().map(|&c| c as usize).collect();
            ArrayD::from_shape_vec(IxDyn(&shape), v).map_err(|e| Error::Invalid(e.to_string()))
        };
        Some(read().map(|a| (sel.clone(), a)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::write::{DatasetOptions, FileWriter, Value};
    use crate::{File, RwFile};
    use ndarray::SliceInfoElem;
    use std::path::PathBuf;

    fn temp_file(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("h5oxide_chunk_iter_tests_{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join(name)
    }

    fn values(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64 * 0.5 - 7.0).collect()
    }

    /// Puts every piece back in place; checks the pieces are in row-major order, disjoint,
    /// cover the dataset, have the selection's shape, and that raw and typed pieces agree.
    fn reassemble(ds: &Dataset, block_bytes: u64) -> (ArrayD<f64>, Vec<Hyperslab>) {
        let shape = ds.shape();
        let mut out = ArrayD::<f64>::from_elem(IxDyn(&shape), f64::NAN);
        let mut sels = Vec::new();
        let raw: Vec<(Hyperslab, Vec<u8>)> = ds
            .chunk_iter_with(block_bytes)
            .collect::<Result<_>>()
            .expect("raw pieces");
        let typed = ds.chunk_iter_with(block_bytes).typed::<f64>();
        assert_eq!(typed.size_hint().0, raw.len());
        for (piece, (rsel, rbytes)) in typed.zip(&raw) {
            let (sel, a) = piece.expect("typed piece");
            assert_eq!(&sel, rsel);
            let from_raw: Vec<f64> = rbytes
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect();
            assert_eq!(a.iter().copied().collect::<Vec<_>>(), from_raw);
            let want: Vec<usize> = sel.count.iter().map(|&c| c as usize).collect();
            assert_eq!(a.shape(), &want[..]);
            let info: Vec<SliceInfoElem> = sel
                .start
                .iter()
                .zip(&sel.count)
                .map(|(&s, &c)| SliceInfoElem::Slice {
                    start: s as isize,
                    end: Some((s + c) as isize),
                    step: 1,
                })
                .collect();
            let mut dst = out.slice_each_axis_mut(|ax| match info[ax.axis.index()] {
                SliceInfoElem::Slice { start, end, .. } => ndarray::Slice::new(start, end, 1),
                _ => unreachable!(),
            });
            assert!(dst.iter().all(|v| v.is_nan()), "pieces overlap at {sel:?}");
            dst.assign(&a);
            sels.push(sel);
        }
        assert!(
            sels.windows(2).all(|w| w[0].start < w[1].start),
            "not in row-major order"
        );
        (out, sels)
    }

    #[test]
    fn gzip_chunks_with_partial_edges_match_read() {
        let p = temp_file("gzip.h5");
        let data = values(37 * 23);
        let mut w = FileWriter::create(&p).expect("create");
        w.create_dataset_with(
            "d",
            Value::from_slice(&data, &[37, 23]).expect("value"),
            DatasetOptions::new()
                .chunks(&[10, 8])
                .deflate(4)
                .shuffle(true),
        )
        .expect("dataset");
        w.close().expect("close");
        let f = File::open(&p).expect("open");
        let ds = f.dataset("d").expect("dataset");
        let (got, sels) = reassemble(&ds, DEFAULT_BLOCK_BYTES);
        assert_eq!(got, ds.read::<f64>().expect("read"));
        assert_eq!(sels.len(), 4 * 3);
        assert_eq!(sels[0], Hyperslab::new_box(&[0, 0], &[10, 8]));
        // The last chunk is partial in both axes: rows 30..37, columns 16..23.
        assert_eq!(sels[11], Hyperslab::new_box(&[30, 16], &[7, 7]));
        // Nothing was left in the chunk cache.
        assert_eq!(f.inner().chunk_cache.bytes(), 0);
    }

    #[test]
    fn unallocated_chunks_yield_the_fill_value() {
        let p = temp_file("fill.h5");
        let data = values(3 * 5);
        let mut f = RwFile::create(&p).expect("create");
        let d = f
            .create_dataset(
                "/d",
                Value::from_slice(&data, &[3, 5]).expect("value"),
                &DatasetOptions::new()
                    .chunks(&[2, 5])
                    .maxshape(&[None, Some(5)])
                    .deflate(1)
                    .fill_value(-1.5f64)
                    .expect("fill"),
            )
            .expect("dataset");
        f.resize(d, &[9, 5]).expect("resize");
        f.close().expect("close");
        let f = File::open(&p).expect("open");
        let ds = f.dataset("d").expect("dataset");
        let (got, sels) = reassemble(&ds, DEFAULT_BLOCK_BYTES);
        let all = ds.read::<f64>().expect("read");
        assert_eq!(got, all);
        assert_eq!(sels.len(), 5);
        assert_eq!(sels[4], Hyperslab::new_box(&[8, 0], &[1, 5]));
        // Rows 0..3 are the data; chunk 1 holds row 2 and a fill row; chunks 2..5 are not stored.
        let flat: Vec<f64> = all.iter().copied().collect();
        assert_eq!(&flat[..15], &data[..]);
        assert!(flat[15..].iter().all(|&v| v == -1.5), "{flat:?}");
    }

    #[test]
    fn contiguous_and_compact_go_by_row_blocks() {
        let p = temp_file("contig.h5");
        let data = values(6 * 7 * 11);
        let mut w = FileWriter::create(&p).expect("create");
        w.create_dataset("c3", Value::from_slice(&data, &[6, 7, 11]).expect("value"))
            .expect("dataset");
        w.create_dataset_with(
            "small",
            Value::from_slice(&data[..40], &[4, 10]).expect("value"),
            DatasetOptions::new().compact(true),
        )
        .expect("dataset");
        let ints: Vec<i16> = (0..100).map(|i| i * 3 - 50).collect();
        w.create_dataset("ints", Value::from_slice(&ints, &[100]).expect("value"))
            .expect("dataset");
        w.close().expect("close");
        let f = File::open(&p).expect("open");
        let ds = f.dataset("c3").expect("dataset");
        let all = ds.read::<f64>().expect("read");
        // Default: the whole 3.7 KB dataset in one block.
        let (got, sels) = reassemble(&ds, DEFAULT_BLOCK_BYTES);
        assert_eq!(got, all);
        assert_eq!(sels, vec![Hyperslab::new_box(&[0, 0, 0], &[6, 7, 11])]);
        // 2 rows of 7·11 doubles (616 bytes each) per block of 1300 bytes: 3 blocks.
        let (got, sels) = reassemble(&ds, 1300);
        assert_eq!(got, all);
        assert_eq!(sels.len(), 3);
        assert_eq!(sels[2], Hyperslab::new_box(&[4, 0, 0], &[2, 7, 11]));
        // A block smaller than a row: cut along axis 1 (3 lines of 88 bytes per 300 bytes).
        let (got, sels) = reassemble(&ds, 300);
        assert_eq!(got, all);
        assert_eq!(sels.len(), 6 * 3);
        assert_eq!(sels[2], Hyperslab::new_box(&[0, 6, 0], &[1, 1, 11]));
        // Smaller than a line: cut along the last axis, down to one element.
        let (got, sels) = reassemble(&ds, 1);
        assert_eq!(got, all);
        assert_eq!(sels.len(), 6 * 7 * 11);

        let small = f.dataset("small").expect("dataset");
        let (got, sels) = reassemble(&small, 100);
        assert_eq!(got, small.read::<f64>().expect("read"));
        assert_eq!(sels.len(), 4);

        // Typed conversion (i16 stored, read as i32 and f64).
        let ids = f.dataset("ints").expect("dataset");
        let pieces: Vec<(Hyperslab, ArrayD<i32>)> = ids
            .chunk_iter_with(64)
            .typed::<i32>()
            .collect::<Result<_>>()
            .expect("pieces");
        assert_eq!(pieces.len(), 4); // 32 two-byte elements per 64-byte block
        let flat: Vec<i32> = pieces.iter().flat_map(|(_, a)| a.iter().copied()).collect();
        assert_eq!(flat, ints.iter().map(|&v| v as i32).collect::<Vec<_>>());
    }

    #[test]
    fn unallocated_contiguous_and_empty_datasets() {
        let p = temp_file("empty.h5");
        let mut f = RwFile::create(&p).expect("create");
        let dtype = Value::from_slice(&[0f64], &[1])
            .expect("value")
            .dtype()
            .clone();
        f.create_dataset_empty(
            "/u",
            dtype.clone(),
            &[5, 3],
            &DatasetOptions::new().fill_value(2.25f64).expect("fill"),
        )
        .expect("dataset");
        f.create_dataset_empty(
            "/z",
            dtype,
            &[0, 4],
            &DatasetOptions::new()
                .chunks(&[2, 2])
                .maxshape(&[None, Some(4)]),
        )
        .expect("dataset");
        f.close().expect("close");
        let f = File::open(&p).expect("open");
        let u = f.dataset("u").expect("dataset");
        assert!(matches!(
            u.info().layout,
            DataLayout::Contiguous {
                address: h5oxide_format::UNDEF,
                ..
            }
        ));
        let (got, sels) = reassemble(&u, 30);
        assert_eq!(got, u.read::<f64>().expect("read"));
        assert!(got.iter().all(|&v| v == 2.25));
        assert_eq!(sels.len(), 5);
        let z = f.dataset("z").expect("dataset");
        assert_eq!(z.chunk_iter().count(), 0);
    }
}
