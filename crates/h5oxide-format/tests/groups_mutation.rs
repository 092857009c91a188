//! Corrupted copies of corpus files must never make the group / attribute / heap / B-tree
//! readers panic or run away: every failure is an `Err`.
use std::path::PathBuf;

use h5oxide_format::attributes;
use h5oxide_format::group;
use h5oxide_format::messages::link::LinkTarget;
use h5oxide_format::object_header::ObjectHeader;
use h5oxide_format::shared::SharedMessageTable;
use h5oxide_format::source::{Ctx, Limits, Offset};
use h5oxide_format::superblock::Superblock;
use h5oxide_format::UNDEF;

fn corpus() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/corpus"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| here.join("../../../shared/corpus"))
}

/// Walks the whole group tree, ignoring errors; returns the number of objects reached.
fn walk(data: Vec<u8>) -> usize {
    let Ok(sb) = Superblock::find(&data) else {
        return 0;
    };
    let src = Offset {
        inner: data,
        base: sb.base_address,
    };
    let mut ctx = Ctx::new(&src, sb.sizes);
    ctx.limits = Limits {
        max_metadata_bytes: 16 << 20,
        max_visits: 100_000,
        ..Limits::default()
    };
    let sohm = if sb.extension_address != UNDEF {
        ObjectHeader::read(&ctx, sb.extension_address)
            .and_then(|e| SharedMessageTable::read(&ctx, &e))
            .ok()
            .flatten()
    } else {
        None
    };
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![sb.root_object_header_address];
    while let Some(a) = stack.pop() {
        if !seen.insert(a) || seen.len() > 2000 {
            continue;
        }
        let Ok(oh) = ObjectHeader::read(&ctx, a) else {
            continue;
        };
        let _ = attributes::attribute_messages_with(&ctx, &oh, sohm.as_ref());
        if let Ok(g) = group::links(&ctx, &oh) {
            for l in g.links.iter().take(50) {
                let _ = group::lookup(&ctx, &oh, &l.name);
                if let LinkTarget::Hard(t) = l.target {
                    stack.push(t);
                }
            }
        }
    }
    seen.len()
}

#[test]
fn mutated_corpus_files_do_not_panic() {
    let files = [
        "generated/links_all_kinds.h5",
        "generated/attrs_dense_track_order.h5",
        "generated/groups_symbol_table_earliest.h5",
        "generated/sohm_shared_messages.h5",
        "hdf5/tslink.h5",
        "hdf5/h5diff_types.h5",
        "hdf5/h5stat_tsohm.h5",
        "pyfive/new_style_groups.hdf5",
        "jhdf/test_attribute_latest.hdf5",
        "hdf5/tudlink.h5",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut runs = 0;
    for f in files {
        let Ok(orig) = std::fs::read(corpus().join(f)) else {
            continue;
        };
        if orig.is_empty() {
            continue;
        }
        assert!(walk(orig.clone()) > 0, "{f} does not walk unmodified");
        for _ in 0..300 {
            let mut d = orig.clone();
            let flips = 1 + (next() % 8) as usize;
            for _ in 0..flips {
                let i = (next() % d.len() as u64) as usize;
                let v = next() as u8;
                if let Some(b) = d.get_mut(i) {
                    *b = if v & 1 == 0 { v } else { *b ^ (1 << (v % 8)) };
                }
            }
            walk(d);
            runs += 1;
        }
    }
    assert!(runs > 0);
}

fn all_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            all_files(&p, out);
        } else if !p
            .extension()
            .is_some_and(|x| x == "json" || x == "tsv" || x == "md")
        {
            out.push(p);
        }
    }
}

/// The deliberately broken files of the corpus (`bad/`, incl. CVE reproducers) walk without
/// panics.
#[test]
fn bad_corpus_files_do_not_panic() {
    let mut files = Vec::new();
    all_files(&corpus().join("bad"), &mut files);
    files.sort();
    let mut n = 0;
    for p in &files {
        if let Ok(d) = std::fs::read(p) {
            walk(d);
            n += 1;
        }
    }
    eprintln!("bad files walked: {n}");
}
