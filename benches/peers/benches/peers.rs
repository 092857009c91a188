//! h5oxide against the other pure-Rust HDF5 readers on crates.io, one criterion group per
//! workload and one function per implementation (see `benches/README.md`).
//!
//! | group | what every implementation does per iteration |
//! | --- | --- |
//! | `W2` | open the W2 file, read the whole contiguous float64 `data` into memory |
//! | `W5` | open the W5 file, read the whole gzip+shuffle chunked float32 `data` into memory |
//! | `W7_chunked`, `W7_gzip` | open the W7 file and the dataset, read N single rows (256 float32) at the seeded random indices of `w7_idx_*.u64` (throughput = N, so the table shows a time per read) |
//! | `W8_earliest`, `W8_latest` | open the W8 file, visit every group and dataset, read every attribute's value (throughput = groups, so the table shows a time per group) |
//!
//! Before timing, every implementation runs its workload once and its result (a checksum of
//! the values) is compared with h5oxide's; an implementation that fails, differs or has no API
//! for the workload is not timed: a line `peers: GROUP/FUNCTION skipped: REASON` is printed
//! and, when `PEERS_STATUS` names a file, appended to it as a JSON line.
//!
//! Environment: `BENCH_DIR` (where `benches/harness/gen_data.py` wrote the files, default
//! `<tmp>/h5oxide-bench`) and the same size variables as `gen_data.py` (`BENCH_CONTIG_MIB`,
//! `BENCH_COMPRESSED_MIB`, `BENCH_ROWS`, `BENCH_W7_READS`, `BENCH_GROUPS`), plus
//! `BENCH_W7_GZIP_READS` (rows read from the gzip dataset, default 1000, as `run.py`).

use std::collections::HashMap;
use std::hint::black_box;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use h5oxide::format::datatype::Datatype;
use ndarray::s;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// What a workload produced, compared across implementations before timing.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Digest {
    /// Element count and FNV-1a over the elements' bit patterns, in order.
    Values { n: u64, hash: u64 },
    /// Attributes read, sum of the numeric values, order-independent hash of the strings.
    Attrs { n: u64, sum: f64, strings: u64 },
}

fn fnv1a(mut h: u64, word: u64) -> u64 {
    for b in word.to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

const FNV0: u64 = 0xcbf2_9ce4_8422_2325;

fn digest_f64(v: &[f64]) -> Digest {
    Digest::Values {
        n: v.len() as u64,
        hash: v.iter().fold(FNV0, |h, x| fnv1a(h, x.to_bits())),
    }
}

fn digest_f32(v: &[f32]) -> Digest {
    Digest::Values {
        n: v.len() as u64,
        hash: v.iter().fold(FNV0, |h, x| fnv1a(h, u64::from(x.to_bits()))),
    }
}

fn string_hash(s: &str) -> u64 {
    s.bytes().fold(FNV0, |h, b| fnv1a(h, u64::from(b)))
}

/// What one iteration returns. The checksum is taken from it only in the untimed check run,
/// so the timed iterations pay for reading, not for hashing.
enum Out {
    F64(Vec<f64>),
    F32(Vec<f32>),
    Arr64(ndarray::ArrayD<f64>),
    Arr32(ndarray::ArrayD<f32>),
    Done(Digest),
}

impl Out {
    fn digest(&self) -> Res<Digest> {
        Ok(match self {
            Out::F64(v) => digest_f64(v),
            Out::F32(v) => digest_f32(v),
            Out::Arr64(a) => digest_f64(a.as_slice().ok_or("not in standard order")?),
            Out::Arr32(a) => digest_f32(a.as_slice().ok_or("not in standard order")?),
            Out::Done(d) => *d,
        })
    }
}

/// Accumulates attribute values into a [`Digest::Attrs`].
#[derive(Default)]
struct AttrSum {
    n: u64,
    sum: f64,
    strings: u64,
}

impl AttrSum {
    fn num(&mut self, v: f64) {
        self.n += 1;
        self.sum += v;
    }
    fn string(&mut self, s: &str) {
        self.n += 1;
        self.strings = self.strings.wrapping_add(string_hash(s));
    }
    fn digest(&self) -> Digest {
        Digest::Attrs {
            n: self.n,
            sum: self.sum,
            strings: self.strings,
        }
    }
}

/// The data files, named as `benches/harness/gen_data.py` names them.
struct Files {
    w2: PathBuf,
    w5: PathBuf,
    w7: PathBuf,
    w7_idx: PathBuf,
    w8: [(&'static str, PathBuf); 2],
    w7_reads: usize,
    w7_gzip_reads: usize,
    groups: u64,
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Files {
    fn from_env() -> Files {
        let dir = std::env::var_os("BENCH_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("h5oxide-bench"));
        let cmib = env_num("BENCH_CONTIG_MIB", 256);
        let zmib = env_num("BENCH_COMPRESSED_MIB", 64);
        let rows = env_num("BENCH_ROWS", 65536);
        let reads = env_num("BENCH_W7_READS", 10000);
        let groups = env_num("BENCH_GROUPS", 10000);
        let f = Files {
            w2: dir.join(format!("w2_contig_f64_{cmib}MiB.h5")),
            w5: dir.join(format!("w4_gzip_{zmib}MiB.h5")),
            w7: dir.join(format!("w7_rows_{rows}.h5")),
            w7_idx: dir.join(format!("w7_idx_{rows}_{reads}.u64")),
            w8: [
                (
                    "earliest",
                    dir.join(format!("w8_meta_earliest_{groups}.h5")),
                ),
                ("latest", dir.join(format!("w8_meta_latest_{groups}.h5"))),
            ],
            w7_reads: reads as usize,
            w7_gzip_reads: env_num("BENCH_W7_GZIP_READS", 1000) as usize,
            groups,
        };
        let all = [&f.w2, &f.w5, &f.w7, &f.w7_idx, &f.w8[0].1, &f.w8[1].1];
        let missing: Vec<_> = all.iter().filter(|p| !p.exists()).collect();
        if !missing.is_empty() {
            eprintln!(
                "peers: data files missing: {missing:?}\n\
                 peers: write them first (same BENCH_DIR and BENCH_* sizes), e.g.\n  \
                 BENCH_ONLY=w2,w5,w7,w8 .venv/bin/python benches/harness/gen_data.py\n\
                 or run BENCH_PEERS=1 ./scripts/bench, which does it."
            );
            std::process::exit(2);
        }
        f
    }
}

fn read_indices(path: &PathBuf) -> Res<Vec<u64>> {
    let b = std::fs::read(path)?;
    Ok(b.chunks_exact(8)
        .map(|c| {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect())
}

/// One implementation of one workload: `Ok(digest)`, `Err(reason)` when it fails, or no
/// closure at all when the crate has no API for it.
struct Imp<'a> {
    name: &'static str,
    run: Result<Box<dyn Fn() -> Res<Out> + 'a>, &'static str>,
}

fn imp<'a>(name: &'static str, f: impl Fn() -> Res<Out> + 'a) -> Imp<'a> {
    Imp {
        name,
        run: Ok(Box::new(f)),
    }
}

fn unsupported(name: &'static str, why: &'static str) -> Imp<'static> {
    Imp {
        name,
        run: Err(why),
    }
}

/// Prints a skip and appends the outcome of the check run to `$PEERS_STATUS`; `once_s` is
/// the duration of that (untimed) run.
fn record(group: &str, name: &str, status: &str, detail: &str, once_s: f64) {
    match status {
        "ok" => {}
        "slow" => println!("peers: {group}/{name} not run by criterion: {detail}"),
        _ => println!("peers: {group}/{name} skipped: {detail}"),
    }
    if let Some(p) = std::env::var_os("PEERS_STATUS") {
        let line = format!(
            "{{\"group\": {:?}, \"function\": {:?}, \"status\": {:?}, \"detail\": {:?}, \
             \"once_s\": {:.6}}}\n",
            group, name, status, detail, once_s
        );
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p);
        if let Ok(mut f) = f {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// Checks every implementation against the first (h5oxide), then times the ones that agree.
///
/// An implementation whose check run takes longer than `PEERS_MAX_ITER_S` seconds (default 5)
/// is not given to criterion (its ten samples would take minutes); the check run's time is
/// recorded instead, as status `slow`.
fn run_group(c: &mut Criterion, group: &str, throughput: Option<u64>, imps: Vec<Imp<'_>>) {
    let max_s = env_num("PEERS_MAX_ITER_S", 5) as f64;
    let mut reference: Option<Digest> = None;
    let mut ok = Vec::new();
    for im in imps {
        let f = match im.run {
            Err(why) => {
                record(group, im.name, "unsupported", why, 0.0);
                continue;
            }
            Ok(f) => f,
        };
        let t0 = Instant::now();
        let res = f();
        let once = t0.elapsed().as_secs_f64();
        let res = res.and_then(|out| out.digest());
        match (res, reference) {
            (Err(e), _) => record(group, im.name, "failed", &e.to_string(), once),
            (Ok(d), Some(r)) if d != r => record(
                group,
                im.name,
                "differs",
                &format!("result {d:?}, h5oxide {r:?}"),
                once,
            ),
            (Ok(d), r) => {
                if r.is_none() {
                    reference = Some(d);
                }
                if once > max_s && r.is_some() {
                    let why = format!("one run took {once:.1} s (> PEERS_MAX_ITER_S = {max_s} s)");
                    record(group, im.name, "slow", &why, once);
                } else {
                    record(group, im.name, "ok", &format!("{d:?}"), once);
                    ok.push((im.name, f));
                }
            }
        }
    }
    let mut g = c.benchmark_group(group);
    g.sampling_mode(SamplingMode::Flat);
    if let Some(n) = throughput {
        g.throughput(Throughput::Elements(n));
    }
    for (name, f) in ok {
        g.bench_function(name, |b| b.iter(|| black_box(f().ok())));
    }
    g.finish();
}

// ------------------------------------------------------------------ W2 / W5

fn w2(c: &mut Criterion, files: &Files) {
    let p = &files.w2;
    let imps = vec![
        imp("h5oxide", || {
            let a = h5oxide::File::open(p)?.dataset("data")?.read::<f64>()?;
            Ok(Out::Arr64(a))
        }),
        imp("hdf5-pure", || {
            let v = hdf5_pure::File::open(p)?.dataset("data")?.read_f64()?;
            Ok(Out::F64(v))
        }),
        imp("hdf5-pure-streaming", || {
            let v = hdf5_pure::File::open_streaming(p)?
                .dataset("data")?
                .read_f64()?;
            Ok(Out::F64(v))
        }),
        imp("rustyhdf5", || {
            let v = rustyhdf5::File::open(p)?.dataset("data")?.read_f64()?;
            Ok(Out::F64(v))
        }),
        imp("rust-hdf5", || {
            let v = rust_hdf5::H5File::open(p)?
                .dataset("data")?
                .read_raw::<f64>()?;
            Ok(Out::F64(v))
        }),
    ];
    run_group(c, "W2", None, imps);
}

fn w5(c: &mut Criterion, files: &Files) {
    let p = &files.w5;
    let imps = vec![
        imp("h5oxide", || {
            let a = h5oxide::File::open(p)?.dataset("data")?.read::<f32>()?;
            Ok(Out::Arr32(a))
        }),
        imp("hdf5-pure", || {
            let v = hdf5_pure::File::open(p)?.dataset("data")?.read_f32()?;
            Ok(Out::F32(v))
        }),
        imp("hdf5-pure-streaming", || {
            let v = hdf5_pure::File::open_streaming(p)?
                .dataset("data")?
                .read_f32()?;
            Ok(Out::F32(v))
        }),
        imp("rustyhdf5", || {
            let v = rustyhdf5::File::open(p)?.dataset("data")?.read_f32()?;
            Ok(Out::F32(v))
        }),
        imp("rust-hdf5", || {
            let v = rust_hdf5::H5File::open(p)?
                .dataset("data")?
                .read_raw::<f32>()?;
            Ok(Out::F32(v))
        }),
    ];
    run_group(c, "W5", None, imps);
}

// ------------------------------------------------------------------ W7

/// Row width of the W7 datasets (`gen_data.py`).
const W7_COLS: usize = 256;

fn w7(c: &mut Criterion, files: &Files) -> Res<()> {
    let idx = read_indices(&files.w7_idx)?;
    let p = &files.w7;
    for (group, name, n) in [
        ("W7_chunked", "chunked", files.w7_reads),
        ("W7_gzip", "gzip", files.w7_gzip_reads),
    ] {
        let ids = &idx[..n.min(idx.len())];
        // Every implementation appends the rows it read, in order, to one vector (checked
        // untimed, like the whole reads).
        let push = |all: &mut Vec<f32>, row: &[f32]| -> Res<()> {
            if row.len() != W7_COLS {
                return Err(format!("row of {} values", row.len()).into());
            }
            all.extend_from_slice(row);
            Ok(())
        };
        let imps = vec![
            imp("h5oxide", move || {
                let f = h5oxide::File::open(p)?;
                let ds = f.dataset(name)?;
                let mut all = Vec::with_capacity(ids.len() * W7_COLS);
                for &i in ids {
                    let row = ds.read_slice::<f32, _>(s![i as isize, ..])?;
                    push(&mut all, row.as_slice().ok_or("not contiguous")?)?;
                }
                Ok(Out::F32(all))
            }),
            imp("hdf5-pure", move || {
                let f = hdf5_pure::File::open(p)?;
                let ds = f.dataset(name)?;
                let mut all = Vec::with_capacity(ids.len() * W7_COLS);
                for &i in ids {
                    push(&mut all, &ds.read_f32_rows(i, 1)?)?;
                }
                Ok(Out::F32(all))
            }),
            imp("hdf5-pure-streaming", move || {
                let f = hdf5_pure::File::open_streaming(p)?;
                let ds = f.dataset(name)?;
                let mut all = Vec::with_capacity(ids.len() * W7_COLS);
                for &i in ids {
                    push(&mut all, &ds.read_f32_rows(i, 1)?)?;
                }
                Ok(Out::F32(all))
            }),
            unsupported(
                "rustyhdf5",
                "rustyhdf5 1.93 has no partial (hyperslab / row) read in its API",
            ),
            imp("rust-hdf5", move || {
                let f = rust_hdf5::H5File::open(p)?;
                let ds = f.dataset(name)?;
                let mut all = Vec::with_capacity(ids.len() * W7_COLS);
                for &i in ids {
                    let row = ds.read_slice::<f32>(&[i as usize, 0], &[1, W7_COLS])?;
                    push(&mut all, &row)?;
                }
                Ok(Out::F32(all))
            }),
        ];
        run_group(c, group, Some(ids.len() as u64), imps);
    }
    Ok(())
}

// ------------------------------------------------------------------ W8

fn h5oxide_walk(p: &PathBuf) -> Res<Out> {
    let f = h5oxide::File::open(p)?;
    let mut acc = AttrSum::default();
    for (_, obj) in f.root()?.walk()? {
        for a in obj.attrs()? {
            match a.dtype() {
                Datatype::FixedPoint(_) => {
                    for v in a.read::<i64>()? {
                        acc.num(v as f64);
                    }
                }
                Datatype::Float(_) => {
                    for v in a.read::<f64>()? {
                        acc.num(v);
                    }
                }
                Datatype::String { .. } | Datatype::VarLenString { .. } => {
                    for s in a.read_strings()? {
                        acc.string(&s);
                    }
                }
                other => return Err(format!("unexpected attribute type {other:?}").into()),
            }
        }
    }
    Ok(Out::Done(acc.digest()))
}

fn hdf5_pure_attrs(acc: &mut AttrSum, attrs: HashMap<String, hdf5_pure::AttrValue>) -> Res<()> {
    use hdf5_pure::AttrValue as V;
    for v in attrs.into_values() {
        match v {
            V::I64(x) => acc.num(x as f64),
            V::I32(x) => acc.num(f64::from(x)),
            V::U64(x) => acc.num(x as f64),
            V::F64(x) => acc.num(x),
            V::F32(x) => acc.num(f64::from(x)),
            other => match other.as_strings() {
                Some(a) => a.iter().for_each(|s| acc.string(s)),
                None => return Err(format!("unexpected attribute value {other:?}").into()),
            },
        }
    }
    Ok(())
}

fn hdf5_pure_walk(g: &hdf5_pure::Group, acc: &mut AttrSum) -> Res<()> {
    hdf5_pure_attrs(acc, g.attrs()?)?;
    for (_, d) in g.iter_datasets()? {
        hdf5_pure_attrs(acc, d.attrs()?)?;
    }
    for (_, sub) in g.iter_groups()? {
        hdf5_pure_walk(&sub, acc)?;
    }
    Ok(())
}

fn rustyhdf5_attrs(acc: &mut AttrSum, attrs: HashMap<String, rustyhdf5::AttrValue>) -> Res<()> {
    use rustyhdf5::AttrValue as V;
    for v in attrs.into_values() {
        match v {
            V::I64(x) => acc.num(x as f64),
            V::U64(x) => acc.num(x as f64),
            V::F64(x) => acc.num(x),
            V::String(s) => acc.string(&s),
            V::StringArray(a) => a.iter().for_each(|s| acc.string(s)),
            other => return Err(format!("unexpected attribute value {other:?}").into()),
        }
    }
    Ok(())
}

fn rustyhdf5_walk(g: &rustyhdf5::Group<'_>, acc: &mut AttrSum) -> Res<()> {
    rustyhdf5_attrs(acc, g.attrs()?)?;
    for name in g.datasets()? {
        rustyhdf5_attrs(acc, g.dataset(&name)?.attrs()?)?;
    }
    for name in g.groups()? {
        rustyhdf5_walk(&g.group(&name)?, acc)?;
    }
    Ok(())
}

fn w8(c: &mut Criterion, files: &Files) {
    for (libver, p) in &files.w8 {
        let imps = vec![
            imp("h5oxide", move || h5oxide_walk(p)),
            imp("hdf5-pure", move || {
                let f = hdf5_pure::File::open(p)?;
                let mut acc = AttrSum::default();
                hdf5_pure_walk(&f.root(), &mut acc)?;
                Ok(Out::Done(acc.digest()))
            }),
            imp("hdf5-pure-streaming", move || {
                let f = hdf5_pure::File::open_streaming(p)?;
                let mut acc = AttrSum::default();
                hdf5_pure_walk(&f.root(), &mut acc)?;
                Ok(Out::Done(acc.digest()))
            }),
            imp("rustyhdf5", move || {
                let f = rustyhdf5::File::open(p)?;
                let mut acc = AttrSum::default();
                rustyhdf5_walk(&f.root(), &mut acc)?;
                Ok(Out::Done(acc.digest()))
            }),
            unsupported(
                "rust-hdf5",
                "rust-hdf5 0.7.9 reads only string attributes of groups (H5Group::attr_string); \
                 the numeric ones have no read API",
            ),
        ];
        run_group(c, &format!("W8_{libver}"), Some(files.groups), imps);
    }
}

fn peers(c: &mut Criterion) {
    let files = Files::from_env();
    let only: Vec<String> = std::env::var("PEERS_ONLY")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let want = |w: &str| only.is_empty() || only.iter().any(|o| o == w);
    if want("w2") {
        w2(c, &files);
    }
    if want("w5") {
        w5(c, &files);
    }
    if want("w7") {
        if let Err(e) = w7(c, &files) {
            eprintln!("peers: W7: {e}");
        }
    }
    if want("w8") {
        w8(c, &files);
    }
}

fn config() -> Criterion {
    let secs = |name: &str, default: u64| Duration::from_millis(env_num(name, default));
    Criterion::default()
        .sample_size(env_num("PEERS_SAMPLES", 10) as usize)
        .warm_up_time(secs("PEERS_WARMUP_MS", 300))
        .measurement_time(secs("PEERS_MEASURE_MS", 2000))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = peers
}
criterion_main!(benches);
