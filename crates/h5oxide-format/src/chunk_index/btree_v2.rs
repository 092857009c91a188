//! Version 2 B-tree chunk index (spec §III.A.2 record types 10 and 11; layout v4+ index type 5;
//! FORMAT-MAP §2.12, §2.17).
//!
//! Used by datasets with two or more unlimited dimensions. Records are keyed by the chunk's
//! **scaled** offsets (element offset / chunk dimension), compared lexicographically:
//! * type 10 (unfiltered): address (O), rank × 8-byte scaled offsets;
//! * type 11 (filtered): address (O), chunk size (layout v4: the width derived from the chunk's
//!   byte size; layout v5: O bytes — here taken from the record size), filter mask (4), scaled
//!   offsets.
//!
//! The node walk itself is the generic reader in [`crate::btree_v2`].

use crate::btree_v2::{record_uint, BTreeV2};
use crate::chunk_index::{ChunkRecord, Geometry};
use crate::cursor::UNDEF;
use crate::source::Ctx;
use crate::{Error, Result};

const STRUCTURE: &str = "v2 B-tree chunk index";

/// An opened chunk B-tree.
#[derive(Debug, Clone)]
pub struct ChunkBTree {
    tree: BTreeV2,
    filtered: bool,
    /// Width of the filtered chunk-size field.
    size_width: usize,
    rank: usize,
    offset_width: usize,
}

impl ChunkBTree {
    /// Reads the B-tree header at `addr` and checks its record type and size.
    pub fn open(
        ctx: &Ctx<'_>,
        addr: u64,
        geom: &Geometry,
        _layout_version: u8,
        _filtered: bool,
    ) -> Result<Self> {
        let tree = BTreeV2::open(ctx, addr)?;
        let h = &tree.header;
        let o = ctx.sizes.offset as usize;
        let rank = geom.rank();
        let rs = h.record_size as usize;
        let filtered = match h.btree_type {
            10 => false,
            11 => true,
            t => {
                return Err(Error::corrupt(
                    STRUCTURE,
                    addr,
                    format!("record type {t} (expected 10 or 11)"),
                ))
            }
        };
        let fixed = o + 8 * rank + if filtered { 4 } else { 0 };
        let size_width = rs
            .checked_sub(fixed)
            .ok_or_else(|| Error::corrupt(STRUCTURE, addr, format!("record size {rs}")))?;
        if (filtered && !(1..=8).contains(&size_width)) || (!filtered && size_width != 0) {
            return Err(Error::corrupt(
                STRUCTURE,
                addr,
                format!("record size {rs} for rank {rank}"),
            ));
        }
        Ok(ChunkBTree {
            tree,
            filtered,
            size_width,
            rank,
            offset_width: o,
        })
    }

    /// Decodes a record: (scaled offsets, address, size, mask).
    fn decode(
        &self,
        ctx: &Ctx<'_>,
        rec: &[u8],
        geom: &Geometry,
    ) -> Result<(Vec<u64>, u64, u64, u32)> {
        let mut c = ctx.cursor(rec, self.tree.header.addr, STRUCTURE);
        let address = c.offset()?;
        let (size, mask) = if self.filtered {
            (record_uint(c.bytes(self.size_width)?), c.u32()?)
        } else {
            (geom.chunk_bytes, 0)
        };
        let mut scaled = Vec::with_capacity(self.rank);
        for _ in 0..self.rank {
            scaled.push(c.u64()?);
        }
        Ok((scaled, address, size, mask))
    }

    fn scaled_of(&self, rec: &[u8]) -> Vec<u64> {
        let o = self.tree_offset_width();
        let start = o + if self.filtered {
            self.size_width + 4
        } else {
            0
        };
        rec.get(start..)
            .unwrap_or(&[])
            .chunks_exact(8)
            .take(self.rank)
            .map(record_uint)
            .collect()
    }

    fn tree_offset_width(&self) -> usize {
        self.offset_width
    }

    fn to_record(&self, ctx: &Ctx<'_>, rec: &[u8], geom: &Geometry) -> Result<Option<ChunkRecord>> {
        let (scaled, address, size, filter_mask) = self.decode(ctx, rec, geom)?;
        if address == UNDEF {
            return Ok(None);
        }
        let offset = geom
            .offset_of(&scaled)
            .ok_or_else(|| Error::corrupt(STRUCTURE, self.tree.header.addr, "offset overflows"))?;
        Ok(Some(ChunkRecord {
            offset,
            address,
            size,
            filter_mask,
        }))
    }

    /// Every allocated chunk, in key order.
    pub fn records(&self, ctx: &Ctx<'_>, geom: &Geometry) -> Result<Vec<ChunkRecord>> {
        let mut out = Vec::new();
        let mut err = None;
        self.tree
            .visit(ctx, &mut |rec| match self.to_record(ctx, rec, geom) {
                Ok(Some(r)) => {
                    out.push(r);
                    Ok(true)
                }
                Ok(None) => Ok(true),
                Err(e) => {
                    err = Some(e);
                    Ok(false)
                }
            })?;
        match err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// The chunk at grid position `scaled`, found by descending the tree.
    pub fn lookup(
        &self,
        ctx: &Ctx<'_>,
        geom: &Geometry,
        scaled: &[u64],
    ) -> Result<Option<ChunkRecord>> {
        let found = self.tree.find(ctx, &mut |rec| {
            let k = self.scaled_of(rec);
            Ok(k.as_slice().cmp(scaled))
        })?;
        match found {
            Some(rec) => self.to_record(ctx, &rec, geom),
            None => Ok(None),
        }
    }
}
