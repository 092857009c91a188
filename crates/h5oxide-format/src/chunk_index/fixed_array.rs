//! Fixed-array chunk index (spec §VII Appendix C "Fixed Array"; layout v4+ index type 3;
//! FORMAT-MAP §2.17).
//!
//! * Header `FAHD` (checksummed): version 0, client id (0 unfiltered chunks, 1 filtered), entry
//!   size (1), page bits (1), number of entries (L), data block address (O).
//! * Data block `FADB` (checksummed): version 0, client id, header address (O), then either the
//!   entries, or — when there are more than 2^page-bits entries — a page-initialised bitmap of
//!   ⌈pages/8⌉ bytes (most significant bit first); the pages (entries + checksum each, the last one
//!   partial) follow the data block back to back.
//!
//! Entry *i* is the chunk numbered *i* row-major over the grid of the maximum dims. An entry is
//! the chunk address (O), plus for filtered chunks its size and filter mask (4).

use crate::checksum;
use crate::chunk_index::{
    decode_array_entry, down_products, linear, unlinear, ChunkRecord, Geometry,
};
use crate::cursor::to_usize;
use crate::source::Ctx;
use crate::{Error, Result};

const HDR: &str = "fixed array header";
const DBLK: &str = "fixed array data block";
const PAGE: &str = "fixed array data block page";

/// An opened fixed array.
#[derive(Debug, Clone)]
pub struct FixedArray {
    addr: u64,
    filtered: bool,
    entry_size: usize,
    page_bits: u8,
    nelmts: u64,
    dblk_addr: u64,
    down: Vec<u64>,
}

impl FixedArray {
    /// Reads the header at `addr`.
    pub fn open(ctx: &Ctx<'_>, addr: u64, geom: &Geometry, _filtered: bool) -> Result<Self> {
        let o = ctx.sizes.offset as u64;
        let l = ctx.sizes.length as u64;
        let len = 4 + 1 + 1 + 1 + 1 + l + o + 4;
        let buf = ctx.read(addr, len, HDR)?;
        checksum::verify(&buf, HDR, addr)?;
        let mut c = ctx.cursor(&buf, addr, HDR);
        c.signature(b"FAHD")?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                structure: HDR,
                version: version as u32,
            });
        }
        let client = c.u8()?;
        let entry_size = c.u8()? as usize;
        let page_bits = c.u8()?;
        let nelmts = c.length()?;
        let dblk_addr = c.offset()?;
        let filtered = match client {
            0 => false,
            1 => true,
            k => return Err(c.corrupt(format!("client id {k}"))),
        };
        let min = o as usize + if filtered { 5 } else { 0 };
        if entry_size < min || (!filtered && entry_size != o as usize) || page_bits >= 64 {
            return Err(c.corrupt(format!(
                "entry size {entry_size} / page bits {page_bits} for client {client}"
            )));
        }
        let grid: Option<Vec<u64>> = geom.max_grid().into_iter().collect();
        let down = grid
            .as_deref()
            .and_then(down_products)
            .ok_or_else(|| c.corrupt("fixed array over unlimited or overflowing chunk grid"))?;
        Ok(FixedArray {
            addr,
            filtered,
            entry_size,
            page_bits,
            nelmts,
            dblk_addr,
            down,
        })
    }

    fn page_nelmts(&self) -> u64 {
        1u64 << self.page_bits
    }

    fn paged(&self) -> bool {
        self.nelmts > self.page_nelmts()
    }

    fn npages(&self) -> u64 {
        self.nelmts.div_ceil(self.page_nelmts())
    }

    /// Size of the data block's prefix: everything before the entries or first page.
    fn prefix_len(&self, ctx: &Ctx<'_>) -> u64 {
        let bitmap = if self.paged() {
            self.npages().div_ceil(8)
        } else {
            0
        };
        4 + 1 + 1 + ctx.sizes.offset as u64 + bitmap
    }

    /// Reads the data block; returns the page bitmap (paged) or the entry bytes (unpaged).
    fn read_dblock(&self, ctx: &Ctx<'_>) -> Result<Vec<u8>> {
        let es = self.entry_size as u64;
        let body = if self.paged() {
            self.npages().div_ceil(8)
        } else {
            self.nelmts
                .checked_mul(es)
                .ok_or_else(|| Error::corrupt(DBLK, self.dblk_addr, "size overflows"))?
        };
        let pre = 4 + 1 + 1 + ctx.sizes.offset as u64;
        let len = pre + body + 4;
        let buf = ctx.read(self.dblk_addr, len, DBLK)?;
        checksum::verify(&buf, DBLK, self.dblk_addr)?;
        let mut c = ctx.cursor(&buf, self.dblk_addr, DBLK);
        c.signature(b"FADB")?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                structure: DBLK,
                version: version as u32,
            });
        }
        let _client = c.u8()?;
        let hdr = c.offset()?;
        if hdr != self.addr {
            return Err(c.corrupt("header address does not point back to the header"));
        }
        let n = to_usize(body, DBLK, self.dblk_addr)?;
        Ok(c.bytes(n)?.to_vec())
    }

    /// Reads page `p` (entries only, checksum verified).
    fn read_page(&self, ctx: &Ctx<'_>, p: u64) -> Result<(u64, Vec<u8>)> {
        let es = self.entry_size as u64;
        let pn = self.page_nelmts();
        let full = pn
            .checked_mul(es)
            .and_then(|v| v.checked_add(4))
            .ok_or_else(|| Error::corrupt(PAGE, self.dblk_addr, "page size overflows"))?;
        let first = p * pn;
        let n = (self.nelmts - first).min(pn);
        let addr = self
            .dblk_addr
            .checked_add(self.prefix_len(ctx) + 4)
            .and_then(|a| a.checked_add(p.checked_mul(full)?))
            .ok_or_else(|| Error::corrupt(PAGE, self.dblk_addr, "page address overflows"))?;
        let buf = ctx.read(addr, n * es + 4, PAGE)?;
        checksum::verify(&buf, PAGE, addr)?;
        let body = buf.get(..buf.len() - 4).unwrap_or(&[]).to_vec();
        Ok((first, body))
    }

    fn entries_to_records(
        &self,
        ctx: &Ctx<'_>,
        geom: &Geometry,
        first: u64,
        bytes: &[u8],
        addr: u64,
        out: &mut Vec<ChunkRecord>,
    ) -> Result<()> {
        let mut c = ctx.cursor(bytes, addr, DBLK);
        let mut i = first;
        while c.remaining() >= self.entry_size {
            if let Some((a, size, mask)) =
                decode_array_entry(&mut c, self.filtered, self.entry_size, geom.chunk_bytes)?
            {
                let scaled = unlinear(i, &self.down);
                let offset = geom
                    .offset_of(&scaled)
                    .ok_or_else(|| Error::corrupt(DBLK, addr, "chunk offset overflows"))?;
                out.push(ChunkRecord {
                    offset,
                    address: a,
                    size,
                    filter_mask: mask,
                });
            }
            i += 1;
        }
        Ok(())
    }

    /// Every allocated chunk.
    pub fn records(&self, ctx: &Ctx<'_>, geom: &Geometry) -> Result<Vec<ChunkRecord>> {
        let mut out = Vec::new();
        if self.nelmts == 0 || self.dblk_addr == crate::UNDEF {
            return Ok(out);
        }
        let head = self.read_dblock(ctx)?;
        if !self.paged() {
            self.entries_to_records(ctx, geom, 0, &head, self.dblk_addr, &mut out)?;
            return Ok(out);
        }
        for p in 0..self.npages() {
            if !bit(&head, p) {
                continue;
            }
            let (first, body) = self.read_page(ctx, p)?;
            self.entries_to_records(ctx, geom, first, &body, self.dblk_addr, &mut out)?;
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
        if self.dblk_addr == crate::UNDEF {
            return Ok(None);
        }
        let Some(idx) = linear(scaled, &self.down) else {
            return Ok(None);
        };
        if idx >= self.nelmts {
            return Ok(None);
        }
        let head = self.read_dblock(ctx)?;
        let (first, body) = if self.paged() {
            let p = idx / self.page_nelmts();
            if !bit(&head, p) {
                return Ok(None);
            }
            self.read_page(ctx, p)?
        } else {
            (0, head)
        };
        let es = self.entry_size;
        let k = to_usize(idx - first, DBLK, self.dblk_addr)?;
        let entry = k
            .checked_mul(es)
            .and_then(|s| body.get(s..s.checked_add(es)?))
            .ok_or_else(|| Error::corrupt(DBLK, self.dblk_addr, "entry outside its block"))?;
        let mut c = ctx.cursor(entry, self.dblk_addr, DBLK);
        Ok(
            decode_array_entry(&mut c, self.filtered, es, geom.chunk_bytes)?.and_then(
                |(address, size, filter_mask)| {
                    Some(ChunkRecord {
                        offset: geom.offset_of(scaled)?,
                        address,
                        size,
                        filter_mask,
                    })
                },
            ),
        )
    }
}

/// Bit `i` of a most-significant-bit-first bitmap.
pub(crate) fn bit(map: &[u8], i: u64) -> bool {
    let byte = usize::try_from(i / 8).ok().and_then(|b| map.get(b));
    byte.is_some_and(|&b| b & (0x80 >> (i % 8)) != 0)
}
