//! Version 2 B-trees (spec §III.A.2 "Disk Format: Level 1A2 - Version 2 B-trees"), built
//! bottom-up from sorted records.
//!
//! The header `BTHD` (type, node size, record size, depth, split/merge percent, root address,
//! records in the root, total records, lookup3 checksum) is followed here by every node, each
//! allocated at the full node size: leaves `BTLF` (records, checksum) and internal nodes `BTIN`
//! (records, then `records + 1` child pointers: address, records in that child — as wide as
//! needed for the most records a leaf holds — and, when the child is itself internal, the total
//! records below it). The checksum follows the last used byte, not the end of the node
//! (FORMAT-MAP §2.12); the rest of the node is zero.
//!
//! Records are opaque byte strings of the header's record size, in key order; encoding the
//! records of each type (5 link name, 6 link creation order, 8 attribute name, 9 attribute
//! creation order, 10/11 chunks, 1 huge objects) is the caller's job. The tree takes the fewest
//! levels that hold the records; each internal node holds the fewest records that let its
//! children hold the rest, and the children share the rest evenly.

use super::{Put, UNDEF};
use crate::{Error, Result};

/// Signature, version, type and checksum bytes of every node.
const NODE_OVERHEAD: usize = 10;

/// Encoded size of a header with 8-byte offsets and lengths.
pub const HEADER_SIZE: usize = 4 + 1 + 1 + 4 + 2 + 2 + 1 + 1 + 8 + 2 + 8 + 4;

/// Creation parameters of a v2 B-tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BTreeV2Params {
    /// Tree (record) type.
    pub btree_type: u8,
    /// Size of every node in bytes.
    pub node_size: u32,
    /// Size of one record in bytes.
    pub record_size: u16,
    /// Split percent (libhdf5: 100).
    pub split_percent: u8,
    /// Merge percent (libhdf5: 40).
    pub merge_percent: u8,
}

impl BTreeV2Params {
    /// libhdf5's parameters for the indexes of dense links and attributes and of huge
    /// fractal-heap objects: 512-byte nodes, split 100 %, merge 40 %.
    pub fn small(btree_type: u8, record_size: u16) -> Self {
        BTreeV2Params {
            btree_type,
            node_size: 512,
            record_size,
            split_percent: 100,
            merge_percent: 40,
        }
    }
}

/// Fewest bytes that hold `n` (at least 1).
fn enc_width(n: u64) -> usize {
    if n == 0 {
        1
    } else {
        (63 - n.leading_zeros() as usize) / 8 + 1
    }
}

#[derive(Debug, Clone, Copy)]
struct Level {
    max_records: u64,
    cum_max_records: u64,
    cum_width: usize,
}

struct Builder<'a> {
    p: BTreeV2Params,
    levels: Vec<Level>,
    nrec_width: usize,
    records: &'a [Vec<u8>],
    base: u64,
    out: Vec<u8>,
}

/// Geometry of levels 0..=`max_depth` (fewer when nodes at a depth cannot hold a record).
fn levels(p: &BTreeV2Params, max_depth: usize) -> Vec<Level> {
    let node = p.node_size as usize;
    let rec = p.record_size as usize;
    let leaf_max = (node.saturating_sub(NODE_OVERHEAD) / rec.max(1)) as u64;
    let nrec_width = enc_width(leaf_max);
    let mut out = vec![Level {
        max_records: leaf_max,
        cum_max_records: leaf_max,
        cum_width: 0,
    }];
    for d in 1..=max_depth {
        let prev = out[d - 1];
        let ptr = 8 + nrec_width + prev.cum_width;
        let max = node
            .checked_sub(NODE_OVERHEAD + ptr)
            .map_or(0, |v| v / (rec + ptr)) as u64;
        if max == 0 {
            break;
        }
        let cum = (max + 1)
            .saturating_mul(prev.cum_max_records)
            .saturating_add(max);
        out.push(Level {
            max_records: max,
            cum_max_records: cum,
            cum_width: enc_width(cum),
        });
        if cum == u64::MAX {
            break;
        }
    }
    out
}

/// Encodes a v2 B-tree holding `records` (sorted in the tree's key order, each
/// `record_size` bytes) whose header is placed at `base`, the nodes right after it. Returns
/// the bytes of the header and all nodes, to write at `base`.
pub fn encode(p: BTreeV2Params, records: &[Vec<u8>], base: u64) -> Result<Vec<u8>> {
    if p.record_size == 0 || (p.node_size as usize) < NODE_OVERHEAD + p.record_size as usize {
        return Err(Error::Invalid(format!(
            "v2 B-tree: node size {} for records of {} bytes",
            p.node_size, p.record_size
        )));
    }
    if let Some(r) = records.iter().find(|r| r.len() != p.record_size as usize) {
        return Err(Error::Invalid(format!(
            "v2 B-tree: a record of {} bytes in a tree of {}-byte records",
            r.len(),
            p.record_size
        )));
    }
    let n = records.len() as u64;
    let lv = levels(&p, 16);
    let depth = lv
        .iter()
        .position(|l| l.cum_max_records >= n)
        .ok_or_else(|| Error::unsupported(format!("v2 B-tree of {n} records")))?;
    let leaf_max = lv[0].max_records;
    let mut b = Builder {
        p,
        levels: lv,
        nrec_width: enc_width(leaf_max),
        records,
        base,
        out: vec![0; HEADER_SIZE],
    };
    let (root, root_nrec) = if records.is_empty() {
        (UNDEF, 0)
    } else {
        b.node(0, records.len(), depth)?
    };
    let mut h = Vec::with_capacity(HEADER_SIZE);
    h.extend_from_slice(b"BTHD");
    h.u8(0);
    h.u8(p.btree_type);
    h.u32(p.node_size);
    h.u16(p.record_size);
    h.u16(depth as u16);
    h.u8(p.split_percent);
    h.u8(p.merge_percent);
    h.u64(root);
    h.u16(root_nrec as u16);
    h.u64(n);
    let sum = crate::checksum::lookup3(&h, 0);
    h.u32(sum);
    b.out[..HEADER_SIZE].copy_from_slice(&h);
    Ok(b.out)
}

impl Builder<'_> {
    /// Writes the subtree of depth `depth` over `records[start..start + n]`; returns the
    /// node's address and its own number of records.
    fn node(&mut self, start: usize, n: usize, depth: usize) -> Result<(u64, usize)> {
        let node_size = self.p.node_size as usize;
        let mut b = Vec::with_capacity(node_size);
        if depth == 0 {
            b.extend_from_slice(b"BTLF");
            b.u8(0);
            b.u8(self.p.btree_type);
            for r in self.records.get(start..start + n).unwrap_or(&[]) {
                b.extend_from_slice(r);
            }
        } else {
            let child = self.levels[depth - 1];
            let cum = child.cum_max_records as usize;
            // Fewest records here such that the children can hold the rest.
            let mut m = 1usize;
            while (m + 1).saturating_mul(cum).saturating_add(m) < n {
                m += 1;
            }
            if m as u64 > self.levels[depth].max_records {
                return Err(Error::Invalid("v2 B-tree node overflow".into()));
            }
            let rest = n - m;
            let (each, extra) = (rest / (m + 1), rest % (m + 1));
            let mut pos = start;
            let mut children = Vec::with_capacity(m + 1);
            let mut seps = Vec::with_capacity(m);
            for i in 0..=m {
                let cn = each + usize::from(i < extra);
                let (addr, own) = self.node(pos, cn, depth - 1)?;
                children.push((addr, own, cn));
                pos += cn;
                if i < m {
                    seps.push(pos);
                    pos += 1;
                }
            }
            b.extend_from_slice(b"BTIN");
            b.u8(0);
            b.u8(self.p.btree_type);
            for s in seps {
                let r = self
                    .records
                    .get(s)
                    .ok_or_else(|| Error::Invalid("v2 B-tree record index".into()))?;
                b.extend_from_slice(r);
            }
            for (addr, own, total) in children {
                b.u64(addr);
                b.extend_from_slice(&(own as u64).to_le_bytes()[..self.nrec_width]);
                if depth > 1 {
                    b.extend_from_slice(&(total as u64).to_le_bytes()[..child.cum_width]);
                }
            }
            let own = m;
            return self.finish_node(b, own);
        }
        self.finish_node(b, n)
    }

    fn finish_node(&mut self, mut b: Vec<u8>, own: usize) -> Result<(u64, usize)> {
        let node_size = self.p.node_size as usize;
        let sum = crate::checksum::lookup3(&b, 0);
        b.u32(sum);
        if b.len() > node_size {
            return Err(Error::Invalid("v2 B-tree node overflow".into()));
        }
        b.resize(node_size, 0);
        let addr = self.base + self.out.len() as u64;
        self.out.extend_from_slice(&b);
        Ok((addr, own))
    }
}

/// libhdf5's parameters of the v2 B-tree chunk index: 2048-byte nodes, split 100 %, merge
/// 40 %; record type 10 (unfiltered: address and scaled offsets) or 11 (filtered: address,
/// stored size in `size_width` bytes, filter mask, scaled offsets).
pub fn chunk_params(rank: usize, size_width: Option<usize>) -> BTreeV2Params {
    BTreeV2Params {
        btree_type: if size_width.is_some() { 11 } else { 10 },
        node_size: 2048,
        record_size: (8 + size_width.map_or(0, |w| w + 4) + 8 * rank) as u16,
        split_percent: 100,
        merge_percent: 40,
    }
}

/// The record of one chunk of a v2 B-tree chunk index (type 10, or 11 with `size_width`):
/// address, [size, filter mask], then the chunk's scaled offsets (8 bytes each). Records sort
/// by their scaled offsets, first dimension most significant.
pub fn chunk_record(
    e: &super::fixed_array::ChunkEntry,
    scaled: &[u64],
    size_width: Option<usize>,
) -> Vec<u8> {
    let mut r = Vec::with_capacity(8 + 12 + 8 * scaled.len());
    r.u64(e.address);
    if let Some(w) = size_width {
        r.extend_from_slice(&e.size.to_le_bytes()[..w]);
        r.u32(e.filter_mask);
    }
    for s in scaled {
        r.u64(*s);
    }
    r
}
