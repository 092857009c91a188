"""Regenerates the filter test vectors under tests/data/ (needs h5py, numpy, hdf5plugin).

For each chunked, filtered dataset we keep one raw (filtered) chunk as read by
`read_direct_chunk`, the dataset's filter pipeline, and the decoded bytes of the
same chunk as read back by h5py (libhdf5 + hdf5plugin). The Rust test
`tests/vectors.rs` runs the pipeline backwards and compares.

Usage: python gen_vectors.py [corpus_dir]
"""
import os
import sys

import h5py
import hdf5plugin
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# FULL_DUMP=dir: every chunk of every filtered corpus dataset, no size cap, into dir (for a
# local run of tests/vectors.rs with VECTORS_DIR=dir; not committed).
FULL = os.environ.get("FULL_DUMP")
OUT = FULL or os.path.join(HERE, "data")
MAX_BYTES = 1 << 40 if FULL else 8 * 1024
rows = []


def pipeline(dset):
    plist = dset.id.get_create_plist()
    out = []
    for i in range(plist.get_nfilters()):
        code, _flags, cd, _name = plist.get_filter(i)
        out.append(f"{code}:" + ",".join(str(int(v)) for v in cd))
    return "|".join(out)


def raw_read(dset, offset, chunks):
    """Reads one chunk in the file's own datatype (no conversion)."""
    ftype = dset.id.get_type()
    n = int(np.prod(chunks))
    buf = np.zeros(n * ftype.get_size(), dtype=np.uint8)
    mspace = h5py.h5s.create_simple(tuple(chunks))
    fspace = dset.id.get_space()
    fspace.select_hyperslab(tuple(offset), tuple(chunks))
    dset.id.read(mspace, fspace, buf, mtype=ftype)
    return buf.tobytes()


def add(name, dset, chunk_index=0):
    """Stores chunk `chunk_index` (in storage order) of `dset` if it is fully inside the extent."""
    chunks = dset.chunks
    if chunks is None or dset.id.get_create_plist().get_nfilters() == 0:
        return False
    nchunks = dset.id.get_num_chunks()
    if chunk_index >= nchunks:
        return False
    info = dset.id.get_chunk_info(chunk_index)
    offset = info.chunk_offset
    sel = tuple(slice(o, o + c) for o, c in zip(offset, chunks))
    if any(o + c > s for o, c, s in zip(offset, chunks, dset.shape)):
        return False
    try:
        if "5:" in pipeline(dset).split("|")[0] or "|5:" in pipeline(dset):
            # N-bit output is in the file datatype (padding bits 0); read without conversion.
            expected = raw_read(dset, offset, chunks)
        else:
            expected = np.ascontiguousarray(dset[sel]).tobytes()
    except Exception as e:  # noqa: BLE001 - report and skip what libhdf5 cannot read
        print("skip", name, e)
        return False
    mask, raw = dset.id.read_direct_chunk(offset)
    if len(expected) > MAX_BYTES or len(raw) > MAX_BYTES:
        print("skip (too big)", name, len(expected), len(raw))
        return False
    with open(os.path.join(OUT, name + ".chunk"), "wb") as f:
        f.write(raw)
    with open(os.path.join(OUT, name + ".expected"), "wb") as f:
        f.write(expected)
    rows.append(f"{name}\t{pipeline(dset)}\t{mask}\t{dset.dtype.itemsize}")
    print("ok", name, pipeline(dset), len(raw), len(expected))
    return True


def generated():
    path = os.path.join(OUT, "_gen.h5")
    rng = np.random.default_rng(12345)
    smooth = (np.cumsum(rng.normal(size=(40, 50)), axis=1) * 100).astype("<f4")
    ints = (np.arange(2000, dtype="<i4") % 97 * 13).reshape(40, 50)
    u16 = (np.arange(3000, dtype="<u2") * 7 % 1000)
    f8 = np.sin(np.arange(1500) / 10.0).astype("<f8")
    cases = {
        "blosc_lz4_shuffle": (smooth, hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE)),
        "blosc_blosclz_noshuffle": (ints, hdf5plugin.Blosc(cname="blosclz", clevel=9, shuffle=hdf5plugin.Blosc.NOSHUFFLE)),
        "blosc_blosclz_shuffle": (smooth, hdf5plugin.Blosc(cname="blosclz", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE)),
        "blosc_zlib_bitshuffle": (ints, hdf5plugin.Blosc(cname="zlib", clevel=5, shuffle=hdf5plugin.Blosc.BITSHUFFLE)),
        "blosc_zstd_shuffle": (f8, hdf5plugin.Blosc(cname="zstd", clevel=3, shuffle=hdf5plugin.Blosc.SHUFFLE)),
        "blosc_lz4hc_bitshuffle": (u16, hdf5plugin.Blosc(cname="lz4hc", clevel=7, shuffle=hdf5plugin.Blosc.BITSHUFFLE)),
        "blosc_lz4_clevel0": (u16, hdf5plugin.Blosc(cname="lz4", clevel=0)),
        "lz4": (smooth, hdf5plugin.LZ4()),
        "lz4_small_blocks": (ints, hdf5plugin.LZ4(nbytes=1024)),
        "zstd": (ints, hdf5plugin.Zstd()),
        "bzip2": (smooth, hdf5plugin.BZip2()),
        "bitshuffle_none": (ints, hdf5plugin.Bitshuffle(cname="none")),
        "bitshuffle_lz4": (smooth, hdf5plugin.Bitshuffle(cname="lz4")),
        "bitshuffle_zstd": (f8, hdf5plugin.Bitshuffle(cname="zstd")),
        "bitshuffle_lz4_u16": (u16, hdf5plugin.Bitshuffle(nelems=64, cname="lz4")),
        "bitshuffle_none_odd": (np.arange(1003, dtype="<u1"), hdf5plugin.Bitshuffle(cname="none")),
        "blosc2_lz4_shuffle": (smooth, hdf5plugin.Blosc2(cname="lz4", clevel=5, filters=hdf5plugin.Blosc2.SHUFFLE)),
        "blosc2_zstd_bitshuffle": (ints, hdf5plugin.Blosc2(cname="zstd", clevel=5, filters=hdf5plugin.Blosc2.BITSHUFFLE)),
        "blosc2_blosclz_noshuffle": (u16, hdf5plugin.Blosc2(cname="blosclz", clevel=5, filters=hdf5plugin.Blosc2.NOFILTER)),
    }
    with h5py.File(path, "w") as f:
        for name, (data, comp) in cases.items():
            chunks = data.shape if data.ndim == 1 else (20, 50)
            if data.ndim == 1:
                chunks = (min(len(data), 1024 // data.itemsize * 2),)
            f.create_dataset(name, data=data, chunks=chunks, **comp)
        # Builtin filters through libhdf5 itself.
        f.create_dataset("deflate_shuffle_fletcher32", data=ints, chunks=(20, 50), shuffle=True,
                         compression="gzip", compression_opts=4, fletcher32=True)
        f.create_dataset("lzf_shuffle", data=smooth, chunks=(20, 50), shuffle=True, compression="lzf")
        f.create_dataset("lzf_incompressible", data=rng.integers(0, 255, 800, dtype="u1"), chunks=(800,),
                         compression="lzf")
        f.create_dataset("fletcher32_odd", data=np.arange(333, dtype="u1"), chunks=(333,), fletcher32=True)
        f.create_dataset("scaleoffset_int", data=ints, chunks=(20, 50), scaleoffset=0)
        f.create_dataset("scaleoffset_int_bits", data=ints, chunks=(20, 50), scaleoffset=10)
        f.create_dataset("scaleoffset_u16", data=u16, chunks=(1000,), scaleoffset=0)
        f.create_dataset("scaleoffset_float_d2", data=smooth, chunks=(20, 50), scaleoffset=2)
        f.create_dataset("scaleoffset_f8_d3", data=f8, chunks=(500,), scaleoffset=3)
        f.create_dataset("scaleoffset_i8_be", data=(np.arange(600) * 1000 - 5000).astype(">i8"), chunks=(600,),
                         scaleoffset=0)
        f.create_dataset("scaleoffset_const", data=np.full(300, 42, dtype="<i2"), chunks=(300,), scaleoffset=0)
        nbit_cases(f)
        # szip (libaec) over several pixel widths, both options, odd scanlines.
        noisy = (np.cumsum(rng.integers(-3, 4, 3000)) + 500).astype("<i2")
        for name, data, chunks, opts in [
            ("szip_nn_i16", noisy, (1000,), ("nn", 16)),
            ("szip_ec_i16", noisy, (1000,), ("ec", 8)),
            ("szip_nn_u8", (noisy % 256).astype("u1"), (1000,), ("nn", 32)),
            ("szip_nn_i32_be", noisy.astype(">i4"), (500,), ("nn", 16)),
            ("szip_nn_f64", f8, (500,), ("nn", 8)),
            ("szip_nn_f32_2d", smooth, (20, 50), ("nn", 32)),
            ("szip_ec_u16_zeros", np.zeros(3000, dtype="<u2"), (1000,), ("ec", 16)),
            ("szip_nn_u16_odd", u16, (997,), ("nn", 32)),
        ]:
            f.create_dataset(name, data=data, chunks=chunks, compression="szip", compression_opts=opts)
    with h5py.File(path, "r") as f:
        for name in f:
            add("gen_" + name, f[name])
    os.remove(path)


def nbit_cases(f):
    """N-bit over custom-precision atomic, compound, array and array-of-compound types."""
    from h5py import h5d, h5p, h5s, h5t

    i17 = h5t.STD_I32LE.copy()
    i17.set_precision(17)
    i17.set_offset(3)
    u12be = h5t.STD_U16BE.copy()
    u12be.set_precision(12)
    u12be.set_offset(2)
    arr = h5t.array_create(u12be, (3,))
    s1 = h5t.C_S1.copy()
    cmp = h5t.create(h5t.COMPOUND, 11)
    cmp.insert(b"a", 0, i17)
    cmp.insert(b"b", 4, arr)
    cmp.insert(b"c", 10, s1)
    inner = h5t.create(h5t.COMPOUND, 6)
    inner.insert(b"x", 0, h5t.array_create(u12be, (2,)))
    inner.insert(b"y", 4, u12be)
    outer = h5t.array_create(inner, (2,))
    n = 60
    rng = np.random.default_rng(7)
    mem_cmp = np.dtype([("a", "<i4"), ("b", "<u2", (3,)), ("c", "S1")])
    data_cmp = np.zeros(n, mem_cmp)
    data_cmp["a"] = rng.integers(-60000, 60000, n)
    data_cmp["b"] = rng.integers(0, 4095, (n, 3))
    data_cmp["c"] = [bytes([65 + i % 26]) for i in range(n)]
    mem_inner = np.dtype([("x", "<u2", (2,)), ("y", "<u2")])
    data_outer = np.zeros((n, 2), mem_inner)
    data_outer["x"] = rng.integers(0, 4095, (n, 2, 2))
    data_outer["y"] = rng.integers(0, 4095, (n, 2))
    mem_outer = np.dtype((mem_inner, (2,)))
    for name, ftype, data, mtype in [
        ("nbit_i17", i17, rng.integers(-60000, 60000, n).astype("<i4"), None),
        ("nbit_compound", cmp, data_cmp, None),
        ("nbit_array_of_compound", outer, data_outer, h5t.py_create(mem_outer)),
    ]:
        dcpl = h5p.create(h5p.DATASET_CREATE)
        dcpl.set_chunk((n,))
        dcpl.set_filter(5, 0, ())
        dsid = h5d.create(f.id, name.encode(), ftype, h5s.create_simple((n,)), dcpl=dcpl)
        dsid.write(h5s.ALL, h5s.ALL, np.ascontiguousarray(data), mtype=mtype)


def corpus(root):
    files = sorted(
        os.path.relpath(os.path.join(d, n), root)
        for d, _, ns in os.walk(root)
        for n in ns
        if n.endswith((".h5", ".hdf5", ".he5", ".nc", ".h5ad")) and not d.startswith(os.path.join(root, "bad"))
    ) if FULL else [
        "PureHDF/bitshuffle.h5", "PureHDF/bzip2.h5", "PureHDF/lzf.h5", "PureHDF/scaleoffset.h5",
        "generated/filters_builtin.h5", "generated/filters_plugins.h5", "h5wasm/compressed.h5",
        "hdf5-1.14/h5ex_d_blosc.h5", "hdf5-1.14/h5ex_d_blosc2.h5", "hdf5-1.14/h5ex_d_bshuf.h5",
        "hdf5-1.14/h5ex_d_bzip2.h5", "hdf5-1.14/h5ex_d_lz4.h5", "hdf5-1.14/h5ex_d_lzf.h5",
        "hdf5-1.14/h5ex_d_zstd.h5", "hdf5-json/dset_gzip.h5", "hdf5-json/h5ex_d_checksum.h5",
        "hdf5-json/h5ex_d_nbit.h5", "hdf5-json/h5ex_d_sofloat.h5", "hdf5-json/h5ex_d_soint.h5",
        "hdf5/be_data.h5", "hdf5/le_data.h5", "hdf5/h5repack_filters.h5", "hdf5/h5repack_nbit.h5",
        "hdf5/h5repack_soffset.h5", "hdf5/h5repack_szip.h5", "hdf5/tfilters.h5", "hdf5/noencoder.h5",
        "hdf5/test_filters_be.h5", "hdf5/test_filters_le.h5", "hdf5/h5repack_fletcher.h5",
        "hdf5/h5repack_nested_8bit_enum_deflated.h5", "hdf5plugin/blosc.h5",
        "jhdf/fletcher32_datasets_earliest.hdf5", "jhdf/lz4_datasets.hdf5", "jhdf/bitshuffle_datasets.hdf5",
        "pyfive/fletcher32.hdf5",
    ]
    for rel in files:
        path = os.path.join(root, rel)
        if not os.path.exists(path):
            continue
        stem = rel.replace("/", "_").replace(".hdf5", "").replace(".h5", "").replace("-", "_").replace(".", "_")
        try:
            f = h5py.File(path, "r")
        except Exception as e:  # noqa: BLE001
            print("skip file", rel, e)
            continue
        seen = []

        names = []
        f.visit(names.append)
        for name in names:
            if len(seen) >= (10**9 if FULL else 6):
                break
            key = stem + "__" + name.replace("/", "_").replace(" ", "_").replace("-", "_")
            try:
                obj = f[name]
                if isinstance(obj, h5py.Dataset):
                    nch = obj.id.get_num_chunks() if (FULL and obj.chunks) else 1
                    for ci in range(min(nch, 64)):
                        if add(key + (f"__c{ci}" if ci else ""), obj, ci):
                            seen.append(key)
            except Exception as e:  # noqa: BLE001 - skip what libhdf5 refuses
                print("skip", key, e)
        f.close()


def main():
    os.makedirs(OUT, exist_ok=True)
    if not FULL:
        generated()
    if len(sys.argv) > 1:
        corpus(sys.argv[1])
    with open(os.path.join(OUT, "vectors.tsv"), "w") as f:
        f.write("# name\tpipeline (id:cd,...|...)\tfilter_mask\telement_size\n")
        for r in rows:
            f.write(r + "\n")


if __name__ == "__main__":
    main()
