//! Shared by `mutation.rs` and `regressions.rs`: a counting global allocator (peak heap per
//! input, and an abort that saves the input before the machine runs out of memory), panic
//! capture with location and backtrace, process CPU time, and a worker thread that runs inputs
//! with a wall-clock timeout.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Held by every test of a binary using this module: the counters and the panic record are
/// process-wide, so tests must not run at the same time.
pub static SERIAL: Mutex<()> = Mutex::new(());

/// Takes [`SERIAL`] (also after another test failed while holding it).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Live heap at which the process saves the current input and aborts.
pub const MEMORY_ABORT: usize = 2 << 30;

// ---- counting allocator ---------------------------------------------------------------------

/// Counts live heap bytes and their peak.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ABORTING: AtomicBool = AtomicBool::new(false);
/// Live heap above which the current input's allocation site is recorded (`usize::MAX`: off).
static WATCH_ABOVE: AtomicUsize = AtomicUsize::new(usize::MAX);
static WATCHED: AtomicBool = AtomicBool::new(false);
/// Backtrace of the allocation that first passed `WATCH_ABOVE` during the current input.
static BIG_ALLOCATION: Mutex<Option<String>> = Mutex::new(None);
/// The input being run and where to save it, for the abort path of the allocator.
static CURRENT: Mutex<Option<Current>> = Mutex::new(None);

/// The input being run: its bytes, where it came from, and the folder to save it in.
type Current = (Arc<Vec<u8>>, String, PathBuf);

impl Counting {
    fn grow(size: usize) {
        let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
        PEAK.fetch_max(live, Ordering::Relaxed);
        if live > MEMORY_ABORT && !ABORTING.swap(true, Ordering::SeqCst) {
            memory_abort(live);
        }
        if live > WATCH_ABOVE.load(Ordering::Relaxed) && !WATCHED.swap(true, Ordering::SeqCst) {
            // Allocations made while capturing see WATCHED set and do not re-enter.
            let bt = format!(
                "allocation of {size} bytes took the live heap to {live} bytes at:\n{}",
                std::backtrace::Backtrace::force_capture()
            );
            if let Ok(mut b) = BIG_ALLOCATION.try_lock() {
                *b = Some(bt);
            }
        }
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Counting::grow(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Counting::grow(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            Counting::grow(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

/// Declares the input about to run (saved as `dir/memory-abort.h5` if it exhausts memory).
pub fn set_current(bytes: Arc<Vec<u8>>, origin: String, dir: &Path) {
    *CURRENT.lock().unwrap() = Some((bytes, origin, dir.to_path_buf()));
}

/// Called once from inside the allocator when the live heap passes [`MEMORY_ABORT`]: saves the
/// input and aborts. Allocations made here are counted but cannot re-enter (`ABORTING` is set).
#[cold]
fn memory_abort(live: usize) {
    let current = CURRENT.try_lock().ok().and_then(|g| g.clone());
    let mut msg = format!(
        "live heap reached {live} bytes; aborting. Allocation site:\n{}\n",
        std::backtrace::Backtrace::force_capture()
    );
    if let Some((bytes, origin, dir)) = current {
        let p = dir.join("memory-abort.h5");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(&p, &bytes[..]);
        let _ = std::fs::write(dir.join("memory-abort.txt"), format!("{origin}\n\n{msg}"));
        msg.push_str(&format!(" Input saved to {} ({origin})", p.display()));
    }
    let _ = writeln!(std::io::stderr(), "{msg}");
    std::process::abort();
}

// ---- panics, CPU time -----------------------------------------------------------------------

/// A caught panic.
#[derive(Debug, Clone, Default)]
pub struct Panic {
    /// `file:line:col` the panic reported.
    pub location: String,
    /// The panic message.
    pub message: String,
    /// Backtrace at the panic.
    pub backtrace: String,
}

impl Panic {
    /// The first backtrace frame in the h5oxide sources outside the tests (the real site when
    /// the reported location is inside std), else the reported location.
    pub fn site(&self) -> String {
        h5oxide_frame(&self.backtrace).unwrap_or_else(|| self.location.clone())
    }
}

/// The first panic since the last [`measure`] took it.
static LAST_PANIC: Mutex<Option<Panic>> = Mutex::new(None);

/// Records panics of the worker and of unnamed threads (pools the reader may use) quietly, for
/// [`measure`]; named threads (the test itself) keep the default hook.
fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let name = std::thread::current().name().map(str::to_string);
        if name.is_some() && name.as_deref() != Some(WORKER) {
            return default(info);
        }
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_else(|| "<unknown>".into());
        let message = if let Some(s) = info.payload().downcast_ref::<&str>() {
            s.to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "<non-string panic>".into()
        };
        let backtrace = std::backtrace::Backtrace::force_capture().to_string();
        if let Ok(mut p) = LAST_PANIC.lock() {
            p.get_or_insert(Panic {
                location,
                message,
                backtrace,
            });
        }
    }));
}

/// Process CPU time (user + system, all threads) from `/proc/self/stat`.
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after "pid (comm) ".
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ is 100 on Linux
}

/// What running one input did.
pub struct Measured<T> {
    /// The result, or the panic.
    pub result: Result<T, Panic>,
    /// CPU time of the process while it ran.
    pub cpu: Option<Duration>,
    /// Peak live heap above the level before it ran.
    pub peak: usize,
    /// Where the heap first grew past the watch level (see [`Worker::watch_heap`]), if it did.
    pub big_allocation: Option<String>,
}

/// The frame of a backtrace in the h5oxide sources outside the tests nearest to the top (the
/// site of a panic or an allocation), if any.
pub fn h5oxide_frame(backtrace: &str) -> Option<String> {
    backtrace
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("at ") && l.contains("/crates/h5oxide"))
        .find(|l| !l.contains("/tests/"))
        .map(|l| l.trim_start_matches("at ").to_string())
}

fn measure<T>(f: impl FnOnce() -> T, watch: usize) -> Measured<T> {
    if let Ok(mut p) = LAST_PANIC.lock() {
        *p = None;
    }
    let cpu0 = cpu_time();
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    if let Ok(mut b) = BIG_ALLOCATION.lock() {
        *b = None;
    }
    WATCHED.store(false, Ordering::SeqCst);
    WATCH_ABOVE.store(base.saturating_add(watch), Ordering::SeqCst);
    let r = std::panic::catch_unwind(AssertUnwindSafe(f));
    WATCH_ABOVE.store(usize::MAX, Ordering::SeqCst);
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let big_allocation = BIG_ALLOCATION.lock().ok().and_then(|mut b| b.take());
    let cpu = match (cpu0, cpu_time()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    Measured {
        result: r.map_err(|_| {
            LAST_PANIC
                .lock()
                .ok()
                .and_then(|mut p| p.take())
                .unwrap_or_default()
        }),
        cpu,
        peak,
        big_allocation,
    }
}

const WORKER: &str = "h5oxide-input-worker";

/// A thread that runs inputs one at a time; the caller waits with a timeout, so a hang is
/// detected (the hung thread is abandoned and dies with the test process).
pub struct Worker<T: Send + 'static> {
    tx: mpsc::Sender<(Box<dyn FnOnce() -> T + Send>, usize)>,
    rx: mpsc::Receiver<Measured<T>>,
    watch: usize,
}

impl<T: Send + 'static> Worker<T> {
    /// Starts the worker (with a quiet panic hook for it and a 64 MiB stack).
    pub fn new() -> Self {
        install_panic_hook();
        let (tx, in_rx) = mpsc::channel::<(Box<dyn FnOnce() -> T + Send>, usize)>();
        let (out_tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name(WORKER.into())
            .stack_size(64 << 20)
            .spawn(move || {
                for (job, watch) in in_rx {
                    if out_tx.send(measure(job, watch)).is_err() {
                        break;
                    }
                }
            })
            .expect("spawn worker");
        Worker {
            tx,
            rx,
            watch: usize::MAX,
        }
    }

    /// Records the backtrace of the allocation that first takes a job's heap `bytes` above its
    /// starting level ([`Measured::big_allocation`]).
    pub fn watch_heap(mut self, bytes: usize) -> Self {
        self.watch = bytes;
        self
    }

    /// Runs `job`; `None` if it did not finish within `timeout`.
    pub fn run(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
        timeout: Duration,
    ) -> Option<Measured<T>> {
        self.tx
            .send((Box::new(job), self.watch))
            .expect("worker alive");
        self.rx.recv_timeout(timeout).ok()
    }
}

/// The `shared` folder: `H5OXIDE_SHARED`, else `../shared` from the workspace root, else the
/// first ancestor's `shared/` with `corpus/MANIFEST.tsv` (as `h5oxide-cli/tests/corpus.rs`).
pub fn shared_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("H5OXIDE_SHARED") {
        let p = PathBuf::from(p);
        assert!(
            p.join("corpus/MANIFEST.tsv").is_file(),
            "H5OXIDE_SHARED={} has no corpus/MANIFEST.tsv",
            p.display()
        );
        return Some(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let mut candidates = vec![root.join("../shared")];
    candidates.extend(root.ancestors().skip(1).map(|a| a.join("shared")));
    candidates
        .into_iter()
        .find(|c| c.join("corpus/MANIFEST.tsv").is_file())
}

/// The cargo target folder.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}
