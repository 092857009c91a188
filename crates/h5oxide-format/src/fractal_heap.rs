//! Fractal heaps (spec §III.G "Disk Format: Level 1G - Fractal Heap").
//!
//! A header `FRHP` describes a *doubling table* of blocks: `width` columns, rows 0 and 1 of
//! `starting block size` bytes, each later row twice the previous. Rows whose block size is at
//! most the maximum direct block size hold direct blocks `FHDB` (the objects' bytes); larger rows
//! hold indirect blocks `FHIB` (tables of child block addresses). The root is a direct block
//! when the root indirect block has 0 rows.
//!
//! Heap IDs (first byte: version in bits 6–7, type in bits 4–5):
//! - *managed* (0): offset in the heap's address space and length; the offset counts block
//!   headers, so an object is at `block address + (offset − block offset)`;
//! - *huge* (1): stored outside the blocks — either the address and length inline ("directly
//!   accessed") or a key into a v2 B-tree of type 1 (type 2 when filtered);
//! - *tiny* (2): the object's bytes inline in the ID.
//!
//! Checksums: header and indirect blocks as usual; direct blocks (when header flags bit 1 is set)
//! over the whole block with the checksum field zeroed (FORMAT-MAP §2.10). Filtered heaps (I/O
//! filter info present) are reported as [`Error::Unsupported`] for managed and huge objects.

use std::collections::HashMap;

use crate::btree_v2::{record_uint, BTreeV2};
use crate::checksum;
use crate::cursor::{le_uint, to_usize, UNDEF};
use crate::source::Ctx;
use crate::{Error, Result};

/// A decoded fractal heap header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FractalHeapHeader {
    /// Address of the header.
    pub addr: u64,
    /// Length of heap IDs in bytes.
    pub heap_id_length: u16,
    /// Length of the encoded I/O filter information (0: unfiltered).
    pub io_filters_encoded_length: u16,
    /// Flags: bit 0 huge IDs wrapped, bit 1 direct blocks checksummed.
    pub flags: u8,
    /// Maximum size of a managed object.
    pub max_managed_object_size: u32,
    /// Next huge object ID.
    pub next_huge_object_id: u64,
    /// Address of the v2 B-tree indexing huge objects, or [`UNDEF`].
    pub huge_object_btree_address: u64,
    /// Free space in managed blocks.
    pub free_space: u64,
    /// Address of the managed-block free-space manager.
    pub free_space_manager_address: u64,
    /// Managed space in the heap.
    pub managed_space: u64,
    /// Allocated managed space.
    pub allocated_managed_space: u64,
    /// Offset of the direct block allocation iterator.
    pub allocation_iterator_offset: u64,
    /// Number of managed objects.
    pub managed_objects: u64,
    /// Size of huge objects.
    pub huge_objects_size: u64,
    /// Number of huge objects.
    pub huge_objects: u64,
    /// Size of tiny objects.
    pub tiny_objects_size: u64,
    /// Number of tiny objects.
    pub tiny_objects: u64,
    /// Table width (columns of the doubling table).
    pub table_width: u16,
    /// Starting block size.
    pub starting_block_size: u64,
    /// Maximum direct block size.
    pub max_direct_block_size: u64,
    /// Maximum heap size, as a number of bits of heap address space.
    pub max_heap_size_bits: u16,
    /// Starting number of rows in the root indirect block.
    pub starting_root_rows: u16,
    /// Address of the root block, or [`UNDEF`] for an empty heap.
    pub root_block_address: u64,
    /// Current number of rows in the root indirect block (0: the root is a direct block).
    pub current_root_rows: u16,
    /// Filtered root direct block: size and filter mask, when the heap is filtered.
    pub filtered_root: Option<(u64, u32)>,
    /// The I/O filter pipeline (a Filter Pipeline message body), when the heap is filtered.
    pub filter_info: Vec<u8>,
}

impl FractalHeapHeader {
    /// Reads and verifies the header at `addr`.
    pub fn read(ctx: &Ctx<'_>, addr: u64) -> Result<FractalHeapHeader> {
        const S: &str = "fractal heap header";
        let o = ctx.sizes.offset as u64;
        let l = ctx.sizes.length as u64;
        let fixed = 4 + 1 + 2 + 2 + 1 + 4 + 12 * l + 3 * o + 2 + 2 + 2 + 2;
        let head = ctx.read(addr, fixed, S)?;
        let mut c = ctx.cursor(&head, addr, S);
        c.signature(b"FRHP")?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                structure: S,
                version: version as u32,
            });
        }
        let heap_id_length = c.u16()?;
        let io_filters_encoded_length = c.u16()?;
        let flags = c.u8()?;
        let max_managed_object_size = c.u32()?;
        let next_huge_object_id = c.length()?;
        let huge_object_btree_address = c.offset()?;
        let free_space = c.length()?;
        let free_space_manager_address = c.offset()?;
        let managed_space = c.length()?;
        let allocated_managed_space = c.length()?;
        let allocation_iterator_offset = c.length()?;
        let managed_objects = c.length()?;
        let huge_objects_size = c.length()?;
        let huge_objects = c.length()?;
        let tiny_objects_size = c.length()?;
        let tiny_objects = c.length()?;
        let table_width = c.u16()?;
        let starting_block_size = c.length()?;
        let max_direct_block_size = c.length()?;
        let max_heap_size_bits = c.u16()?;
        let starting_root_rows = c.u16()?;
        let root_block_address = c.offset()?;
        let current_root_rows = c.u16()?;
        let filtered = io_filters_encoded_length > 0;
        let extra = if filtered {
            l + 4 + io_filters_encoded_length as u64
        } else {
            0
        };
        let total = fixed + extra + 4;
        let buf = ctx.read(addr, total, S)?;
        checksum::verify(&buf, S, addr)?;
        let mut c = ctx.cursor(&buf, addr, S);
        c.skip(fixed as usize)?;
        let (filtered_root, filter_info) = if filtered {
            let size = c.length()?;
            let mask = c.u32()?;
            let info = c.bytes(io_filters_encoded_length as usize)?.to_vec();
            (Some((size, mask)), info)
        } else {
            (None, Vec::new())
        };
        let h = FractalHeapHeader {
            addr,
            heap_id_length,
            io_filters_encoded_length,
            flags,
            max_managed_object_size,
            next_huge_object_id,
            huge_object_btree_address,
            free_space,
            free_space_manager_address,
            managed_space,
            allocated_managed_space,
            allocation_iterator_offset,
            managed_objects,
            huge_objects_size,
            huge_objects,
            tiny_objects_size,
            tiny_objects,
            table_width,
            starting_block_size,
            max_direct_block_size,
            max_heap_size_bits,
            starting_root_rows,
            root_block_address,
            current_root_rows,
            filtered_root,
            filter_info,
        };
        h.validate()?;
        Ok(h)
    }

    fn validate(&self) -> Result<()> {
        let bad = |r: String| Err(Error::corrupt("fractal heap header", self.addr, r));
        if !self.table_width.is_power_of_two() {
            return bad(format!("table width {}", self.table_width));
        }
        if !self.starting_block_size.is_power_of_two()
            || !self.max_direct_block_size.is_power_of_two()
        {
            return bad("block sizes must be powers of two".into());
        }
        if self.max_direct_block_size < self.starting_block_size {
            return bad("maximum direct block size below the starting block size".into());
        }
        if self.max_heap_size_bits == 0 || self.max_heap_size_bits > 64 {
            return bad(format!(
                "maximum heap size of {} bits",
                self.max_heap_size_bits
            ));
        }
        if self.heap_id_length == 0 {
            return bad("heap ID length 0".into());
        }
        Ok(())
    }

    /// True when direct blocks carry a checksum.
    pub fn direct_blocks_checksummed(&self) -> bool {
        self.flags & 0x02 != 0
    }

    /// True when the heap has an I/O filter pipeline.
    pub fn is_filtered(&self) -> bool {
        self.io_filters_encoded_length > 0
    }

    /// Bytes of a block offset field (and of the offset in a managed heap ID).
    pub fn heap_offset_size(&self) -> usize {
        (self.max_heap_size_bits as usize).div_ceil(8)
    }

    /// Bytes of the length in a managed heap ID.
    pub fn heap_length_size(&self) -> usize {
        let log2 = self.max_direct_block_size.trailing_zeros() as usize;
        let by_block = log2.div_ceil(8).max(1);
        let m = self.max_managed_object_size as u64;
        let by_max = if m == 0 {
            1
        } else {
            (63 - m.leading_zeros() as usize) / 8 + 1
        };
        by_block.min(by_max)
    }

    /// Size of blocks in doubling-table row `row`, or `None` on overflow.
    pub fn row_block_size(&self, row: u32) -> Option<u64> {
        if row == 0 {
            Some(self.starting_block_size)
        } else {
            let shift = row - 1;
            if shift >= 64 {
                return None;
            }
            self.starting_block_size
                .checked_mul(1u64.checked_shl(shift)?)
        }
    }

    /// Number of rows that hold direct blocks.
    pub fn max_direct_rows(&self) -> u32 {
        self.max_direct_block_size.trailing_zeros() - self.starting_block_size.trailing_zeros() + 2
    }

    /// Heap-space offset of the first block of `row` within an indirect block.
    fn row_offset(&self, row: u32) -> Option<u64> {
        if row == 0 {
            return Some(0);
        }
        let w = self.table_width as u64;
        let shift = row - 1;
        if shift >= 64 {
            return None;
        }
        w.checked_mul(self.starting_block_size)?
            .checked_mul(1u64.checked_shl(shift)?)
    }

    /// Number of rows of a child indirect block held in a parent row of blocks of
    /// `row_block_size` bytes: it must cover exactly that much heap space, and `n` rows cover
    /// `width · start · 2^(n−1)` bytes, so `n = log2(size) − log2(width · start) + 1`.
    fn child_indirect_rows(&self, row_block_size: u64) -> Option<u32> {
        let first_row_bits = self.starting_block_size.trailing_zeros()
            + (self.table_width as u64)
                .checked_next_power_of_two()?
                .trailing_zeros();
        (row_block_size.trailing_zeros() + 1).checked_sub(first_row_bits)
    }
}

/// An indirect block's child table.
#[derive(Debug, Clone)]
struct IndirectBlock {
    block_offset: u64,
    nrows: u32,
    /// Row-major entries: direct children first (addresses), then indirect children.
    entries: Vec<u64>,
}

/// A fractal heap opened for object lookup, caching the blocks it reads.
#[derive(Debug)]
pub struct FractalHeap {
    /// The header.
    pub header: FractalHeapHeader,
    direct: HashMap<u64, Vec<u8>>,
    indirect: HashMap<u64, IndirectBlock>,
    cached_bytes: u64,
    huge: Option<BTreeV2>,
}

/// The kind of a heap ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeapIdKind {
    /// Stored in a direct block.
    Managed,
    /// Stored outside the heap blocks.
    Huge,
    /// Stored in the ID itself.
    Tiny,
}

/// Returns the kind of the heap ID `id`.
pub fn heap_id_kind(id: &[u8]) -> Result<HeapIdKind> {
    let b = *id
        .first()
        .ok_or_else(|| Error::Invalid("empty fractal heap ID".into()))?;
    if b >> 6 != 0 {
        return Err(Error::unsupported(format!(
            "fractal heap ID version {}",
            b >> 6
        )));
    }
    match (b >> 4) & 3 {
        0 => Ok(HeapIdKind::Managed),
        1 => Ok(HeapIdKind::Huge),
        2 => Ok(HeapIdKind::Tiny),
        t => Err(Error::Invalid(format!("fractal heap ID type {t}"))),
    }
}

impl FractalHeap {
    /// Reads the header at `addr`.
    pub fn open(ctx: &Ctx<'_>, addr: u64) -> Result<FractalHeap> {
        Ok(FractalHeap {
            header: FractalHeapHeader::read(ctx, addr)?,
            direct: HashMap::new(),
            indirect: HashMap::new(),
            cached_bytes: 0,
            huge: None,
        })
    }

    /// Returns the bytes of the object with heap ID `id`.
    pub fn get(&mut self, ctx: &Ctx<'_>, id: &[u8]) -> Result<Vec<u8>> {
        match heap_id_kind(id)? {
            HeapIdKind::Tiny => self.tiny(id),
            HeapIdKind::Managed => self.managed(ctx, id),
            HeapIdKind::Huge => self.huge(ctx, id),
        }
    }

    fn corrupt(&self, reason: impl Into<String>) -> Error {
        Error::corrupt("fractal heap", self.header.addr, reason)
    }

    fn tiny(&self, id: &[u8]) -> Result<Vec<u8>> {
        let b0 = id.first().copied().unwrap_or(0);
        let (len, start) = if self.header.heap_id_length <= 18 {
            ((b0 & 0x0f) as usize + 1, 1usize)
        } else {
            let b1 = id.get(1).copied().unwrap_or(0);
            ((((b0 & 0x0f) as usize) << 8 | b1 as usize) + 1, 2usize)
        };
        id.get(start..start + len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| self.corrupt(format!("tiny object of {len} bytes overruns its heap ID")))
    }

    fn managed(&mut self, ctx: &Ctx<'_>, id: &[u8]) -> Result<Vec<u8>> {
        let h = &self.header;
        if h.is_filtered() {
            return Err(Error::unsupported(
                "filtered fractal heap (managed objects)",
            ));
        }
        let os = h.heap_offset_size();
        let ls = h.heap_length_size();
        let off_b = id.get(1..1 + os);
        let len_b = id.get(1 + os..1 + os + ls);
        let (Some(off_b), Some(len_b)) = (off_b, len_b) else {
            return Err(self.corrupt("heap ID too short for a managed object"));
        };
        let offset = le_uint(off_b);
        let length = le_uint(len_b);
        if length == 0 {
            return Err(self.corrupt("managed object of length 0"));
        }
        let (block_addr, block_offset, block_size) = self.locate(ctx, offset)?;
        let data = self.direct_block(ctx, block_addr, block_offset, block_size)?;
        let rel = offset - block_offset;
        let start = to_usize(rel, "fractal heap direct block", block_addr)?;
        let n = to_usize(length, "fractal heap direct block", block_addr)?;
        data.get(start..)
            .and_then(|d| d.get(..n))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                Error::corrupt(
                    "fractal heap direct block",
                    block_addr,
                    format!("object at {rel}+{length} outside the block of {block_size} bytes"),
                )
            })
    }

    /// Finds the direct block holding heap offset `offset`: (address, block offset, size).
    fn locate(&mut self, ctx: &Ctx<'_>, offset: u64) -> Result<(u64, u64, u64)> {
        let root = self.header.root_block_address;
        if root == UNDEF {
            return Err(self.corrupt("managed object in an empty heap"));
        }
        let root_rows = self.header.current_root_rows as u32;
        if root_rows == 0 {
            let size = self.header.starting_block_size;
            if offset >= size {
                return Err(self.corrupt(format!("offset {offset} beyond the root direct block")));
            }
            return Ok((root, 0, size));
        }
        let mut addr = root;
        let mut nrows = root_rows;
        let mut block_offset = 0u64;
        let w = self.header.table_width as u64;
        let max_drows = self.header.max_direct_rows();
        for _ in 0..=ctx.limits.max_depth {
            let ib = self.indirect_block(ctx, addr, nrows, block_offset)?;
            let rel = offset
                .checked_sub(ib.block_offset)
                .ok_or_else(|| self.corrupt("offset before its indirect block"))?;
            // Find the row.
            let first = w
                .checked_mul(self.header.starting_block_size)
                .ok_or_else(|| self.corrupt("row size overflows"))?;
            let row = if rel < first {
                0
            } else {
                (rel / first).ilog2() + 1
            };
            if row >= ib.nrows {
                return Err(self.corrupt(format!(
                    "offset {offset} beyond the indirect block at {addr:#x}"
                )));
            }
            let rsize = self
                .header
                .row_block_size(row)
                .ok_or_else(|| self.corrupt("block size overflows"))?;
            let roff = self
                .header
                .row_offset(row)
                .ok_or_else(|| self.corrupt("row offset overflows"))?;
            let col = (rel - roff) / rsize;
            let entry_index = (row as u64 * w + col) as usize;
            let child = *ib
                .entries
                .get(entry_index)
                .ok_or_else(|| self.corrupt("indirect block entry out of range"))?;
            let child_offset = ib.block_offset + roff + col * rsize;
            if child == UNDEF {
                return Err(self.corrupt(format!("offset {offset} lies in an unallocated block")));
            }
            if row < max_drows {
                return Ok((child, child_offset, rsize));
            }
            addr = child;
            nrows = self
                .header
                .child_indirect_rows(rsize)
                .filter(|&n| n > 0)
                .ok_or_else(|| self.corrupt("child indirect block of no rows"))?;
            block_offset = child_offset;
        }
        Err(Error::Cycle {
            structure: "fractal heap indirect block",
            addr,
        })
    }

    fn charge(&mut self, bytes: u64, ctx: &Ctx<'_>) {
        self.cached_bytes = self.cached_bytes.saturating_add(bytes);
        if self.cached_bytes > ctx.limits.max_metadata_bytes {
            self.direct.clear();
            self.indirect.clear();
            self.cached_bytes = bytes;
        }
    }

    fn indirect_block(
        &mut self,
        ctx: &Ctx<'_>,
        addr: u64,
        nrows: u32,
        expect_offset: u64,
    ) -> Result<IndirectBlock> {
        if let Some(ib) = self.indirect.get(&addr) {
            return Ok(ib.clone());
        }
        const S: &str = "fractal heap indirect block";
        let h = &self.header;
        let o = ctx.sizes.offset as u64;
        let os = h.heap_offset_size() as u64;
        let w = h.table_width as u64;
        let max_drows = h.max_direct_rows();
        let drows = nrows.min(max_drows) as u64;
        let irows = nrows.saturating_sub(max_drows) as u64;
        let k = drows
            .checked_mul(w)
            .ok_or_else(|| Error::corrupt(S, addr, "too many entries"))?;
        let n = irows
            .checked_mul(w)
            .ok_or_else(|| Error::corrupt(S, addr, "too many entries"))?;
        let dentry = if h.is_filtered() {
            o + ctx.sizes.length as u64 + 4
        } else {
            o
        };
        let len = k
            .checked_mul(dentry)
            .and_then(|a| n.checked_mul(o).and_then(|b| a.checked_add(b)))
            .and_then(|v| v.checked_add(4 + 1 + o + os + 4))
            .ok_or_else(|| Error::corrupt(S, addr, "size overflows"))?;
        let buf = ctx.read(addr, len, S)?;
        let mut c = ctx.cursor(&buf, addr, S);
        c.signature(b"FHIB")?;
        checksum::verify(&buf, S, addr)?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                structure: S,
                version: version as u32,
            });
        }
        let hdr = c.offset()?;
        if hdr != h.addr {
            return Err(c.corrupt("heap header address does not match"));
        }
        let block_offset = c.uint(os as usize)?;
        if block_offset != expect_offset {
            return Err(c.corrupt(format!(
                "block offset {block_offset}, expected {expect_offset}"
            )));
        }
        let mut entries = Vec::with_capacity((k + n) as usize);
        for _ in 0..k {
            entries.push(c.offset()?);
            if h.is_filtered() {
                c.length()?;
                c.u32()?;
            }
        }
        for _ in 0..n {
            entries.push(c.offset()?);
        }
        let ib = IndirectBlock {
            block_offset,
            nrows,
            entries,
        };
        self.charge(len, ctx);
        self.indirect.insert(addr, ib.clone());
        Ok(ib)
    }

    fn direct_block(
        &mut self,
        ctx: &Ctx<'_>,
        addr: u64,
        expect_offset: u64,
        size: u64,
    ) -> Result<&[u8]> {
        if !self.direct.contains_key(&addr) {
            const S: &str = "fractal heap direct block";
            let h = &self.header;
            let buf = ctx.read(addr, size, S)?;
            let mut c = ctx.cursor(&buf, addr, S);
            c.signature(b"FHDB")?;
            let version = c.u8()?;
            if version != 0 {
                return Err(Error::UnsupportedVersion {
                    structure: S,
                    version: version as u32,
                });
            }
            let hdr = c.offset()?;
            if hdr != h.addr {
                return Err(c.corrupt("heap header address does not match"));
            }
            let block_offset = c.uint(h.heap_offset_size())?;
            if block_offset != expect_offset {
                return Err(c.corrupt(format!(
                    "block offset {block_offset}, expected {expect_offset}"
                )));
            }
            let at = c.pos();
            let stored = if h.direct_blocks_checksummed() {
                Some(c.u32()?)
            } else {
                None
            };
            let mut data = buf.into_owned();
            if let Some(stored) = stored {
                if let Some(f) = data.get_mut(at..at + 4) {
                    f.fill(0);
                }
                let computed = checksum::lookup3(&data, 0);
                if stored != computed {
                    return Err(Error::Checksum {
                        structure: S,
                        addr,
                        stored,
                        computed,
                    });
                }
                if let Some(f) = data.get_mut(at..at + 4) {
                    f.copy_from_slice(&stored.to_le_bytes());
                }
            }
            self.charge(size, ctx);
            self.direct.insert(addr, data);
        }
        self.direct
            .get(&addr)
            .map(Vec::as_slice)
            .ok_or_else(|| Error::corrupt("fractal heap direct block", addr, "cache miss"))
    }

    fn huge(&mut self, ctx: &Ctx<'_>, id: &[u8]) -> Result<Vec<u8>> {
        let h = &self.header;
        let o = ctx.sizes.offset as usize;
        let l = ctx.sizes.length as usize;
        let idlen = h.heap_id_length as usize;
        if h.is_filtered() {
            return Err(Error::unsupported("filtered fractal heap (huge objects)"));
        }
        let (addr, len) = if idlen > o + l {
            // Directly accessed: address and length in the ID.
            let a = id.get(1..1 + o).map(le_uint);
            let n = id.get(1 + o..1 + o + l).map(le_uint);
            match (a, n) {
                (Some(a), Some(n)) => (a, n),
                _ => return Err(self.corrupt("heap ID too short for a huge object")),
            }
        } else {
            let key_len = (idlen - 1).min(8);
            let key = id
                .get(1..1 + key_len)
                .map(le_uint)
                .ok_or_else(|| self.corrupt("heap ID too short for a huge object"))?;
            let bt_addr = h.huge_object_btree_address;
            if bt_addr == UNDEF {
                return Err(self.corrupt("huge object without a huge-object B-tree"));
            }
            if self.huge.is_none() {
                self.huge = Some(BTreeV2::open(ctx, bt_addr)?);
            }
            let Some(bt) = self.huge.as_ref() else {
                return Err(self.corrupt("huge-object B-tree"));
            };
            match bt.header.btree_type {
                1 => {}
                2 => return Err(Error::unsupported("filtered huge fractal heap objects")),
                t => return Err(self.corrupt(format!("huge-object B-tree of type {t}"))),
            }
            let rec = bt
                .find(ctx, &mut |r| {
                    Ok(record_uint(r.get(o + l..o + 2 * l).unwrap_or(&[])).cmp(&key))
                })?
                .ok_or_else(|| self.corrupt(format!("huge object {key} not in its B-tree")))?;
            let a = rec.get(..o).map(le_uint);
            let n = rec.get(o..o + l).map(le_uint);
            match (a, n) {
                (Some(a), Some(n)) => (a, n),
                _ => return Err(self.corrupt("short huge-object record")),
            }
        };
        let data = ctx.read(addr, len, "fractal heap huge object")?;
        Ok(data.into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::lookup3;

    fn hdr(start: u64, maxd: u64, w: u16) -> FractalHeapHeader {
        FractalHeapHeader {
            addr: 0,
            heap_id_length: 7,
            io_filters_encoded_length: 0,
            flags: 2,
            max_managed_object_size: 4096,
            next_huge_object_id: 0,
            huge_object_btree_address: UNDEF,
            free_space: 0,
            free_space_manager_address: UNDEF,
            managed_space: 0,
            allocated_managed_space: 0,
            allocation_iterator_offset: 0,
            managed_objects: 0,
            huge_objects_size: 0,
            huge_objects: 0,
            tiny_objects_size: 0,
            tiny_objects: 0,
            table_width: w,
            starting_block_size: start,
            max_direct_block_size: maxd,
            max_heap_size_bits: 32,
            starting_root_rows: 1,
            root_block_address: UNDEF,
            current_root_rows: 0,
            filtered_root: None,
            filter_info: Vec::new(),
        }
    }

    #[test]
    fn doubling_table() {
        let h = hdr(512, 65536, 4);
        assert_eq!(h.max_direct_rows(), 9);
        assert_eq!(h.row_block_size(0), Some(512));
        assert_eq!(h.row_block_size(1), Some(512));
        assert_eq!(h.row_block_size(2), Some(1024));
        assert_eq!(h.row_offset(1), Some(2048));
        assert_eq!(h.row_offset(2), Some(4096));
        assert_eq!(h.row_offset(3), Some(8192));
        assert_eq!(h.heap_offset_size(), 4);
        assert_eq!(h.heap_length_size(), 2);
        assert_eq!(h.child_indirect_rows(131072), Some(7));
    }

    #[test]
    fn tiny_ids() {
        let h = FractalHeap {
            header: hdr(512, 65536, 4),
            direct: HashMap::new(),
            indirect: HashMap::new(),
            cached_bytes: 0,
            huge: None,
        };
        assert_eq!(h.tiny(&[0x22, 1, 2, 3, 0, 0, 0]).unwrap(), vec![1, 2, 3]);
        assert!(h.tiny(&[0x2f, 1]).is_err());
        assert_eq!(heap_id_kind(&[0x10]).unwrap(), HeapIdKind::Huge);
        assert!(heap_id_kind(&[0x40]).is_err());
    }

    /// Builds a heap with start block 64, max direct 128, width 2, root indirect block of 4 rows
    /// (3 direct rows, 1 indirect row) and one child indirect block of 2 rows.
    fn synthetic() -> Vec<u8> {
        let mut f = vec![0u8; 4096];
        let put = |f: &mut Vec<u8>, at: usize, b: &[u8]| f[at..at + b.len()].copy_from_slice(b);
        let csum = |b: &[u8]| lookup3(b, 0).to_le_bytes();
        // Header at 0.
        let mut h = b"FRHP".to_vec();
        h.push(0);
        h.extend_from_slice(&4u16.to_le_bytes()); // heap ID length
        h.extend_from_slice(&0u16.to_le_bytes()); // filters
        h.push(2); // direct blocks checksummed
        h.extend_from_slice(&100u32.to_le_bytes()); // max managed
        for v in [0u64, UNDEF, 0, UNDEF, 1024, 1024, 1024, 1, 0, 0, 0, 0] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.extend_from_slice(&2u16.to_le_bytes()); // width
        h.extend_from_slice(&64u64.to_le_bytes()); // start
        h.extend_from_slice(&128u64.to_le_bytes()); // max direct
        h.extend_from_slice(&16u16.to_le_bytes()); // max heap bits
        h.extend_from_slice(&4u16.to_le_bytes()); // starting rows
        h.extend_from_slice(&1000u64.to_le_bytes()); // root
        h.extend_from_slice(&4u16.to_le_bytes()); // current rows
        let c = csum(&h);
        h.extend_from_slice(&c);
        put(&mut f, 0, &h);
        // Root indirect block at 1000: 6 direct entries (all unallocated but the 1st), 2 indirect.
        let mut ib = b"FHIB".to_vec();
        ib.push(0);
        ib.extend_from_slice(&0u64.to_le_bytes());
        ib.extend_from_slice(&0u16.to_le_bytes());
        for a in [3000u64, UNDEF, UNDEF, UNDEF, UNDEF, UNDEF, 2000, UNDEF] {
            ib.extend_from_slice(&a.to_le_bytes());
        }
        let c = csum(&ib);
        ib.extend_from_slice(&c);
        put(&mut f, 1000, &ib);
        // Child indirect block at 2000, offset 512: 4 direct entries.
        let mut ib = b"FHIB".to_vec();
        ib.push(0);
        ib.extend_from_slice(&0u64.to_le_bytes());
        ib.extend_from_slice(&512u16.to_le_bytes());
        for a in [UNDEF, UNDEF, 2500u64, UNDEF] {
            ib.extend_from_slice(&a.to_le_bytes());
        }
        let c = csum(&ib);
        ib.extend_from_slice(&c);
        put(&mut f, 2000, &ib);
        // Direct blocks: at 2500 (offset 640) and at 3000 (offset 0), 64 bytes each.
        for (at, off, text) in [(2500usize, 640u16, b"hello"), (3000, 0, b"world")] {
            let mut d = b"FHDB".to_vec();
            d.push(0);
            d.extend_from_slice(&0u64.to_le_bytes());
            d.extend_from_slice(&off.to_le_bytes());
            d.extend_from_slice(&[0; 4]);
            d.resize(64, 0);
            d[20..25].copy_from_slice(text);
            let c = csum(&d);
            d[15..19].copy_from_slice(&c);
            put(&mut f, at, &d);
        }
        f
    }

    #[test]
    fn managed_objects_through_child_indirect_block() {
        let f = synthetic();
        let ctx = Ctx::new(&f, crate::cursor::Sizes::default());
        let mut h = FractalHeap::open(&ctx, 0).unwrap();
        assert_eq!(h.header.max_direct_rows(), 3);
        let id = |off: u16, len: u8| {
            let o = off.to_le_bytes();
            [0u8, o[0], o[1], len]
        };
        assert_eq!(h.get(&ctx, &id(660, 5)).unwrap(), b"hello");
        assert_eq!(h.get(&ctx, &id(20, 5)).unwrap(), b"world");
        // Unallocated block, past the block's end, beyond the heap.
        assert!(h.get(&ctx, &id(100, 5)).is_err());
        assert!(h.get(&ctx, &id(700, 5)).is_err());
        assert!(h.get(&ctx, &id(60, 10)).is_err());
        assert!(h.get(&ctx, &id(5000, 1)).is_err());
        // A corrupted direct block fails its checksum.
        let mut g = f.clone();
        g[2500 + 30] ^= 1;
        let ctx = Ctx::new(&g, crate::cursor::Sizes::default());
        let mut h = FractalHeap::open(&ctx, 0).unwrap();
        assert_eq!(h.get(&ctx, &id(660, 5)).unwrap_err().kind(), "checksum");
    }
}
