//! Version-1 B-tree nodes (spec §III.A.1): type 0, group nodes, and type 1, raw data chunk
//! nodes.
//!
//! A group node's keys are local-heap offsets of link names: key *i* sorts before every name
//! in child *i* and key *i+1* equals the largest name in child *i* (libhdf5 binary-searches
//! them). Children of level-0 nodes are symbol table nodes, of higher levels B-tree nodes.
//! Nodes are written at their full size, `2 * GROUP_INTERNAL_K` children, unused space zeroed.

use super::superblock::GROUP_INTERNAL_K;
use super::{Put, UNDEF};
use crate::{Error, Result};

/// Most children of one group B-tree node.
pub const GROUP_NODE_CAPACITY: usize = 2 * GROUP_INTERNAL_K as usize;
/// Encoded size of a full group B-tree node (8-byte offsets and lengths).
pub const GROUP_NODE_SIZE: usize = 24 + (GROUP_NODE_CAPACITY + 1) * 8 + GROUP_NODE_CAPACITY * 8;

/// One group B-tree node before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupNode {
    /// Level: 0 for nodes whose children are symbol table nodes.
    pub level: u8,
    /// Address of the left sibling, or [`UNDEF`].
    pub left: u64,
    /// Address of the right sibling, or [`UNDEF`].
    pub right: u64,
    /// `children.len() + 1` keys (heap offsets); a node without children has one key, 0.
    pub keys: Vec<u64>,
    /// Child addresses.
    pub children: Vec<u64>,
}

impl GroupNode {
    /// An empty root node (a group without members).
    pub fn empty() -> Self {
        GroupNode {
            level: 0,
            left: UNDEF,
            right: UNDEF,
            keys: vec![0],
            children: Vec::new(),
        }
    }

    /// Encodes the node at full size.
    pub fn encode(&self) -> Result<Vec<u8>> {
        if self.children.len() > GROUP_NODE_CAPACITY || self.keys.len() != self.children.len() + 1 {
            return Err(Error::Invalid(format!(
                "group B-tree node: {} children and {} keys",
                self.children.len(),
                self.keys.len()
            )));
        }
        let mut b = Vec::with_capacity(GROUP_NODE_SIZE);
        b.extend_from_slice(b"TREE");
        b.u8(0); // node type: group
        b.u8(self.level);
        b.u16(self.children.len() as u16);
        b.u64(self.left);
        b.u64(self.right);
        for (i, child) in self.children.iter().enumerate() {
            b.u64(self.keys[i]);
            b.u64(*child);
        }
        b.u64(self.keys[self.children.len()]);
        b.zeros(GROUP_NODE_SIZE - b.len());
        Ok(b)
    }
}

/// K of chunk B-tree nodes (libhdf5's default "istore K", not stored in a v0 superblock).
pub const CHUNK_K: usize = 32;
/// Most children of one chunk B-tree node.
pub const CHUNK_NODE_CAPACITY: usize = 2 * CHUNK_K;

/// Encoded size of a full chunk B-tree node for a dataset of rank `rank` (keys hold `rank + 1`
/// offsets, the last for the element size).
pub fn chunk_node_size(rank: usize) -> usize {
    24 + (CHUNK_NODE_CAPACITY + 1) * chunk_key_size(rank) + CHUNK_NODE_CAPACITY * 8
}

fn chunk_key_size(rank: usize) -> usize {
    8 + 8 * (rank + 1)
}

/// The key of a chunk: its stored size, filter mask, and offset in elements (`rank + 1`
/// values, the last 0 — or the element size in a right-most key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkKey {
    /// Bytes the chunk takes in the file (after filters); 0 in a right-most key.
    pub size: u32,
    /// Filter mask: bit *i* set when filter *i* was skipped.
    pub filter_mask: u32,
    /// Chunk offsets in dataset elements, then the element-size dimension.
    pub offsets: Vec<u64>,
}

/// One raw-data chunk B-tree node before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkNode {
    /// Level: 0 for nodes whose children are chunks.
    pub level: u8,
    /// Left sibling or [`UNDEF`].
    pub left: u64,
    /// Right sibling or [`UNDEF`].
    pub right: u64,
    /// `children.len() + 1` keys; key *i* is the first chunk under child *i*, the last key
    /// the end (last chunk's offset plus the chunk dimensions).
    pub keys: Vec<ChunkKey>,
    /// Child addresses (chunks, or nodes one level down).
    pub children: Vec<u64>,
}

impl ChunkNode {
    /// Encodes the node at full size for a dataset of rank `rank`.
    pub fn encode(&self, rank: usize) -> Result<Vec<u8>> {
        if self.children.is_empty()
            || self.children.len() > CHUNK_NODE_CAPACITY
            || self.keys.len() != self.children.len() + 1
            || self.keys.iter().any(|k| k.offsets.len() != rank + 1)
        {
            return Err(Error::Invalid(format!(
                "chunk B-tree node: {} children, {} keys, rank {rank}",
                self.children.len(),
                self.keys.len()
            )));
        }
        let size = chunk_node_size(rank);
        let mut b = Vec::with_capacity(size);
        b.extend_from_slice(b"TREE");
        b.u8(1); // node type: raw data chunks
        b.u8(self.level);
        b.u16(self.children.len() as u16);
        b.u64(self.left);
        b.u64(self.right);
        let put_key = |b: &mut Vec<u8>, k: &ChunkKey| {
            b.u32(k.size);
            b.u32(k.filter_mask);
            for o in &k.offsets {
                b.u64(*o);
            }
        };
        for (i, child) in self.children.iter().enumerate() {
            put_key(&mut b, &self.keys[i]);
            b.u64(*child);
        }
        put_key(&mut b, &self.keys[self.children.len()]);
        b.zeros(size - b.len());
        Ok(b)
    }
}
