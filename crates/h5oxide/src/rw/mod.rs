//! Changing HDF5 files in place (h5py's modes `r+`, `a`, and `w` for a file that stays open).
//!
//! [`RwFile`] opens a file written by libhdf5 or by us and changes it without rewriting it:
//!
//! * **Identity is kept.** An object is its header address (spec §IV.A), so a changed header is
//!   rewritten at the same address: the first chunk keeps its size, and messages that no longer
//!   fit go to a continuation block (`h5oxide_format::encode::header_rewrite`). A group's symbol
//!   table keeps its B-tree root and local heap header addresses (§III.A.1, §III.D): the root node
//!   and heap header are rewritten in place and point to new nodes and a new heap data segment,
//!   so the addresses cached in parents' symbol table entries stay right. A chunked dataset's
//!   v1 B-tree keeps its root address the same way.
//! * **New space comes from the end of the file** (8-byte aligned), or from blocks this session
//!   freed at an earlier flush (old continuation blocks, heap data segments, symbol table nodes,
//!   chunks that were rewritten elsewhere). Space of deleted objects is not reclaimed, and
//!   nothing is reclaimed across sessions (no persistent free-space manager is written).
//! * **Changes are deferred to [`RwFile::flush`]**: header messages, group link sets and chunk
//!   indexes live in memory while they change; data (chunks, contiguous bytes) is written at
//!   once. `flush` writes the link structures, chunk B-trees, headers and finally the
//!   superblock's end-of-file address, so after it h5py opens the file with everything written
//!   so far. Reading through [`RwFile::reader`] flushes first.
//!
//! What it writes is the "compatible" profile (version-1 headers, symbol-table groups, v1
//! B-tree chunk indexes, layout version 3). A chunked dataset with another chunk index (fixed
//! or extensible array, v2 B-tree, single chunk, implicit) is converted to a v1 B-tree index
//! when its chunks change, which every libhdf5 since 1.8 reads. Chunk B-tree nodes take the
//! size the file's chunk K gives them (superblock v1 or the superblock extension's B-tree 'K'
//! message). Dense storage (a fractal heap indexed by v2 B-trees, rebuilt at flush) is written
//! for the links of new-style groups (`rw/dense.rs`) and for the attributes of version-2 headers
//! that track them with an Attribute Info message. Not supported yet (typed
//! [`Error::Unsupported`]): other cases where libhdf5 would switch to dense attribute storage
//! (beyond the compact maximum in a version-2 header without Attribute Info, an attribute too
//! large for a header message), shared (SOHM) attributes, files whose offsets or
//! lengths are not 8 bytes, symbol-table groups in files with non-default group K values,
//! metadata cache images, SWMR-flagged files, external-link creation in a symbol-table group,
//! and a header whose first chunk is too small to hold a continuation message when its
//! messages outgrow it (checked before a flush writes anything).

mod data;
mod dense;
mod group;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use h5oxide_format::checksum::lookup3;
use h5oxide_format::encode::global_heap::CollectionBuilder;
use h5oxide_format::encode::header_rewrite::{self, Prefix, RawMessage};
use h5oxide_format::encode::{object_header as oh_enc, pad8, superblock as sb_enc, UNDEF};
use h5oxide_format::object_header::{msg, ObjectHeader};
use h5oxide_format::superblock::Superblock;
use h5oxide_format::{Ctx, Error, Limits, Result, Source};

use crate::file::File;
use crate::write::value::{Elements, Value};

use data::ChunkState;
pub use data::DatasetSpec;
use group::GroupState;

/// Read-write access to the bytes of the file, addresses relative to the base address.
pub(crate) struct Io {
    file: fs::File,
    base: u64,
    len: AtomicU64,
}

impl Io {
    fn write_at(&self, addr: u64, bytes: &[u8]) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let off = self
            .base
            .checked_add(addr)
            .ok_or_else(|| Error::Invalid("address overflow".into()))?;
        self.file.write_all_at(bytes, off)?;
        self.len
            .fetch_max(off + bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

impl Source for Io {
    fn read(&self, addr: u64, len: usize) -> Result<std::borrow::Cow<'_, [u8]>> {
        let mut buf = vec![0u8; len];
        self.read_into(addr, &mut buf)?;
        Ok(std::borrow::Cow::Owned(buf))
    }
    fn read_into(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let size = self.size();
        if addr.checked_add(buf.len() as u64).is_none_or(|e| e > size) {
            return Err(Error::OutOfBounds {
                structure: "file",
                addr,
                len: buf.len() as u64,
                size,
            });
        }
        self.file.read_exact_at(buf, self.base + addr)?;
        Ok(())
    }
    fn size(&self) -> u64 {
        self.len.load(Ordering::Relaxed).saturating_sub(self.base)
    }
}

/// An object header loaded for change.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    prefix: Prefix,
    msgs: Vec<RawMessage>,
    /// Continuation blocks as stored now.
    conts: Vec<(u64, u64)>,
    dirty: bool,
}

impl Header {
    fn from_read(oh: &ObjectHeader) -> Result<Header> {
        let chunk0 = oh
            .chunks
            .first()
            .copied()
            .ok_or_else(|| Error::corrupt("object header", oh.addr, "no chunks"))?;
        let prefix = if oh.version == 1 {
            Prefix::V1 {
                refcount: oh.refcount,
                chunk0_size: chunk0.1,
            }
        } else {
            let width = 1u64 << (oh.flags & 3);
            let plen = 6
                + if oh.times.is_some() { 16 } else { 0 }
                + if oh.attr_phase_change.is_some() { 4 } else { 0 }
                + width;
            Prefix::V2 {
                flags: oh.flags,
                times: oh.times,
                attr_phase_change: oh.attr_phase_change,
                chunk0_size: chunk0.1.saturating_sub(plen + 4),
            }
        };
        let msgs = oh
            .messages
            .iter()
            .map(|m| RawMessage {
                kind: m.kind,
                flags: m.flags,
                creation_order: m.creation_order.unwrap_or(0),
                body: m.data.clone(),
            })
            .collect();
        Ok(Header {
            prefix,
            msgs,
            conts: oh.chunks.iter().skip(1).copied().collect(),
            dirty: false,
        })
    }

    /// True for a version-2 header.
    pub(crate) fn is_v2(&self) -> bool {
        matches!(self.prefix, Prefix::V2 { .. })
    }

    /// The stored attribute phase change values (v2 header flags bit 4).
    pub(crate) fn attr_phase_change(&self) -> Option<(u16, u16)> {
        match &self.prefix {
            Prefix::V2 {
                attr_phase_change, ..
            } => *attr_phase_change,
            Prefix::V1 { .. } => None,
        }
    }

    fn version(&self) -> u8 {
        match self.prefix {
            Prefix::V1 { .. } => 1,
            Prefix::V2 { .. } => 2,
        }
    }

    pub(crate) fn find(&self, kind: u16) -> Option<&RawMessage> {
        self.msgs.iter().find(|m| m.kind == kind)
    }

    fn find_mut(&mut self, kind: u16) -> Option<&mut RawMessage> {
        self.msgs.iter_mut().find(|m| m.kind == kind)
    }

    /// Refuses to change a header holding a message we do not know that asks writers that do
    /// not understand it to leave the object alone (flag bit 3).
    fn check_writable(&self, addr: u64) -> Result<()> {
        for m in &self.msgs {
            let unknown = m.kind == 0x09 || m.kind > 0x17;
            if unknown && m.flags & 0x08 != 0 {
                return Err(Error::unsupported(format!(
                    "changing the object at {addr:#x}: it holds message type {:#x} marked \
                     fail-if-unknown-and-writing",
                    m.kind
                )));
            }
        }
        Ok(())
    }

    fn refcount(&self) -> u32 {
        match &self.prefix {
            Prefix::V1 { refcount, .. } => *refcount,
            Prefix::V2 { .. } => self
                .find(msg::REFCOUNT)
                .and_then(|m| m.body.get(1..5))
                .and_then(|b| b.try_into().ok())
                .map_or(1, u32::from_le_bytes),
        }
    }

    fn set_refcount(&mut self, n: u32) {
        match &mut self.prefix {
            Prefix::V1 { refcount, .. } => *refcount = n,
            Prefix::V2 { .. } => {
                self.msgs.retain(|m| m.kind != msg::REFCOUNT);
                if n != 1 {
                    let mut body = vec![0u8];
                    body.extend_from_slice(&n.to_le_bytes());
                    self.msgs.push(RawMessage {
                        kind: msg::REFCOUNT,
                        flags: 0,
                        creation_order: 0,
                        body,
                    });
                }
            }
        }
        self.dirty = true;
    }
}

/// B-tree 'K' values: half the fan-out of v1 B-tree nodes and symbol table nodes. The writers
/// build nodes of the default sizes only.
#[derive(Debug, Clone, Copy)]
struct BtreeK {
    chunk: u16,
    group_internal: u16,
    group_leaf: u16,
}

impl RwFile {
    /// Children per chunk B-tree node built: 2K, at most what the encoder lays out.
    pub(crate) fn chunk_node_capacity(&self) -> usize {
        (2 * usize::from(self.btree_k.chunk))
            .min(h5oxide_format::encode::btree_v1::CHUNK_NODE_CAPACITY)
    }

    /// Bytes of a chunk B-tree node of a dataset of `rank` dimensions with the file's chunk K
    /// (spec §III.A.1: 2K children and 2K + 1 keys of 8 + 8 (rank + 1) bytes).
    pub(crate) fn chunk_node_size(&self, rank: usize) -> usize {
        let k2 = 2 * usize::from(self.btree_k.chunk);
        24 + (k2 + 1) * (8 + 8 * (rank + 1)) + k2 * 8
    }

    /// Refuses to build symbol table groups in a file whose group K values are not the
    /// defaults (leaf 4, internal 16).
    pub(crate) fn check_group_k(&self) -> Result<()> {
        let k = self.btree_k;
        if k.group_leaf != 4 || k.group_internal != 16 {
            return Err(Error::unsupported(format!(
                "changing old-style groups in a file whose group B-tree K values are {}/{} \
                 (only the defaults 4/16)",
                k.group_leaf, k.group_internal
            )));
        }
        Ok(())
    }
}

/// A variable-length data collection being filled (spec §III.E).
struct PendingHeap {
    addr: u64,
    capacity: usize,
    builder: CollectionBuilder,
}

/// Largest global heap collection opened for small objects.
const GHEAP_CAPACITY: usize = 4096;

/// A file open for reading and writing.
pub struct RwFile {
    path: PathBuf,
    io: Io,
    sb: Superblock,
    /// Physical offset of the superblock.
    sb_offset: u64,
    /// The base address field as stored in the superblock.
    stored_base: u64,
    /// The file's B-tree K values (superblock v0/v1, or the superblock extension).
    btree_k: BtreeK,
    limits: Limits,
    /// End of allocated space (relative).
    eoa: u64,
    /// Blocks free for reuse: freed at an earlier flush.
    free: Vec<(u64, u64)>,
    /// Blocks freed since the last flush (still referenced on disk until it).
    freed: Vec<(u64, u64)>,
    headers: HashMap<u64, Header>,
    groups: HashMap<u64, GroupState>,
    chunks: HashMap<u64, ChunkState>,
    attrs: HashMap<u64, dense::AttrState>,
    gheap: Option<PendingHeap>,
    /// Parent group and link name by which each group was reached (for cache updates).
    parents: HashMap<u64, (u64, Vec<u8>)>,
    reader: Option<File>,
    dirty: bool,
    closed: bool,
}

impl std::fmt::Debug for RwFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RwFile").field("path", &self.path).finish()
    }
}

impl RwFile {
    /// Opens an existing file for reading and writing (h5py mode `"r+"`).
    pub fn open(path: impl AsRef<Path>) -> Result<RwFile> {
        let path = path.as_ref().to_path_buf();
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
        Self::from_file(path, file)
    }

    /// Creates (or truncates) `path` as an empty file with a root group (h5py mode `"w"`).
    pub fn create(path: impl AsRef<Path>) -> Result<RwFile> {
        Self::create_with(path, crate::write::WriteOptions::new())
    }

    /// Creates `path` with the superblock and root group of `options`' profile (h5py's
    /// `libver`): the latest profile gives superblock version 3 and a new-style root group.
    /// Objects created later are written in the compatible profile.
    pub fn create_with(
        path: impl AsRef<Path>,
        options: crate::write::WriteOptions,
    ) -> Result<RwFile> {
        let path = path.as_ref().to_path_buf();
        crate::write::FileWriter::create_with(&path, options)?.close()?;
        Self::open(path)
    }

    fn from_file(path: PathBuf, file: fs::File) -> Result<RwFile> {
        let len = file.metadata()?.len();
        let probe = Io {
            file,
            base: 0,
            len: AtomicU64::new(len),
        };
        let sb = Superblock::find(&probe)?;
        if sb.sizes.offset != 8 || sb.sizes.length != 8 {
            return Err(Error::unsupported(format!(
                "writing files with {}-byte offsets and {}-byte lengths",
                sb.sizes.offset, sb.sizes.length
            )));
        }
        if sb.version >= 2 && sb.consistency_flags & 0x05 != 0 {
            return Err(Error::unsupported(
                "writing a file marked as open for writing by another program (SWMR flags set)",
            ));
        }
        if sb.driver_info_address != UNDEF {
            return Err(Error::unsupported(
                "writing files with a driver information block (multi/family files)",
            ));
        }
        // The stored end-of-file address is absolute: the relative end of allocated space
        // plus the base address *as stored*, which libhdf5 subtracts again when it opens the
        // file (even when the stored base differs from where the superblock is).
        let stored_base = {
            use std::os::unix::fs::FileExt;
            let at = sb.signature_offset
                + match sb.version {
                    0 => 24,
                    1 => 28,
                    _ => 12,
                };
            let mut b = [0u8; 8];
            probe.file.read_exact_at(&mut b, at)?;
            match u64::from_le_bytes(b) {
                UNDEF => sb.base_address,
                v => v,
            }
        };
        let io = Io {
            file: probe.file,
            base: sb.base_address,
            len: AtomicU64::new(len),
        };
        let mut btree_k = BtreeK {
            chunk: sb.indexed_storage_internal_node_k,
            group_internal: sb.group_internal_node_k,
            group_leaf: sb.group_leaf_node_k,
        };
        if sb.extension_address != UNDEF {
            // libhdf5 loads a metadata cache image announced in the superblock extension at
            // open, and the image supersedes the metadata on disk: changing the on-disk
            // structures under it would be wrong.
            let ext = match ObjectHeader::read(&Ctx::new(&io, sb.sizes), sb.extension_address) {
                Ok(h) => h,
                Err(e) => {
                    return Err(Error::unsupported(format!(
                        "writing a file whose superblock extension cannot be read ({e})"
                    )))
                }
            };
            if ext.has(msg::MDC_IMAGE) {
                return Err(Error::unsupported(
                    "writing a file with a metadata cache image (superblock extension)",
                ));
            }
            // B-tree 'K' values (§IV.A.2.t): version, chunk K, group internal K, leaf K.
            if let Some(m) = ext.find(msg::BTREE_K) {
                let k = |at: usize| {
                    m.data
                        .get(at..at + 2)
                        .map(|b| u16::from_le_bytes([b[0], b[1]]))
                        .ok_or_else(|| {
                            Error::corrupt("B-tree 'K' values message", m.addr, "too short")
                        })
                };
                btree_k = BtreeK {
                    chunk: k(1)?,
                    group_internal: k(3)?,
                    group_leaf: k(5)?,
                };
                if btree_k.chunk == 0 || btree_k.group_internal == 0 || btree_k.group_leaf == 0 {
                    return Err(Error::corrupt(
                        "B-tree 'K' values message",
                        m.addr,
                        "a K value of 0",
                    ));
                }
            }
        }
        let phys = io.size();
        let eoa = if sb.eof_address == UNDEF {
            phys
        } else {
            sb.eof_address.saturating_sub(stored_base).max(phys)
        };
        let sb_offset = sb.signature_offset;
        Ok(RwFile {
            path,
            io,
            sb,
            sb_offset,
            stored_base,
            btree_k,
            limits: Limits::default(),
            eoa: pad8(eoa as usize) as u64,
            free: Vec::new(),
            freed: Vec::new(),
            headers: HashMap::new(),
            groups: HashMap::new(),
            chunks: HashMap::new(),
            attrs: HashMap::new(),
            gheap: None,
            parents: HashMap::new(),
            reader: None,
            dirty: false,
            closed: false,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn ctx(&self) -> Ctx<'_> {
        Ctx {
            src: &self.io,
            sizes: self.sb.sizes,
            limits: self.limits,
            group_leaf_k: if self.sb.version <= 1 {
                self.sb.group_leaf_node_k
            } else {
                0
            },
            gheap: None,
        }
    }

    /// A read-only view of the file as it is now (everything written so far is flushed
    /// first). The view stays valid after later changes but does not see them; call again.
    pub fn reader(&mut self) -> Result<File> {
        if self.dirty || self.reader.is_none() {
            self.flush()?;
        }
        match &self.reader {
            Some(r) => Ok(r.clone()),
            None => {
                let r = File::open(&self.path)?;
                self.reader = Some(r.clone());
                Ok(r)
            }
        }
    }

    fn touch(&mut self) {
        self.dirty = true;
        self.reader = None;
    }

    // ----- space -----

    /// Allocates `size` bytes (8-aligned): a freed block that fits, else the end of the file.
    pub(crate) fn alloc(&mut self, size: u64) -> Result<u64> {
        let size = size.max(1).div_ceil(8) * 8;
        if let Some(i) = self.free.iter().position(|&(_, s)| s >= size) {
            let (a, s) = self.free[i];
            if s == size {
                self.free.swap_remove(i);
            } else {
                self.free[i] = (a + size, s - size);
            }
            return Ok(a);
        }
        self.alloc_fresh(size)
    }

    /// Allocates at the end of the file (fresh space reads as zeros).
    pub(crate) fn alloc_fresh(&mut self, size: u64) -> Result<u64> {
        let size = size.max(1).div_ceil(8) * 8;
        let a = self.eoa;
        self.eoa = a
            .checked_add(size)
            .ok_or_else(|| Error::Invalid("file address space exhausted".into()))?;
        Ok(a)
    }

    /// Marks a block as free once the next flush has made it unreferenced.
    pub(crate) fn release(&mut self, addr: u64, size: u64) {
        if addr != UNDEF && size > 0 {
            self.freed.push((addr, size));
        }
    }

    pub(crate) fn write_at(&mut self, addr: u64, bytes: &[u8]) -> Result<()> {
        self.reader = None;
        self.io.write_at(addr, bytes)
    }

    /// Allocates and writes `bytes`; returns the address.
    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<u64> {
        let a = self.alloc(bytes.len() as u64)?;
        self.write_at(a, bytes)?;
        Ok(a)
    }

    // ----- variable-length data -----

    fn flush_gheap(&mut self) -> Result<()> {
        if let Some(p) = self.gheap.take() {
            let bytes = p.builder.encode(p.capacity)?;
            self.write_at(p.addr, &bytes)?;
        }
        Ok(())
    }

    fn gheap_put(&mut self, data: &[u8]) -> Result<(u64, u32)> {
        let fits = self
            .gheap
            .as_ref()
            .is_some_and(|p| p.builder.fits(data.len(), p.capacity));
        if !fits {
            self.flush_gheap()?;
            let builder = CollectionBuilder::new();
            let capacity =
                (builder.used() + CollectionBuilder::object_size(data.len())).max(GHEAP_CAPACITY);
            let addr = self.alloc(capacity as u64)?;
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
    pub(crate) fn element_bytes<'v>(&mut self, v: &'v Value) -> Result<std::borrow::Cow<'v, [u8]>> {
        match &v.elements {
            Elements::Raw(r) => Ok(std::borrow::Cow::Borrowed(r)),
            Elements::VarLen(items) => {
                let mut out = Vec::with_capacity(items.len() * 16);
                for it in items {
                    let len = u32::try_from(it.len() / v.element_unit()).map_err(|_| {
                        Error::Invalid("variable-length element larger than 4 GiB".into())
                    })?;
                    // libhdf5 stores an empty string as a zero-length heap object and an
                    // empty sequence as a null reference
                    let string = matches!(
                        v.dtype,
                        h5oxide_format::datatype::Datatype::VarLenString { .. }
                    );
                    let (addr, index) = if it.is_empty() && !string {
                        (0, 0)
                    } else {
                        self.gheap_put(it)?
                    };
                    out.extend_from_slice(&len.to_le_bytes());
                    out.extend_from_slice(&addr.to_le_bytes());
                    out.extend_from_slice(&index.to_le_bytes());
                }
                Ok(std::borrow::Cow::Owned(out))
            }
            Elements::Mixed { raw, slots } => Ok(std::borrow::Cow::Owned(
                crate::write::value::fill_slots(raw, slots, |d| self.gheap_put(d))?,
            )),
        }
    }

    // ----- headers -----

    /// The header at `addr`, loaded for change.
    pub(crate) fn header(&mut self, addr: u64) -> Result<&mut Header> {
        if !self.headers.contains_key(&addr) {
            let oh = ObjectHeader::read(&self.ctx(), addr)?;
            let h = Header::from_read(&oh)?;
            self.headers.insert(addr, h);
        }
        self.headers
            .get_mut(&addr)
            .ok_or_else(|| Error::Invalid("header".into()))
    }

    /// The header at `addr`, checked to be changeable, marked dirty.
    pub(crate) fn header_mut(&mut self, addr: u64) -> Result<&mut Header> {
        self.touch();
        let h = self.header(addr)?;
        h.check_writable(addr)?;
        h.dirty = true;
        Ok(h)
    }

    /// Writes a brand-new version-1 header holding `msgs` with `room` spare bytes.
    pub(crate) fn new_header(&mut self, msgs: &[oh_enc::Message], room: usize) -> Result<u64> {
        self.touch();
        let need = oh_enc::encoded_size_v1(msgs) - oh_enc::PREFIX_SIZE;
        let bytes = oh_enc::encode_v1(msgs, 1, need + room)?;
        let addr = self.put(&bytes)?;
        // Keep it loaded: later changes need not read it back.
        self.headers.insert(
            addr,
            Header {
                prefix: Prefix::V1 {
                    refcount: 1,
                    chunk0_size: (bytes.len() - oh_enc::PREFIX_SIZE) as u64,
                },
                msgs: msgs
                    .iter()
                    .map(|m| RawMessage {
                        kind: m.msg_type,
                        flags: m.flags,
                        creation_order: 0,
                        body: {
                            // v1 bodies are read back padded to 8 bytes
                            let mut b = m.body.clone();
                            b.resize(pad8(b.len()), 0);
                            b
                        },
                    })
                    .collect(),
                conts: Vec::new(),
                dirty: false,
            },
        );
        Ok(addr)
    }

    fn write_header(&mut self, addr: u64) -> Result<()> {
        let Some(h) = self.headers.get(&addr) else {
            return Ok(());
        };
        if !h.dirty {
            return Ok(());
        }
        let h = h.clone();
        let total: usize = h.msgs.iter().map(|m| m.body.len() + 8).sum();
        let mut plan = header_rewrite::plan(&h.prefix, &h.msgs, 64 + total / 4)?;
        let mut conts = h.conts.clone();
        let mut cont_addr = UNDEF;
        let mut new_conts = Vec::new();
        if let Some(need) = plan.continuation_len {
            // Reuse an old continuation block that is big enough, else allocate.
            if let Some(i) = conts.iter().position(|&(_, len)| len >= need) {
                let (a, len) = conts.remove(i);
                cont_addr = a;
                plan.continuation_len = Some(len);
                new_conts.push((a, len));
            } else {
                cont_addr = self.alloc(need)?;
                new_conts.push((cont_addr, need));
            }
        }
        for (a, len) in conts {
            self.release(a, len);
        }
        let img = header_rewrite::encode(&h.prefix, &h.msgs, &plan, cont_addr)?;
        self.write_at(addr, &img.head)?;
        if let Some(c) = &img.continuation {
            self.write_at(cont_addr, c)?;
        }
        if let Some(h) = self.headers.get_mut(&addr) {
            h.conts = new_conts;
            h.dirty = false;
        }
        Ok(())
    }

    // ----- flush / close -----

    /// Writes everything changed so far, so that another reader (h5py) sees it.
    pub fn flush(&mut self) -> Result<()> {
        if self.closed {
            return Err(Error::Invalid("file is closed".into()));
        }
        self.preflight()?;
        let dirty_groups = dirty_keys(&self.groups, |g| g.dirty);
        for a in dirty_groups {
            self.write_group(a)?;
        }
        let dirty_chunks = dirty_keys(&self.chunks, |c| c.dirty);
        for a in dirty_chunks {
            self.write_chunk_index(a)?;
        }
        let dirty_attrs = dirty_keys(&self.attrs, |a| a.dirty);
        for a in dirty_attrs {
            self.write_attrs(a)?;
        }
        self.flush_gheap()?;
        let dirty_headers = dirty_keys(&self.headers, |h| h.dirty);
        for a in dirty_headers {
            self.write_header(a)?;
        }
        self.write_superblock()?;
        self.free.append(&mut self.freed);
        self.dirty = false;
        self.reader = None;
        Ok(())
    }

    /// Checks, before anything is written, that every header to rewrite can be laid out (a
    /// first chunk too small for a continuation message cannot grow), so a refused flush
    /// leaves the file as it was. Compact groups' Link messages are set first (in memory).
    fn preflight(&mut self) -> Result<()> {
        let compact: Vec<u64> = self
            .groups
            .iter()
            .filter(|(_, g)| g.dirty && g.storage == group::Storage::Compact)
            .map(|(&a, _)| a)
            .collect();
        for a in compact {
            self.write_group(a)?;
        }
        let dirty_chunks = dirty_keys(&self.chunks, |c| c.dirty);
        let mut layouts = HashMap::new();
        for a in dirty_chunks {
            if let Some(body) = self.layout_after_index(a)? {
                layouts.insert(a, body);
            }
        }
        for (a, h) in &self.headers {
            if !h.dirty && !layouts.contains_key(a) {
                continue;
            }
            let mut msgs = h.msgs.clone();
            if let Some(body) = layouts.get(a) {
                if let Some(m) = msgs.iter_mut().find(|m| m.kind == msg::LAYOUT) {
                    m.body = body.clone();
                }
            }
            header_rewrite::plan(&h.prefix, &msgs, 0).map_err(|e| match e {
                Error::Unsupported { feature } => {
                    Error::unsupported(format!("{feature} (object at {a:#x})"))
                }
                e => e,
            })?;
        }
        Ok(())
    }

    fn write_superblock(&mut self) -> Result<()> {
        // Make the physical file at least as long as the allocated space.
        let end = self.eoa;
        if self.io.size() < end {
            self.io
                .file
                .set_len(self.io.base + end)
                .map_err(|e| Error::Io(e.to_string()))?;
            self.io.len.fetch_max(self.io.base + end, Ordering::Relaxed);
        }
        let end = end
            .checked_add(self.stored_base)
            .ok_or_else(|| Error::Invalid("end of file address overflows".into()))?;
        self.sb.eof_address = end;
        use std::os::unix::fs::FileExt;
        match self.sb.version {
            0 | 1 => {
                let at = self.sb_offset + if self.sb.version == 0 { 40 } else { 44 };
                self.io.file.write_all_at(&end.to_le_bytes(), at)?;
            }
            _ => {
                let mut b = [0u8; 48];
                self.io.file.read_exact_at(&mut b, self.sb_offset)?;
                b[28..36].copy_from_slice(&end.to_le_bytes());
                let sum = lookup3(&b[..44], 0);
                b[44..48].copy_from_slice(&sum.to_le_bytes());
                self.io.file.write_all_at(&b, self.sb_offset)?;
            }
        }
        let _ = sb_enc::SUPERBLOCK_V0_SIZE;
        Ok(())
    }

    /// Clears the symbol-table cache of the root entry of a version 0/1 superblock (when the
    /// root group stops being an old-style group).
    pub(crate) fn clear_root_cache(&mut self) -> Result<()> {
        if self.sb.version <= 1 {
            use std::os::unix::fs::FileExt;
            let entry = self.sb_offset + if self.sb.version == 0 { 56 } else { 60 };
            // link name offset (8), header address (8), then cache type (4), reserved (4),
            // scratch pad (16)
            self.io.file.write_all_at(&[0u8; 24], entry + 16)?;
        }
        Ok(())
    }

    /// Flushes and asks the OS to put the file's data on stable storage (fsync).
    pub fn sync_all(&mut self) -> Result<()> {
        self.flush()?;
        self.io.file.sync_all()?;
        Ok(())
    }

    /// Flushes and closes the file.
    pub fn close(mut self) -> Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        // Like libhdf5, closing writes everything to the OS but does not fsync; call
        // `sync_all` for durability.
        self.flush()?;
        self.closed = true;
        Ok(())
    }

    // ----- paths -----

    /// Address of the root group's object header.
    pub fn root_addr(&self) -> u64 {
        self.sb.root_object_header_address
    }

    /// The header address of the object at `path` (absolute, or relative to the root).
    pub fn resolve(&mut self, path: &str) -> Result<u64> {
        self.resolve_from(self.root_addr(), path, 0)
    }

    /// The header address of the object at `path` relative to the group at `start`.
    pub fn resolve_from(&mut self, start: u64, path: &str, depth: u32) -> Result<u64> {
        if depth > 32 {
            return Err(Error::Invalid(format!("{path}: too many soft links")));
        }
        let mut cur = if path.starts_with('/') {
            self.root_addr()
        } else {
            start
        };
        for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
            let target = self.group_state(cur)?.get(part.as_bytes()).cloned();
            cur = match target {
                Some(group::Target::Hard { addr, .. }) => {
                    self.parents
                        .entry(addr)
                        .or_insert_with(|| (cur, part.as_bytes().to_vec()));
                    addr
                }
                Some(group::Target::Soft(to)) => {
                    let to = String::from_utf8_lossy(&to).into_owned();
                    self.resolve_from(cur, &to, depth + 1)?
                }
                Some(_) => {
                    return Err(Error::unsupported(format!(
                        "{path}: following external or user-defined links when writing"
                    )))
                }
                None => return Err(Error::NotFound(format!("{path}: no object named {part:?}"))),
            };
        }
        Ok(cur)
    }

    /// Splits `path` into the parent group's address and the last name.
    pub(crate) fn parent_of<'p>(&mut self, path: &'p str) -> Result<(u64, &'p str)> {
        let trimmed = path.trim_end_matches('/');
        let (dir, name) = match trimmed.rfind('/') {
            Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
            None => ("", trimmed),
        };
        if name.is_empty() || name == "." || name == ".." {
            return Err(Error::Invalid(format!("invalid path {path:?}")));
        }
        let dir = if dir.is_empty() && path.starts_with('/') {
            "/"
        } else {
            dir
        };
        let parent = self.resolve(dir)?;
        Ok((parent, name))
    }

    /// True if `path` names an object or link.
    pub fn exists(&mut self, path: &str) -> Result<bool> {
        match self.resolve(path) {
            Ok(_) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// The keys of the entries of `map` that `dirty` says have unwritten changes.
fn dirty_keys<T>(map: &HashMap<u64, T>, dirty: impl Fn(&T) -> bool) -> Vec<u64> {
    map.iter()
        .filter(|(_, v)| dirty(v))
        .map(|(&k, _)| k)
        .collect()
}

impl Drop for RwFile {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; call `close` to see them.
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests;
