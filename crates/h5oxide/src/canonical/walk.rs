//! The walk that produces the canonical document (CANONICAL.md §2–§8): a first pass assigns
//! every object its canonical path (pre-order DFS over hard links in name order), a second pass
//! emits groups, datasets, committed datatypes, attributes and data digests.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use h5oxide_format::datatype::Datatype;
use h5oxide_format::messages::dataspace::Dataspace;
use h5oxide_format::messages::fill_value::{AllocTime, FillStatus, FillTime};
use h5oxide_format::messages::layout::DataLayout;
use h5oxide_format::object_header::ObjectHeader;
use h5oxide_format::{Error, Result};
use sha2::{Digest, Sha256};

use super::dtype::{
    dtype_json, leaves, nest, raw_hashable, raw_sha256, unreadable_by_oracle, value_json,
};
use super::json::Json;
use crate::dataset::DatasetInfo;
use crate::file::FileInner;
use crate::object::{kind_of, ObjectKind};
use crate::File;

const VALUE_LIMIT: u64 = 1000;
const LEAF_LIMIT: u64 = 100_000;
const CHUNK_LIST_LIMIT: usize = 100;
const DATA_BYTES_LIMIT: u64 = 64 << 20;

type Map = BTreeMap<String, Json>;

fn s(v: &str) -> Json {
    Json::Str(v.to_string())
}

fn int(v: u64) -> Json {
    Json::Int(v as i128)
}

fn err_text(e: &Error) -> Json {
    Json::Str(e.to_string())
}

/// The canonical document of a file that could not be opened (`{"ok": false, "error": ...}`).
pub fn failure_doc(e: &Error) -> Json {
    failure(e)
}

fn failure(e: &Error) -> Json {
    let mut m = Map::new();
    m.insert("canon_version".into(), Json::Int(1));
    m.insert("ok".into(), Json::Bool(false));
    m.insert("error".into(), err_text(e));
    Json::Object(m)
}

/// The canonical document of the file at `path`, and whether it could be opened.
pub fn dump(path: &Path) -> (Json, bool) {
    match File::open(path) {
        Ok(f) => run(&f),
        Err(e) => (failure(&e), false),
    }
}

/// The canonical document of an in-memory file image.
pub fn dump_bytes(bytes: Vec<u8>) -> (Json, bool) {
    match File::from_bytes(bytes) {
        Ok(f) => run(&f),
        Err(e) => (failure(&e), false),
    }
}

/// The canonical document of an open file (e.g. one opened with
/// [`crate::OpenOptions::open_source`]).
pub fn dump_file(f: &File) -> (Json, bool) {
    run(f)
}

fn run(f: &File) -> (Json, bool) {
    // Superblock v3 status flags: bit 0 = open for write, bit 2 = open for SWMR write. A plain
    // read-only open is refused when either is set; the oracle then retries as a SWMR reader,
    // which libhdf5 only allows when the writer announced SWMR (bit 2).
    let sb = &f.inner.sb;
    if sb.version >= 3 && sb.consistency_flags & 0x05 != 0 && sb.consistency_flags & 0x04 == 0 {
        let e = Error::corrupt(
            "superblock",
            0,
            "file is already open for write (status flags set without SWMR write access)",
        );
        return (failure(&e), false);
    }
    // libhdf5 reads the superblock extension at open; a metadata cache image it announces is
    // loaded then, so one lying past the end of the allocated space makes the open fail.
    if sb.extension_address != h5oxide_format::UNDEF {
        let check = || -> Result<()> {
            let ctx = f.inner.ctx();
            // An extension we cannot read stays a lazy problem (only the SOHM table needs it).
            let Ok(oh) = ObjectHeader::read(&ctx, sb.extension_address) else {
                return Ok(());
            };
            if let Some(m) = oh.find(h5oxide_format::object_header::msg::MDC_IMAGE) {
                let mut c =
                    h5oxide_format::object_header::body(&ctx, m, "metadata cache image message");
                c.u8()?;
                let addr = c.offset()?;
                let len = c.length()?;
                if addr.checked_add(len).is_none_or(|end| end > sb.eof_address) {
                    return Err(c.corrupt(
                        "metadata cache image lies past the end of the file's allocated space",
                    ));
                }
            }
            Ok(())
        };
        if let Err(e) = check() {
            return (failure(&e), false);
        }
    }
    let mut c = Canon {
        file: f.inner.clone(),
        paths: HashMap::new(),
        emitted: HashSet::new(),
        links: HashMap::new(),
    };
    let root = f.inner.sb.root_object_header_address;
    // The root must be readable as a group, or the file is not usable at all.
    let root_oh = match c
        .file
        .header(root)
        .and_then(|oh| c.open_check(&oh).map(|()| oh))
    {
        Ok(oh) => oh,
        Err(e) => return (failure(&e), false),
    };
    if kind_of(&root_oh) != Some(ObjectKind::Group) {
        return (
            failure(&Error::corrupt(
                "root group",
                root,
                "the root object is not a group",
            )),
            false,
        );
    }
    c.paths.insert(root, "/".to_string());
    c.index(root, "/", 0);
    c.emitted.insert(root);
    let sb = &f.inner.sb;
    let mut doc = Map::new();
    doc.insert("canon_version".into(), Json::Int(1));
    doc.insert("ok".into(), Json::Bool(true));
    let mut sbj = Map::new();
    sbj.insert("version".into(), int(sb.version as u64));
    sbj.insert("sizeof_offsets".into(), int(sb.sizes.offset as u64));
    sbj.insert("sizeof_lengths".into(), int(sb.sizes.length as u64));
    sbj.insert("userblock_size".into(), int(sb.base_address));
    doc.insert("superblock".into(), Json::Object(sbj));
    if sb.version >= 3 && sb.consistency_flags & 0x05 != 0 {
        doc.insert("open_note".into(), s("status_flags_set"));
    }
    doc.insert("root".into(), c.group(root, "/", 0));
    (Json::Object(doc), true)
}

struct Canon {
    file: Arc<FileInner>,
    paths: HashMap<u64, String>,
    emitted: HashSet<u64>,
    links: HashMap<u64, Result<h5oxide_format::group::GroupLinks>>,
}

fn join(path: &str, name: &str) -> String {
    if path == "/" {
        format!("/{name}")
    } else {
        format!("{path}/{name}")
    }
}

fn name_of(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

impl Canon {
    fn group_links(&mut self, addr: u64) -> Result<h5oxide_format::group::GroupLinks> {
        if let Some(r) = self.links.get(&addr) {
            return r.clone();
        }
        let r = self
            .file
            .header(addr)
            .and_then(|oh| h5oxide_format::group::links(&self.file.ctx(), &oh));
        self.links.insert(addr, r.clone());
        r
    }

    /// Pass 1: canonical paths.
    fn index(&mut self, addr: u64, path: &str, depth: u32) {
        if depth > 256 {
            return;
        }
        let Ok(gl) = self.group_links(addr) else {
            return;
        };
        let mut links = gl.links.clone();
        links.sort_by(|a, b| a.name.cmp(&b.name));
        for l in links {
            let h5oxide_format::messages::link::LinkTarget::Hard(a) = l.target else {
                continue;
            };
            if self.paths.contains_key(&a) {
                continue;
            }
            let Ok(oh) = self.file.header(a) else {
                continue;
            };
            if self.open_check(&oh).is_err() {
                continue;
            }
            let p = join(path, &name_of(&l.name));
            self.paths.insert(a, p.clone());
            if kind_of(&oh) == Some(ObjectKind::Group) {
                self.index(a, &p, depth + 1);
            }
        }
    }

    /// What libhdf5 checks when it opens an object: every datatype, dataspace, fill value,
    /// layout, filter pipeline, modification time and link info message of the header must
    /// decode, and a dataset's messages must agree with each other. The library API stays
    /// lazy; the canonical walk treats an object failing this as unopenable, as the oracle does.
    fn open_check(&self, oh: &ObjectHeader) -> Result<()> {
        use h5oxide_format::messages::fill_value::FillValue;
        use h5oxide_format::messages::filter_pipeline::FilterPipeline;
        use h5oxide_format::messages::link_info::LinkInfoMessage;
        use h5oxide_format::object_header::{body, msg};
        let ctx = self.file.ctx();
        for m in oh.messages.iter().filter(|m| !m.is_shared()) {
            match m.kind {
                msg::DATATYPE => {
                    Datatype::from_bytes(&m.data, m.addr, ctx.sizes)?;
                }
                msg::DATASPACE => {
                    Dataspace::decode(&mut body(&ctx, m, "dataspace message"))?;
                }
                msg::FILL_VALUE => {
                    FillValue::decode(&mut body(&ctx, m, "fill value message"))?;
                }
                msg::FILL_VALUE_OLD => {
                    FillValue::decode_old(&mut body(&ctx, m, "old fill value message"))?;
                }
                msg::LAYOUT => {
                    DataLayout::decode(&mut body(&ctx, m, "data layout message"))?;
                }
                msg::FILTER_PIPELINE => {
                    FilterPipeline::decode(&mut body(&ctx, m, "filter pipeline message"))?;
                }
                msg::MTIME => {
                    let mut c = body(&ctx, m, "modification time message");
                    let v = c.u8()?;
                    if v != 1 {
                        return Err(Error::UnsupportedVersion {
                            structure: "modification time message",
                            version: v as u32,
                        });
                    }
                    c.skip(3)?;
                    c.u32()?;
                }
                msg::LINK_INFO => {
                    let li = LinkInfoMessage::decode(&mut body(&ctx, m, "link info message"))?;
                    // The maximum creation index is a signed 64-bit value.
                    if li.max_creation_index.is_some_and(|v| v > i64::MAX as u64) {
                        return Err(Error::corrupt(
                            "link info message",
                            m.addr,
                            "negative maximum creation index",
                        ));
                    }
                }
                _ => {}
            }
        }
        if kind_of(oh) == Some(ObjectKind::Dataset) {
            let info = DatasetInfo::from_header(&self.file, oh)?;
            let fixed = !info.dtype.has_variable_parts();
            if let Some(v) = info.fill.as_ref().and_then(|f| f.value.as_ref()) {
                if fixed && !v.is_empty() && v.len() != info.dtype.size() as usize {
                    return Err(Error::corrupt(
                        "fill value message",
                        oh.addr,
                        format!(
                            "fill value of {} bytes for a datatype of {}",
                            v.len(),
                            info.dtype.size()
                        ),
                    ));
                }
            }
            if matches!(info.layout, DataLayout::Contiguous { .. }) && fixed {
                info.num_bytes()?;
            }
        }
        Ok(())
    }

    fn ref_path(&self, addr: u64) -> Json {
        if addr == 0 || addr == u64::MAX || addr == u32::MAX as u64 {
            return Json::Null;
        }
        match self.paths.get(&addr) {
            Some(p) => s(p),
            None => s("<unreachable>"),
        }
    }

    /// Whether libhdf5's native-info query for index/heap sizes succeeds on the object:
    /// `structures_ok` covers the object's own structures (group B-tree and heaps, chunk
    /// index, external-file heap); dense attribute storage is checked here.
    fn native_meta_ok(&self, oh: &ObjectHeader, structures_ok: bool) -> bool {
        use h5oxide_format::messages::attribute_info::AttributeInfoMessage;
        if !structures_ok {
            return false;
        }
        let ctx = self.file.ctx();
        let Some(m) = oh.find(h5oxide_format::object_header::msg::ATTRIBUTE_INFO) else {
            return true;
        };
        if oh.version < 2 {
            return true;
        }
        let check = || -> Result<()> {
            let ai = AttributeInfoMessage::decode(&mut h5oxide_format::object_header::body(
                &ctx,
                m,
                "attribute info message",
            ))?;
            if ai.fractal_heap_address != h5oxide_format::UNDEF {
                h5oxide_format::fractal_heap::FractalHeapHeader::read(
                    &ctx,
                    ai.fractal_heap_address,
                )?;
            }
            if ai.name_index_address != h5oxide_format::UNDEF {
                h5oxide_format::btree_v2::BTreeV2Header::read(&ctx, ai.name_index_address)?;
            }
            if let Some(a) = ai
                .creation_order_index_address
                .filter(|&a| a != h5oxide_format::UNDEF)
            {
                h5oxide_format::btree_v2::BTreeV2Header::read(&ctx, a)?;
            }
            Ok(())
        };
        check().is_ok()
    }

    fn common(
        &mut self,
        oh: &ObjectHeader,
        d: &mut Map,
        track_attr_order: bool,
        structures_ok: bool,
    ) {
        d.insert("ohdr_version".into(), int(oh.version as u64));
        let meta_ok = self.native_meta_ok(oh, structures_ok);
        let listed = h5oxide_format::attributes::attribute_messages_with(
            &self.file.ctx(),
            oh,
            self.file.sohm(),
        );
        // libhdf5 decodes every attribute message (name, datatype, dataspace, data) before
        // iterating, so one undecodable attribute makes the whole iteration fail.
        let decoded = listed.and_then(|attrs| {
            let list = attrs
                .attributes
                .iter()
                .map(|a| {
                    crate::attribute::Attribute::from_message(&self.file, &a.message)
                        .map(|x| (name_of(&a.message.name), x))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((attrs.storage, attrs.attr_order, list))
        });
        match decoded {
            Ok((storage, attr_order, list)) => {
                d.insert(
                    "attr_storage".into(),
                    if meta_ok {
                        s(storage.as_str())
                    } else {
                        Json::Null
                    },
                );
                let mut out = Map::new();
                for (name, a) in &list {
                    let a = self.attribute(a);
                    out.insert(name.clone(), a);
                }
                d.insert("attrs".into(), Json::Object(out));
                if track_attr_order {
                    let order = match &attr_order {
                        Some(o) => Json::Array(o.iter().map(|n| s(&name_of(n))).collect()),
                        None => Json::Null,
                    };
                    d.insert("attr_order".into(), order);
                }
            }
            Err(e) => {
                // The storage form comes from the native-info query, which does not decode
                // attribute messages; only a broken attribute info message defeats it.
                let storage = if meta_ok {
                    attr_storage_kind(&self.file.ctx(), oh)
                } else {
                    Json::Null
                };
                d.insert("attr_storage".into(), storage);
                let mut em = Map::new();
                let mut inner = Map::new();
                inner.insert("error".into(), err_text(&e));
                em.insert("<error>".into(), Json::Object(inner));
                d.insert("attrs".into(), Json::Object(em));
                if track_attr_order {
                    d.insert("attr_order".into(), Json::Null);
                }
            }
        }
    }

    fn attribute(&mut self, a: &crate::attribute::Attribute) -> Json {
        let mut d = Map::new();
        d.insert("dtype".into(), dtype_json(&a.dtype));
        space_keys(&a.space, &mut d, false);
        let data = a.data.clone();
        self.values(&mut d, &a.dtype, &a.space, move || Ok(data));
        Json::Object(d)
    }

    fn group(&mut self, addr: u64, path: &str, depth: u32) -> Json {
        let mut d = Map::new();
        d.insert("kind".into(), s("group"));
        let oh = match self.file.header(addr) {
            Ok(oh) => oh,
            Err(e) => {
                let mut m = Map::new();
                m.insert("kind".into(), s("error"));
                m.insert("error".into(), err_text(&e));
                return Json::Object(m);
            }
        };
        let structures_ok =
            h5oxide_format::group::check_index_structures(&self.file.ctx(), &oh).is_ok();
        self.common(&oh, &mut d, oh.tracks_attr_creation_order(), structures_ok);
        let gl = self.group_links(addr);
        let gl = match gl {
            Ok(gl) => gl,
            Err(e) => {
                let storage = h5oxide_format::group::counted_storage(&self.file.ctx(), &oh);
                d.insert(
                    "storage".into(),
                    storage.map(|st| s(st.as_str())).unwrap_or(Json::Null),
                );
                d.insert("links".into(), Json::Object(Map::new()));
                d.insert("error".into(), err_text(&e));
                return Json::Object(d);
            }
        };
        d.insert("storage".into(), s(gl.storage.as_str()));
        if gl.creation_order_tracked {
            let order = match &gl.link_order {
                Some(o) => Json::Array(o.iter().map(|n| s(&name_of(n))).collect()),
                None => Json::Null,
            };
            d.insert("link_order".into(), order);
        }
        let mut links = gl.links.clone();
        links.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = Map::new();
        for l in links {
            let name = name_of(&l.name);
            let p = join(path, &name);
            out.insert(name, self.link(&l, &p, depth));
        }
        d.insert("links".into(), Json::Object(out));
        Json::Object(d)
    }

    fn link(&mut self, l: &h5oxide_format::messages::link::Link, path: &str, depth: u32) -> Json {
        use h5oxide_format::messages::link::LinkTarget;
        let mut d = Map::new();
        match &l.target {
            LinkTarget::Soft(t) => {
                d.insert("kind".into(), s("softlink"));
                d.insert("target".into(), Json::text(t));
            }
            LinkTarget::External { file, path } => {
                d.insert("kind".into(), s("extlink"));
                d.insert("file".into(), Json::text(file));
                d.insert("path".into(), Json::text(path));
            }
            LinkTarget::UserDefined { class, .. } => {
                d.insert("kind".into(), s("udlink"));
                d.insert("link_class".into(), int(*class as u64));
            }
            LinkTarget::Hard(a) => {
                let a = *a;
                let oh = match self
                    .file
                    .header(a)
                    .and_then(|oh| self.open_check(&oh).map(|()| oh))
                {
                    Ok(oh) => oh,
                    Err(e) => {
                        d.insert("kind".into(), s("error"));
                        d.insert("error".into(), err_text(&e));
                        return Json::Object(d);
                    }
                };
                if self.emitted.contains(&a) {
                    d.insert("kind".into(), s("hardlink"));
                    d.insert("target".into(), self.ref_path(a));
                    return Json::Object(d);
                }
                self.emitted.insert(a);
                if depth > 256 {
                    d.insert("kind".into(), s("error"));
                    d.insert("error".into(), s("group nesting too deep"));
                    return Json::Object(d);
                }
                return match kind_of(&oh) {
                    Some(ObjectKind::Group) => self.group(a, path, depth + 1),
                    Some(ObjectKind::Dataset) => self.dataset(&oh),
                    Some(ObjectKind::Datatype) => self.datatype(&oh),
                    None => {
                        d.insert("kind".into(), s("error"));
                        d.insert("error".into(), s("unknown object type"));
                        Json::Object(d)
                    }
                };
            }
        }
        Json::Object(d)
    }

    fn datatype(&mut self, oh: &ObjectHeader) -> Json {
        let mut d = Map::new();
        d.insert("kind".into(), s("datatype"));
        self.common(oh, &mut d, false, true);
        let dt = oh
            .find(h5oxide_format::object_header::msg::DATATYPE)
            .ok_or_else(|| Error::NotFound("datatype message".into()))
            .and_then(|m| Datatype::from_bytes(&m.data, m.addr, self.file.sb.sizes));
        match dt {
            Ok(dt) => {
                d.insert("dtype".into(), dtype_json(&dt));
            }
            Err(e) => {
                let mut m = Map::new();
                m.insert("kind".into(), s("error"));
                m.insert("error".into(), err_text(&e));
                return Json::Object(m);
            }
        }
        Json::Object(d)
    }

    fn dataset(&mut self, oh: &Arc<ObjectHeader>) -> Json {
        let info = match DatasetInfo::from_header(&self.file, oh) {
            Ok(i) => i,
            Err(e) => {
                let mut m = Map::new();
                m.insert("kind".into(), s("error"));
                m.insert("error".into(), err_text(&e));
                return Json::Object(m);
            }
        };
        let mut d = Map::new();
        d.insert("kind".into(), s("dataset"));
        let chunk_summary = match &info.layout {
            DataLayout::Chunked(c) => {
                let filtered = info
                    .pipeline
                    .as_ref()
                    .is_some_and(|p| !p.filters.is_empty());
                let max = crate::read::max_dims(&info);
                Some(crate::chunked::chunk_summary(
                    &self.file.ctx(),
                    c,
                    info.space.dims(),
                    &max,
                    filtered,
                ))
            }
            _ => None,
        };
        // libhdf5 sizes the chunk index (a v1 B-tree is walked node by node) and the
        // external-file name heap when asked for the object's native info.
        let mut structures_ok = true;
        if let (DataLayout::Chunked(c), Some(Err(_))) = (&info.layout, &chunk_summary) {
            if matches!(
                c.index,
                h5oxide_format::messages::layout::ChunkIndexKind::BTreeV1 { .. }
            ) {
                structures_ok = false;
            }
        }
        if let Some(efl) = &info.external {
            if h5oxide_format::local_heap::LocalHeap::check_for_size(
                &self.file.ctx(),
                efl.heap_address,
            )
            .is_err()
            {
                structures_ok = false;
            }
        }
        self.common(oh, &mut d, oh.tracks_attr_creation_order(), structures_ok);
        d.insert("dtype".into(), dtype_json(&info.dtype));
        space_keys(&info.space, &mut d, true);
        let (layout, chunks, index) = match &info.layout {
            DataLayout::Compact { .. } => ("compact", Json::Null, Json::Null),
            DataLayout::Contiguous { .. } => ("contiguous", Json::Null, Json::Null),
            DataLayout::Chunked(c) => (
                "chunked",
                Json::Array(c.chunk_dims.iter().map(|&x| int(x)).collect()),
                s(c.index.name()),
            ),
            DataLayout::Virtual { .. } => ("virtual", Json::Null, Json::Null),
        };
        d.insert("layout".into(), s(layout));
        d.insert("chunks".into(), chunks);
        d.insert("chunk_index".into(), index);
        let filters = info
            .pipeline
            .as_ref()
            .map(|p| {
                p.filters
                    .iter()
                    .map(|f| {
                        let mut m = Map::new();
                        m.insert("id".into(), int(f.id as u64));
                        m.insert("flags".into(), int(f.flags as u64));
                        m.insert(
                            "params".into(),
                            Json::Array(f.cd_values.iter().map(|&v| int(v as u64)).collect()),
                        );
                        Json::Object(m)
                    })
                    .collect()
            })
            .unwrap_or_default();
        d.insert("filters".into(), Json::Array(filters));
        d.insert("fill".into(), self.fill(&info));
        // storage
        match &info.layout {
            DataLayout::Compact { data } => {
                d.insert("storage_size".into(), int(data.len() as u64));
            }
            DataLayout::Contiguous { address, size } => {
                let sz = if info.external.is_some() {
                    info.num_bytes().unwrap_or(0)
                } else if *address == h5oxide_format::UNDEF {
                    0
                } else {
                    // libhdf5 reports the size stored in the layout message (versions 1 and 2
                    // store none; the decoder derives it from the stored dimensions).
                    *size
                };
                d.insert("storage_size".into(), int(sz));
            }
            DataLayout::Chunked(c) => {
                let filtered = info
                    .pipeline
                    .as_ref()
                    .is_some_and(|p| !p.filters.is_empty());
                let max = crate::read::max_dims(&info);
                match crate::chunked::chunk_summary(
                    &self.file.ctx(),
                    c,
                    info.space.dims(),
                    &max,
                    filtered,
                ) {
                    Ok(sum) => {
                        d.insert("storage_size".into(), int(sum.storage_size));
                        d.insert("num_chunks".into(), int(sum.num_chunks));
                        if sum.chunk_info.len() <= CHUNK_LIST_LIMIT {
                            let items = sum
                                .chunk_info
                                .iter()
                                .map(|r| {
                                    Json::Array(vec![
                                        Json::Array(r.offset.iter().map(|&o| int(o)).collect()),
                                        int(r.filter_mask as u64),
                                        int(r.size),
                                    ])
                                })
                                .collect();
                            d.insert("chunk_info".into(), Json::Array(items));
                        }
                    }
                    Err(e) => {
                        d.insert("storage_size".into(), Json::Null);
                        d.insert("num_chunks".into(), Json::Null);
                        d.insert("chunk_error".into(), err_text(&e));
                    }
                }
            }
            DataLayout::Virtual { .. } => {
                d.insert("storage_size".into(), int(0));
            }
        }
        if let Some(efl) = &info.external {
            let heap =
                h5oxide_format::local_heap::LocalHeap::read(&self.file.ctx(), efl.heap_address);
            let items = efl
                .slots
                .iter()
                .map(|sl| {
                    let mut m = Map::new();
                    let name = heap
                        .as_ref()
                        .ok()
                        .and_then(|h| h.string_at(sl.name_offset).ok())
                        .unwrap_or(&[]);
                    m.insert("name".into(), Json::text(name));
                    // libhdf5 keeps external offsets as a signed off_t.
                    m.insert("offset".into(), Json::Int(sl.offset as i64 as i128));
                    m.insert(
                        "size".into(),
                        if sl.size == u64::MAX {
                            Json::Null
                        } else {
                            int(sl.size)
                        },
                    );
                    Json::Object(m)
                })
                .collect();
            d.insert("external".into(), Json::Array(items));
        }
        if let Some(v) = &info.virtual_layout {
            let items = v
                .mappings
                .iter()
                .map(|m| {
                    let mut o = Map::new();
                    o.insert("file".into(), s(&m.file));
                    o.insert("dataset".into(), s(&m.dataset));
                    o.insert(
                        "vspace".into(),
                        super::dtype::selection_json(&m.virtual_sel, false),
                    );
                    o.insert(
                        "srcspace".into(),
                        super::dtype::selection_json(&m.source, false),
                    );
                    Json::Object(o)
                })
                .collect();
            d.insert("virtual".into(), Json::Array(items));
        }
        let file = self.file.clone();
        let info2 = info.clone();
        self.values(&mut d, &info.dtype, &info.space, move || {
            let n = info2.num_bytes()?;
            let mut out = vec![0u8; n as usize];
            if n > 0 {
                crate::read::read_all(&file, &info2, &mut out)?;
            }
            Ok(out)
        });
        Json::Object(d)
    }

    fn fill(&mut self, info: &DatasetInfo) -> Json {
        let mut m = Map::new();
        let (status, alloc, ftime) = match &info.fill {
            Some(f) => (f.status, f.alloc_time, f.fill_time),
            None => (FillStatus::Undefined, None, FillTime::IfSet),
        };
        let alloc = alloc.unwrap_or(match info.layout {
            DataLayout::Compact { .. } => AllocTime::Early,
            DataLayout::Contiguous { .. } => AllocTime::Late,
            _ => AllocTime::Incremental,
        });
        m.insert(
            "status".into(),
            s(match status {
                FillStatus::Undefined => "undefined",
                FillStatus::Default => "default",
                FillStatus::User => "user",
            }),
        );
        m.insert(
            "alloc_time".into(),
            s(match alloc {
                AllocTime::Early => "early",
                AllocTime::Late => "late",
                AllocTime::Incremental => "incr",
            }),
        );
        m.insert(
            "fill_time".into(),
            s(match ftime {
                FillTime::Alloc => "alloc",
                FillTime::Never => "never",
                FillTime::IfSet => "ifset",
            }),
        );
        let dt = &info.dtype;
        let mut value = Json::Null;
        if status != FillStatus::Undefined
            && !dt.has_variable_parts()
            && dt.size() > 0
            && u64::from(dt.size()) <= DATA_BYTES_LIMIT
            && raw_hashable(dt)
            && leaves(dt) <= LEAF_LIMIT
        {
            let bytes = info.fill_bytes();
            if let Ok(v) = h5oxide_format::value::decode(dt, &bytes, &self.file.ctx()) {
                value = value_json(&v, &mut |a| self.ref_path(a));
            }
        }
        m.insert("value".into(), value);
        Json::Object(m)
    }

    /// The data keys (§8) of a dataset or attribute.
    fn values(
        &mut self,
        d: &mut Map,
        dt: &Datatype,
        space: &Dataspace,
        read: impl FnOnce() -> Result<Vec<u8>>,
    ) {
        if matches!(space, Dataspace::Null) {
            return;
        }
        let dims = space.dims().to_vec();
        let n = space.num_elements().unwrap_or(u64::MAX);
        let var = dt.has_variable_parts();
        let per = if var { 16 } else { (dt.size() as u64).max(1) };
        // Without elements, a zero extent after large ones still nests into that many empty
        // arrays (`[k, 0]` is `k` of them); with elements, every prefix product is at most `n`.
        let empty_arrays = n == 0 && nested_arrays(&dims) > LEAF_LIMIT;
        if n.saturating_mul(per) > DATA_BYTES_LIMIT || empty_arrays {
            d.insert("data_skipped".into(), s("too large"));
            return;
        }
        let inline = n <= VALUE_LIMIT && n.saturating_mul(leaves(dt)) <= LEAF_LIMIT;
        let result = (|| -> Result<(Option<String>, Option<String>, Option<Json>)> {
            let raw = read()?;
            let ctx = self.file.ctx();
            if unreadable_by_oracle(dt) {
                return Err(Error::unsupported(
                    "reading revised references (h5py cannot either)",
                ));
            }
            if raw_hashable(dt) {
                let digest = raw_sha256(dt, &raw, n, self.file.sb.sizes.offset)
                    .ok_or_else(|| Error::corrupt("dataset", 0, "fewer bytes than elements"))?;
                let value = if inline {
                    let vals = h5oxide_format::value::Decoder::new(ctx)
                        .decode_many(dt, &raw, n as usize)?;
                    let flat = vals
                        .iter()
                        .map(|v| value_json(v, &mut |a| self.ref_path(a)))
                        .collect();
                    Some(nest(flat, &dims))
                } else {
                    None
                };
                Ok((Some(digest), None, value))
            } else {
                // h5py does not byte-swap big-endian numbers directly inside a vlen sequence; the
                // canonical form reproduces what h5py shows (the library API reads them right).
                let odt = super::dtype::oracle_read_type(dt);
                let vals =
                    h5oxide_format::value::Decoder::new(ctx).decode_many(&odt, &raw, n as usize)?;
                let flat: Vec<Json> = vals
                    .iter()
                    .map(|v| value_json(v, &mut |a| self.ref_path(a)))
                    .collect();
                let whole = nest(flat, &dims);
                let digest =
                    super::dtype::hex(&Sha256::digest(whole.to_canonical_string().as_bytes()));
                Ok((None, Some(digest), if inline { Some(whole) } else { None }))
            }
        })();
        match result {
            Ok((sha, jsha, value)) => {
                if let Some(h) = sha {
                    d.insert("sha256".into(), Json::Str(h));
                }
                if let Some(h) = jsha {
                    d.insert("json_sha256".into(), Json::Str(h));
                }
                if let Some(v) = value {
                    d.insert("value".into(), v);
                }
            }
            Err(e) => {
                d.insert("read_error".into(), err_text(&e));
            }
        }
    }
}

/// `"dense"` when the header's attribute info message names a fractal heap, else `"compact"`;
/// `null` when that message cannot be decoded.
fn attr_storage_kind(ctx: &h5oxide_format::source::Ctx<'_>, oh: &ObjectHeader) -> Json {
    use h5oxide_format::messages::attribute_info::AttributeInfoMessage;
    match oh.find(h5oxide_format::object_header::msg::ATTRIBUTE_INFO) {
        None => s("compact"),
        Some(m) => match AttributeInfoMessage::decode(&mut h5oxide_format::object_header::body(
            ctx,
            m,
            "attribute info message",
        )) {
            Ok(ai) if ai.fractal_heap_address != h5oxide_format::UNDEF => s("dense"),
            Ok(_) => s("compact"),
            Err(_) => Json::Null,
        },
    }
}

fn space_keys(space: &Dataspace, d: &mut Map, maxshape: bool) {
    match space {
        Dataspace::Null => {
            d.insert("space".into(), s("null"));
            d.insert("shape".into(), Json::Null);
            if maxshape {
                d.insert("maxshape".into(), Json::Null);
            }
        }
        Dataspace::Scalar => {
            d.insert("space".into(), s("scalar"));
            d.insert("shape".into(), Json::Array(vec![]));
            if maxshape {
                d.insert("maxshape".into(), Json::Array(vec![]));
            }
        }
        Dataspace::Simple { dims, max } => {
            d.insert("space".into(), s("simple"));
            d.insert(
                "shape".into(),
                Json::Array(dims.iter().map(|&x| int(x)).collect()),
            );
            if maxshape {
                d.insert(
                    "maxshape".into(),
                    Json::Array(
                        max.iter()
                            .map(|m| m.map(int).unwrap_or(Json::Null))
                            .collect(),
                    ),
                );
            }
        }
    }
}

/// How many JSON arrays the nested value of shape `dims` takes: 1 for the outermost, then one per
/// element of each prefix of the shape.
fn nested_arrays(dims: &[u64]) -> u64 {
    let mut arrays = 0u64;
    let mut outer = 1u64;
    for &d in dims {
        arrays = arrays.saturating_add(outer);
        outer = outer.saturating_mul(d);
    }
    arrays
}
