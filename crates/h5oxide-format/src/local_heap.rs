//! Local heaps (spec §III.D "Disk Format: Level 1D - Local Heaps").
//!
//! A `HEAP` header (version 0) pointing to a data segment that holds NUL-terminated strings
//! (link names of an old-style group, external file names). Objects are addressed by their byte
//! offset in the data segment. No checksum. The free list is not needed for reading; libhdf5
//! encodes an empty list as offset 1, the spec as UNDEF (FORMAT-MAP §2.8) — both are accepted.

use std::borrow::Cow;

use crate::source::Ctx;
use crate::{Error, Result};

/// A local heap with its data segment loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalHeap {
    /// Address of the `HEAP` header.
    pub addr: u64,
    /// Size of the data segment in bytes.
    pub data_segment_size: u64,
    /// Offset of the first free block, as stored (1 or `u64::MAX` when the list is empty).
    pub free_list_head: u64,
    /// Address of the data segment.
    pub data_segment_address: u64,
    /// The data segment.
    pub data: Vec<u8>,
}

/// Walks the free list of a data segment: every block must lie inside the segment and the
/// chain must end (offset 1 or UNDEF), as libhdf5 requires when it loads a heap.
fn check_free_list(ctx: &Ctx<'_>, addr: u64, head: u64, data: &[u8]) -> Result<()> {
    let len = ctx.sizes.length as usize;
    let size = data.len() as u64;
    let mut off = head;
    let mut steps = 0u64;
    while off != 1 && off != u64::MAX {
        steps += 1;
        if off >= size || steps > size {
            return Err(Error::corrupt("local heap", addr, "bad heap free list"));
        }
        let at = off as usize;
        let entry = data
            .get(at..at.saturating_add(2 * len))
            .ok_or_else(|| Error::corrupt("local heap", addr, "bad heap free list"))?;
        let mut c = ctx.cursor(entry, addr, "local heap");
        let next = c.length()?;
        let block = c.length()?;
        if next == 0 || off.checked_add(block).is_none_or(|end| end > size) {
            return Err(Error::corrupt("local heap", addr, "bad heap free list"));
        }
        off = next;
    }
    Ok(())
}

impl LocalHeap {
    /// Loads what libhdf5 loads to measure a heap (its "heap size" query): the header, and
    /// the data segment with its free list only when the segment directly follows the header
    /// (libhdf5 then caches both as one object). Errors where that query fails.
    pub fn check_for_size(ctx: &Ctx<'_>, addr: u64) -> Result<()> {
        const S: &str = "local heap";
        let len = 8 + 2 * ctx.sizes.length as u64 + ctx.sizes.offset as u64;
        let buf = ctx.read(addr, len, S)?;
        let mut c = ctx.cursor(&buf, addr, S);
        c.signature(b"HEAP")?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                structure: S,
                version: version as u32,
            });
        }
        c.skip(3)?;
        let data_segment_size = c.length()?;
        c.length()?;
        let data_segment_address = c.offset()?;
        if data_segment_size > 0 && data_segment_address == u64::MAX {
            return Err(c.corrupt("data segment address undefined"));
        }
        if addr.checked_add(len) == Some(data_segment_address) {
            LocalHeap::read(ctx, addr)?;
        }
        Ok(())
    }

    /// Reads the heap header at `addr` and its data segment.
    pub fn read(ctx: &Ctx<'_>, addr: u64) -> Result<LocalHeap> {
        const S: &str = "local heap";
        let len = 8 + 2 * ctx.sizes.length as u64 + ctx.sizes.offset as u64;
        let buf = ctx.read(addr, len, S)?;
        let mut c = ctx.cursor(&buf, addr, S);
        c.signature(b"HEAP")?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                structure: S,
                version: version as u32,
            });
        }
        c.skip(3)?;
        let data_segment_size = c.length()?;
        let free_list_head = c.length()?;
        let data_segment_address = c.offset()?;
        let data = if data_segment_size == 0 {
            Vec::new()
        } else {
            match ctx.read(
                data_segment_address,
                data_segment_size,
                "local heap data segment",
            )? {
                Cow::Borrowed(b) => b.to_vec(),
                Cow::Owned(v) => v,
            }
        };
        check_free_list(ctx, addr, free_list_head, &data)?;
        Ok(LocalHeap {
            addr,
            data_segment_size,
            free_list_head,
            data_segment_address,
            data,
        })
    }

    /// The NUL-terminated string at `offset` in the data segment (without the NUL).
    ///
    /// A string running to the end of the segment without a NUL is returned whole.
    pub fn string_at(&self, offset: u64) -> Result<&[u8]> {
        let rest = usize::try_from(offset)
            .ok()
            .and_then(|o| self.data.get(o..))
            .ok_or_else(|| {
                Error::corrupt(
                    "local heap",
                    self.addr,
                    format!(
                        "offset {offset} outside the data segment of {} bytes",
                        self.data.len()
                    ),
                )
            })?;
        let n = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        Ok(rest.get(..n).unwrap_or(rest))
    }

    /// The bytes from `offset` to the end of the data segment.
    pub fn bytes_at(&self, offset: u64) -> Result<&[u8]> {
        usize::try_from(offset)
            .ok()
            .and_then(|o| self.data.get(o..))
            .ok_or_else(|| {
                Error::corrupt(
                    "local heap",
                    self.addr,
                    format!("offset {offset} outside the data segment"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Sizes;

    #[test]
    fn names() {
        let mut f = b"HEAP\0\0\0\0".to_vec();
        f.extend_from_slice(&16u64.to_le_bytes());
        f.extend_from_slice(&1u64.to_le_bytes());
        f.extend_from_slice(&32u64.to_le_bytes());
        f.extend_from_slice(b"\0\0\0\0\0\0\0\0abc\0\0\0\0\0");
        let ctx = Ctx::new(&f, Sizes::default());
        let h = LocalHeap::read(&ctx, 0).unwrap();
        assert_eq!(h.string_at(0).unwrap(), b"");
        assert_eq!(h.string_at(8).unwrap(), b"abc");
        assert!(h.string_at(17).is_err());
    }
}
