//! Corrupted files never make the chunked read path panic: every byte of a few small corpus
//! files with chunked datasets (every index type, filtered and not) is flipped in turn (chunk
//! payloads only at their start; by default every third byte, `H5OXIDE_FULL_CORRUPT=1` for all
//! bytes and three flips each), and the
//! layout/pipeline messages, the chunk enumeration and a full read must each return `Ok` or
//! `Err`.
//!
//! The object header and dataspace are parsed from the intact file (they belong to other
//! modules); the layout, pipeline and fill messages are re-decoded from the corrupted bytes.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use h5oxide::chunked::{chunk_summary, read_chunked, Hyperslab};
use h5oxide_filters::Registry;
use h5oxide_format::chunk_index::ChunkIndex;
use h5oxide_format::cursor::Cursor;
use h5oxide_format::messages::dataspace::Dataspace;
use h5oxide_format::messages::filter_pipeline::FilterPipeline;
use h5oxide_format::messages::layout::DataLayout;
use h5oxide_format::object_header::{body, msg, Message, ObjectHeader};
use h5oxide_format::source::{Ctx, Limits, Offset};
use h5oxide_format::superblock::Superblock;

fn corpus() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/corpus"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| here.join("../../../shared/corpus"))
}

/// (file, dataset object header address) — small files covering every index.
fn targets() -> Vec<(String, u64)> {
    let want = [
        "hdf5-json/dset_gzip.h5",            // v1 B-tree, shuffle+deflate+fletcher32
        "pyfive/chunked.hdf5",               // v1 B-tree with internal levels
        "jhdf/implicit_index_datasets.hdf5", // implicit
        "hdf5/h5stat_idx.h5",                // fixed array
        "hdf5/h5fc_edge_v3.h5",              // don't filter partial edge chunks
        "generated/swmr_written.h5",         // extensible array
        "generated/fill_values_latest.h5",   // extensible array with data blocks
        "hdf5/h5fc_ext2_sf.h5",              // v2 B-tree
        "jhdf/lz4_datasets.hdf5",            // single chunk, filtered
    ];
    let text = include_str!("data/chunked_corpus.tsv");
    let mut out = Vec::new();
    for w in want {
        for l in text.lines() {
            let c: Vec<&str> = l.split('\t').collect();
            if c[0] == w {
                out.push((w.to_string(), c[2].parse().unwrap()));
                break;
            }
        }
    }
    out
}

fn msg_bytes<'a>(data: &'a [u8], base: u64, m: &Message) -> &'a [u8] {
    let s = (m.addr + base) as usize;
    &data[s..s + m.data.len()]
}

fn run(data: &[u8], sb: &Superblock, oh: &ObjectHeader, space: &Dataspace) {
    let src = Offset {
        inner: data.to_vec(),
        base: sb.base_address,
    };
    let mut ctx = Ctx::new(&src, sb.sizes);
    ctx.limits = Limits {
        max_metadata_bytes: 1 << 20,
        max_data_bytes: 16 << 20,
        max_depth: 32,
        max_visits: 100_000,
    };
    let Some(lm) = oh.find(msg::LAYOUT) else {
        return;
    };
    let lb = msg_bytes(data, sb.base_address, lm);
    let Ok(DataLayout::Chunked(cl)) =
        DataLayout::decode(&mut Cursor::new(lb, lm.addr, "layout", sb.sizes))
    else {
        return;
    };
    let pipeline = oh.find(msg::FILTER_PIPELINE).and_then(|m| {
        FilterPipeline::decode(&mut Cursor::new(
            msg_bytes(data, sb.base_address, m),
            m.addr,
            "pipeline",
            sb.sizes,
        ))
        .ok()
    });
    let Dataspace::Simple { dims, max } = space else {
        return;
    };
    let _ = chunk_summary(&ctx, &cl, dims, max, pipeline.is_some());
    if let Ok(ix) = ChunkIndex::open(&ctx, &cl, dims, max, pipeline.is_some()) {
        let _ = ix.lookup(&vec![0; dims.len()]);
        let _ = ix.lookup(&vec![u64::MAX; dims.len()]);
    }
    let es = cl.element_size as usize;
    let sel = Hyperslab::all(dims);
    let n = sel
        .num_elements()
        .unwrap_or(u64::MAX)
        .saturating_mul(es as u64);
    if n > 1 << 24 {
        return;
    }
    let mut out = vec![0u8; n as usize];
    let fill = vec![0u8; es];
    let _ = read_chunked(
        &ctx,
        &cl,
        pipeline.as_ref(),
        &Registry::default(),
        dims,
        max,
        es,
        &fill,
        &sel,
        &mut out,
    );
}

#[test]
fn flipped_bytes_never_panic() {
    let root = corpus();
    assert!(
        root.is_dir(),
        "shared corpus not found at {}: nothing would be checked",
        root.display()
    );
    let mut panics = Vec::new();
    let mut runs = 0;
    let mut slow = Vec::new();
    // Default: every third byte, one flip. H5OXIDE_FULL_CORRUPT=1: every byte, three flips.
    let full = std::env::var_os("H5OXIDE_FULL_CORRUPT").is_some();
    let only = std::env::var("H5OXIDE_CORRUPT_ONLY").unwrap_or_default();
    for (file, addr) in targets() {
        if !file.contains(&only) {
            continue;
        }
        let Ok(orig) = std::fs::read(root.join(&file)) else {
            continue;
        };
        let sb = Superblock::find(&orig).unwrap();
        let src = Offset {
            inner: orig.clone(),
            base: sb.base_address,
        };
        let ctx = Ctx::new(&src, sb.sizes);
        let oh = ObjectHeader::read(&ctx, addr).unwrap();
        let space =
            Dataspace::decode(&mut body(&ctx, oh.find(msg::DATASPACE).unwrap(), "space")).unwrap();
        // Chunk payloads are filter input (the filters' own tests cover them): skip all but
        // their first bytes.
        let mut skip = vec![false; orig.len()];
        if let (Some(lm), Dataspace::Simple { dims, max }) = (oh.find(msg::LAYOUT), &space) {
            if let Ok(DataLayout::Chunked(cl)) = DataLayout::decode(&mut body(&ctx, lm, "layout")) {
                let recs = h5oxide_format::chunk_index::chunk_records(&ctx, &cl, dims, max, true)
                    .unwrap_or_default();
                for r in recs {
                    let a = (r.address + sb.base_address) as usize;
                    for b in skip
                        .iter_mut()
                        .skip(a + 16)
                        .take((r.size as usize).saturating_sub(16))
                    {
                        *b = true;
                    }
                }
            }
        }
        let mut data = orig.clone();
        for i in (0..data.len()).filter(|&i| !skip[i] && (full || i % 3 == 0)) {
            let variants: &[u8] = if full { &[0xff, 0x01, 0x80] } else { &[0xff] };
            for &x in variants {
                data[i] ^= x;
                runs += 1;
                let t = std::time::Instant::now();
                if catch_unwind(AssertUnwindSafe(|| run(&data, &sb, &oh, &space))).is_err() {
                    panics.push(format!("{file}: byte {i} ^ {x:#x}"));
                }
                let el = t.elapsed();
                slow.push((el, format!("{file}: byte {i} ^ {x:#x}")));
                data[i] ^= x;
            }
        }
    }
    slow.sort();
    for s in slow.iter().rev().take(5) {
        eprintln!("slowest: {:?} {}", s.0, s.1);
    }
    eprintln!("{runs} corrupted reads, {} panics", panics.len());
    assert!(panics.is_empty(), "{panics:?}");
}
