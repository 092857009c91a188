#!/usr/bin/env python3
"""Writes HDF5 files that exercise every chunk index across its structural boundaries, and a
manifest of expectations computed with h5py/numpy, for tests/chunked_cases.rs.

Usage: gen_chunked_cases.py OUTDIR      (writes OUTDIR/*.h5 and OUTDIR/cases.tsv)

cases.tsv columns:
  file, dataset, object header address, dims (comma list), fill (hex of one element),
  chunk listing digest (sha256 of "[[offset...],mask,byte_offset,size]" lines joined by "\n",
  as h5py's chunk_iter reports them, sorted by offset), number of chunks,
  then any number of "start;stride;count;block=sha256" selections (per-dim values comma-joined;
  the digest is over the selected elements' little-endian bytes, row-major).
"""
import hashlib
import os
import sys

import h5py
import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rows = []


def sel_digest(a, start, stride, count, block):
    idx = []
    for s, st, c, b in zip(start, stride, count, block):
        idx.append(np.array([s + k * st + j for k in range(c) for j in range(b)], dtype=np.int64))
    v = a[np.ix_(*idx)] if a.ndim > 0 else a
    return hashlib.sha256(np.ascontiguousarray(v).astype(v.dtype.newbyteorder("<")).tobytes()).hexdigest()


def record(fname, ds, sels):
    a = ds[...]
    dims = ds.shape
    n = ds.id.get_num_chunks()
    infos = []
    ds.id.chunk_iter(infos.append)
    infos.sort(key=lambda c: tuple(c.chunk_offset))
    listing = "\n".join(
        "[[%s],%d,%d,%d]" % (",".join(map(str, c.chunk_offset)), c.filter_mask, c.byte_offset, c.size)
        for c in infos)
    fill = np.array(ds.fillvalue, dtype=ds.dtype).astype(ds.dtype.newbyteorder("<")).tobytes().hex()
    cols = [fname, ds.name, str(h5py.h5o.get_info(ds.id).addr), ",".join(map(str, dims)), fill,
            hashlib.sha256(listing.encode()).hexdigest(), str(n)]
    full = (tuple([0] * len(dims)), tuple([1] * len(dims)), tuple(dims), tuple([1] * len(dims)))
    for s in [full] + sels:
        st, sd, ct, bl = s
        cols.append("%s;%s;%s;%s=%s" % (",".join(map(str, st)), ",".join(map(str, sd)),
                                       ",".join(map(str, ct)), ",".join(map(str, bl)),
                                       sel_digest(a, st, sd, ct, bl)))
    rows.append(cols)


def row1(n, i):
    """A one-element selection at i of a 1-D dataset of n elements, and a strided one."""
    return [((i,), (1,), (1,), (1,)), ((1,), (7,), ((n - 2) // 7, ), (3,)) if n > 10 else
            ((0,), (1,), (n,), (1,))]


# ---- extensible array (1 unlimited dim), sizes crossing index block / data blocks / super
# blocks / paged data blocks (data blocks above 1024 elements start after ~131k elements).
with h5py.File(os.path.join(out, "ea.h5"), "w", libver="latest") as f:
    for n in (3, 20, 300, 2000, 50000, 300000):
        d = f.create_dataset("ea_%d" % n, shape=(n,), maxshape=(None,), chunks=(1,), dtype="<i4")
        d[...] = np.arange(n, dtype="<i4") * 3 + 1
    # sparse writes: holes read as the fill value; the last chunk of a late super block only
    d = f.create_dataset("ea_sparse", shape=(200000,), maxshape=(None,), chunks=(4,),
                         dtype="<i2", fillvalue=-7)
    d[0:4] = 1
    d[1000:1010] = 2
    d[199990:200000] = 3
    # filtered (deflate + shuffle): filtered entries with chunk size and mask
    d = f.create_dataset("ea_deflate", shape=(5000,), maxshape=(None,), chunks=(10,),
                         dtype="<f8", compression="gzip", shuffle=True)
    d[...] = np.sin(np.arange(5000))
    # 2-D, unlimited dimension second (swizzled), extent not a multiple of the chunk
    d = f.create_dataset("ea_swizzle", shape=(7, 45), maxshape=(9, None), chunks=(2, 4),
                         dtype="<i4", fillvalue=99)
    d[:, :40] = np.arange(7 * 40).reshape(7, 40)
    # 3-D, unlimited in the middle
    d = f.create_dataset("ea_3d", shape=(3, 50, 5), maxshape=(3, None, 5), chunks=(2, 3, 2),
                         dtype="<u2")
    d[...] = np.arange(3 * 50 * 5).reshape(3, 50, 5)
    # unlimited first, 2-D, filtered
    d = f.create_dataset("ea_first", shape=(1000, 6), maxshape=(None, 6), chunks=(7, 4),
                         dtype="<i8", compression="gzip")
    d[...] = np.arange(6000).reshape(1000, 6)

# ---- fixed array: unpaged, paged (> 1024 chunks), sparse pages (page bitmap), filtered
with h5py.File(os.path.join(out, "fa.h5"), "w", libver="latest") as f:
    d = f.create_dataset("fa_small", shape=(10, 10), chunks=(3, 4), dtype="<i4", fillvalue=5)
    d[...] = np.arange(100).reshape(10, 10)
    d = f.create_dataset("fa_paged", shape=(5000,), chunks=(2,), dtype="<i4")
    d[...] = np.arange(5000)
    d = f.create_dataset("fa_sparse", shape=(20000,), chunks=(3,), dtype="<i4", fillvalue=-1)
    d[10:20] = 7
    d[15000:15010] = 8
    d = f.create_dataset("fa_deflate", shape=(300, 20), maxshape=(400, 20), chunks=(5, 3),
                         dtype="<f4", compression="gzip")
    d[...] = np.arange(6000, dtype="<f4").reshape(300, 20) / 7
    d = f.create_dataset("fa_filtered_paged", shape=(4000,), chunks=(1,), dtype="<i4",
                         compression="gzip", fillvalue=3)
    d[::2] = np.arange(2000)

# ---- v2 B-tree (2 unlimited dims): deep trees, filtered and not, holes
with h5py.File(os.path.join(out, "bt2.h5"), "w", libver="latest") as f:
    d = f.create_dataset("bt2_plain", shape=(300, 200), maxshape=(None, None), chunks=(2, 2),
                         dtype="<i4", fillvalue=-3)
    d[:298, :199] = np.arange(298 * 199).reshape(298, 199)
    d = f.create_dataset("bt2_deflate", shape=(200, 200), maxshape=(None, None), chunks=(2, 3),
                         dtype="<i4", compression="gzip")
    d[...] = np.arange(40000).reshape(200, 200)
    d = f.create_dataset("bt2_3d", shape=(10, 11, 12), maxshape=(None, None, 12),
                         chunks=(3, 2, 5), dtype="<i2")
    d[...] = np.arange(1320).reshape(10, 11, 12)

# ---- single chunk, implicit
with h5py.File(os.path.join(out, "single_implicit.h5"), "w", libver="latest") as f:
    d = f.create_dataset("single", shape=(6, 7), chunks=(6, 7), dtype="<i4")
    d[...] = np.arange(42).reshape(6, 7)
    d = f.create_dataset("single_deflate", shape=(60, 70), chunks=(60, 70), dtype="<i4",
                         compression="gzip")
    d[...] = np.arange(4200).reshape(60, 70)
    f.create_dataset("single_unwritten", shape=(4, 4), chunks=(4, 4), dtype="<i4", fillvalue=11)
    for name, shape, maxshape, chunks in (("implicit", (10, 9), None, (3, 4)),
                                          ("implicit_max", (10, 9), (20, 13), (3, 4))):
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk(chunks)
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        dcpl.set_fill_value(np.array(-5, dtype="<i4"))
        space = h5py.h5s.create_simple(shape, maxshape or shape)
        dsid = h5py.h5d.create(f.id, name.encode(), h5py.h5t.STD_I32LE, space, dcpl=dcpl)
        d = h5py.Dataset(dsid)
        d[:, :5] = np.arange(shape[0] * 5).reshape(shape[0], 5)

# ---- v1 B-tree (default format): internal levels, filters, fill value
with h5py.File(os.path.join(out, "bt1.h5"), "w") as f:
    d = f.create_dataset("bt1_big", shape=(200, 300), chunks=(3, 5), dtype="<i4", fillvalue=1)
    d[:150, :] = np.arange(150 * 300).reshape(150, 300)
    d = f.create_dataset("bt1_deflate", shape=(1000,), chunks=(7,), dtype="<f8",
                         compression="gzip", shuffle=True, fletcher32=True)
    d[...] = np.cos(np.arange(1000))
    d = f.create_dataset("bt1_4d", shape=(5, 6, 7, 8), chunks=(2, 3, 4, 5), dtype="<u1")
    d[...] = (np.arange(5 * 6 * 7 * 8) % 251).reshape(5, 6, 7, 8)

# selections per dataset
SELS = {
    "ea_3": [((2,), (1,), (1,), (1,))],
    "ea_20": row1(20, 19),
    "ea_300": row1(300, 150),
    "ea_2000": row1(2000, 1999),
    "ea_50000": row1(50000, 40000),
    "ea_300000": row1(300000, 299999) + [((140000,), (1,), (2000,), (1,))],
    "ea_sparse": [((199980,), (1,), (20,), (1,)), ((998,), (1,), (20,), (1,))],
    "ea_deflate": row1(5000, 4321),
    "ea_swizzle": [((1, 3), (1, 1), (5, 40), (1, 1)), ((0, 0), (3, 10), (3, 5), (1, 2)),
                   ((6, 44), (1, 1), (1, 1), (1, 1))],
    "ea_3d": [((1, 10, 1), (1, 4, 2), (2, 9, 2), (1, 3, 1))],
    "ea_first": [((995, 0), (1, 1), (5, 6), (1, 1))],
    "fa_small": [((2, 3), (3, 2), (3, 3), (2, 1))],
    "fa_paged": row1(5000, 4999),
    "fa_sparse": [((14990,), (1,), (30,), (1,)), ((0,), (1,), (30,), (1,))],
    "fa_deflate": [((97, 2), (1, 1), (10, 10), (1, 1))],
    "fa_filtered_paged": row1(4000, 3999),
    "bt2_plain": [((297, 198), (1, 1), (3, 2), (1, 1)), ((0, 0), (50, 50), (6, 4), (3, 3))],
    "bt2_deflate": [((100, 100), (1, 1), (1, 1), (1, 1))],
    "bt2_3d": [((2, 3, 4), (4, 3, 4), (2, 3, 2), (2, 2, 3))],
    "single": [((1, 1), (2, 2), (2, 3), (1, 1))],
    "single_deflate": [((59, 0), (1, 1), (1, 70), (1, 1))],
    "single_unwritten": [],
    "implicit": [((2, 2), (1, 1), (8, 7), (1, 1))],
    "implicit_max": [((9, 8), (1, 1), (1, 1), (1, 1))],
    "bt1_big": [((149, 0), (1, 1), (2, 300), (1, 1)), ((0, 0), (40, 60), (5, 5), (2, 3))],
    "bt1_deflate": row1(1000, 999),
    "bt1_4d": [((1, 1, 1, 1), (2, 2, 2, 4), (2, 2, 3, 1), (1, 2, 1, 3))],
}

for fname in ("ea.h5", "fa.h5", "bt2.h5", "single_implicit.h5", "bt1.h5"):
    with h5py.File(os.path.join(out, fname), "r") as f:
        for name in sorted(f):
            record(fname, f[name], SELS.get(name, []))

with open(os.path.join(out, "cases.tsv"), "w") as o:
    for r in rows:
        o.write("\t".join(r) + "\n")
print(len(rows), "datasets", file=sys.stderr)
