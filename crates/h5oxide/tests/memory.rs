//! Peak memory of reading (issue #7): reading a dataset whole holds about its size, not twice
//! it, and [`h5oxide::Dataset::chunk_iter`] reads a dataset far larger than its chunks with
//! memory bounded by the chunk size.
//!
//! Peak resident memory (`VmHWM` in `/proc/self/status`) only ever grows, and writing the test
//! files raises it, so each measurement runs in a fresh child process: the test re-executes its
//! own binary (`memory_child`, selected by the `H5OXIDE_MEMORY_CHILD` variable), which opens the
//! file, reads, and prints its peak growth. Linux only (and little-endian: the test data are
//! the native bytes of f64 values).
#![cfg(all(target_os = "linux", target_endian = "little"))]

use std::path::{Path, PathBuf};
use std::process::Command;

use h5oxide::write::{DatasetOptions, Value};
use h5oxide::{Hyperslab, RwFile};

const MIB: u64 = 1 << 20;
/// Columns of the test datasets: one row is 8 KiB of f64.
const COLS: u64 = 1024;
/// Rows of the 256 MiB contiguous dataset.
const ROWS: u64 = 32768;
/// Rows of the chunked dataset (not a multiple of the chunk rows: the last chunks are partial).
const CHUNKED_ROWS: u64 = 32800;
/// Chunk shape of the chunked dataset: 1 MiB.
const CHUNK: [u64; 2] = [128, 1024];

/// The process's peak resident set size in bytes.
fn vm_hwm() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM value");
    kib * 1024
}

/// Exact sum of 0..n (all partial sums are integers below 2^53, so f64 adds them exactly in
/// any order).
fn sum_to(n: u64) -> f64 {
    (n * (n - 1) / 2) as f64
}

/// Sum of little-endian f64 bytes (through ndarray: this test runs unoptimised, its
/// dependencies optimised).
fn sum_le_f64(bytes: &[u8]) -> f64 {
    let v: &[f64] = bytemuck::try_cast_slice(bytes).expect("aligned whole f64s");
    ndarray::ArrayView1::from(v).sum()
}

/// The child side: runs one measurement when `H5OXIDE_MEMORY_CHILD` is `MODE:PATH`, prints
/// `growth=BYTES sum=VALUE`; does nothing otherwise (so the ordinary test run passes it).
#[test]
fn memory_child() {
    let Ok(spec) = std::env::var("H5OXIDE_MEMORY_CHILD") else {
        return;
    };
    let (mode, path) = spec.split_once(':').expect("MODE:PATH");
    let before = vm_hwm();
    let f = h5oxide::File::open(path).expect("open");
    let sum: f64 = match mode {
        "iter_chunked" => {
            let ds = f.dataset("chunked").expect("dataset");
            let mut sum = 0.0;
            let mut n = 0u64;
            for piece in ds.chunk_iter().typed::<f64>() {
                let (_, a) = piece.expect("chunk");
                n += a.len() as u64;
                sum += a.sum();
            }
            assert_eq!(n, CHUNKED_ROWS * COLS);
            sum
        }
        "iter_contiguous" => {
            let ds = f.dataset("contiguous").expect("dataset");
            let mut sum = 0.0;
            for piece in ds.chunk_iter() {
                let (_, bytes) = piece.expect("block");
                sum += sum_le_f64(&bytes);
            }
            sum
        }
        "read_raw" => {
            let raw = f
                .dataset("contiguous")
                .expect("dataset")
                .read_raw()
                .expect("read");
            sum_le_f64(&raw)
        }
        "read_f64" => f
            .dataset("contiguous")
            .expect("dataset")
            .read::<f64>()
            .expect("read")
            .sum(),
        "read_chunked" => f
            .dataset("chunked")
            .expect("dataset")
            .read::<f64>()
            .expect("read")
            .sum(),
        other => panic!("unknown mode {other}"),
    };
    let growth = vm_hwm().saturating_sub(before);
    println!("growth={growth} sum={sum}");
}

/// Runs `mode` in a child process; returns its peak growth in bytes and its sum.
fn measure(mode: &str, path: &Path) -> (u64, f64) {
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(exe)
        .args(["--exact", "memory_child", "--nocapture", "--test-threads=1"])
        .env("H5OXIDE_MEMORY_CHILD", format!("{mode}:{}", path.display()))
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child {mode} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The harness prints "test memory_child ... " on the same line first.
    let line = stdout
        .lines()
        .find_map(|l| l.find("growth=").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("no result from child {mode}: {stdout}"));
    let mut growth = None;
    let mut sum = None;
    for kv in line.split_whitespace() {
        match kv.split_once('=') {
            Some(("growth", v)) => growth = v.parse().ok(),
            Some(("sum", v)) => sum = v.parse().ok(),
            _ => {}
        }
    }
    (growth.expect("growth"), sum.expect("sum"))
}

/// Writes one file with a 256 MiB contiguous dataset (`contiguous`, values 0, 1, 2, ...) and a
/// 256.25 MiB chunked one (`chunked`, 1 MiB chunks, same values continued).
fn write_file(path: &Path) {
    let n = (CHUNKED_ROWS * COLS) as usize;
    // Built by (optimised) ndarray and bytemuck: an element-by-element loop in this unoptimised
    // test took most of its time.
    let values = ndarray::Array1::range(0.0, n as f64, 1.0);
    let bytes: &[u8] = bytemuck::cast_slice(values.as_slice().expect("standard layout"));
    let dtype = Value::from_slice(&[0f64], &[1])
        .expect("value")
        .dtype()
        .clone();
    // RwFile writes a hyperslab of contiguous or whole chunks straight to the file.
    let mut f = RwFile::create(path).expect("create");
    let c = f
        .create_dataset_empty(
            "/contiguous",
            dtype.clone(),
            &[ROWS, COLS],
            &DatasetOptions::new(),
        )
        .expect("dataset");
    let contiguous = (ROWS * COLS * 8) as usize;
    f.write_raw(c, &Hyperslab::all(&[ROWS, COLS]), &bytes[..contiguous])
        .expect("write");
    let k = f
        .create_dataset_empty(
            "/chunked",
            dtype,
            &[CHUNKED_ROWS, COLS],
            &DatasetOptions::new().chunks(&CHUNK),
        )
        .expect("dataset");
    f.write_raw(k, &Hyperslab::all(&[CHUNKED_ROWS, COLS]), bytes)
        .expect("write");
    f.close().expect("close");
}

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn peak_memory_of_whole_reads_and_chunk_iteration() {
    let file =
        TempFile(std::env::temp_dir().join(format!("h5oxide_memory_{}.h5", std::process::id())));
    write_file(&file.0);
    let size = ROWS * COLS * 8;
    let chunk_bytes = CHUNK[0] * CHUNK[1] * 8;
    let mut report = Vec::new();

    // Whole reads hold the result once: at most 5% more than its size plus a fixed 8 MiB.
    for mode in ["read_raw", "read_f64"] {
        let (growth, sum) = measure(mode, &file.0);
        report.push(format!("{mode}: {:.1} MiB", growth as f64 / MIB as f64));
        assert_eq!(sum, sum_to(ROWS * COLS), "{mode}");
        assert!(
            growth as f64 <= 1.05 * size as f64 + (8 * MIB) as f64,
            "{mode} of {size} bytes raised the peak by {growth} bytes"
        );
    }
    let (growth, sum) = measure("read_chunked", &file.0);
    report.push(format!(
        "read_chunked: {:.1} MiB",
        growth as f64 / MIB as f64
    ));
    assert_eq!(sum, sum_to(CHUNKED_ROWS * COLS));
    assert!(
        growth as f64 <= 1.05 * (CHUNKED_ROWS * COLS * 8) as f64 + (8 * MIB) as f64,
        "read of the chunked dataset raised the peak by {growth} bytes"
    );

    // Chunk by chunk: a few chunks' worth plus a fixed 16 MiB, whatever the dataset's size.
    for (mode, rows) in [("iter_chunked", CHUNKED_ROWS), ("iter_contiguous", ROWS)] {
        let (growth, sum) = measure(mode, &file.0);
        report.push(format!("{mode}: {:.1} MiB", growth as f64 / MIB as f64));
        assert_eq!(sum, sum_to(rows * COLS), "{mode}");
        assert!(
            growth <= 4 * chunk_bytes + 16 * MIB,
            "{mode} raised the peak by {growth} bytes"
        );
    }
    println!("peak growth: {}", report.join(", "));
}
