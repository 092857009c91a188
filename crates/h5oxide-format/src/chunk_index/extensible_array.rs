//! Extensible-array chunk index (spec §VII Appendix C "Extensible Array"; layout v4+ index
//! type 4; FORMAT-MAP §2.17).
//!
//! * Header `EAHD` (checksummed): version 0, client id (0 unfiltered, 1 filtered), element size,
//!   max-elements bits, index-block elements, data-block minimum elements, super-block minimum
//!   data-block pointers, page bits (1 byte each), six L-byte statistics, index block address.
//! * Index block `EAIB`: version, client, header address, the first *index-block elements*
//!   elements, `2·(minptrs − 1)` data-block addresses, then super-block addresses, checksum.
//! * Super block *s* (0-based; `nsb = 1 + maxbits − log2(minelmts)` of them) holds `2^⌊s/2⌋`
//!   data blocks of `minelmts · 2^⌊(s+1)/2⌋` elements. The data blocks of the first
//!   `2·log2(minptrs)` super blocks are addressed from the index block; the others through an
//!   `EASB` (version, client, header address, block offset, [page bitmaps], data-block addresses,
//!   checksum).
//! * Data block `EADB`: version, client, header address, block offset, elements, checksum — or,
//!   when it has more than 2^page-bits elements, no elements: its pages (elements + checksum each)
//!   follow it, and the super block's per-data-block bitmap (most significant bit first) says
//!   which pages are initialised.
//!
//! Element *i* is the chunk whose grid position, with the unlimited dimension moved to the front
//! ("swizzled"), is number *i* row-major over the maximum-dims grid.

use crate::checksum;
use crate::chunk_index::fixed_array::bit;
use crate::chunk_index::{
    decode_array_entry, down_products, linear, unlinear, ChunkRecord, Geometry,
};
use crate::cursor::{to_usize, UNDEF};
use crate::source::Ctx;
use crate::{Error, Result};

const HDR: &str = "extensible array header";
const IBLK: &str = "extensible array index block";
const SBLK: &str = "extensible array super block";
const DBLK: &str = "extensible array data block";

/// A super block's page-initialised bitmap.
#[derive(Debug, Clone, Default)]
struct PageMap {
    bits: Vec<u8>,
    pages_per_block: u64,
}

impl PageMap {
    /// Whether page `p` of data block `k` is initialised (no bitmap: all are).
    fn initialised(&self, k: u64, p: u64) -> bool {
        if self.pages_per_block == 0 {
            return true;
        }
        k.checked_mul(self.pages_per_block)
            .and_then(|b| b.checked_add(p))
            .is_some_and(|i| bit(&self.bits, i))
    }
}

#[derive(Debug, Clone, Copy)]
struct SuperInfo {
    ndblks: u64,
    dblk_nelmts: u64,
    start_idx: u64,
    start_dblk: u64,
}

/// An opened extensible array with its index block.
#[derive(Debug, Clone)]
pub struct ExtensibleArray {
    addr: u64,
    filtered: bool,
    entry_size: usize,
    max_bits: u8,
    iblk_elmts: u64,
    page_nelmts: u64,
    max_idx_set: u64,
    sblk: Vec<SuperInfo>,
    /// Super blocks whose data blocks the index block addresses directly.
    iblk_nsblks: usize,
    iblk_elements: Vec<u8>,
    iblk_dblk_addrs: Vec<u64>,
    iblk_sblk_addrs: Vec<u64>,
    unlim: usize,
    down: Vec<u64>,
    /// Maximum-dims chunk grid, unswizzled (0 for the unlimited dimension).
    grid: Vec<u64>,
}

fn log2(v: u64) -> u32 {
    63 - v.max(1).leading_zeros()
}

impl ExtensibleArray {
    /// Reads the header and index block.
    pub fn open(ctx: &Ctx<'_>, addr: u64, geom: &Geometry, _filtered: bool) -> Result<Self> {
        let o = ctx.sizes.offset as u64;
        let l = ctx.sizes.length as u64;
        let len = 4 + 1 + 1 + 6 + 6 * l + o + 4;
        let buf = ctx.read(addr, len, HDR)?;
        checksum::verify(&buf, HDR, addr)?;
        let mut c = ctx.cursor(&buf, addr, HDR);
        c.signature(b"EAHD")?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                structure: HDR,
                version: version as u32,
            });
        }
        let client = c.u8()?;
        let entry_size = c.u8()? as usize;
        let max_bits = c.u8()?;
        let iblk_elmts = c.u8()? as u64;
        let dblk_min = c.u8()? as u64;
        let min_ptrs = c.u8()? as u64;
        let page_bits = c.u8()?;
        let _nsblks = c.length()?;
        let _sblk_size = c.length()?;
        let _ndblks = c.length()?;
        let _dblk_size = c.length()?;
        let max_idx_set = c.length()?;
        let _nelmts = c.length()?;
        let iblk_addr = c.offset()?;
        let filtered = match client {
            0 => false,
            1 => true,
            k => return Err(c.corrupt(format!("client id {k}"))),
        };
        let min = o as usize + if filtered { 5 } else { 0 };
        if entry_size < min || (!filtered && entry_size != o as usize) {
            return Err(c.corrupt(format!("element size {entry_size} for client {client}")));
        }
        if !(1..=64).contains(&max_bits)
            || page_bits >= 64
            || !dblk_min.is_power_of_two()
            || !min_ptrs.is_power_of_two()
            || log2(dblk_min) > max_bits as u32
        {
            return Err(c.corrupt("creation parameters out of range"));
        }
        // Super block table.
        let nsblks = 1 + max_bits as u32 - log2(dblk_min);
        let mut sblk = Vec::with_capacity(nsblks as usize);
        let (mut start_idx, mut start_dblk) = (0u64, 0u64);
        for s in 0..nsblks {
            let ndblks = 1u64 << (s / 2);
            let dblk_nelmts = dblk_min
                .checked_shl(s.div_ceil(2))
                .filter(|&v| v >> s.div_ceil(2) == dblk_min)
                .ok_or_else(|| c.corrupt("data block size overflows"))?;
            sblk.push(SuperInfo {
                ndblks,
                dblk_nelmts,
                start_idx,
                start_dblk,
            });
            start_idx = start_idx.saturating_add(ndblks.saturating_mul(dblk_nelmts));
            start_dblk = start_dblk.saturating_add(ndblks);
        }
        let iblk_nsblks = 2 * log2(min_ptrs) as usize;
        let n_dblk_addrs = 2 * (min_ptrs - 1);
        let n_sblk_addrs = (nsblks as u64).saturating_sub(iblk_nsblks as u64);
        // Swizzled grid: the unlimited dimension first.
        let max_grid = geom.max_grid();
        let unlim: Vec<usize> = max_grid
            .iter()
            .enumerate()
            .filter(|(_, m)| m.is_none())
            .map(|(i, _)| i)
            .collect();
        let &[unlim] = unlim.as_slice() else {
            return Err(c.corrupt("extensible array index needs exactly one unlimited dimension"));
        };
        let mut sw: Vec<u64> = vec![0];
        sw.extend(
            max_grid
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != unlim)
                .map(|(_, m)| m.unwrap_or(0)),
        );
        let down = down_products(&sw).ok_or_else(|| c.corrupt("chunk grid overflows"))?;

        let mut ea = ExtensibleArray {
            addr,
            filtered,
            entry_size,
            max_bits,
            iblk_elmts,
            page_nelmts: 1u64 << page_bits,
            max_idx_set,
            sblk,
            iblk_nsblks,
            iblk_elements: Vec::new(),
            iblk_dblk_addrs: Vec::new(),
            iblk_sblk_addrs: Vec::new(),
            unlim,
            down,
            grid: max_grid.iter().map(|m| m.unwrap_or(0)).collect(),
        };
        if iblk_addr == UNDEF {
            return Ok(ea);
        }
        // Index block.
        let ilen =
            4 + 1 + 1 + o + iblk_elmts * entry_size as u64 + (n_dblk_addrs + n_sblk_addrs) * o + 4;
        let buf = ctx.read(iblk_addr, ilen, IBLK)?;
        checksum::verify(&buf, IBLK, iblk_addr)?;
        let mut c = ctx.cursor(&buf, iblk_addr, IBLK);
        c.signature(b"EAIB")?;
        ea.check_prefix(&mut c)?;
        ea.iblk_elements = c.bytes(iblk_elmts as usize * entry_size)?.to_vec();
        for _ in 0..n_dblk_addrs {
            ea.iblk_dblk_addrs.push(c.offset()?);
        }
        for _ in 0..n_sblk_addrs {
            ea.iblk_sblk_addrs.push(c.offset()?);
        }
        Ok(ea)
    }

    fn check_prefix(&self, c: &mut crate::Cursor<'_>) -> Result<()> {
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                structure: c.structure(),
                version: version as u32,
            });
        }
        let _client = c.u8()?;
        if c.offset()? != self.addr {
            return Err(c.corrupt("header address does not point back to the header"));
        }
        Ok(())
    }

    fn arr_off_size(&self) -> usize {
        (self.max_bits as usize).div_ceil(8)
    }

    /// Grid position of element `i` (unswizzled).
    fn scaled_of(&self, i: u64) -> Vec<u64> {
        let sw = unlinear(i, &self.down);
        let mut s: Vec<u64> = sw.iter().skip(1).copied().collect();
        s.insert(self.unlim.min(s.len()), sw.first().copied().unwrap_or(0));
        s
    }

    /// Element number of grid position `scaled`.
    fn index_of(&self, scaled: &[u64]) -> Option<u64> {
        let mut sw = Vec::with_capacity(scaled.len());
        sw.push(*scaled.get(self.unlim)?);
        sw.extend(
            scaled
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != self.unlim)
                .map(|(_, &v)| v),
        );
        linear(&sw, &self.down)
    }

    /// Reads a super block: its data-block addresses and, when its data blocks are paged, the
    /// page-initialised bitmap with the number of pages per data block. The bitmap is one bit
    /// string (most significant bit first) indexed by `data block × pages + page`, stored in
    /// `data blocks × ⌈pages/8⌉` bytes.
    fn read_sblock(&self, ctx: &Ctx<'_>, addr: u64, s: usize) -> Result<(Vec<u64>, PageMap)> {
        let info = *self
            .sblk
            .get(s)
            .ok_or_else(|| Error::corrupt(SBLK, addr, "super block index out of range"))?;
        let o = ctx.sizes.offset as u64;
        let npages = if info.dblk_nelmts > self.page_nelmts {
            info.dblk_nelmts / self.page_nelmts
        } else {
            0
        };
        let bm = npages.div_ceil(8);
        let len = info
            .ndblks
            .checked_mul(bm + o)
            .and_then(|v| v.checked_add(4 + 1 + 1 + o + self.arr_off_size() as u64 + 4))
            .ok_or_else(|| Error::corrupt(SBLK, addr, "super block size overflows"))?;
        let buf = ctx.read(addr, len, SBLK)?;
        checksum::verify(&buf, SBLK, addr)?;
        let mut c = ctx.cursor(&buf, addr, SBLK);
        c.signature(b"EASB")?;
        self.check_prefix(&mut c)?;
        c.skip(self.arr_off_size())?;
        let mut maps = PageMap::default();
        if bm > 0 {
            let n = to_usize(info.ndblks * bm, SBLK, addr)?;
            maps = PageMap {
                bits: c.bytes(n)?.to_vec(),
                pages_per_block: npages,
            };
        }
        let mut addrs = Vec::new();
        for _ in 0..info.ndblks {
            addrs.push(c.offset()?);
        }
        Ok((addrs, maps))
    }

    /// Reads elements `[from, from + n)` of the data block at `addr` holding `nelmts` elements.
    /// `page_map` is the super block's page bitmap and this block's number in it (paged data
    /// blocks of super blocks only). Uninitialised pages give `None`s.
    fn read_dblock_elems(
        &self,
        ctx: &Ctx<'_>,
        addr: u64,
        nelmts: u64,
        page_map: Option<(&PageMap, u64)>,
        from: u64,
        n: u64,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let o = ctx.sizes.offset as u64;
        let es = self.entry_size as u64;
        let pre = 4 + 1 + 1 + o + self.arr_off_size() as u64;
        let paged = nelmts > self.page_nelmts;
        let mut out = Vec::new();
        if !paged {
            let len = nelmts
                .checked_mul(es)
                .and_then(|v| v.checked_add(pre + 4))
                .ok_or_else(|| Error::corrupt(DBLK, addr, "data block size overflows"))?;
            let buf = ctx.read(addr, len, DBLK)?;
            checksum::verify(&buf, DBLK, addr)?;
            let mut c = ctx.cursor(&buf, addr, DBLK);
            c.signature(b"EADB")?;
            self.check_prefix(&mut c)?;
            c.skip(self.arr_off_size())?;
            c.skip(to_usize(from * es, DBLK, addr)?)?;
            for _ in 0..n {
                out.push(Some(c.bytes(self.entry_size)?.to_vec()));
            }
            return Ok(out);
        }
        // Paged: verify the prefix, then read the pages touched.
        let head = ctx.read(addr, pre + 4, DBLK)?;
        checksum::verify(&head, DBLK, addr)?;
        let mut c = ctx.cursor(&head, addr, DBLK);
        c.signature(b"EADB")?;
        self.check_prefix(&mut c)?;
        let pn = self.page_nelmts;
        let page_len = pn
            .checked_mul(es)
            .and_then(|v| v.checked_add(4))
            .ok_or_else(|| Error::corrupt(DBLK, addr, "page size overflows"))?;
        let end = from + n;
        let mut i = from;
        while i < end {
            let p = i / pn;
            let page_end = (p + 1).saturating_mul(pn).min(end);
            let init = page_map.is_none_or(|(m, k)| m.initialised(k, p));
            if !init {
                for _ in i..page_end {
                    out.push(None);
                }
            } else {
                let paddr = addr
                    .checked_add(pre + 4)
                    .and_then(|a| a.checked_add(p.checked_mul(page_len)?))
                    .ok_or_else(|| Error::corrupt(DBLK, addr, "page address overflows"))?;
                let buf = ctx.read(paddr, page_len, DBLK)?;
                checksum::verify(&buf, "extensible array data block page", paddr)?;
                let mut c = ctx.cursor(&buf, paddr, DBLK);
                c.skip(to_usize((i - p * pn) * es, DBLK, addr)?)?;
                for _ in i..page_end {
                    out.push(Some(c.bytes(self.entry_size)?.to_vec()));
                }
            }
            i = page_end;
        }
        Ok(out)
    }

    /// The grid position libhdf5's chunk iteration *reports* for element `i`: it steps the
    /// unswizzled coordinates row-major over the maximum grid, where the unlimited dimension never
    /// wraps, so when that dimension is not the first the reported offsets differ from where the
    /// chunk really is (libhdf5 2.0 `H5D__earray_idx_iterate_cb`; visible in `H5Dget_chunk_info`
    /// and in the canonical dumps). Reads are not affected.
    fn reported_scaled_of(&self, i: u64) -> Vec<u64> {
        let rank = self.grid.len();
        let mut s = vec![0u64; rank];
        let mut rest = i;
        for d in (self.unlim + 1..rank).rev() {
            let ext = self.grid.get(d).copied().unwrap_or(1).max(1);
            if let Some(v) = s.get_mut(d) {
                *v = rest % ext;
            }
            rest /= ext;
        }
        if let Some(u) = s.get_mut(self.unlim) {
            *u = rest;
        }
        s
    }

    fn to_record(
        &self,
        ctx: &Ctx<'_>,
        geom: &Geometry,
        i: u64,
        entry: &[u8],
        reported: bool,
    ) -> Result<Option<ChunkRecord>> {
        let mut c = ctx.cursor(entry, self.addr, DBLK);
        let Some((address, size, filter_mask)) =
            decode_array_entry(&mut c, self.filtered, self.entry_size, geom.chunk_bytes)?
        else {
            return Ok(None);
        };
        let offset = geom
            .offset_of(&if reported {
                self.reported_scaled_of(i)
            } else {
                self.scaled_of(i)
            })
            .ok_or_else(|| Error::corrupt(DBLK, self.addr, "chunk offset overflows"))?;
        Ok(Some(ChunkRecord {
            offset,
            address,
            size,
            filter_mask,
        }))
    }

    /// Every allocated chunk. With `reported`, offsets are the ones libhdf5's iteration reports
    /// (see `reported_scaled_of`), not the chunks' true positions.
    pub fn records(
        &self,
        ctx: &Ctx<'_>,
        geom: &Geometry,
        reported: bool,
    ) -> Result<Vec<ChunkRecord>> {
        let mut out = Vec::new();
        let limit = self.max_idx_set;
        let es = self.entry_size;
        for (i, e) in self.iblk_elements.chunks_exact(es.max(1)).enumerate() {
            if i as u64 >= limit {
                return Ok(out);
            }
            if let Some(r) = self.to_record(ctx, geom, i as u64, e, reported)? {
                out.push(r);
            }
        }
        let mut guard = crate::WalkGuard::new(&ctx.limits);
        for (s, info) in self.sblk.iter().enumerate() {
            let base = self.iblk_elmts.saturating_add(info.start_idx);
            if base >= limit {
                break;
            }
            let (addrs, maps) = if s < self.iblk_nsblks {
                let first = info.start_dblk as usize;
                let a = (0..info.ndblks as usize)
                    .map(|k| {
                        self.iblk_dblk_addrs
                            .get(first + k)
                            .copied()
                            .unwrap_or(UNDEF)
                    })
                    .collect();
                (a, PageMap::default())
            } else {
                let sa = self
                    .iblk_sblk_addrs
                    .get(s - self.iblk_nsblks)
                    .copied()
                    .unwrap_or(UNDEF);
                if sa == UNDEF {
                    continue;
                }
                guard.visit(SBLK, sa, 1)?;
                self.read_sblock(ctx, sa, s)?
            };
            for (k, &da) in addrs.iter().enumerate() {
                let dbase = base.saturating_add((k as u64).saturating_mul(info.dblk_nelmts));
                if dbase >= limit {
                    break;
                }
                if da == UNDEF {
                    continue;
                }
                guard.visit(DBLK, da, 2)?;
                let n = info.dblk_nelmts.min(limit - dbase);
                let elems = self.read_dblock_elems(
                    ctx,
                    da,
                    info.dblk_nelmts,
                    Some((&maps, k as u64)),
                    0,
                    n,
                )?;
                for (j, e) in elems.iter().enumerate() {
                    if let Some(e) = e {
                        if let Some(r) = self.to_record(ctx, geom, dbase + j as u64, e, reported)? {
                            out.push(r);
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// The chunk at grid position `scaled`.
    pub fn lookup(
        &self,
        ctx: &Ctx<'_>,
        geom: &Geometry,
        scaled: &[u64],
    ) -> Result<Option<ChunkRecord>> {
        let Some(idx) = self.index_of(scaled) else {
            return Ok(None);
        };
        if idx >= self.max_idx_set {
            return Ok(None);
        }
        if idx < self.iblk_elmts {
            let es = self.entry_size;
            let Some(e) = self.iblk_elements.chunks_exact(es.max(1)).nth(idx as usize) else {
                return Ok(None);
            };
            return self.to_record(ctx, geom, idx, e, false);
        }
        let j = idx - self.iblk_elmts;
        let dmin = self.sblk.first().map_or(1, |s| s.dblk_nelmts).max(1);
        let s = log2(j / dmin + 1) as usize;
        let Some(info) = self.sblk.get(s).copied() else {
            return Ok(None);
        };
        let Some(within) = j.checked_sub(info.start_idx) else {
            return Ok(None);
        };
        let k = within / info.dblk_nelmts;
        let e = within % info.dblk_nelmts;
        let (da, map) = if s < self.iblk_nsblks {
            let a = self
                .iblk_dblk_addrs
                .get((info.start_dblk + k) as usize)
                .copied()
                .unwrap_or(UNDEF);
            (a, None)
        } else {
            let sa = self
                .iblk_sblk_addrs
                .get(s - self.iblk_nsblks)
                .copied()
                .unwrap_or(UNDEF);
            if sa == UNDEF {
                return Ok(None);
            }
            let (addrs, maps) = self.read_sblock(ctx, sa, s)?;
            (addrs.get(k as usize).copied().unwrap_or(UNDEF), Some(maps))
        };
        if da == UNDEF {
            return Ok(None);
        }
        let v = self.read_dblock_elems(
            ctx,
            da,
            info.dblk_nelmts,
            map.as_ref().map(|m| (m, k)),
            e,
            1,
        )?;
        match v.first() {
            Some(Some(entry)) => self.to_record(ctx, geom, idx, entry, false),
            _ => Ok(None),
        }
    }
}
