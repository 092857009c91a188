//! Fractal heaps (spec §III.G "Disk Format: Level 1G - Fractal Heap") holding the objects of
//! dense link and attribute storage.
//!
//! Written as libhdf5 creates them for groups and attributes ([`HeapParams::links`],
//! [`HeapParams::attributes`]): table width 4, direct blocks checksummed (header flags bit 1),
//! objects up to 4 KiB *managed*, larger ones *huge*.
//!
//! - Managed objects are packed into direct blocks `FHDB` (version, header address, block
//!   offset, checksum over the whole block with the checksum field zeroed — FORMAT-MAP §2.10 —
//!   then the objects). The root is one direct block of the starting size while everything
//!   fits there; otherwise a root indirect block `FHIB` holds the doubling table (rows 0 and 1
//!   of the starting size, each later row twice as large); rows of blocks larger than the
//!   maximum direct block size hold child indirect blocks, each a doubling table of its own
//!   covering that row's block size. Direct blocks are filled in heap-offset order; blocks
//!   skipped because an object does not fit them, and child indirect blocks with nothing in
//!   them, stay unallocated (undefined address). The root has the fewest rows, rounded up to a
//!   power of two as libhdf5 grows it, that cover the last block.
//! - Huge objects are stored by the caller wherever it likes; the heap indexes them with a v2
//!   B-tree of type 1 (address, length, ID) since libhdf5's 7- and 8-byte heap IDs are too
//!   short to hold an address and a length.
//!
//! Heap IDs (spec §III.G "Fractal Heap ID"): a managed ID is byte 0 (version 0, type 0), the
//! object's offset in heap space (block headers included) in ⌈max heap bits / 8⌉ bytes, and its
//! length in the fewest bytes that hold min(max direct block size, max managed object size) —
//! 7 bytes for links, 8 (one unused) for attributes, as libhdf5 writes; a huge ID is byte 0x10
//! then the object's key, counting from 1.
//!
//! The free-space manager is not written (address undefined); libhdf5 creates a new one when
//! it next needs free space in the heap.

use super::btree_v2::{self, BTreeV2Params};
use super::{Put, UNDEF};
use crate::{Error, Result};

/// Creation parameters of a fractal heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapParams {
    /// Length of heap IDs in bytes.
    pub id_len: u16,
    /// Largest managed object; larger ones are huge.
    pub max_managed: u32,
    /// Table width (columns of the doubling table).
    pub width: u16,
    /// Starting block size (a power of two).
    pub start_block: u64,
    /// Maximum direct block size (a power of two).
    pub max_direct: u64,
    /// Bits of heap address space.
    pub max_heap_bits: u16,
    /// Starting number of rows of the root indirect block.
    pub start_root_rows: u16,
}

impl HeapParams {
    /// libhdf5's heap of dense link storage (`H5G_FHEAP_*`): 7-byte IDs, 512-byte starting
    /// blocks, 64 KiB direct blocks, 32 bits of address space.
    pub fn links() -> Self {
        HeapParams {
            id_len: 7,
            max_managed: 4096,
            width: 4,
            start_block: 512,
            max_direct: 65536,
            max_heap_bits: 32,
            start_root_rows: 1,
        }
    }

    /// libhdf5's heap of dense attribute storage (`H5O_FHEAP_*`): 8-byte IDs, 1 KiB starting
    /// blocks, 64 KiB direct blocks, 40 bits of address space.
    pub fn attributes() -> Self {
        HeapParams {
            id_len: 8,
            max_managed: 4096,
            width: 4,
            start_block: 1024,
            max_direct: 65536,
            max_heap_bits: 40,
            start_root_rows: 1,
        }
    }

    /// Bytes of a heap offset (block offsets, managed IDs).
    fn offset_size(&self) -> usize {
        (self.max_heap_bits as usize).div_ceil(8)
    }

    /// Bytes of a managed object's length in its ID.
    fn length_size(&self) -> usize {
        let by_block = (self.max_direct.trailing_zeros() as usize)
            .div_ceil(8)
            .max(1);
        let m = u64::from(self.max_managed);
        let by_max = if m == 0 {
            1
        } else {
            (63 - m.leading_zeros() as usize) / 8 + 1
        };
        by_block.min(by_max)
    }

    /// Header bytes of a direct block (signature, version, heap address, block offset,
    /// checksum).
    fn dblock_overhead(&self) -> u64 {
        (4 + 1 + 8 + self.offset_size() + 4) as u64
    }

    /// Rows of the doubling table holding direct blocks.
    fn max_direct_rows(&self) -> u32 {
        self.max_direct.trailing_zeros() - self.start_block.trailing_zeros() + 2
    }

    fn row_size(&self, row: u32) -> u64 {
        if row == 0 {
            self.start_block
        } else {
            self.start_block << (row - 1)
        }
    }

    /// Heap space covered by the first `rows` rows of a doubling table.
    fn table_space(&self, rows: u32) -> u64 {
        match rows {
            0 => 0,
            r => u64::from(self.width) * self.start_block * (1u64 << (r - 1)),
        }
    }

    /// Heap offset (relative to its indirect block) of the first block of `row`.
    fn row_offset(&self, row: u32) -> u64 {
        self.table_space(row)
    }

    /// The row holding the relative heap offset `rel` of an indirect block.
    fn row_of(&self, rel: u64) -> u32 {
        let first = u64::from(self.width) * self.start_block;
        if rel < first {
            0
        } else {
            (rel / first).ilog2() + 1
        }
    }

    /// Rows of a child indirect block in a row of blocks of `size` bytes.
    fn child_rows(&self, size: u64) -> u32 {
        size.trailing_zeros() + 1
            - (self.start_block.trailing_zeros() + u64::from(self.width).trailing_zeros())
    }

    /// Most rows of the root indirect block: enough to cover the heap's address space.
    fn max_root_rows(&self) -> u32 {
        let first_bits = self.start_block.trailing_zeros() + u64::from(self.width).trailing_zeros();
        u32::from(self.max_heap_bits).saturating_sub(first_bits) + 1
    }

    /// Size of the direct block that starts at heap offset `offset` (a block boundary).
    fn direct_size_at(&self, offset: u64) -> u64 {
        // Walk down the indirect blocks containing `offset`, from the root (offset 0).
        let mut base = 0u64;
        loop {
            let rel = offset - base;
            let row = self.row_of(rel);
            let size = self.row_size(row);
            if row < self.max_direct_rows() {
                return size;
            }
            let col = (rel - self.row_offset(row)) / size;
            base += self.row_offset(row) + col * size;
        }
    }

    /// Encoded size of the header of an unfiltered heap.
    pub fn header_size(&self) -> usize {
        4 + 1 + 2 + 2 + 1 + 4 + 12 * 8 + 3 * 8 + 2 + 2 + 2 + 2 + 4
    }
}

#[derive(Debug, Clone)]
struct Block {
    /// Heap offset of the block.
    offset: u64,
    size: u64,
    /// Object bytes (without the block header).
    data: Vec<u8>,
}

/// A fractal heap being filled; [`FractalHeapBuilder::encode`] lays it out.
#[derive(Debug, Clone)]
pub struct FractalHeapBuilder {
    p: HeapParams,
    blocks: Vec<Block>,
    huge: Vec<(u64, u64)>,
    managed_objects: u64,
    managed_bytes: u64,
}

/// The managed heap ID of an object at heap `offset` of `len` bytes.
fn managed_id(p: &HeapParams, offset: u64, len: u64) -> Vec<u8> {
    let mut id = vec![0u8];
    id.extend_from_slice(&offset.to_le_bytes()[..p.offset_size()]);
    id.extend_from_slice(&len.to_le_bytes()[..p.length_size()]);
    id.resize(p.id_len as usize, 0);
    id
}

impl FractalHeapBuilder {
    /// An empty heap with parameters `p`.
    pub fn new(p: HeapParams) -> Self {
        FractalHeapBuilder {
            p,
            blocks: Vec::new(),
            huge: Vec::new(),
            managed_objects: 0,
            managed_bytes: 0,
        }
    }

    /// The heap's parameters.
    pub fn params(&self) -> HeapParams {
        self.p
    }

    /// True when `len` bytes are stored as a huge object (stored by the caller, then
    /// registered with [`FractalHeapBuilder::insert_huge`]).
    pub fn is_huge(&self, len: usize) -> bool {
        len > self.p.max_managed as usize
    }

    /// Stores a managed object (at most the maximum managed size, not empty); returns its heap
    /// ID.
    pub fn insert(&mut self, obj: &[u8]) -> Result<Vec<u8>> {
        if obj.is_empty() || self.is_huge(obj.len()) {
            return Err(Error::Invalid(format!(
                "fractal heap: a managed object of {} bytes",
                obj.len()
            )));
        }
        let len = obj.len() as u64;
        let over = self.p.dblock_overhead();
        let fits = self
            .blocks
            .last()
            .is_some_and(|b| over + b.data.len() as u64 + len <= b.size);
        if !fits {
            let mut offset = self.blocks.last().map_or(0, |b| b.offset + b.size);
            let limit = self.p.table_space(self.p.max_root_rows());
            loop {
                let size = self.p.direct_size_at(offset);
                if offset + size > limit {
                    return Err(Error::unsupported(format!(
                        "a fractal heap beyond its {} bits of address space",
                        self.p.max_heap_bits
                    )));
                }
                if over + len <= size {
                    self.blocks.push(Block {
                        offset,
                        size,
                        data: Vec::new(),
                    });
                    break;
                }
                offset += size;
            }
        }
        let b = self
            .blocks
            .last_mut()
            .ok_or_else(|| Error::Invalid("fractal heap block".into()))?;
        let offset = b.offset + over + b.data.len() as u64;
        b.data.extend_from_slice(obj);
        self.managed_objects += 1;
        self.managed_bytes += len;
        Ok(managed_id(&self.p, offset, len))
    }

    /// Registers a huge object of `len` bytes that the caller stored at `addr`; returns its
    /// heap ID.
    pub fn insert_huge(&mut self, addr: u64, len: u64) -> Result<Vec<u8>> {
        self.huge.push((addr, len));
        let key = self.huge.len() as u64;
        let mut id = vec![0x10u8];
        let key_len = (self.p.id_len as usize - 1).min(8);
        id.extend_from_slice(&key.to_le_bytes()[..key_len]);
        id.resize(self.p.id_len as usize, 0);
        Ok(id)
    }

    /// True when the root is a single direct block.
    fn direct_root(&self) -> bool {
        self.blocks.len() == 1 && self.blocks.first().is_some_and(|b| b.offset == 0)
    }

    /// Lays the heap out with its header at `base`, followed by its blocks and the
    /// huge-object B-tree; returns the bytes to write at `base`.
    pub fn encode(&self, base: u64) -> Result<Vec<u8>> {
        let p = &self.p;
        let hsize = p.header_size();
        let mut out = vec![0u8; hsize];
        let over = p.dblock_overhead();
        // Root and managed-space statistics.
        let (root_rows, man_size, iter) = if self.blocks.is_empty() {
            (0u32, 0u64, 0u64)
        } else if self.direct_root() {
            (0, p.start_block, 0)
        } else {
            let last = self.blocks.last().map_or(0, |b| b.offset);
            let rows = (p.row_of(last) + 1)
                .max(u32::from(p.start_root_rows))
                .next_power_of_two()
                .min(p.max_root_rows());
            let iter = self.blocks.last().map_or(0, |b| b.offset + b.size);
            (rows, p.table_space(rows), iter)
        };
        let mut root_addr = UNDEF;
        if root_rows > 0 {
            root_addr = self.indirect(&mut out, base, 0, root_rows)?;
        } else if let Some(b) = self.blocks.first() {
            root_addr = base + out.len() as u64;
            out.extend_from_slice(&self.dblock(b, base)?);
        }
        // Huge objects' B-tree.
        let mut huge_bt = UNDEF;
        if !self.huge.is_empty() {
            huge_bt = base + out.len() as u64;
            let recs: Vec<Vec<u8>> = self
                .huge
                .iter()
                .enumerate()
                .map(|(i, &(a, n))| {
                    let mut r = Vec::with_capacity(24);
                    r.u64(a);
                    r.u64(n);
                    r.u64(i as u64 + 1);
                    r
                })
                .collect();
            out.extend_from_slice(&btree_v2::encode(
                BTreeV2Params::small(1, 24),
                &recs,
                huge_bt,
            )?);
        }
        let alloc: u64 = self.blocks.iter().map(|b| b.size).sum();
        let free = man_size
            .saturating_sub(over * self.blocks.len() as u64)
            .saturating_sub(self.managed_bytes);
        let huge_size: u64 = self.huge.iter().map(|h| h.1).sum();
        let mut h = Vec::with_capacity(hsize);
        h.extend_from_slice(b"FRHP");
        h.u8(0);
        h.u16(p.id_len);
        h.u16(0); // I/O filters' encoded length
        h.u8(0x02); // direct blocks checksummed
        h.u32(p.max_managed);
        h.u64(self.huge.len() as u64); // next huge object ID (the last one handed out)
        h.u64(huge_bt);
        h.u64(free);
        h.u64(UNDEF); // free-space manager
        h.u64(man_size);
        h.u64(alloc);
        h.u64(iter);
        h.u64(self.managed_objects);
        h.u64(huge_size);
        h.u64(self.huge.len() as u64);
        h.u64(0); // tiny objects' size
        h.u64(0); // tiny objects
        h.u16(p.width);
        h.u64(p.start_block);
        h.u64(p.max_direct);
        h.u16(p.max_heap_bits);
        h.u16(p.start_root_rows);
        h.u64(root_addr);
        h.u16(root_rows as u16);
        let sum = crate::checksum::lookup3(&h, 0);
        h.u32(sum);
        if h.len() != hsize {
            return Err(Error::Invalid("fractal heap header size".into()));
        }
        out[..hsize].copy_from_slice(&h);
        Ok(out)
    }

    /// Writes the indirect block at heap offset `offset` with `rows` rows to `out` (its
    /// allocated direct blocks and child indirect blocks first); returns its address.
    fn indirect(&self, out: &mut Vec<u8>, base: u64, offset: u64, rows: u32) -> Result<u64> {
        let p = &self.p;
        let w = u64::from(p.width);
        let end = offset + p.table_space(rows);
        let mut entries = Vec::with_capacity((u64::from(rows) * w) as usize);
        for row in 0..rows {
            let size = p.row_size(row);
            for col in 0..w {
                let child = offset + p.row_offset(row) + col * size;
                let addr = if row < p.max_direct_rows() {
                    match self.blocks.binary_search_by_key(&child, |b| b.offset) {
                        Ok(i) => {
                            let a = base + out.len() as u64;
                            out.extend_from_slice(&self.dblock(&self.blocks[i], base)?);
                            a
                        }
                        Err(_) => UNDEF,
                    }
                } else {
                    let first = self.blocks.partition_point(|b| b.offset < child);
                    let used = self
                        .blocks
                        .get(first)
                        .is_some_and(|b| b.offset < child + size && b.offset < end);
                    if used {
                        self.indirect(out, base, child, p.child_rows(size))?
                    } else {
                        UNDEF
                    }
                };
                entries.push(addr);
            }
        }
        let mut ib = Vec::with_capacity(entries.len() * 8 + 32);
        ib.extend_from_slice(b"FHIB");
        ib.u8(0);
        ib.u64(base);
        ib.extend_from_slice(&offset.to_le_bytes()[..p.offset_size()]);
        for e in entries {
            ib.u64(e);
        }
        let sum = crate::checksum::lookup3(&ib, 0);
        ib.u32(sum);
        let addr = base + out.len() as u64;
        out.extend_from_slice(&ib);
        Ok(addr)
    }

    fn dblock(&self, b: &Block, heap_addr: u64) -> Result<Vec<u8>> {
        let os = self.p.offset_size();
        let size = usize::try_from(b.size)
            .map_err(|_| Error::Invalid("fractal heap block size".into()))?;
        let mut d = Vec::with_capacity(size);
        d.extend_from_slice(b"FHDB");
        d.u8(0);
        d.u64(heap_addr);
        d.extend_from_slice(&b.offset.to_le_bytes()[..os]);
        let sum_at = d.len();
        d.u32(0);
        d.extend_from_slice(&b.data);
        if d.len() > size {
            return Err(Error::Invalid("fractal heap block overflow".into()));
        }
        d.resize(size, 0);
        let sum = crate::checksum::lookup3(&d, 0);
        d[sum_at..sum_at + 4].copy_from_slice(&sum.to_le_bytes());
        Ok(d)
    }
}
