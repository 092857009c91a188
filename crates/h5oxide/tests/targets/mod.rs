//! The fuzz targets' bodies, shared by the cargo-fuzz crate (`fuzz/`, which includes this file
//! with `#[path]`) and the regression test (`tests/regressions.rs`), so a saved crashing input is
//! replayed through exactly the code that found it.
//!
//! Input conventions: every per-decoder target reads a small header followed by the structure's
//! bytes, so that seeds extracted from real files and fuzzer mutations share one layout:
//!
//! * byte 0 selects the file's "Size of Offsets" and "Size of Lengths" ([`sizes`]);
//! * the rest is the message body (datatype, dataspace, layout, filter pipeline, attribute), or
//!   for `value` a `u16` datatype length, the datatype and then the element bytes, or for
//!   `object_header` a `u16` address followed by the file image the header is read from;
//! * the structure targets (`btree_v1`, `btree_v2`, `fractal_heap`, `local_heap`,
//!   `global_heap`, `symbol_table_node`) read `[sizes][u16 address][target bytes][file image]`
//!   and walk the structure at that address of the image; `chunk_index` reads `[sizes][u16
//!   length][layout message][u16 length][dataspace message][filtered flag][file image]`;
//!   `link_messages` decodes its body as each of the group messages;
//! * filter targets use [`FilterInput`].
//!
//! Each target returns the first error of its chain of decoders, `Ok(())` when all succeed.
#![allow(dead_code)]

use h5oxide_format::datatype::Datatype;
use h5oxide_format::messages::attribute::AttributeMessage;
use h5oxide_format::messages::dataspace::Dataspace;
use h5oxide_format::messages::filter_pipeline::FilterPipeline;
use h5oxide_format::messages::layout::DataLayout;
use h5oxide_format::object_header::ObjectHeader;
use h5oxide_format::{Ctx, Cursor, Error, Limits, Result, Sizes};

/// Every target name, as used by `fuzz/` and the regressions manifest.
pub const TARGETS: &[&str] = &[
    "whole_file",
    "superblock",
    "object_header",
    "datatype",
    "dataspace",
    "layout",
    "filter_pipeline",
    "attribute",
    "value",
    "btree_v1",
    "btree_v2",
    "fractal_heap",
    "local_heap",
    "global_heap",
    "symbol_table_node",
    "chunk_index",
    "link_messages",
    "vds_mapping",
    "cache_image",
    "filter_deflate",
    "filter_shuffle",
    "filter_fletcher32",
    "filter_szip",
    "filter_nbit",
    "filter_scaleoffset",
    "filter_lzf",
    "filter_blosc",
    "filter_lz4",
    "filter_bitshuffle",
    "filter_zstd",
    "filter_bzip2",
    "filter_blosc2",
];

/// Runs target `name` on `data`; `None` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> Option<Result<()>> {
    Some(match name {
        "whole_file" => whole_file(data),
        "superblock" => superblock(data),
        "object_header" => object_header(data),
        "datatype" => datatype(data),
        "dataspace" => dataspace(data),
        "layout" => layout(data),
        "filter_pipeline" => filter_pipeline(data),
        "attribute" => attribute(data),
        "value" => value(data),
        "btree_v1" => btree_v1(data),
        "btree_v2" => btree_v2(data),
        "fractal_heap" => fractal_heap(data),
        "local_heap" => local_heap(data),
        "global_heap" => global_heap(data),
        "symbol_table_node" => symbol_table_node(data),
        "chunk_index" => chunk_index(data),
        "link_messages" => link_messages(data),
        "vds_mapping" => vds_mapping(data),
        "cache_image" => cache_image(data),
        _ => filter(filter_id(name)?, data),
    })
}

/// The HDF5 filter id of a `filter_<name>` target.
pub fn filter_id(name: &str) -> Option<u16> {
    Some(match name.strip_prefix("filter_")? {
        "deflate" => 1,
        "shuffle" => 2,
        "fletcher32" => 3,
        "szip" => 4,
        "nbit" => 5,
        "scaleoffset" => 6,
        "bzip2" => 307,
        "lzf" => 32000,
        "blosc" => 32001,
        "lz4" => 32004,
        "bitshuffle" => 32008,
        "zstd" => 32015,
        "blosc2" => 32026,
        _ => return None,
    })
}

/// The sizes of offsets and lengths selected by a byte: the low 2 bits pick the offset size and
/// the next 2 bits the length size, each from 8, 4, 2, 8.
pub fn sizes(b: u8) -> Sizes {
    const W: [u8; 4] = [8, 4, 2, 8];
    Sizes {
        offset: W[(b & 3) as usize],
        length: W[((b >> 2) & 3) as usize],
    }
}

/// The byte that [`sizes`] maps to `s` (for writing seeds).
pub fn sizes_byte(s: Sizes) -> u8 {
    let idx = |w: u8| match w {
        4 => 1u8,
        2 => 2,
        _ => 0,
    };
    idx(s.offset) | (idx(s.length) << 2)
}

/// Limits for the per-decoder targets: small enough that a hostile size is refused long before
/// memory runs out, large enough for every structure of a real file.
pub fn limits() -> Limits {
    Limits {
        max_metadata_bytes: 16 << 20,
        max_data_bytes: 64 << 20,
        ..Limits::default()
    }
}

/// A decoding context over `image` with the fuzzing [`limits`].
#[allow(clippy::ptr_arg)] // a `Vec<u8>` is a `Source`; a slice cannot become `&dyn Source`
fn fuzz_ctx(image: &Vec<u8>, sizes: Sizes) -> Ctx<'_> {
    let mut ctx = Ctx::new(image, sizes);
    ctx.limits = limits();
    ctx
}

fn split_sizes(data: &[u8]) -> Result<(Sizes, &[u8])> {
    let (&s, body) = data
        .split_first()
        .ok_or_else(|| Error::Invalid("fuzz input: empty".into()))?;
    Ok((sizes(s), body))
}

/// The whole file: open the image in memory and walk everything, as `dump --canonical` does.
/// The result is the error of opening it (the superblock, the root group's header, the root being
/// a group); the dump, which may also refuse files that open (e.g. a bad metadata cache image),
/// must then fail too.
pub fn whole_file(data: &[u8]) -> Result<()> {
    let (_, ok) = h5oxide::canonical::dump_bytes(data.to_vec());
    let open = (|| {
        let f = h5oxide::File::from_bytes(data.to_vec())?;
        let root = f.superblock().root_object_header_address;
        let oh = f.inner().header(root)?;
        if h5oxide::object::kind_of(&oh) != Some(h5oxide::ObjectKind::Group) {
            return Err(Error::corrupt(
                "root group",
                root,
                "the root object is not a group",
            ));
        }
        Ok(())
    })();
    if let Err(e) = &open {
        assert!(
            !ok,
            "dump_bytes gave a document where opening fails with {e}"
        );
    }
    open
}

/// The superblock search and decoder.
pub fn superblock(data: &[u8]) -> Result<()> {
    h5oxide_format::superblock::Superblock::find(&data.to_vec()).map(|_| ())
}

/// An object header (with continuation chunks) from a `Vec<u8>` source, then its links and
/// attributes: `[sizes][addr: u16][file image]`.
pub fn object_header(data: &[u8]) -> Result<()> {
    if data.len() < 3 {
        return Err(Error::Invalid("fuzz input: too short".into()));
    }
    let sizes = sizes(data[0]);
    let addr = u16::from_le_bytes([data[1], data[2]]) as u64;
    let image: Vec<u8> = data[3..].to_vec();
    let ctx = fuzz_ctx(&image, sizes);
    let oh = ObjectHeader::read(&ctx, addr)?;
    let links = h5oxide_format::group::links(&ctx, &oh);
    let attrs = h5oxide_format::attributes::attribute_messages(&ctx, &oh);
    links?;
    attrs?;
    Ok(())
}

/// The Datatype message.
pub fn datatype(data: &[u8]) -> Result<()> {
    let (s, body) = split_sizes(data)?;
    let dt = Datatype::from_bytes(body, 0, s)?;
    let _ = (dt.size(), dt.has_variable_parts(), dt.array_len());
    Ok(())
}

/// The Dataspace message.
pub fn dataspace(data: &[u8]) -> Result<()> {
    let (s, body) = split_sizes(data)?;
    let d = Dataspace::decode(&mut Cursor::new(body, 0, "dataspace message", s))?;
    let _ = d.num_elements();
    Ok(())
}

/// The Data Layout message.
pub fn layout(data: &[u8]) -> Result<()> {
    let (s, body) = split_sizes(data)?;
    let l = DataLayout::decode(&mut Cursor::new(body, 0, "layout message", s))?;
    if let Some(c) = l.chunked() {
        let _ = (c.chunk_elements(), c.chunk_bytes(), c.index_address());
    }
    Ok(())
}

/// The mapping block of a virtual dataset (`[sizes][block without its checksum]`; the target
/// appends the lookup3 checksum so mutations reach the entries), then what the reader derives
/// from each selection.
pub fn vds_mapping(data: &[u8]) -> Result<()> {
    let (s, body) = split_sizes(data)?;
    let mut block = body.to_vec();
    let sum = h5oxide_format::checksum::lookup3(body, 0);
    block.extend_from_slice(&sum.to_le_bytes());
    let maps = h5oxide_format::vds::decode_mappings(&block, 0, s, 1 << 16)?;
    for m in &maps {
        for sel in [&m.source, &m.virtual_sel] {
            let _ = (sel.npoints(), sel.regular(), sel.points(1000));
        }
    }
    Ok(())
}

/// A metadata cache image block (`[sizes][block without its checksum]`): the target writes the
/// block's length field and appends the checksum, so mutations reach the entries; the first
/// bytes are also decoded as a cache image message.
pub fn cache_image(data: &[u8]) -> Result<()> {
    let (s, body) = split_sizes(data)?;
    let _ = h5oxide_format::cache_image::decode_message(body, 0, s);
    let mut block = body.to_vec();
    let total = block.len() as u64 + 4;
    let l = usize::from(s.length);
    if let Some(field) = block.get_mut(6..6 + l) {
        field.copy_from_slice(&total.to_le_bytes()[..l]);
    }
    let sum = h5oxide_format::checksum::lookup3(&block, 0);
    block.extend_from_slice(&sum.to_le_bytes());
    h5oxide_format::cache_image::decode_block(&block, 0, s).map(|_| ())
}

/// The Filter Pipeline message.
pub fn filter_pipeline(data: &[u8]) -> Result<()> {
    let (s, body) = split_sizes(data)?;
    FilterPipeline::decode(&mut Cursor::new(body, 0, "filter pipeline message", s)).map(|_| ())
}

/// The Attribute message, then its datatype, dataspace and (up to 64) element values; heap
/// references of variable-length elements point into the input.
pub fn attribute(data: &[u8]) -> Result<()> {
    let (sizes, body) = split_sizes(data)?;
    let a = AttributeMessage::decode(&mut Cursor::new(body, 0, "attribute message", sizes))?;
    if a.datatype_shared || a.dataspace_shared {
        return Ok(());
    }
    let dt = Datatype::from_bytes(&a.datatype, a.datatype_addr, sizes)?;
    let space = Dataspace::decode(&mut Cursor::new(
        &a.dataspace,
        a.dataspace_addr,
        "dataspace",
        sizes,
    ))?;
    let _ = space.num_elements();
    let image = body.to_vec();
    let ctx = fuzz_ctx(&image, sizes);
    let size = dt.size() as usize;
    if size == 0 {
        return Ok(());
    }
    let mut d = h5oxide_format::value::Decoder::new(ctx);
    for e in a.data.chunks_exact(size).take(64) {
        d.decode(&dt, e)?;
    }
    Ok(())
}

/// Element decoding for any datatype: `[sizes][datatype length: u16][datatype][elements]`; the
/// whole input is also the file image heap references point into.
pub fn value(data: &[u8]) -> Result<()> {
    if data.len() < 3 {
        return Err(Error::Invalid("fuzz input: too short".into()));
    }
    let sizes = sizes(data[0]);
    let n = u16::from_le_bytes([data[1], data[2]]) as usize;
    let dt_bytes = data
        .get(3..3 + n)
        .ok_or_else(|| Error::Invalid("fuzz input: datatype length".into()))?;
    let dt = Datatype::from_bytes(dt_bytes, 3, sizes)?;
    let elements = &data[3 + n..];
    let image = data.to_vec();
    let ctx = fuzz_ctx(&image, sizes);
    let mut d = h5oxide_format::value::Decoder::new(ctx);
    let size = dt.size() as usize;
    if size == 0 {
        return d.decode(&dt, elements).map(|_| ());
    }
    let count = (elements.len() / size).min(64);
    let many = d.decode_many(&dt, elements, count).map(|_| ());
    for e in elements.chunks_exact(size).take(64) {
        d.decode(&dt, e)?;
    }
    many
}

/// Largest decoded size a filter target asks for.
pub const MAX_FILTER_OUTPUT: usize = 16 << 20;

/// A filter target's input: `[n: u8][n × u32 cd_values][size_hint: u32][payload]`, with `n`
/// taken modulo 9 and `size_hint` modulo [`MAX_FILTER_OUTPUT`] + 1.
pub struct FilterInput<'a> {
    /// Client data values.
    pub cd_values: Vec<u32>,
    /// Expected decoded size.
    pub size_hint: usize,
    /// The filtered bytes.
    pub payload: &'a [u8],
}

impl<'a> FilterInput<'a> {
    /// Splits `data`; `None` when it is too short for the header.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (&n, rest) = data.split_first()?;
        let n = (n % 9) as usize;
        let cd_bytes = rest.get(..4 * n)?;
        let cd_values = cd_bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let rest = &rest[4 * n..];
        let hint = rest.get(..4)?;
        let size_hint = u32::from_le_bytes([hint[0], hint[1], hint[2], hint[3]]) as usize
            % (MAX_FILTER_OUTPUT + 1);
        Some(FilterInput {
            cd_values,
            size_hint,
            payload: &rest[4..],
        })
    }

    /// Encodes an input (for writing seeds).
    pub fn encode(cd_values: &[u32], size_hint: usize, payload: &[u8]) -> Vec<u8> {
        let n = cd_values.len().min(8);
        let mut v = vec![n as u8];
        for c in &cd_values[..n] {
            v.extend_from_slice(&c.to_le_bytes());
        }
        v.extend_from_slice(&(size_hint.min(MAX_FILTER_OUTPUT) as u32).to_le_bytes());
        v.extend_from_slice(payload);
        v
    }
}

/// The built-in filter `id`'s `decode` on a [`FilterInput`]. A filter that is not registered
/// gives [`Error::Unsupported`]. Panics if a successful decode breaks the filters' documented
/// output bound (twice the size hint plus 1 MiB, unless it does not expand its input).
pub fn filter(id: u16, data: &[u8]) -> Result<()> {
    let input =
        FilterInput::parse(data).ok_or_else(|| Error::Invalid("fuzz input: too short".into()))?;
    let registry = h5oxide_filters::Registry::default();
    let f = registry
        .get(id)
        .ok_or_else(|| Error::unsupported(format!("filter {id}")))?;
    let out = f.decode(input.payload, &input.cd_values, input.size_hint)?;
    assert!(
        out.len() <= input.size_hint.saturating_mul(2) + (1 << 20)
            || out.len() <= input.payload.len(),
        "filter {id} returned {} bytes for a size hint of {} and {} input bytes",
        out.len(),
        input.size_hint,
        input.payload.len()
    );
    Ok(())
}

/// `[sizes][u16 addr]` then the rest.
fn sizes_addr(data: &[u8]) -> Result<(Sizes, u64, &[u8])> {
    if data.len() < 3 {
        return Err(Error::Invalid("fuzz input: too short".into()));
    }
    Ok((
        sizes(data[0]),
        u16::from_le_bytes([data[1], data[2]]) as u64,
        &data[3..],
    ))
}

/// v1 B-tree (spec §III.A.1): `[sizes][addr][node type][rank][image]`; walks every leaf and
/// checks the levels, as group and chunk index reads do.
pub fn btree_v1(data: &[u8]) -> Result<()> {
    let (sizes, addr, rest) = sizes_addr(data)?;
    if rest.len() < 2 {
        return Err(Error::Invalid("fuzz input: too short".into()));
    }
    let node_type = rest[0] & 1;
    let rank = (rest[1] % 33) as usize;
    let image = rest[2..].to_vec();
    let ctx = fuzz_ctx(&image, sizes);
    let key_size = if node_type == 0 {
        sizes.length as usize
    } else {
        8 + 8 * (rank + 1)
    };
    let mut leaves = 0u64;
    h5oxide_format::btree_v1::visit_leaves(&ctx, addr, node_type, key_size, &mut |n| {
        leaves += n.children.len() as u64;
        Ok(())
    })?;
    h5oxide_format::btree_v1::check_levels(&ctx, addr, node_type, key_size)
}

/// v2 B-tree (spec §III.A.2): header, internal and leaf nodes, every record.
pub fn btree_v2(data: &[u8]) -> Result<()> {
    let (sizes, addr, rest) = sizes_addr(data)?;
    let image = rest.to_vec();
    let ctx = fuzz_ctx(&image, sizes);
    h5oxide_format::btree_v2::records(&ctx, addr).map(|_| ())
}

/// Fractal heap (spec §III.G): `[sizes][addr][id length][heap id][image]`; opens the heap and
/// gets the object of the id.
pub fn fractal_heap(data: &[u8]) -> Result<()> {
    let (sizes, addr, rest) = sizes_addr(data)?;
    let (&n, rest) = rest
        .split_first()
        .ok_or_else(|| Error::Invalid("fuzz input: too short".into()))?;
    let n = (n as usize).min(rest.len());
    let (id, image) = rest.split_at(n);
    let image = image.to_vec();
    let ctx = fuzz_ctx(&image, sizes);
    let mut heap = h5oxide_format::fractal_heap::FractalHeap::open(&ctx, addr)?;
    heap.get(&ctx, id).map(|_| ())
}

/// Local heap (spec §III.D): `[sizes][addr][u16 offset][image]`; reads the heap and the
/// string at the offset.
pub fn local_heap(data: &[u8]) -> Result<()> {
    let (sizes, addr, rest) = sizes_addr(data)?;
    if rest.len() < 2 {
        return Err(Error::Invalid("fuzz input: too short".into()));
    }
    let off = u16::from_le_bytes([rest[0], rest[1]]) as u64;
    let image = rest[2..].to_vec();
    let ctx = fuzz_ctx(&image, sizes);
    h5oxide_format::local_heap::LocalHeap::check_for_size(&ctx, addr)?;
    let heap = h5oxide_format::local_heap::LocalHeap::read(&ctx, addr)?;
    heap.string_at(off).map(|_| ())
}

/// Global heap collection (spec §III.E): `[sizes][addr][u16 index][image]`; reads the
/// collection, every object, and the object at the index.
pub fn global_heap(data: &[u8]) -> Result<()> {
    let (sizes, addr, rest) = sizes_addr(data)?;
    if rest.len() < 2 {
        return Err(Error::Invalid("fuzz input: too short".into()));
    }
    let index = u16::from_le_bytes([rest[0], rest[1]]) as u32;
    let image = rest[2..].to_vec();
    let ctx = fuzz_ctx(&image, sizes);
    let c = h5oxide_format::global_heap::GlobalHeapCollection::read(&ctx, addr)?;
    for i in c.indices().collect::<Vec<_>>() {
        c.object(i)?;
    }
    c.object(index).map(|_| ())
}

/// Symbol table node `SNOD` (spec §III.B) with the default leaf K.
pub fn symbol_table_node(data: &[u8]) -> Result<()> {
    let (sizes, addr, rest) = sizes_addr(data)?;
    let image = rest.to_vec();
    let mut ctx = fuzz_ctx(&image, sizes);
    ctx.group_leaf_k = 4;
    h5oxide_format::symbol_table::SymbolTableNode::read(&ctx, addr).map(|_| ())
}

/// A chunk index (spec Appendix C): the layout and dataspace messages from the input, the
/// index structures from the image; enumerates every record and looks up the first chunk.
pub fn chunk_index(data: &[u8]) -> Result<()> {
    let short = || Error::Invalid("fuzz input: too short".into());
    let (sizes, rest) = split_sizes(data)?;
    let take = |r: &[u8]| -> Result<(Vec<u8>, Vec<u8>)> {
        if r.len() < 2 {
            return Err(short());
        }
        let n = (u16::from_le_bytes([r[0], r[1]]) as usize).min(r.len() - 2);
        Ok((r[2..2 + n].to_vec(), r[2 + n..].to_vec()))
    };
    let (layout, rest) = take(rest)?;
    let (space, rest) = take(&rest)?;
    let (&filtered, image) = rest.split_first().ok_or_else(short)?;
    let image = image.to_vec();
    let ctx = fuzz_ctx(&image, sizes);
    let layout = DataLayout::decode(&mut Cursor::new(&layout, 0, "layout message", sizes))?;
    let space = Dataspace::decode(&mut Cursor::new(&space, 0, "dataspace message", sizes))?;
    let Some(c) = layout.chunked() else {
        return Ok(());
    };
    let (dims, max) = match space {
        Dataspace::Simple { dims, max } => (dims, max),
        _ => return Err(Error::Invalid("fuzz input: not a simple dataspace".into())),
    };
    let idx =
        h5oxide_format::chunk_index::ChunkIndex::open(&ctx, c, &dims, &max, filtered & 1 != 0)?;
    idx.records()?;
    idx.lookup(&vec![0; dims.len()]).map(|_| ())
}

/// The group and attribute-index messages (spec §IV.A.2.c, g, j, r, v): the body decoded as
/// each one.
pub fn link_messages(data: &[u8]) -> Result<()> {
    use h5oxide_format::messages::{link, link_info, symbol_table};
    let (sizes, body) = split_sizes(data)?;
    let cur = || Cursor::new(body, 0, "message", sizes);
    let a = link::Link::decode(&mut cur()).map(|_| ());
    let b = link_info::LinkInfoMessage::decode(&mut cur()).map(|_| ());
    let c = symbol_table::SymbolTableMessage::decode(&mut cur()).map(|_| ());
    let d = h5oxide_format::messages::attribute_info::AttributeInfoMessage::decode(&mut cur())
        .map(|_| ());
    let e = h5oxide_format::messages::group_info::GroupInfoMessage::decode(&mut cur()).map(|_| ());
    a.and(b).and(c).and(d).and(e)
}
