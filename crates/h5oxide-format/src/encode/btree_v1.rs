//! Version-1 B-tree nodes of type 0, group nodes (spec §III.A.1).
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
