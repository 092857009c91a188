//! Dataset and attribute changes: creating datasets, writing selections, resizing, setting and
//! deleting attributes (spec §IV.A.2.b Dataspace, §IV.A.2.i Data Layout, §IV.A.2.m Attribute,
//! §III.A.1 v1 B-tree chunk index).
//!
//! Contiguous data is written in place (allocated at the first write, filled with the fill
//! value when one is set). Chunks are read, merged with the new elements, filtered — in
//! parallel — and written where they were when they still fit, else at new space; the chunk
//! index is rebuilt at flush as a v1 B-tree whose root stays at its old address.

use std::collections::BTreeMap;

use h5oxide_filters::Registry;
use h5oxide_format::chunk_index::ChunkIndex;
use h5oxide_format::datatype::Datatype;
use h5oxide_format::encode::btree_v1::{ChunkKey, ChunkNode};
use h5oxide_format::encode::fill_value::{self, Fill};
use h5oxide_format::encode::header_rewrite::{Prefix, RawMessage};
use h5oxide_format::encode::object_header::{msg_type, Message, FLAG_CONSTANT, FLAG_DONT_SHARE};
use h5oxide_format::encode::shared::{encode_committed, FLAG_SHARED};
use h5oxide_format::encode::vds as vds_enc;
use h5oxide_format::encode::{attribute, dataspace, datatype, filter_pipeline, layout, UNDEF};
use h5oxide_format::messages::dataspace::Dataspace;
use h5oxide_format::messages::fill_value::{FillStatus, FillValue};
use h5oxide_format::messages::filter_pipeline::FilterPipeline;
use h5oxide_format::messages::layout::{ChunkIndexKind, DataLayout};
use h5oxide_format::object_header::msg;
use h5oxide_format::value::Selection;
use h5oxide_format::vds::VdsMapping;
use h5oxide_format::{Error, Result};
use rayon::prelude::*;

use super::group::{even_runs, Target};
use super::RwFile;
use crate::select::Hyperslab;
use crate::write::value::{Elements, IntoValue, Value};
use crate::write::DatasetOptions;

/// What a dataset is, decoded from its header for writing.
#[derive(Debug, Clone)]
pub struct DatasetSpec {
    /// Element type.
    pub dtype: Datatype,
    /// Current dimensions (empty for a scalar).
    pub dims: Vec<u64>,
    /// Maximum dimensions.
    pub max: Vec<Option<u64>>,
    /// Layout.
    pub layout: DataLayout,
    /// Filters.
    pub pipeline: Option<FilterPipeline>,
    /// One element of fill.
    pub fill: Vec<u8>,
    /// Whether the fill value was set by the user (so allocation writes it).
    pub fill_set: bool,
    /// External raw storage (External Data Files message): each file's path (as stored;
    /// relative names are relative to the working directory, as libhdf5 resolves them), the
    /// offset in it and its bytes (`u64::MAX`: unlimited).
    pub external: Option<Vec<(std::path::PathBuf, u64, u64)>>,
}

/// Where a chunk is stored: address, stored size, filter mask.
type StoredChunk = (u64, u64, u32);

/// The chunks of one dataset, loaded for change.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChunkState {
    /// Chunk offset → (address, stored size, filter mask).
    map: BTreeMap<Vec<u64>, StoredChunk>,
    /// Changed chunks, decoded, not yet filtered and written (write-back cache).
    cache: std::collections::HashMap<Vec<u64>, Vec<u8>>,
    cache_bytes: usize,
    pub(crate) dirty: bool,
}

/// Bytes of changed chunks a dataset keeps decoded before filtering and writing them.
const CHUNK_CACHE_BYTES: usize = 32 << 20;

impl RwFile {
    /// Decodes what the dataset at `addr` is.
    pub fn dataset_spec(&mut self, addr: u64) -> Result<DatasetSpec> {
        let h = self.header(addr)?.clone();
        let ctx = self.ctx();
        let need = |k: u16, what: &str| {
            h.find(k).ok_or_else(|| {
                Error::Invalid(format!("object at {addr:#x} has no {what}: not a dataset"))
            })
        };
        let shared = |m: &RawMessage, what: &str| -> Result<()> {
            if m.flags & 0x02 != 0 {
                return Err(Error::unsupported(format!(
                    "writing a dataset whose {what} message is shared"
                )));
            }
            Ok(())
        };
        let dtm = need(msg::DATATYPE, "datatype")?;
        let dtype = if dtm.flags & 0x02 != 0 {
            match h5oxide_format::shared::committed_address(&ctx, &dtm.body, addr)? {
                Some(t) => {
                    let oh = h5oxide_format::object_header::ObjectHeader::read(&ctx, t)?;
                    let m = oh.find(msg::DATATYPE).ok_or_else(|| {
                        Error::corrupt("committed datatype", t, "no datatype message")
                    })?;
                    Datatype::from_bytes(&m.data, m.addr, ctx.sizes)?
                }
                None => {
                    return Err(Error::unsupported(
                        "writing a dataset whose datatype is a shared message",
                    ))
                }
            }
        } else {
            Datatype::from_bytes(&dtm.body, addr, ctx.sizes)?
        };
        let dsm = need(msg::DATASPACE, "dataspace")?;
        shared(dsm, "dataspace")?;
        let space = Dataspace::decode(&mut ctx.cursor(&dsm.body, addr, "dataspace message"))?;
        let (dims, max) = match space {
            Dataspace::Scalar => (Vec::new(), Vec::new()),
            Dataspace::Null => {
                return Err(Error::unsupported(
                    "writing a dataset with a null dataspace",
                ))
            }
            Dataspace::Simple { dims, max } => (dims, max),
        };
        let lm = need(msg::LAYOUT, "layout")?;
        let layout = DataLayout::decode(&mut ctx.cursor(&lm.body, addr, "layout message"))?;
        let pipeline = match h.find(msg::FILTER_PIPELINE) {
            Some(m) => {
                shared(m, "filter pipeline")?;
                Some(FilterPipeline::decode(&mut ctx.cursor(
                    &m.body,
                    addr,
                    "filter pipeline message",
                ))?)
            }
            None => None,
        };
        let external = match h.find(msg::EXTERNAL_FILES) {
            Some(m) => {
                shared(m, "external data files")?;
                let efl = h5oxide_format::messages::external_files::ExternalFileList::decode(
                    &mut ctx.cursor(&m.body, addr, "external data files message"),
                )?;
                let heap = h5oxide_format::local_heap::LocalHeap::read(&ctx, efl.heap_address)?;
                let mut files = Vec::with_capacity(efl.slots.len());
                for slot in &efl.slots {
                    let name = heap.string_at(slot.name_offset)?;
                    let name = String::from_utf8_lossy(name).into_owned();
                    files.push((std::path::PathBuf::from(name), slot.offset, slot.size));
                }
                Some(files)
            }
            None => None,
        };
        let fill_msg = if let Some(m) = h.find(msg::FILL_VALUE) {
            shared(m, "fill value")?;
            Some(FillValue::decode(&mut ctx.cursor(
                &m.body,
                addr,
                "fill value message",
            ))?)
        } else if let Some(m) = h.find(msg::FILL_VALUE_OLD) {
            Some(FillValue::decode_old(&mut ctx.cursor(
                &m.body,
                addr,
                "old fill value",
            ))?)
        } else {
            None
        };
        ctx.check_alloc("datatype element", u64::from(dtype.size()))?;
        let size = dtype.size() as usize;
        let (fill, fill_set) = match fill_msg {
            Some(FillValue {
                status: FillStatus::User,
                value: Some(v),
                ..
            }) if v.len() == size => (v, true),
            _ => (vec![0; size], false),
        };
        Ok(DatasetSpec {
            dtype,
            dims,
            max,
            layout,
            pipeline,
            fill,
            fill_set,
            external,
        })
    }

    /// Creates a dataset at `path` holding `value`, stored as `options` say.
    pub fn create_dataset(
        &mut self,
        path: &str,
        value: Value,
        options: &DatasetOptions,
    ) -> Result<u64> {
        let shape = value.shape().to_vec();
        let addr = self.create_dataset_empty(path, value.dtype().clone(), &shape, options)?;
        if shape.iter().product::<u64>() > 0 {
            let bytes = self.element_bytes(&value)?;
            self.write_raw(addr, &Hyperslab::all(&shape), &bytes)?;
        }
        Ok(addr)
    }

    /// Creates a dataset at `path` of `dtype` and `shape`, every element the fill value.
    pub fn create_dataset_empty(
        &mut self,
        path: &str,
        dtype: Datatype,
        shape: &[u64],
        options: &DatasetOptions,
    ) -> Result<u64> {
        let space = if shape.is_empty() {
            Dataspace::Scalar
        } else {
            Dataspace::Simple {
                dims: shape.to_vec(),
                max: shape.iter().map(|&d| Some(d)).collect(),
            }
        };
        self.create_dataset_in(path, dtype, space, options)
    }

    /// Creates a dataset at `path` of `dtype` with a null dataspace (h5py's `Empty(dtype)`):
    /// no elements, contiguous storage of size 0 that is never allocated, as libhdf5 writes
    /// it. Only `options.track_order` applies (h5py refuses chunk and filter options).
    pub fn create_dataset_null(
        &mut self,
        path: &str,
        dtype: Datatype,
        options: &DatasetOptions,
    ) -> Result<u64> {
        let o = DatasetOptions::new().track_order(options.track_order);
        self.create_dataset_in(path, dtype, Dataspace::Null, &o)
    }

    /// Creates a virtual dataset at `path` (h5py's `create_virtual_dataset`): `dtype`, extent
    /// `shape` with maximum `max` (`None` = unlimited), its elements taken from the source
    /// datasets `mappings` name (spec §III.F; file name `"."` = this file). Elements no mapping
    /// covers read as `options.fill_value`, else zero. The mapping block goes to a global heap
    /// object named by a version-4 virtual layout, as libhdf5 writes it.
    ///
    /// Each mapping's source and virtual selections must select the same number of elements,
    /// and the virtual selection must lie inside `max`. Unlimited (`UNDEF`) counts and
    /// printf-style `%b` source names are written as given.
    pub fn create_virtual_dataset(
        &mut self,
        path: &str,
        dtype: Datatype,
        shape: &[u64],
        max: &[Option<u64>],
        mappings: &[VdsMapping],
        options: &DatasetOptions,
    ) -> Result<u64> {
        if shape.len() != max.len() || shape.is_empty() {
            return Err(Error::Invalid(format!(
                "{path}: a virtual dataset needs a simple dataspace with one maximum per \
                 dimension"
            )));
        }
        if let Some(d) = (0..shape.len()).find(|&d| max[d].is_some_and(|m| m < shape[d])) {
            return Err(Error::Invalid(format!(
                "{path}: dimension {d} is larger than its maximum"
            )));
        }
        for (i, m) in mappings.iter().enumerate() {
            if let (Some(a), Some(b)) = (m.source.npoints(), m.virtual_sel.npoints()) {
                if a != b {
                    return Err(Error::Invalid(format!(
                        "{path}: mapping {i} selects {a} source elements for {b} virtual ones"
                    )));
                }
            }
            if let Some(d) = selection_outside(&m.virtual_sel, max) {
                return Err(Error::Invalid(format!(
                    "{path}: mapping {i} selects beyond the maximum extent in dimension {d}"
                )));
            }
        }
        let (parent, name, fill) = self.new_dataset_checks(path, &dtype, options)?;
        let fill = fill.map_or(Fill::Default, Fill::Value);
        let block = vds_enc::encode_mappings(mappings)?;
        let (heap, index) = self.gheap_put(&block)?;
        let space = Dataspace::Simple {
            dims: shape.to_vec(),
            max: max.to_vec(),
        };
        let mut msgs = vec![
            Message::new(msg_type::DATASPACE, 0, dataspace::encode(&space)?),
            Message::new(msg_type::DATATYPE, FLAG_CONSTANT, datatype::encode(&dtype)?),
            Message::new(
                msg_type::FILL_VALUE,
                FLAG_CONSTANT,
                fill_value::encode_v2(
                    fill_value::ALLOC_INCREMENTAL,
                    fill_value::FILL_IF_SET,
                    &fill,
                )?,
            ),
        ];
        if let Fill::Value(b) = &fill {
            msgs.push(Message::new(
                msg_type::FILL_VALUE_OLD,
                FLAG_CONSTANT,
                fill_value::encode_old(b)?,
            ));
        }
        msgs.push(Message::new(
            msg_type::LAYOUT,
            0,
            layout::encode_virtual(heap, index),
        ));
        let addr = self.new_header(&msgs, 160)?;
        self.add_link(parent, name, Target::Hard { addr, cache: None })?;
        Ok(addr)
    }

    /// Commits `dtype` as a named datatype at `path` (h5py's `group[name] = numpy.dtype`): a
    /// version-1 object header holding only the Datatype message, as libhdf5 writes it.
    /// Returns its header address.
    pub fn commit_datatype(&mut self, path: &str, dtype: &Datatype) -> Result<u64> {
        let (parent, name) = self.parent_of(path)?;
        if self.group_state(parent)?.get(name.as_bytes()).is_some() {
            return Err(Error::Invalid(format!(
                "unable to commit datatype (name already exists): {path}"
            )));
        }
        let probe = Target::Hard {
            addr: UNDEF,
            cache: None,
        };
        self.check_add_link(parent, name, &probe)?;
        let msgs = [Message::new(
            msg_type::DATATYPE,
            FLAG_CONSTANT | FLAG_DONT_SHARE,
            datatype::encode(dtype)?,
        )];
        // room for attributes before a continuation block is needed
        let addr = self.new_header(&msgs, 128)?;
        self.add_link(parent, name, Target::Hard { addr, cache: None })?;
        Ok(addr)
    }

    /// Makes the Datatype message of the dataset at `dataset` a shared reference to the
    /// committed datatype whose header is at `committed` (h5py's
    /// `create_dataset(..., dtype=group[type_name])`), which must hold the same type; the
    /// committed datatype's reference count goes up by one, as libhdf5 counts its users.
    pub fn share_committed_datatype(&mut self, dataset: u64, committed: u64) -> Result<()> {
        let sizes = self.ctx().sizes;
        let t = self.committed_type(committed)?;
        let dh = self.header(dataset)?;
        let dm = dh
            .find(msg::DATATYPE)
            .ok_or_else(|| Error::Invalid(format!("object at {dataset:#x} is not a dataset")))?;
        if dm.flags & FLAG_SHARED != 0 {
            return Err(Error::Invalid(format!(
                "the datatype of the dataset at {dataset:#x} is already shared"
            )));
        }
        if Datatype::from_bytes(&dm.body, dataset, sizes)? != t {
            return Err(Error::Invalid(
                "the dataset's datatype differs from the committed datatype".into(),
            ));
        }
        let dh = self.header_mut(dataset)?;
        if let Some(m) = dh.find_mut(msg::DATATYPE) {
            m.body = encode_committed(committed);
            m.flags = FLAG_CONSTANT | FLAG_SHARED;
        }
        let th = self.header_mut(committed)?;
        let n = th.refcount().saturating_add(1);
        th.set_refcount(n);
        Ok(())
    }

    /// What every new dataset at `path` is checked for before anything is written: no link
    /// of that name yet, a link the parent group can take, a non-empty datatype, and a fill
    /// value (when given) of one element of that type. Returns the parent group, the link
    /// name and the fill value's bytes.
    fn new_dataset_checks<'p>(
        &mut self,
        path: &'p str,
        dtype: &Datatype,
        options: &DatasetOptions,
    ) -> Result<(u64, &'p str, Option<Vec<u8>>)> {
        let (parent, name) = self.parent_of(path)?;
        if self.group_state(parent)?.get(name.as_bytes()).is_some() {
            return Err(Error::Invalid(format!(
                "unable to create dataset (name already exists): {path}"
            )));
        }
        let probe = Target::Hard {
            addr: UNDEF,
            cache: None,
        };
        self.check_add_link(parent, name, &probe)?;
        let elem = dtype.size();
        if elem == 0 {
            return Err(Error::Invalid(format!("{path}: zero-size datatype")));
        }
        let fill = match &options.fill_value {
            None => None,
            Some(f) => match &f.elements {
                Elements::Raw(raw) if f.dtype == *dtype && raw.len() == elem as usize => {
                    Some(raw.clone())
                }
                _ => {
                    return Err(Error::Invalid(format!(
                        "{path}: the fill value must be one element of the dataset's type"
                    )))
                }
            },
        };
        Ok((parent, name, fill))
    }

    fn create_dataset_in(
        &mut self,
        path: &str,
        dtype: Datatype,
        space: Dataspace,
        options: &DatasetOptions,
    ) -> Result<u64> {
        let shape = space.dims().to_vec();
        let shape = &shape[..];
        let (parent, name, fill) = self.new_dataset_checks(path, &dtype, options)?;
        let elem = dtype.size();
        let null = space == Dataspace::Null;
        let mut value = Value {
            dtype: dtype.clone(),
            space,
            elements: Elements::Raw(Vec::new()),
        };
        let chunked = if null {
            None
        } else {
            crate::write::chunking(path, &mut value, options)?
        };
        let external = if options.external.is_empty() {
            None
        } else {
            if chunked.is_some() || options.compact || null {
                return Err(Error::unsupported(format!(
                    "{path}: external storage of a chunked, filtered, resizable, compact or \
                     empty dataset"
                )));
            }
            let size = shape
                .iter()
                .try_fold(u64::from(elem), |a, &d| a.checked_mul(d))
                .ok_or_else(|| Error::Invalid(format!("{path}: dataset too large")))?;
            let last = options.external.len() - 1;
            let mut room = 0u64;
            for (i, (name, _offset, bytes)) in options.external.iter().enumerate() {
                if name.is_empty() || name.contains('\0') {
                    return Err(Error::Invalid(format!("external file name {name:?}")));
                }
                if *bytes == u64::MAX && i != last {
                    return Err(Error::Invalid(format!(
                        "{path}: only the last external file may be unlimited"
                    )));
                }
                room = room.saturating_add(*bytes);
            }
            if room < size {
                return Err(Error::Invalid(format!(
                    "{path}: external storage of {room} bytes is smaller than the dataset's \
                     {size} bytes"
                )));
            }
            let mut heap = h5oxide_format::encode::local_heap::LocalHeapBuilder::new();
            let mut slots = Vec::with_capacity(options.external.len());
            for (name, offset, bytes) in &options.external {
                slots.push((heap.add(name.as_bytes())?, *offset, *bytes));
            }
            // the heap's encoding names its own address (its data segment follows the header)
            let heap_addr = self.alloc(heap.encode_exact(0).len() as u64)?;
            self.touch();
            self.write_at(heap_addr, &heap.encode_exact(heap_addr))?;
            Some(layout::encode_external_files(heap_addr, &slots)?)
        };
        let n: u64 = if null { 0 } else { shape.iter().product() };
        let (alloc_time, layout_body, pipeline) = if let Some(c) = &chunked {
            let dims: Vec<u32> = c.dims.iter().map(|&x| x as u32).collect();
            let p = if c.filters.is_empty() {
                None
            } else {
                Some(filter_pipeline::encode_v1(&c.filters)?)
            };
            (
                fill_value::ALLOC_INCREMENTAL,
                layout::encode_chunked(UNDEF, &dims, elem)?,
                p,
            )
        } else if options.compact {
            if dtype.has_variable_parts() {
                return Err(Error::unsupported(
                    "compact storage of variable-length data",
                ));
            }
            let one = fill.clone().unwrap_or_else(|| vec![0; elem as usize]);
            let data = one.repeat(n as usize);
            (
                fill_value::ALLOC_EARLY,
                layout::encode_compact(&data)?,
                None,
            )
        } else {
            let size = n
                .checked_mul(u64::from(elem))
                .ok_or_else(|| Error::Invalid(format!("{path}: dataset too large")))?;
            (
                fill_value::ALLOC_LATE,
                layout::encode_contiguous(UNDEF, size),
                None,
            )
        };
        let fill_time = if dtype.has_variable_parts() {
            fill_value::FILL_ON_ALLOC
        } else {
            fill_value::FILL_IF_SET
        };
        let fill_enc = match &fill {
            Some(b) => Fill::Value(b.clone()),
            None => Fill::Default,
        };
        let mut msgs = vec![
            Message::new(msg_type::DATASPACE, 0, dataspace::encode(&value.space)?),
            Message::new(msg_type::DATATYPE, FLAG_CONSTANT, datatype::encode(&dtype)?),
            Message::new(
                msg_type::FILL_VALUE,
                FLAG_CONSTANT,
                fill_value::encode_v2(alloc_time, fill_time, &fill_enc)?,
            ),
        ];
        if let Some(b) = &fill {
            msgs.push(Message::new(
                msg_type::FILL_VALUE_OLD,
                FLAG_CONSTANT,
                fill_value::encode_old(b)?,
            ));
        }
        if let Some(p) = pipeline {
            msgs.push(Message::new(msg_type::FILTER_PIPELINE, FLAG_CONSTANT, p));
        }
        if let Some(efl) = external {
            msgs.push(Message::new(msg::EXTERNAL_FILES, FLAG_CONSTANT, efl));
        }
        msgs.push(Message::new(msg_type::LAYOUT, 0, layout_body));
        let addr = if options.track_order {
            // Attribute creation order is tracked and indexed in a version-2 header (flags
            // bits 2 and 3); the Attribute Info message comes with the first attribute.
            use h5oxide_format::encode::object_header::{
                encode_v2, OHDR_ATTR_CRT_ORDER_INDEXED, OHDR_ATTR_CRT_ORDER_TRACKED,
            };
            // room for attributes before a continuation block is needed
            msgs.push(Message::new(0, 0, vec![0; 160]));
            let bytes = encode_v2(
                &msgs,
                OHDR_ATTR_CRT_ORDER_TRACKED | OHDR_ATTR_CRT_ORDER_INDEXED,
            )?;
            self.touch();
            self.put(&bytes)?
        } else {
            self.new_header(&msgs, 160)?
        };
        self.add_link(parent, name, Target::Hard { addr, cache: None })?;
        if chunked.is_some() {
            self.chunks.insert(addr, ChunkState::default());
        }
        Ok(addr)
    }

    /// Writes `data` (elements as stored, row-major over the selection's shape) into the
    /// selection `sel` of the dataset at `addr`.
    pub fn write_raw(&mut self, addr: u64, sel: &Hyperslab, data: &[u8]) -> Result<()> {
        let spec = self.dataset_spec(addr)?;
        let elem = spec.dtype.size() as usize;
        sel.validate(&spec.dims)?;
        let n = sel.num_elements().unwrap_or(0);
        if (n as usize).checked_mul(elem) != Some(data.len()) {
            return Err(Error::Invalid(format!(
                "{} bytes for a selection of {n} elements of {elem} bytes",
                data.len()
            )));
        }
        if n == 0 {
            return Ok(());
        }
        self.touch();
        match &spec.layout {
            DataLayout::Contiguous { address, size } => {
                let want = spec
                    .dims
                    .iter()
                    .try_fold(elem as u64, |a, &d| a.checked_mul(d));
                if want != Some(*size) {
                    return Err(Error::corrupt(
                        "data layout",
                        addr,
                        format!("contiguous storage of {size} bytes for {want:?} bytes of data"),
                    ));
                }
                if let Some(files) = &spec.external {
                    let mut open = std::collections::HashMap::new();
                    for (d, s, k) in contiguous_runs(sel, &spec.dims) {
                        let bytes = &data[s as usize * elem..(s + k) as usize * elem];
                        write_external(files, &mut open, d * elem as u64, bytes)?;
                    }
                    return Ok(());
                }
                let mut base = *address;
                if base == UNDEF {
                    base = self.alloc_fresh(*size)?;
                    if spec.fill_set && spec.fill.iter().any(|&b| b != 0) {
                        let total = (*size / elem as u64) as usize;
                        let mut buf = Vec::with_capacity(total.min(1 << 20) * elem);
                        let mut at = 0u64;
                        let per = 1usize << 20;
                        let mut left = total;
                        while left > 0 {
                            let k = left.min(per);
                            buf.clear();
                            for _ in 0..k {
                                buf.extend_from_slice(&spec.fill);
                            }
                            self.write_at(base + at, &buf)?;
                            at += buf.len() as u64;
                            left -= k;
                        }
                    }
                    let h = self.header_mut(addr)?;
                    if let Some(m) = h.find_mut(msg::LAYOUT) {
                        m.body = layout::encode_contiguous(base, *size);
                    }
                }
                for (d, s, k) in contiguous_runs(sel, &spec.dims) {
                    let bytes = &data[s as usize * elem..(s + k) as usize * elem];
                    self.write_at(base + d * elem as u64, bytes)?;
                }
                Ok(())
            }
            DataLayout::Compact { data: old } => {
                let mut buf = old.clone();
                let lists = coord_lists(sel);
                let down = down_products(&spec.dims);
                let sel_down = down_products(&sel_shape(sel));
                for_runs(&lists, &sel_down, &down, &mut |d, s, k| {
                    let (d, s, k) = (d as usize * elem, s as usize * elem, k as usize * elem);
                    if let (Some(dst), Some(src)) = (buf.get_mut(d..d + k), data.get(s..s + k)) {
                        dst.copy_from_slice(src);
                    }
                });
                let h = self.header_mut(addr)?;
                if let Some(m) = h.find_mut(msg::LAYOUT) {
                    m.body = layout::encode_compact(&buf)?;
                }
                Ok(())
            }
            DataLayout::Chunked(_) => self.write_chunked(addr, &spec, sel, data),
            _ => Err(Error::unsupported("writing this data layout")),
        }
    }

    /// Stores `bytes` as the chunk of the dataset at `addr` whose first element is at `offset`
    /// (on the chunk grid, inside the current extent), exactly as given: already filtered,
    /// with `filter_mask` saying which filters of the pipeline were not applied (bit *i* for
    /// filter *i*). h5py's `DatasetID.write_direct_chunk`, libhdf5's `H5Dwrite_chunk`.
    pub fn write_chunk_raw(
        &mut self,
        addr: u64,
        offset: &[u64],
        filter_mask: u32,
        bytes: &[u8],
    ) -> Result<()> {
        let spec = self.dataset_spec(addr)?;
        let c = spec
            .layout
            .chunked()
            .ok_or_else(|| Error::Invalid(format!("dataset at {addr:#x} is not chunked")))?
            .clone();
        if offset.len() != spec.dims.len()
            || offset.len() != c.chunk_dims.len()
            || offset
                .iter()
                .zip(&c.chunk_dims)
                .zip(&spec.dims)
                .any(|((&o, &cd), &d)| cd == 0 || o % cd != 0 || o >= d)
        {
            return Err(Error::Invalid(format!(
                "chunk offset {offset:?} is not on the chunk grid {:?} inside the extent {:?}",
                c.chunk_dims, spec.dims
            )));
        }
        if bytes.is_empty() {
            return Err(Error::Invalid("a stored chunk cannot be empty".into()));
        }
        self.touch();
        self.chunk_state(addr, &spec)?;
        let ex = {
            let st = self
                .chunks
                .get_mut(&addr)
                .ok_or_else(|| Error::Invalid("chunks".into()))?;
            if st.cache.remove(offset).is_some() {
                st.cache_bytes = st.cache_bytes.saturating_sub(
                    c.chunk_elements().unwrap_or(0) as usize * spec.dtype.size() as usize,
                );
            }
            st.map.get(offset).copied()
        };
        let len = bytes.len() as u64;
        let at = match ex {
            Some((a, size, _)) if size == len => a,
            Some((a, size, _)) => {
                self.release(a, size);
                self.alloc(len)?
            }
            None => self.alloc(len)?,
        };
        self.write_at(at, bytes)?;
        let st = self
            .chunks
            .get_mut(&addr)
            .ok_or_else(|| Error::Invalid("chunks".into()))?;
        st.map.insert(offset.to_vec(), (at, len, filter_mask));
        st.dirty = true;
        Ok(())
    }

    /// Writes a [`Value`] (variable-length strings go to the global heap) into `sel`.
    pub fn write_value(&mut self, addr: u64, sel: &Hyperslab, value: &Value) -> Result<()> {
        let bytes = self.element_bytes(value)?;
        self.write_raw(addr, sel, &bytes)
    }

    fn chunk_state(&mut self, addr: u64, spec: &DatasetSpec) -> Result<&mut ChunkState> {
        if !self.chunks.contains_key(&addr) {
            let c = spec
                .layout
                .chunked()
                .ok_or_else(|| Error::Invalid("not chunked".into()))?;
            if c.dont_filter_partial_edge_chunks() {
                return Err(Error::unsupported(
                    "writing a dataset whose partial edge chunks are not filtered",
                ));
            }
            let ctx = self.ctx();
            let idx = ChunkIndex::open(&ctx, c, &spec.dims, &spec.max, spec.pipeline.is_some())?;
            let mut map = BTreeMap::new();
            for r in idx.records()? {
                map.insert(r.offset, (r.address, r.size, r.filter_mask));
            }
            self.chunks.insert(
                addr,
                ChunkState {
                    map,
                    ..Default::default()
                },
            );
        }
        self.chunks
            .get_mut(&addr)
            .ok_or_else(|| Error::Invalid("chunks".into()))
    }

    fn write_chunked(
        &mut self,
        addr: u64,
        spec: &DatasetSpec,
        sel: &Hyperslab,
        data: &[u8],
    ) -> Result<()> {
        let c = spec
            .layout
            .chunked()
            .ok_or_else(|| Error::Invalid("not chunked".into()))?
            .clone();
        let elem = spec.dtype.size() as usize;
        let cdims = c.chunk_dims.clone();
        let chunk_elems = cdims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .filter(|&n| n > 0)
            .ok_or_else(|| Error::corrupt("data layout", addr, "chunk dimensions overflow"))?;
        let chunk_bytes = chunk_elems
            .checked_mul(elem as u64)
            .ok_or_else(|| Error::corrupt("data layout", addr, "chunk size overflows"))?;
        if chunk_bytes > self.limits.max_data_bytes {
            return Err(Error::Limit {
                what: "chunk",
                requested: chunk_bytes,
                limit: self.limits.max_data_bytes,
            });
        }
        let chunk_bytes = chunk_bytes as usize;
        // Chunk grid positions touched, per dimension.
        let lists_all = coord_lists(sel);
        let mut per_dim: Vec<Vec<u64>> = Vec::with_capacity(cdims.len());
        for (d, l) in lists_all.iter().enumerate() {
            let mut v: Vec<u64> = Vec::new();
            for &(_, p, n) in l {
                for g in p / cdims[d]..=(p + n - 1) / cdims[d] {
                    if v.last() != Some(&g) {
                        v.push(g);
                    }
                }
            }
            per_dim.push(v);
        }
        let mut origins = vec![Vec::new()];
        for (d, v) in per_dim.iter().enumerate() {
            let mut next = Vec::with_capacity(origins.len() * v.len());
            for o in &origins {
                for &g in v {
                    let mut o2: Vec<u64> = o.clone();
                    o2.push(g * cdims[d]);
                    next.push(o2);
                }
            }
            origins = next;
        }
        self.chunk_state(addr, spec)?;
        let sel_down = down_products(&sel_shape(sel));
        let cdown = down_products(&cdims);
        // Chunks not in the write-back cache: decoded from the file (in parallel) unless the
        // selection covers them wholly, else the fill value.
        let missing: Vec<(usize, Option<StoredChunk>)> = {
            let st = self
                .chunks
                .get(&addr)
                .ok_or_else(|| Error::Invalid("chunks".into()))?;
            origins
                .iter()
                .enumerate()
                .filter(|(_, o)| !st.cache.contains_key(*o))
                .map(|(i, o)| (i, st.map.get(o).copied()))
                .collect()
        };
        let mut raws = Vec::with_capacity(missing.len());
        for (i, ex) in &missing {
            let covered: u64 = clip(&lists_all, &origins[*i], &cdims)
                .iter()
                .map(|l| l.iter().map(|r| r.2).sum::<u64>())
                .product();
            raws.push(match ex {
                Some((a, size, mask)) if covered != chunk_elems => {
                    let mut buf = vec![0u8; *size as usize];
                    self.ctx().src.read_into(*a, &mut buf)?;
                    Some((buf, *mask))
                }
                _ => None,
            });
        }
        let registry = Registry::default();
        let pipeline = spec.pipeline.clone();
        let fill = &spec.fill;
        let loaded: Vec<Result<Vec<u8>>> = raws
            .into_par_iter()
            .map(|raw| match raw {
                Some((raw, mask)) => crate::chunked::decode_chunk(
                    raw,
                    pipeline.as_ref(),
                    &registry,
                    mask,
                    chunk_bytes,
                ),
                None => Ok(fill.repeat(chunk_elems as usize)),
            })
            .collect();
        let st = self
            .chunks
            .get_mut(&addr)
            .ok_or_else(|| Error::Invalid("chunks".into()))?;
        for ((i, _), buf) in missing.into_iter().zip(loaded) {
            st.cache_bytes += chunk_bytes;
            st.cache.insert(origins[i].clone(), buf?);
        }
        for origin in &origins {
            let lists = clip(&lists_all, origin, &cdims);
            let buf = st
                .cache
                .get_mut(origin)
                .ok_or_else(|| Error::Invalid("chunk cache".into()))?;
            for_runs(&lists, &sel_down, &cdown, &mut |d, s, k| {
                let (d, s, k) = (d as usize * elem, s as usize * elem, k as usize * elem);
                if let (Some(dst), Some(src)) = (buf.get_mut(d..d + k), data.get(s..s + k)) {
                    dst.copy_from_slice(src);
                }
            });
        }
        st.dirty = true;
        if st.cache_bytes > CHUNK_CACHE_BYTES {
            self.flush_chunks(addr)?;
        }
        Ok(())
    }

    /// Filters the cached (changed) chunks of the dataset at `addr` in parallel and writes
    /// them: where they were when they still fit, else at new space.
    pub(crate) fn flush_chunks(&mut self, addr: u64) -> Result<()> {
        let Some(st) = self.chunks.get_mut(&addr) else {
            return Ok(());
        };
        if st.cache.is_empty() {
            return Ok(());
        }
        let cache = std::mem::take(&mut st.cache);
        st.cache_bytes = 0;
        let spec = self.dataset_spec(addr)?;
        let registry = Registry::default();
        let pipeline = spec.pipeline.clone();
        let mut chunks: Vec<(Vec<u64>, Vec<u8>)> = cache.into_iter().collect();
        chunks.sort_by(|a, b| a.0.cmp(&b.0));
        let encoded: Vec<Result<(Vec<u8>, u32)>> = chunks
            .par_iter()
            .map(|(_, buf)| encode_chunk(buf.clone(), pipeline.as_ref(), &registry))
            .collect();
        for ((origin, _), r) in chunks.into_iter().zip(encoded) {
            let (bytes, mask) = r?;
            let ex = self
                .chunks
                .get(&addr)
                .and_then(|s| s.map.get(&origin).copied());
            let at = match ex {
                Some((a, size, _)) if bytes.len() as u64 == size => a,
                Some((a, size, _)) if bytes.len() as u64 <= size && pipeline.is_none() => a,
                Some((a, size, _)) => {
                    self.release(a, size);
                    self.alloc(bytes.len() as u64)?
                }
                None => self.alloc(bytes.len() as u64)?,
            };
            self.write_at(at, &bytes)?;
            let st = self
                .chunks
                .get_mut(&addr)
                .ok_or_else(|| Error::Invalid("chunks".into()))?;
            st.map.insert(origin, (at, bytes.len() as u64, mask));
            st.dirty = true;
        }
        Ok(())
    }

    /// Writes the chunk index of the dataset at `addr` as a v1 B-tree (layout version 3).
    /// The Layout message body `write_chunk_index` may give the dataset at `addr` (same size,
    /// address left undefined), or None when it keeps its message.
    pub(crate) fn layout_after_index(&mut self, addr: u64) -> Result<Option<Vec<u8>>> {
        let spec = self.dataset_spec(addr)?;
        let Some(c) = spec.layout.chunked() else {
            return Ok(None);
        };
        if matches!(c.index, ChunkIndexKind::BTreeV1 { address } if address != UNDEF)
            && c.version <= 3
        {
            return Ok(None);
        }
        let dims: Vec<u32> = c
            .chunk_dims
            .iter()
            .map(|&d| u32::try_from(d).map_err(|_| Error::Invalid("chunk dims".into())))
            .collect::<Result<_>>()?;
        Ok(Some(layout::encode_chunked(
            UNDEF,
            &dims,
            spec.dtype.size(),
        )?))
    }

    pub(crate) fn write_chunk_index(&mut self, addr: u64) -> Result<()> {
        self.flush_chunks(addr)?;
        let spec = self.dataset_spec(addr)?;
        let Some(st) = self.chunks.get(&addr).cloned() else {
            return Ok(());
        };
        let c = spec
            .layout
            .chunked()
            .ok_or_else(|| Error::Invalid("not chunked".into()))?
            .clone();
        let rank = spec.dims.len();
        let elem = spec.dtype.size();
        let old_root = match &c.index {
            ChunkIndexKind::BTreeV1 { address } if c.version <= 3 => *address,
            _ => UNDEF,
        };
        let mut root = old_root;
        if !st.map.is_empty() {
            let mut items = Vec::with_capacity(st.map.len());
            for (off, (a, size, mask)) in &st.map {
                let mut offsets = off.clone();
                offsets.push(0);
                let size = u32::try_from(*size)
                    .map_err(|_| Error::Invalid("a stored chunk exceeds 4 GiB".into()))?;
                items.push((
                    ChunkKey {
                        size,
                        filter_mask: *mask,
                        offsets,
                    },
                    *a,
                ));
            }
            let last = st.map.keys().last().cloned().unwrap_or_default();
            let mut end: Vec<u64> = last.iter().zip(&c.chunk_dims).map(|(o, k)| o + k).collect();
            end.push(u64::from(elem));
            let end = ChunkKey {
                size: 0,
                filter_mask: 0,
                offsets: end,
            };
            root = self.write_chunk_btree(items, end, rank, old_root)?;
        } else if old_root != UNDEF {
            // No chunks left (a resize dropped them all): the root becomes an empty leaf, as
            // libhdf5 creates it, so it no longer lists the dropped chunks.
            let size = self.chunk_node_size(rank);
            let mut b = Vec::with_capacity(size);
            b.extend_from_slice(b"TREE");
            b.extend_from_slice(&[1, 0, 0, 0]);
            b.extend_from_slice(&UNDEF.to_le_bytes());
            b.extend_from_slice(&UNDEF.to_le_bytes());
            b.resize(size, 0);
            self.write_at(old_root, &b)?;
        }
        if root != old_root || c.version > 3 || !matches!(c.index, ChunkIndexKind::BTreeV1 { .. }) {
            let dims: Vec<u32> = c
                .chunk_dims
                .iter()
                .map(|&d| u32::try_from(d).map_err(|_| Error::Invalid("chunk dims".into())))
                .collect::<Result<_>>()?;
            let body = layout::encode_chunked(root, &dims, elem)?;
            let h = self.header_mut(addr)?;
            if let Some(m) = h.find_mut(msg::LAYOUT) {
                m.body = body;
            }
        }
        if let Some(s) = self.chunks.get_mut(&addr) {
            s.dirty = false;
        }
        Ok(())
    }

    fn write_chunk_btree(
        &mut self,
        mut items: Vec<(ChunkKey, u64)>,
        end: ChunkKey,
        rank: usize,
        root: u64,
    ) -> Result<u64> {
        let node_size = self.chunk_node_size(rank) as u64;
        let capacity = self.chunk_node_capacity();
        let mut level = 0u8;
        loop {
            let n = items.len().div_ceil(capacity);
            let base = if n == 1 && root != UNDEF {
                root
            } else {
                self.alloc(n as u64 * node_size)?
            };
            let runs = even_runs(items.len(), n);
            let mut next = Vec::with_capacity(n);
            for (i, run) in runs.iter().enumerate() {
                let chunk = &items[run.clone()];
                let mut keys: Vec<ChunkKey> = chunk.iter().map(|c| c.0.clone()).collect();
                keys.push(match items.get(run.end) {
                    Some(next_item) => next_item.0.clone(),
                    None => end.clone(),
                });
                let node = ChunkNode {
                    level,
                    left: if i > 0 {
                        base + (i as u64 - 1) * node_size
                    } else {
                        UNDEF
                    },
                    right: if i + 1 < n {
                        base + (i as u64 + 1) * node_size
                    } else {
                        UNDEF
                    },
                    keys,
                    children: chunk.iter().map(|c| c.1).collect(),
                };
                let a = base + i as u64 * node_size;
                // Nodes are as large as the file's chunk K makes them (the encoder pads to
                // the default K; at most `capacity` children keep the content within).
                let mut bytes = node.encode(rank)?;
                bytes.resize(node_size as usize, 0);
                self.write_at(a, &bytes)?;
                next.push((chunk[0].0.clone(), a));
            }
            if n == 1 {
                return Ok(base);
            }
            items = next;
            level = level
                .checked_add(1)
                .ok_or_else(|| Error::Invalid("chunk B-tree too deep".into()))?;
        }
    }

    /// Changes the dimensions of the chunked dataset at `addr` (h5py `Dataset.resize`).
    /// Chunks wholly outside the new extent are dropped; the cut-off part of a chunk that
    /// straddles the new edge is reset to the fill value, so growing again shows fill.
    pub fn resize(&mut self, addr: u64, new_dims: &[u64]) -> Result<()> {
        let spec = self.dataset_spec(addr)?;
        if spec.layout.chunked().is_none() {
            return Err(Error::Invalid(
                "only chunked datasets can be resized".into(),
            ));
        }
        if new_dims.len() != spec.dims.len() {
            return Err(Error::Invalid(format!(
                "new shape {new_dims:?} has rank {}, the dataset {}",
                new_dims.len(),
                spec.dims.len()
            )));
        }
        for (n, m) in new_dims.iter().zip(&spec.max) {
            if m.is_some_and(|m| *n > m) {
                return Err(Error::Invalid(format!(
                    "unable to set extent of dataset: new shape {new_dims:?} exceeds the \
                     maximum shape {:?}",
                    spec.max
                )));
            }
        }
        self.touch();
        let shrinks = new_dims.iter().zip(&spec.dims).any(|(n, o)| n < o);
        if shrinks {
            let cdims = spec
                .layout
                .chunked()
                .map(|c| c.chunk_dims.clone())
                .unwrap_or_default();
            let st = self.chunk_state(addr, &spec)?;
            let mut drop = Vec::new();
            let mut straddle = Vec::new();
            let keys: std::collections::BTreeSet<Vec<u64>> =
                st.map.keys().chain(st.cache.keys()).cloned().collect();
            for off in &keys {
                if off.iter().zip(new_dims).any(|(o, n)| o >= n) {
                    drop.push(off.clone());
                } else if off
                    .iter()
                    .zip(&cdims)
                    .zip(new_dims.iter().zip(&spec.dims))
                    .any(|((o, c), (n, old))| o + c > *n && n < old)
                {
                    straddle.push(off.clone());
                }
            }
            let mut freed = Vec::new();
            for off in &drop {
                if let Some((a, s, _)) = st.map.remove(off) {
                    freed.push((a, s));
                }
                if let Some(b) = st.cache.remove(off) {
                    st.cache_bytes -= b.len();
                }
            }
            st.dirty = true;
            for (a, s) in freed {
                self.release(a, s);
            }
            // Reset the cut-off region of straddling chunks to fill.
            for off in straddle {
                for d in 0..new_dims.len() {
                    let end = (off[d] + cdims[d]).min(spec.dims[d]);
                    if new_dims[d] < end {
                        let mut start = off.clone();
                        let mut count: Vec<u64> = off
                            .iter()
                            .zip(&cdims)
                            .zip(&spec.dims)
                            .map(|((o, c), dim)| (o + c).min(*dim) - o)
                            .collect();
                        start[d] = new_dims[d];
                        count[d] = end - new_dims[d];
                        let sel = Hyperslab::new_box(&start, &count);
                        let n: u64 = count.iter().product();
                        let bytes = spec.fill.repeat(n as usize);
                        self.write_chunked(addr, &spec, &sel, &bytes)?;
                    }
                }
            }
        }
        let h = self.header_mut(addr)?;
        let m = h
            .find_mut(msg::DATASPACE)
            .ok_or_else(|| Error::Invalid("no dataspace".into()))?;
        let at = match m.body.first() {
            Some(1) => 8,
            Some(2) => 4,
            _ => return Err(Error::unsupported("dataspace message version")),
        };
        for (i, d) in new_dims.iter().enumerate() {
            let slot = m
                .body
                .get_mut(at + 8 * i..at + 8 * i + 8)
                .ok_or_else(|| Error::Invalid("dataspace message too short".into()))?;
            slot.copy_from_slice(&d.to_le_bytes());
        }
        if let Some(st) = self.chunks.get_mut(&addr) {
            st.dirty = true;
        }
        Ok(())
    }

    // ----- attributes -----

    /// Sets (creates or replaces) the attribute `name` of the object at `addr`.
    pub fn set_attr(&mut self, addr: u64, name: &str, value: impl IntoValue) -> Result<()> {
        let value = value.into_value()?;
        self.set_attr_with(addr, name, value, None)
    }

    /// Sets the attribute `name` of the object at `addr` with the committed datatype whose
    /// header is at `committed` (h5py's `attrs.create(name, data, dtype=group[type_name])`):
    /// the attribute's datatype is a shared reference to it (an Attribute message of version
    /// 2, or 3 in a version-2 header), and the committed datatype's reference count goes up
    /// by one. `value` must be of the same type.
    pub fn set_attr_committed(
        &mut self,
        addr: u64,
        name: &str,
        value: impl IntoValue,
        committed: u64,
    ) -> Result<()> {
        let value = value.into_value()?;
        if self.committed_type(committed)? != value.dtype {
            return Err(Error::Invalid(
                "the attribute's datatype differs from the committed datatype".into(),
            ));
        }
        self.set_attr_with(addr, name, value, Some(committed))?;
        let th = self.header_mut(committed)?;
        let n = th.refcount().saturating_add(1);
        th.set_refcount(n);
        Ok(())
    }

    /// The type of the committed datatype whose header is at `committed`.
    fn committed_type(&mut self, committed: u64) -> Result<Datatype> {
        let sizes = self.ctx().sizes;
        let th = self.header(committed)?;
        let tm = th
            .find(msg::DATATYPE)
            .filter(|m| m.flags & FLAG_SHARED == 0)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "object at {committed:#x} is not a committed datatype"
                ))
            })?;
        if th.find(msg::DATASPACE).is_some() {
            return Err(Error::Invalid(format!(
                "object at {committed:#x} is a dataset, not a committed datatype"
            )));
        }
        Datatype::from_bytes(&tm.body, committed, sizes)
    }

    fn set_attr_with(
        &mut self,
        addr: u64,
        name: &str,
        value: Value,
        committed: Option<u64>,
    ) -> Result<()> {
        let (dt, aflags) = match committed {
            Some(t) => (encode_committed(t), attribute::FLAG_DATATYPE_SHARED),
            None => (datatype::encode(&value.dtype)?, 0),
        };
        if self.header(addr)?.is_v2() && !self.uses_attr_info(addr)? {
            // libhdf5 gives every version-2 object with attributes an Attribute Info message
            // (§IV.A.2.v); add one so the attributes can go dense later.
            let h = self.header_mut(addr)?;
            let oflags = match &h.prefix {
                Prefix::V2 { flags, .. } => *flags,
                Prefix::V1 { .. } => 0,
            };
            let tracked = oflags & 0x04 != 0;
            let indexed = oflags & 0x08 != 0;
            let mut body = vec![0u8, u8::from(tracked) | (u8::from(indexed) << 1)];
            if tracked {
                let n = h.msgs.iter().filter(|m| m.kind == msg::ATTRIBUTE).count();
                body.extend_from_slice(&(n.min(u16::MAX as usize) as u16).to_le_bytes());
            }
            for _ in 0..(2 + usize::from(indexed)) {
                body.extend_from_slice(&UNDEF.to_le_bytes());
            }
            h.msgs.push(RawMessage {
                kind: msg::ATTRIBUTE_INFO,
                flags: 0x04, // don't share, as libhdf5 writes it
                creation_order: 0,
                body,
            });
        }
        if self.uses_attr_info(addr)? {
            // Version-2 header with Attribute Info: compact or dense, decided at flush.
            self.header_mut(addr)?;
            let data = self.element_bytes(&value)?.into_owned();
            let ds = dataspace::encode(&value.space)?;
            let cset = if name.is_ascii() {
                h5oxide_format::datatype::CharSet::Ascii
            } else {
                h5oxide_format::datatype::CharSet::Utf8
            };
            let body = attribute::encode_v3_flags(name, cset, aflags, &dt, &ds, &data)?;
            let mut old = None;
            let st = self.attr_state(addr)?;
            let next = st
                .list
                .iter()
                .map(|e| e.2.saturating_add(1))
                .max()
                .unwrap_or(0);
            match st.list.iter_mut().find(|e| e.0 == name.as_bytes()) {
                Some(e) => old = Some(std::mem::replace(&mut e.1, body)),
                None => st.list.push((name.as_bytes().to_vec(), body, next)),
            }
            st.dirty = true;
            if let Some(old) = old {
                self.release_attr_type(addr, &old)?;
            }
            return Ok(());
        }
        self.check_attr_storage(addr)?;
        let h = self.header(addr)?;
        let replaces = h
            .msgs
            .iter()
            .any(|m| m.kind == msg::ATTRIBUTE && attr_name(&m.body) == Some(name.as_bytes()));
        if let (
            Prefix::V2 {
                attr_phase_change, ..
            },
            false,
        ) = (&h.prefix, replaces)
        {
            // Beyond the maximum compact count (default 8) libhdf5 moves a version-2
            // header's attributes to dense storage, which is not written.
            let max = attr_phase_change.map_or(8, |(max, _)| max) as usize;
            let count = h.msgs.iter().filter(|m| m.kind == msg::ATTRIBUTE).count();
            if count >= max {
                return Err(Error::unsupported(format!(
                    "adding an attribute to an object that holds the maximum of {max} compact \
                     attributes (dense attribute storage is not written)"
                )));
            }
        }
        let data = self.element_bytes(&value)?;
        let ds = dataspace::encode(&value.space)?;
        let version = self.header(addr)?.version();
        let body = if version == 1 && committed.is_some() {
            attribute::encode_v2(name, aflags, &dt, &ds, &data)?
        } else if version == 1 {
            attribute::encode_v1(name, &dt, &ds, &data)?
        } else {
            let cset = if name.is_ascii() {
                h5oxide_format::datatype::CharSet::Ascii
            } else {
                h5oxide_format::datatype::CharSet::Utf8
            };
            attribute::encode_v3_flags(name, cset, aflags, &dt, &ds, &data)?
        };
        if body.len() > u16::MAX as usize - 16 {
            return Err(Error::unsupported(format!(
                "unable to create attribute {name:?}: object header message is too large \
                 ({} bytes; dense attribute storage is not written yet)",
                body.len()
            )));
        }
        let h = self.header_mut(addr)?;
        let mut order = None;
        let mut replaced = None;
        let mut next_order = 0u16;
        for m in h.msgs.iter().filter(|m| m.kind == msg::ATTRIBUTE) {
            next_order = next_order.max(m.creation_order.saturating_add(1));
        }
        if let Some(i) = h
            .msgs
            .iter()
            .position(|m| m.kind == msg::ATTRIBUTE && attr_name(&m.body) == Some(name.as_bytes()))
        {
            order = Some(h.msgs[i].creation_order);
            replaced = Some(h.msgs.remove(i).body);
        }
        let creation_order = order.unwrap_or(next_order);
        h.msgs.push(RawMessage {
            kind: msg::ATTRIBUTE,
            flags: 0,
            creation_order,
            body,
        });
        // Attribute Info keeps the next creation index (flags bit 0).
        if let Some(ai) = h.find_mut(msg::ATTRIBUTE_INFO) {
            if ai.body.get(1).is_some_and(|f| f & 1 != 0) {
                if let Some(b) = ai.body.get_mut(2..4) {
                    let cur = u16::from_le_bytes([b[0], b[1]]);
                    let v = cur.max(creation_order.saturating_add(1));
                    b.copy_from_slice(&v.to_le_bytes());
                }
            }
        }
        if let Some(old) = replaced {
            self.release_attr_type(addr, &old)?;
        }
        Ok(())
    }

    /// Deletes the attribute `name` of the object at `addr`.
    pub fn delete_attr(&mut self, addr: u64, name: &str) -> Result<()> {
        if self.uses_attr_info(addr)? {
            self.header_mut(addr)?;
            let st = self.attr_state(addr)?;
            let Some(i) = st.list.iter().position(|e| e.0 == name.as_bytes()) else {
                return Err(Error::NotFound(format!(
                    "can't delete attribute: {name:?} does not exist"
                )));
            };
            let old = st.list.remove(i).1;
            st.dirty = true;
            return self.release_attr_type(addr, &old);
        }
        self.check_attr_storage(addr)?;
        let h = self.header_mut(addr)?;
        let Some(i) = h
            .msgs
            .iter()
            .position(|m| m.kind == msg::ATTRIBUTE && attr_name(&m.body) == Some(name.as_bytes()))
        else {
            return Err(Error::NotFound(format!(
                "can't delete attribute: {name:?} does not exist"
            )));
        };
        let old = h.msgs.remove(i).body;
        self.release_attr_type(addr, &old)
    }

    /// An attribute message body of the object at `addr` is gone: when its datatype referred
    /// to a committed datatype, that type has one user less (its reference count drops).
    fn release_attr_type(&mut self, addr: u64, body: &[u8]) -> Result<()> {
        let shared = matches!(body.first(), Some(2 | 3))
            && body
                .get(1)
                .is_some_and(|f| f & attribute::FLAG_DATATYPE_SHARED != 0);
        if !shared {
            return Ok(());
        }
        let ctx = self.ctx();
        let m = h5oxide_format::messages::attribute::AttributeMessage::decode(&mut ctx.cursor(
            body,
            addr,
            "attribute message",
        ))?;
        let Some(t) = h5oxide_format::shared::committed_address(&ctx, &m.datatype, addr)? else {
            return Ok(());
        };
        let th = self.header_mut(t)?;
        let n = th.refcount().saturating_sub(1);
        th.set_refcount(n);
        Ok(())
    }

    fn check_attr_storage(&mut self, addr: u64) -> Result<()> {
        let h = self.header(addr)?;
        if h.msgs
            .iter()
            .any(|m| m.kind == msg::ATTRIBUTE && m.flags & 0x02 != 0)
        {
            return Err(Error::unsupported(
                "changing attributes of an object with shared (SOHM) attributes",
            ));
        }
        if let Some(ai) = h.find(msg::ATTRIBUTE_INFO) {
            let flags = ai.body.get(1).copied().unwrap_or(0);
            let at = 2 + if flags & 1 != 0 { 2 } else { 0 };
            let heap = ai
                .body
                .get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map_or(UNDEF, u64::from_le_bytes);
            if heap != UNDEF {
                return Err(Error::unsupported(
                    "changing attributes stored densely (fractal heap)",
                ));
            }
        }
        Ok(())
    }
}

/// The name in an Attribute message body (versions 1–3), without its NUL.
pub(crate) fn attr_name(body: &[u8]) -> Option<&[u8]> {
    let version = *body.first()?;
    let name_size = u16::from_le_bytes([*body.get(2)?, *body.get(3)?]) as usize;
    let start = match version {
        1 | 2 => 8,
        3 => 9,
        _ => return None,
    };
    let name = body.get(start..start + name_size)?;
    Some(name.strip_suffix(&[0]).unwrap_or(name))
}

/// Runs a chunk through the pipeline; optional filters that fail are skipped (mask bit set),
/// as libhdf5 does.
fn encode_chunk(
    buf: Vec<u8>,
    pipeline: Option<&FilterPipeline>,
    registry: &Registry,
) -> Result<(Vec<u8>, u32)> {
    let mut buf = buf;
    let mut mask = 0u32;
    if let Some(p) = pipeline {
        for (i, f) in p.filters.iter().enumerate() {
            let filter = registry
                .get(f.id)
                .ok_or_else(|| Error::unsupported(format!("writing with filter {}", f.id)))?;
            match filter.encode(&buf, &f.cd_values) {
                Ok(out) => buf = out,
                Err(e) => {
                    if f.flags & 1 != 0 && i < 32 {
                        mask |= 1 << i;
                    } else {
                        return Err(e);
                    }
                }
            }
        }
    }
    Ok((buf, mask))
}

/// The selection's shape (count × block per dimension).
fn sel_shape(sel: &Hyperslab) -> Vec<u64> {
    sel.count
        .iter()
        .zip(&sel.block)
        .map(|(c, b)| c * b)
        .collect()
}

/// Row-major strides (in elements) of an array of `shape`.
fn down_products(shape: &[u64]) -> Vec<u64> {
    let mut down = vec![1u64; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        down[d] = down[d + 1] * shape[d + 1];
    }
    down
}

/// For each dimension, the selected coordinates as runs `(index in the selection, first
/// position in the dataset, length)`, ascending in both.
fn coord_lists(sel: &Hyperslab) -> Vec<Vec<(u64, u64, u64)>> {
    (0..sel.start.len())
        .map(|d| {
            let (start, stride, count, block) =
                (sel.start[d], sel.stride[d], sel.count[d], sel.block[d]);
            if stride == block || count <= 1 {
                return vec![(0, start, count * block)];
            }
            (0..count)
                .map(|k| (k * block, start + k * stride, block))
                .collect()
        })
        .collect()
}

/// The part of `lists` inside the box `[origin, origin + extent)`, positions made relative to
/// `origin`.
fn clip(
    lists: &[Vec<(u64, u64, u64)>],
    origin: &[u64],
    extent: &[u64],
) -> Vec<Vec<(u64, u64, u64)>> {
    lists
        .iter()
        .enumerate()
        .map(|(d, l)| {
            let (lo, hi) = (origin[d], origin[d] + extent[d]);
            let first = l.partition_point(|&(_, p, n)| p + n <= lo);
            let mut out = Vec::new();
            for &(j, p, n) in &l[first..] {
                if p >= hi {
                    break;
                }
                let a = p.max(lo);
                let b = (p + n).min(hi);
                if a < b {
                    out.push((j + (a - p), a - lo, b - a));
                }
            }
            out
        })
        .collect()
}

/// Calls `f(dst, src, n)` for runs of `n` consecutive elements: `dst` linear in the destination
/// (strides `dst_down`), `src` linear in the selection (strides `sel_down`). Adjacent runs are
/// merged.
fn for_runs(
    lists: &[Vec<(u64, u64, u64)>],
    sel_down: &[u64],
    dst_down: &[u64],
    f: &mut dyn FnMut(u64, u64, u64),
) {
    if lists.is_empty() {
        f(0, 0, 1);
        return;
    }
    #[allow(clippy::too_many_arguments)]
    fn rec(
        lists: &[Vec<(u64, u64, u64)>],
        sel_down: &[u64],
        dst_down: &[u64],
        d: usize,
        dacc: u64,
        sacc: u64,
        out: &mut dyn FnMut(u64, u64, u64),
    ) {
        let last = d + 1 == lists.len();
        for &(j, p, n) in &lists[d] {
            if last {
                out(dacc + p * dst_down[d], sacc + j * sel_down[d], n);
            } else {
                for i in 0..n {
                    let dd = dacc + (p + i) * dst_down[d];
                    let ss = sacc + (j + i) * sel_down[d];
                    rec(lists, sel_down, dst_down, d + 1, dd, ss, out);
                }
            }
        }
    }
    let mut pending: Option<(u64, u64, u64)> = None;
    {
        let mut push = |d: u64, s: u64, n: u64| match &mut pending {
            Some((pd, ps, pn)) if *pd + *pn == d && *ps + *pn == s => *pn += n,
            _ => {
                if let Some((pd, ps, pn)) = pending.take() {
                    f(pd, ps, pn);
                }
                pending = Some((d, s, n));
            }
        };
        rec(lists, sel_down, dst_down, 0, 0, 0, &mut push);
    }
    if let Some((pd, ps, pn)) = pending {
        f(pd, ps, pn);
    }
}

/// The first dimension in which `sel` reaches beyond `max` (`None` = unlimited), if any.
fn selection_outside(sel: &Selection, max: &[Option<u64>]) -> Option<usize> {
    let beyond = |d: usize, last: u64| max.get(d).copied().flatten().is_some_and(|m| last >= m);
    match sel {
        Selection::None | Selection::All => None,
        Selection::Points { points, .. } => points
            .iter()
            .find_map(|p| p.iter().enumerate().position(|(d, &x)| beyond(d, x))),
        Selection::Blocks { blocks, .. } => blocks
            .iter()
            .find_map(|(_, e)| e.iter().enumerate().position(|(d, &x)| beyond(d, x))),
        Selection::Regular {
            start,
            stride,
            count,
            block,
        } => (0..start.len()).find(|&d| {
            let (s, st, c, b) = (start[d], stride[d], count[d], block[d]);
            if c == UNDEF || b == UNDEF {
                return max.get(d).copied().flatten().is_some();
            }
            let last = c
                .checked_sub(1)
                .and_then(|k| k.checked_mul(st))
                .and_then(|x| x.checked_add(s))
                .and_then(|x| x.checked_add(b.saturating_sub(1)));
            last.is_none_or(|l| beyond(d, l))
        }),
    }
}

/// The runs of selection `sel` in a dataset of `dims` stored row-major: `(element offset in
/// the dataset, element offset in the selection's data, elements)`.
fn contiguous_runs(sel: &Hyperslab, dims: &[u64]) -> Vec<(u64, u64, u64)> {
    let lists = coord_lists(sel);
    let down = down_products(dims);
    let sel_down = down_products(&sel_shape(sel));
    let mut runs = Vec::new();
    for_runs(&lists, &sel_down, &down, &mut |d, s, k| {
        runs.push((d, s, k))
    });
    runs
}

/// Writes `bytes` at `at` of the byte stream that external `files` hold one after the other
/// (each `(path, offset in the file, bytes)`), creating the files as needed; `open` keeps the
/// files opened so far (by index) for the next call.
fn write_external(
    files: &[(std::path::PathBuf, u64, u64)],
    open: &mut std::collections::HashMap<usize, std::fs::File>,
    at: u64,
    bytes: &[u8],
) -> Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let mut pos = 0usize; // bytes of `bytes` written
    let mut stream = 0u64; // where the current file starts in the stream
    for (i, (path, offset, size)) in files.iter().enumerate() {
        if pos >= bytes.len() {
            break;
        }
        let end = stream.saturating_add(*size);
        let cur = at + pos as u64;
        if cur >= end {
            stream = end;
            continue;
        }
        let within = cur - stream;
        let n = (size - within).min((bytes.len() - pos) as u64) as usize;
        let f = match open.entry(i) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(path)
                    .map_err(|e| Error::Io(format!("external file {}: {e}", path.display())))?,
            ),
        };
        f.seek(SeekFrom::Start(offset.saturating_add(within)))?;
        f.write_all(bytes.get(pos..pos + n).unwrap_or(&[]))?;
        pos += n;
        stream = end;
    }
    if pos < bytes.len() {
        return Err(Error::Invalid(
            "the external files hold fewer bytes than the dataset".into(),
        ));
    }
    Ok(())
}
