//! Version 1 B-tree chunk index, node type 1 (spec §III.A.1; FORMAT-MAP §2.11).
//!
//! Node: `TREE`, node type (1), level (1, 0 = leaf), entries used (2), left and right sibling
//! addresses, then key₀, child₀, key₁, …, child_{n−1}, key_n. A type-1 key is the chunk's stored
//! size (4), filter mask (4) and rank + 1 element offsets (8 each; the last is the element-size
//! dimension, always 0). Key *i* describes child *i*; key *n* is a sentinel. Children of a leaf are
//! chunk addresses. Only the used entries are read, so the node's K is not needed.

use std::cmp::Ordering;

use crate::chunk_index::{ChunkRecord, Geometry};
use crate::cursor::{to_usize, UNDEF};
use crate::messages::layout::ChunkedLayout;
use crate::source::{Ctx, WalkGuard};
use crate::{Error, Result};

const STRUCTURE: &str = "v1 B-tree chunk node";

/// One decoded key.
#[derive(Debug, Clone)]
struct Key {
    size: u32,
    mask: u32,
    offset: Vec<u64>,
}

/// A decoded node: level, keys (n + 1) and children (n).
struct Node {
    level: u8,
    keys: Vec<Key>,
    children: Vec<u64>,
}

fn read_node(ctx: &Ctx<'_>, addr: u64, geom: &Geometry, element_size: u64) -> Result<Node> {
    let rank = geom.rank();
    let o = ctx.sizes.offset as u64;
    let head_len = 8 + 2 * o;
    let head = ctx.read(addr, head_len, STRUCTURE)?;
    let mut c = ctx.cursor(&head, addr, STRUCTURE);
    c.signature(b"TREE")?;
    let node_type = c.u8()?;
    if node_type != 1 {
        return Err(c.corrupt(format!(
            "node type {node_type} in a chunk B-tree (expected 1)"
        )));
    }
    let level = c.u8()?;
    let n = c.u16()? as u64;
    let key_len = 8 + 8 * (rank as u64 + 1);
    let body_len = (n + 1) * key_len + n * o;
    let buf = ctx.read(addr, head_len + body_len, STRUCTURE)?;
    let mut c = ctx.cursor(&buf, addr, STRUCTURE);
    c.skip(head_len as usize)?;
    let nn = to_usize(n, STRUCTURE, addr)?;
    let mut keys = Vec::with_capacity(nn + 1);
    let mut children = Vec::with_capacity(nn);
    for i in 0..=nn {
        let size = c.u32()?;
        let mask = c.u32()?;
        let mut offset = Vec::with_capacity(rank);
        for _ in 0..rank {
            offset.push(c.u64()?);
        }
        let element_offset = c.u64()?;
        // Every key (the sentinel included) must lie on the chunk grid, in the element-size
        // dimension too; libhdf5 refuses the whole node otherwise.
        let on_grid = offset
            .iter()
            .zip(&geom.chunk_dims)
            .all(|(&o, &d)| d != 0 && o.is_multiple_of(d))
            && (element_size == 0 || element_offset.is_multiple_of(element_size));
        if !on_grid {
            return Err(c.corrupt(format!("key {i}: chunk offset not on the chunk grid")));
        }
        keys.push(Key { size, mask, offset });
        if i < nn {
            children.push(c.offset()?);
        }
    }
    Ok(Node {
        level,
        keys,
        children,
    })
}

fn record(geom: &Geometry, key: &Key, address: u64, node: u64) -> Result<ChunkRecord> {
    for (&o, &c) in key.offset.iter().zip(&geom.chunk_dims) {
        if o % c != 0 {
            return Err(Error::corrupt(
                STRUCTURE,
                node,
                format!("chunk offset {o} is not a multiple of the chunk dimension {c}"),
            ));
        }
    }
    Ok(ChunkRecord {
        offset: key.offset.clone(),
        address,
        size: key.size as u64,
        filter_mask: key.mask,
    })
}

/// Every chunk of the tree rooted at the layout's address, in key order.
pub fn records(ctx: &Ctx<'_>, layout: &ChunkedLayout, geom: &Geometry) -> Result<Vec<ChunkRecord>> {
    let root = layout.index_address();
    let mut out = Vec::new();
    if root == UNDEF {
        return Ok(out);
    }
    let mut guard = WalkGuard::new(&ctx.limits);
    walk(
        ctx,
        geom,
        layout.element_size,
        root,
        None,
        0,
        &mut guard,
        &mut out,
    )?;
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn walk(
    ctx: &Ctx<'_>,
    geom: &Geometry,
    element_size: u64,
    addr: u64,
    expect_level: Option<u8>,
    depth: u32,
    guard: &mut WalkGuard,
    out: &mut Vec<ChunkRecord>,
) -> Result<()> {
    guard.visit(STRUCTURE, addr, depth)?;
    let node = read_node(ctx, addr, geom, element_size)?;
    if let Some(l) = expect_level {
        if node.level != l {
            return Err(Error::corrupt(
                STRUCTURE,
                addr,
                format!("level {} below a node of level {}", node.level, l + 1),
            ));
        }
    }
    for (key, &child) in node.keys.iter().zip(&node.children) {
        if node.level == 0 {
            if child != UNDEF {
                out.push(record(geom, key, child, addr)?);
            }
        } else {
            walk(
                ctx,
                geom,
                element_size,
                child,
                Some(node.level - 1),
                depth + 1,
                guard,
                out,
            )?;
        }
    }
    Ok(())
}

/// The chunk at grid position `scaled`, found by descending the tree by key.
pub fn lookup(
    ctx: &Ctx<'_>,
    layout: &ChunkedLayout,
    geom: &Geometry,
    scaled: &[u64],
) -> Result<Option<ChunkRecord>> {
    let Some(target) = geom.offset_of(scaled) else {
        return Ok(None);
    };
    let mut addr = layout.index_address();
    if addr == UNDEF {
        return Ok(None);
    }
    let mut guard = WalkGuard::new(&ctx.limits);
    let mut depth = 0;
    let mut expect: Option<u8> = None;
    loop {
        guard.visit(STRUCTURE, addr, depth)?;
        let node = read_node(ctx, addr, geom, layout.element_size)?;
        if expect.is_some_and(|l| l != node.level) {
            return Err(Error::corrupt(STRUCTURE, addr, "inconsistent node level"));
        }
        // Last child whose key is <= target.
        let n = node.children.len();
        let keys = node.keys.get(..n).unwrap_or(&[]);
        let pos = keys.partition_point(|k| k.offset.as_slice().cmp(&target) != Ordering::Greater);
        if pos == 0 {
            return Ok(None);
        }
        let i = pos - 1;
        let (Some(key), Some(&child)) = (keys.get(i), node.children.get(i)) else {
            return Ok(None);
        };
        if node.level == 0 {
            if key.offset == target && child != UNDEF {
                return Ok(Some(record(geom, key, child, addr)?));
            }
            return Ok(None);
        }
        expect = Some(node.level - 1);
        addr = child;
        depth += 1;
    }
}
