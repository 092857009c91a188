//! Random access to a file's bytes, and the context every walker carries.
//!
//! This crate does no I/O itself: structures that span the file (B-trees, heaps, object header
//! continuations) are walked through a [`Source`], which the `h5oxide` crate implements for files,
//! memory maps and in-memory buffers. Addresses given to a source are relative to the superblock's
//! base address (spec §II.A "Base Address"); the source applies the base.

use std::borrow::Cow;

use crate::cursor::{Cursor, Sizes, UNDEF};
use crate::{Error, Result};

/// Positional, shareable read access to an HDF5 file's address space.
pub trait Source: Send + Sync {
    /// Reads exactly `len` bytes at `addr` (relative to the base address).
    ///
    /// Fails with [`Error::OutOfBounds`] when the range is not inside the file.
    fn read(&self, addr: u64, len: usize) -> Result<Cow<'_, [u8]>>;

    /// Number of addressable bytes (the file size minus the base address).
    fn size(&self) -> u64;

    /// Reads exactly `buf.len()` bytes at `addr` straight into `buf` (sources that can avoid an
    /// intermediate buffer override this).
    fn read_into(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let data = self.read(addr, buf.len())?;
        buf.copy_from_slice(&data);
        Ok(())
    }

    /// The whole address space as one borrowed slice, for sources that hold it in memory
    /// (memory maps, buffers); `None` otherwise. Enables zero-copy views.
    fn as_bytes(&self) -> Option<&[u8]> {
        None
    }
}

impl Source for [u8] {
    fn read(&self, addr: u64, len: usize) -> Result<Cow<'_, [u8]>> {
        let end = addr.checked_add(len as u64);
        match end {
            Some(end) if end <= self.len() as u64 => {
                Ok(Cow::Borrowed(&self[addr as usize..end as usize]))
            }
            _ => Err(Error::OutOfBounds {
                structure: "file",
                addr,
                len: len as u64,
                size: self.len() as u64,
            }),
        }
    }
    fn size(&self) -> u64 {
        self.len() as u64
    }
}

impl Source for Vec<u8> {
    fn read(&self, addr: u64, len: usize) -> Result<Cow<'_, [u8]>> {
        self.as_slice().read(addr, len)
    }
    fn size(&self) -> u64 {
        self.len() as u64
    }
}

/// A view of a source shifted by a base address (for superblocks not at byte 0).
pub struct Offset<S> {
    /// The underlying source, addressed from its byte 0.
    pub inner: S,
    /// Added to every address.
    pub base: u64,
}

impl<S: Source> Source for Offset<S> {
    fn read(&self, addr: u64, len: usize) -> Result<Cow<'_, [u8]>> {
        let a = addr.checked_add(self.base).ok_or(Error::OutOfBounds {
            structure: "file",
            addr,
            len: len as u64,
            size: self.size(),
        })?;
        self.inner.read(a, len)
    }
    fn size(&self) -> u64 {
        self.inner.size().saturating_sub(self.base)
    }
}

/// Resource budgets that bound what a (possibly hostile) file can make us do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest single metadata read or decoded metadata object, in bytes.
    pub max_metadata_bytes: u64,
    /// Largest raw-data buffer one read may allocate, in bytes.
    pub max_data_bytes: u64,
    /// Deepest B-tree / heap / nesting level followed.
    pub max_depth: u32,
    /// Most nodes, blocks, links or messages visited in one walk.
    pub max_visits: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_metadata_bytes: 256 << 20,
            max_data_bytes: 16 << 30,
            max_depth: 64,
            max_visits: 50_000_000,
        }
    }
}

/// Everything a walker needs: where the bytes are, the file's field sizes, and the budgets.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The file's bytes.
    pub src: &'a dyn Source,
    /// Sizes of offsets and lengths.
    pub sizes: Sizes,
    /// Budgets.
    pub limits: Limits,
    /// Group leaf node K from a version 0/1 superblock: a symbol table node holds at most
    /// 2K entries. 0 when the superblock does not store it (no check).
    pub group_leaf_k: u16,
    /// Global heap collections shared by every reader of the file (None: each
    /// [`GlobalHeapCache`](crate::global_heap::GlobalHeapCache) reads its own).
    pub gheap: Option<&'a crate::global_heap::SharedGlobalHeapCache>,
}

impl<'a> Ctx<'a> {
    /// A context over `src` with the given sizes and default limits.
    pub fn new(src: &'a dyn Source, sizes: Sizes) -> Self {
        Ctx {
            src,
            sizes,
            limits: Limits::default(),
            group_leaf_k: 0,
            gheap: None,
        }
    }

    /// Reads `len` metadata bytes of `structure` at `addr`, checking the address, the file size
    /// and the metadata budget first.
    pub fn read(&self, addr: u64, len: u64, structure: &'static str) -> Result<Cow<'a, [u8]>> {
        if addr == UNDEF {
            return Err(Error::corrupt(structure, addr, "undefined address"));
        }
        if len > self.limits.max_metadata_bytes {
            return Err(Error::Limit {
                what: structure,
                requested: len,
                limit: self.limits.max_metadata_bytes,
            });
        }
        let size = self.src.size();
        if addr.checked_add(len).is_none_or(|end| end > size) {
            return Err(Error::OutOfBounds {
                structure,
                addr,
                len,
                size,
            });
        }
        self.src.read(addr, len as usize).map_err(|e| match e {
            Error::OutOfBounds {
                addr, len, size, ..
            } => Error::OutOfBounds {
                structure,
                addr,
                len,
                size,
            },
            other => other,
        })
    }

    /// Reads up to `len` bytes at `addr`, fewer if the file ends first (for structures whose
    /// length is only known after decoding a prefix).
    pub fn read_upto(&self, addr: u64, len: u64, structure: &'static str) -> Result<Cow<'a, [u8]>> {
        let size = self.src.size();
        if addr == UNDEF || addr >= size {
            return Err(Error::OutOfBounds {
                structure,
                addr,
                len,
                size,
            });
        }
        self.read(addr, len.min(size - addr), structure)
    }

    /// A cursor over bytes previously read at `addr`.
    pub fn cursor<'b>(&self, data: &'b [u8], addr: u64, structure: &'static str) -> Cursor<'b> {
        Cursor::new(data, addr, structure, self.sizes)
    }

    /// Fails with [`Error::Limit`] when an allocation of `bytes` for `what` exceeds the metadata
    /// budget.
    pub fn check_alloc(&self, what: &'static str, bytes: u64) -> Result<()> {
        if bytes > self.limits.max_metadata_bytes {
            return Err(Error::Limit {
                what,
                requested: bytes,
                limit: self.limits.max_metadata_bytes,
            });
        }
        Ok(())
    }
}

/// Counts visits and depth in a walk, failing once a limit is passed.
#[derive(Debug)]
pub struct WalkGuard {
    visits: u64,
    max_visits: u64,
    max_depth: u32,
    seen: std::collections::HashSet<u64>,
}

impl WalkGuard {
    /// A guard with the context's limits.
    pub fn new(limits: &Limits) -> Self {
        WalkGuard {
            visits: 0,
            max_visits: limits.max_visits,
            max_depth: limits.max_depth,
            seen: Default::default(),
        }
    }

    /// Records a visit to the node at `addr` at `depth`; fails on a revisit, too many visits or
    /// too deep a walk.
    pub fn visit(&mut self, structure: &'static str, addr: u64, depth: u32) -> Result<()> {
        self.visits += 1;
        if self.visits > self.max_visits {
            return Err(Error::Limit {
                what: "nodes visited in one walk",
                requested: self.visits,
                limit: self.max_visits,
            });
        }
        if depth > self.max_depth || !self.seen.insert(addr) {
            return Err(Error::Cycle { structure, addr });
        }
        Ok(())
    }
}
