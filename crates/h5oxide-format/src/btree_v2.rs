//! Version 2 B-trees (spec §III.A.2 "Disk Format: Level 1A2 - Version 2 B-trees").
//!
//! A generic reader: the header `BTHD`, internal nodes `BTIN` and leaves `BTLF` (all version 0,
//! each with a lookup3 checksum), returning records as raw bytes of the header's record size.
//! The record layouts (types 1–11) are decoded by the users of a tree (fractal heap huge
//! objects, dense groups and attributes, SOHM indexes, chunk indexes).
//!
//! Two details the spec leaves implicit (FORMAT-MAP §2.12):
//! - a node's checksum follows its last *used* record / child pointer, not the end of the node;
//! - in an internal node, the *number of records in child* field is as wide as needed for the
//!   maximum number of records in a **leaf** (the largest node capacity), at every level; the
//!   *total records in child* field is present only when the child is itself internal (the node's
//!   depth is at least 2), as wide as needed for the maximum number of records below such a child, computed
//!   level by level as `cum(d) = (max(d) + 1) · cum(d − 1) + max(d)`, with `cum(0) = max(0)`.

use std::cmp::Ordering;

use crate::checksum;
use crate::cursor::{le_uint, to_usize, UNDEF};
use crate::source::{Ctx, WalkGuard};
use crate::{Error, Result};

/// Signature, version, type and checksum bytes of every node.
const NODE_OVERHEAD: u64 = 10;

/// A decoded version 2 B-tree header (`BTHD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BTreeV2Header {
    /// Address of the header.
    pub addr: u64,
    /// Tree type (1–11, see the spec's table).
    pub btree_type: u8,
    /// Size in bytes of every node.
    pub node_size: u32,
    /// Size in bytes of one record.
    pub record_size: u16,
    /// Depth of the tree (0: the root is a leaf).
    pub depth: u16,
    /// Split percent.
    pub split_percent: u8,
    /// Merge percent.
    pub merge_percent: u8,
    /// Address of the root node ([`UNDEF`] for an empty tree).
    pub root_node_address: u64,
    /// Number of records in the root node.
    pub root_records: u16,
    /// Total number of records in the tree.
    pub total_records: u64,
}

/// Per-level geometry derived from the header (index = node depth, 0 = leaves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Level {
    /// Most records a node at this depth can hold.
    max_records: u64,
    /// Most records in a node at this depth plus all its descendants.
    cum_max_records: u64,
    /// Bytes of the "total records" field of a pointer to a node at this depth (0 for leaves).
    cum_width: usize,
}

/// Fewest bytes that hold `n` (at least 1, at most 8).
fn enc_width(n: u64) -> usize {
    if n == 0 {
        1
    } else {
        (63 - n.leading_zeros() as usize) / 8 + 1
    }
}

impl BTreeV2Header {
    /// Reads and verifies the header at `addr`.
    pub fn read(ctx: &Ctx<'_>, addr: u64) -> Result<BTreeV2Header> {
        const S: &str = "v2 B-tree header";
        let o = ctx.sizes.offset as u64;
        let l = ctx.sizes.length as u64;
        let len = 4 + 2 + 4 + 2 + 2 + 2 + o + 2 + l + 4;
        let buf = ctx.read(addr, len, S)?;
        let mut c = ctx.cursor(&buf, addr, S);
        c.signature(b"BTHD")?;
        checksum::verify(&buf, S, addr)?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                structure: S,
                version: version as u32,
            });
        }
        let btree_type = c.u8()?;
        let node_size = c.u32()?;
        let record_size = c.u16()?;
        let depth = c.u16()?;
        let split_percent = c.u8()?;
        let merge_percent = c.u8()?;
        let root_node_address = c.offset()?;
        let root_records = c.u16()?;
        let total_records = c.length()?;
        if record_size == 0 {
            return Err(c.corrupt("record size 0"));
        }
        if (node_size as u64) < NODE_OVERHEAD + record_size as u64 {
            return Err(c.corrupt(format!(
                "node size {node_size} too small for records of {record_size} bytes"
            )));
        }
        if depth as u32 > ctx.limits.max_depth {
            return Err(Error::Limit {
                what: "v2 B-tree depth",
                requested: depth as u64,
                limit: ctx.limits.max_depth as u64,
            });
        }
        Ok(BTreeV2Header {
            addr,
            btree_type,
            node_size,
            record_size,
            depth,
            split_percent,
            merge_percent,
            root_node_address,
            root_records,
            total_records,
        })
    }

    /// Width of the "number of records in child" field (from the leaf capacity).
    fn nrec_width(&self) -> usize {
        let leaf_max = (self.node_size as u64 - NODE_OVERHEAD) / self.record_size as u64;
        enc_width(leaf_max)
    }

    /// Size of one child pointer stored in a node at `depth` (≥ 1).
    fn pointer_size(&self, levels: &[Level], depth: usize, offset_size: usize) -> usize {
        let cum = depth
            .checked_sub(1)
            .and_then(|d| levels.get(d))
            .map_or(0, |l| l.cum_width);
        offset_size + self.nrec_width() + cum
    }

    /// Geometry of levels 0..=depth.
    fn levels(&self, offset_size: usize) -> Result<Vec<Level>> {
        let node = self.node_size as u64;
        let rec = self.record_size as u64;
        let leaf_max = (node - NODE_OVERHEAD) / rec;
        let mut levels = Vec::with_capacity(self.depth as usize + 1);
        levels.push(Level {
            max_records: leaf_max,
            cum_max_records: leaf_max,
            cum_width: 0,
        });
        for d in 1..=self.depth as usize {
            let p = self.pointer_size(&levels, d, offset_size) as u64;
            let max = node
                .checked_sub(NODE_OVERHEAD + p)
                .map(|v| v / (rec + p))
                .unwrap_or(0);
            if max == 0 {
                return Err(Error::corrupt(
                    "v2 B-tree header",
                    self.addr,
                    format!("internal nodes at depth {d} cannot hold a record"),
                ));
            }
            let prev = levels.last().map_or(0, |l| l.cum_max_records);
            let cum = max
                .saturating_add(1)
                .saturating_mul(prev)
                .saturating_add(max);
            levels.push(Level {
                max_records: max,
                cum_max_records: cum,
                cum_width: enc_width(cum),
            });
        }
        Ok(levels)
    }
}

/// A B-tree opened for walking: the header and its derived geometry.
#[derive(Debug, Clone)]
pub struct BTreeV2 {
    /// The header.
    pub header: BTreeV2Header,
    levels: Vec<Level>,
}

/// One decoded node: records and (for internal nodes) child pointers `(address, records)`.
struct Node {
    records: Vec<Vec<u8>>,
    children: Vec<(u64, u64)>,
}

impl BTreeV2 {
    /// Reads the header at `addr` and prepares the walk.
    pub fn open(ctx: &Ctx<'_>, addr: u64) -> Result<BTreeV2> {
        let header = BTreeV2Header::read(ctx, addr)?;
        let levels = header.levels(ctx.sizes.offset as usize)?;
        Ok(BTreeV2 { header, levels })
    }

    /// Reads the node at `addr` of depth `depth` holding `nrec` records.
    fn node(&self, ctx: &Ctx<'_>, addr: u64, depth: usize, nrec: u64) -> Result<Node> {
        let h = &self.header;
        let (structure, sig): (&'static str, &[u8; 4]) = if depth == 0 {
            ("v2 B-tree leaf node", b"BTLF")
        } else {
            ("v2 B-tree internal node", b"BTIN")
        };
        let level = self
            .levels
            .get(depth)
            .ok_or_else(|| Error::corrupt(structure, addr, "depth beyond the header's"))?;
        if nrec > level.max_records {
            return Err(Error::corrupt(
                structure,
                addr,
                format!("{nrec} records, node holds at most {}", level.max_records),
            ));
        }
        let buf = ctx.read(addr, h.node_size as u64, structure)?;
        let mut c = ctx.cursor(&buf, addr, structure);
        c.signature(sig)?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                structure,
                version: version as u32,
            });
        }
        let t = c.u8()?;
        if t != h.btree_type {
            return Err(c.corrupt(format!("node type {t}, header says {}", h.btree_type)));
        }
        let n = to_usize(nrec, structure, addr)?;
        let rs = h.record_size as usize;
        let mut records = Vec::with_capacity(n);
        for _ in 0..n {
            records.push(c.bytes(rs)?.to_vec());
        }
        let mut children = Vec::new();
        if depth > 0 {
            let nw = h.nrec_width();
            let cw = self.levels.get(depth - 1).map_or(0, |l| l.cum_width);
            children.reserve(n + 1);
            for _ in 0..=n {
                let a = c.offset()?;
                let cn = c.uint(nw)?;
                if cw > 0 {
                    c.skip(cw)?;
                }
                children.push((a, cn));
            }
        }
        let used = c.pos();
        let end = used
            .checked_add(4)
            .ok_or_else(|| c.corrupt("node size overflow"))?;
        let block = buf.get(..end).ok_or_else(|| c.truncated(4))?;
        checksum::verify(block, structure, addr)?;
        Ok(Node { records, children })
    }

    /// Visits every record in key order (depth-first, in-order). The visitor returns `false` to
    /// stop the walk early.
    pub fn visit(&self, ctx: &Ctx<'_>, f: &mut dyn FnMut(&[u8]) -> Result<bool>) -> Result<()> {
        let h = &self.header;
        if h.root_node_address == UNDEF || (h.total_records == 0 && h.root_records == 0) {
            return Ok(());
        }
        let mut guard = WalkGuard::new(&ctx.limits);
        self.visit_node(
            ctx,
            h.root_node_address,
            h.depth as usize,
            h.root_records as u64,
            0,
            &mut guard,
            f,
        )
        .map(|_| ())
    }

    #[allow(clippy::too_many_arguments)]
    fn visit_node(
        &self,
        ctx: &Ctx<'_>,
        addr: u64,
        depth: usize,
        nrec: u64,
        level_from_root: u32,
        guard: &mut WalkGuard,
        f: &mut dyn FnMut(&[u8]) -> Result<bool>,
    ) -> Result<bool> {
        guard.visit("v2 B-tree node", addr, level_from_root)?;
        let node = self.node(ctx, addr, depth, nrec)?;
        if depth == 0 {
            for r in &node.records {
                if !f(r)? {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        for (i, &(caddr, cn)) in node.children.iter().enumerate() {
            if !self.visit_node(ctx, caddr, depth - 1, cn, level_from_root + 1, guard, f)? {
                return Ok(false);
            }
            if let Some(r) = node.records.get(i) {
                if !f(r)? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// All records in key order.
    pub fn records(&self, ctx: &Ctx<'_>) -> Result<Vec<Vec<u8>>> {
        let rs = self.header.record_size as u64;
        ctx.check_alloc(
            "v2 B-tree records",
            self.header.total_records.saturating_mul(rs),
        )?;
        let mut out = Vec::new();
        self.visit(ctx, &mut |r| {
            out.push(r.to_vec());
            Ok(true)
        })?;
        Ok(out)
    }

    /// Binary search for a record: `cmp(record)` tells how the record orders against the key
    /// sought (`Less`: the record is before the key). Returns the first record comparing
    /// `Equal` on the search path.
    pub fn find(
        &self,
        ctx: &Ctx<'_>,
        cmp: &mut dyn FnMut(&[u8]) -> Result<Ordering>,
    ) -> Result<Option<Vec<u8>>> {
        let h = &self.header;
        if h.root_node_address == UNDEF || h.root_records == 0 {
            return Ok(None);
        }
        let mut guard = WalkGuard::new(&ctx.limits);
        let mut addr = h.root_node_address;
        let mut nrec = h.root_records as u64;
        let mut depth = h.depth as usize;
        let mut lvl = 0u32;
        loop {
            guard.visit("v2 B-tree node", addr, lvl)?;
            let node = self.node(ctx, addr, depth, nrec)?;
            // Find the first record that is not Less than the key.
            let mut lo = 0usize;
            let mut hi = node.records.len();
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let r = node.records.get(mid).map(Vec::as_slice).unwrap_or(&[]);
                match cmp(r)? {
                    Ordering::Less => lo = mid + 1,
                    Ordering::Equal => return Ok(Some(r.to_vec())),
                    Ordering::Greater => hi = mid,
                }
            }
            if depth == 0 {
                return Ok(None);
            }
            let Some(&(caddr, cn)) = node.children.get(lo) else {
                return Ok(None);
            };
            addr = caddr;
            nrec = cn;
            depth -= 1;
            lvl += 1;
        }
    }
}

/// Reads the B-tree whose header is at `addr` and returns the header and every record (raw bytes,
/// `record_size` each) in key order.
pub fn records(ctx: &Ctx<'_>, addr: u64) -> Result<(BTreeV2Header, Vec<Vec<u8>>)> {
    let t = BTreeV2::open(ctx, addr)?;
    let r = t.records(ctx)?;
    Ok((t.header, r))
}

/// Visits every record of the B-tree at `addr` in key order; the visitor returns `false` to stop.
pub fn visit(
    ctx: &Ctx<'_>,
    addr: u64,
    f: &mut dyn FnMut(&[u8]) -> Result<bool>,
) -> Result<BTreeV2Header> {
    let t = BTreeV2::open(ctx, addr)?;
    t.visit(ctx, f)?;
    Ok(t.header)
}

/// Reads a little-endian unsigned integer of `bytes.len()` (≤ 8) bytes from a record field.
pub fn record_uint(bytes: &[u8]) -> u64 {
    le_uint(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::lookup3;
    use crate::cursor::Sizes;

    fn with_csum(mut v: Vec<u8>) -> Vec<u8> {
        let c = lookup3(&v, 0);
        v.extend_from_slice(&c.to_le_bytes());
        v
    }

    fn header(node_size: u32, rec: u16, depth: u16, root: u64, nroot: u16, total: u64) -> Vec<u8> {
        let mut v = b"BTHD".to_vec();
        v.push(0);
        v.push(5);
        v.extend_from_slice(&node_size.to_le_bytes());
        v.extend_from_slice(&rec.to_le_bytes());
        v.extend_from_slice(&depth.to_le_bytes());
        v.push(100);
        v.push(40);
        v.extend_from_slice(&root.to_le_bytes());
        v.extend_from_slice(&nroot.to_le_bytes());
        v.extend_from_slice(&total.to_le_bytes());
        with_csum(v)
    }

    fn leaf(recs: &[u32], node_size: usize) -> Vec<u8> {
        let mut v = b"BTLF".to_vec();
        v.push(0);
        v.push(5);
        for r in recs {
            v.extend_from_slice(&r.to_le_bytes());
        }
        let mut v = with_csum(v);
        v.resize(node_size, 0xAA);
        v
    }

    #[test]
    fn widths() {
        assert_eq!(enc_width(0), 1);
        assert_eq!(enc_width(255), 1);
        assert_eq!(enc_width(256), 2);
        assert_eq!(enc_width(u64::MAX), 8);
    }

    #[test]
    fn two_level_tree_in_order() {
        // node size 64, 4-byte records: leaf max = 13 (1 byte), depth 1 pointer = 8 + 1.
        let ns = 64usize;
        let hdr_at = 0u64;
        let mut file = header(ns as u32, 4, 1, 100, 1, 5);
        file.resize(100, 0);
        // internal node at 100: record 10, children at 200 (2 recs) and 300 (2 recs)
        let mut n = b"BTIN".to_vec();
        n.push(0);
        n.push(5);
        n.extend_from_slice(&10u32.to_le_bytes());
        for (a, c) in [(200u64, 2u8), (300, 2)] {
            n.extend_from_slice(&a.to_le_bytes());
            n.push(c);
        }
        let mut n = with_csum(n);
        n.resize(ns, 0);
        file.extend_from_slice(&n);
        file.resize(200, 0);
        file.extend_from_slice(&leaf(&[3, 7], ns));
        file.resize(300, 0);
        file.extend_from_slice(&leaf(&[12, 15], ns));
        let ctx = Ctx::new(&file, Sizes::default());
        let (h, recs) = records(&ctx, hdr_at).unwrap();
        assert_eq!(h.depth, 1);
        let vals: Vec<u32> = recs.iter().map(|r| record_uint(r) as u32).collect();
        assert_eq!(vals, vec![3, 7, 10, 12, 15]);
        let t = BTreeV2::open(&ctx, hdr_at).unwrap();
        for want in [3u32, 7, 10, 12, 15] {
            let got = t
                .find(&ctx, &mut |r| Ok((record_uint(r) as u32).cmp(&want)))
                .unwrap();
            assert_eq!(got.map(|r| record_uint(&r) as u32), Some(want));
        }
        assert!(t
            .find(&ctx, &mut |r| Ok((record_uint(r) as u32).cmp(&11)))
            .unwrap()
            .is_none());
    }

    #[test]
    fn bad_checksum_and_cycle() {
        let ns = 64usize;
        let mut file = header(ns as u32, 4, 0, 100, 2, 2);
        file.resize(100, 0);
        let mut l = leaf(&[1, 2], ns);
        l[6] ^= 1;
        file.extend_from_slice(&l);
        let ctx = Ctx::new(&file, Sizes::default());
        assert_eq!(records(&ctx, 0).unwrap_err().kind(), "checksum");
        // An internal node pointing to itself.
        let mut file = header(ns as u32, 4, 2, 100, 0, 0);
        file.resize(100, 0);
        let mut n = b"BTIN".to_vec();
        n.push(0);
        n.push(5);
        n.extend_from_slice(&100u64.to_le_bytes());
        n.push(0);
        n.push(0);
        let mut n = with_csum(n);
        n.resize(ns, 0);
        file.extend_from_slice(&n);
        let mut file2 = file.clone();
        // root_records = 0 ⇒ empty; make total nonzero and root 0 still visits nothing
        let ctx = Ctx::new(&file, Sizes::default());
        assert!(records(&ctx, 0).unwrap().1.is_empty());
        // Now say the root holds 0 records but total 1: root visited, child is itself.
        let h = header(ns as u32, 4, 2, 100, 0, 1);
        file2.splice(0..h.len(), h);
        let ctx = Ctx::new(&file2, Sizes::default());
        assert!(records(&ctx, 0).is_err());
    }
}
