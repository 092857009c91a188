//! In-place changes to every readable file of the shared corpus (issue #4, "round trip the
//! other way"): each file is copied, opened with [`RwFile`] and changed, and h5py (through the
//! oracle `h5canon.py`) must see exactly the old content plus the change.
//!
//! For every `role == test` row of `shared/corpus/MANIFEST.tsv` outside `bad/` whose
//! `FILE.canon.json` says `"ok": true`, the file is copied to `CARGO_TARGET_TMPDIR/rw_corpus/`
//! (same relative folder, siblings symlinked so external files still resolve) and three
//! changes are applied, each in its own open/close session:
//!
//! * **dataset** — create `/__h5oxide_rw` (`i32`, `[1, 2, 3, 4, 5]`) with an attribute
//!   `note = "added by h5oxide"`;
//! * **attr** — set the root attribute `__h5oxide_rw` = `"changed by h5oxide"`;
//! * **resize** — the first chunked dataset (walk with the read API) with an unlimited
//!   dimension and at most 10⁶ elements grows its first unlimited dimension by one; the new
//!   slab is written with a byte pattern (left at the fill value for variable-length types).
//!
//! A change may fail with a typed [`Error::Unsupported`]: the file is then restored to what
//! it was before that change and the reason is counted. Any other error, or a panic, fails the
//! test. Then one Python process (`tests/rw_corpus_check.py`) canonicalizes every changed file,
//! removes exactly the expected changes, compares the rest with the oracle's `.canon.json`
//! (rules of `h5canon_compare.py`), checks the added values and the resized dataset (against
//! the original file) with h5py, lets libhdf5 itself append to a copy of each changed file
//! (h5py `r+`, in a forked child: a wrong end-of-file address would let it allocate over our
//! changes) and checks the changes still read back, and prints one line per file (`ok` lines
//! may carry notes, summarised at the end). Finally `h5dump -H` runs on a sample of changed
//! files whose original it dumps without error.
//!
//! Environment: `H5OXIDE_SHARED` (the shared folder), `H5OXIDE_RW_FILTER=substr` (only files
//! whose path contains it).

mod interop;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use h5oxide::canonical::json::Json;
use h5oxide::write::{DatasetOptions, Value};
use h5oxide::{Error, File, Hyperslab, Object, RwFile};
use interop::{python, shared_dir};

const DS_NAME: &str = "/__h5oxide_rw";
const ATTR_NAME: &str = "__h5oxide_rw";
const ATTR_VALUE: &str = "changed by h5oxide";
const MAX_RESIZE_ELEMENTS: u64 = 1_000_000;

/// How one change went.
#[derive(Debug, Clone)]
enum Outcome {
    Ok,
    /// Not applicable to this file (e.g. no resizable dataset).
    NotApplicable(String),
    Unsupported(String),
    /// Any other error, or a panic: a test failure.
    Failed(String),
}

/// What the resize change did, for the Python driver.
#[derive(Debug, Clone)]
struct Resized {
    path: String,
    dim: usize,
    old_shape: Vec<u64>,
    new_shape: Vec<u64>,
    /// The bytes written into the new slab (None: left at the fill value, or copied).
    written: Option<Vec<u8>>,
    /// The new slab is a copy of the slab at this index of `dim` (types whose values a byte
    /// pattern could make invalid: enumerations, references, compounds, strings).
    copied_from: Option<u64>,
}

struct FileResult {
    rel: String,
    original: PathBuf,
    copy: PathBuf,
    dataset: Outcome,
    attr: Outcome,
    resize: Outcome,
    resized: Option<Resized>,
}

fn corpus_files(corpus: &Path) -> Vec<(String, bool)> {
    let manifest = corpus.join("MANIFEST.tsv");
    let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}): the shared corpus is missing, nothing was checked",
            manifest.display()
        )
    });
    let filter = std::env::var("H5OXIDE_RW_FILTER").unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(file), Some(role)) = (cols.first(), cols.get(1)) else {
            continue;
        };
        if *role != "test" || file.starts_with("bad/") || !file.contains(filter.as_str()) {
            continue;
        }
        let canon = corpus.join(format!("{file}.canon.json"));
        let Ok(doc) = std::fs::read_to_string(&canon) else {
            panic!("{} is missing", canon.display());
        };
        let doc = Json::parse(&doc).unwrap_or_else(|e| panic!("{}: {e}", canon.display()));
        if doc.get("ok").is_some_and(|v| v.is_truthy()) {
            let text = doc.to_canonical_string();
            let needs_siblings = ["\"virtual\"", "\"external\""]
                .iter()
                .any(|k| text.contains(k));
            out.push((file.to_string(), needs_siblings));
        }
    }
    assert!(
        !out.is_empty(),
        "no corpus files found in {}",
        manifest.display()
    );
    out
}

/// Reason of an unsupported change, with addresses and numbers blanked so reasons group.
fn reason_key(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '0' && chars.peek() == Some(&'x') {
            chars.next();
            while chars.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                chars.next();
            }
            out.push('#');
        } else if c.is_ascii_digit() {
            while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
                chars.next();
            }
            out.push('N');
        } else {
            out.push(c);
        }
    }
    out
}

fn classify(r: std::thread::Result<Result<Outcome, Error>>) -> Outcome {
    match r {
        Ok(Ok(o)) => o,
        Ok(Err(Error::Unsupported { feature })) => Outcome::Unsupported(feature),
        Ok(Err(e)) => Outcome::Failed(format!("error: {e}")),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Outcome::Failed(format!("panic: {msg}"))
        }
    }
}

/// Runs one change in its own session; restores the file when it did not succeed.
fn apply(copy: &Path, f: impl FnOnce(&Path) -> Result<Outcome, Error>) -> Outcome {
    let backup = copy.with_extension("rwbackup");
    std::fs::copy(copy, &backup).expect("backup copy");
    let out = classify(catch_unwind(AssertUnwindSafe(|| f(copy))));
    if !matches!(out, Outcome::Ok) {
        std::fs::copy(&backup, copy).expect("restore backup");
    }
    let _ = std::fs::remove_file(&backup);
    out
}

fn add_dataset(p: &Path) -> Result<Outcome, Error> {
    let mut f = RwFile::open(p)?;
    let d = f.create_dataset(
        DS_NAME,
        Value::from_slice(&[1i32, 2, 3, 4, 5], &[5])?,
        &DatasetOptions::new(),
    )?;
    f.set_attr(d, "note", "added by h5oxide")?;
    f.close()?;
    Ok(Outcome::Ok)
}

fn set_root_attr(p: &Path) -> Result<Outcome, Error> {
    let mut f = RwFile::open(p)?;
    let root = f.root_addr();
    f.set_attr(root, ATTR_NAME, ATTR_VALUE)?;
    f.close()?;
    Ok(Outcome::Ok)
}

/// The first chunked dataset with an unlimited dimension and few elements, depth first by
/// name; objects the reader cannot open are passed over.
/// A dataset to resize: path, shape, the dimension to grow, whether its type has
/// variable-length parts.
type Candidate = (String, Vec<u64>, usize, bool);

fn find_resizable(p: &Path) -> Result<Option<Candidate>, Error> {
    let f = File::open(p)?;
    let root = f.root()?;
    let mut stack = vec![root];
    let mut seen = std::collections::HashSet::new();
    while let Some(g) = stack.pop() {
        let Ok(links) = g.links() else { continue };
        let mut groups = Vec::new();
        for l in links {
            let h5oxide::group::LinkKind::Hard(a) = l.kind else {
                continue;
            };
            if !seen.insert(a) {
                continue;
            }
            let path = if g.name() == "/" {
                format!("/{}", l.name)
            } else {
                format!("{}/{}", g.name(), l.name)
            };
            match Object::at(g.file_inner(), a, path.clone()) {
                Ok(Object::Group(sub)) => groups.push(sub),
                Ok(Object::Dataset(d)) => {
                    if d.chunks().is_none() {
                        continue;
                    }
                    let Some(dim) = d.maxshape().iter().position(|m| m.is_none()) else {
                        continue;
                    };
                    if d.size() > MAX_RESIZE_ELEMENTS {
                        continue;
                    }
                    let shape: Vec<u64> = d.shape().iter().map(|&x| x as u64).collect();
                    return Ok(Some((path, shape, dim, d.dtype().has_variable_parts())));
                }
                _ => {}
            }
        }
        // Depth first, in name order: push in reverse.
        stack.extend(groups.into_iter().rev());
    }
    Ok(None)
}

fn resize_one(p: &Path, resized: &mut Option<Resized>) -> Result<Outcome, Error> {
    // Open first: a file we refuse to change is reported as such.
    let mut f = RwFile::open(p)?;
    let found = match find_resizable(p) {
        Ok(found) => found,
        Err(e) => {
            return Ok(Outcome::NotApplicable(format!(
                "the read API cannot walk the file: {}",
                reason_key(&e.to_string())
            )))
        }
    };
    let Some((path, old_shape, dim, variable)) = found else {
        return Ok(Outcome::NotApplicable(
            "no chunked dataset with an unlimited dimension".into(),
        ));
    };
    let addr = f.resolve(&path)?;
    let mut new_shape = old_shape.clone();
    new_shape[dim] += 1;
    f.resize(addr, &new_shape)?;
    let mut start = vec![0u64; old_shape.len()];
    start[dim] = old_shape[dim];
    let mut count = new_shape.clone();
    count[dim] = 1;
    let n: u64 = count.iter().product();
    let mut written = None;
    let mut copied_from = None;
    let dtype = f.dataset_spec(addr)?.dtype;
    let slab = Hyperslab::new_box(&start, &count);
    if variable || n == 0 {
        // Variable-length elements stay at the fill value (empty).
    } else if matches!(dtype.class_id(), 0 | 1) {
        let elem = dtype.size() as u64;
        let bytes: Vec<u8> = (0..n * elem).map(|i| (i * 7 + 3) as u8).collect();
        f.write_raw(addr, &slab, &bytes)?;
        written = Some(bytes);
    } else if old_shape[dim] > 0 {
        let k = old_shape[dim] - 1;
        let mut from = start.clone();
        from[dim] = k;
        let bytes = File::open(p)?
            .dataset(&path)?
            .read_hyperslab_raw(&Hyperslab::new_box(&from, &count))?;
        f.write_raw(addr, &slab, &bytes)?;
        copied_from = Some(k);
    }
    f.close()?;
    *resized = Some(Resized {
        path,
        dim,
        old_shape,
        new_shape,
        written,
        copied_from,
    });
    Ok(Outcome::Ok)
}

/// Copies `rel` under `work`. A file whose content depends on other files of its folder
/// (external raw data, virtual datasets: the oracle document says so) gets a folder of its own
/// with the original siblings symlinked, so the changed copies of those siblings do not
/// change it.
fn stage(corpus: &Path, work: &Path, rel: &str, needs_siblings: bool) -> PathBuf {
    let src = corpus.join(rel);
    let dst = if needs_siblings {
        let name = Path::new(rel).file_name().expect("file name");
        work.join("_own").join(rel).join(name)
    } else {
        work.join(rel)
    };
    let dir = dst.parent().expect("parent");
    std::fs::create_dir_all(dir).expect("create work folder");
    std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    if needs_siblings {
        if let Ok(entries) = src.parent().map_or(Ok(Vec::new()), |d| {
            std::fs::read_dir(d).map(|r| r.flatten().collect::<Vec<_>>())
        }) {
            for e in entries {
                let to = dir.join(e.file_name());
                if std::fs::symlink_metadata(&to).is_err() {
                    let _ = std::os::unix::fs::symlink(e.path(), &to);
                }
            }
        }
    }
    dst
}

fn json_str(s: &str) -> String {
    Json::text(s.as_bytes()).to_canonical_string()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn driver_input(results: &[FileResult], corpus: &Path) -> String {
    let mut out = String::from("[\n");
    for (i, r) in results.iter().enumerate() {
        let resize = match &r.resized {
            None => "null".to_string(),
            Some(z) => format!(
                "{{\"path\": {}, \"dim\": {}, \"old_shape\": {:?}, \"new_shape\": {:?}, \
                  \"written\": {}, \"copied_from\": {}}}",
                json_str(&z.path),
                z.dim,
                z.old_shape,
                z.new_shape,
                z.written
                    .as_ref()
                    .map_or("null".to_string(), |b| format!("\"{}\"", hex(b))),
                z.copied_from.map_or("null".to_string(), |k| k.to_string())
            ),
        };
        let _ = writeln!(
            out,
            "{{\"file\": {}, \"original\": {}, \"canon\": {}, \"modified\": {}, \
             \"dataset\": {}, \"attr\": {}, \"resize\": {resize}}}{}",
            json_str(&r.rel),
            json_str(&r.original.to_string_lossy()),
            json_str(
                &corpus
                    .join(format!("{}.canon.json", r.rel))
                    .to_string_lossy()
            ),
            json_str(&r.copy.to_string_lossy()),
            matches!(r.dataset, Outcome::Ok),
            matches!(r.attr, Outcome::Ok),
            if i + 1 < results.len() { "," } else { "" }
        );
    }
    out.push_str("]\n");
    out
}

/// `h5dump -H path`: None when it exits 0 with an empty stderr, else the complaint.
fn h5dump_h(path: &Path) -> Option<String> {
    let out = Command::new("h5dump")
        .arg("-H")
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run h5dump ({e}); run scripts/setup"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() && stderr.trim().is_empty() {
        None
    } else {
        Some(format!(
            "{}: {}",
            out.status,
            stderr.lines().take(3).collect::<Vec<_>>().join(" | ")
        ))
    }
}

/// Prints to the real stderr, bypassing the test harness's capture, so the summary shows
/// even when the test passes.
fn say(text: &str) {
    use std::io::Write;
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{text}");
}

#[test]
fn change_every_corpus_file_in_place() {
    let t0 = Instant::now();
    let shared = shared_dir();
    let corpus = shared.join("corpus");
    let files = corpus_files(&corpus);
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rw_corpus");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work folder");

    let mut results = Vec::new();
    for (rel, needs_siblings) in &files {
        let copy = stage(&corpus, &work, rel, *needs_siblings);
        let dataset = apply(&copy, add_dataset);
        let attr = apply(&copy, set_root_attr);
        let mut resized = None;
        let resize = apply(&copy, |p| resize_one(p, &mut resized));
        if !matches!(resize, Outcome::Ok) {
            resized = None;
        }
        results.push(FileResult {
            rel: rel.clone(),
            original: corpus.join(rel),
            copy,
            dataset,
            attr,
            resize,
            resized,
        });
    }
    let t_modify = t0.elapsed();

    // Summary of the changes.
    let mut failures = Vec::new();
    let mut summary = String::new();
    for (name, pick) in [("dataset", 0usize), ("attr", 1), ("resize", 2)] {
        let mut ok = 0;
        let mut na: BTreeMap<String, usize> = BTreeMap::new();
        let mut unsup: BTreeMap<String, (usize, String)> = BTreeMap::new();
        for r in &results {
            let o = [&r.dataset, &r.attr, &r.resize][pick];
            match o {
                Outcome::Ok => ok += 1,
                Outcome::NotApplicable(why) => *na.entry(why.clone()).or_default() += 1,
                Outcome::Unsupported(why) => {
                    let e = unsup
                        .entry(reason_key(why))
                        .or_insert_with(|| (0, r.rel.clone()));
                    e.0 += 1;
                }
                Outcome::Failed(why) => failures.push(format!("{} [{name}]: {why}", r.rel)),
            }
        }
        let n_unsup: usize = unsup.values().map(|v| v.0).sum();
        let _ = writeln!(
            summary,
            "rw_corpus {name}: {ok} ok, {n_unsup} unsupported, {} not applicable",
            na.values().sum::<usize>()
        );
        for (why, (n, example)) in &unsup {
            let _ = writeln!(summary, "    unsupported {n:4}  {why}  (e.g. {example})");
        }
        for (why, n) in &na {
            let _ = writeln!(summary, "    n/a         {n:4}  {why}");
        }
    }

    // One Python process checks every changed file.
    let input = work.join("driver_input.json");
    std::fs::write(&input, driver_input(&results, &corpus)).expect("write driver input");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rw_corpus_check.py");
    let py = python();
    let out = Command::new(&py)
        .arg(&script)
        .arg(shared.join("tools"))
        .arg(&input)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}); run scripts/setup", py.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mismatches: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("ok ") && !l.starts_with("summary"))
        .collect();
    let t_check = t0.elapsed();

    // h5dump -H on a sample of the changed files whose original it dumps cleanly.
    let mut dumped = 0;
    let mut dump_failures = Vec::new();
    let changed: Vec<&FileResult> = results
        .iter()
        .filter(|r| matches!(r.dataset, Outcome::Ok) || matches!(r.attr, Outcome::Ok))
        .collect();
    let step = (changed.len() / 150).max(1);
    for r in changed.iter().step_by(step) {
        if h5dump_h(&r.original).is_some() {
            continue;
        }
        dumped += 1;
        if let Some(e) = h5dump_h(&r.copy) {
            dump_failures.push(format!("{}: {e}", r.rel));
        }
    }

    say(&format!(
        "rw_corpus: {} files modified (changes {:.1}s, python check until {:.1}s, total {:.1}s)\n{summary}\
         rw_corpus python check: {} mismatches (exit {})\n\
         rw_corpus h5dump -H: {dumped} files dumped, {} failures",
        results.len(),
        t_modify.as_secs_f64(),
        t_check.as_secs_f64(),
        t0.elapsed().as_secs_f64(),
        mismatches.len(),
        out.status,
        dump_failures.len()
    ));
    for l in stdout.lines().filter(|l| l.starts_with("summary")) {
        say(l);
    }
    // Notes on files that passed (e.g. a chunk index converted to a v1 B-tree by the resize).
    let mut notes: BTreeMap<String, usize> = BTreeMap::new();
    for l in stdout.lines().filter(|l| l.starts_with("ok ")) {
        if let (Some(a), Some(b)) = (l.find("] ("), l.rfind(')')) {
            for n in l[a + 3..b].split("; ") {
                *notes.entry(n.to_string()).or_default() += 1;
            }
        }
    }
    for (n, k) in &notes {
        say(&format!("    note {k:4}  {n}"));
    }
    for m in &mismatches {
        say(&format!("MISMATCH {m}"));
    }
    for f in &failures {
        say(&format!("FAILED {f}"));
    }
    for d in &dump_failures {
        say(&format!("H5DUMP {d}"));
    }
    assert!(
        failures.is_empty(),
        "{} changes failed with an error that is not a typed Unsupported, or panicked",
        failures.len()
    );
    assert!(
        out.status.success() && mismatches.is_empty(),
        "the Python check found {} mismatches (exit {}):\n{}",
        mismatches.len(),
        out.status,
        stderr.lines().rev().take(30).collect::<Vec<_>>().join("\n")
    );
    assert!(
        dump_failures.is_empty(),
        "h5dump -H failed on {} changed files",
        dump_failures.len()
    );
}
