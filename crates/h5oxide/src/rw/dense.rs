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
