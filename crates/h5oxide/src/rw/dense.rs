//! Dense link storage of new-style groups, rewritten in place (spec §IV.A.2.c Link Info, §III.G
//! fractal heap, §III.A.2 v2 B-tree record types 5 and 6).
//!
//! A group whose links outgrow its compact maximum (Group Info, default 8) keeps them in a
//! fractal heap indexed by a v2 B-tree of name hashes (and one of creation order when that is
//! indexed), as libhdf5 does; below the dense minimum (default 6) they go back to Link
//! messages. At flush the heap and its indexes are written anew and the Link Info message
//! points to them; the old ones are left unreferenced (not reclaimed).

use h5oxide_format::checksum::lookup3;
use h5oxide_format::encode::btree_v2::{self, BTreeV2Params};
use h5oxide_format::encode::fractal_heap::{FractalHeapBuilder, HeapParams};
use h5oxide_format::encode::header_rewrite::RawMessage;
use h5oxide_format::encode::UNDEF;
use h5oxide_format::object_header::msg;
use h5oxide_format::{Error, Result};

use super::group::{encode_link, GroupState, Storage};
use super::RwFile;

/// libhdf5's default minimum number of links of a dense group (Group Info).
const DEFAULT_MIN_DENSE: usize = 6;

impl RwFile {
    /// Compact maximum and dense minimum of the group at `addr` (Group Info, §IV.A.2.j).
    pub(crate) fn link_phase_change(&mut self, addr: u64) -> Result<(usize, usize)> {
        let h = self.header(addr)?;
        let Some(gi) = h.find(msg::GROUP_INFO) else {
            return Ok((8, DEFAULT_MIN_DENSE));
        };
        let flags = gi.body.get(1).copied().unwrap_or(0);
        if flags & 1 == 0 {
            return Ok((8, DEFAULT_MIN_DENSE));
        }
        let v = |i: usize| {
            gi.body
                .get(i..i + 2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
                .ok_or_else(|| Error::corrupt("group info message", addr, "too short"))
        };
        Ok((v(2)?, v(4)?))
    }

    /// Writes the links of the new-style group at `addr` (state `st`) as dense storage.
    pub(crate) fn write_dense_links(&mut self, addr: u64, st: &GroupState) -> Result<()> {
        let mut heap = FractalHeapBuilder::new(HeapParams::links());
        let mut by_name = Vec::with_capacity(st.links.len());
        let mut by_order = Vec::with_capacity(st.links.len());
        for (name, (t, order, cset)) in &st.links {
            let body = encode_link(name, t, *order, *cset)?;
            let id = if heap.is_huge(body.len()) {
                let a = self.put(&body)?;
                heap.insert_huge(a, body.len() as u64)?
            } else {
                heap.insert(&body)?
            };
            let hash = lookup3(name, 0);
            let mut r = hash.to_le_bytes().to_vec();
            r.extend_from_slice(&id);
            by_name.push((hash, name.clone(), r));
            let mut r = order.unwrap_or(0).to_le_bytes().to_vec();
            r.extend_from_slice(&id);
            by_order.push((order.unwrap_or(0), r));
        }
        by_name.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        by_order.sort_by_key(|r| r.0);
        let id_len = HeapParams::links().id_len;
        let heap_addr = {
            let size = heap.encode(0)?.len() as u64;
            let a = self.alloc_fresh(size)?;
            let bytes = heap.encode(a)?;
            self.write_at(a, &bytes)?;
            a
        };
        let name_recs: Vec<Vec<u8>> = by_name.into_iter().map(|r| r.2).collect();
        let name_index = self.put_btree_v2(BTreeV2Params::small(5, 4 + id_len), &name_recs)?;
        let h = self.header_mut(addr)?;
        let li = h
            .find_mut(msg::LINK_INFO)
            .ok_or_else(|| Error::corrupt("group", addr, "no link info message"))?;
        let flags = li.body.get(1).copied().unwrap_or(0);
        let indexed = flags & 2 != 0;
        let at = 2 + if flags & 1 != 0 { 8 } else { 0 };
        let order_index = if indexed {
            let recs: Vec<Vec<u8>> = by_order.into_iter().map(|r| r.1).collect();
            Some(self.put_btree_v2(BTreeV2Params::small(6, 8 + id_len), &recs)?)
        } else {
            None
        };
        let h = self.header_mut(addr)?;
        h.msgs.retain(|m| m.kind != msg::LINK);
        let li = h
            .find_mut(msg::LINK_INFO)
            .ok_or_else(|| Error::corrupt("group", addr, "no link info message"))?;
        if flags & 1 != 0 {
            if let Some(b) = li.body.get_mut(2..10) {
                b.copy_from_slice(&st.next_order().to_le_bytes());
            }
        }
        let mut fields = vec![heap_addr, name_index];
        if let Some(o) = order_index {
            fields.push(o);
        }
        for (i, v) in fields.iter().enumerate() {
            let slot = li
                .body
                .get_mut(at + 8 * i..at + 8 * i + 8)
                .ok_or_else(|| Error::corrupt("link info message", addr, "too short"))?;
            slot.copy_from_slice(&v.to_le_bytes());
        }
        if let Some(g) = self.groups.get_mut(&addr) {
            g.storage = Storage::Dense;
        }
        Ok(())
    }

    /// Writes the links of the group at `addr` as Link messages and marks its Link Info as
    /// compact (heap and indexes undefined).
    pub(crate) fn write_compact_links(&mut self, addr: u64, st: &GroupState) -> Result<()> {
        let mut msgs = Vec::new();
        for (name, (t, order, cset)) in &st.links {
            msgs.push(RawMessage {
                kind: msg::LINK,
                flags: 0,
                creation_order: 0,
                body: encode_link(name, t, *order, *cset)?,
            });
        }
        let h = self.header_mut(addr)?;
        h.msgs.retain(|m| m.kind != msg::LINK);
        h.msgs.extend(msgs);
        if let Some(li) = h.find_mut(msg::LINK_INFO) {
            let flags = li.body.get(1).copied().unwrap_or(0);
            if flags & 1 != 0 {
                if let Some(b) = li.body.get_mut(2..10) {
                    b.copy_from_slice(&st.next_order().to_le_bytes());
                }
            }
            let at = 2 + if flags & 1 != 0 { 8 } else { 0 };
            let n = 2 + usize::from(flags & 2 != 0);
            for i in 0..n {
                if let Some(slot) = li.body.get_mut(at + 8 * i..at + 8 * i + 8) {
                    slot.copy_from_slice(&UNDEF.to_le_bytes());
                }
            }
        }
        if let Some(g) = self.groups.get_mut(&addr) {
            g.storage = Storage::Compact;
        }
        Ok(())
    }

    /// Writes a v2 B-tree over `records` at new space; returns its header address.
    fn put_btree_v2(&mut self, p: BTreeV2Params, records: &[Vec<u8>]) -> Result<u64> {
        let size = btree_v2::encode(p, records, 0)?.len() as u64;
        let a = self.alloc_fresh(size)?;
        let bytes = btree_v2::encode(p, records, a)?;
        self.write_at(a, &bytes)?;
        Ok(a)
    }
}

/// The attributes of an object with a version-2 header and an Attribute Info message,
/// loaded for change: `(name, Attribute message body, creation order)` in creation order.
#[derive(Debug, Clone, Default)]
pub(crate) struct AttrState {
    pub(crate) list: Vec<(Vec<u8>, Vec<u8>, u16)>,
    pub(crate) dirty: bool,
}

/// libhdf5's default attribute phase change (object header creation properties).
const DEFAULT_MAX_COMPACT_ATTRS: usize = 8;
const DEFAULT_MIN_DENSE_ATTRS: usize = 6;
/// Largest attribute message kept in the header (a message's size field is 16 bits).
const MAX_COMPACT_ATTR_BODY: usize = 65535 - 16;

impl RwFile {
    /// True when the object's attributes go through [`AttrState`]: a version-2 header with an
    /// Attribute Info message (spec §IV.A.2.v), where storage may be compact or dense.
    pub(crate) fn uses_attr_info(&mut self, addr: u64) -> Result<bool> {
        let h = self.header(addr)?;
        Ok(h.is_v2() && h.find(msg::ATTRIBUTE_INFO).is_some())
    }

    /// The attribute state of the object at `addr`, loaded on first use.
    pub(crate) fn attr_state(&mut self, addr: u64) -> Result<&mut AttrState> {
        if !self.attrs.contains_key(&addr) {
            // Compact: the Attribute messages as stored (shared datatypes inside them stay).
            let h = self.header(addr)?.clone();
            let dense = h.find(msg::ATTRIBUTE_INFO).is_some_and(|ai| {
                let flags = ai.body.get(1).copied().unwrap_or(0);
                let at = 2 + if flags & 1 != 0 { 2 } else { 0 };
                ai.body
                    .get(at..at + 8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_le_bytes)
                    .is_some_and(|a| a != UNDEF)
            });
            if !dense {
                let mut list = Vec::new();
                for m in h.msgs.iter().filter(|m| m.kind == msg::ATTRIBUTE) {
                    if m.flags & 0x02 != 0 {
                        return Err(Error::unsupported(
                            "changing attributes of an object with shared (SOHM) attributes",
                        ));
                    }
                    let name = super::data::attr_name(&m.body)
                        .ok_or_else(|| Error::corrupt("attribute message", addr, "no name"))?
                        .to_vec();
                    list.push((name, m.body.clone(), m.creation_order));
                }
                list.sort_by_key(|e| e.2);
                self.attrs.insert(addr, AttrState { list, dirty: false });
                return self
                    .attrs
                    .get_mut(&addr)
                    .ok_or_else(|| Error::Invalid("attributes".into()));
            }
            let ctx = self.ctx();
            let oh = h5oxide_format::object_header::ObjectHeader::read(&ctx, addr)?;
            let all = h5oxide_format::attributes::attribute_messages(&ctx, &oh)?;
            let mut list = Vec::with_capacity(all.attributes.len());
            for a in all.attributes {
                let m = a.message;
                // A datatype shared through a committed datatype (an object header) stays a
                // reference; shared dataspaces and SOHM-shared datatypes are not rewritten.
                let committed_type = m.datatype_shared
                    && h5oxide_format::shared::committed_address(&ctx, &m.datatype, addr)?
                        .is_some();
                if (m.datatype_shared && !committed_type) || m.dataspace_shared {
                    return Err(Error::unsupported(
                        "changing attributes of an object whose attributes use shared datatypes",
                    ));
                }
                let name = String::from_utf8(m.name.clone()).map_err(|_| {
                    Error::unsupported("changing attributes whose names are not UTF-8")
                })?;
                let cset = if m.cset == 1 {
                    h5oxide_format::datatype::CharSet::Utf8
                } else {
                    h5oxide_format::datatype::CharSet::Ascii
                };
                let body = h5oxide_format::encode::attribute::encode_v3_flags(
                    &name,
                    cset,
                    u8::from(committed_type),
                    &m.datatype,
                    &m.dataspace,
                    &m.data,
                )?;
                let order = a.creation_order.unwrap_or(0).min(u16::MAX as u64) as u16;
                list.push((m.name, body, order));
            }
            list.sort_by_key(|e| e.2);
            self.attrs.insert(addr, AttrState { list, dirty: false });
        }
        self.attrs
            .get_mut(&addr)
            .ok_or_else(|| Error::Invalid("attributes".into()))
    }

    /// Writes the changed attributes of the object at `addr`: compact Attribute messages, or
    /// dense storage (fractal heap, name index, creation-order index when indexed) past the
    /// compact maximum or when one is too large for a header message.
    pub(crate) fn write_attrs(&mut self, addr: u64) -> Result<()> {
        let Some(st) = self.attrs.get(&addr).cloned() else {
            return Ok(());
        };
        if !st.dirty {
            return Ok(());
        }
        let (max, min) = match self.header(addr)?.attr_phase_change() {
            Some((a, b)) => (a as usize, b as usize),
            None => (DEFAULT_MAX_COMPACT_ATTRS, DEFAULT_MIN_DENSE_ATTRS),
        };
        let h = self.header(addr)?;
        let ai = h
            .find(msg::ATTRIBUTE_INFO)
            .ok_or_else(|| Error::corrupt("object header", addr, "no attribute info"))?;
        let flags = ai.body.get(1).copied().unwrap_or(0);
        let at = 2 + if flags & 1 != 0 { 2 } else { 0 };
        let was_dense = ai
            .body
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .is_some_and(|a| a != UNDEF);
        let n = st.list.len();
        let too_big = st.list.iter().any(|e| e.1.len() > MAX_COMPACT_ATTR_BODY);
        let dense = too_big || if was_dense { n >= min } else { n > max };
        let next_order = st
            .list
            .iter()
            .map(|e| e.2 as u32 + 1)
            .max()
            .unwrap_or(0)
            .min(u16::MAX as u32) as u16;
        let mut addrs = [UNDEF; 3];
        let mut msgs = Vec::new();
        if dense {
            let mut heap = FractalHeapBuilder::new(HeapParams::attributes());
            let mut by_name = Vec::with_capacity(n);
            let mut by_order = Vec::with_capacity(n);
            for (name, body, order) in &st.list {
                let id = if heap.is_huge(body.len()) {
                    let a = self.put(body)?;
                    heap.insert_huge(a, body.len() as u64)?
                } else {
                    heap.insert(body)?
                };
                let corder = if flags & 1 != 0 {
                    u32::from(*order)
                } else {
                    0xFFFF
                };
                let hash = lookup3(name, 0);
                let mut r = id.clone();
                r.push(0);
                r.extend_from_slice(&corder.to_le_bytes());
                r.extend_from_slice(&hash.to_le_bytes());
                by_name.push((hash, name.clone(), r));
                let mut r = id;
                r.push(0);
                r.extend_from_slice(&corder.to_le_bytes());
                by_order.push((corder, r));
            }
            by_name.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
            by_order.sort_by_key(|r| r.0);
            let id_len = HeapParams::attributes().id_len;
            let size = heap.encode(0)?.len() as u64;
            let ha = self.alloc_fresh(size)?;
            let bytes = heap.encode(ha)?;
            self.write_at(ha, &bytes)?;
            addrs[0] = ha;
            let recs: Vec<Vec<u8>> = by_name.into_iter().map(|r| r.2).collect();
            addrs[1] = self.put_btree_v2(BTreeV2Params::small(8, id_len + 9), &recs)?;
            if flags & 2 != 0 {
                let recs: Vec<Vec<u8>> = by_order.into_iter().map(|r| r.1).collect();
                addrs[2] = self.put_btree_v2(BTreeV2Params::small(9, id_len + 5), &recs)?;
            }
        } else {
            for (_, body, order) in &st.list {
                msgs.push(RawMessage {
                    kind: msg::ATTRIBUTE,
                    flags: 0,
                    creation_order: *order,
                    body: body.clone(),
                });
            }
        }
        let h = self.header_mut(addr)?;
        h.msgs.retain(|m| m.kind != msg::ATTRIBUTE);
        h.msgs.extend(msgs);
        let ai = h
            .find_mut(msg::ATTRIBUTE_INFO)
            .ok_or_else(|| Error::corrupt("object header", addr, "no attribute info"))?;
        if flags & 1 != 0 {
            if let Some(b) = ai.body.get_mut(2..4) {
                let cur = u16::from_le_bytes([b[0], b[1]]);
                b.copy_from_slice(&cur.max(next_order).to_le_bytes());
            }
        }
        let count = 2 + usize::from(flags & 2 != 0);
        for (i, v) in addrs.iter().take(count).enumerate() {
            let slot = ai
                .body
                .get_mut(at + 8 * i..at + 8 * i + 8)
                .ok_or_else(|| Error::corrupt("attribute info message", addr, "too short"))?;
            slot.copy_from_slice(&v.to_le_bytes());
        }
        if let Some(s) = self.attrs.get_mut(&addr) {
            s.dirty = false;
        }
        Ok(())
    }
}
