"""Python side of the benchmark: the same workloads and figure names as the Rust binary
(benches/h5oxide-bench), through an h5py-compatible module.

  python bench_py.py [--lib h5py|h5oxide] [--reps N] [--warmup N] [--label NAME] WORKLOAD FILE [EXTRA...]

Workload `mem` (peak memory) takes a figure name as EXTRA (`read`: ds[:]), runs it once and adds
the process's peak resident set size before and after (`base_rss_bytes`, `peak_rss_bytes`).

--lib h5py (default) measures h5py over libhdf5; --lib h5oxide measures the h5oxide Python
package (h5py-compatible API) once it is installed in the venv. One JSON line per figure, same
shape as the Rust binary's.
"""
import argparse
import importlib
import json
import statistics
import threading
import time

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--lib", default="h5py")
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--warmup", type=int, default=1)
ap.add_argument("--label", default=None)
ap.add_argument("workload")
ap.add_argument("file")
ap.add_argument("extra", nargs="*")
args = ap.parse_args()
h5 = importlib.import_module(args.lib)
if args.lib == "h5py":
    import hdf5plugin  # noqa: F401  (blosc, zstd, bitshuffle filters)
LABEL = args.label or args.lib
FILE = args.file


def run(figure, fn, ops=0, nbytes=0):
    for _ in range(args.warmup):
        fn()
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    rec = {"impl": LABEL, "workload": args.workload, "figure": figure, "reps": len(times),
           "times_s": [round(t, 6) for t in times], "median_s": round(med, 6),
           "min_s": round(min(times), 6), "max_s": round(max(times), 6)}
    if ops:
        rec["ops"] = ops
        rec["us_per_op_median"] = round(med / ops * 1e6, 3)
    if nbytes:
        rec["bytes"] = nbytes
        rec["MBps_median"] = round(nbytes / med / 1e6, 1)
    print(json.dumps(rec), flush=True)


def read_all(name="data"):
    with h5.File(FILE, "r") as f:
        return f[name][:]


w = args.workload
if w == "w2":
    with h5.File(FILE, "r") as f:
        shape, nbytes = f["data"].shape, f["data"].nbytes
    run("read", read_all, nbytes=nbytes)
    buf = np.empty(shape)
    buf[:] = 1.0

    def read_direct():
        with h5.File(FILE, "r") as f:
            f["data"].read_direct(buf)
    run("read_into", read_direct, nbytes=nbytes)

elif w == "mem":
    # One figure per process: VmHWM only grows, so each figure needs a fresh process.
    def vm_hwm():
        with open("/proc/self/status") as st:
            for line in st:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return 0

    figure = args.extra[0] if args.extra else "read"
    if figure != "read":
        raise SystemExit(f"mem: unknown figure {figure!r}")
    with h5.File(FILE, "r") as f:
        nbytes = f["data"].nbytes
    base = vm_hwm()
    t0 = time.perf_counter()
    a = read_all()
    t = time.perf_counter() - t0
    peak = vm_hwm()
    assert a.nbytes == nbytes
    del a
    print(json.dumps({"impl": LABEL, "workload": w, "figure": figure, "reps": 1,
                      "times_s": [round(t, 6)], "median_s": round(t, 6), "min_s": round(t, 6),
                      "max_s": round(t, 6), "bytes": nbytes, "base_rss_bytes": base,
                      "peak_rss_bytes": peak}), flush=True)

elif w in ("w5", "w6"):
    with h5.File(FILE, "r") as f:
        nbytes = f["data"].nbytes
    run("read", read_all, nbytes=nbytes)

elif w == "w7":
    idx = [int(i) for i in np.fromfile(args.extra[0], dtype="<u8")]
    gzip_n = int(args.extra[1]) if len(args.extra) > 1 else len(idx)
    for figure, name, ids in (("contiguous", "contig", idx), ("chunked", "chunked", idx),
                              ("gzip", "gzip", idx[:gzip_n])):
        def rows(name=name, ids=ids):
            with h5.File(FILE, "r") as f:
                ds = f[name]
                s = 0.0
                for i in ids:
                    s += ds[i][0]
        run(figure, rows, ops=len(ids))

elif w == "w8":
    def walk():
        n = [0, 0]

        def cb(name, obj):
            n[1] += 1
            for k, v in obj.attrs.items():
                n[0] += 1
        with h5.File(FILE, "r") as f:
            f.visititems(cb)
        assert 2 * n[0] == 3 * n[1], n
        return n
    nobj = walk()[1]
    run("walk", walk, ops=nobj // 2)

elif w == "w9":
    with h5.File(FILE, "r") as f:
        n = f["s"].shape[0]

    def read_str():
        with h5.File(FILE, "r") as f:
            return f["s"].asstr()[:]

    def read_bytes():
        with h5.File(FILE, "r") as f:
            return f["s"][:]
    run("read_str", read_str, ops=n)
    run("read_bytes", read_bytes, ops=n)

elif w == "w11":
    with h5.File(FILE, "r") as f:
        for kind in ("plain", "gzip"):
            a, b = f"{kind}_a", f"{kind}_b"
            nbytes = f[a].nbytes + f[b].nbytes

            def serial(a=a, b=b):
                f[a][:]
                f[b][:]

            def two(a=a, b=b):
                ths = [threading.Thread(target=lambda n: f[n][:], args=(n,)) for n in (a, b)]
                for t in ths:
                    t.start()
                for t in ths:
                    t.join()
            run(f"{kind}_serial", serial, nbytes=nbytes)
            run(f"{kind}_2threads", two, nbytes=nbytes)

elif w == "fancy":
    idx = np.fromfile(args.extra[0], dtype="<u8").astype(np.int64)
    for name in ("contig", "chunked"):
        def fancy(name=name):
            with h5.File(FILE, "r") as f:
                return f[name][idx]
        run(name, fancy, ops=len(idx))

elif w in ("w1", "w4", "w8c", "w9w", "w10"):
    # write workloads: data from FILE (read untimed), output to EXTRA[0], removed before each rep
    import os
    out = args.extra[0]

    def clean():
        if os.path.exists(out):
            os.unlink(out)

    def run_write(figure, fn, ops=0, nbytes=0):
        def timed():
            clean()
            t0 = time.perf_counter()
            fn()
            return time.perf_counter() - t0
        for _ in range(args.warmup):
            timed()
        times = [timed() for _ in range(args.reps)]
        med = statistics.median(times)
        rec = {"impl": LABEL, "workload": w, "figure": figure, "reps": len(times),
               "times_s": [round(t, 6) for t in times], "median_s": round(med, 6),
               "min_s": round(min(times), 6), "max_s": round(max(times), 6)}
        if ops:
            rec["ops"] = ops
        if nbytes:
            rec["bytes"] = nbytes
        print(json.dumps(rec), flush=True)

    if w == "w1":
        data = read_all()

        def write():
            with h5.File(out, "w") as f:
                f.create_dataset("data", data=data)
        run_write("write", write, nbytes=data.nbytes)
    elif w == "w4":
        data = read_all()

        def write():
            with h5.File(out, "w") as f:
                f.create_dataset("data", data=data, chunks=(1 << 18,), compression="gzip",
                                 compression_opts=4, shuffle=True)
        run_write("write", write, nbytes=data.nbytes)
    elif w == "w10":
        # one-row appends to an unlimited chunked dataset: resize, then write the new row
        n = int(args.extra[1]) if len(args.extra) > 1 else 100000
        row = np.arange(8, dtype="f8")

        def write():
            with h5.File(out, "w") as f:
                d = f.create_dataset("log", shape=(0, 8), maxshape=(None, 8), dtype="f8",
                                     chunks=(1024, 8))
                for i in range(n):
                    d.resize(i + 1, axis=0)
                    d[i] = row
        run_write("append", write, ops=n)
    elif w == "w8c":
        ng = int(args.extra[1]) if len(args.extra) > 1 else 10000
        small = np.arange(16, dtype=np.int32)

        def write():
            with h5.File(out, "w") as f:
                for i in range(ng):
                    g = f.create_group(f"g{i:05d}")
                    g.create_dataset("d", data=small)
                    g.attrs["index"] = i
                    g.attrs["scale"] = i * 0.5
                    g.attrs["name"] = f"group number {i}"
        run_write("create", write, ops=ng)
    else:
        with h5.File(FILE, "r") as f:
            arr = f["s"].asstr()[:]

        def write():
            with h5.File(out, "w") as f:
                f.create_dataset("s", data=arr, dtype=h5.string_dtype())
        run_write("write", write, ops=len(arr))
    clean()

else:
    raise SystemExit(f"unknown workload {w!r}")
