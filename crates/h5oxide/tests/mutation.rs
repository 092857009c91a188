//! Mutation test: any byte sequence must give a typed error or a document — never a panic, a
//! hang or a memory blow-up.
//!
//! Takes every file of the shared corpus (`shared/corpus/MANIFEST.tsv`, located like
//! `h5oxide-cli/tests/corpus.rs` does), applies a deterministic stream of mutations (bit flips,
//! boundary values in 1/2/4/8-byte fields, truncations, splices, insertions, deletions; biased to
//! the first 4 KiB and to the bytes after structure signatures, where metadata lives) and runs
//! [`h5oxide::canonical::dump_bytes`] — which opens the image and walks every link, attribute and
//! dataset value — on each input.
//!
//! An input fails when
//! * it panics (caught with `catch_unwind`; the panic location and a backtrace are recorded),
//! * it uses more than [`CPU_CAP`] of CPU time (measured for the whole process, so work on
//!   helper threads counts), or does not finish within [`HANG_CAP`] of wall time (a hang: the
//!   run stops there),
//! * its peak live heap exceeds [`MEMORY_CAP`] (a counting global allocator in this binary, which
//!   also records the backtrace of the allocation that crossed the cap; past
//!   [`common::MEMORY_ABORT`] the input is saved and the process aborts, before the machine
//!   does).
//!
//! Every failing input is written to `target/mutation-failures/` (`<kind>-<n>.h5` plus a `.txt`
//! with its origin, mutations, message and backtrace) for reproduction and minimisation; the test
//! fails listing one line per distinct failure site.
//!
//! Environment: `H5OXIDE_SHARED` (the shared folder), `H5OXIDE_MUTATION_SEED` (default fixed),
//! `H5OXIDE_MUTATION_ITERS` (default 25000 in release builds, about 60 s; 3000 in debug builds),
//! `H5OXIDE_MUTATION_SKIP` (comma-separated iteration numbers `#N` to leave out, e.g. to get past
//! an input that aborts the process on memory before its fix exists).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Counting, Worker};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// CPU time one input may use.
const CPU_CAP: Duration = Duration::from_secs(1);
/// Wall time after which an input counts as hung and the run stops.
const HANG_CAP: Duration = Duration::from_secs(30);
/// Peak live heap (above the level before the input) one input may reach.
const MEMORY_CAP: usize = 512 << 20;
/// At most this many saved inputs per distinct failure site.
const SAVE_PER_SITE: usize = 3;

/// Every this many inputs also go through the in-place writer ([`change_in_place`]).
const RW_EVERY: usize = 8;
/// ... when they are at most this long.
const RW_MAX_BYTES: usize = 256 << 10;

/// Opens the input with [`h5oxide::RwFile`] (from a file at `path`) and changes it the way the
/// r+ round trip does: a new dataset, a root attribute, and the first chunked dataset grown by
/// one along its first dimension when it can be; errors are fine, panics are not.
fn change_in_place(bytes: &[u8], path: &Path) {
    if std::fs::write(path, bytes).is_err() {
        return;
    }
    let Ok(mut f) = h5oxide::RwFile::open(path) else {
        return;
    };
    let _ = (|| -> h5oxide::Result<()> {
        let v = h5oxide::write::Value::from_slice(&[1i32, 2, 3], &[3])?;
        let _ = f.create_dataset("/__m", v, &h5oxide::write::DatasetOptions::new());
        let root = f.root_addr();
        let _ = f.set_attr(root, "__m", "x");
        for name in f.link_names("/")? {
            let Ok(a) = f.resolve(&name) else { continue };
            let Ok(spec) = f.dataset_spec(a) else {
                continue;
            };
            if spec.layout.chunked().is_some() && !spec.dims.is_empty() {
                let mut d = spec.dims.clone();
                d[0] += 1;
                let _ = f.resize(a, &d);
                break;
            }
        }
        f.flush()
    })();
    let _ = f.close();
}

// ---- deterministic randomness ---------------------------------------------------------------

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

// ---- corpus ---------------------------------------------------------------------------------

fn shared_dir() -> PathBuf {
    common::shared_dir().unwrap_or_else(|| {
        panic!(
            "mutation test: the shared corpus (shared/corpus/MANIFEST.tsv) was not found next to \
             the workspace; set H5OXIDE_SHARED. The mutation test cannot run without seeds."
        )
    })
}

struct Seed {
    name: String,
    bytes: Arc<Vec<u8>>,
    /// Offsets of structure signatures (OHDR, TREE, HEAP, ...), for targeted mutations.
    sigs: Vec<usize>,
}

const SIGNATURES: [&[u8; 4]; 17] = [
    b"OHDR", b"OCHK", b"TREE", b"HEAP", b"SNOD", b"GCOL", b"BTHD", b"BTIN", b"BTLF", b"FRHP",
    b"FHDB", b"FHIB", b"EAHD", b"EAIB", b"EADB", b"FAHD", b"FADB",
];

fn load_seeds(corpus: &Path) -> Vec<Seed> {
    let text = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("read MANIFEST.tsv");
    let mut seeds = Vec::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 2 || cols[1] != "test" {
            continue;
        }
        let path = corpus.join(cols[0]);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("mutation test: cannot read {}: {e}", path.display()));
        let mut sigs = Vec::new();
        for (i, w) in bytes.windows(4).enumerate() {
            if SIGNATURES.iter().any(|s| w == *s) {
                sigs.push(i);
            }
        }
        seeds.push(Seed {
            name: cols[0].to_string(),
            bytes: Arc::new(bytes),
            sigs,
        });
    }
    assert!(
        seeds.len() > 100,
        "mutation test: only {} seed files in {}",
        seeds.len(),
        corpus.display()
    );
    seeds
}

// ---- mutations ------------------------------------------------------------------------------

/// A value likely to sit on a boundary of some check, `width` bytes wide.
fn boundary(rng: &mut Rng, width: usize, file_len: usize) -> u64 {
    let max = if width >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * width)) - 1
    };
    let v = match rng.below(12) {
        0 => 0,
        1 => max,
        2 => max >> 1,
        3 => (max >> 1) + 1,
        4 => 1 + rng.below(16) as u64,
        5 => max - rng.below(16) as u64,
        6 => file_len as u64,
        7 => (file_len as u64).wrapping_add(1 + rng.below(64) as u64),
        8 => 1u64 << rng.below(64),
        9 => (file_len as u64).saturating_sub(rng.below(64) as u64),
        10 => 1 << (8 * width - 1).min(31),
        _ => rng.next(),
    };
    v & max
}

/// An offset in `0..len`, biased to the first 4 KiB and to signatures.
fn offset(rng: &mut Rng, seed: &Seed, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let r = rng.below(100);
    let o = if r < 45 {
        rng.below(len.min(4096))
    } else if r < 80 && !seed.sigs.is_empty() {
        seed.sigs[rng.below(seed.sigs.len())] + rng.below(96)
    } else {
        rng.below(len)
    };
    o.min(len - 1)
}

/// Applies 1–4 random mutations to a copy of `seed`; returns the bytes and a description.
fn mutate(rng: &mut Rng, seed: &Seed) -> (Vec<u8>, String) {
    let mut b = seed.bytes.as_ref().clone();
    let mut ops = Vec::new();
    let n = 1 + rng.below(4);
    for _ in 0..n {
        if b.is_empty() {
            break;
        }
        let len = b.len();
        let at = offset(rng, seed, len);
        match rng.below(100) {
            0..=24 => {
                let bit = rng.below(8);
                b[at] ^= 1 << bit;
                ops.push(format!("flip {at}.{bit}"));
            }
            25..=39 => {
                let v = [0u8, 0xff, 0x7f, 0x80, 1, 2, 8, 0x10][rng.below(8)];
                b[at] = v;
                ops.push(format!("set {at}={v:#x}"));
            }
            40..=69 => {
                let width = [2usize, 4, 8, 8][rng.below(4)];
                let v = boundary(rng, width, len);
                let end = (at + width).min(len);
                b[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
                ops.push(format!("int{} {at}={v:#x}", width * 8));
            }
            70..=74 => {
                let v = rng.next().to_le_bytes();
                let k = 1 + rng.below(8);
                let end = (at + k).min(len);
                b[at..end].copy_from_slice(&v[..end - at]);
                ops.push(format!("random {at}+{k}"));
            }
            75..=82 => {
                let cut = if rng.chance(50) { at } else { rng.below(len) };
                b.truncate(cut);
                ops.push(format!("truncate {cut}"));
            }
            83..=90 => {
                let from = rng.below(len);
                let k = (1 + rng.below(64)).min(len - from).min(len - at);
                b.copy_within(from..from + k, at);
                ops.push(format!("splice {from}+{k}->{at}"));
            }
            91..=95 => {
                let k = 1 + rng.below(16);
                let end = (at + k).min(len);
                b.drain(at..end);
                ops.push(format!("delete {at}+{k}"));
            }
            _ => {
                let k = 1 + rng.below(16);
                let v = [0u8, 0xff][rng.below(2)];
                b.splice(at..at, std::iter::repeat_n(v, k));
                ops.push(format!("insert {at}+{k}x{v:#x}"));
            }
        }
    }
    (b, ops.join(", "))
}

/// The failures of one run: `(kind, site key, detail)`.
fn classify(out: common::Measured<bool>, cpu: Duration) -> Vec<(&'static str, String, String)> {
    let mut failures = Vec::new();
    if let Err(p) = &out.result {
        failures.push((
            "panic",
            format!("panic at {}", p.site()),
            format!(
                "panicked at {}: {}\n\n{}",
                p.location, p.message, p.backtrace
            ),
        ));
    }
    if cpu > CPU_CAP {
        failures.push((
            "slow",
            "slow input (CPU time over the cap)".into(),
            format!("{cpu:?} of CPU time"),
        ));
    }
    if out.peak > MEMORY_CAP {
        let bt = out.big_allocation.unwrap_or_default();
        let site = common::h5oxide_frame(&bt).unwrap_or_else(|| "<unknown>".into());
        failures.push((
            "memory",
            format!("memory blow-up (peak heap over the cap) at {site}"),
            format!("peak live heap {} bytes above the baseline; {bt}", out.peak),
        ));
    }
    failures
}

#[derive(Default)]
struct Site {
    count: usize,
    example: String,
    saved: Vec<PathBuf>,
}

#[test]
fn mutated_corpus_files_never_panic_hang_or_blow_up() {
    let _serial = common::serial();
    let corpus = shared_dir().join("corpus");
    let seeds = load_seeds(&corpus);
    let seed: u64 = std::env::var("H5OXIDE_MUTATION_SEED")
        .ok()
        .map(|s| s.trim().parse().expect("H5OXIDE_MUTATION_SEED is a number"))
        .unwrap_or(0x4835_6f78_6964_6521);
    let iters: usize = std::env::var("H5OXIDE_MUTATION_ITERS")
        .ok()
        .map(|s| {
            s.trim()
                .parse()
                .expect("H5OXIDE_MUTATION_ITERS is a number")
        })
        .unwrap_or(if cfg!(debug_assertions) { 3000 } else { 25000 });
    let fail_dir = common::target_dir().join("mutation-failures");
    std::fs::create_dir_all(&fail_dir).expect("create target/mutation-failures");
    // Keep any rayon pool of the reader to one thread: the machine is shared, and CPU time is
    // measured for the whole process.
    std::env::set_var("RAYON_NUM_THREADS", "1");
    // One worker runs the inputs; this thread times it and gives up on a hang.
    let worker = Worker::new().watch_heap(MEMORY_CAP);
    // Iterations to leave out (comma-separated `#N` numbers from a report), e.g. to get past an
    // input that aborts the process before its fix exists.
    let skip: Vec<usize> = std::env::var("H5OXIDE_MUTATION_SKIP")
        .unwrap_or_default()
        .split(',')
        .filter_map(|s| s.trim().trim_start_matches('#').parse().ok())
        .collect();

    let mut rng = Rng(seed);
    let mut sites: BTreeMap<String, Site> = BTreeMap::new();
    let mut saved_n = 0usize;
    let (mut n_ok, mut n_err, mut slowest) = (0usize, 0usize, (Duration::ZERO, String::new()));
    let mut max_peak = (0usize, String::new());
    let start = Instant::now();
    let mut hung = None;
    for i in 0..seeds.len() + iters {
        // First every seed as it is, then the mutations.
        let (bytes, origin) = if i < seeds.len() {
            let s = &seeds[i];
            (
                s.bytes.as_ref().clone(),
                format!("#{i} {} (unmodified)", s.name),
            )
        } else {
            let s = &seeds[rng.below(seeds.len())];
            let (b, ops) = mutate(&mut rng, s);
            (b, format!("#{i} {}: {ops}", s.name))
        };
        if skip.contains(&i) {
            continue;
        }
        let keep = Arc::new(bytes.clone());
        common::set_current(keep.clone(), origin.clone(), &fail_dir);
        let t0 = Instant::now();
        let rw_file = (i % RW_EVERY == 0 && bytes.len() <= RW_MAX_BYTES)
            .then(|| fail_dir.join("rw-current.h5"));
        let Some(out) = worker.run(
            move || {
                let r = h5oxide::canonical::dump_bytes(bytes.clone()).1;
                if let Some(p) = rw_file {
                    change_in_place(&bytes, &p);
                }
                r
            },
            HANG_CAP,
        ) else {
            hung = Some((keep, origin, t0.elapsed()));
            break;
        };
        if matches!(out.result, Ok(true)) {
            n_ok += 1
        } else {
            n_err += 1
        }
        let cpu = out.cpu.unwrap_or_else(|| t0.elapsed());
        if cpu > slowest.0 {
            slowest = (cpu, origin.clone());
        }
        if out.peak > max_peak.0 {
            max_peak = (out.peak, origin.clone());
        }
        let failures = classify(out, cpu);
        for (kind, key, detail) in failures {
            let site = sites.entry(key.clone()).or_default();
            site.count += 1;
            if site.saved.len() < SAVE_PER_SITE {
                saved_n += 1;
                let p = fail_dir.join(format!("{kind}-{saved_n}.h5"));
                std::fs::write(&p, &keep[..]).expect("save failing input");
                std::fs::write(
                    p.with_extension("txt"),
                    format!(
                        "{key}\ninput: {origin}\nlength: {}\n\n{detail}\n",
                        keep.len()
                    ),
                )
                .expect("save failure description");
                if site.saved.is_empty() {
                    site.example = format!("{origin}: {}", detail.lines().next().unwrap_or(""));
                }
                site.saved.push(p);
            }
        }
    }

    let mut report = format!(
        "mutation test: seed {seed:#x}, {} seeds + {iters} mutations in {:.1?}: {n_ok} documents, \
         {n_err} rejected; slowest {:?} ({}), largest peak heap {} KiB ({})\n",
        seeds.len(),
        start.elapsed(),
        slowest.0,
        slowest.1,
        max_peak.0 >> 10,
        max_peak.1
    );
    if let Some((bytes, origin, t)) = &hung {
        let p = fail_dir.join("hang.h5");
        std::fs::write(&p, &bytes[..]).expect("save hanging input");
        std::fs::write(p.with_extension("txt"), format!("hang\ninput: {origin}\n"))
            .expect("save hang description");
        report.push_str(&format!(
            "HANG: no result after {t:?} for {origin}; saved to {} (the run stopped there)\n",
            p.display()
        ));
    }
    for (key, site) in &sites {
        report.push_str(&format!(
            "{} x{}: e.g. {}\n    saved: {}\n",
            key,
            site.count,
            site.example,
            site.saved
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    eprintln!("{report}");
    assert!(
        sites.is_empty() && hung.is_none(),
        "mutation test found {} distinct failure sites{}:\n{report}",
        sites.len(),
        if hung.is_some() { " and a hang" } else { "" }
    );
}

/// The checks above can only pass honestly if the harness sees what it is looking for.
#[test]
fn harness_detects_panics_hangs_and_memory() {
    let _serial = common::serial();
    let w = Worker::new();
    let m = w
        .run(
            || -> usize {
                let v: Vec<usize> = Vec::new();
                v[std::hint::black_box(3)]
            },
            HANG_CAP,
        )
        .expect("a panic is not a hang");
    let p = m.result.expect_err("the panic is caught");
    assert!(p.message.contains("index out of bounds"), "{}", p.message);
    assert!(p.location.contains("mutation.rs"), "{}", p.location);

    let m = w
        .run(|| std::hint::black_box(vec![1u8; 64 << 20]).len(), HANG_CAP)
        .expect("finishes");
    assert_eq!(m.result.ok(), Some(64 << 20));
    assert!(m.peak >= 64 << 20, "peak {}", m.peak);

    let m = w
        .run(
            || {
                // About 0.2 s of CPU in release builds, more in debug builds.
                let mut x = 0u64;
                for i in 0..200_000_000u64 {
                    x = std::hint::black_box(x.wrapping_add(i));
                }
                x as usize
            },
            HANG_CAP,
        )
        .expect("finishes");
    assert!(m.cpu.expect("CPU time is measured") >= Duration::from_millis(50));

    let slow = Worker::new();
    assert!(
        slow.run(
            || std::thread::sleep(Duration::from_secs(3)),
            Duration::from_millis(100)
        )
        .is_none(),
        "a hang is reported"
    );
}

/// Minimises a failing input: `H5OXIDE_MINIMISE=FILE cargo test --release -p h5oxide --test
/// mutation -- --ignored minimise` writes `FILE.min`, the shortest prefix of `FILE` with as many
/// 4-byte groups zeroed as possible that still fails at the same site (same kind and location).
#[test]
#[ignore = "a tool: run with H5OXIDE_MINIMISE=FILE"]
fn minimise() {
    let _serial = common::serial();
    let path = std::env::var("H5OXIDE_MINIMISE").expect("set H5OXIDE_MINIMISE=FILE");
    let original = std::fs::read(&path).expect("read the input");
    let worker = Worker::new().watch_heap(MEMORY_CAP);
    let sites = |bytes: &[u8]| -> Vec<String> {
        let b = bytes.to_vec();
        let t0 = Instant::now();
        match worker.run(move || h5oxide::canonical::dump_bytes(b).1, HANG_CAP) {
            None => vec!["hang".to_string()],
            Some(out) => {
                let cpu = out.cpu.unwrap_or_else(|| t0.elapsed());
                classify(out, cpu).into_iter().map(|f| f.1).collect()
            }
        }
    };
    let want = sites(&original);
    assert!(!want.is_empty(), "{path} does not fail");
    if want == ["hang"] {
        panic!("{path} hangs; it cannot be minimised in-process");
    }
    let target = &want[0];
    let fails = |b: &[u8]| sites(b).contains(target);
    // Shortest failing prefix (binary search; failing is usually monotone in the length).
    let (mut lo, mut hi) = (0usize, original.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fails(&original[..mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let mut cur = original[..hi].to_vec();
    if !fails(&cur) {
        cur = original.clone();
    }
    // Zero what does not matter, coarse to fine.
    for block in [256usize, 32, 4] {
        let mut at = 0;
        while at < cur.len() {
            let end = (at + block).min(cur.len());
            if cur[at..end].iter().any(|&b| b != 0) {
                let mut trial = cur.clone();
                trial[at..end].fill(0);
                if fails(&trial) {
                    cur = trial;
                }
            }
            at = end;
        }
    }
    let out = format!("{path}.min");
    std::fs::write(&out, &cur).expect("write the minimised input");
    eprintln!(
        "minimise: {} -> {} bytes ({} non-zero), still failing with {target}; wrote {out}",
        original.len(),
        cur.len(),
        cur.iter().filter(|&&b| b != 0).count()
    );
}
