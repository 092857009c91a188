//! Every chunked dataset of the corpus: chunk enumeration (`num_chunks`, `storage_size`,
//! `chunk_info`) and the data (`sha256`) must match the oracle's `.canon.json` expectations.
//!
//! The dataset list and expectations are extracted by `tests/gen_chunked_fixture.py` into
//! `tests/data/chunked_corpus.tsv` (object header addresses come from h5py, so this test does not
//! depend on group traversal).
use std::path::PathBuf;

use h5oxide::chunked::{chunk_summary, read_chunked, Hyperslab};
use h5oxide_filters::Registry;
use h5oxide_format::messages::dataspace::Dataspace;
use h5oxide_format::messages::fill_value::FillValue;
use h5oxide_format::messages::filter_pipeline::FilterPipeline;
use h5oxide_format::messages::layout::DataLayout;
use h5oxide_format::object_header::{body, msg, ObjectHeader};
use h5oxide_format::source::{Ctx, Offset};
use h5oxide_format::superblock::Superblock;
use sha2::{Digest, Sha256};

fn corpus() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/corpus"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| here.join("../../../shared/corpus"))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

struct Row {
    file: String,
    path: String,
    addr: u64,
    index: String,
    num_chunks: u64,
    storage_size: u64,
    chunk_info: Option<String>,
    sha256: Option<String>,
}

/// Datasets whose expected data cannot be reproduced: libhdf5 reads uninitialised memory there.
const KNOWN_UNREPRODUCIBLE: &[&str] = &[
    // Unfiltered chunks stored shorter (38 bytes) than the chunk (48): libhdf5 leaves the rest of
    // its (reused) chunk buffer as it was.
    "bad/cve_hdf5/cve-2025-44904.h5:/Scale_offset_float_data_le",
    // A scale-offset chunk of 5 bytes that claims 17 bytes of packed data: libhdf5 reads past
    // the chunk (the CVE) and shows whatever follows; we report the corruption instead.
    "bad/cve_hdf5/cve-2025-2308.h5:/Scale_offset_long_long_data_le",
];

fn rows() -> Vec<Row> {
    let text = include_str!("data/chunked_corpus.tsv");
    text.lines()
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let opt = |s: &str| (s != "-").then(|| s.to_string());
            Row {
                file: c[0].into(),
                path: c[1].into(),
                addr: c[2].parse().unwrap(),
                index: c[3].into(),
                num_chunks: c[4].parse().unwrap(),
                storage_size: c[5].parse().unwrap(),
                chunk_info: opt(c[6]),
                sha256: opt(c[7]),
            }
        })
        .collect()
}

/// What one dataset gave.
struct Outcome {
    index: String,
    num_chunks: u64,
    storage_size: u64,
    chunk_info: String,
    sha256: Option<String>,
}

fn check(data: Vec<u8>, addr: u64, want_data: bool) -> Result<Outcome, h5oxide::Error> {
    let sb = Superblock::find(&data)?;
    let src = Offset {
        inner: data,
        base: sb.base_address,
    };
    let ctx = Ctx::new(&src, sb.sizes);
    let oh = ObjectHeader::read(&ctx, addr)?;
    let m = oh
        .find(msg::DATASPACE)
        .ok_or_else(|| h5oxide::Error::NotFound("dataspace".into()))?;
    let space = Dataspace::decode(&mut body(&ctx, m, "dataspace"))?;
    let m = oh
        .find(msg::LAYOUT)
        .ok_or_else(|| h5oxide::Error::NotFound("layout".into()))?;
    let layout = DataLayout::decode(&mut body(&ctx, m, "layout"))?;
    let pipeline = match oh.find(msg::FILTER_PIPELINE) {
        Some(m) => Some(FilterPipeline::decode(&mut body(&ctx, m, "pipeline"))?),
        None => None,
    };
    let fill = if let Some(m) = oh.find(msg::FILL_VALUE) {
        FillValue::decode(&mut body(&ctx, m, "fill"))?.value
    } else if let Some(m) = oh.find(msg::FILL_VALUE_OLD) {
        FillValue::decode_old(&mut body(&ctx, m, "fill"))?.value
    } else {
        None
    };
    let DataLayout::Chunked(cl) = layout else {
        return Err(h5oxide::Error::Invalid("not chunked".into()));
    };
    let (dims, max) = match &space {
        Dataspace::Simple { dims, max } => (dims.clone(), max.clone()),
        _ => (vec![], vec![]),
    };
    let filtered = pipeline.as_ref().is_some_and(|p| !p.is_empty());
    let s = chunk_summary(&ctx, &cl, &dims, &max, filtered)?;
    let info: Vec<String> = s
        .chunk_info
        .iter()
        .map(|r| {
            let o: Vec<String> = r.offset.iter().map(|v| v.to_string()).collect();
            format!("[[{}],{},{}]", o.join(","), r.filter_mask, r.size)
        })
        .collect();
    let chunk_info = hex(&Sha256::digest(format!("[{}]", info.join(",")).as_bytes()));
    let mut sha = None;
    if want_data {
        let es = cl.element_size as usize;
        let fill = match fill {
            Some(f) if f.len() == es => f,
            _ => vec![0u8; es],
        };
        let sel = Hyperslab::all(&dims);
        let n = sel.num_elements().unwrap() as usize * es;
        let mut out = vec![0u8; n];
        read_chunked(
            &ctx,
            &cl,
            pipeline.as_ref(),
            &Registry::default(),
            &dims,
            &max,
            es,
            &fill,
            &sel,
            &mut out,
        )?;
        sha = Some(hex(&Sha256::digest(&out)));
    }
    Ok(Outcome {
        index: cl.index.name().into(),
        num_chunks: s.num_chunks,
        storage_size: s.storage_size,
        chunk_info,
        sha256: sha,
    })
}

#[test]
fn corpus_chunked_datasets() {
    let root = corpus();
    assert!(
        root.is_dir(),
        "shared corpus not found at {}: nothing would be checked",
        root.display()
    );
    let rows = rows();
    let (mut ok_index, mut ok_data, mut unsupported) = (0, 0, Vec::new());
    let mut failures = Vec::new();
    for r in &rows {
        let Ok(data) = std::fs::read(root.join(&r.file)) else {
            continue;
        };
        let want = format!("{}:{}", r.file, r.path);
        let data_ok = r.sha256.is_some() && !KNOWN_UNREPRODUCIBLE.contains(&want.as_str());
        match check(data, r.addr, data_ok) {
            Ok(o) => {
                let mut bad = Vec::new();
                if o.index != r.index {
                    bad.push(format!("index {} != {}", o.index, r.index));
                }
                if o.num_chunks != r.num_chunks {
                    bad.push(format!("num_chunks {} != {}", o.num_chunks, r.num_chunks));
                }
                if o.storage_size != r.storage_size {
                    bad.push(format!(
                        "storage_size {} != {}",
                        o.storage_size, r.storage_size
                    ));
                }
                if r.chunk_info.as_ref().is_some_and(|c| *c != o.chunk_info) {
                    bad.push("chunk_info differs".into());
                }
                if bad.is_empty() {
                    ok_index += 1;
                }
                if let (Some(a), Some(b)) = (&o.sha256, &r.sha256) {
                    if a == b {
                        ok_data += 1;
                    } else {
                        bad.push("data sha256 differs".into());
                    }
                }
                if !bad.is_empty() {
                    failures.push(format!("{want}: {}", bad.join("; ")));
                }
            }
            // Filters not (yet) in the registry; shared messages and header versions this
            // harness does not resolve.
            Err(e) if matches!(e.kind(), "unsupported" | "unsupported_version") => {
                unsupported.push(format!("{want}: {e}"))
            }
            Err(e) => failures.push(format!("{want}: {e}")),
        }
    }
    eprintln!(
        "{} datasets: {ok_index} index ok, {ok_data} data ok, {} unsupported, {} failures",
        rows.len(),
        unsupported.len(),
        failures.len()
    );
    for u in &unsupported {
        eprintln!("unsupported: {u}");
    }
    for f in &failures {
        eprintln!("FAIL: {f}");
    }
    assert!(failures.is_empty(), "{} failures", failures.len());
}
