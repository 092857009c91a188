//! Round trips of the "latest" profile's encoders through this crate's decoders.

use super::btree_v2::BTreeV2Params;
use super::fixed_array::ChunkEntry;
use super::fractal_heap::{FractalHeapBuilder, HeapParams};
use super::link::{LinkInfo, LinkTarget};
use super::object_header::{msg_type, Message};
use super::*;
use crate::chunk_index::chunk_records;
use crate::cursor::{Cursor, Sizes};
use crate::fractal_heap::FractalHeap;
use crate::messages::dataspace::Dataspace;
use crate::messages::layout::{ChunkIndexKind, ChunkedLayout, DataLayout};
use crate::object_header::ObjectHeader;
use crate::source::Ctx;
use crate::Result;

/// A file image with `bytes` placed at `addr`.
fn image(addr: u64, bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; addr as usize];
    v.extend_from_slice(bytes);
    v
}

fn cursor<'a>(b: &'a [u8], what: &'static str) -> Cursor<'a> {
    Cursor::new(b, 0, what, Sizes::default())
}

#[test]
fn superblock_v3_round_trip() -> Result<()> {
    let mut file = superblock::encode_v3(48, 4096);
    assert_eq!(file.len(), superblock::SUPERBLOCK_V3_SIZE);
    file.resize(4096, 0);
    let sb = crate::superblock::Superblock::decode_at(&file, 0)?;
    assert_eq!(sb.version, 3);
    assert_eq!(sb.consistency_flags, 0);
    assert_eq!(sb.root_object_header_address, 48);
    assert_eq!(sb.eof_address, 4096);
    assert_eq!(sb.extension_address, UNDEF);
    Ok(())
}

#[test]
fn object_header_v2_round_trip() -> Result<()> {
    for (flags, big) in [(0u8, 10usize), (0x0c, 300), (0, 70_000)] {
        let mut msgs = vec![
            Message::new(msg_type::GROUP_INFO, 1, link::encode_group_info()),
            Message::new(msg_type::ATTRIBUTE, 0, vec![7; big.min(60_000)]).with_creation_order(3),
        ];
        if big > 65_535 {
            msgs.push(Message::new(msg_type::ATTRIBUTE, 0, vec![1; 20_000]));
        }
        let bytes = object_header::encode_v2(&msgs, flags)?;
        assert_eq!(bytes.len(), object_header::encoded_size_v2(&msgs, flags));
        let file = image(64, &bytes);
        let ctx = Ctx::new(&file, Sizes::default());
        let oh = ObjectHeader::read(&ctx, 64)?;
        assert_eq!(oh.version, 2);
        assert_eq!(oh.flags & 0x0c, flags);
        assert_eq!(oh.messages.len(), msgs.len());
        for (got, want) in oh.messages.iter().zip(&msgs) {
            assert_eq!(got.kind, want.msg_type);
            assert_eq!(got.data, want.body);
            if flags != 0 {
                assert_eq!(got.creation_order, Some(want.creation_order));
            }
        }
    }
    let too_big = [Message::new(msg_type::ATTRIBUTE, 0, vec![0; 70_000])];
    let err = object_header::encode_v2(&too_big, 0)
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("object header message is too large")));
    Ok(())
}

#[test]
fn messages_round_trip() -> Result<()> {
    // Dataspace v2.
    for space in [
        Dataspace::Scalar,
        Dataspace::Null,
        Dataspace::Simple {
            dims: vec![3, 0, 7],
            max: vec![Some(3), None, Some(9)],
        },
    ] {
        let b = dataspace::encode_v2(&space)?;
        assert_eq!(b[0], 2);
        assert_eq!(Dataspace::decode(&mut cursor(&b, "dataspace"))?, space);
    }
    // Fill value v3.
    let b = fill_value::encode_v3(3, 2, &fill_value::Fill::Value(vec![1, 2, 3, 4]))?;
    let fv = crate::messages::fill_value::FillValue::decode(&mut cursor(&b, "fill value"))?;
    assert_eq!(fv.value, Some(vec![1, 2, 3, 4]));
    let b = fill_value::encode_v3(2, 2, &fill_value::Fill::Default)?;
    assert_eq!(b, vec![3, 0x0a]);
    // Filter pipeline v2.
    let filters = vec![
        filter_pipeline::FilterSpec {
            id: 1,
            name: "deflate".into(),
            optional: true,
            cd_values: vec![4],
        },
        filter_pipeline::FilterSpec {
            id: 32000,
            name: "lzf".into(),
            optional: true,
            cd_values: vec![4, 261, 800],
        },
    ];
    let b = filter_pipeline::encode_v2(&filters)?;
    let fp = crate::messages::filter_pipeline::FilterPipeline::decode(&mut cursor(&b, "pipeline"))?;
    assert_eq!(fp.filters.len(), 2);
    assert_eq!(fp.filters[1].id, 32000);
    assert_eq!(fp.filters[1].cd_values, vec![4, 261, 800]);
    // Links.
    for (name, target, order) in [
        ("a", LinkTarget::Hard(0x1234), None),
        ("ünï", LinkTarget::Soft("/x/y".into()), Some(7)),
        (
            "e",
            LinkTarget::External {
                file: "f.h5".into(),
                path: "/p".into(),
            },
            Some(0),
        ),
    ] {
        let b = link::encode_link(name, &target, order)?;
        let l = crate::messages::link::Link::decode(&mut cursor(&b, "link"))?;
        assert_eq!(l.name, name.as_bytes());
        assert_eq!(l.creation_order, order);
        assert_eq!(l.cset, u8::from(!name.is_ascii()));
        let want = match target {
            LinkTarget::Hard(a) => crate::messages::link::LinkTarget::Hard(a),
            LinkTarget::Soft(p) => crate::messages::link::LinkTarget::Soft(p.into_bytes()),
            LinkTarget::External { file, path } => crate::messages::link::LinkTarget::External {
                file: file.into_bytes(),
                path: path.into_bytes(),
            },
        };
        assert_eq!(l.target, want);
    }
    let long = "n".repeat(300);
    let b = link::encode_link(&long, &LinkTarget::Hard(8), None)?;
    assert_eq!(
        crate::messages::link::Link::decode(&mut cursor(&b, "link"))?.name,
        long.as_bytes()
    );
    // Link info and attribute info.
    let b = link::encode_link_info(&LinkInfo {
        track_order: true,
        index_order: true,
        max_creation_index: 20,
        heap: 100,
        name_index: 200,
        order_index: 300,
    });
    let li = crate::messages::link_info::LinkInfoMessage::decode(&mut cursor(&b, "link info"))?;
    assert_eq!(li.max_creation_index, Some(20));
    assert_eq!(li.creation_order_index_address, Some(300));
    let b = attribute::encode_info(&attribute::AttributeInfo {
        track_order: false,
        index_order: false,
        max_creation_index: 0,
        heap: UNDEF,
        name_index: UNDEF,
        order_index: UNDEF,
    });
    let ai =
        crate::messages::attribute_info::AttributeInfoMessage::decode(&mut cursor(&b, "ainfo"))?;
    assert_eq!(ai.fractal_heap_address, UNDEF);
    assert_eq!(ai.creation_order_index_address, None);
    Ok(())
}

#[test]
fn layout_v4_round_trip() -> Result<()> {
    let params = extensible_array::libhdf5_params();
    for index in [
        ChunkIndexKind::Single {
            address: 99,
            filtered_size: Some(55),
            filter_mask: 1,
        },
        ChunkIndexKind::Single {
            address: 99,
            filtered_size: None,
            filter_mask: 0,
        },
        ChunkIndexKind::FixedArray {
            page_bits: 10,
            address: 77,
        },
        ChunkIndexKind::ExtensibleArray {
            params,
            address: UNDEF,
        },
        ChunkIndexKind::BTreeV2 {
            node_size: 2048,
            split_percent: 100,
            merge_percent: 40,
            address: 5,
        },
    ] {
        let b = layout::encode_chunked_v4(&[300, 2], 8, &index)?;
        match DataLayout::decode(&mut cursor(&b, "layout"))? {
            DataLayout::Chunked(c) => {
                assert_eq!(c.version, 4);
                assert_eq!(c.chunk_dims, vec![300, 2]);
                assert_eq!(c.element_size, 8);
                assert_eq!(c.index, index);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(layout::filtered_size_width(80), 2);
    assert_eq!(layout::filtered_size_width(1 << 20), 4);
    Ok(())
}

#[test]
fn btree_v2_multi_level_round_trip() -> Result<()> {
    // 512-byte nodes of 11-byte records: 45 per leaf, so 20 000 records need two levels of
    // internal nodes.
    for n in [0usize, 1, 45, 46, 2000, 20_000] {
        let recs: Vec<Vec<u8>> = (0..n as u32)
            .map(|i| {
                let mut r = i.to_be_bytes().to_vec();
                r.extend_from_slice(&[0xab; 7]);
                r
            })
            .collect();
        let base = 1000;
        let bytes = btree_v2::encode(BTreeV2Params::small(5, 11), &recs, base)?;
        let file = image(base, &bytes);
        let ctx = Ctx::new(&file, Sizes::default());
        let (hdr, got) = crate::btree_v2::records(&ctx, base)?;
        assert_eq!(hdr.total_records, n as u64);
        assert_eq!(got, recs, "{n} records");
        if n == 20_000 {
            assert_eq!(hdr.depth, 2);
        }
    }
    Ok(())
}

#[test]
fn fractal_heap_round_trip() -> Result<()> {
    for (params, count) in [
        (HeapParams::links(), 5usize),
        (HeapParams::links(), 3000),
        (HeapParams::attributes(), 400),
        // Beyond the root's direct rows (512 KiB): child indirect blocks.
        (HeapParams::links(), 60_000),
    ] {
        let mut heap = FractalHeapBuilder::new(params);
        let mut objs = Vec::new();
        let mut ids = Vec::new();
        let base = 8192u64;
        // Huge objects live before the heap.
        let huge: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let huge_addr = 64;
        for i in 0..count {
            let len = match i % 97 {
                50 => 3000,
                51 => 1,
                _ => 10 + i % 40,
            };
            let obj: Vec<u8> = (0..len).map(|k| (i + k) as u8).collect();
            ids.push(heap.insert(&obj)?);
            objs.push(obj);
        }
        ids.push(heap.insert_huge(huge_addr, huge.len() as u64)?);
        objs.push(huge.clone());
        let bytes = heap.encode(base)?;
        let mut file = image(huge_addr, &huge);
        file.resize(base as usize, 0);
        file.extend_from_slice(&bytes);
        let ctx = Ctx::new(&file, Sizes::default());
        let mut h = FractalHeap::open(&ctx, base)?;
        assert_eq!(h.header.managed_objects, count as u64);
        assert_eq!(h.header.current_root_rows == 0, count == 5);
        // More than the 9 direct rows of a link heap's root: child indirect blocks.
        assert_eq!(h.header.current_root_rows > 9, count == 60_000);
        for (id, obj) in ids.iter().zip(&objs) {
            assert_eq!(id.len(), params.id_len as usize);
            assert!(&h.get(&ctx, id)? == obj, "object of {} bytes", obj.len());
        }
    }
    Ok(())
}

/// Entries of `n` chunks of `chunk_bytes` bytes, every fifth one unallocated.
fn entries(n: usize, filtered: bool, chunk_bytes: u64) -> Vec<Option<ChunkEntry>> {
    (0..n)
        .map(|i| {
            (i % 5 != 3).then_some(ChunkEntry {
                address: 100_000 + 1000 * i as u64,
                size: if filtered {
                    100 + i as u64 % 50
                } else {
                    chunk_bytes
                },
                filter_mask: u32::from(filtered && i % 7 == 0),
            })
        })
        .collect()
}

fn layout_with(index: ChunkIndexKind, chunk_dims: Vec<u64>) -> ChunkedLayout {
    ChunkedLayout {
        version: 4,
        flags: 0,
        chunk_dims,
        element_size: 8,
        index,
    }
}

#[test]
fn fixed_array_round_trip() -> Result<()> {
    for (n, filtered) in [(7usize, false), (1024, true), (1025, false), (3000, true)] {
        let e = entries(n, filtered, 800);
        let width = filtered.then_some(2);
        let base = 512;
        let bytes = fixed_array::encode(&e, width, 10, base)?;
        let file = image(base, &bytes);
        let ctx = Ctx::new(&file, Sizes::default());
        let layout = layout_with(
            ChunkIndexKind::FixedArray {
                page_bits: 10,
                address: base,
            },
            vec![100],
        );
        let shape = [100 * n as u64];
        let recs = chunk_records(&ctx, &layout, &shape, &[Some(shape[0])], filtered)?;
        let want: Vec<(u64, u64, u32)> = e
            .iter()
            .flatten()
            .map(|c| (c.address, c.size, c.filter_mask))
            .collect();
        let got: Vec<(u64, u64, u32)> = recs
            .iter()
            .map(|r| (r.address, r.size, r.filter_mask))
            .collect();
        assert_eq!(got, want, "{n} entries");
        let offsets: Vec<u64> = recs.iter().map(|r| r.offset[0] / 100).collect();
        let want_off: Vec<u64> = (0..n as u64).filter(|i| i % 5 != 3).collect();
        assert_eq!(offsets, want_off);
    }
    Ok(())
}

#[test]
fn extensible_array_round_trip() -> Result<()> {
    let params = extensible_array::libhdf5_params();
    for (n, filtered) in [
        (3usize, false),
        (4, true),
        (100, false),
        (5000, true),
        (40_000, false),
    ] {
        let e = entries(n, filtered, 80);
        let width = filtered.then_some(3);
        let base = 256;
        let bytes = extensible_array::encode(&e, width, &params, base)?;
        let file = image(base, &bytes);
        let ctx = Ctx::new(&file, Sizes::default());
        let layout = layout_with(
            ChunkIndexKind::ExtensibleArray {
                params,
                address: base,
            },
            vec![10],
        );
        let shape = [10 * n as u64];
        let recs = chunk_records(&ctx, &layout, &shape, &[None], filtered)?;
        let want: Vec<(u64, u64, u64, u32)> = e
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.map(|c| (10 * i as u64, c.address, c.size, c.filter_mask)))
            .collect();
        let mut got: Vec<(u64, u64, u64, u32)> = recs
            .iter()
            .map(|r| (r.offset[0], r.address, r.size, r.filter_mask))
            .collect();
        got.sort();
        assert_eq!(got, want, "{n} entries");
    }
    Ok(())
}
