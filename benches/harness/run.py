"""Runs every workload with h5py and h5oxide alternately and prints the ratio table.

Called by scripts/bench (which sets things up and builds the Rust binary):

  python run.py --bin PATH/TO/h5oxide-bench

For every workload, BENCH_REPS rounds (default 3); each round runs every implementation once
(a fresh process: BENCH_WARMUP untimed repetitions, default 1, then one timed one), in
alternating order (h5py first in even rounds, last in odd ones), so drift on this shared,
noisy machine hits both sides. A figure's time is the median of its rounds (min–max shown);
its ratio is h5py time ÷ h5oxide time, taken per round and reported as the median of those.

Implementations:
  h5py            bench_py.py --lib h5py (libhdf5)
  h5oxide         the Rust binary
  h5oxide-rayon1  the Rust binary with RAYON_NUM_THREADS=1 (W11 only: thread scaling without
                  rayon's own chunk-level parallelism)
  h5oxide-py      bench_py.py --lib h5oxide: the Python package, when `import h5oxide` works
                  in this interpreter (BENCH_PY_H5OXIDE=0 to skip)

Other environment: BENCH_ONLY=w2,w5,w6,w7,w8,w9,w11,fancy (subset; `mem`, the peak-memory
table for reading a BENCH_MEM_MIB (1024) MiB dataset, runs only when named), BENCH_W7_GZIP_READS
(rows read from the gzip dataset in W7, default 1000: h5py decodes a 1 MiB chunk per read),
BENCH_OUT (results directory, default target/bench-results), plus gen_data.py's size variables.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
ap.add_argument("--out", default=os.environ.get("BENCH_OUT", "target/bench-results"))
args = ap.parse_args()

ROUNDS = int(os.environ.get("BENCH_REPS", "3"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "1"))
ONLY = [x for x in os.environ.get("BENCH_ONLY", "").split(",") if x]
GZIP_READS = os.environ.get("BENCH_W7_GZIP_READS", "1000")
PY = sys.executable


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data
# the write workloads take their data from the read workloads' files
SOURCES = {"w1": "w2", "w4": "w5", "w8c": "w8", "w9w": "w9", "w10": "w2"}
gen_env = dict(os.environ)
if ONLY:
    gen_env["BENCH_ONLY"] = ",".join(set(ONLY) | {SOURCES[x] for x in ONLY if x in SOURCES})
gen = subprocess.run([PY, os.path.join(HERE, "gen_data.py")], check=True, stdout=subprocess.PIPE,
                     text=True, env=gen_env)
FILES = dict(line.split("=", 1) for line in gen.stdout.split() if "=" in line)

have_py_h5oxide = False
if os.environ.get("BENCH_PY_H5OXIDE", "1") != "0":
    have_py_h5oxide = subprocess.run([PY, "-c", "import h5oxide, numpy; h5oxide.File"],
                                     capture_output=True).returncode == 0


# Workloads that allocate little per repetition and whose files' pages are already cached run
# without the untimed warm-up repetition (it only matters for the first touch of large fresh
# buffers); this keeps a full default run near 8 minutes.
NO_WARMUP = {"w7", "w8", "w1", "w4", "w8c", "w9w", "w10"}


def impls(workload):
    """(label, argv prefix, extra env) per implementation."""
    wu = "0" if workload in NO_WARMUP else str(WARMUP)
    rust = [args.bin, "--warmup", wu, "--reps", "1"]
    py = [PY, os.path.join(HERE, "bench_py.py"), "--warmup", wu, "--reps", "1"]
    out = [("h5py", py + ["--lib", "h5py"], {}), ("h5oxide", rust, {})]
    if workload == "w11":
        out.append(("h5oxide-rayon1", rust + ["--label", "h5oxide-rayon1"], {"RAYON_NUM_THREADS": "1"}))
    if have_py_h5oxide:
        out.append(("h5oxide-py", py + ["--lib", "h5oxide", "--label", "h5oxide-py"], {}))
    return out


# (key, bench workload, file key, extra args)
RUNS = [("w2", "w2", "w2", [])]
RUNS += [("w5_gzip", "w5", "w5_gzip", [])]
RUNS += [(f"w6_{n}", "w6", f"w6_{n}", []) for n in ("lzf", "zstd", "blosc_lz4", "blosc_zstd", "bitshuffle_lz4")]
RUNS += [("w7", "w7", "w7", ["@w7_idx", GZIP_READS]), ("w8_earliest", "w8", "w8_earliest", []),
         ("w8_latest", "w8", "w8_latest", []), ("w9", "w9", "w9", []), ("w11", "w11", "w11", []),
         ("fancy", "fancy", "fancy", ["@fancy_idx"])]

# write workloads (the h5oxide writer): source file, output file (removed after each rep)
OUTP = os.path.join(os.path.dirname(FILES.get("w2", "/tmp/x")), "bench-write-out.h5")
RUNS += [("w1", "w1", "w2", [OUTP]), ("w4", "w4", "w5_gzip", [OUTP]),
         ("w8c", "w8c", "w8_earliest", [OUTP, os.environ.get("BENCH_GROUPS", "10000")]),
         ("w9w", "w9w", "w9", [OUTP]),
         ("w10", "w10", "w2", [OUTP, os.environ.get("BENCH_APPENDS", "100000")])]

results = {}  # (key, impl, figure) -> [times per round]
recs = []
os.makedirs(args.out, exist_ok=True)
stamp = time.strftime("%Y%m%dT%H%M%S")
jsonl = open(os.path.join(args.out, f"{stamp}.jsonl"), "w")
t_start = time.time()
for key, workload, fkey, extra in RUNS:
    if ONLY and workload not in ONLY and key not in ONLY:
        continue
    if fkey not in FILES:
        continue
    extra = [FILES[e[1:]] if e.startswith("@") else e for e in extra]
    log(f"== {key}")
    im = impls(workload)
    for r in range(ROUNDS):
        order = im if r % 2 == 0 else im[::-1]
        for label, argv, env in order:
            cmd = argv + [workload, FILES[fkey]] + extra
            p = subprocess.run(cmd, env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
            if p.returncode != 0:
                log(f"   {label} failed (exit {p.returncode}): {' '.join(cmd)}")
                continue
            for line in p.stdout.splitlines():
                if not line.startswith("{"):
                    continue
                rec = json.loads(line)
                rec["key"], rec["round"] = key, r
                recs.append(rec)
                jsonl.write(json.dumps(rec) + "\n")
                results.setdefault((key, label, rec["figure"]), []).append(
                    (r, rec["times_s"][0], rec.get("ops", 0)))

# Peak memory (opt-in, BENCH_ONLY=mem): one process per figure, since the peak only grows.
MEM_FIGURES = {"h5py": ["read"], "h5oxide": ["read", "read_typed", "iter"], "h5oxide-py": ["read"]}
mem = {}  # (impl, figure) -> [(peak, base, bytes, time) per round]
if "mem" in ONLY and "mem" in FILES:
    log("== mem")
    im = impls("mem")
    for r in range(ROUNDS):
        order = im if r % 2 == 0 else im[::-1]
        for label, argv, env in order:
            for fig in MEM_FIGURES.get(label, []):
                cmd = argv + ["mem", FILES["mem"], fig]
                p = subprocess.run(cmd, env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
                if p.returncode != 0:
                    log(f"   {label} failed (exit {p.returncode}): {' '.join(cmd)}")
                    continue
                for line in p.stdout.splitlines():
                    if not line.startswith("{"):
                        continue
                    rec = json.loads(line)
                    rec["key"], rec["round"] = "mem", r
                    recs.append(rec)
                    jsonl.write(json.dumps(rec) + "\n")
                    mem.setdefault((label, fig), []).append(
                        (rec["peak_rss_bytes"], rec["base_rss_bytes"], rec["bytes"], rec["times_s"][0]))
jsonl.close()
elapsed = time.time() - t_start

# ---------------------------------------------------------------- table
# (row label, key, h5py figure, h5oxide figure, goal, h5oxide impl)
CMIB = os.environ.get("BENCH_CONTIG_MIB", "256")
ZMIB = os.environ.get("BENCH_COMPRESSED_MIB", "64")
W11 = os.environ.get("BENCH_W11_MIB", "64")
NG = os.environ.get("BENCH_GROUPS", "10000")
NS = os.environ.get("BENCH_STRINGS", "1000000")
FN = os.environ.get("BENCH_FANCY_N", "10000000")
FK = os.environ.get("BENCH_FANCY_K", "100000")
ROWS = [
    (f"W2 read {CMIB} MiB f64 contiguous: ds[:] vs read_raw", "w2", "read", "read", 1.0),
    ("W2 … ds[:] vs read::<f64>", "w2", "read", "read_typed", 1.0),
    ("W2 … ds[:] vs read_raw, mmap", "w2", "read", "read_mmap", 1.0),
    # the goal: read_into a preallocated buffer >= 1.5x h5py's ds[:]
    ("W2 … ds[:] vs read_into (preallocated)", "w2", "read", "read_into", 1.5),
    # like for like: both sides into a preallocated buffer
    ("W2 … read_direct vs read_into (preallocated)", "w2", "read_into", "read_into", 1.0),
    ("W2 … read_direct vs read_raw_into (preallocated)", "w2", "read_into", "read_raw_into", 1.0),
    ("W2 … read_direct vs read_into, mmap", "w2", "read_into", "read_into_mmap", 1.0),
    (f"W5 read {ZMIB} MiB f32 gzip4+shuffle", "w5_gzip", "read", "read", 3.0),
]
ROWS += [(f"W6 read {ZMIB} MiB f32 {n}", f"w6_{n}", "read", "read", 2.5)
         for n in ("lzf", "zstd", "blosc_lz4", "blosc_zstd", "bitshuffle_lz4")]
ROWS += [
    ("W7 random row, contiguous (per read)", "w7", "contiguous", "contiguous", 10.0),
    ("W7 random row, chunked (per read)", "w7", "chunked", "chunked", 10.0),
    ("W7 random row, gzip chunked (per read)", "w7", "gzip", "gzip", 10.0),
    (f"W8 walk {NG} groups + read their attrs (per group), earliest", "w8_earliest", "walk", "walk", 10.0),
    ("W8 … libver latest", "w8_latest", "walk", "walk", 10.0),
    (f"W9 read {NS} vlen strings: asstr()[:] vs read_strings", "w9", "read_str", "read_str", 2.0),
    # the Python package reads bytes the same way h5py does: its row compares ds[:] with ds[:]
    ("W9 … ds[:] (bytes) vs read_strings", "w9", "read_bytes", "read_str", 2.0, "read_bytes"),
    (f"W11 plain 2×{W11} MiB f64: 2 threads", "w11", "plain_2threads", "plain_2threads", None),
    (f"W11 gzip 2×{W11} MiB f32: 2 threads", "w11", "gzip_2threads", "gzip_2threads", None),
    (f"fancy {FK} sorted indices of {FN} f64, contiguous", "fancy", "contig", "contig", 5.0),
    ("fancy … chunked (64k-element chunks)", "fancy", "chunked", "chunked", 5.0),
    (f"W1 write {CMIB} MiB f64 contiguous (no fsync)", "w1", "write", "write", 1.0),
    (f"W4 write {ZMIB} MiB f32 chunked gzip4+shuffle", "w4", "write", "write", 3.0),
    (f"W8 create {NG} groups (1 dataset + 3 attrs each), per group", "w8c", "create", "create", 10.0),
    (f"W10 {os.environ.get('BENCH_APPENDS', '100000')} one-row appends (resize + write), per append", "w10", "append", "append", 10.0),
    (f"W9 write {NS} vlen strings", "w9w", "write", "write", None),
]


def fmt_t(ts, ops):
    med, lo, hi = statistics.median(ts), min(ts), max(ts)
    if ops:
        return f"{med / ops * 1e6:.1f} µs ({lo / ops * 1e6:.1f}–{hi / ops * 1e6:.1f})"
    if med < 1:
        return f"{med * 1e3:.1f} ms ({lo * 1e3:.1f}–{hi * 1e3:.1f})"
    return f"{med:.2f} s ({lo:.2f}–{hi:.2f})"


def paired(a, b):
    """Per-round ratios a/b (rounds present in both)."""
    da, db = {r: t for r, t, _ in a}, {r: t for r, t, _ in b}
    return [da[r] / db[r] for r in sorted(da) if r in db and db[r] > 0]


def ratio_cell(rs, goal):
    if not rs:
        return "—", ""
    med = statistics.median(rs)
    cell = f"**{med:.2f}×** ({min(rs):.2f}–{max(rs):.2f})"
    met = "" if goal is None else ("yes" if med >= goal else "no")
    return cell, met


lines = ["| workload | h5py | h5oxide | ratio (h5py ÷ h5oxide) | goal | met |",
         "| --- | ---: | ---: | ---: | ---: | :---: |"]
others = ["h5oxide"] + (["h5oxide-py"] if have_py_h5oxide else [])
for other in others:
    for label, key, fpy, fox, goal, *py_fox in ROWS:
        if other == "h5oxide-py" and py_fox:
            fox = py_fox[0]
            label = label.replace("vs read_strings", "vs ds[:] (bytes)")
        a, b = results.get((key, "h5py", fpy)), results.get((key, other, fox))
        if not a or not b:
            continue
        ops = a[0][2] if key.startswith(("w7", "w8")) else 0
        cell, met = ratio_cell(paired(a, b), goal)
        g = "" if goal is None else f"≥ {goal:g}"
        lab = label if other == "h5oxide" else f"{label} [Python h5oxide]"
        lines.append(f"| {lab} | {fmt_t([t for _, t, _ in a], ops)} | {fmt_t([t for _, t, _ in b], ops)} "
                     f"| {cell} | {g} | {met} |")

# W11 thread scaling: 2 threads vs 1 thread of the same implementation (goal ≥ 1.8×)
scal = ["", "| W11 thread scaling | 1 thread (serial A then B) | 2 threads | speed-up | goal | met |",
        "| --- | ---: | ---: | ---: | ---: | :---: |"]
for impl in ["h5py", "h5oxide", "h5oxide-rayon1"] + (["h5oxide-py"] if have_py_h5oxide else []):
    for kind in ("plain", "gzip"):
        s, t = results.get(("w11", impl, f"{kind}_serial")), results.get(("w11", impl, f"{kind}_2threads"))
        if not s or not t:
            continue
        goal = 1.8 if impl != "h5py" else None
        cell, met = ratio_cell(paired(s, t), goal)
        scal.append(f"| {impl}, {kind} | {fmt_t([x for _, x, _ in s], 0)} | {fmt_t([x for _, x, _ in t], 0)} "
                    f"| {cell} | {'≥ 1.8' if goal else ''} | {met} |")
if len(scal) > 3:
    lines += scal

# Peak memory table: peak resident set size of the whole process ÷ dataset size, and its growth
# during the read (peak after − peak before) ÷ size; medians over rounds.
MMIB = os.environ.get("BENCH_MEM_MIB", "1024")
MEM_ROWS = [("h5py", "read", "h5py `ds[:]`"),
            ("h5oxide", "read", "h5oxide `read_raw`"),
            ("h5oxide", "read_typed", "h5oxide `read::<f64>`"),
            ("h5oxide", "iter", "h5oxide `chunk_iter().typed::<f64>()` (summed, 1 MiB blocks)"),
            ("h5oxide-py", "read", "Python h5oxide `ds[:]`")]
memt = ["", f"| peak memory, read {MMIB} MiB f64 contiguous | peak RSS | peak RSS ÷ size | "
        "growth ÷ size | time |", "| --- | ---: | ---: | ---: | ---: |"]
for impl, fig, label in MEM_ROWS:
    v = mem.get((impl, fig))
    if not v:
        continue
    size = v[0][2]
    peak = statistics.median(x[0] for x in v)
    growth = statistics.median(x[0] - x[1] for x in v)
    memt.append(f"| {label} | {peak / (1 << 20):.0f} MiB | **{peak / size:.3f}** | {growth / size:.3f} "
                f"| {fmt_t([x[3] for x in v], 0)} |")
if len(lines) == 2:  # no timing rows (e.g. BENCH_ONLY=mem): drop the empty table
    lines, memt = [], memt[1:]
if len(memt) > 3:
    lines += memt

note = (f"{ROUNDS} rounds × (1 warm-up + 1 timed run; no warm-up for W7, W8 and writes) per implementation, "
        "alternating; "
        f"median (min–max) over rounds; ratio = median of per-round h5py÷h5oxide; "
        "peak memory: one read per process and round. "
        f"Harness wall time {elapsed / 60:.1f} min.")
table = "\n".join(lines) + "\n\n" + note + "\n"
with open(os.path.join(args.out, f"{stamp}.md"), "w") as f:
    f.write(table)
print(table)
log(f"results: {args.out}/{stamp}.jsonl and .md")
