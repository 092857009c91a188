//! Chunk indexes across their structural boundaries, on files written by h5py/libhdf5 at test
//! time (`tests/gen_chunked_cases.py`): extensible arrays of 3 to 300 000 chunks (index block,
//! data blocks, super blocks, paged data blocks), sparse and filtered arrays, swizzled unlimited
//! dims; paged and sparse fixed arrays; deep v2 B-trees; single and implicit indexes; v1 B-trees
//! with internal levels.
//!
//! For every dataset: the chunk listing (offsets, masks, addresses, sizes) equals h5py's
//! `chunk_iter`, every chunk is found again by direct lookup, and the whole extent plus a few
//! hyperslab selections read back the bytes numpy selects.
//!
//! Fails when no Python with h5py is found (scripts/setup installs one); set `H5OXIDE_PYTHON` to choose
//! one.
use std::path::{Path, PathBuf};
use std::process::Command;

use h5oxide::chunked::{chunk_summary, read_chunked, Hyperslab};
use h5oxide_filters::Registry;
use h5oxide_format::chunk_index::ChunkIndex;
use h5oxide_format::messages::dataspace::Dataspace;
use h5oxide_format::messages::fill_value::FillValue;
use h5oxide_format::messages::filter_pipeline::FilterPipeline;
use h5oxide_format::messages::layout::DataLayout;
use h5oxide_format::object_header::{body, msg, ObjectHeader};
use h5oxide_format::source::{Ctx, Offset};
use h5oxide_format::superblock::Superblock;
use sha2::{Digest, Sha256};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn python() -> Option<PathBuf> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut cands: Vec<PathBuf> = std::env::var_os("H5OXIDE_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    for a in here.ancestors() {
        cands.push(a.join(".venv/bin/python"));
        cands.push(a.join("main/.venv/bin/python"));
    }
    cands.push("python3".into());
    cands.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import h5py, numpy"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Generates the files once per version of the generator script.
fn cases_dir() -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gen_chunked_cases.py");
    let text = std::fs::read(&script).ok()?;
    let stamp = hex(&Sha256::digest(&text));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("chunked_cases");
    let stamp_file = dir.join("stamp");
    if std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp) {
        return Some(dir);
    }
    // A missing Python is a failure, not a skip: scripts/setup installs h5py in .venv.
    let py =
        python().expect("no Python with h5py found: run ./scripts/setup or set H5OXIDE_PYTHON");
    let out = Command::new(py).arg(&script).arg(&dir).output().ok()?;
    if !out.status.success() {
        panic!("generator failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    std::fs::write(&stamp_file, stamp).ok()?;
    Some(dir)
}

fn parse_list(s: &str) -> Vec<u64> {
    if s.is_empty() {
        return vec![];
    }
    s.split(',').map(|v| v.parse().unwrap()).collect()
}

#[test]
fn generated_chunk_index_cases() {
    let Some(dir) = cases_dir() else { return };
    let manifest = std::fs::read_to_string(dir.join("cases.tsv")).unwrap();
    let registry = Registry::default();
    let mut checked = 0;
    for line in manifest.lines() {
        let c: Vec<&str> = line.split('\t').collect();
        let (file, name, addr) = (c[0], c[1], c[2].parse::<u64>().unwrap());
        let what = format!("{file}:{name}");
        let data = std::fs::read(dir.join(file)).unwrap();
        let sb = Superblock::find(&data).unwrap();
        let src = Offset {
            inner: data,
            base: sb.base_address,
        };
        let ctx = Ctx::new(&src, sb.sizes);
        let oh = ObjectHeader::read(&ctx, addr).unwrap();
        let space =
            Dataspace::decode(&mut body(&ctx, oh.find(msg::DATASPACE).unwrap(), "space")).unwrap();
        let Dataspace::Simple { dims, max } = space else {
            panic!("{what}: not simple")
        };
        assert_eq!(dims, parse_list(c[3]), "{what}");
        let layout =
            DataLayout::decode(&mut body(&ctx, oh.find(msg::LAYOUT).unwrap(), "layout")).unwrap();
        let DataLayout::Chunked(cl) = layout else {
            panic!("{what}: not chunked")
        };
        let pipeline = oh
            .find(msg::FILTER_PIPELINE)
            .map(|m| FilterPipeline::decode(&mut body(&ctx, m, "pipeline")).unwrap());
        let es = cl.element_size as usize;
        let fill = oh
            .find(msg::FILL_VALUE)
            .and_then(|m| FillValue::decode(&mut body(&ctx, m, "fill")).unwrap().value)
            .unwrap_or_else(|| vec![0; es]);
        assert_eq!(hex(&fill), c[4], "{what}: fill value");
        let filtered = pipeline.as_ref().is_some_and(|p| !p.is_empty());

        // Listing as libhdf5 reports it.
        let s = chunk_summary(&ctx, &cl, &dims, &max, filtered).unwrap();
        let listing: Vec<String> = s
            .chunk_info
            .iter()
            .map(|r| {
                let o: Vec<String> = r.offset.iter().map(|v| v.to_string()).collect();
                format!(
                    "[[{}],{},{},{}]",
                    o.join(","),
                    r.filter_mask,
                    r.address,
                    r.size
                )
            })
            .collect();
        assert_eq!(
            s.num_chunks,
            c[6].parse::<u64>().unwrap(),
            "{what}: num_chunks"
        );
        assert_eq!(
            hex(&Sha256::digest(listing.join("\n").as_bytes())),
            c[5],
            "{what}: chunk listing"
        );

        // Every chunk found again by lookup (a sample of at most ~500).
        let index = ChunkIndex::open(&ctx, &cl, &dims, &max, filtered).unwrap();
        let recs = index.records().unwrap();
        let step = (recs.len() / 500).max(1);
        for r in recs.iter().step_by(step) {
            let scaled: Vec<u64> = r
                .offset
                .iter()
                .zip(&cl.chunk_dims)
                .map(|(o, c)| o / c)
                .collect();
            assert_eq!(
                index.lookup(&scaled).unwrap().as_ref(),
                Some(r),
                "{what}: lookup {scaled:?}"
            );
        }
        // A position past the allocated chunks is absent.
        let far: Vec<u64> = dims
            .iter()
            .zip(&cl.chunk_dims)
            .map(|(d, c)| d.div_ceil(*c) + 1)
            .collect();
        if !matches!(
            cl.index,
            h5oxide_format::messages::layout::ChunkIndexKind::Implicit { .. }
        ) {
            assert_eq!(index.lookup(&far).unwrap(), None, "{what}: lookup {far:?}");
        }

        // Selections.
        for sel in &c[7..] {
            let (spec, want) = sel.split_once('=').unwrap();
            let p: Vec<Vec<u64>> = spec.split(';').map(parse_list).collect();
            let hs = Hyperslab {
                start: p[0].clone(),
                stride: p[1].clone(),
                count: p[2].clone(),
                block: p[3].clone(),
            };
            let mut out = vec![0u8; hs.num_elements().unwrap() as usize * es];
            read_chunked(
                &ctx,
                &cl,
                pipeline.as_ref(),
                &registry,
                &dims,
                &max,
                es,
                &fill,
                &hs,
                &mut out,
            )
            .unwrap_or_else(|e| panic!("{what} {spec}: {e}"));
            assert_eq!(hex(&Sha256::digest(&out)), want, "{what}: selection {spec}");
        }
        checked += 1;
    }
    eprintln!("{checked} generated datasets checked");
    assert!(checked >= 27);
}
