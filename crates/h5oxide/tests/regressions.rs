//! Replays every input in `tests/regressions/` — crashes, hangs and memory blow-ups found by the
//! mutation test and the fuzzers, minimised — through the fuzz target that found it
//! (`tests/targets/mod.rs`, the same code `fuzz/` runs), and checks the recorded outcome.
//!
//! `tests/regressions/MANIFEST.tsv`, one line per input (`#` comments and blank lines ignored):
//! `file<TAB>target<TAB>expected<TAB>note`, where
//! * `file` is the input's name in the folder,
//! * `target` a name of [`targets::TARGETS`] (`whole_file`, `datatype`, `filter_deflate`, ...),
//! * `expected` is `ok` (the target's decoders all succeed; for `whole_file`: a document) or the
//!   [`h5oxide::Error::kind`] of the error the target must return,
//! * `note` says what the input used to do and where (not checked).
//!
//! Each input must give exactly its expected outcome without panicking, within 10 s of wall
//! time and 256 MiB of peak heap. Every file in the folder must be listed.

mod common;
mod targets;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{Counting, Worker};

#[global_allocator]
static GLOBAL: Counting = Counting;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/regressions");
const TIMEOUT: Duration = Duration::from_secs(10);
const MEMORY_CAP: usize = 256 << 20;
const KINDS: &[&str] = &[
    "truncated",
    "bad_signature",
    "checksum",
    "corrupt",
    "unsupported_version",
    "unsupported",
    "limit",
    "out_of_bounds",
    "cycle",
    "not_found",
    "invalid",
    "io",
];

struct Entry {
    file: String,
    target: String,
    expected: String,
}

fn manifest() -> Vec<Entry> {
    let text = std::fs::read_to_string(Path::new(DIR).join("MANIFEST.tsv"))
        .expect("read tests/regressions/MANIFEST.tsv");
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(
            cols.len() >= 3,
            "MANIFEST.tsv line {}: expected file<TAB>target<TAB>expected<TAB>note",
            i + 1
        );
        let e = Entry {
            file: cols[0].to_string(),
            target: cols[1].to_string(),
            expected: cols[2].to_string(),
        };
        assert!(
            targets::TARGETS.contains(&e.target.as_str()),
            "MANIFEST.tsv line {}: unknown target {:?}",
            i + 1,
            e.target
        );
        assert!(
            e.expected == "ok" || KINDS.contains(&e.expected.as_str()),
            "MANIFEST.tsv line {}: expected must be `ok` or an error kind, not {:?}",
            i + 1,
            e.expected
        );
        out.push(e);
    }
    out
}

#[test]
fn every_regression_input_gives_its_recorded_outcome() {
    let _serial = common::serial();
    let entries = manifest();
    let listed: BTreeSet<&str> = entries.iter().map(|e| e.file.as_str()).collect();
    assert_eq!(
        listed.len(),
        entries.len(),
        "a file is listed twice in MANIFEST.tsv"
    );
    let on_disk: BTreeSet<String> = std::fs::read_dir(DIR)
        .expect("read tests/regressions")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n != "MANIFEST.tsv")
        .collect();
    let unlisted: Vec<&String> = on_disk
        .iter()
        .filter(|n| !listed.contains(n.as_str()))
        .collect();
    assert!(
        unlisted.is_empty(),
        "files not in MANIFEST.tsv: {unlisted:?}"
    );

    std::env::set_var("RAYON_NUM_THREADS", "1");
    let fail_dir = common::target_dir().join("regression-failures");
    let worker = Worker::new();
    let mut failures = Vec::new();
    for e in &entries {
        let bytes = Arc::new(
            std::fs::read(Path::new(DIR).join(&e.file))
                .unwrap_or_else(|err| panic!("read {}: {err}", e.file)),
        );
        common::set_current(bytes.clone(), e.file.clone(), &fail_dir);
        let (target, input) = (e.target.clone(), bytes.clone());
        let Some(m) = worker.run(
            move || targets::run(&target, &input).expect("known target"),
            TIMEOUT,
        ) else {
            failures.push(format!("{}: no result after {TIMEOUT:?} (hang)", e.file));
            break; // the worker is stuck
        };
        let got = match &m.result {
            Err(p) => {
                failures.push(format!(
                    "{}: panicked at {}: {}",
                    e.file,
                    p.site(),
                    p.message
                ));
                continue;
            }
            Ok(Ok(())) => "ok".to_string(),
            Ok(Err(err)) => err.kind().to_string(),
        };
        if got != e.expected {
            let detail = match &m.result {
                Ok(Err(err)) => format!(" ({err})"),
                _ => String::new(),
            };
            failures.push(format!(
                "{} [{}]: expected {}, got {got}{detail}",
                e.file, e.target, e.expected
            ));
        }
        if m.peak > MEMORY_CAP {
            failures.push(format!("{}: peak heap {} bytes", e.file, m.peak));
        }
    }
    eprintln!("regressions: {} inputs replayed", entries.len());
    assert!(
        failures.is_empty(),
        "{} of {} regression inputs failed:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
}
