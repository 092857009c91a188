//! Every `BTHD` signature found in a corpus file must decode as a v2 B-tree whose walk yields
//! exactly the header's total record count.
use std::path::PathBuf;

use h5oxide_format::btree_v2;
use h5oxide_format::source::{Ctx, Offset};
use h5oxide_format::superblock::Superblock;

/// `shared/corpus` beside the checkout (`../../../shared/corpus` from this crate in the main
/// checkout; one level further up from a worktree under `wt/`).
fn corpus() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/corpus"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| here.join("../../../shared/corpus"))
}

fn files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x != "json" && x != "tsv") {
            out.push(p);
        }
    }
}

#[test]
fn every_bthd_in_corpus_walks() {
    let mut all = Vec::new();
    files(&corpus(), &mut all);
    all.sort();
    let (mut trees, mut deep, mut bad) = (0, 0, Vec::new());
    for p in &all {
        let Ok(data) = std::fs::read(p) else { continue };
        let Ok(sb) = Superblock::find(&data) else {
            continue;
        };
        let base = sb.base_address;
        let src = Offset {
            inner: data.clone(),
            base,
        };
        let ctx = Ctx::new(&src, sb.sizes);
        let mut i = base as usize;
        while let Some(pos) = data
            .get(i..)
            .and_then(|d| d.windows(4).position(|w| w == b"BTHD"))
        {
            let at = (i + pos) as u64 - base;
            i += pos + 4;
            match btree_v2::records(&ctx, at) {
                Ok((h, r)) => {
                    trees += 1;
                    if h.depth > 0 {
                        deep += 1;
                    }
                    if r.len() as u64 != h.total_records {
                        bad.push(format!(
                            "{}@{at}: {} != {}",
                            p.display(),
                            r.len(),
                            h.total_records
                        ));
                    }
                }
                Err(e) if e.kind() == "checksum" => {} // stray bytes, or a corrupt test file
                Err(e) => bad.push(format!("{}@{at}: {e}", p.display())),
            }
        }
    }
    eprintln!(
        "v2 B-trees walked: {trees} (depth > 0: {deep}); problems: {}",
        bad.len()
    );
    for b in &bad {
        eprintln!("  {b}");
    }
    assert!(trees > 0);
    assert!(bad.is_empty());
}
