//! Read-side benchmark workloads for h5oxide, the Rust peer of `benches/harness/bench_py.py`.
//!
//! ```text
//! h5oxide-bench [--reps N] [--warmup N] [--label NAME] [--only FIGURE] WORKLOAD FILE [EXTRA]
//! ```
//!
//! Runs `warmup` untimed and `reps` timed repetitions of every figure of one workload on one
//! file (written by `benches/harness/gen_data.py`) and prints one JSON line per figure:
//! `{"impl", "workload", "figure", "reps", "times_s", "median_s", "min_s", "max_s", ...}`.
//! Figure names match the Python side's, so `benches/harness/run.py` can pair them.
//!
//! | workload | file | figures |
//! | --- | --- | --- |
//! | `w2` | contiguous float64 `data` | `read` (`read_raw`), `read_typed` (`read::<f64>`), `read_into` (preallocated `&mut [f64]`), `read_raw_into`, `read_mmap` |
//! | `w5` / `w6` | chunked float32 `data` with a filter pipeline | `read` (`read::<f32>`) |
//! | `w7` | `contig`, `chunked`, `gzip` (rows × 256 float32); EXTRA = row indices (u64 LE) | `contiguous`, `chunked`, `gzip` (one `read_slice(s![i, ..])` per row; EXTRA2 = how many rows for gzip) |
//! | `w8` | 10k groups with 1 dataset + 3 attributes each | `walk` (walk the tree, read every attribute's value) |
//! | `w9` | 1-D vlen UTF-8 strings `s` | `read_str` (`read_strings`) |
//! | `w11` | `plain_a/b` (float64), `gzip_a/b` (float32 gzip) | `{plain,gzip}_serial`, `{plain,gzip}_2threads` |
//! | `fancy` | 1-D float64 `contig`, `chunked`; EXTRA = sorted indices (u64 LE) | `contig`, `chunked` (`read_fancy`) |
//! | `w1` `w4` `w8c` `w9w` `w10` | SOURCE OUT [EXTRA]: writes (W1 contiguous, W4 gzip+shuffle chunked, W8 create, W9 strings: `FileWriter`; W10: EXTRA one-row appends through `RwFile`, resize + write) | `write` / `append` |
//! | `mem` | contiguous float64 `data`; EXTRA = one figure | `read` (`read_raw`), `read_typed` (`read::<f64>`), `iter` (`chunk_iter().typed::<f64>()`, summed): run once, with the peak resident set size before and after (`base_rss_bytes`, `peak_rss_bytes`; one figure per process, as the peak only grows) |

use std::hint::black_box;
use std::time::Instant;

use h5oxide::format::datatype::Datatype;
use h5oxide::select::AxisIndex;
use h5oxide::write::{DatasetOptions, FileWriter};
use h5oxide::{Attribute, File, OpenOptions};
use ndarray::s;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Opts {
    reps: usize,
    warmup: usize,
    label: String,
    /// Run only this figure (for profiling one figure with perf/callgrind).
    only: Option<String>,
}

/// One figure's timings.
struct Figure<'a> {
    opts: &'a Opts,
    workload: &'a str,
}

impl Figure<'_> {
    /// Times `f` (`warmup` untimed runs, then `reps` timed ones) and prints the JSON line.
    /// `ops` > 0 adds a per-operation figure; `nbytes` > 0 adds a throughput.
    fn run(&self, figure: &str, ops: u64, nbytes: u64, f: impl FnMut() -> Res<()>) -> Res<()> {
        self.run_setup(figure, ops, nbytes, || Ok(()), f)
    }

    /// Like [`Figure::run`], with an untimed `setup` before every repetition.
    fn run_setup(
        &self,
        figure: &str,
        ops: u64,
        nbytes: u64,
        mut setup: impl FnMut() -> Res<()>,
        mut f: impl FnMut() -> Res<()>,
    ) -> Res<()> {
        if self.opts.only.as_deref().is_some_and(|o| o != figure) {
            return Ok(());
        }
        for _ in 0..self.opts.warmup {
            setup()?;
            f()?;
        }
        let mut times = Vec::with_capacity(self.opts.reps);
        for _ in 0..self.opts.reps {
            setup()?;
            let t0 = Instant::now();
            f()?;
            times.push(t0.elapsed().as_secs_f64());
        }
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n == 0 {
            f64::NAN
        } else if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        let list: Vec<String> = times.iter().map(|t| format!("{t:.6}")).collect();
        let mut line = format!(
            "{{\"impl\": \"{}\", \"workload\": \"{}\", \"figure\": \"{}\", \"reps\": {}, \
             \"times_s\": [{}], \"median_s\": {:.6}, \"min_s\": {:.6}, \"max_s\": {:.6}",
            self.opts.label,
            self.workload,
            figure,
            n,
            list.join(", "),
            median,
            sorted.first().copied().unwrap_or(f64::NAN),
            sorted.last().copied().unwrap_or(f64::NAN),
        );
        if ops > 0 {
            line += &format!(
                ", \"ops\": {ops}, \"us_per_op_median\": {:.3}",
                median / ops as f64 * 1e6
            );
        }
        if nbytes > 0 {
            line += &format!(
                ", \"bytes\": {nbytes}, \"MBps_median\": {:.1}",
                nbytes as f64 / median / 1e6
            );
        }
        line.push('}');
        println!("{line}");
        Ok(())
    }
}

/// Reads a file of little-endian u64 indices.
fn read_indices(path: &str) -> Res<Vec<u64>> {
    let b = std::fs::read(path)?;
    Ok(b.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect())
}

/// Reads an attribute's value the way h5py's `attrs.items()` does: decoded to its natural type.
fn read_attr_value(a: &Attribute) -> Res<()> {
    match a.dtype() {
        Datatype::FixedPoint(_) => {
            black_box(a.read::<i64>()?);
        }
        Datatype::Float(_) => {
            black_box(a.read::<f64>()?);
        }
        Datatype::String { .. } | Datatype::VarLenString { .. } => {
            black_box(a.read_strings()?);
        }
        _ => {
            black_box(a.raw());
        }
    }
    Ok(())
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("h5oxide-bench: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Res<()> {
    let mut opts = Opts {
        reps: 3,
        warmup: 1,
        label: "h5oxide".into(),
        only: None,
    };
    let mut pos = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--reps" => opts.reps = args.next().ok_or("--reps needs a value")?.parse()?,
            "--warmup" => opts.warmup = args.next().ok_or("--warmup needs a value")?.parse()?,
            "--label" => opts.label = args.next().ok_or("--label needs a value")?,
            "--only" => opts.only = Some(args.next().ok_or("--only needs a figure name")?),
            "-h" | "--help" => {
                println!("usage: h5oxide-bench [--reps N] [--warmup N] [--label NAME] [--only FIGURE] WORKLOAD FILE [EXTRA...]\nworkloads: w2 w5 w6 w7 w8 w9 w11 fancy mem; writes: w1 w4 w8c w9w w10");
                return Ok(());
            }
            _ => pos.push(a),
        }
    }
    let (workload, file) = match (pos.first(), pos.get(1)) {
        (Some(w), Some(f)) => (w.as_str(), f.as_str()),
        _ => {
            return Err("usage: h5oxide-bench [--reps N] [--warmup N] WORKLOAD FILE [EXTRA]".into())
        }
    };
    let fig = Figure {
        opts: &opts,
        workload,
    };
    match workload {
        "w2" => w2(&fig, file),
        "w5" | "w6" => {
            let nbytes = File::open(file)?.dataset("data")?.info().num_bytes()?;
            fig.run("read", 0, nbytes, || {
                let f = File::open(file)?;
                black_box(f.dataset("data")?.read::<f32>()?);
                Ok(())
            })
        }
        "w7" => {
            let idx = read_indices(pos.get(2).ok_or("w7 needs the row-index file")?)?;
            let gzip_n: usize = match pos.get(3) {
                Some(n) => n.parse()?,
                None => idx.len(),
            };
            for (figure, name, ids) in [
                ("contiguous", "contig", &idx[..]),
                ("chunked", "chunked", &idx[..]),
                ("gzip", "gzip", &idx[..gzip_n.min(idx.len())]),
            ] {
                fig.run(figure, ids.len() as u64, 0, || {
                    let f = File::open(file)?;
                    let ds = f.dataset(name)?;
                    let mut s = 0.0f32;
                    for &i in ids {
                        let row = ds.read_slice::<f32, _>(s![i as isize, ..])?;
                        s += row[[0]];
                    }
                    black_box(s);
                    Ok(())
                })?;
            }
            Ok(())
        }
        "w8" => {
            let f0 = File::open(file)?;
            let nobj = f0.root()?.walk()?.len() as u64;
            fig.run("walk", nobj / 2, 0, || {
                let f = File::open(file)?;
                let mut nattr = 0usize;
                for (_, obj) in f.root()?.walk()? {
                    for a in obj.attrs()? {
                        read_attr_value(&a)?;
                        nattr += 1;
                    }
                }
                if nattr as u64 * 2 != nobj * 3 {
                    return Err(format!("read {nattr} attributes for {nobj} objects").into());
                }
                Ok(())
            })
        }
        "w9" => {
            let n = File::open(file)?.dataset("s")?.size();
            fig.run("read_str", n, 0, || {
                let f = File::open(file)?;
                let v = f.dataset("s")?.read_strings()?;
                if v.len() as u64 != n {
                    return Err("wrong string count".into());
                }
                black_box(v);
                Ok(())
            })
        }
        "w11" => w11(&fig, file),
        "w1" | "w4" | "w8c" | "w9w" | "w10" => {
            let out = pos.get(2).ok_or("write workloads need SOURCE OUT")?;
            let r = writes(&fig, workload, file, out, pos.get(3));
            let _ = std::fs::remove_file(out);
            r
        }
        "fancy" => {
            let idx = read_indices(pos.get(2).ok_or("fancy needs the index file")?)?;
            for name in ["contig", "chunked"] {
                fig.run(name, idx.len() as u64, 0, || {
                    let f = File::open(file)?;
                    let a = f
                        .dataset(name)?
                        .read_fancy::<f64>(&[AxisIndex::List(idx.clone())])?;
                    black_box(a);
                    Ok(())
                })?;
            }
            Ok(())
        }
        "mem" => mem(
            &opts,
            file,
            pos.get(2).map(String::as_str).unwrap_or("read"),
        ),
        other => Err(format!("unknown workload {other:?}").into()),
    }
}

/// The process's peak resident set size in bytes (`VmHWM`; 0 where there is no `/proc`).
fn vm_hwm() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// Peak memory of one way of reading a whole contiguous float64 dataset, run once.
fn mem(opts: &Opts, file: &str, figure: &str) -> Res<()> {
    let nbytes = File::open(file)?.dataset("data")?.info().num_bytes()?;
    let base = vm_hwm();
    let t0 = Instant::now();
    let n = match figure {
        "read" => File::open(file)?.dataset("data")?.read_raw()?.len() as u64,
        "read_typed" => {
            let a = File::open(file)?.dataset("data")?.read::<f64>()?;
            a.len() as u64 * 8
        }
        "iter" => {
            let ds = File::open(file)?.dataset("data")?;
            let mut s = 0.0f64;
            let mut n = 0u64;
            for piece in ds.chunk_iter().typed::<f64>() {
                let (_, a) = piece?;
                n += a.len() as u64 * 8;
                s += a.sum();
            }
            black_box(s);
            n
        }
        other => return Err(format!("mem: unknown figure {other:?}").into()),
    };
    let t = t0.elapsed().as_secs_f64();
    let peak = vm_hwm();
    if n != nbytes {
        return Err(format!("mem {figure}: read {n} of {nbytes} bytes").into());
    }
    println!(
        "{{\"impl\": \"{}\", \"workload\": \"mem\", \"figure\": \"{figure}\", \"reps\": 1, \
         \"times_s\": [{t:.6}], \"median_s\": {t:.6}, \"min_s\": {t:.6}, \"max_s\": {t:.6}, \
         \"bytes\": {nbytes}, \"base_rss_bytes\": {base}, \"peak_rss_bytes\": {peak}}}",
        opts.label
    );
    Ok(())
}

fn w2(fig: &Figure<'_>, file: &str) -> Res<()> {
    let ds0 = File::open(file)?.dataset("data")?;
    let nbytes = ds0.info().num_bytes()?;
    let n = ds0.size() as usize;
    fig.run("read", 0, nbytes, || {
        black_box(File::open(file)?.dataset("data")?.read_raw()?);
        Ok(())
    })?;
    fig.run("read_typed", 0, nbytes, || {
        black_box(File::open(file)?.dataset("data")?.read::<f64>()?);
        Ok(())
    })?;
    // Preallocated and touched once, like h5py's read_direct peer.
    let mut buf = vec![1.0f64; n];
    fig.run("read_into", 0, nbytes, || {
        File::open(file)?.dataset("data")?.read_into(&mut buf)?;
        black_box(&buf);
        Ok(())
    })?;
    let mut bytes = vec![1u8; nbytes as usize];
    fig.run("read_raw_into", 0, nbytes, || {
        File::open(file)?
            .dataset("data")?
            .read_raw_into(&mut bytes)?;
        black_box(&bytes);
        Ok(())
    })?;
    fig.run("read_mmap", 0, nbytes, || {
        let f = OpenOptions::new().mmap(true).open(file)?;
        black_box(f.dataset("data")?.read_raw()?);
        Ok(())
    })?;
    fig.run("read_into_mmap", 0, nbytes, || {
        let f = OpenOptions::new().mmap(true).open(file)?;
        f.dataset("data")?.read_into(&mut buf)?;
        black_box(&buf);
        Ok(())
    })
}

/// Reads one dataset fully as its natural element type.
fn read_whole(f: &File, name: &str) -> Res<()> {
    let ds = f.dataset(name)?;
    if name.starts_with("gzip") {
        black_box(ds.read::<f32>()?);
    } else {
        black_box(ds.read::<f64>()?);
    }
    Ok(())
}

fn w11(fig: &Figure<'_>, file: &str) -> Res<()> {
    let f = File::open(file)?;
    for kind in ["plain", "gzip"] {
        let (a, b) = (format!("{kind}_a"), format!("{kind}_b"));
        let nbytes = f.dataset(&a)?.info().num_bytes()? + f.dataset(&b)?.info().num_bytes()?;
        fig.run(&format!("{kind}_serial"), 0, nbytes, || {
            read_whole(&f, &a)?;
            read_whole(&f, &b)
        })?;
        fig.run(&format!("{kind}_2threads"), 0, nbytes, || {
            let (ra, rb) = std::thread::scope(|sc| {
                let ta = sc.spawn(|| read_whole(&f, &a).map_err(|e| e.to_string()));
                let tb = sc.spawn(|| read_whole(&f, &b).map_err(|e| e.to_string()));
                (ta.join(), tb.join())
            });
            for r in [ra, rb] {
                r.map_err(|_| "reader thread panicked")??;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Removes a previous repetition's output (untimed) and syncs, as the h5py side does.
fn clean(out: &str) -> Res<()> {
    match std::fs::remove_file(out) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    Ok(())
}

/// Write workloads: the data comes from `src` (read untimed), the file goes to `out`.
///
/// * `w1`: the W2 file's float64 array, written contiguous;
/// * `w4`: the W5 file's float32 array, written chunked (1 MiB chunks) with shuffle + gzip 4;
/// * `w8c`: `n` groups (EXTRA, default 10000) with one 16×int32 dataset and 3 attributes each
///   (`src` unused);
/// * `w9w`: the W9 file's strings, written as one vlen UTF-8 dataset.
fn writes(fig: &Figure<'_>, w: &str, src: &str, out: &str, extra: Option<&String>) -> Res<()> {
    match w {
        "w1" => {
            let v = File::open(src)?
                .dataset("data")?
                .read::<f64>()?
                .into_raw_vec_and_offset()
                .0;
            let nbytes = v.len() as u64 * 8;
            fig.run_setup(
                "write",
                0,
                nbytes,
                || clean(out),
                || {
                    let mut f = FileWriter::create(out)?;
                    f.create_dataset("data", &v[..])?;
                    f.close()?;
                    Ok(())
                },
            )
        }
        "w4" => {
            let v = File::open(src)?
                .dataset("data")?
                .read::<f32>()?
                .into_raw_vec_and_offset()
                .0;
            let nbytes = v.len() as u64 * 4;
            fig.run_setup(
                "write",
                0,
                nbytes,
                || clean(out),
                || {
                    let mut f = FileWriter::create(out)?;
                    let opts = DatasetOptions::new()
                        .chunks(&[1 << 18])
                        .shuffle(true)
                        .deflate(4);
                    f.create_dataset_with("data", &v[..], opts)?;
                    f.close()?;
                    Ok(())
                },
            )
        }
        "w8c" => {
            let n: usize = extra.map(|s| s.parse()).transpose()?.unwrap_or(10_000);
            let small: Vec<i32> = (0..16).collect();
            fig.run_setup(
                "create",
                n as u64,
                0,
                || clean(out),
                || {
                    let mut f = FileWriter::create(out)?;
                    for i in 0..n {
                        let g = f.create_group(&format!("g{i:05}"))?;
                        g.create_dataset("d", &small[..])?;
                        g.set_attr("index", i as i64)?;
                        g.set_attr("scale", i as f64 * 0.5)?;
                        g.set_attr("name", format!("group number {i}"))?;
                    }
                    f.close()?;
                    Ok(())
                },
            )
        }
        "w9w" => {
            let v = File::open(src)?.dataset("s")?.read_strings()?;
            fig.run_setup(
                "write",
                v.len() as u64,
                0,
                || clean(out),
                || {
                    let mut f = FileWriter::create(out)?;
                    f.create_dataset("s", &v[..])?;
                    f.close()?;
                    Ok(())
                },
            )
        }
        "w10" => {
            // One-row appends to an unlimited chunked dataset, as h5py does them: resize, then
            // write the new row, through RwFile (objects change in place, like libhdf5).
            let n: u64 = match extra {
                Some(x) => x.parse()?,
                None => 100_000,
            };
            let dtype = File::open(src)?.dataset("data")?.dtype().clone();
            let row: Vec<u8> = (0..8).flat_map(|i| (i as f64).to_le_bytes()).collect();
            fig.run_setup(
                "append",
                n,
                0,
                || clean(out),
                || {
                    let mut f = h5oxide::RwFile::create(out)?;
                    let opts = DatasetOptions::new()
                        .chunks(&[1024, 8])
                        .maxshape(&[None, Some(8)]);
                    let addr = f.create_dataset_empty("log", dtype.clone(), &[0, 8], &opts)?;
                    for i in 0..n {
                        f.resize(addr, &[i + 1, 8])?;
                        let sel = h5oxide::Hyperslab {
                            start: vec![i, 0],
                            stride: vec![1, 1],
                            count: vec![1, 8],
                            block: vec![1, 1],
                        };
                        f.write_raw(addr, &sel, &row)?;
                    }
                    f.close()?;
                    Ok(())
                },
            )
        }
        _ => Err(format!("unknown write workload {w:?}").into()),
    }
}
