//! `h5oxide check`: every shared-corpus file (good and bad) is read through without a crash
//! or hang, clean files report no problem, and the problems it reports are the real ones.

mod common;

use common::shared_dir;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `h5oxide check FILE` under a 1 GiB address-space limit and a 60 s timeout.
fn check(file: &Path) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576 2>/dev/null; exec timeout 60 \"$0\" check \"$1\"")
        .arg(env!("CARGO_BIN_EXE_h5oxide"))
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn h5oxide check");
    let _ = child.stdin.take();
    let out = child.wait_with_output().expect("h5oxide check output");
    (out, start.elapsed())
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else if !matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("json" | "md" | "txt" | "tsv")
        ) {
            out.push(p);
        }
    }
}

#[test]
fn every_corpus_file_is_checked_without_a_crash() {
    let Some(shared) = shared_dir() else {
        eprintln!("check: no shared corpus found; nothing to check");
        return;
    };
    let mut files = Vec::new();
    files_under(&shared.join("corpus"), &mut files);
    assert!(files.len() > 500, "only {} corpus files", files.len());
    let mut counts = [0usize; 3];
    let mut failures = Vec::new();
    for f in &files {
        let (out, took) = check(f);
        match out.status.code() {
            Some(c @ 0..=2) => counts[c as usize] += 1,
            other => failures.push(format!(
                "{}: exit {other:?} after {took:?}: {}",
                f.display(),
                String::from_utf8_lossy(&out.stderr)
            )),
        }
    }
    eprintln!(
        "check: {} files: {} without problems, {} with problems, {} not opened",
        files.len(),
        counts[0],
        counts[1],
        counts[2]
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn clean_files_report_nothing_and_problems_name_their_object() {
    let Some(shared) = shared_dir() else {
        return;
    };
    let corpus = shared.join("corpus");
    let (out, _) = check(&corpus.join("hdf5/tvlstr.h5"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.ends_with(
            "1 groups, 1 datasets (64 bytes read), 1 named datatypes, 1 attributes, 2 links \
             checked; 0 problems\n"
        ),
        "{text}"
    );
    // a filter we do not decode: the chunk is named, the rest is still checked
    let (out, _) = check(&corpus.join("hdf5/tfilters.h5"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("/myfilter (chunk at [0, 0]): unsupported: filter 405"),
        "{text}"
    );
    // not an HDF5 file
    let (out, _) = check(&shared.join("corpus/MANIFEST.tsv"));
    assert_eq!(out.status.code(), Some(2));
}
