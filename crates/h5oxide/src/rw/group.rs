//! Group changes: links added, removed and moved (spec §IV.A.2.g Link, §IV.A.2.r Symbol Table,
//! §III.A.1 v1 B-trees, §III.B symbol table nodes, §III.D local heaps).
//!
//! A group's links are loaded once into a [`GroupState`] and rewritten at flush:
//! * old-style (symbol table) groups get new symbol table nodes, inner B-tree nodes and a new
//!   local heap data segment; the B-tree root node and the heap header are rewritten at their
//!   old addresses, so the Symbol Table message and every cache of it stay valid;
//! * new-style compact groups get their Link messages rewritten in the object header.

use std::collections::BTreeMap;

use h5oxide_format::btree_v1;
use h5oxide_format::encode::btree_v1::{GroupNode, GROUP_NODE_CAPACITY, GROUP_NODE_SIZE};
use h5oxide_format::encode::header_rewrite::RawMessage;
use h5oxide_format::encode::local_heap::{LocalHeapBuilder, HEADER_SIZE};
use h5oxide_format::encode::object_header::{msg_type, Message};
use h5oxide_format::encode::symbol_table::{
    self, EntryCache, SymbolTableEntry, SNOD_CAPACITY, SNOD_SIZE,
};
use h5oxide_format::encode::UNDEF;
use h5oxide_format::local_heap::LocalHeap;
use h5oxide_format::messages::link::{Link, LinkTarget};
use h5oxide_format::messages::link_info::LinkInfoMessage;
use h5oxide_format::messages::symbol_table::SymbolTableMessage;
use h5oxide_format::object_header::msg;
use h5oxide_format::symbol_table::{Scratch, SymbolTableNode};
use h5oxide_format::{Error, Result, WalkGuard};

use super::RwFile;

/// Where a link points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// An object; `cache` is the symbol-table scratch pad of an old-style group child.
    Hard {
        addr: u64,
        cache: Option<(u64, u64)>,
    },
    /// A soft link's path.
    Soft(Vec<u8>),
    /// An external link: file and object path.
    External { file: Vec<u8>, path: Vec<u8> },
    /// Another user-defined link class, kept as is.
    UserDefined { class: u8, data: Vec<u8> },
}

/// How the group stores its links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Storage {
    SymbolTable { btree: u64, heap: u64 },
    Compact,
    Dense,
}

/// The links of one group, loaded for change.
#[derive(Debug, Clone)]
pub(crate) struct GroupState {
    pub(crate) storage: Storage,
    pub(crate) links: BTreeMap<Vec<u8>, (Target, Option<u64>, u8)>,
    /// Creation order is tracked (new-style groups).
    tracked: bool,
    next_order: u64,
    /// Old symbol table nodes and heap data segment, freed when rewritten.
    old_blocks: Vec<(u64, u64)>,
    pub(crate) dirty: bool,
}

impl GroupState {
    /// The link called `name`.
    pub(crate) fn get(&self, name: &[u8]) -> Option<&Target> {
        self.links.get(name).map(|(t, _, _)| t)
    }

    /// The next creation order to hand out.
    pub(crate) fn next_order(&self) -> u64 {
        self.next_order
    }

    /// Link names in byte order.
    pub(crate) fn names(&self) -> Vec<Vec<u8>> {
        self.links.keys().cloned().collect()
    }
}

fn link_name(name: &str) -> Result<Vec<u8>> {
    if name.is_empty() || name == "." || name.contains('\0') || name.contains('/') {
        return Err(Error::Invalid(format!("invalid link name {name:?}")));
    }
    Ok(name.as_bytes().to_vec())
}

/// Encodes a Link message (spec §IV.A.2.g), version 1.
pub(crate) fn encode_link(
    name: &[u8],
    target: &Target,
    order: Option<u64>,
    cset: u8,
) -> Result<Vec<u8>> {
    let mut b = Vec::new();
    b.push(1);
    let (ltype, info): (u8, Vec<u8>) = match target {
        Target::Hard { addr, .. } => (0, addr.to_le_bytes().to_vec()),
        Target::Soft(p) => {
            let mut v = Vec::new();
            let n = u16::try_from(p.len()).map_err(|_| Error::Invalid("soft link".into()))?;
            v.extend_from_slice(&n.to_le_bytes());
            v.extend_from_slice(p);
            (1, v)
        }
        Target::External { file, path } => {
            let mut d = vec![0u8];
            d.extend_from_slice(file);
            d.push(0);
            d.extend_from_slice(path);
            d.push(0);
            let mut v = Vec::new();
            let n = u16::try_from(d.len()).map_err(|_| Error::Invalid("external link".into()))?;
            v.extend_from_slice(&n.to_le_bytes());
            v.extend_from_slice(&d);
            (64, v)
        }
        Target::UserDefined { class, data } => {
            let mut v = Vec::new();
            let n = u16::try_from(data.len()).map_err(|_| Error::Invalid("link".into()))?;
            v.extend_from_slice(&n.to_le_bytes());
            v.extend_from_slice(data);
            (*class, v)
        }
    };
    let len = name.len();
    let width: u8 = if len < 1 << 8 {
        0
    } else if len < 1 << 16 {
        1
    } else {
        2
    };
    let mut flags = width;
    if order.is_some() {
        flags |= 0x04;
    }
    if ltype != 0 {
        flags |= 0x08;
    }
    if cset != 0 {
        flags |= 0x10;
    }
    b.push(flags);
    if ltype != 0 {
        b.push(ltype);
    }
    if let Some(o) = order {
        b.extend_from_slice(&(o).to_le_bytes());
    }
    if cset != 0 {
        b.push(cset);
    }
    match width {
        0 => b.push(len as u8),
        1 => b.extend_from_slice(&(len as u16).to_le_bytes()),
        _ => b.extend_from_slice(&(len as u32).to_le_bytes()),
    }
    b.extend_from_slice(name);
    b.extend_from_slice(&info);
    Ok(b)
}

impl RwFile {
    /// The link set of the group at `addr`, loaded on first use.
    pub(crate) fn group_state(&mut self, addr: u64) -> Result<&mut GroupState> {
        if !self.groups.contains_key(&addr) {
            let st = self.load_group(addr)?;
            self.groups.insert(addr, st);
        }
        self.groups
            .get_mut(&addr)
            .ok_or_else(|| Error::Invalid("group".into()))
    }

    fn load_group(&mut self, addr: u64) -> Result<GroupState> {
        let h = self.header(addr)?.clone();
        let ctx = self.ctx();
        if let Some(m) = h.find(msg::SYMBOL_TABLE) {
            let st = SymbolTableMessage::decode(&mut ctx.cursor(&m.body, addr, "symbol table"))?;
            let heap = LocalHeap::read(&ctx, st.heap_address)?;
            let mut links = BTreeMap::new();
            let mut old_blocks = vec![(heap.data_segment_address, heap.data_segment_size)];
            let mut guard = WalkGuard::new(&ctx.limits);
            let key_size = ctx.sizes.length as usize;
            btree_v1::visit_leaves(&ctx, st.btree_address, 0, key_size, &mut |node| {
                for &child in &node.children {
                    guard.visit("symbol table node", child, 0)?;
                    let snod = SymbolTableNode::read(&ctx, child)?;
                    old_blocks.push((child, SNOD_SIZE as u64));
                    for e in &snod.entries {
                        let name = heap.string_at(e.link_name_offset)?.to_vec();
                        let target = match e.scratch {
                            Scratch::SoftLink { offset } => {
                                Target::Soft(heap.string_at(offset as u64)?.to_vec())
                            }
                            Scratch::Group {
                                btree_address,
                                heap_address,
                            } => Target::Hard {
                                addr: e.object_header_address,
                                cache: Some((btree_address, heap_address)),
                            },
                            Scratch::None => Target::Hard {
                                addr: e.object_header_address,
                                cache: None,
                            },
                        };
                        links.insert(name, (target, None, 0));
                    }
                }
                Ok(())
            })?;
            return Ok(GroupState {
                storage: Storage::SymbolTable {
                    btree: st.btree_address,
                    heap: st.heap_address,
                },
                links,
                tracked: false,
                next_order: 0,
                old_blocks,
                dirty: false,
            });
        }
        let li = match h.find(msg::LINK_INFO) {
            Some(m) => LinkInfoMessage::decode(&mut ctx.cursor(&m.body, addr, "link info"))?,
            None => {
                return Err(Error::Invalid(format!(
                    "object at {addr:#x} is not a group"
                )))
            }
        };
        let tracked = li.creation_order_tracked;
        let mut links = BTreeMap::new();
        let mut next_order = 0u64;
        let storage = if li.is_dense() {
            // Read-only for now: list through the reader's decoder.
            let oh = h5oxide_format::object_header::ObjectHeader::read(&ctx, addr)?;
            for l in h5oxide_format::group::links(&ctx, &oh)?.links {
                insert_link(&mut links, l, &mut next_order);
            }
            Storage::Dense
        } else {
            for m in h.msgs.iter().filter(|m| m.kind == msg::LINK) {
                let l = Link::decode(&mut ctx.cursor(&m.body, addr, "link message"))?;
                insert_link(&mut links, l, &mut next_order);
            }
            Storage::Compact
        };
        Ok(GroupState {
            storage,
            links,
            tracked,
            next_order,
            old_blocks: Vec::new(),
            dirty: false,
        })
    }

    /// Checks that the link `name` → `target` can be added to the group at `group` (before
    /// anything is allocated for the object it points to); returns the name's bytes.
    pub(crate) fn check_add_link(
        &mut self,
        group: u64,
        name: &str,
        target: &Target,
    ) -> Result<Vec<u8>> {
        let name = link_name(name)?;
        let st = self.group_state(group)?;
        if st.links.contains_key(&name) {
            return Err(Error::Invalid(format!(
                "unable to create link (name already exists): {}",
                String::from_utf8_lossy(&name)
            )));
        }
        let (storage, count) = (st.storage, st.links.len());
        let _ = count;
        match (storage, target) {
            (Storage::SymbolTable { .. }, Target::External { .. } | Target::UserDefined { .. }) => {
                // libhdf5 converts the group to link messages (new-style) first.
                self.convert_to_compact(group)?;
            }
            (Storage::SymbolTable { .. }, _) => self.check_group_k()?,
            // New-style groups switch between compact and dense storage at flush.
            (Storage::Compact | Storage::Dense, _) => {}
        }
        Ok(name)
    }

    /// Adds the link `name` → `target` to the group at `group`.
    pub(crate) fn add_link(&mut self, group: u64, name: &str, target: Target) -> Result<()> {
        let name = self.check_add_link(group, name, &target)?;
        self.touch();
        let st = self.group_state(group)?;
        let order = st.tracked.then_some(st.next_order);
        st.next_order += 1;
        let cset = u8::from(!name.is_ascii());
        st.links.insert(name, (target, order, cset));
        st.dirty = true;
        Ok(())
    }

    /// Converts an old-style group to new-style compact storage (Link Info, Group Info and Link
    /// messages in its header), as libhdf5 does before storing an external link in it. The old
    /// B-tree, symbol table nodes and local heap become unreferenced (not reclaimed). A parent's
    /// cached symbol-table addresses of the group are cleared.
    fn convert_to_compact(&mut self, group: u64) -> Result<()> {
        let h = self.header_mut(group)?;
        h.msgs.retain(|m| m.kind != msg::SYMBOL_TABLE);
        let mut li = vec![0u8, 0u8];
        li.extend_from_slice(&UNDEF.to_le_bytes());
        li.extend_from_slice(&UNDEF.to_le_bytes());
        h.msgs.push(RawMessage {
            kind: msg::LINK_INFO,
            flags: 0,
            creation_order: 0,
            body: li,
        });
        h.msgs.push(RawMessage {
            kind: msg::GROUP_INFO,
            flags: 0,
            creation_order: 0,
            body: vec![0, 0],
        });
        if let Some(st) = self.groups.get_mut(&group) {
            st.storage = Storage::Compact;
            st.dirty = true;
        }
        if group == self.root_addr() {
            self.clear_root_cache()?;
        } else if let Some((parent, name)) = self.parents.get(&group).cloned() {
            let pst = self.group_state(parent)?;
            if let Some((Target::Hard { cache, .. }, _, _)) = pst.links.get_mut(&name) {
                *cache = None;
                pst.dirty = true;
            }
        }
        Ok(())
    }

    /// Removes the link `name` from the group at `group` and returns its target.
    pub(crate) fn remove_link(&mut self, group: u64, name: &str) -> Result<Target> {
        self.touch();
        let st = self.group_state(group)?;
        if matches!(st.storage, Storage::SymbolTable { .. }) {
            self.check_group_k()?;
        }
        let st = self.group_state(group)?;
        let (t, _, _) = st.links.remove(name.as_bytes()).ok_or_else(|| {
            Error::NotFound(format!("unable to delete link: {name:?} does not exist"))
        })?;
        st.dirty = true;
        Ok(t)
    }

    /// Writes the changed link set of the group at `addr`.
    pub(crate) fn write_group(&mut self, addr: u64) -> Result<()> {
        let Some(st) = self.groups.get(&addr).cloned() else {
            return Ok(());
        };
        match st.storage {
            Storage::SymbolTable { btree, heap } => {
                self.write_symbol_table(&st, addr, btree, heap)?
            }
            Storage::Compact | Storage::Dense => {
                // Group Info's phase change (§IV.A.2.j): beyond the compact maximum links go
                // to dense storage, below the dense minimum back to Link messages.
                let (max, min) = self.link_phase_change(addr)?;
                let n = st.links.len();
                let dense = match st.storage {
                    Storage::Dense => n >= min,
                    _ => n > max,
                };
                if dense {
                    self.write_dense_links(addr, &st)?;
                } else {
                    self.write_compact_links(addr, &st)?;
                }
            }
        }
        if let Some(g) = self.groups.get_mut(&addr) {
            g.dirty = false;
        }
        Ok(())
    }

    fn write_symbol_table(
        &mut self,
        st: &GroupState,
        addr: u64,
        root: u64,
        heap_addr: u64,
    ) -> Result<()> {
        let mut heap = LocalHeapBuilder::new();
        let mut entries = Vec::with_capacity(st.links.len());
        for (name, (t, _, _)) in &st.links {
            let name_offset = heap.add(name)?;
            let e = match t {
                Target::Hard { addr, cache } => SymbolTableEntry {
                    name_offset,
                    header_addr: *addr,
                    cache: match cache {
                        Some((btree, heap)) => EntryCache::Group {
                            btree: *btree,
                            heap: *heap,
                        },
                        None => EntryCache::None,
                    },
                },
                Target::Soft(path) => {
                    let off = heap.add(path)?;
                    let off = u32::try_from(off)
                        .map_err(|_| Error::Invalid("local heap over 4 GiB".into()))?;
                    SymbolTableEntry {
                        name_offset,
                        header_addr: UNDEF,
                        cache: EntryCache::SoftLink { offset: off },
                    }
                }
                _ => {
                    return Err(Error::unsupported(
                        "external or user-defined links in an old-style group",
                    ))
                }
            };
            entries.push(e);
        }
        // Local heap: new data segment, header rewritten in place.
        let size = heap.encoded_size() - HEADER_SIZE;
        let data_addr = self.alloc(size as u64)?;
        let bytes = heap.encode(data_addr - HEADER_SIZE as u64);
        let (head, data) = bytes.split_at(HEADER_SIZE);
        self.write_at(data_addr, data)?;
        self.write_at(heap_addr, head)?;

        // Symbol table nodes, evenly filled.
        let mut new_blocks = vec![(data_addr, size as u64)];
        let mut items = Vec::new();
        if !entries.is_empty() {
            let n = entries.len().div_ceil(SNOD_CAPACITY);
            for run in even_runs(entries.len(), n) {
                let chunk = &entries[run];
                let bytes = symbol_table::encode_snod(chunk)?;
                let a = self.put(&bytes)?;
                new_blocks.push((a, SNOD_SIZE as u64));
                items.push((a, chunk.last().map_or(0, |e| e.name_offset)));
            }
        }
        self.write_group_btree(items, root)?;
        for (a, len) in st.old_blocks.iter().copied() {
            self.release(a, len);
        }
        if let Some(g) = self.groups.get_mut(&addr) {
            g.old_blocks = new_blocks;
        }
        Ok(())
    }

    /// Builds the group B-tree over `items` (symbol table node, largest key) with its root
    /// node at `root`.
    fn write_group_btree(&mut self, mut items: Vec<(u64, u64)>, root: u64) -> Result<()> {
        if items.is_empty() {
            return self.write_at(root, &GroupNode::empty().encode()?);
        }
        let mut level = 0u8;
        loop {
            let n = items.len().div_ceil(GROUP_NODE_CAPACITY);
            let base = if n == 1 {
                root
            } else {
                self.alloc((n * GROUP_NODE_SIZE) as u64)?
            };
            let node_addr = |i: usize| base + (i * GROUP_NODE_SIZE) as u64;
            let mut next = Vec::with_capacity(n);
            let mut left_key = 0;
            for (i, run) in even_runs(items.len(), n).into_iter().enumerate() {
                let chunk = &items[run];
                let mut keys = Vec::with_capacity(chunk.len() + 1);
                keys.push(left_key);
                keys.extend(chunk.iter().map(|c| c.1));
                let node = GroupNode {
                    level,
                    left: if i > 0 { node_addr(i - 1) } else { UNDEF },
                    right: if i + 1 < n { node_addr(i + 1) } else { UNDEF },
                    keys,
                    children: chunk.iter().map(|c| c.0).collect(),
                };
                self.write_at(node_addr(i), &node.encode()?)?;
                left_key = chunk.last().map_or(left_key, |c| c.1);
                next.push((node_addr(i), left_key));
            }
            if n == 1 {
                return Ok(());
            }
            items = next;
            level = level
                .checked_add(1)
                .ok_or_else(|| Error::Invalid("group B-tree too deep".into()))?;
        }
    }

    /// Creates an empty old-style group (its header, B-tree root and local heap) and returns
    /// (header, B-tree, heap) addresses. It is not linked anywhere yet.
    pub(crate) fn new_group_object(&mut self) -> Result<(u64, u64, u64)> {
        self.check_group_k()?;
        let btree = self.put(&GroupNode::empty().encode()?)?;
        let heap = LocalHeapBuilder::new();
        let heap_addr = self.alloc(heap.encoded_size() as u64)?;
        let bytes = heap.encode(heap_addr);
        self.write_at(heap_addr, &bytes)?;
        let msgs = vec![Message::new(
            msg_type::SYMBOL_TABLE,
            0,
            symbol_table::encode_message(btree, heap_addr),
        )];
        let addr = self.new_header(&msgs, 128)?;
        Ok((addr, btree, heap_addr))
    }

    /// Creates a group at `path` (its parent must exist) and returns its header address.
    pub fn create_group(&mut self, path: &str) -> Result<u64> {
        let (parent, name) = self.parent_of(path)?;
        if self.group_state(parent)?.get(name.as_bytes()).is_some() {
            return Err(Error::Invalid(format!(
                "unable to create group (name already exists): {path}"
            )));
        }
        let probe = Target::Hard {
            addr: UNDEF,
            cache: None,
        };
        self.check_add_link(parent, name, &probe)?;
        let (addr, btree, heap) = self.new_group_object()?;
        self.add_link(
            parent,
            name,
            Target::Hard {
                addr,
                cache: Some((btree, heap)),
            },
        )?;
        // Register the new group's (empty) state so later links need no read.
        self.groups.insert(
            addr,
            GroupState {
                storage: Storage::SymbolTable { btree, heap },
                links: BTreeMap::new(),
                tracked: false,
                next_order: 0,
                old_blocks: Vec::new(),
                dirty: false,
            },
        );
        Ok(addr)
    }

    /// Creates a new-style group at `path` that tracks and indexes the creation order of its
    /// links and attributes (h5py's `track_order=True`): a version-2 header with Link Info,
    /// Group Info and room for more messages. Returns its header address.
    pub fn create_group_tracked(&mut self, path: &str) -> Result<u64> {
        use h5oxide_format::encode::object_header::{
            encode_v2, OHDR_ATTR_CRT_ORDER_INDEXED, OHDR_ATTR_CRT_ORDER_TRACKED,
        };
        let (parent, name) = self.parent_of(path)?;
        let probe = Target::Hard {
            addr: UNDEF,
            cache: None,
        };
        self.check_add_link(parent, name, &probe)?;
        let mut li = vec![0u8, 0x03];
        li.extend_from_slice(&0u64.to_le_bytes());
        for _ in 0..3 {
            li.extend_from_slice(&UNDEF.to_le_bytes());
        }
        let msgs = vec![
            Message::new(msg::LINK_INFO, 0, li),
            Message::new(msg::GROUP_INFO, 0x01, vec![0, 0]),
            // room for links and attributes before a continuation block is needed
            Message::new(0, 0, vec![0; 160]),
        ];
        let bytes = encode_v2(
            &msgs,
            OHDR_ATTR_CRT_ORDER_TRACKED | OHDR_ATTR_CRT_ORDER_INDEXED,
        )?;
        self.touch();
        let addr = self.put(&bytes)?;
        self.add_link(parent, name, Target::Hard { addr, cache: None })?;
        self.groups.insert(
            addr,
            GroupState {
                storage: Storage::Compact,
                links: BTreeMap::new(),
                tracked: true,
                next_order: 0,
                old_blocks: Vec::new(),
                dirty: false,
            },
        );
        Ok(addr)
    }

    /// Creates the group at `path` and any missing parents; returns its address.
    pub fn require_group(&mut self, path: &str) -> Result<u64> {
        let mut cur = String::new();
        let mut addr = self.root_addr();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            cur.push('/');
            cur.push_str(part);
            addr = match self.resolve(&cur) {
                Ok(a) => a,
                Err(Error::NotFound(_)) => self.create_group(&cur)?,
                Err(e) => return Err(e),
            };
        }
        Ok(addr)
    }

    /// Names of the links in the group at `path`, in byte order.
    pub fn link_names(&mut self, path: &str) -> Result<Vec<String>> {
        let g = self.resolve(path)?;
        Ok(self
            .group_state(g)?
            .names()
            .into_iter()
            .map(|n| String::from_utf8_lossy(&n).into_owned())
            .collect())
    }

    /// Creates a soft link at `path` pointing to `target`.
    pub fn link_soft(&mut self, path: &str, target: &str) -> Result<()> {
        let (parent, name) = self.parent_of(path)?;
        self.add_link(parent, name, Target::Soft(target.as_bytes().to_vec()))
    }

    /// Creates an external link at `path` to `obj_path` in `file`.
    pub fn link_external(&mut self, path: &str, file: &str, obj_path: &str) -> Result<()> {
        let (parent, name) = self.parent_of(path)?;
        self.add_link(
            parent,
            name,
            Target::External {
                file: file.as_bytes().to_vec(),
                path: obj_path.as_bytes().to_vec(),
            },
        )
    }

    /// Creates a hard link at `path` to the object at `target` (its reference count grows).
    pub fn link_hard(&mut self, path: &str, target: &str) -> Result<()> {
        let addr = self.resolve(target)?;
        self.link_hard_addr(path, addr)
    }

    /// Creates a hard link at `path` to the object whose header is at `addr`.
    pub fn link_hard_addr(&mut self, path: &str, addr: u64) -> Result<()> {
        let (parent, name) = self.parent_of(path)?;
        let cache = self.stab_cache_of(addr)?;
        self.add_link(parent, name, Target::Hard { addr, cache })?;
        let h = self.header_mut(addr)?;
        let n = h.refcount().saturating_add(1);
        h.set_refcount(n);
        Ok(())
    }

    fn stab_cache_of(&mut self, addr: u64) -> Result<Option<(u64, u64)>> {
        let ctx_sizes = self.ctx().sizes;
        let h = self.header(addr)?;
        Ok(match h.find(msg::SYMBOL_TABLE) {
            Some(m) => {
                let st = SymbolTableMessage::decode(&mut h5oxide_format::cursor::Cursor::new(
                    &m.body,
                    addr,
                    "symbol table",
                    ctx_sizes,
                ))?;
                Some((st.btree_address, st.heap_address))
            }
            None => None,
        })
    }

    /// Removes the link at `path` (h5py `del group[name]`). The object's reference count
    /// drops; its space is not reclaimed.
    pub fn unlink(&mut self, path: &str) -> Result<()> {
        let (parent, name) = self.parent_of(path)?;
        let t = self.remove_link(parent, name)?;
        if let Target::Hard { addr, .. } = t {
            let h = self.header_mut(addr)?;
            let n = h.refcount().saturating_sub(1);
            h.set_refcount(n);
            if n == 0 {
                // The object is gone: like libhdf5, it stops using the committed datatypes
                // its datatype and attribute messages name.
                self.release_committed_types(addr)?;
            }
        }
        Ok(())
    }

    /// Lowers the reference count of every committed datatype the header at `addr` uses (its
    /// Datatype message and its compact attributes' types).
    fn release_committed_types(&mut self, addr: u64) -> Result<()> {
        let h = self.header(addr)?.clone();
        let ctx = self.ctx();
        let mut used = Vec::new();
        for m in &h.msgs {
            if m.flags & 0x02 == 0 && m.kind != msg::ATTRIBUTE {
                continue;
            }
            let committed = match m.kind {
                msg::DATATYPE => h5oxide_format::shared::committed_address(&ctx, &m.body, addr)
                    .ok()
                    .flatten(),
                msg::ATTRIBUTE => {
                    let a = h5oxide_format::messages::attribute::AttributeMessage::decode(
                        &mut ctx.cursor(&m.body, addr, "attribute message"),
                    );
                    match a {
                        Ok(a) if a.datatype_shared => h5oxide_format::shared::committed_address(
                            &ctx,
                            &a.datatype,
                            a.datatype_addr,
                        )
                        .ok()
                        .flatten(),
                        _ => None,
                    }
                }
                _ => None,
            };
            used.extend(committed);
        }
        for t in used {
            if let Ok(th) = self.header_mut(t) {
                let n = th.refcount().saturating_sub(1);
                th.set_refcount(n);
            }
        }
        Ok(())
    }

    /// Moves (renames) the link at `from` to `to`.
    pub fn move_link(&mut self, from: &str, to: &str) -> Result<()> {
        let (dst_parent, dst_name) = self.parent_of(to)?;
        if self
            .group_state(dst_parent)?
            .get(dst_name.as_bytes())
            .is_some()
        {
            return Err(Error::Invalid(format!(
                "unable to move link (destination name already exists): {to}"
            )));
        }
        let (src_parent, src_name) = self.parent_of(from)?;
        if src_parent != dst_parent {
            // Refuse before the link is taken out of its group.
            if let Some(t) = self
                .group_state(src_parent)?
                .get(src_name.as_bytes())
                .cloned()
            {
                self.check_add_link(dst_parent, dst_name, &t)?;
            }
        }
        let t = self.remove_link(src_parent, src_name)?;
        self.add_link(dst_parent, dst_name, t)
    }
}

fn insert_link(
    links: &mut BTreeMap<Vec<u8>, (Target, Option<u64>, u8)>,
    l: Link,
    next_order: &mut u64,
) {
    if let Some(o) = l.creation_order {
        *next_order = (*next_order).max(o + 1);
    }
    let t = match l.target {
        LinkTarget::Hard(a) => Target::Hard {
            addr: a,
            cache: None,
        },
        LinkTarget::Soft(p) => Target::Soft(p),
        LinkTarget::External { file, path } => Target::External { file, path },
        LinkTarget::UserDefined { class, data } => Target::UserDefined { class, data },
    };
    links.insert(l.name, (t, l.creation_order, l.cset));
}

/// Splits `len` items into `parts` runs whose lengths differ by at most one.
pub(crate) fn even_runs(len: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    if parts == 0 {
        return Vec::new();
    }
    let mut runs = Vec::with_capacity(parts);
    let (base, extra) = (len / parts, len % parts);
    let mut start = 0;
    for i in 0..parts {
        let n = base + usize::from(i < extra);
        runs.push(start..start + n);
        start += n;
    }
    runs
}
