//! Serialization of the in-memory tree at close: a bump allocator that appends every structure
//! to the file in post-order (children before the symbol table nodes, heaps, B-trees and
//! headers that point to them), then writes the superblock at address 0. The profile decides
//! the structures: see the module documentation of [`super`].
//!
//! Variable-length elements go to a pending global heap collection (spec §III.E) whose space
//! is reserved when it is opened and which is written in place when full or at the end, so
//! small strings of many attributes share one 4 KiB collection as in libhdf5 files.

use std::borrow::Cow;
use std::fs;
use std::io::{BufWriter, Seek, SeekFrom, Write};

use rayon::prelude::*;

use h5oxide_filters::Registry;
use h5oxide_format::checksum::lookup3;
use h5oxide_format::datatype::CharSet;
use h5oxide_format::encode::btree_v1::{chunk_node_size, ChunkKey, ChunkNode, CHUNK_NODE_CAPACITY};
use h5oxide_format::encode::btree_v1::{GroupNode, GROUP_NODE_CAPACITY, GROUP_NODE_SIZE};
use h5oxide_format::encode::btree_v2::{self, BTreeV2Params};
use h5oxide_format::encode::fill_value::{self, Fill};
use h5oxide_format::encode::fixed_array::{self, ChunkEntry};
use h5oxide_format::encode::fractal_heap::{FractalHeapBuilder, HeapParams};
use h5oxide_format::encode::global_heap::CollectionBuilder;
use h5oxide_format::encode::link::{self, LinkInfo, LinkTarget};
use h5oxide_format::encode::local_heap::LocalHeapBuilder;
use h5oxide_format::encode::object_header::{self, msg_type, Message, FLAG_CONSTANT};
use h5oxide_format::encode::object_header::{
    FLAG_DONT_SHARE, MAX_MESSAGE_SIZE, OHDR_ATTR_CRT_ORDER_INDEXED, OHDR_ATTR_CRT_ORDER_TRACKED,
};
use h5oxide_format::encode::superblock::{self, SUPERBLOCK_V0_SIZE, SUPERBLOCK_V3_SIZE};
use h5oxide_format::encode::symbol_table::{
    self, EntryCache, SymbolTableEntry, SNOD_CAPACITY, SNOD_SIZE,
};
use h5oxide_format::encode::{
    attribute, dataspace, datatype, filter_pipeline, layout, pad8, UNDEF,
};
use h5oxide_format::encode::{extensible_array, layout::filtered_size_width};
use h5oxide_format::messages::layout::ChunkIndexKind;
use h5oxide_format::{Error, Result};

use super::value::{Elements, Value};
use super::{Attrs, Chunked, DatasetWriter, GroupWriter, Member, Profile};

/// libhdf5's default limit of compact links / attributes: more go to dense storage.
const MAX_COMPACT: usize = 8;
/// Page bits of libhdf5's fixed-array chunk index.
const FA_PAGE_BITS: u8 = 10;
/// Most entries of a fixed-array chunk index the writer builds (one per chunk of the maximum
/// shape, allocated or not: 16 Mi entries take 128 MiB or more of file space).
const MAX_FIXED_ARRAY_ENTRIES: u64 = 1 << 24;
/// Creation order written in dense attribute records when it is not tracked (libhdf5's).
const UNTRACKED_ATTR_ORDER: u32 = 0xffff;

/// Largest global heap collection opened for small objects; a bigger object gets a collection
/// of its own size.
const GHEAP_CAPACITY: usize = 4096;

struct PendingHeap {
    addr: u64,
    capacity: usize,
    builder: CollectionBuilder,
}

struct Serializer {
    out: BufWriter<fs::File>,
    /// Where the next byte goes, relative to the base address.
    pos: u64,
    /// The base address: the size of the user block.
    base: u64,
    gheap: Option<PendingHeap>,
    profile: Profile,
}

/// Size of the superblock the profile writes at (relative) address 0.
pub(crate) fn superblock_size(profile: Profile) -> u64 {
    match profile {
        Profile::Latest => SUPERBLOCK_V3_SIZE as u64,
        Profile::Compatible => SUPERBLOCK_V0_SIZE as u64,
    }
}

/// Writes `root` and everything below it to `file` at base address `base` (the user block
/// size): the superblock at relative address 0, the metadata and remaining data from `start`
/// (at least the superblock's end; the bytes between hold the data written when their datasets
/// were created). Returns the file, flushed.
pub(crate) fn write_file(
    mut file: fs::File,
    root: &GroupWriter,
    profile: Profile,
    base: u64,
    start: u64,
) -> Result<fs::File> {
    let start = start.max(superblock_size(profile));
    file.seek(SeekFrom::Start(base + start))?;
    let mut s = Serializer {
        out: BufWriter::with_capacity(1 << 20, file),
        pos: start,
        base,
        gheap: None,
        profile,
    };
    if profile == Profile::Latest {
        let header = s.group_latest(root)?;
        s.flush_gheap()?;
        let eof = s.pos;
        s.write_at(0, &superblock::encode_v3(header, eof))?;
        return s.finish();
    }
    // A root group tracking creation order is a new-style group (version-2 header) even in
    // the compatible profile, as libhdf5 writes it for h5py's `File(..., track_order=True)`;
    // its superblock entry caches nothing.
    let (header, cache) = if root.track_order {
        (s.group_latest(root)?, EntryCache::None)
    } else {
        let (header, btree, heap) = s.group(root)?;
        (header, EntryCache::Group { btree, heap })
    };
    s.flush_gheap()?;
    let eof = s.pos;
    let root_entry = SymbolTableEntry {
        name_offset: 0,
        header_addr: header,
        cache,
    };
    let sb = superblock::encode_v0(&root_entry, eof);
    s.write_at(0, &sb)?;
    s.finish()
}

/// Splits `len` items into `parts` runs whose lengths differ by at most one.
fn even_runs(len: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    if parts == 0 {
        return Vec::new();
    }
    let mut runs = Vec::with_capacity(parts);
    let (base, extra) = (len / parts, len % parts);
    let mut start = 0;
    for i in 0..parts {
        let n = base + usize::from(i < extra);
        runs.push(start..start + n);
        start += n;
    }
    runs
}

impl Serializer {
    /// Flushes the file: written to the OS, not fsynced (libhdf5 does not fsync on close
    /// either).
    fn finish(self) -> Result<fs::File> {
        self.out
            .into_inner()
            .map_err(|e| Error::Io(e.error().to_string()))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Pads to a multiple of 8 and returns the address of the next allocation.
    fn next_addr(&mut self) -> Result<u64> {
        let pad = pad8(self.pos as usize) as u64 - self.pos;
        if pad > 0 {
            self.write(&[0; 8][..pad as usize])?;
        }
        Ok(self.pos)
    }

    /// Appends `bytes` at the next 8-aligned address and returns that address.
    fn alloc(&mut self, bytes: &[u8]) -> Result<u64> {
        let addr = self.next_addr()?;
        self.write(bytes)?;
        Ok(addr)
    }

    fn write_at(&mut self, addr: u64, bytes: &[u8]) -> Result<()> {
        self.out.seek(SeekFrom::Start(self.base + addr))?;
        self.out.write_all(bytes)?;
        self.out.seek(SeekFrom::Start(self.base + self.pos))?;
        Ok(())
    }

    fn flush_gheap(&mut self) -> Result<()> {
        if let Some(p) = self.gheap.take() {
            let bytes = p.builder.encode(p.capacity)?;
            self.write_at(p.addr, &bytes)?;
        }
        Ok(())
    }

    /// Stores one variable-length object; returns its collection address and index.
    fn gheap_put(&mut self, data: &[u8]) -> Result<(u64, u32)> {
        let fits = match &self.gheap {
            Some(p) => p.builder.fits(data.len(), p.capacity),
            None => false,
        };
        if !fits {
            self.flush_gheap()?;
            let builder = CollectionBuilder::new();
            let capacity =
                (builder.used() + CollectionBuilder::object_size(data.len())).max(GHEAP_CAPACITY);
            let addr = self.next_addr()?;
            let zeros = vec![0; capacity];
            self.write(&zeros)?;
            self.gheap = Some(PendingHeap {
                addr,
                capacity,
                builder,
            });
        }
        let p = self
            .gheap
            .as_mut()
            .ok_or_else(|| Error::Invalid("global heap".into()))?;
        let index = p.builder.add(data)?;
        Ok((p.addr, index))
    }

    /// The stored bytes of a value's elements (heap references for variable-length ones).
    fn element_bytes<'v>(&mut self, v: &'v Value) -> Result<Cow<'v, [u8]>> {
        match &v.elements {
            Elements::Raw(r) => Ok(Cow::Borrowed(r)),
            Elements::VarLen(items) => {
                let mut out = Vec::with_capacity(items.len() * 16);
                for it in items {
                    let len = u32::try_from(it.len() / v.element_unit()).map_err(|_| {
                        Error::Invalid("variable-length element larger than 4 GiB".into())
                    })?;
                    let (addr, index) = self.gheap_put(it)?;
                    out.extend_from_slice(&len.to_le_bytes());
                    out.extend_from_slice(&addr.to_le_bytes());
                    out.extend_from_slice(&index.to_le_bytes());
                }
                Ok(Cow::Owned(out))
            }
            Elements::Mixed { raw, slots } => {
                Ok(Cow::Owned(super::value::fill_slots(raw, slots, |d| {
                    self.gheap_put(d)
                })?))
            }
        }
    }

    fn attr_messages(&mut self, attrs: &Attrs) -> Result<Vec<Message>> {
        let mut msgs = Vec::with_capacity(attrs.0.len());
        for (name, v) in &attrs.0 {
            let data = self.element_bytes(v)?;
            let dt = datatype::encode(&v.dtype)?;
            let ds = dataspace::encode(&v.space)?;
            // h5py (libhdf5 default bounds) writes version 1 even for non-ASCII names.
            let body = attribute::encode_v1(name, &dt, &ds, &data)?;
            if body.len() > u16::MAX as usize - 8 {
                return Err(Error::unsupported(format!(
                    "attribute {name:?}: object header message is too large ({} bytes exceed \
                     the 64 KiB limit of a version-1 header message, as in libhdf5; dense \
                     attribute storage needs Profile::Latest)",
                    body.len()
                )));
            }
            msgs.push(Message::new(msg_type::ATTRIBUTE, 0, body));
        }
        Ok(msgs)
    }

    fn header(&mut self, msgs: &[Message]) -> Result<u64> {
        let bytes = object_header::encode_v1(msgs, 1, 0)?;
        self.alloc(&bytes)
    }

    /// Writes a dataset; returns its object header address.
    fn dataset(&mut self, d: &DatasetWriter) -> Result<u64> {
        let latest = self.profile == Profile::Latest;
        let v = &d.value;
        let data = self.element_bytes(v)?;
        let mut pipeline = None;
        let (alloc_time, layout) = if let Some((addr, size)) = d.stored {
            (
                fill_value::ALLOC_LATE,
                layout::encode_contiguous(addr, size),
            )
        } else if let Some(c) = &d.chunked {
            let elem = v.dtype.size();
            let fill = d.fill.clone().unwrap_or_else(|| vec![0; elem as usize]);
            let chunks = self.write_chunks(&data, v.shape(), elem as usize, c, &fill)?;
            if !c.filters.is_empty() {
                pipeline = Some(if latest {
                    filter_pipeline::encode_v2(&c.filters)?
                } else {
                    filter_pipeline::encode_v1(&c.filters)?
                });
            }
            let layout = if latest {
                let max = match &v.space {
                    h5oxide_format::messages::dataspace::Dataspace::Simple { max, .. } => {
                        max.clone()
                    }
                    _ => Vec::new(),
                };
                let index = self.chunk_index_v4(v.shape(), &max, elem, c, &chunks)?;
                layout::encode_chunked_v4(&c.dims, elem, &index)?
            } else {
                let btree = self.chunk_btree_v1(chunks, v.shape(), elem, c)?;
                let dims: Vec<u32> = c.dims.iter().map(|&x| x as u32).collect();
                layout::encode_chunked(btree, &dims, elem)?
            };
            (fill_value::ALLOC_INCREMENTAL, layout)
        } else if d.compact {
            (fill_value::ALLOC_EARLY, layout::encode_compact(&data)?)
        } else {
            let size = data.len() as u64;
            let addr = if data.is_empty() {
                UNDEF
            } else {
                self.alloc(&data)?
            };
            (
                fill_value::ALLOC_LATE,
                layout::encode_contiguous(addr, size),
            )
        };
        let fill_time = if v.dtype.has_variable_parts() {
            fill_value::FILL_ON_ALLOC
        } else {
            fill_value::FILL_IF_SET
        };
        let fill = match &d.fill {
            Some(bytes) => Fill::Value(bytes.clone()),
            None => Fill::Default,
        };
        let mut msgs = vec![
            Message::new(
                msg_type::DATASPACE,
                0,
                if latest {
                    dataspace::encode_v2(&v.space)?
                } else {
                    dataspace::encode(&v.space)?
                },
            ),
            Message::new(
                msg_type::DATATYPE,
                FLAG_CONSTANT,
                datatype::encode(&v.dtype)?,
            ),
            Message::new(
                msg_type::FILL_VALUE,
                FLAG_CONSTANT,
                if latest {
                    fill_value::encode_v3(alloc_time, fill_time, &fill)?
                } else {
                    fill_value::encode_v2(alloc_time, fill_time, &fill)?
                },
            ),
        ];
        if let (Some(bytes), false) = (&d.fill, latest) {
            msgs.push(Message::new(
                msg_type::FILL_VALUE_OLD,
                FLAG_CONSTANT,
                fill_value::encode_old(bytes)?,
            ));
        }
        if let Some(p) = pipeline {
            msgs.push(Message::new(msg_type::FILTER_PIPELINE, FLAG_CONSTANT, p));
        }
        msgs.push(Message::new(msg_type::LAYOUT, 0, layout));
        if latest {
            msgs.extend(self.attr_messages_latest(&d.attrs, d.track_order)?);
            self.header_v2(&msgs, d.track_order)
        } else if d.track_order {
            // Tracking attribute creation order needs a version-2 header (libhdf5 writes one
            // whatever the format bounds); the other messages keep their compatible versions.
            msgs.extend(self.attr_messages_latest(&d.attrs, true)?);
            self.header_v2(&msgs, true)
        } else {
            msgs.extend(self.attr_messages(&d.attrs)?);
            self.header(&msgs)
        }
    }

    /// Writes the chunks of a chunked dataset (all of them, edge chunks padded with `fill`,
    /// each through the filter pipeline) in row-major order of the chunk grid; returns each
    /// chunk's offset (in elements) and storage; nothing when the dataset has no elements.
    fn write_chunks(
        &mut self,
        data: &[u8],
        shape: &[u64],
        elem: usize,
        c: &Chunked,
        fill: &[u8],
    ) -> Result<Vec<(Vec<u64>, ChunkEntry)>> {
        let rank = shape.len();
        if shape.contains(&0) {
            return Ok(Vec::new());
        }
        let grid: Vec<u64> = shape
            .iter()
            .zip(&c.dims)
            .map(|(&d, &k)| d.div_ceil(k))
            .collect();
        let n_chunks: u64 = grid.iter().product();
        let registry = Registry::default();
        let origin_of = |ci: u64| {
            let mut origin = vec![0u64; rank];
            let mut rem = ci;
            for d in (0..rank).rev() {
                origin[d] = (rem % grid[d]) * c.dims[d];
                rem /= grid[d];
            }
            origin
        };
        let encode = |origin: &[u64]| -> Result<Vec<u8>> {
            let mut buf = extract_chunk(data, shape, elem, origin, &c.dims, fill)?;
            for f in &c.filters {
                let filter = registry
                    .get(f.id)
                    .ok_or_else(|| Error::unsupported(format!("filter {}", f.id)))?;
                buf = filter.encode(&buf, &f.cd_values)?;
            }
            Ok(buf)
        };
        // Chunks are extracted and filtered in parallel, a few per thread at a time (at most
        // about 64 MiB of chunks held), and written in row-major order.
        let chunk_bytes = c.dims.iter().product::<u64>().saturating_mul(elem as u64);
        let batch = (64 << 20) / chunk_bytes.max(1);
        let batch = batch.clamp(1, 4 * rayon::current_num_threads() as u64);
        let mut items = Vec::new();
        let mut first = 0;
        while first < n_chunks {
            let last = n_chunks.min(first + batch);
            let encoded: Vec<Result<(Vec<u64>, Vec<u8>)>> = (first..last)
                .into_par_iter()
                .map(|ci| {
                    let origin = origin_of(ci);
                    let buf = encode(&origin)?;
                    Ok((origin, buf))
                })
                .collect();
            for e in encoded {
                let (origin, buf) = e?;
                let size = buf.len() as u64;
                let address = self.alloc(&buf)?;
                items.push((
                    origin,
                    ChunkEntry {
                        address,
                        size,
                        filter_mask: 0,
                    },
                ));
            }
            first = last;
        }
        Ok(items)
    }

    /// Builds the v1 B-tree over the written chunks; returns its address, or [`UNDEF`] when
    /// there are none.
    fn chunk_btree_v1(
        &mut self,
        chunks: Vec<(Vec<u64>, ChunkEntry)>,
        shape: &[u64],
        elem: u32,
        c: &Chunked,
    ) -> Result<u64> {
        let rank = shape.len();
        let Some(last) = chunks.last().map(|c| c.0.clone()) else {
            return Ok(UNDEF);
        };
        let mut items = Vec::with_capacity(chunks.len());
        for (mut offsets, e) in chunks {
            let size = u32::try_from(e.size)
                .map_err(|_| Error::Invalid("a stored chunk exceeds 4 GiB".into()))?;
            offsets.push(0);
            items.push((
                ChunkKey {
                    size,
                    filter_mask: e.filter_mask,
                    offsets,
                },
                e.address,
            ));
        }
        let mut end: Vec<u64> = last.iter().zip(&c.dims).map(|(o, k)| o + k).collect();
        end.push(u64::from(elem));
        let end = ChunkKey {
            size: 0,
            filter_mask: 0,
            offsets: end,
        };
        self.chunk_btree(items, end, rank)
    }

    /// Chooses and writes the layout-v4 chunk index libhdf5 picks for a dataset of `shape`
    /// and maximum shape `max`: single chunk when shape = maximum shape = chunk, a fixed array
    /// for other fixed maximum shapes, an extensible array for one unlimited dimension, a v2
    /// B-tree for more.
    fn chunk_index_v4(
        &mut self,
        shape: &[u64],
        max: &[Option<u64>],
        elem: u32,
        c: &Chunked,
        chunks: &[(Vec<u64>, ChunkEntry)],
    ) -> Result<ChunkIndexKind> {
        let filtered = !c.filters.is_empty();
        let chunk_bytes = c.dims.iter().product::<u64>() * u64::from(elem);
        let width = filtered.then(|| filtered_size_width(chunk_bytes));
        if let Some(w) = width {
            if let Some((_, e)) = chunks.iter().find(|(_, e)| w < 8 && e.size >> (8 * w) != 0) {
                return Err(Error::Invalid(format!(
                    "a filtered chunk of {} bytes does not fit the {w}-byte size field",
                    e.size
                )));
            }
        }
        let unlimited = max.iter().filter(|m| m.is_none()).count();
        let scaled =
            |o: &[u64]| -> Vec<u64> { o.iter().zip(&c.dims).map(|(o, k)| o / k).collect() };
        if unlimited == 0 {
            let single = max
                .iter()
                .zip(shape)
                .zip(&c.dims)
                .all(|((m, s), k)| *m == Some(*s) && s == k);
            if single {
                let e = chunks.first().map(|c| c.1);
                return Ok(ChunkIndexKind::Single {
                    address: e.map_or(UNDEF, |e| e.address),
                    filtered_size: filtered.then(|| e.map_or(0, |e| e.size)),
                    filter_mask: e.map_or(0, |e| e.filter_mask),
                });
            }
            let grid: Vec<u64> = max
                .iter()
                .zip(&c.dims)
                .map(|(m, k)| m.unwrap_or(0).div_ceil(*k))
                .collect();
            let address = if chunks.is_empty() {
                UNDEF
            } else {
                // The fixed array has an entry for every chunk of the maximum shape.
                let n = grid
                    .iter()
                    .try_fold(1u64, |a, &g| a.checked_mul(g))
                    .filter(|&n| n <= MAX_FIXED_ARRAY_ENTRIES)
                    .ok_or_else(|| {
                        Error::unsupported(format!(
                            "a fixed-array chunk index for a maximum shape of {grid:?} chunks \
                             (more than {MAX_FIXED_ARRAY_ENTRIES} entries)"
                        ))
                    })? as usize;
                let mut entries = vec![None; n];
                for (o, e) in chunks {
                    let i = linear(&scaled(o), &grid);
                    if let Some(slot) = entries.get_mut(i as usize) {
                        *slot = Some(*e);
                    }
                }
                let base = self.next_addr()?;
                let bytes = fixed_array::encode(&entries, width, FA_PAGE_BITS, base)?;
                self.alloc(&bytes)?
            };
            return Ok(ChunkIndexKind::FixedArray {
                page_bits: FA_PAGE_BITS,
                address,
            });
        }
        if unlimited == 1 {
            let params = extensible_array::libhdf5_params();
            let u = max.iter().position(|m| m.is_none()).unwrap_or(0);
            // Swizzled grid: the unlimited dimension first, the others by their maximum.
            let mut grid = vec![shape[u].div_ceil(c.dims[u])];
            for (d, m) in max.iter().enumerate() {
                if d != u {
                    grid.push(m.unwrap_or(0).div_ceil(c.dims[d]));
                }
            }
            let address = if chunks.is_empty() {
                UNDEF
            } else {
                let n = grid
                    .iter()
                    .try_fold(1u64, |a, &g| a.checked_mul(g))
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| Error::unsupported("an extensible array this large"))?;
                let mut entries = vec![None; n];
                for (o, e) in chunks {
                    let sc = scaled(o);
                    let mut sw = vec![sc[u]];
                    sw.extend(
                        sc.iter()
                            .enumerate()
                            .filter(|&(d, _)| d != u)
                            .map(|(_, v)| *v),
                    );
                    let i = linear(&sw, &grid);
                    if let Some(slot) = entries.get_mut(i as usize) {
                        *slot = Some(*e);
                    }
                }
                let base = self.next_addr()?;
                let bytes = extensible_array::encode(&entries, width, &params, base)?;
                self.alloc(&bytes)?
            };
            return Ok(ChunkIndexKind::ExtensibleArray { params, address });
        }
        let p = btree_v2::chunk_params(shape.len(), width);
        let address = if chunks.is_empty() {
            UNDEF
        } else {
            // Row-major chunk order is the records' key order.
            let recs: Vec<Vec<u8>> = chunks
                .iter()
                .map(|(o, e)| btree_v2::chunk_record(e, &scaled(o), width))
                .collect();
            let base = self.next_addr()?;
            let bytes = btree_v2::encode(p, &recs, base)?;
            self.alloc(&bytes)?
        };
        Ok(ChunkIndexKind::BTreeV2 {
            node_size: p.node_size,
            split_percent: p.split_percent,
            merge_percent: p.merge_percent,
            address,
        })
    }

    /// Builds the chunk B-tree over `items` (first key, address) bottom-up; `end` is the key
    /// after the last chunk.
    fn chunk_btree(
        &mut self,
        mut items: Vec<(ChunkKey, u64)>,
        end: ChunkKey,
        rank: usize,
    ) -> Result<u64> {
        let node_size = chunk_node_size(rank) as u64;
        let mut level = 0u8;
        loop {
            let n = items.len().div_ceil(CHUNK_NODE_CAPACITY);
            let base = self.next_addr()?;
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
                let addr = self.alloc(&node.encode(rank)?)?;
                if addr != base + i as u64 * node_size {
                    return Err(Error::Invalid("B-tree node allocation out of place".into()));
                }
                next.push((chunk[0].0.clone(), addr));
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

    /// Writes a version-2 object header; `track` sets the attribute creation order flags.
    fn header_v2(&mut self, msgs: &[Message], track: bool) -> Result<u64> {
        let flags = if track {
            OHDR_ATTR_CRT_ORDER_TRACKED | OHDR_ATTR_CRT_ORDER_INDEXED
        } else {
            0
        };
        let bytes = object_header::encode_v2(msgs, flags)?;
        self.alloc(&bytes)
    }

    /// Stores `obj` in `heap`: managed, or as a huge object written here first.
    fn heap_put(&mut self, heap: &mut FractalHeapBuilder, obj: &[u8]) -> Result<Vec<u8>> {
        if heap.is_huge(obj.len()) {
            let addr = self.alloc(obj)?;
            heap.insert_huge(addr, obj.len() as u64)
        } else {
            heap.insert(obj)
        }
    }

    /// Writes `heap` and returns its address.
    fn write_heap(&mut self, heap: &FractalHeapBuilder) -> Result<u64> {
        let base = self.next_addr()?;
        let bytes = heap.encode(base)?;
        self.alloc(&bytes)
    }

    /// Writes a v2 B-tree over `records` (sorted) and returns its address.
    fn write_btree_v2(&mut self, p: BTreeV2Params, records: &[Vec<u8>]) -> Result<u64> {
        let base = self.next_addr()?;
        let bytes = btree_v2::encode(p, records, base)?;
        self.alloc(&bytes)
    }

    /// The attribute messages of an object in a version-2 header: none, or an Attribute Info
    /// message followed by compact version-3 Attribute messages, or — with more than 8
    /// attributes or one too large for a header message — an Attribute Info message pointing
    /// to dense storage (fractal heap, name index, creation-order index when `track`).
    fn attr_messages_latest(&mut self, attrs: &Attrs, track: bool) -> Result<Vec<Message>> {
        if attrs.0.is_empty() {
            return Ok(Vec::new());
        }
        let mut bodies = Vec::with_capacity(attrs.0.len());
        for (name, v) in &attrs.0 {
            let data = self.element_bytes(v)?;
            let dt = datatype::encode(&v.dtype)?;
            let ds = dataspace::encode_v2(&v.space)?;
            let cset = if name.is_ascii() {
                CharSet::Ascii
            } else {
                CharSet::Utf8
            };
            bodies.push(attribute::encode_v3(name, cset, &dt, &ds, &data)?);
        }
        let n = bodies.len();
        let max_creation_index = u16::try_from(n)
            .map_err(|_| Error::unsupported("more than 65535 attributes on one object"))?;
        let dense = n > MAX_COMPACT || bodies.iter().any(|b| b.len() > MAX_MESSAGE_SIZE);
        let mut info = attribute::AttributeInfo {
            track_order: track,
            index_order: track,
            max_creation_index,
            heap: UNDEF,
            name_index: UNDEF,
            order_index: UNDEF,
        };
        if !dense {
            let mut msgs = vec![Message::new(
                msg_type::ATTRIBUTE_INFO,
                FLAG_DONT_SHARE,
                attribute::encode_info(&info),
            )];
            for (i, body) in bodies.into_iter().enumerate() {
                let m = Message::new(msg_type::ATTRIBUTE, 0, body);
                msgs.push(if track {
                    m.with_creation_order(i as u16)
                } else {
                    m
                });
            }
            return Ok(msgs);
        }
        let mut heap = FractalHeapBuilder::new(HeapParams::attributes());
        let mut by_name = Vec::with_capacity(n);
        let mut by_order = Vec::with_capacity(n);
        for (i, ((name, _), body)) in attrs.0.iter().zip(&bodies).enumerate() {
            let id = self.heap_put(&mut heap, body)?;
            let order = if track {
                i as u32
            } else {
                UNTRACKED_ATTR_ORDER
            };
            let hash = lookup3(name.as_bytes(), 0);
            let mut r = id.clone();
            r.push(0); // message flags
            r.extend_from_slice(&order.to_le_bytes());
            r.extend_from_slice(&hash.to_le_bytes());
            by_name.push((hash, name.as_bytes(), r));
            let mut r = id;
            r.push(0);
            r.extend_from_slice(&order.to_le_bytes());
            by_order.push(r);
        }
        by_name.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        info.heap = self.write_heap(&heap)?;
        let recs: Vec<Vec<u8>> = by_name.into_iter().map(|r| r.2).collect();
        info.name_index = self.write_btree_v2(BTreeV2Params::small(8, 17), &recs)?;
        if track {
            info.order_index = self.write_btree_v2(BTreeV2Params::small(9, 13), &by_order)?;
        }
        Ok(vec![Message::new(
            msg_type::ATTRIBUTE_INFO,
            FLAG_DONT_SHARE,
            attribute::encode_info(&info),
        )])
    }

    /// Writes a new-style group (and everything below it); returns its object header address.
    fn group_latest(&mut self, g: &GroupWriter) -> Result<u64> {
        let track = g.track_order;
        let mut links = Vec::with_capacity(g.members.len());
        for (name, m) in &g.members {
            let target = match m {
                Member::Group(child)
                    if self.profile == Profile::Compatible && !child.track_order =>
                {
                    LinkTarget::Hard(self.group(child)?.0)
                }
                Member::Group(child) => LinkTarget::Hard(self.group_latest(child)?),
                Member::Dataset(d) => LinkTarget::Hard(self.dataset(d)?),
                Member::SoftLink(p) => LinkTarget::Soft(p.clone()),
                Member::ExternalLink { file, path } => LinkTarget::External {
                    file: file.clone(),
                    path: path.clone(),
                },
            };
            let order = g.corder.get(name).copied().unwrap_or(0);
            let body = link::encode_link(name, &target, track.then_some(order))?;
            links.push((order, name.as_bytes(), body));
        }
        // Creation order.
        links.sort_by_key(|l| l.0);
        let mut info = LinkInfo {
            track_order: track,
            index_order: track,
            max_creation_index: g.next_corder,
            heap: UNDEF,
            name_index: UNDEF,
            order_index: UNDEF,
        };
        let mut link_msgs = Vec::new();
        if links.len() <= MAX_COMPACT && links.iter().all(|l| l.2.len() <= MAX_MESSAGE_SIZE) {
            for (_, _, body) in links {
                link_msgs.push(Message::new(msg_type::LINK, 0, body));
            }
        } else {
            let mut heap = FractalHeapBuilder::new(HeapParams::links());
            let mut by_name = Vec::with_capacity(links.len());
            let mut by_order = Vec::with_capacity(links.len());
            for (order, name, body) in &links {
                let id = self.heap_put(&mut heap, body)?;
                let hash = lookup3(name, 0);
                let mut r = hash.to_le_bytes().to_vec();
                r.extend_from_slice(&id);
                by_name.push((hash, *name, r));
                let mut r = order.to_le_bytes().to_vec();
                r.extend_from_slice(&id);
                by_order.push(r);
            }
            by_name.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
            info.heap = self.write_heap(&heap)?;
            let recs: Vec<Vec<u8>> = by_name.into_iter().map(|r| r.2).collect();
            info.name_index = self.write_btree_v2(BTreeV2Params::small(5, 11), &recs)?;
            if track {
                info.order_index = self.write_btree_v2(BTreeV2Params::small(6, 15), &by_order)?;
            }
        }
        let mut msgs = vec![
            Message::new(msg_type::LINK_INFO, 0, link::encode_link_info(&info)),
            Message::new(
                msg_type::GROUP_INFO,
                FLAG_CONSTANT,
                link::encode_group_info(),
            ),
        ];
        msgs.extend(link_msgs);
        msgs.extend(self.attr_messages_latest(&g.attrs, track)?);
        self.header_v2(&msgs, track)
    }

    /// Writes a group; returns its object header, B-tree and local heap addresses.
    fn group(&mut self, g: &GroupWriter) -> Result<(u64, u64, u64)> {
        if g.track_order {
            return Err(Error::Invalid(
                "a group tracking creation order is a new-style group".into(),
            ));
        }
        let mut heap = LocalHeapBuilder::new();
        let mut entries = Vec::with_capacity(g.members.len());
        for (name, m) in &g.members {
            let (header_addr, cache) = match m {
                Member::Group(child) if child.track_order => {
                    (self.group_latest(child)?, EntryCache::None)
                }
                Member::Group(child) => {
                    let (h, btree, heap) = self.group(child)?;
                    (h, EntryCache::Group { btree, heap })
                }
                Member::Dataset(d) => (self.dataset(d)?, EntryCache::None),
                Member::SoftLink(target) => {
                    let offset = u32::try_from(heap.add(target.as_bytes())?)
                        .map_err(|_| Error::Invalid("local heap too large".into()))?;
                    (UNDEF, EntryCache::SoftLink { offset })
                }
                Member::ExternalLink { .. } => {
                    return Err(Error::unsupported(format!(
                        "link {name:?}: external links need Profile::Latest"
                    )))
                }
            };
            entries.push(SymbolTableEntry {
                name_offset: heap.add(name.as_bytes())?,
                header_addr,
                cache,
            });
        }
        let heap_addr = self.next_addr()?;
        let heap_bytes = heap.encode(heap_addr);
        self.alloc(&heap_bytes)?;

        // Symbol table nodes, evenly filled; each level-0 B-tree child is one node, keyed by
        // the heap offset of its last (largest) name.
        let mut leaves = Vec::new();
        if !entries.is_empty() {
            let n = entries.len().div_ceil(SNOD_CAPACITY);
            for run in even_runs(entries.len(), n) {
                let chunk = &entries[run];
                let bytes = symbol_table::encode_snod(chunk)?;
                debug_assert_eq!(bytes.len(), SNOD_SIZE);
                let addr = self.alloc(&bytes)?;
                let last = chunk.last().map_or(0, |e| e.name_offset);
                leaves.push((addr, last));
            }
        }
        let btree = self.btree(leaves)?;
        let mut msgs = vec![Message::new(
            msg_type::SYMBOL_TABLE,
            0,
            symbol_table::encode_message(btree, heap_addr),
        )];
        msgs.extend(self.attr_messages(&g.attrs)?);
        let header = self.header(&msgs)?;
        Ok((header, btree, heap_addr))
    }

    /// Builds the group B-tree over `items` (child address, largest key below it) bottom-up,
    /// with siblings linked; returns the root node's address.
    fn btree(&mut self, mut items: Vec<(u64, u64)>) -> Result<u64> {
        if items.is_empty() {
            return self.alloc(&GroupNode::empty().encode()?);
        }
        let mut level = 0u8;
        loop {
            let n = items.len().div_ceil(GROUP_NODE_CAPACITY);
            let base = self.next_addr()?;
            let node_addr = |i: usize| base + (i * GROUP_NODE_SIZE) as u64;
            let mut next = Vec::with_capacity(n);
            let mut left_key = 0;
            for (i, run) in even_runs(items.len(), n).into_iter().enumerate() {
                let chunk = &items[run];
                let mut keys = Vec::with_capacity(chunk.len() + 1);
                keys.push(left_key);
                keys.extend(chunk.iter().map(|c| c.1));
                let node = GroupNode {
                    level,
                    left: if i > 0 { node_addr(i - 1) } else { UNDEF },
                    right: if i + 1 < n { node_addr(i + 1) } else { UNDEF },
                    keys,
                    children: chunk.iter().map(|c| c.0).collect(),
                };
                let addr = self.alloc(&node.encode()?)?;
                if addr != node_addr(i) {
                    return Err(Error::Invalid("B-tree node allocation out of place".into()));
                }
                left_key = chunk.last().map_or(left_key, |c| c.1);
                next.push((addr, left_key));
            }
            if n == 1 {
                return Ok(base);
            }
            items = next;
            level = level
                .checked_add(1)
                .ok_or_else(|| Error::Invalid("group B-tree too deep".into()))?;
        }
    }
}

/// Row-major number of grid position `scaled` in a grid of `grid` chunks per dimension.
fn linear(scaled: &[u64], grid: &[u64]) -> u64 {
    scaled.iter().zip(grid).fold(0u64, |acc, (&s, &g)| {
        acc.saturating_mul(g).saturating_add(s)
    })
}

/// The bytes of the chunk at `origin` (full chunk size; elements outside the dataset are
/// `fill`), from the row-major `data` of a dataset of `shape`.
fn extract_chunk(
    data: &[u8],
    shape: &[u64],
    elem: usize,
    origin: &[u64],
    cdims: &[u64],
    fill: &[u8],
) -> Result<Vec<u8>> {
    let rank = shape.len();
    let n: u64 = cdims.iter().product();
    let n = usize::try_from(n).map_err(|_| Error::Invalid("chunk too large".into()))?;
    let mut out = Vec::with_capacity(n * elem);
    for _ in 0..n {
        out.extend_from_slice(fill);
    }
    let mut strides = vec![1u64; rank];
    for d in (0..rank.saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    let last = rank - 1;
    let run = cdims[last].min(shape[last].saturating_sub(origin[last])) as usize;
    let rows: u64 = cdims[..last].iter().product();
    'rows: for r in 0..rows {
        let mut rem = r;
        let mut src = origin[last];
        for d in (0..last).rev() {
            let i = rem % cdims[d];
            rem /= cdims[d];
            let g = origin[d] + i;
            if g >= shape[d] {
                continue 'rows;
            }
            src += g * strides[d];
        }
        let src = src as usize * elem;
        let dst = (r * cdims[last]) as usize * elem;
        let len = run * elem;
        let (Some(from), Some(to)) = (data.get(src..src + len), out.get_mut(dst..dst + len)) else {
            return Err(Error::Invalid("chunk extraction out of range".into()));
        };
        to.copy_from_slice(from);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_runs_cover_everything() {
        assert!(even_runs(5, 0).is_empty());
        assert_eq!(even_runs(9, 2), vec![0..5, 5..9]);
        assert_eq!(even_runs(1000, 125).iter().map(|r| r.len()).max(), Some(8));
    }

    #[test]
    fn edge_chunks_are_padded_with_fill() -> Result<()> {
        // 3x5 u8 dataset, 2x2 chunks; the chunk at (2, 4) holds one element.
        let data: Vec<u8> = (0..15).collect();
        let c = extract_chunk(&data, &[3, 5], 1, &[0, 2], &[2, 2], &[0xff])?;
        assert_eq!(c, vec![2, 3, 7, 8]);
        let c = extract_chunk(&data, &[3, 5], 1, &[2, 4], &[2, 2], &[0xff])?;
        assert_eq!(c, vec![14, 0xff, 0xff, 0xff]);
        Ok(())
    }
}
