//! Shared by the interop tests: the project's Python (with real h5py), `h5dump`, the shared
//! folder with the oracle. A missing Python, h5py or h5dump fails the tests: never skipped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `$H5OXIDE_PYTHON`, else the workspace's `.venv/bin/python` (`scripts/setup` creates it).
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("H5OXIDE_PYTHON") {
        return PathBuf::from(p);
    }
    workspace().join(".venv/bin/python")
}

/// A fresh path for an output file of test `group`.
pub fn out_path(group: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(group);
    std::fs::create_dir_all(&dir).expect("create test output directory");
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

/// Runs Python `code` with `sys`, `h5py`, `numpy as np` imported and `path` as `sys.argv[1]`;
/// fails the test with Python's output unless it exits 0. Returns stdout.
pub fn python_run(path: &Path, code: &str) -> String {
    let py = python();
    let script = format!("import sys\nimport h5py\nimport numpy as np\n{code}\n");
    let out = Command::new(&py)
        .arg("-c")
        .arg(&script)
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); run scripts/setup or set H5OXIDE_PYTHON to a Python with h5py",
                py.display()
            )
        });
    assert!(
        out.status.success(),
        "Python check of {} failed:\n{}\n--- script:\n{script}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `code` with `f` = h5py.File(path, 'r').
pub fn h5py_check(path: &Path, code: &str) {
    python_run(
        path,
        &format!("f = h5py.File(sys.argv[1], 'r')\n{code}\nf.close()\nprint('ok')"),
    );
}

/// Runs `h5dump` on `path`, asserts it exits 0 without errors, and returns its output.
pub fn h5dump(path: &Path, args: &[&str]) -> String {
    let out = Command::new("h5dump")
        .args(args)
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run h5dump ({e}); run scripts/setup"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "h5dump {} failed ({}):\n{stderr}\n{stdout}",
        path.display(),
        out.status
    );
    stdout
}

/// The corpus folder: `shared/corpus` in the first ancestor of this crate that has one (tests
/// over the corpus skip themselves when it is missing).
pub fn corpus_dir() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/corpus"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| here.join("../../../shared/corpus"))
}

/// The shared folder (`$H5OXIDE_SHARED`, else the first ancestor's `shared/` with the tools).
pub fn shared_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("H5OXIDE_SHARED") {
        return PathBuf::from(p);
    }
    let mut d = workspace().canonicalize().expect("workspace path");
    loop {
        let cand = d.join("shared");
        if cand.join("tools/h5canon.py").is_file() {
            return cand;
        }
        if !d.pop() {
            panic!("cannot find the shared folder with tools/h5canon.py; set H5OXIDE_SHARED");
        }
    }
}

/// Compares h5oxide's canonical description of `path` with the oracle's (`h5canon.py`, h5py
/// on libhdf5): h5oxide's reader must see exactly what libhdf5 sees in the written file.
pub fn canonical_matches_oracle(path: &Path) {
    let shared = shared_dir();
    let out = Command::new(python())
        .arg(shared.join("tools/h5canon.py"))
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run h5canon.py ({e}); run scripts/setup"));
    let text = String::from_utf8_lossy(&out.stdout);
    let oracle = h5oxide::canonical::Json::parse(&text)
        .unwrap_or_else(|e| panic!("h5canon.py output is not JSON ({e}): {text}"));
    assert!(
        oracle.get("ok").is_some_and(|j| j.is_truthy()),
        "libhdf5 rejects {}: {text}",
        path.display()
    );
    let (ours, _) = h5oxide::canonical::dump(path);
    let diffs = h5oxide::canonical::compare::differences(&oracle, &ours, &[], 10);
    assert!(
        diffs.is_empty(),
        "h5oxide's reader and libhdf5 disagree on {}:\n{}",
        path.display(),
        diffs.join("\n")
    );
}
