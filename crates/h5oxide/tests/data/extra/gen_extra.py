#!/usr/bin/env python3
"""Writes x/regions_{earliest,latest}.h5 (run from this folder), then:
    python ../../../../../../shared/tools/h5canon.py x/F.h5 --out x/F.h5.canon.json
and regenerates ../extra_fixtures.jsonl with gen_dtype_fixtures.py over a scratch `shared`
folder whose corpus/MANIFEST.tsv lists the two files (features: ref:region)."""
import h5py
import numpy as np

for libver in ("earliest", "latest"):
    with h5py.File(f"x/regions_{libver}.h5", "w", libver=libver) as f:
        d = f.create_dataset("data", data=np.arange(100, dtype="i4").reshape(10, 10))
        d3 = f.create_dataset("data3", data=np.arange(60, dtype="i2").reshape(3, 4, 5))
        sels = []

        def add(fn, ds=d):
            s = ds.id.get_space()
            fn(s)
            sels.append(h5py.h5r.create(f.id, ds.name.encode(), h5py.h5r.DATASET_REGION, s))

        def union(*blocks):
            def fn(s):
                s.select_hyperslab(*blocks[0])
                for b in blocks[1:]:
                    s.select_hyperslab(*b, op=h5py.h5s.SELECT_OR)
            return fn

        add(lambda s: s.select_all())
        add(lambda s: s.select_none())
        add(lambda s: s.select_elements(np.array([[1, 2], [3, 4], [1, 2], [9, 9]])))
        add(lambda s: s.select_hyperslab((1, 1), (3, 2), (3, 3), (2, 1)))
        add(lambda s: s.select_hyperslab((0, 0), (2, 2), (5, 2), (5, 2)))  # contiguous
        add(union(((0, 0), (2, 2)), ((5, 5), (2, 3))))
        add(union(((0, 0), (1, 2)), ((4, 0), (1, 2)), ((8, 0), (1, 2))))  # regular by ORs
        add(union(((0, 0), (2, 2)), ((2, 0), (2, 2))))  # adjacent
        add(union(((0, 0), (3, 3)), ((1, 1), (3, 3))))  # overlapping
        add(union(((0, 0), (1, 4)), ((1, 0), (3, 1))))  # L shape
        add(lambda s: s.select_hyperslab((0, 1, 1), (1, 1, 2), (3, 2, 2), (1, 2, 1)), d3)
        add(lambda s: s.select_hyperslab((0, 0), (10, 10), (1, 1), (1, 1)))
        add(lambda s: s.select_hyperslab((0, 0), (1, 1), (1, 1), (10, 10)))
        add(lambda s: s.select_hyperslab((2, 3), (1, 1), (4, 4), (2, 2)))
        f.create_dataset("refs", data=np.array(sels, dtype=h5py.regionref_dtype))
        f.create_dataset("orefs", data=np.array([f["data"].ref, f["data3"].ref, h5py.Reference()],
                                                dtype=h5py.ref_dtype))
        vl = f.create_dataset("vlen_i2be", shape=(3,), dtype=h5py.vlen_dtype(np.dtype(">i2")))
        vl[0] = [1, -2]
        vl[1] = []
        vl[2] = [3, 4, 5]
        f.create_dataset("f16be", data=np.array([1.5, -0.0, np.inf, np.nan, 6.1e-5], dtype=">f2"))
        f.create_dataset("ldouble", data=np.array([1 / 3, -2.5, 1e-320], dtype=np.longdouble))
        f.create_dataset("vstr", data=np.array(["a", "héllo", ""], dtype=h5py.string_dtype()))
