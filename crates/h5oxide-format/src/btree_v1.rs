//! Version 1 B-trees (spec §III.A.1 "Disk Format: Level 1A1 - Version 1 B-trees").
//!
//! A node is `TREE`, node type (0 group, 1 raw-data chunks), level (0 = leaf), entries used,
//! left and right sibling addresses, then `key₀ child₀ key₁ … child_{n−1} key_n`. No checksum.
//! Keys are kept raw here ([`BTreeV1Node::keys`]) so that both node types share one decoder:
//! type 0 keys are an L-byte local-heap offset of a name; type 1 keys are a chunk size (4),
//! filter mask (4) and `rank + 1` 8-byte offsets — the caller gives the key size.
//!
//! On disk every node is allocated for `2K` children; only the used part is read here.

use crate::cursor::{to_usize, UNDEF};
use crate::source::{Ctx, WalkGuard};
use crate::{Error, Result};

/// One decoded v1 B-tree node, keys undecoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BTreeV1Node {
    /// Address of the node.
    pub addr: u64,
    /// Node type: 0 group, 1 chunked raw data.
    pub node_type: u8,
    /// Level: 0 for leaves.
    pub level: u8,
    /// Left sibling address or [`UNDEF`].
    pub left_sibling: u64,
    /// Right sibling address or [`UNDEF`].
    pub right_sibling: u64,
    /// `entries_used + 1` raw keys.
    pub keys: Vec<Vec<u8>>,
    /// `entries_used` child addresses (subtrees, or at level 0 SNODs / chunks).
    pub children: Vec<u64>,
}

impl BTreeV1Node {
    /// Reads the node at `addr` whose keys are `key_size` bytes.
    pub fn read(ctx: &Ctx<'_>, addr: u64, key_size: usize) -> Result<BTreeV1Node> {
        const S: &str = "v1 B-tree node";
        let o = ctx.sizes.offset as u64;
        let head_len = 8 + 2 * o;
        let head = ctx.read(addr, head_len, S)?;
        let mut c = ctx.cursor(&head, addr, S);
        c.signature(b"TREE")?;
        let node_type = c.u8()?;
        let level = c.u8()?;
        let entries = c.u16()? as u64;
        let left_sibling = c.offset()?;
        let right_sibling = c.offset()?;
        if node_type > 1 {
            return Err(c.corrupt(format!("node type {node_type}")));
        }
        let ks = key_size as u64;
        let body_len = entries
            .checked_mul(ks + o)
            .and_then(|v| v.checked_add(ks))
            .ok_or_else(|| Error::corrupt(S, addr, "node size overflows"))?;
        let body_addr = addr
            .checked_add(head_len)
            .ok_or_else(|| Error::corrupt(S, addr, "address overflows"))?;
        let body = ctx.read(body_addr, body_len, S)?;
        let mut c = ctx.cursor(&body, body_addr, S);
        let n = to_usize(entries, S, addr)?;
        let mut keys = Vec::with_capacity(n + 1);
        let mut children = Vec::with_capacity(n);
        for _ in 0..n {
            keys.push(c.bytes(key_size)?.to_vec());
            children.push(c.offset()?);
        }
        keys.push(c.bytes(key_size)?.to_vec());
        Ok(BTreeV1Node {
            addr,
            node_type,
            level,
            left_sibling,
            right_sibling,
            keys,
            children,
        })
    }
}

/// Visits every leaf node (level 0) of the tree rooted at `root`, left to right.
///
/// Every node must have type `node_type`; levels must decrease by one from parent to child.
pub fn visit_leaves(
    ctx: &Ctx<'_>,
    root: u64,
    node_type: u8,
    key_size: usize,
    f: &mut dyn FnMut(&BTreeV1Node) -> Result<()>,
) -> Result<()> {
    if root == UNDEF {
        return Ok(());
    }
    let mut guard = WalkGuard::new(&ctx.limits);
    walk(ctx, root, node_type, key_size, None, 0, &mut guard, f)
}

/// Reads every node of the tree rooted at `root` the way libhdf5 measures a tree: level by
/// level, from the leftmost node along the right-sibling chain, then down the first child.
pub fn check_levels(ctx: &Ctx<'_>, root: u64, node_type: u8, key_size: usize) -> Result<()> {
    let mut guard = WalkGuard::new(&ctx.limits);
    let mut start = root;
    let mut depth = 0;
    while start != UNDEF {
        let mut addr = start;
        let mut next_level = UNDEF;
        let mut first = true;
        while addr != UNDEF {
            guard.visit("v1 B-tree node", addr, depth)?;
            let node = BTreeV1Node::read(ctx, addr, key_size)?;
            if node.node_type != node_type {
                return Err(Error::corrupt(
                    "v1 B-tree node",
                    addr,
                    format!("node type {}, expected {node_type}", node.node_type),
                ));
            }
            if first && node.level > 0 {
                next_level = node.children.first().copied().unwrap_or(UNDEF);
            }
            first = false;
            addr = node.right_sibling;
        }
        start = next_level;
        depth += 1;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn walk(
    ctx: &Ctx<'_>,
    addr: u64,
    node_type: u8,
    key_size: usize,
    expect_level: Option<u8>,
    depth: u32,
    guard: &mut WalkGuard,
    f: &mut dyn FnMut(&BTreeV1Node) -> Result<()>,
) -> Result<()> {
    guard.visit("v1 B-tree node", addr, depth)?;
    let node = BTreeV1Node::read(ctx, addr, key_size)?;
    if node.node_type != node_type {
        return Err(Error::corrupt(
            "v1 B-tree node",
            addr,
            format!("node type {}, expected {node_type}", node.node_type),
        ));
    }
    if let Some(l) = expect_level {
        if node.level != l {
            return Err(Error::corrupt(
                "v1 B-tree node",
                addr,
                format!("level {}, expected {l}", node.level),
            ));
        }
    }
    if node.level == 0 {
        return f(&node);
    }
    for &child in &node.children {
        walk(
            ctx,
            child,
            node_type,
            key_size,
            Some(node.level - 1),
            depth + 1,
            guard,
            f,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Sizes;

    fn node(level: u8, keys: &[u64], children: &[u64]) -> Vec<u8> {
        let mut v = b"TREE".to_vec();
        v.push(0);
        v.push(level);
        v.extend_from_slice(&(children.len() as u16).to_le_bytes());
        v.extend_from_slice(&u64::MAX.to_le_bytes());
        v.extend_from_slice(&u64::MAX.to_le_bytes());
        for (k, c) in keys.iter().zip(children) {
            v.extend_from_slice(&k.to_le_bytes());
            v.extend_from_slice(&c.to_le_bytes());
        }
        v.extend_from_slice(&keys[children.len()].to_le_bytes());
        v
    }

    #[test]
    fn two_levels() {
        let mut f = node(1, &[0, 5, 9], &[100, 200]);
        f.resize(100, 0);
        f.extend_from_slice(&node(0, &[0, 5], &[1000]));
        f.resize(200, 0);
        f.extend_from_slice(&node(0, &[5, 9], &[2000]));
        let ctx = Ctx::new(&f, Sizes::default());
        let mut got = Vec::new();
        visit_leaves(&ctx, 0, 0, 8, &mut |n| {
            got.extend_from_slice(&n.children);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, vec![1000, 2000]);
        // A child pointing back at the root is a cycle (or a level mismatch).
        let mut f2 = node(1, &[0, 5], &[0]);
        f2.resize(100, 0);
        let ctx = Ctx::new(&f2, Sizes::default());
        assert!(visit_leaves(&ctx, 0, 0, 8, &mut |_| Ok(())).is_err());
    }
}
