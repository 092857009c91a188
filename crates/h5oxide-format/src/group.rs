//! Link iteration and lookup over the three group storages.
//!
//! - **Symbol table** (old style, spec §III.B/§III.C, §IV.A.2.r): the Symbol Table message 0x11
//!   names a v1 B-tree of type 0 (keys: local-heap offsets of names) whose leaves point to `SNOD`
//!   nodes of symbol table entries; names live in the local heap. The root group's scratch pad in
//!   the superblock is only a hint — the 0x11 message is authoritative (FORMAT-MAP §2.6).
//! - **Compact** (spec §IV.A.2.c/g): Link Info 0x02 with an undefined heap address; Link messages
//!   0x06 in the object header.
//! - **Dense**: Link Info 0x02 naming a fractal heap (§III.G) of Link messages, a v2 B-tree of
//!   type 5 indexing the lookup3 hash of each name, and optionally one of type 6 indexing
//!   creation order (§III.A.2).
//!
//! Links are returned in ascending byte order of their names; when link creation order is
//! tracked, the names in creation order are returned too.

use std::cmp::Ordering;

use crate::btree_v1::{self, BTreeV1Node};
use crate::btree_v2::{record_uint, BTreeV2};
use crate::checksum::lookup3;
use crate::cursor::{le_uint, UNDEF};
use crate::fractal_heap::FractalHeap;
use crate::local_heap::LocalHeap;
use crate::messages::link::{Link, LinkTarget};
use crate::messages::link_info::LinkInfoMessage;
use crate::messages::symbol_table::SymbolTableMessage;
use crate::object_header::{body, msg, ObjectHeader};
use crate::source::{Ctx, WalkGuard};
use crate::symbol_table::{Scratch, SymbolTableEntry, SymbolTableNode};
use crate::{Error, Result};

/// A list of link names.
type Names = Vec<Vec<u8>>;

/// How a group stores its links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupStorage {
    /// v1 B-tree + local heap + symbol table nodes.
    SymbolTable,
    /// Link messages in the object header.
    Compact,
    /// Fractal heap + v2 B-tree name index.
    Dense,
}

impl GroupStorage {
    /// The name used by the canonical JSON form (`symbol_table`, `compact`, `dense`).
    pub fn as_str(self) -> &'static str {
        match self {
            GroupStorage::SymbolTable => "symbol_table",
            GroupStorage::Compact => "compact",
            GroupStorage::Dense => "dense",
        }
    }
}

/// All links of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLinks {
    /// Storage form.
    pub storage: GroupStorage,
    /// The links, in ascending byte order of their names.
    pub links: Vec<Link>,
    /// True when link creation order is tracked (Link Info flags bit 0).
    pub creation_order_tracked: bool,
    /// Link names in creation order, when creation order is tracked.
    pub link_order: Option<Vec<Vec<u8>>>,
}

/// The storage form of the group whose header is `oh`, or `None` if it is not a group.
///
/// A header with both a Symbol Table and a Link Info message is read as a symbol-table group.
pub fn storage(ctx: &Ctx<'_>, oh: &ObjectHeader) -> Result<Option<GroupStorage>> {
    if oh.has(msg::SYMBOL_TABLE) {
        return Ok(Some(GroupStorage::SymbolTable));
    }
    match link_info(ctx, oh)? {
        Some(li) if li.is_dense() => Ok(Some(GroupStorage::Dense)),
        Some(_) => Ok(Some(GroupStorage::Compact)),
        None => Ok(None),
    }
}

fn link_info(ctx: &Ctx<'_>, oh: &ObjectHeader) -> Result<Option<LinkInfoMessage>> {
    match oh.find(msg::LINK_INFO) {
        Some(m) => Ok(Some(LinkInfoMessage::decode(&mut body(
            ctx,
            m,
            "link info message",
        ))?)),
        None => Ok(None),
    }
}

fn symbol_table(ctx: &Ctx<'_>, oh: &ObjectHeader) -> Result<Option<SymbolTableMessage>> {
    match oh.find(msg::SYMBOL_TABLE) {
        Some(m) => Ok(Some(SymbolTableMessage::decode(&mut body(
            ctx,
            m,
            "symbol table message",
        ))?)),
        None => Ok(None),
    }
}

fn not_a_group(oh: &ObjectHeader) -> Error {
    Error::Invalid(format!("object at {:#x} is not a group", oh.addr))
}

/// Reads every link of the group whose object header is `oh`.
pub fn links(ctx: &Ctx<'_>, oh: &ObjectHeader) -> Result<GroupLinks> {
    if let Some(st) = symbol_table(ctx, oh)? {
        let mut links = symbol_table_links(ctx, &st)?;
        links.sort_by(|a, b| a.name.cmp(&b.name));
        return Ok(GroupLinks {
            storage: GroupStorage::SymbolTable,
            links,
            creation_order_tracked: false,
            link_order: None,
        });
    }
    let li = link_info(ctx, oh)?.ok_or_else(|| not_a_group(oh))?;
    let tracked = li.creation_order_tracked;
    let (storage, mut links, mut order) = if li.is_dense() {
        let (links, order) = dense_links(ctx, &li)?;
        (GroupStorage::Dense, links, order)
    } else {
        let mut links = Vec::new();
        for m in oh.all(msg::LINK) {
            links.push(Link::decode(&mut body(ctx, m, "link message"))?);
        }
        (GroupStorage::Compact, links, None)
    };
    if tracked && order.is_none() {
        let mut by_order: Vec<&Link> = links.iter().collect();
        by_order.sort_by_key(|l| l.creation_order.unwrap_or(u64::MAX));
        order = Some(by_order.iter().map(|l| l.name.clone()).collect());
    }
    links.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(GroupLinks {
        storage,
        links,
        creation_order_tracked: tracked,
        link_order: if tracked { order } else { None },
    })
}

/// Converts a symbol table entry to a link, names and soft-link values from `heap`.
fn entry_to_link(heap: &LocalHeap, e: &SymbolTableEntry) -> Result<Link> {
    let name = heap.string_at(e.link_name_offset)?.to_vec();
    let target = match e.scratch {
        Scratch::SoftLink { offset } => LinkTarget::Soft(heap.string_at(offset as u64)?.to_vec()),
        _ => LinkTarget::Hard(e.object_header_address),
    };
    Ok(Link {
        name,
        cset: 0,
        creation_order: None,
        target,
    })
}

fn symbol_table_links(ctx: &Ctx<'_>, st: &SymbolTableMessage) -> Result<Vec<Link>> {
    let heap = LocalHeap::read(ctx, st.heap_address)?;
    let key_size = ctx.sizes.length as usize;
    let mut links = Vec::new();
    let mut snods = WalkGuard::new(&ctx.limits);
    btree_v1::visit_leaves(ctx, st.btree_address, 0, key_size, &mut |node| {
        for &child in &node.children {
            snods.visit("symbol table node", child, 0)?;
            let snod = SymbolTableNode::read(ctx, child)?;
            for e in &snod.entries {
                links.push(entry_to_link(&heap, e)?);
            }
        }
        Ok(())
    })?;
    Ok(links)
}

/// Dense links (in name-index order) and, when a creation-order index exists, names in
/// creation order.
fn dense_links(ctx: &Ctx<'_>, li: &LinkInfoMessage) -> Result<(Vec<Link>, Option<Names>)> {
    let mut heap = FractalHeap::open(ctx, li.fractal_heap_address)?;
    let mut links = Vec::new();
    if li.name_index_address != UNDEF {
        let bt = BTreeV2::open(ctx, li.name_index_address)?;
        if bt.header.btree_type != 5 {
            return Err(Error::corrupt(
                "link name index",
                li.name_index_address,
                format!("v2 B-tree of type {}", bt.header.btree_type),
            ));
        }
        bt.visit(ctx, &mut |r| {
            let id = r.get(4..).unwrap_or(&[]);
            let obj = heap.get(ctx, id)?;
            links.push(Link::decode(&mut ctx.cursor(
                &obj,
                heap.header.addr,
                "link message",
            ))?);
            Ok(true)
        })?;
    }
    let mut order = None;
    if let Some(a) = li.creation_order_index_address.filter(|&a| a != UNDEF) {
        let bt = BTreeV2::open(ctx, a)?;
        if bt.header.btree_type != 6 {
            return Err(Error::corrupt(
                "link creation order index",
                a,
                format!("v2 B-tree of type {}", bt.header.btree_type),
            ));
        }
        let mut names = Vec::new();
        bt.visit(ctx, &mut |r| {
            let id = r.get(8..).unwrap_or(&[]);
            let obj = heap.get(ctx, id)?;
            let l = Link::decode(&mut ctx.cursor(&obj, heap.header.addr, "link message"))?;
            names.push(l.name);
            Ok(true)
        })?;
        order = Some(names);
    }
    Ok((links, order))
}

/// Looks up the link called `name` in the group whose object header is `oh`.
pub fn lookup(ctx: &Ctx<'_>, oh: &ObjectHeader, name: &[u8]) -> Result<Option<Link>> {
    if let Some(st) = symbol_table(ctx, oh)? {
        return symbol_table_lookup(ctx, &st, name);
    }
    let li = link_info(ctx, oh)?.ok_or_else(|| not_a_group(oh))?;
    if !li.is_dense() {
        for m in oh.all(msg::LINK) {
            let l = Link::decode(&mut body(ctx, m, "link message"))?;
            if l.name == name {
                return Ok(Some(l));
            }
        }
        return Ok(None);
    }
    if li.name_index_address == UNDEF {
        return Ok(None);
    }
    let mut heap = FractalHeap::open(ctx, li.fractal_heap_address)?;
    let bt = BTreeV2::open(ctx, li.name_index_address)?;
    let hash = lookup3(name, 0);
    let mut found = None;
    bt.find(ctx, &mut |r| {
        let h = record_uint(r.get(..4).unwrap_or(&[])) as u32;
        match h.cmp(&hash) {
            Ordering::Equal => {
                let obj = heap.get(ctx, r.get(4..).unwrap_or(&[]))?;
                let l = Link::decode(&mut ctx.cursor(&obj, heap.header.addr, "link message"))?;
                let ord = l.name.as_slice().cmp(name);
                if ord == Ordering::Equal {
                    found = Some(l);
                }
                Ok(ord)
            }
            o => Ok(o),
        }
    })?;
    Ok(found)
}

fn symbol_table_lookup(
    ctx: &Ctx<'_>,
    st: &SymbolTableMessage,
    name: &[u8],
) -> Result<Option<Link>> {
    let heap = LocalHeap::read(ctx, st.heap_address)?;
    let key_size = ctx.sizes.length as usize;
    let mut guard = WalkGuard::new(&ctx.limits);
    let mut addr = st.btree_address;
    if addr == UNDEF {
        return Ok(None);
    }
    let mut expect_level: Option<u8> = None;
    let mut depth = 0u32;
    loop {
        guard.visit("v1 B-tree node", addr, depth)?;
        let node = BTreeV1Node::read(ctx, addr, key_size)?;
        if node.node_type != 0 || expect_level.is_some_and(|l| l != node.level) {
            return Err(Error::corrupt(
                "v1 B-tree node",
                addr,
                "unexpected node type or level in a group B-tree",
            ));
        }
        // Child i holds the names in (key_i, key_{i+1}]: take the first i with name <= key_{i+1}.
        let n = node.children.len();
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let key = node.keys.get(mid + 1).map(|k| le_uint(k)).unwrap_or(0);
            if heap.string_at(key)? < name {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let Some(&child) = node.children.get(lo) else {
            return Ok(None);
        };
        if node.level == 0 {
            let snod = SymbolTableNode::read(ctx, child)?;
            let mut err = None;
            let r = snod
                .entries
                .binary_search_by(|e| match heap.string_at(e.link_name_offset) {
                    Ok(s) => s.cmp(name),
                    Err(x) => {
                        err = Some(x);
                        Ordering::Equal
                    }
                });
            if let Some(e) = err {
                return Err(e);
            }
            return match r {
                Ok(i) => snod
                    .entries
                    .get(i)
                    .map(|e| entry_to_link(&heap, e))
                    .transpose(),
                Err(_) => Ok(None),
            };
        }
        expect_level = Some(node.level - 1);
        addr = child;
        depth += 1;
    }
}

/// The storage form as libhdf5's group-info query reports it: it needs the link count, so a
/// symbol-table group must have a readable B-tree and symbol nodes (the local heap is not
/// needed), a dense group a readable name index. Errors where that query fails.
pub fn counted_storage(ctx: &Ctx<'_>, oh: &ObjectHeader) -> Result<GroupStorage> {
    if let Some(li) = link_info(ctx, oh)? {
        if li.is_dense() {
            if li.name_index_address != UNDEF {
                crate::btree_v2::BTreeV2Header::read(ctx, li.name_index_address)?;
            }
            return Ok(GroupStorage::Dense);
        }
        return Ok(GroupStorage::Compact);
    }
    let st = symbol_table(ctx, oh)?.ok_or_else(|| not_a_group(oh))?;
    let mut snods = WalkGuard::new(&ctx.limits);
    btree_v1::visit_leaves(
        ctx,
        st.btree_address,
        0,
        ctx.sizes.length as usize,
        &mut |node| {
            for &child in &node.children {
                snods.visit("symbol table node", child, 0)?;
                SymbolTableNode::read(ctx, child)?;
            }
            Ok(())
        },
    )?;
    Ok(GroupStorage::SymbolTable)
}

/// Loads the structures libhdf5 sizes when asked for a group's index and heap sizes (part of
/// its "native info" query): the fractal heap and v2 B-tree headers of a dense group, or every
/// node of a symbol table's B-tree (level by level, along the sibling chains) and its local
/// heap. Errors where that query fails.
pub fn check_index_structures(ctx: &Ctx<'_>, oh: &ObjectHeader) -> Result<()> {
    if let Some(li) = link_info(ctx, oh)? {
        if li.fractal_heap_address != UNDEF {
            crate::fractal_heap::FractalHeapHeader::read(ctx, li.fractal_heap_address)?;
        }
        if li.name_index_address != UNDEF {
            crate::btree_v2::BTreeV2Header::read(ctx, li.name_index_address)?;
        }
        if let Some(a) = li.creation_order_index_address.filter(|&a| a != UNDEF) {
            crate::btree_v2::BTreeV2Header::read(ctx, a)?;
        }
        return Ok(());
    }
    let st = symbol_table(ctx, oh)?.ok_or_else(|| not_a_group(oh))?;
    btree_v1::check_levels(ctx, st.btree_address, 0, ctx.sizes.length as usize)?;
    LocalHeap::check_for_size(ctx, st.heap_address)?;
    Ok(())
}
