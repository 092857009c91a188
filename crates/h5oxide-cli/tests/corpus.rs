//! Conformance against the shared corpus: how close `h5oxide dump --canonical` is to the
//! oracle (`h5canon.py` = h5py + libhdf5).
//!
//! For every `role == test` row of `shared/corpus/MANIFEST.tsv` the test runs the built
//! binary `h5oxide dump --canonical FILE` (10 s timeout, killed on expiry; 4 GiB address-space
//! limit, so a memory blow-up aborts instead of taking the machine) and compares its stdout
//! with `FILE.canon.json` using the rules of `h5canon_compare.py`
//! (`h5oxide::canonical::compare`). Two files run at a time.
//!
//! # Outcome of one file
//!
//! * **crash** — killed by a signal, exit status 101 (a Rust panic) or any status other than
//!   0/1, timeout, output that is not a JSON document, or an exit status that contradicts the
//!   document (`"ok": true` must exit 0, `"ok": false` must exit 1). Always failing, whatever
//!   the expectations file says. This covers the negative tests under `bad/`: there a clean
//!   rejection is exit 1 with an `"ok": false` document, which matches every expected
//!   `"ok": false`.
//! * **identical** — the document compares equal to the expectation.
//! * **unsupported** — not equal, but listed in `tests/corpus-expectations.txt` and the dump
//!   reports the listed text in one of its *new* errors (see below).
//! * **failing** — anything else: not equal and not listed, or listed but the dump no longer
//!   reports the listed text.
//! * **stale** — listed in the expectations file but now identical (or no longer a test file
//!   of the corpus): the entry must be removed, so the list only shrinks. Fails the test.
//!
//! A document's *new errors* are the texts that explain a difference: for an `"ok": false`
//! document its top-level `error`; for an `"ok": true` document every `error`, `read_error`
//! or `chunk_error` value at a place where the oracle's document has no such key (in document
//! order: depth first, keys sorted). Texts are compared after replacing control characters
//! (tab, newline, ...) with spaces and trimming.
//!
//! The test fails when anything is failing, crashing or stale. It prints
//! `corpus: N identical, M unsupported, K failing` (K counts crashes and stale entries too),
//! how many identical files are also byte-identical, and each failing file with its first
//! difference.
//!
//! # The expectations file
//!
//! `crates/h5oxide-cli/tests/corpus-expectations.txt`, UTF-8. Lines starting with `#` and
//! blank lines are ignored. Every other line is
//! `relative/path<TAB>text`: the path as in the MANIFEST `file` column (relative to
//! `shared/corpus`), one TAB, then the text, which must be non-empty and occur as a substring
//! of one of the dump's new errors (so it may be shortened by hand to the stable part, e.g.
//! `unsupported: filter 32001`). One line per file.
//!
//! # Blessing
//!
//! `H5OXIDE_BLESS=1 cargo test --release -p h5oxide-cli --test corpus` rewrites the file from
//! the current results: every file that is not identical, did not crash, and has a new error
//! gets a line (an existing entry whose text still matches is kept as it is; otherwise the
//! first new error's text is written); entries of identical files are dropped. Files whose
//! output is wrong *without* any error (a silent wrong answer) cannot be blessed and keep the
//! test failing, as do crashes.
//!
//! # Environment
//!
//! * `H5OXIDE_SHARED` — the `shared` folder; default: `../shared` from the workspace root,
//!   else the first `shared/` with `corpus/MANIFEST.tsv` in an ancestor folder. If none is
//!   found the test prints a loud message and fails: nothing about conformance was checked.
//! * `H5OXIDE_CORPUS_FILTER=substr` — run only files whose path contains `substr` (stale
//!   checks and blessing then only concern those files).
//! * `H5OXIDE_CORPUS_JOBS` (default 2), `H5OXIDE_CORPUS_TIMEOUT` (seconds, default 10).
//! * `H5OXIDE_CORPUS_BIN` — run this program instead of the `h5oxide` built with the test
//!   (called as `PROGRAM dump --canonical FILE`).

mod common;
use common::shared_dir;
use h5oxide::canonical::compare::compare;
use h5oxide::canonical::json::Json;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const EXPECTATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus-expectations.txt");

/// Hand-curated known divergences: files where our document differs from the oracle's without
/// an error, each with the JSON pointer where the first difference must start and the reason
/// (e.g. libhdf5 reading uninitialised memory). `path<TAB>pointer<TAB>reason` per line. A
/// listed file must still differ at exactly that place (so a new difference fails), and the
/// list can only shrink: a listed file that has become identical fails the test.
const DIVERGENCES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus-divergences.txt");

fn read_divergences() -> BTreeMap<String, String> {
    let Ok(text) = std::fs::read_to_string(DIVERGENCES) else {
        return BTreeMap::new();
    };
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.splitn(3, '\t');
            Some((parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect()
}
const EXPECTATIONS_HEADER: &str = "\
# Corpus files whose `h5oxide dump --canonical` output is known to differ from the oracle
# because of a feature h5oxide reports as unsupported. Format and rules: the top of
# crates/h5oxide-cli/tests/corpus.rs. One line per file: relative/path<TAB>error text
# (a substring of the error the dump prints). Regenerate with
#   H5OXIDE_BLESS=1 cargo test --release -p h5oxide-cli --test corpus
";
const ERROR_KEYS: [&str; 3] = ["error", "read_error", "chunk_error"];
/// Address-space limit of the dump process, in KiB (4 GiB).
const MEMORY_LIMIT_KIB: u64 = 4 << 20;

/// Prints to the real stderr, bypassing the test harness's output capture, so the summary
/// is visible even when the test passes.
fn say(text: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(text.as_bytes());
    let _ = e.flush();
}

fn env_num(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn skipped(what: &str) {
    say(&format!(
        "\n\
         ==================================================================\n\
         {what}: SKIPPED - the shared corpus (shared/corpus/MANIFEST.tsv) was not found\n\
         next to the workspace (set H5OXIDE_SHARED). NOTHING WAS CHECKED: this is not a pass.\n\
         ==================================================================\n\n"
    ));
    panic!("{what}: the shared corpus was not found, so nothing was checked");
}

/// The `file` column of every `role == test` row, in manifest order.
fn test_files(corpus: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("read MANIFEST.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("MANIFEST header").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("MANIFEST.tsv has no `{name}` column"))
    };
    let (file_col, role_col) = (col("file"), col("role"));
    let mut files = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split('\t').collect();
        if cells.get(role_col) == Some(&"test") {
            files.push(cells[file_col].to_owned());
        }
    }
    assert!(!files.is_empty(), "MANIFEST.tsv lists no test files");
    files
}

/// The expectations file: path → text.
fn read_expectations() -> Result<BTreeMap<String, String>, String> {
    let text = match std::fs::read_to_string(EXPECTATIONS) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("{EXPECTATIONS}: {e}")),
    };
    let mut map = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (path, feature) = line
            .split_once('\t')
            .ok_or_else(|| format!("{EXPECTATIONS}:{}: no TAB between path and text", n + 1))?;
        if path.is_empty() || feature.trim().is_empty() {
            return Err(format!("{EXPECTATIONS}:{}: empty path or text", n + 1));
        }
        if map
            .insert(path.to_owned(), feature.trim().to_owned())
            .is_some()
        {
            return Err(format!("{EXPECTATIONS}:{}: {path} listed twice", n + 1));
        }
    }
    Ok(map)
}

fn write_expectations(map: &BTreeMap<String, String>) {
    let mut text = EXPECTATIONS_HEADER.to_owned();
    for (path, feature) in map {
        text.push_str(&format!("{path}\t{feature}\n"));
    }
    std::fs::write(EXPECTATIONS, text).expect("write the expectations file");
}

/// Control characters become spaces; surrounding whitespace goes.
fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn error_text(v: &Json) -> String {
    normalize(match v {
        Json::Str(s) => s,
        other => return normalize(&other.to_canonical_string()),
    })
}

/// The new errors of `actual` relative to `expected` (see the module docs).
fn new_errors(expected: &Json, actual: &Json) -> Vec<String> {
    fn walk(exp: Option<&Json>, act: &Json, out: &mut Vec<String>) {
        match act {
            Json::Object(map) => {
                for (k, v) in map {
                    let e = exp.and_then(|e| e.get(k));
                    if ERROR_KEYS.contains(&k.as_str()) && e.is_none() {
                        out.push(error_text(v));
                    }
                    walk(e, v, out);
                }
            }
            Json::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let e = match exp {
                        Some(Json::Array(es)) => es.get(i),
                        _ => None,
                    };
                    walk(e, v, out);
                }
            }
            _ => {}
        }
    }
    if !actual.get("ok").is_some_and(Json::is_truthy) {
        return actual.get("error").map(error_text).into_iter().collect();
    }
    let mut out = Vec::new();
    walk(Some(expected), actual, &mut out);
    out.retain(|t| !t.is_empty());
    out
}

/// What running one file gave, before the expectations are consulted.
enum Run {
    /// Crash, timeout, contract violation, unreadable expectation: never acceptable.
    Crash(String),
    /// The document compares equal to the expectation.
    Identical { byte_identical: bool },
    /// A clean run whose document differs.
    Differs {
        first_difference: String,
        new_errors: Vec<String>,
    },
}

struct Output {
    status: Option<std::process::ExitStatus>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    timed_out: bool,
    too_large: bool,
}

/// The binary under test: `H5OXIDE_CORPUS_BIN` or the `h5oxide` this crate built.
fn dump_binary() -> String {
    std::env::var("H5OXIDE_CORPUS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_h5oxide").to_owned())
}

fn run_dump(file: &Path, timeout: Duration, max_output: u64) -> std::io::Result<Output> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_LIMIT_KIB} 2>/dev/null; exec \"$0\" dump --canonical \"$1\""
        ))
        .arg(dump_binary())
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let reader = |pipe: Box<dyn Read + Send>, cap: u64| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.take(cap + 1).read_to_end(&mut buf);
            buf
        })
    };
    let out_thread = reader(Box::new(child.stdout.take().expect("stdout")), max_output);
    let err_thread = reader(Box::new(child.stderr.take().expect("stderr")), 1 << 20);
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if start.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = out_thread.join().expect("stdout reader");
    let stderr = err_thread.join().expect("stderr reader");
    let too_large = stdout.len() as u64 > max_output;
    Ok(Output {
        status,
        stdout,
        stderr,
        timed_out,
        too_large,
    })
}

fn tail(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let s = s.trim();
    let start = s.len().saturating_sub(400);
    let start = (start..=s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    normalize(&s[start..])
}

fn check_file(corpus: &Path, rel: &str, timeout: Duration) -> Run {
    let file = corpus.join(rel);
    let expected_path = corpus.join(format!("{rel}.canon.json"));
    let expected_bytes = match std::fs::read(&expected_path) {
        Ok(b) => b,
        Err(e) => return Run::Crash(format!("cannot read {}: {e}", expected_path.display())),
    };
    let expected = match std::str::from_utf8(&expected_bytes)
        .map_err(|e| e.to_string())
        .and_then(Json::parse)
    {
        Ok(j) => j,
        Err(e) => return Run::Crash(format!("bad expectation {}: {e}", expected_path.display())),
    };
    let max_output = (expected_bytes.len() as u64 * 8).max(64 << 20);
    let out = match run_dump(&file, timeout, max_output) {
        Ok(o) => o,
        Err(e) => return Run::Crash(format!("cannot run h5oxide: {e}")),
    };
    let stderr = tail(&out.stderr);
    let with_stderr = |msg: String| {
        if stderr.is_empty() {
            msg
        } else {
            format!("{msg}; stderr: {stderr}")
        }
    };
    if out.timed_out {
        return Run::Crash(with_stderr(format!("timeout after {timeout:?}")));
    }
    let status = out.status.expect("status unless timed out");
    let code = match status.code() {
        Some(c) => c,
        None => {
            use std::os::unix::process::ExitStatusExt;
            let sig = status.signal().unwrap_or(0);
            let what = match sig {
                6 => " (SIGABRT: abort, e.g. out of memory or a stack overflow)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                _ => "",
            };
            return Run::Crash(with_stderr(format!("killed by signal {sig}{what}")));
        }
    };
    if code == 101 {
        return Run::Crash(with_stderr("panicked (exit status 101)".into()));
    }
    if out.too_large {
        return Run::Crash(format!("output larger than {max_output} bytes"));
    }
    if code != 0 && code != 1 {
        return Run::Crash(with_stderr(format!("exit status {code}")));
    }
    let actual = match std::str::from_utf8(&out.stdout)
        .map_err(|e| e.to_string())
        .and_then(Json::parse)
    {
        Ok(j @ Json::Object(_)) => j,
        Ok(_) => return Run::Crash(with_stderr("output is not a JSON object".into())),
        Err(e) => return Run::Crash(with_stderr(format!("output is not JSON: {e}"))),
    };
    let ok = actual.get("ok").is_some_and(Json::is_truthy);
    if ok != (code == 0) {
        return Run::Crash(format!(
            "exit status {code} contradicts \"ok\": {ok} (ok:true exits 0, ok:false exits 1)"
        ));
    }
    match compare(&expected, &actual, &[]) {
        Ok(()) => Run::Identical {
            byte_identical: out.stdout == expected_bytes,
        },
        Err(first_difference) => Run::Differs {
            first_difference,
            new_errors: new_errors(&expected, &actual),
        },
    }
}

#[test]
fn corpus_conformance() {
    let Some(shared) = shared_dir() else {
        assert!(
            std::env::var_os("H5OXIDE_BLESS").is_none(),
            "H5OXIDE_BLESS needs the corpus"
        );
        skipped("corpus");
        return;
    };
    let corpus = shared.join("corpus");
    let bless = std::env::var("H5OXIDE_BLESS").is_ok_and(|v| !v.is_empty() && v != "0");
    let filter = std::env::var("H5OXIDE_CORPUS_FILTER").ok();
    let jobs = env_num("H5OXIDE_CORPUS_JOBS", 2).max(1) as usize;
    let timeout = Duration::from_secs(env_num("H5OXIDE_CORPUS_TIMEOUT", 10));
    let expectations = read_expectations().unwrap_or_else(|e| panic!("{e}"));

    let all_files = test_files(&corpus);
    let files: Vec<String> = all_files
        .iter()
        .filter(|f| filter.as_ref().is_none_or(|s| f.contains(s.as_str())))
        .cloned()
        .collect();
    say(&format!(
        "corpus: running {} files from {} ({jobs} at a time{})\n",
        files.len(),
        corpus.display(),
        if bless { ", BLESS" } else { "" }
    ));
    let started = Instant::now();

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Run>>> = Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(rel) = files.get(i) else { break };
                let run = check_file(&corpus, rel, timeout);
                results.lock().unwrap()[i] = Some(run);
            });
        }
    });
    let results: Vec<Run> = results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every file ran"))
        .collect();

    // Blessing: rewrite the entries of the files that ran.
    let expectations = if bless {
        let mut new = expectations.clone();
        for (rel, run) in files.iter().zip(&results) {
            new.remove(rel);
            if let Run::Differs { new_errors, .. } = run {
                let keep = expectations
                    .get(rel)
                    .filter(|t| new_errors.iter().any(|e| e.contains(t.as_str())));
                if let Some(text) = keep.or(new_errors.first()) {
                    new.insert(rel.clone(), text.clone());
                }
            }
        }
        if filter.is_none() {
            let known: BTreeSet<&String> = all_files.iter().collect();
            new.retain(|k, _| known.contains(k));
        }
        let added = new
            .keys()
            .filter(|k| !expectations.contains_key(*k))
            .count();
        let removed = expectations
            .keys()
            .filter(|k| !new.contains_key(*k))
            .count();
        write_expectations(&new);
        say(&format!(
            "corpus: BLESSED {EXPECTATIONS}: {} entries ({added} added, {removed} removed)\n",
            new.len()
        ));
        new
    } else {
        expectations
    };

    let divergences = read_divergences();
    let (mut identical, mut byte_identical, mut unsupported, mut divergent) = (0, 0, 0, 0);
    let mut failing: Vec<String> = Vec::new();
    for (rel, run) in files.iter().zip(&results) {
        let listed = expectations.get(rel);
        if let Some(pointer) = divergences.get(rel) {
            match run {
                Run::Differs {
                    first_difference,
                    new_errors,
                } if new_errors.is_empty() && first_difference.starts_with(pointer.as_str()) => {
                    divergent += 1;
                    say(&format!("KNOWN DIVERGENCE {rel}: {first_difference}\n"));
                }
                Run::Identical { .. } => failing.push(format!(
                    "{rel}: now identical: remove it from {DIVERGENCES}"
                )),
                Run::Differs {
                    first_difference, ..
                } => failing.push(format!(
                    "{rel}: listed as diverging at {pointer}, but differs with: {first_difference}"
                )),
                Run::Crash(why) => failing.push(format!("{rel}: CRASH: {why}")),
            }
            continue;
        }
        match run {
            Run::Crash(why) => failing.push(format!("{rel}: CRASH: {why}")),
            Run::Identical { byte_identical: b } => {
                identical += 1;
                byte_identical += *b as usize;
                if listed.is_some() {
                    failing.push(format!(
                        "{rel}: now identical: remove it from the expectations file \
                         (H5OXIDE_BLESS=1 does)"
                    ));
                }
            }
            Run::Differs {
                first_difference,
                new_errors,
            } => match listed {
                Some(text) if new_errors.iter().any(|e| e.contains(text.as_str())) => {
                    unsupported += 1
                }
                Some(text) => failing.push(format!(
                    "{rel}: expected unsupported {text:?}, but the dump's errors are {new_errors:?}; \
                     first difference: {first_difference}"
                )),
                None if new_errors.is_empty() => failing.push(format!(
                    "{rel}: wrong output without an error (cannot be blessed): {first_difference}"
                )),
                None => failing.push(format!("{rel}: {first_difference}")),
            },
        }
    }
    if filter.is_none() {
        let known: BTreeSet<&String> = all_files.iter().collect();
        for rel in expectations.keys().filter(|k| !known.contains(k)) {
            failing.push(format!(
                "{rel}: listed in the expectations file but not a test file of the corpus: \
                 remove it (H5OXIDE_BLESS=1 does)"
            ));
        }
    }

    let mut report = String::new();
    for f in &failing {
        let f = match f.char_indices().nth(600) {
            Some((i, _)) => format!("{}...", &f[..i]),
            None => f.clone(),
        };
        report.push_str(&format!("FAIL {f}\n"));
    }
    report.push_str(&format!(
        "corpus: {identical} identical, {unsupported} unsupported, {} failing\n\
         corpus: {divergent} known divergences (tests/corpus-divergences.txt); \
         {byte_identical} of the {identical} identical are byte-identical; {:.1} s\n",
        failing.len(),
        started.elapsed().as_secs_f64()
    ));
    say(&report);
    assert!(
        failing.is_empty(),
        "{} corpus files failing (list above)",
        failing.len()
    );
}

/// The serializer reproduces every oracle document byte for byte (CANONICAL.md §1).
#[test]
fn oracle_documents_reserialize_byte_identically() {
    let Some(shared) = shared_dir() else {
        skipped("oracle documents");
        return;
    };
    let corpus = shared.join("corpus");
    let mut checked = 0;
    let mut bad = Vec::new();
    for rel in test_files(&corpus) {
        let path = corpus.join(format!("{rel}.canon.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        match Json::parse(&text) {
            Ok(v) if v.to_document_string() == text => {}
            Ok(v) => {
                let again = v.to_document_string();
                let at = again
                    .bytes()
                    .zip(text.bytes())
                    .position(|(a, b)| a != b)
                    .unwrap_or(again.len().min(text.len()));
                let lo = at.saturating_sub(40);
                bad.push(format!(
                    "{rel}: differs at byte {at}: oracle {:?}, ours {:?}",
                    String::from_utf8_lossy(&text.as_bytes()[lo..(at + 40).min(text.len())]),
                    String::from_utf8_lossy(&again.as_bytes()[lo..(at + 40).min(again.len())])
                ));
            }
            Err(e) => bad.push(format!("{rel}: {e}")),
        }
        checked += 1;
    }
    assert!(checked > 0);
    assert!(
        bad.is_empty(),
        "{} documents:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
