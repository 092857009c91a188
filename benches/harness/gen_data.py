"""Creates the benchmark data files with h5py (adapted from /work/shared/bench's reference
workloads, with configurable sizes) and prints one `key=path` line per file.

Files are named after their sizes, so changing a size makes a new file; an existing file with
the right name is reused. Environment (defaults in parentheses):

  BENCH_DIR            where the files go (<tmp>/h5oxide-bench)
  BENCH_CONTIG_MIB     W2 contiguous float64 dataset (256)
  BENCH_COMPRESSED_MIB W5/W6 chunked float32 datasets, 1 MiB chunks (64)
  BENCH_ROWS           W7 rows of 256 float32, chunks of 1024 rows (65536 = 64 MiB per dataset)
  BENCH_W7_READS       W7 random rows read (10000)
  BENCH_GROUPS         W8 groups (10000)
  BENCH_STRINGS        W9 vlen strings (1000000)
  BENCH_W11_MIB        W11 size of each of the 4 datasets (64)
  BENCH_FANCY_N        fancy: float64 elements (10000000)
  BENCH_FANCY_K        fancy: sorted distinct indices (100000)
  BENCH_MEM_MIB        mem: contiguous float64 dataset for the peak-memory figure (1024);
                       opt-in: written only when BENCH_ONLY names `mem`
"""
import os
import sys
import tempfile

import h5py
import numpy as np

MiB = 1 << 20
DIR = os.environ.get("BENCH_DIR") or os.path.join(tempfile.gettempdir(), "h5oxide-bench")
os.makedirs(DIR, exist_ok=True)


def env(name, default):
    return int(os.environ.get(name, default))


def out(key, p):
    print(f"{key}={p}", flush=True)


def fresh(p):
    if os.path.exists(p):
        return False
    print(f"gen: writing {p}", file=sys.stderr, flush=True)
    return True


def random_walk_f32(n, seed=0):
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.01, size=n)
    return (np.cumsum(steps) + 20.0).astype(np.float32)


def atomic(p, write):
    tmp = p + ".tmp"
    write(tmp)
    os.replace(tmp, p)


only = set(x for x in os.environ.get("BENCH_ONLY", "").split(",") if x)


def want(w):
    return not only or w in only


# ---- W2: contiguous float64
if want("w2"):
    mib = env("BENCH_CONTIG_MIB", 256)
    p = os.path.join(DIR, f"w2_contig_f64_{mib}MiB.h5")
    if fresh(p):
        data = np.random.default_rng(0).random(mib * MiB // 8)
        atomic(p, lambda t: h5py.File(t, "w").create_dataset("data", data=data).file.close())
        del data
    out("w2", p)

# ---- W5/W6: chunked compressed float32
CONFIGS = {
    "gzip": lambda: dict(compression="gzip", compression_opts=4, shuffle=True),
    "lzf": lambda: dict(compression="lzf", shuffle=True),
    "zstd": lambda: dict(shuffle=True, **hdf5plugin.Zstd(clevel=3)),
    "blosc_lz4": lambda: dict(**hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE)),
    "blosc_zstd": lambda: dict(**hdf5plugin.Blosc(cname="zstd", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE)),
    "bitshuffle_lz4": lambda: dict(**hdf5plugin.Bitshuffle(cname="lz4")),
}
if want("w5") or want("w6"):
    import hdf5plugin  # noqa: F401  (registers the plugin filters)

    mib = env("BENCH_COMPRESSED_MIB", 64)
    data = None
    for name, cfg in CONFIGS.items():
        w = "w5" if name == "gzip" else "w6"
        if not want(w):
            continue
        p = os.path.join(DIR, f"w4_{name}_{mib}MiB.h5")
        if fresh(p):
            if data is None:
                data = random_walk_f32(mib * MiB // 4)

            def write(t, cfg=cfg):
                with h5py.File(t, "w") as f:
                    f.create_dataset("data", data=data, chunks=(MiB // 4,), **cfg())
            atomic(p, write)
        out(f"{w}_{name}", p)
    data = None

# ---- W7: random rows
if want("w7"):
    rows = env("BENCH_ROWS", 65536)
    nread = env("BENCH_W7_READS", 10000)
    p = os.path.join(DIR, f"w7_rows_{rows}.h5")
    if fresh(p):
        data = random_walk_f32(rows * 256).reshape(rows, 256)

        def write(t):
            with h5py.File(t, "w") as f:
                f.create_dataset("contig", data=data)
                f.create_dataset("chunked", data=data, chunks=(1024, 256))
                f.create_dataset("gzip", data=data, chunks=(1024, 256), compression="gzip",
                                 compression_opts=4, shuffle=True)
        atomic(p, write)
        del data
    ip = os.path.join(DIR, f"w7_idx_{rows}_{nread}.u64")
    if fresh(ip):
        np.random.default_rng(7).integers(0, rows, nread).astype("<u8").tofile(ip)
    out("w7", p)
    out("w7_idx", ip)

# ---- W8: metadata
if want("w8"):
    ng = env("BENCH_GROUPS", 10000)
    small = np.arange(16, dtype=np.int32)
    for libver in ("earliest", "latest"):
        p = os.path.join(DIR, f"w8_meta_{libver}_{ng}.h5")
        if fresh(p):
            def write(t, libver=libver):
                with h5py.File(t, "w", libver=libver) as f:
                    for i in range(ng):
                        g = f.create_group(f"g{i:05d}")
                        g.create_dataset("d", data=small)
                        g.attrs["index"] = i
                        g.attrs["scale"] = i * 0.5
                        g.attrs["name"] = f"group number {i}"
            atomic(p, write)
        out(f"w8_{libver}", p)

# ---- W9: vlen strings
if want("w9"):
    n = env("BENCH_STRINGS", 1000000)
    p = os.path.join(DIR, f"w9_vlen_{n}.h5")
    if fresh(p):
        words = ["alpha", "beta", "gamma", "delta", "température", "µs", "日本語", "naïve", "x", "sensor"]
        rng = np.random.default_rng(9)
        w1 = rng.integers(0, len(words), n)
        w2 = rng.integers(0, len(words), n)
        arr = np.array([f"{words[a]}-{i:07d}-{words[b]}" for i, (a, b) in enumerate(zip(w1, w2))],
                       dtype=object)

        def write(t):
            with h5py.File(t, "w") as f:
                f.create_dataset("s", data=arr, dtype=h5py.string_dtype())
        atomic(p, write)
        del arr
    out("w9", p)

# ---- W11: two datasets per kind
if want("w11"):
    mib = env("BENCH_W11_MIB", 64)
    p = os.path.join(DIR, f"w11_two_datasets_{mib}MiB.h5")
    if fresh(p):
        def write(t):
            with h5py.File(t, "w") as f:
                rng = np.random.default_rng(11)
                f.create_dataset("plain_a", data=rng.random(mib * MiB // 8))
                f.create_dataset("plain_b", data=rng.random(mib * MiB // 8))
                for k, seed in (("gzip_a", 1), ("gzip_b", 2)):
                    f.create_dataset(k, data=random_walk_f32(mib * MiB // 4, seed), chunks=(MiB // 4,),
                                     compression="gzip", compression_opts=4, shuffle=True)
        atomic(p, write)
    out("w11", p)

# ---- fancy: sorted index list into 1-D float64
if want("fancy"):
    n = env("BENCH_FANCY_N", 10_000_000)
    k = env("BENCH_FANCY_K", 100_000)
    p = os.path.join(DIR, f"fancy_{n}.h5")
    if fresh(p):
        data = np.random.default_rng(12).random(n)

        def write(t):
            with h5py.File(t, "w") as f:
                f.create_dataset("contig", data=data)
                f.create_dataset("chunked", data=data, chunks=(1 << 16,))
        atomic(p, write)
        del data
    ip = os.path.join(DIR, f"fancy_idx_{n}_{k}.u64")
    if fresh(ip):
        idx = np.sort(np.random.default_rng(13).choice(n, size=k, replace=False))
        idx.astype("<u8").tofile(ip)
    out("fancy", p)
    out("fancy_idx", ip)

# ---- mem: peak memory of reading a large contiguous float64 dataset (opt-in: BENCH_ONLY=mem)
if "mem" in only:
    mib = env("BENCH_MEM_MIB", 1024)
    p = os.path.join(DIR, f"mem_contig_f64_{mib}MiB.h5")
    if fresh(p):
        n = mib * MiB // 8
        slab = 8 * MiB  # elements per write: 64 MiB, so the generator itself stays small

        def write(t):
            with h5py.File(t, "w") as f:
                d = f.create_dataset("data", shape=(n,), dtype="f8")
                rng = np.random.default_rng(14)
                for i in range(0, n, slab):
                    d[i:i + slab] = rng.random(min(slab, n - i))
        atomic(p, write)
    out("mem", p)
