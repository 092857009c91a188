//! Storage backends: where a file's bytes come from.
//!
//! Every backend implements [`h5oxide_format::Source`] with positional reads through `&self`, so
//! any number of threads read one file at once without a lock: [`FileStorage`] uses `pread`
//! (`FileExt::read_exact_at`), [`MemStorage`] serves an in-memory buffer, and [`MmapStorage`]
//! maps the file (with the huge-page advice of `buffer`, the only `unsafe` of the crate,
//! documented there).
//!
//! For bytes that live elsewhere (object storage, HTTP, a Python file object):
//! [`ReaderStorage`] reads any `Read + Seek` stream (one read at a time), [`RangeStorage`] any
//! function that fetches a byte range, and [`BlockCache`] wraps a high-latency source so the many
//! small metadata reads of a file become a few block fetches. Open them with
//! [`crate::OpenOptions::open_source`].

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, Mutex};

use h5oxide_format::{Error, Result, Source};

/// Positional reads from an open file.
#[derive(Debug)]
pub struct FileStorage {
    file: fs::File,
    len: u64,
}

impl FileStorage {
    /// Opens `path` read-only.
    pub fn open(path: &Path) -> Result<Self> {
        let file =
            fs::File::open(path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
        let len = file.metadata()?.len();
        Ok(FileStorage { file, len })
    }
}

#[cfg(unix)]
fn read_exact_at(f: &fs::File, buf: &mut [u8], off: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.read_exact_at(buf, off)
}

#[cfg(windows)]
fn read_exact_at(f: &fs::File, mut buf: &mut [u8], mut off: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match f.seek_read(buf, off) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                off += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Source for FileStorage {
    fn read(&self, addr: u64, len: usize) -> Result<Cow<'_, [u8]>> {
        if addr.checked_add(len as u64).is_none_or(|e| e > self.len) {
            return Err(Error::OutOfBounds {
                structure: "file",
                addr,
                len: len as u64,
                size: self.len,
            });
        }
        let mut buf = vec![0u8; len];
        read_exact_at(&self.file, &mut buf, addr)?;
        Ok(Cow::Owned(buf))
    }
    fn read_into(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        if addr
            .checked_add(buf.len() as u64)
            .is_none_or(|e| e > self.len)
        {
            return Err(Error::OutOfBounds {
                structure: "file",
                addr,
                len: buf.len() as u64,
                size: self.len,
            });
        }
        // Straight into the caller's buffer: no intermediate allocation or copy.
        read_exact_at(&self.file, buf, addr)?;
        Ok(())
    }
    fn size(&self) -> u64 {
        self.len
    }
}

/// A file held in memory.
#[derive(Debug, Clone)]
pub struct MemStorage {
    data: Arc<[u8]>,
}

impl MemStorage {
    /// Wraps a buffer.
    pub fn new(data: impl Into<Arc<[u8]>>) -> Self {
        MemStorage { data: data.into() }
    }
}

impl Source for MemStorage {
    fn read(&self, addr: u64, len: usize) -> Result<Cow<'_, [u8]>> {
        self.data.as_ref().read(addr, len)
    }
    fn size(&self) -> u64 {
        self.data.len() as u64
    }
    fn as_bytes(&self) -> Option<&[u8]> {
        Some(&self.data)
    }
}

fn out_of_bounds(addr: u64, len: u64, size: u64) -> Error {
    Error::OutOfBounds {
        structure: "file",
        addr,
        len,
        size,
    }
}

/// Positional reads from a `Read + Seek` stream (an object-store or HTTP client's reader, a
/// `Cursor`, ...): each read seeks and reads under a lock, so reads are serialized.
#[derive(Debug)]
pub struct ReaderStorage<R> {
    inner: Mutex<R>,
    len: u64,
}

impl<R: Read + Seek + Send> ReaderStorage<R> {
    /// Wraps `reader`; its length is found by seeking to its end.
    pub fn new(mut reader: R) -> Result<Self> {
        let len = reader.seek(SeekFrom::End(0))?;
        Ok(ReaderStorage {
            inner: Mutex::new(reader),
            len,
        })
    }
}

impl<R: Read + Seek + Send> Source for ReaderStorage<R> {
    fn read(&self, addr: u64, len: usize) -> Result<Cow<'_, [u8]>> {
        let mut buf = vec![0u8; len];
        self.read_into(addr, &mut buf)?;
        Ok(Cow::Owned(buf))
    }
    fn read_into(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        if addr
            .checked_add(buf.len() as u64)
            .is_none_or(|e| e > self.len)
        {
            return Err(out_of_bounds(addr, buf.len() as u64, self.len));
        }
        let mut r = self
            .inner
            .lock()
            .map_err(|_| Error::Io("a read of the stream panicked".into()))?;
        r.seek(SeekFrom::Start(addr))?;
        r.read_exact(buf)?;
        Ok(())
    }
    fn size(&self) -> u64 {
        self.len
    }
}

/// A function that fetches `len` bytes at an offset (one ranged GET of an object store, a
/// callback into Python, ...).
pub type RangeFn = dyn Fn(u64, usize) -> std::io::Result<Vec<u8>> + Send + Sync;

/// Reads through a [`RangeFn`] over an object of known size; the function may be called from
/// several threads at once.
pub struct RangeStorage {
    fetch: Box<RangeFn>,
    len: u64,
}

impl std::fmt::Debug for RangeStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeStorage")
            .field("len", &self.len)
            .finish()
    }
}

impl RangeStorage {
    /// An object of `len` bytes whose ranges `fetch` returns.
    pub fn new(
        len: u64,
        fetch: impl Fn(u64, usize) -> std::io::Result<Vec<u8>> + Send + Sync + 'static,
    ) -> Self {
        RangeStorage {
            fetch: Box::new(fetch),
            len,
        }
    }
}

impl Source for RangeStorage {
    fn read(&self, addr: u64, len: usize) -> Result<Cow<'_, [u8]>> {
        if addr.checked_add(len as u64).is_none_or(|e| e > self.len) {
            return Err(out_of_bounds(addr, len as u64, self.len));
        }
        let v = (self.fetch)(addr, len)?;
        if v.len() != len {
            return Err(Error::Io(format!(
                "a range read at {addr} returned {} of {len} bytes",
                v.len()
            )));
        }
        Ok(Cow::Owned(v))
    }
    fn size(&self) -> u64 {
        self.len
    }
}

/// A cache of aligned blocks in front of a high-latency source: a read smaller than a block is
/// served from the blocks it touches (each fetched once, then kept until `capacity` bytes of
/// blocks are held, oldest dropped first); larger reads go straight to the source.
pub struct BlockCache<S> {
    inner: S,
    block: u64,
    max_blocks: usize,
    blocks: Mutex<Blocks>,
}

/// The cached blocks by start offset, and their starts oldest first.
type Blocks = (HashMap<u64, Arc<Vec<u8>>>, VecDeque<u64>);

impl<S> std::fmt::Debug for BlockCache<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("block", &self.block)
            .field("max_blocks", &self.max_blocks)
            .finish()
    }
}

impl<S: Source> BlockCache<S> {
    /// Caches `inner` in blocks of `block` bytes (at least 1), holding at most `capacity` bytes.
    pub fn new(inner: S, block: u64, capacity: u64) -> Self {
        let block = block.max(1);
        BlockCache {
            inner,
            block,
            max_blocks: usize::try_from(capacity / block)
                .unwrap_or(usize::MAX)
                .max(1),
            blocks: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    fn block_at(&self, start: u64) -> Result<Arc<Vec<u8>>> {
        if let Ok(map) = self.blocks.lock() {
            if let Some(b) = map.0.get(&start) {
                return Ok(b.clone());
            }
        }
        let len = self.block.min(self.inner.size().saturating_sub(start));
        let len = usize::try_from(len).map_err(|_| Error::Invalid("block too large".into()))?;
        let b = Arc::new(self.inner.read(start, len)?.into_owned());
        if let Ok(mut map) = self.blocks.lock() {
            let (m, order) = &mut *map;
            if m.insert(start, b.clone()).is_none() {
                order.push_back(start);
                while order.len() > self.max_blocks {
                    if let Some(old) = order.pop_front() {
                        m.remove(&old);
                    }
                }
            }
        }
        Ok(b)
    }
}

impl<S: Source> Source for BlockCache<S> {
    fn read(&self, addr: u64, len: usize) -> Result<Cow<'_, [u8]>> {
        if len as u64 >= self.block {
            return self.inner.read(addr, len);
        }
        let mut buf = vec![0u8; len];
        self.read_into(addr, &mut buf)?;
        Ok(Cow::Owned(buf))
    }
    fn read_into(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let size = self.inner.size();
        let end = addr
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= size)
            .ok_or_else(|| out_of_bounds(addr, buf.len() as u64, size))?;
        if buf.len() as u64 >= self.block {
            return self.inner.read_into(addr, buf);
        }
        let mut at = addr;
        while at < end {
            let start = at - at % self.block;
            let b = self.block_at(start)?;
            let from = (at - start) as usize;
            let n = ((end - at) as usize).min(b.len().saturating_sub(from));
            if n == 0 {
                return Err(out_of_bounds(addr, buf.len() as u64, size));
            }
            let dst = (at - addr) as usize;
            match (buf.get_mut(dst..dst + n), b.get(from..from + n)) {
                (Some(d), Some(s)) => d.copy_from_slice(s),
                _ => return Err(out_of_bounds(addr, buf.len() as u64, size)),
            }
            at += n as u64;
        }
        Ok(())
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
}

/// A memory-mapped file.
#[derive(Debug)]
pub struct MmapStorage {
    map: memmap2::Mmap,
}

impl MmapStorage {
    /// Maps `path` read-only.
    pub fn open(path: &Path) -> Result<Self> {
        let file =
            fs::File::open(path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
        // SAFETY: the map is read-only. Like every reader of a mapped file we rely on the file not
        // being truncated by another process while mapped (that would raise SIGBUS); h5oxide
        // documents that mmap mode is for files not modified concurrently.
        let map = unsafe { memmap2::Mmap::map(&file) }?;
        Ok(MmapStorage { map })
    }

    /// The whole mapping.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }
}

impl Source for MmapStorage {
    fn read(&self, addr: u64, len: usize) -> Result<Cow<'_, [u8]>> {
        self.map.as_ref().read(addr, len)
    }
    fn size(&self) -> u64 {
        self.map.len() as u64
    }
    fn as_bytes(&self) -> Option<&[u8]> {
        Some(&self.map)
    }
}

/// A source shifted by the superblock's base address, owning its inner source.
pub(crate) struct Based {
    pub inner: Box<dyn Source>,
    pub base: u64,
    /// End of the allocated address space (the superblock's end-of-file address, relative to
    /// the base); nothing at or past it is read, as libhdf5 refuses such addresses.
    pub eoa: u64,
    /// Metadata from a metadata cache image, sorted by address and not overlapping: it stands
    /// for the file's bytes at those addresses (spec-less; see
    /// [`h5oxide_format::cache_image`]).
    pub overlay: Vec<h5oxide_format::cache_image::ImageEntry>,
}

impl Based {
    /// Copies into `buf` (the bytes at `addr`) what the overlay holds for that range.
    fn apply_overlay(&self, addr: u64, buf: &mut [u8]) {
        let end = addr.saturating_add(buf.len() as u64);
        // first entry ending after `addr`
        let first = self
            .overlay
            .partition_point(|e| e.addr.saturating_add(e.bytes.len() as u64) <= addr);
        for e in self.overlay.iter().skip(first) {
            if e.addr >= end {
                break;
            }
            let from = addr.max(e.addr);
            let to = end.min(e.addr.saturating_add(e.bytes.len() as u64));
            let (Ok(src), Ok(dst)) = (usize::try_from(from - e.addr), usize::try_from(from - addr))
            else {
                continue;
            };
            let n = (to - from) as usize;
            if let (Some(s), Some(d)) = (e.bytes.get(src..src + n), buf.get_mut(dst..dst + n)) {
                d.copy_from_slice(s);
            }
        }
    }
}

impl Based {
    /// The physical offset of `addr`, after checking `addr..addr+len` against the allocation.
    fn physical(&self, addr: u64, len: u64) -> Result<u64> {
        let a = addr.checked_add(self.base).ok_or(Error::OutOfBounds {
            structure: "file",
            addr,
            len,
            size: self.size(),
        })?;
        if addr.checked_add(len).is_none_or(|end| end > self.eoa) {
            return Err(Error::OutOfBounds {
                structure: "file (past the end-of-allocation address)",
                addr,
                len,
                size: self.size(),
            });
        }
        Ok(a)
    }
}

impl Source for Based {
    fn read(&self, addr: u64, len: usize) -> Result<Cow<'_, [u8]>> {
        let a = self.physical(addr, len as u64)?;
        if self.overlay.is_empty() {
            return self.inner.read(a, len);
        }
        let mut v = self.inner.read(a, len)?.into_owned();
        self.apply_overlay(addr, &mut v);
        Ok(Cow::Owned(v))
    }
    fn read_into(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let a = self.physical(addr, buf.len() as u64)?;
        self.inner.read_into(a, buf)?;
        if !self.overlay.is_empty() {
            self.apply_overlay(addr, buf);
        }
        Ok(())
    }
    fn size(&self) -> u64 {
        self.inner.size().saturating_sub(self.base).min(self.eoa)
    }
    fn as_bytes(&self) -> Option<&[u8]> {
        if !self.overlay.is_empty() {
            return None; // the file's bytes are not the whole truth
        }
        self.inner
            .as_bytes()
            .and_then(|b| b.get(usize::try_from(self.base).ok()?..))
    }
}
