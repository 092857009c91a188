//! Serialization of the in-memory tree at close: a bump allocator that appends every structure
//! to the file in post-order (children before the symbol table nodes and headers that point to
//! them), then writes the superblock at address 0.
//!
//! Variable-length elements go to a pending global heap collection (spec §III.E) whose space
//! is reserved when it is opened and which is written in place when full or at the end, so
//! small strings of many attributes share one 4 KiB collection as in libhdf5 files.

use std::borrow::Cow;
use std::fs;
use std::io::{BufWriter, Seek, SeekFrom, Write};

use h5oxide_format::encode::btree_v1::{GroupNode, GROUP_NODE_CAPACITY, GROUP_NODE_SIZE};
use h5oxide_format::encode::fill_value::{self, Fill};
use h5oxide_format::encode::global_heap::CollectionBuilder;
use h5oxide_format::encode::local_heap::LocalHeapBuilder;
use h5oxide_format::encode::object_header::{self, msg_type, Message, FLAG_CONSTANT};
use h5oxide_format::encode::superblock::{self, SUPERBLOCK_V0_SIZE};
use h5oxide_format::encode::symbol_table::{
    self, EntryCache, SymbolTableEntry, SNOD_CAPACITY, SNOD_SIZE,
};
use h5oxide_format::encode::{attribute, dataspace, datatype, layout, pad8, UNDEF};
use h5oxide_format::{Error, Result};

use super::value::{Elements, Value};
use super::{Attrs, DatasetWriter, GroupWriter, Member};

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
    pos: u64,
    gheap: Option<PendingHeap>,
}

/// Writes `root` and everything below it to `file` (empty, freshly truncated).
pub(crate) fn write_file(file: fs::File, root: &GroupWriter) -> Result<()> {
    let mut s = Serializer {
        out: BufWriter::with_capacity(1 << 20, file),
        pos: 0,
        gheap: None,
    };
    s.write(&[0; SUPERBLOCK_V0_SIZE])?;
    let (header, btree, heap) = s.group(root)?;
    s.flush_gheap()?;
    let eof = s.pos;
    let root_entry = SymbolTableEntry {
        name_offset: 0,
        header_addr: header,
        cache: EntryCache::Group { btree, heap },
    };
    let sb = superblock::encode_v0(&root_entry, eof);
    s.write_at(0, &sb)?;
    let file = s
        .out
        .into_inner()
        .map_err(|e| Error::Io(e.error().to_string()))?;
    file.sync_all()?;
    Ok(())
}

/// Splits `len` items into `parts` runs whose lengths differ by at most one.
fn even_runs(len: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
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
        self.out.seek(SeekFrom::Start(addr))?;
        self.out.write_all(bytes)?;
        self.out.seek(SeekFrom::Start(self.pos))?;
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
                    let len = u32::try_from(it.len()).map_err(|_| {
                        Error::Invalid("variable-length element larger than 4 GiB".into())
                    })?;
                    let (addr, index) = self.gheap_put(it)?;
                    out.extend_from_slice(&len.to_le_bytes());
                    out.extend_from_slice(&addr.to_le_bytes());
                    out.extend_from_slice(&index.to_le_bytes());
                }
                Ok(Cow::Owned(out))
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
                    "attribute {name:?}: {} bytes exceed the 64 KiB limit of compact attribute \
                     storage (dense attribute storage is not written yet)",
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
        let v = &d.value;
        let data = self.element_bytes(v)?;
        let (alloc_time, layout) = if d.compact {
            (fill_value::ALLOC_EARLY, layout::encode_compact(&data)?)
        } else {
            let size = data.len() as u64;
            let addr = if data.is_empty() {
                UNDEF
            } else {
                let data = data.into_owned();
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
            Message::new(msg_type::DATASPACE, 0, dataspace::encode(&v.space)?),
            Message::new(
                msg_type::DATATYPE,
                FLAG_CONSTANT,
                datatype::encode(&v.dtype)?,
            ),
            Message::new(
                msg_type::FILL_VALUE,
                FLAG_CONSTANT,
                fill_value::encode_v2(alloc_time, fill_time, &fill)?,
            ),
        ];
        if let Some(bytes) = &d.fill {
            msgs.push(Message::new(
                msg_type::FILL_VALUE_OLD,
                FLAG_CONSTANT,
                fill_value::encode_old(bytes)?,
            ));
        }
        msgs.push(Message::new(msg_type::LAYOUT, 0, layout));
        msgs.extend(self.attr_messages(&d.attrs)?);
        self.header(&msgs)
    }

    /// Writes a group; returns its object header, B-tree and local heap addresses.
    fn group(&mut self, g: &GroupWriter) -> Result<(u64, u64, u64)> {
        let mut heap = LocalHeapBuilder::new();
        let mut entries = Vec::with_capacity(g.members.len());
        for (name, m) in &g.members {
            let (header_addr, cache) = match m {
                Member::Group(child) => {
                    let (h, btree, heap) = self.group(child)?;
                    (h, EntryCache::Group { btree, heap })
                }
                Member::Dataset(d) => (self.dataset(d)?, EntryCache::None),
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
