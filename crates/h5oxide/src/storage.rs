//! Storage backends: where a file's bytes come from.
//!
//! Every backend implements [`h5oxide_format::Source`] with positional reads through `&self`, so
//! any number of threads read one file at once without a lock: [`FileStorage`] uses `pread`
//! (`FileExt::read_exact_at`), [`MemStorage`] serves an in-memory buffer, and [`MmapStorage`]
//! maps the file (with the huge-page advice of `buffer`, the only `unsafe` of the crate,
//! documented there).

use std::borrow::Cow;
use std::fs;
use std::path::Path;
use std::sync::Arc;

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
