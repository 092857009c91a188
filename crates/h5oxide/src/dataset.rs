//! Datasets: shape, type, storage, and reading their values.

use std::sync::Arc;

use h5oxide_format::datatype::Datatype;
use h5oxide_format::messages::dataspace::Dataspace;
use h5oxide_format::messages::external_files::ExternalFileList;
use h5oxide_format::messages::fill_value::{FillStatus, FillValue};
use h5oxide_format::messages::filter_pipeline::FilterPipeline;
use h5oxide_format::messages::layout::DataLayout;
use h5oxide_format::object_header::{msg, Message, ObjectHeader};
use h5oxide_format::vds::VdsMapping;
use h5oxide_format::{Ctx, Error, Result, Source, UNDEF};
use ndarray::{ArrayD, IxDyn};

use crate::attribute::{attributes_of, Attribute};
use crate::file::FileInner;
use crate::types::H5Type;

/// Everything the object header says about a dataset's values.
#[derive(Debug, Clone)]
pub struct DatasetInfo {
    /// Element datatype as stored.
    pub dtype: Datatype,
    /// Address of the committed datatype's object header, when the type is a named one.
    pub committed_dtype: Option<u64>,
    /// Shape.
    pub space: Dataspace,
    /// Storage layout.
    pub layout: DataLayout,
    /// Filter pipeline (chunked datasets).
    pub pipeline: Option<FilterPipeline>,
    /// Fill value (from message 0x05, else the old 0x04).
    pub fill: Option<FillValue>,
    /// External raw-data files.
    pub external: Option<ExternalFileList>,
    /// The mappings of a virtual dataset (layout class 3).
    pub virtual_layout: Option<Arc<VirtualLayout>>,
}

/// What a virtual dataset's layout holds besides the extent libhdf5 reports.
#[derive(Debug, Clone)]
pub struct VirtualLayout {
    /// The source → virtual mappings, in stored order.
    pub mappings: Vec<VdsMapping>,
    /// The extent stored in the dataspace message ([`DatasetInfo::space`] holds the extent
    /// computed from the sources when mappings are unlimited).
    pub stored_dims: Vec<u64>,
}

impl DatasetInfo {
    /// Decodes the dataset messages of an object header.
    pub fn from_header(file: &FileInner, oh: &ObjectHeader) -> Result<DatasetInfo> {
        let ctx = &file.ctx();
        let message_body = |_: &Ctx<'_>, m: &Message| file.message_body(m);
        let need = |k: u16, what: &str| {
            oh.find(k).ok_or_else(|| {
                Error::corrupt(
                    "dataset object header",
                    oh.addr,
                    format!("no {what} message"),
                )
            })
        };
        let dtm = need(msg::DATATYPE, "datatype")?;
        let dtype = Datatype::from_bytes(&message_body(ctx, dtm)?, dtm.addr, ctx.sizes)?;
        let committed_dtype = if dtm.is_shared() {
            h5oxide_format::shared::committed_address(ctx, &dtm.data, dtm.addr)
                .ok()
                .flatten()
        } else {
            None
        };
        let dsm = need(msg::DATASPACE, "dataspace")?;
        let space = Dataspace::decode(&mut ctx.cursor(
            &message_body(ctx, dsm)?,
            dsm.addr,
            "dataspace message",
        ))?;
        let lm = need(msg::LAYOUT, "data layout")?;
        let layout = DataLayout::decode(&mut ctx.cursor(
            &message_body(ctx, lm)?,
            lm.addr,
            "data layout message",
        ))?;
        let pipeline = match oh.find(msg::FILTER_PIPELINE) {
            Some(m) => Some(FilterPipeline::decode(&mut ctx.cursor(
                &message_body(ctx, m)?,
                m.addr,
                "filter pipeline message",
            ))?),
            None => None,
        };
        let fill = if let Some(m) = oh.find(msg::FILL_VALUE) {
            Some(FillValue::decode(&mut ctx.cursor(
                &message_body(ctx, m)?,
                m.addr,
                "fill value message",
            ))?)
        } else if let Some(m) = oh.find(msg::FILL_VALUE_OLD) {
            Some(FillValue::decode_old(&mut ctx.cursor(
                &message_body(ctx, m)?,
                m.addr,
                "old fill value message",
            ))?)
        } else {
            None
        };
        let external = match oh.find(msg::EXTERNAL_FILES) {
            Some(m) => Some(ExternalFileList::decode(&mut ctx.cursor(
                &m.data,
                m.addr,
                "external data files message",
            ))?),
            None => None,
        };
        let mut space = space;
        let virtual_layout = match &layout {
            DataLayout::Virtual {
                heap_address,
                index,
            } => {
                let maps = crate::vds::load_mappings(file, *heap_address, *index)?;
                // libhdf5 reports the extent that unlimited mappings reach in the sources.
                let dims = crate::vds::virtual_extent(file, &maps, &space)?;
                let stored_dims = space.dims().to_vec();
                if let Dataspace::Simple { dims: d, .. } = &mut space {
                    *d = dims;
                }
                Some(Arc::new(VirtualLayout {
                    mappings: maps,
                    stored_dims,
                }))
            }
            _ => None,
        };
        Ok(DatasetInfo {
            dtype,
            committed_dtype,
            space,
            layout,
            pipeline,
            fill,
            external,
            virtual_layout,
        })
    }

    /// One element's fill bytes (the user value, or zeros).
    pub fn fill_bytes(&self) -> Vec<u8> {
        let size = self.dtype.size() as usize;
        match &self.fill {
            Some(FillValue {
                status: FillStatus::User,
                value: Some(v),
                ..
            }) if v.len() == size => v.clone(),
            _ => vec![0u8; size],
        }
    }

    /// Number of elements.
    pub fn num_elements(&self) -> Result<u64> {
        self.space
            .num_elements()
            .ok_or_else(|| Error::corrupt("dataspace", 0, "element count overflows"))
    }

    /// Total bytes of the dataset's elements as stored.
    pub fn num_bytes(&self) -> Result<u64> {
        self.num_elements()?
            .checked_mul(self.dtype.size() as u64)
            .ok_or_else(|| Error::corrupt("dataspace", 0, "byte size overflows"))
    }
}

/// A dataset.
///
/// ```no_run
/// let f = h5oxide::File::open("myfile.h5")?;
/// let ds = f.dataset("/experiment1/array1")?;
/// let a = ds.read::<f64>()?; // an ndarray::ArrayD<f64>
/// println!("{:?}", a.shape());
/// # Ok::<(), h5oxide::Error>(())
/// ```
#[derive(Clone)]
pub struct Dataset {
    pub(crate) file: Arc<FileInner>,
    pub(crate) addr: u64,
    pub(crate) name: String,
    pub(crate) info: Arc<DatasetInfo>,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<HDF5 dataset {:?}: shape {:?}>",
            self.name,
            self.info.space.dims()
        )
    }
}

impl Dataset {
    pub(crate) fn open(file: Arc<FileInner>, addr: u64, name: String) -> Result<Dataset> {
        let oh = file.header(addr)?;
        let info = DatasetInfo::from_header(&file, &oh)?;
        Ok(Dataset {
            file,
            addr,
            name,
            info: Arc::new(info),
        })
    }

    /// The dataset's path as opened.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Address of the object header.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// The file the dataset belongs to (for decoding variable-length data and references).
    pub fn file_inner(&self) -> &Arc<FileInner> {
        &self.file
    }

    /// What the header says about the values.
    pub fn info(&self) -> &DatasetInfo {
        &self.info
    }

    /// The stored datatype.
    pub fn dtype(&self) -> &Datatype {
        &self.info.dtype
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        self.info.space.dims().iter().map(|&d| d as usize).collect()
    }

    /// Maximum shape; `None` = unlimited.
    pub fn maxshape(&self) -> Vec<Option<u64>> {
        match &self.info.space {
            Dataspace::Simple { max, .. } => max.clone(),
            _ => Vec::new(),
        }
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.info.space.rank()
    }

    /// Number of elements.
    pub fn size(&self) -> u64 {
        self.info.space.num_elements().unwrap_or(0)
    }

    /// True for a virtual dataset (layout class 3), like h5py's `Dataset.is_virtual`.
    pub fn is_virtual(&self) -> bool {
        matches!(self.info.layout, DataLayout::Virtual { .. })
    }

    /// The mappings of a virtual dataset in stored order (source file name, `"."` for this
    /// file; source dataset path; source and virtual selections), like h5py's
    /// `Dataset.virtual_sources()`. `None` for other layouts.
    pub fn virtual_sources(&self) -> Option<&[VdsMapping]> {
        self.info
            .virtual_layout
            .as_deref()
            .map(|v| v.mappings.as_slice())
    }

    /// Chunk shape for chunked datasets.
    pub fn chunks(&self) -> Option<Vec<u64>> {
        self.info.layout.chunked().map(|c| c.chunk_dims.clone())
    }

    /// The dataset's attributes, in name order.
    pub fn attrs(&self) -> Result<Vec<Attribute>> {
        attributes_of(&self.file, self.addr)
    }

    /// The attribute called `name`.
    pub fn attr(&self, name: &str) -> Result<Attribute> {
        crate::attribute::attribute_of(&self.file, self.addr, name)
    }

    /// Reads every element's stored bytes (file byte order, row-major). Unallocated storage
    /// reads as the fill value.
    pub fn read_raw(&self) -> Result<Vec<u8>> {
        let nbytes = self.info.num_bytes()?;
        if nbytes > self.file.limits.max_data_bytes {
            return Err(Error::Limit {
                what: "dataset read",
                requested: nbytes,
                limit: self.file.limits.max_data_bytes,
            });
        }
        let mut out = crate::buffer::zeroed::<u8>(nbytes as usize);
        self.read_raw_into(&mut out)?;
        Ok(out)
    }

    /// Like [`Dataset::read_raw`], into a caller's buffer of exactly the dataset's byte size.
    pub fn read_raw_into(&self, out: &mut [u8]) -> Result<()> {
        let nbytes = self.info.num_bytes()?;
        if out.len() as u64 != nbytes {
            return Err(Error::Invalid(format!(
                "buffer of {} bytes for a dataset of {nbytes} bytes",
                out.len()
            )));
        }
        if nbytes == 0 {
            return Ok(());
        }
        crate::read::read_all(&self.file, &self.info, out)
    }

    /// Reads the whole dataset as an array of `T`. When `T` is the stored layout the data is
    /// read straight into the array's buffer (no intermediate copy).
    pub fn read<T: H5Type>(&self) -> Result<ArrayD<T>> {
        let n = self.info.num_elements()? as usize;
        let mut v = crate::buffer::zeroed::<T>(n);
        self.read_into(&mut v)?;
        ArrayD::from_shape_vec(IxDyn(&self.shape()), v).map_err(|e| Error::Invalid(e.to_string()))
    }

    /// Reads the elements a hyperslab selects, as stored bytes (row-major over the selection's
    /// shape). Only the chunks the selection touches are read and decoded.
    pub fn read_hyperslab_raw(&self, sel: &crate::Hyperslab) -> Result<Vec<u8>> {
        let n = sel
            .num_elements()
            .and_then(|n| n.checked_mul(self.info.dtype.size() as u64))
            .ok_or_else(|| Error::Invalid("selection size overflows".into()))?;
        if n > self.file.limits.max_data_bytes {
            return Err(Error::Limit {
                what: "selection read",
                requested: n,
                limit: self.file.limits.max_data_bytes,
            });
        }
        let mut out = crate::buffer::zeroed::<u8>(n as usize);
        crate::select::read_selection(&self.file, &self.info, sel, &mut out)?;
        Ok(out)
    }

    /// Reads a hyperslab as an array of `T` shaped like the selection (`count·block` per axis).
    pub fn read_hyperslab<T: H5Type>(&self, sel: &crate::Hyperslab) -> Result<ArrayD<T>> {
        if !T::is_native(&self.info.dtype) {
            let raw = self.read_hyperslab_raw(sel)?;
            let shape: Vec<usize> = sel
                .shape()
                .unwrap_or_default()
                .iter()
                .map(|&d| d as usize)
                .collect();
            let n: usize = shape.iter().product();
            let mut v = crate::buffer::zeroed::<T>(n);
            if n > 0 {
                T::convert(&self.info.dtype, &raw, &mut v)?;
            }
            return ArrayD::from_shape_vec(IxDyn(&shape), v)
                .map_err(|e| Error::Invalid(e.to_string()));
        }
        // Same layout: read straight into the array's buffer.
        let n = sel
            .num_elements()
            .ok_or_else(|| Error::Invalid("selection size overflows".into()))?;
        let bytes = n.saturating_mul(self.info.dtype.size() as u64);
        if bytes > self.file.limits.max_data_bytes {
            return Err(Error::Limit {
                what: "selection read",
                requested: bytes,
                limit: self.file.limits.max_data_bytes,
            });
        }
        let shape: Vec<usize> = sel
            .shape()
            .unwrap_or_default()
            .iter()
            .map(|&d| d as usize)
            .collect();
        let mut v = crate::buffer::zeroed::<T>(n as usize);
        if n > 0 {
            crate::select::read_selection(
                &self.file,
                &self.info,
                sel,
                bytemuck::cast_slice_mut(&mut v),
            )?;
        }
        ArrayD::from_shape_vec(IxDyn(&shape), v).map_err(|e| Error::Invalid(e.to_string()))
    }

    /// Reads a slice given with ndarray's `s![...]` macro: integers drop an axis, ranges keep it
    /// (with steps, negative ones reversing as in ndarray), `NewAxis` inserts one.
    ///
    /// ```no_run
    /// use ndarray::s;
    /// let f = h5oxide::File::open("myfile.h5")?;
    /// let ds = f.dataset("/experiment1/array1")?;
    /// let row0 = ds.read_slice::<f64, _>(s![0, ..])?; // 1-D, like `y[0, :]` in h5py
    /// let every_other = ds.read_slice::<f64, _>(s![..;2, 10..20])?;
    /// # Ok::<(), h5oxide::Error>(())
    /// ```
    pub fn read_slice<T: H5Type, S: AsRef<[ndarray::SliceInfoElem]>>(
        &self,
        slice: S,
    ) -> Result<ArrayD<T>> {
        let (sel, plans, new_axes) =
            crate::select::plan_slice(self.info.space.dims(), slice.as_ref())?;
        let block = self.read_hyperslab::<T>(&sel)?;
        crate::select::shape_result(block, &plans, &new_axes)
    }

    /// Reads arbitrary points (one coordinate per point) in the given order. Cost grows as
    /// O(n log n) in the number of points: they are sorted and grouped so each chunk is decoded
    /// once, and contiguous data is read in merged spans.
    pub fn read_points<T: H5Type>(&self, coords: &[Vec<u64>]) -> Result<Vec<T>> {
        let dims = self.info.space.dims();
        let rank = dims.len();
        let mut lin = Vec::with_capacity(coords.len());
        for c in coords {
            if c.len() != rank {
                return Err(Error::Invalid(format!(
                    "point {c:?} has rank {}, the dataset {rank}",
                    c.len()
                )));
            }
            let mut l = 0u64;
            for (d, (&x, &n)) in c.iter().zip(dims).enumerate() {
                if x >= n {
                    return Err(Error::Invalid(format!(
                        "index {x} out of range for axis {d} of length {n}"
                    )));
                }
                l = l * n + x;
            }
            lin.push(l);
        }
        self.read_linear(&lin)
    }

    /// Reads the elements at these row-major linear indices (each checked below the element
    /// count by the caller), in the order given: straight into the result when `T` is the
    /// stored layout.
    fn read_linear<T: H5Type>(&self, lin: &[u64]) -> Result<Vec<T>> {
        let es = self.info.dtype.size() as usize;
        let bytes = (lin.len() as u64).saturating_mul(es as u64);
        if bytes > self.file.limits.max_data_bytes {
            return Err(Error::Limit {
                what: "point selection",
                requested: bytes,
                limit: self.file.limits.max_data_bytes,
            });
        }
        let mut v = crate::buffer::zeroed::<T>(lin.len());
        if lin.is_empty() {
            return Ok(v);
        }
        if T::is_native(&self.info.dtype) {
            crate::select::read_points_linear(
                &self.file,
                &self.info,
                lin,
                bytemuck::cast_slice_mut(&mut v),
            )?;
            return Ok(v);
        }
        let mut raw = vec![0u8; bytes as usize];
        crate::select::read_points_linear(&self.file, &self.info, lin, &mut raw)?;
        T::convert(&self.info.dtype, &raw, &mut v)?;
        Ok(v)
    }

    /// Orthogonal ("fancy") indexing as h5py and NumPy do it: one [`crate::select::AxisIndex`]
    /// per axis (index lists, boolean masks or whole axes); the result has one axis per
    /// selection axis, in the order the indices were given.
    pub fn read_fancy<T: H5Type>(&self, axes: &[crate::select::AxisIndex]) -> Result<ArrayD<T>> {
        use crate::select::AxisIndex;
        let dims = self.info.space.dims();
        if axes.len() != dims.len() {
            return Err(Error::Invalid(format!(
                "{} axis selections for a dataset of rank {}",
                axes.len(),
                dims.len()
            )));
        }
        let lists: Vec<Vec<u64>> = axes
            .iter()
            .zip(dims)
            .map(|(a, &n)| match a {
                AxisIndex::All => Ok((0..n).collect()),
                AxisIndex::List(v) => Ok(v.clone()),
                AxisIndex::Mask(m) if m.len() as u64 == n => Ok(m
                    .iter()
                    .enumerate()
                    .filter(|(_, &b)| b)
                    .map(|(i, _)| i as u64)
                    .collect()),
                AxisIndex::Mask(m) => Err(Error::Invalid(format!(
                    "mask of length {} for an axis of {n}",
                    m.len()
                ))),
            })
            .collect::<Result<_>>()?;
        let shape: Vec<usize> = lists.iter().map(|l| l.len()).collect();
        let total: usize = shape.iter().product();
        if (total as u64).saturating_mul(self.info.dtype.size() as u64)
            > self.file.limits.max_data_bytes
        {
            return Err(Error::Limit {
                what: "fancy selection",
                requested: total as u64,
                limit: self.file.limits.max_data_bytes,
            });
        }
        for (d, (l, &n)) in lists.iter().zip(dims).enumerate() {
            if let Some(&x) = l.iter().find(|&&x| x >= n) {
                return Err(Error::Invalid(format!(
                    "index {x} out of range for axis {d} of length {n}"
                )));
            }
        }
        // Row-major strides of the dataset, for the linear index of each selected point.
        let mut strides = vec![1u64; dims.len()];
        for d in (0..dims.len().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1].saturating_mul(dims[d + 1]);
        }
        let mut lin = Vec::with_capacity(total);
        let mut idx = vec![0usize; lists.len()];
        if total > 0 {
            'outer: loop {
                lin.push(
                    idx.iter()
                        .zip(&lists)
                        .zip(&strides)
                        .map(|((&i, l), &s)| l[i] * s)
                        .sum::<u64>(),
                );
                let mut d = lists.len();
                loop {
                    if d == 0 {
                        break 'outer;
                    }
                    d -= 1;
                    idx[d] += 1;
                    if idx[d] < lists[d].len() {
                        break;
                    }
                    idx[d] = 0;
                }
            }
        }
        let v = self.read_linear::<T>(&lin)?;
        ArrayD::from_shape_vec(IxDyn(&shape), v).map_err(|e| Error::Invalid(e.to_string()))
    }

    /// Borrows a contiguous, unfiltered dataset straight from a memory-mapped (or in-memory)
    /// file as an array view, without reading or copying: for native-layout numeric types only.
    ///
    /// Fails with [`Error::Invalid`] when the file is not mapped, the dataset is not contiguous
    /// and allocated, `T` is not the stored layout, or the data is not aligned for `T`.
    ///
    /// ```no_run
    /// let f = h5oxide::OpenOptions::new().mmap(true).open("myfile.h5")?;
    /// let ds = f.dataset("/experiment1/array1")?;
    /// let view = ds.view::<f64>()?; // ndarray::ArrayViewD<f64> into the mapping
    /// println!("{}", view.sum());
    /// # Ok::<(), h5oxide::Error>(())
    /// ```
    pub fn view<T: H5Type + bytemuck::Pod>(&self) -> Result<ndarray::ArrayViewD<'_, T>> {
        use h5oxide_format::Source;
        if !T::is_native(&self.info.dtype) {
            return Err(Error::Invalid(format!(
                "the stored type is not {}'s native layout",
                T::NAME
            )));
        }
        let DataLayout::Contiguous { address, .. } = self.info.layout else {
            return Err(Error::Invalid(
                "only contiguous datasets can be viewed without copying".into(),
            ));
        };
        if address == UNDEF || self.info.external.is_some() {
            return Err(Error::Invalid(
                "the dataset has no storage in this file".into(),
            ));
        }
        let bytes = self.file.src.as_bytes().ok_or_else(|| {
            Error::Invalid("the file is not memory-mapped (OpenOptions::mmap)".into())
        })?;
        let n = self.info.num_bytes()?;
        let start =
            usize::try_from(address).map_err(|_| Error::Invalid("address too large".into()))?;
        let end = address
            .checked_add(n)
            .and_then(|e| usize::try_from(e).ok())
            .ok_or_else(|| Error::Invalid("address too large".into()))?;
        let raw = bytes.get(start..end).ok_or(Error::OutOfBounds {
            structure: "raw data",
            addr: address,
            len: n,
            size: bytes.len() as u64,
        })?;
        let typed: &[T] = bytemuck::try_cast_slice(raw)
            .map_err(|e| Error::Invalid(format!("cannot view the data as {}: {e}", T::NAME)))?;
        ndarray::ArrayViewD::from_shape(IxDyn(&self.shape()), typed)
            .map_err(|e| Error::Invalid(e.to_string()))
    }

    /// Reads the whole dataset into a caller's buffer of exactly `size()` elements, with no
    /// intermediate copy when the stored type is `T`'s native layout.
    pub fn read_into<T: H5Type>(&self, out: &mut [T]) -> Result<()> {
        let n = self.info.num_elements()? as usize;
        if out.len() != n {
            return Err(Error::Invalid(format!(
                "buffer of {} elements for a dataset of {n}",
                out.len()
            )));
        }
        if n == 0 {
            return Ok(());
        }
        if T::is_native(&self.info.dtype) {
            // Same layout: decode straight into the caller's memory.
            return self.read_raw_into(bytemuck::cast_slice_mut(out));
        }
        let raw = self.read_raw()?;
        T::convert(&self.info.dtype, &raw, out)
    }

    /// Reads every element of a string dataset (fixed or variable length).
    pub fn read_strings(&self) -> Result<Vec<String>> {
        let raw = self.read_raw()?;
        crate::strings::read_strings(&self.file, &self.info.dtype, &raw)
    }
}

/// Where a dataset's bytes are stored, as libhdf5's `H5Dget_offset`, `H5Dget_storage_size`,
/// `H5Dget_chunk_info` and `H5Dread_chunk` report them (h5py's `DatasetID.get_offset`,
/// `get_storage_size`, `get_num_chunks`, `get_chunk_info` and `read_direct_chunk`; what
/// kerchunk-style indexers and direct chunk readers use). File offsets are absolute: a user
/// block's size is included.
impl Dataset {
    /// The file offset of contiguous data; `None` for other layouts, external storage and
    /// data not allocated yet.
    pub fn data_offset(&self) -> Option<u64> {
        match &self.info.layout {
            DataLayout::Contiguous { address, .. }
                if *address != UNDEF && self.info.external.is_none() =>
            {
                address.checked_add(self.file.src.base)
            }
            _ => None,
        }
    }

    /// Bytes allocated in the file for the data (stored, filtered sizes for chunks; 0 when
    /// nothing is allocated, and for virtual datasets).
    pub fn storage_size(&self) -> Result<u64> {
        Ok(match &self.info.layout {
            DataLayout::Compact { data } => data.len() as u64,
            DataLayout::Contiguous { address, size } => {
                if self.info.external.is_some() {
                    self.info.num_bytes().unwrap_or(0)
                } else if *address == UNDEF {
                    0
                } else {
                    *size
                }
            }
            DataLayout::Chunked(_) => self
                .stored_chunks()?
                .iter()
                .fold(0u64, |a, r| a.saturating_add(r.size)),
            DataLayout::Virtual { .. } => 0,
        })
    }

    /// What opening the chunk index needs besides the layout: whether chunks are filtered
    /// (the index then stores their sizes) and the maximum dimensions.
    fn index_params(&self) -> (bool, Vec<Option<u64>>) {
        let filtered = self
            .info
            .pipeline
            .as_ref()
            .is_some_and(|p| !p.filters.is_empty());
        (filtered, crate::read::max_dims(&self.info))
    }

    /// The allocated chunks of a chunked dataset in libhdf5's order (by chunk offset), each with
    /// its offset, filter mask, absolute file address and stored size; empty for other
    /// layouts.
    pub fn stored_chunks(&self) -> Result<Vec<h5oxide_format::chunk_index::ChunkRecord>> {
        let DataLayout::Chunked(c) = &self.info.layout else {
            return Ok(Vec::new());
        };
        let (filtered, max) = self.index_params();
        let mut chunks = crate::chunked::chunk_summary(
            &self.file.ctx(),
            c,
            self.info.space.dims(),
            &max,
            filtered,
        )?
        .chunk_info;
        let base = self.file.src.base;
        for r in &mut chunks {
            r.address = r.address.saturating_add(base);
        }
        Ok(chunks)
    }

    /// The stored bytes of the chunk whose first element is at `offset`, as they are in the
    /// file (filtered), with its filter mask; `None` when that chunk is not allocated.
    pub fn read_chunk_raw(&self, offset: &[u64]) -> Result<Option<(u32, Vec<u8>)>> {
        let DataLayout::Chunked(c) = &self.info.layout else {
            return Err(Error::Invalid(format!(
                "{}: not a chunked dataset",
                self.name
            )));
        };
        let dims = &c.chunk_dims;
        if offset.len() != dims.len()
            || offset.iter().zip(dims).any(|(&o, &d)| d == 0 || o % d != 0)
        {
            return Err(Error::Invalid(format!(
                "{}: chunk offset {offset:?} is not on the chunk grid {dims:?}",
                self.name
            )));
        }
        let (filtered, max) = self.index_params();
        let ctx = self.file.ctx();
        let index = h5oxide_format::chunk_index::ChunkIndex::open(
            &ctx,
            c,
            self.info.space.dims(),
            &max,
            filtered,
        )?;
        let scaled: Vec<u64> = offset.iter().zip(dims).map(|(&o, &d)| o / d).collect();
        let Some(mut r) = index.lookup(&scaled)? else {
            return Ok(None);
        };
        r.address = r.address.saturating_add(self.file.src.base);
        Ok(Some((r.filter_mask, self.stored_chunk_bytes(&r)?)))
    }

    /// The stored (filtered) bytes of a chunk [`Dataset::stored_chunks`] listed.
    pub fn stored_chunk_bytes(
        &self,
        chunk: &h5oxide_format::chunk_index::ChunkRecord,
    ) -> Result<Vec<u8>> {
        let rel = chunk.address.saturating_sub(self.file.src.base);
        let size =
            usize::try_from(chunk.size).map_err(|_| Error::Invalid("chunk too large".into()))?;
        if rel
            .checked_add(chunk.size)
            .is_none_or(|end| end > self.file.src.size())
        {
            return Err(Error::corrupt(
                "chunk",
                rel,
                format!("{} bytes past the end of the file", chunk.size),
            ));
        }
        let mut buf = vec![0u8; size];
        self.file.src.read_into(rel, &mut buf)?;
        Ok(buf)
    }

    /// The decoded bytes (filters undone, the whole chunk) of a chunk
    /// [`Dataset::stored_chunks`] listed.
    pub fn decode_stored_chunk(
        &self,
        chunk: &h5oxide_format::chunk_index::ChunkRecord,
    ) -> Result<Vec<u8>> {
        let DataLayout::Chunked(c) = &self.info.layout else {
            return Err(Error::Invalid(format!(
                "{}: not a chunked dataset",
                self.name
            )));
        };
        let limit = self.file.limits.max_data_bytes;
        let chunk_bytes = c
            .chunk_bytes()
            .filter(|&b| b <= limit)
            .ok_or(Error::Limit {
                what: "chunk",
                requested: c.chunk_bytes().unwrap_or(u64::MAX),
                limit,
            })?;
        let raw = self.stored_chunk_bytes(chunk)?;
        crate::chunked::decode_chunk(
            raw,
            self.info.pipeline.as_ref(),
            &self.file.registry,
            chunk.filter_mask,
            chunk_bytes as usize,
        )
    }
}
