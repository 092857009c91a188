"""Writing with h5oxide compared with writing with real h5py.

Each scenario runs twice, once with ``h5py`` and once with ``h5oxide`` as the module, on two
files; real h5py (libhdf5) then reads both and they must hold the same tree: names, link
kinds, attributes (values and dtypes), dataset shapes, dtypes, values, chunks, maxshape,
filters and fill values.
"""

import pickle
import threading

import h5py
import numpy as np
import pytest

import h5oxide


def _same_value(a, b, where):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
        assert a.shape == b.shape, f"{where}: shape {a.shape} != {b.shape}"
        if a.dtype.kind == "f" or a.dtype.kind == "c":
            assert np.array_equal(a, b, equal_nan=True), f"{where}: values differ"
        else:
            assert (a == b).all() if a.size else True, f"{where}: values differ"
    else:
        assert type(a) is type(b), f"{where}: type {type(a)} != {type(b)}"
        if isinstance(a, float) and a != a:
            assert b != b
        else:
            assert a == b, f"{where}: {a!r} != {b!r}"


def _norm_refs(v, f):
    """``v`` with object references replaced by the paths they point to (addresses differ
    between files)."""
    if isinstance(v, h5py.Reference):
        return ("ref", f[v].name if v else None)
    if isinstance(v, np.ndarray) and (v.dtype.kind == "O" or v.dtype.names):
        if v.dtype.names:
            return [tuple(_norm_refs(x, f) for x in row) for row in v.reshape(-1).tolist()]
        return [_norm_refs(x, f) for x in v.reshape(-1)]
    if isinstance(v, tuple):
        return tuple(_norm_refs(x, f) for x in v)
    if isinstance(v, np.ndarray):  # an element of a variable-length sequence
        return ("array", v.dtype.str, v.tolist())
    return v


def _has_refs(v):
    return isinstance(v, np.ndarray) and (
        v.dtype.kind == "O" and any(isinstance(x, (h5py.Reference, np.ndarray))
                                    for x in v.reshape(-1))
        or bool(v.dtype.names) and any(v.dtype[n].kind == "O" for n in v.dtype.names))


def assert_same_tree(pa, pb):
    """Real h5py reads both files; their trees must be the same."""
    with h5py.File(pa, "r") as fa, h5py.File(pb, "r") as fb:
        def same(a, b, where):
            if _has_refs(a) or isinstance(a, h5py.Reference):
                assert _norm_refs(a, fa) == _norm_refs(b, fb), f"{where}: references differ"
            else:
                _same_value(a, b, where)

        def walk(ga, gb, path):
            assert sorted(ga.keys()) == sorted(gb.keys()), f"{path}: members differ"
            assert sorted(ga.attrs.keys()) == sorted(gb.attrs.keys()), f"{path}: attrs differ"
            for k in ga.attrs:
                same(ga.attrs[k], gb.attrs[k], f"{path}@{k}")
                assert ga.attrs[k].__class__ is gb.attrs[k].__class__
            for k in ga:
                la = ga.get(k, getlink=True)
                lb = gb.get(k, getlink=True)
                assert type(la) is type(lb), f"{path}/{k}: link kinds differ"
                if isinstance(la, h5py.SoftLink):
                    assert la.path == lb.path
                    continue
                if isinstance(la, h5py.ExternalLink):
                    assert (la.filename, la.path) == (lb.filename, lb.path)
                    continue
                a, b = ga[k], gb[k]
                assert type(a) is type(b), f"{path}/{k}: kinds differ"
                if isinstance(a, h5py.Group):
                    walk(a, b, f"{path}/{k}")
                elif isinstance(a, h5py.Datatype):
                    where = f"{path}/{k}"
                    assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
                    assert h5py.check_enum_dtype(a.dtype) == h5py.check_enum_dtype(b.dtype)
                    assert sorted(a.attrs.keys()) == sorted(b.attrs.keys())
                    for n in a.attrs:
                        same(a.attrs[n], b.attrs[n], f"{where}@{n}")
                else:
                    where = f"{path}/{k}"
                    assert a.shape == b.shape, f"{where}: shape {a.shape} != {b.shape}"
                    assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
                    assert a.id.get_type().committed() == b.id.get_type().committed(), where
                    assert a.chunks == b.chunks, f"{where}: chunks {a.chunks} != {b.chunks}"
                    assert a.maxshape == b.maxshape, f"{where}: maxshape"
                    assert (a.compression, a.compression_opts, a.shuffle, a.fletcher32) == \
                        (b.compression, b.compression_opts, b.shuffle, b.fletcher32), where
                    _same_value(a.fillvalue, b.fillvalue, where + " fillvalue")
                    assert sorted(a.attrs.keys()) == sorted(b.attrs.keys())
                    for n in a.attrs:
                        same(a.attrs[n], b.attrs[n], f"{where}@{n}")
                    va, vb = a[()], b[()]
                    same(va, vb, where)
        walk(fa, fb, "")


def both(tmp_path, scenario, mode="w", setup=None):
    """Runs ``scenario(module, file)`` with h5py and with h5oxide; compares the results."""
    pa, pb = tmp_path / "h5py.h5", tmp_path / "h5oxide.h5"
    if setup is not None:
        for p in (pa, pb):
            with h5py.File(p, "w") as f:
                setup(f)
    for mod, p in ((h5py, pa), (h5oxide, pb)):
        with mod.File(p, mode) as f:
            scenario(mod, f)
    assert_same_tree(pa, pb)
    return pa, pb


def test_seed_notebook(tmp_path):
    arr = np.random.default_rng(1).standard_normal((1000, 1000))

    def seed(h5py, f):
        grp = f.create_group("experiment1")
        grp.attrs["date"] = "2018-01-01"
        dset = grp.create_dataset("array1", data=arr)
        assert dset.shape == (1000, 1000) and dset.dtype == np.float64
        assert (f["experiment1/array1"][0] == arr[0]).all()

    both(tmp_path, seed)


DTYPES = ["i1", "i2", "<i4", ">i4", "i8", "u1", "u2", "u4", "u8", "f2", "<f4", ">f8", "f8",
          "?", "c8", "c16", "S7"]


@pytest.mark.parametrize("dt", DTYPES)
def test_numeric_and_fixed_string_dtypes(tmp_path, dt):
    rng = np.random.default_rng(2)
    if dt == "S7":
        data = np.array([b"abc", b"", b"seven77", b"x"] * 5, dtype="S7").reshape(4, 5)
    elif dt == "?":
        data = rng.integers(0, 2, (4, 5)).astype(bool)
    elif dt.lstrip("<>")[0] in "cf":
        data = rng.standard_normal((4, 5)).astype(dt)
    else:
        data = rng.integers(0, 100, (4, 5)).astype(dt)

    def s(h5py, f):
        f.create_dataset("contig", data=data)
        f.create_dataset("chunked", data=data, chunks=(2, 2), compression="gzip")
        f.create_dataset("scalar", data=data.reshape(-1)[0])
        f.attrs["a"] = data
        f.attrs.create("scalar", data.reshape(-1)[1])

    both(tmp_path, s)


def test_strings_compound_enum(tmp_path):
    comp = np.dtype([("x", "<i4"), ("y", "<f8"), ("name", "S4")])
    rec = np.array([(1, 1.5, b"ab"), (2, -2.5, b"cdef")], dtype=comp)
    en = h5oxide.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 42}, basetype="i2")

    def s(h5py, f):
        f["vlen"] = np.array(["a", "üñí", "", "long string" * 10], dtype=h5py.string_dtype())
        f.create_dataset("vlen2", data=["x", "yy"], dtype=h5py.string_dtype())
        f.create_dataset("ascii", data=[b"x", b"yy"], dtype=h5py.string_dtype("ascii"))
        f.attrs["s"] = "hello"
        f.attrs["ss"] = ["a", "bc"]
        f.attrs["b"] = b"bytes"
        f.attrs["f"] = 1.5
        f.attrs["i"] = 7
        f.attrs["l"] = [1, 2, 3]
        f["comp"] = rec
        e = h5py.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 42}, basetype="i2")
        f.create_dataset("enum", data=np.array([0, 42, 1], dtype="i2"), dtype=e)
        f.create_dataset("arr", data=np.arange(12.).reshape(2, 3, 2).astype("f4"))

    both(tmp_path, s)
    assert en is not None


def test_dataset_options(tmp_path):
    data = np.arange(1000, dtype="f4").reshape(100, 10)

    def s(h5py, f):
        f.create_dataset("gz", data=data, compression="gzip", compression_opts=7, shuffle=True,
                         fletcher32=True, chunks=(10, 10))
        f.create_dataset("lzf", data=data, compression="lzf", chunks=(25, 5))
        f.create_dataset("auto", data=data, chunks=True)
        f.create_dataset("maxs", data=data, maxshape=(None, 10), chunks=(7, 3))
        f.create_dataset("empty", shape=(5, 6), dtype="i4")
        f.create_dataset("fill", shape=(5, 6), dtype="i4", fillvalue=-7)
        f.create_dataset("fillchunk", shape=(5, 6), dtype="f8", fillvalue=np.nan, chunks=(2, 2))
        f.create_dataset("default_dtype", shape=(3,))
        f.create_dataset("shape_data", (10, 100), data=np.arange(1000))
        f.create_dataset("compact", data=np.arange(4), )

    both(tmp_path, s)


def test_slice_assignment_and_resize(tmp_path):
    def setup(f):
        f.create_dataset("c", data=np.zeros((20, 30), "i4"))
        f.create_dataset("k", data=np.zeros((20, 30), "f8"), chunks=(6, 7),
                         maxshape=(None, None), compression="gzip")
        f.create_dataset("s", data=["a", "b", "c"], dtype=h5py.string_dtype())

    def s(h5py, f):
        for name in ("c", "k"):
            d = f[name]
            d[0] = 1
            d[1, 2:9] = np.arange(7)
            d[3:15:4, ::5] = -3
            d[..., 29] = 9
            d[-1, -1] = 42
            d[[2, 5, 7], 1] = [5, 6, 7]
            d[4:6] = np.arange(30)
            assert d[1, 2:9].tolist() == list(range(7))
        k = f["k"]
        k.resize((25, 33))
        k[20:, 30:] = 8
        k.resize(22, axis=0)
        k.resize((24, 31))
        f["s"][1] = "changed"

    both(tmp_path, s, mode="r+", setup=setup)


def test_groups_links_and_deletion(tmp_path):
    def setup(f):
        g = f.create_group("old")
        for i in range(30):
            g.create_group(f"m{i:02d}")
        f["old"].attrs["keep"] = 1
        f.create_dataset("d", data=[1, 2, 3])

    def s(h5py, f):
        f.create_group("a/b/c")
        f.require_group("a/b")
        f["a"].create_dataset("x/y", data=[1.0])
        f.require_dataset("d", shape=(3,), dtype="i8")
        f["soft"] = h5py.SoftLink("/a/b")
        f["ext"] = h5py.ExternalLink("other.h5", "/thing")
        f["hard"] = f["d"]
        del f["old/m05"]
        f["old"].move("m06", "renamed")
        f.move("old/m07", "a/moved")
        del f["old"].attrs["keep"]
        f["old"].attrs["new"] = "value"
        f["old"].attrs.modify("new", "other")
        assert "old/m05" not in f and "a/moved" in f
        with pytest.raises(KeyError):
            del f["nope"]

    both(tmp_path, s, mode="r+", setup=setup)


def test_modes(tmp_path):
    p = tmp_path / "m.h5"
    with h5oxide.File(p, "w-") as f:
        f["x"] = 1
    with pytest.raises(FileExistsError):
        h5oxide.File(p, "w-")
    with pytest.raises(FileExistsError):
        h5oxide.File(p, "x")
    with pytest.raises(FileNotFoundError):
        h5oxide.File(tmp_path / "missing.h5", "r+")
    with h5oxide.File(p, "a") as f:
        assert f.mode == "r+"
        f["y"] = 2
    with h5oxide.File(tmp_path / "new.h5", "a") as f:
        f["z"] = 3
    with h5py.File(p, "r") as f:
        assert f["x"][()] == 1 and f["y"][()] == 2
    with h5py.File(tmp_path / "new.h5", "r") as f:
        assert f["z"][()] == 3
    with h5oxide.File(p, "r") as f:
        with pytest.raises(ValueError):
            f.create_group("g")
        with pytest.raises(ValueError):
            f["x"][()] = 5
    with h5oxide.File(p, "w") as f:
        assert list(f) == []


def test_flush_makes_changes_visible(tmp_path):
    p = tmp_path / "flush.h5"
    f = h5oxide.File(p, "w")
    f["a"] = np.arange(10)
    f.attrs["t"] = "x"
    f.flush()
    with h5py.File(p, "r") as g:
        assert g["a"][()].tolist() == list(range(10)) and g.attrs["t"] == "x"
    f["a"][0] = 100
    f.close()
    with h5py.File(p, "r") as g:
        assert g["a"][0] == 100


def test_errors_like_h5py(tmp_path):
    p = tmp_path / "e.h5"
    with h5oxide.File(p, "w") as f:
        f.create_group("g")
        with pytest.raises(ValueError):
            f.create_group("g")
        f.create_dataset("c", data=np.arange(4))
        with pytest.raises(TypeError):
            f["c"].resize((5,))
        d = f.create_dataset("k", data=np.arange(4), maxshape=(6,))
        with pytest.raises(ValueError):
            d.resize((7,))
        with pytest.raises(TypeError):
            f.require_group("c")
        with pytest.raises(TypeError):
            f.require_dataset("c", shape=(5,), dtype="i8")


def test_hyperslab_reads_match_h5py(tmp_path):
    p = tmp_path / "r.h5"
    data = np.arange(24 * 30, dtype="f8").reshape(24, 30)
    with h5py.File(p, "w") as f:
        f.create_dataset("c", data=data)
        f.create_dataset("k", data=data, chunks=(5, 7), compression="gzip")
    with h5py.File(p, "r") as fa, h5oxide.File(p, "r") as fb:
        for name in ("c", "k"):
            for idx in [(3,), (slice(2, 9), 4), (Ellipsis, 5), (slice(None, None, 3),),
                        (-1, slice(-5, None)), (slice(5, 5),), (1, 2), ()]:
                a, b = fa[name][idx], fb[name][idx]
                _same_value(a, b, f"{name}{idx}")


def test_pickle_read_only_objects(tmp_path):
    p = tmp_path / "p.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("g/d", data=np.arange(10), chunks=(3,))
    with h5oxide.File(p, "r") as f:
        d = pickle.loads(pickle.dumps(f["g/d"]))
        assert d.name == "/g/d" and d[2:5].tolist() == [2, 3, 4]
        g = pickle.loads(pickle.dumps(f["g"]))
        assert list(g) == ["d"]
        assert list(f["g/d"].iter_chunks()) == [(slice(0, 3, 1),), (slice(3, 6, 1),),
                                                 (slice(6, 9, 1),), (slice(9, 10, 1),)]


def test_threads_read_one_file(tmp_path):
    p = tmp_path / "t.h5"
    with h5py.File(p, "w") as f:
        for i in range(4):
            f.create_dataset(f"d{i}", data=np.arange(100000) * i, chunks=(1000,),
                             compression="gzip")
    out = {}
    with h5oxide.File(p, "r") as f:
        def work(i):
            out[i] = f[f"d{i}"][()]
        ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    for i in range(4):
        assert (out[i] == np.arange(100000) * i).all()


def test_object_references(tmp_path):
    p = tmp_path / "refs.h5"
    with h5oxide.File(p, "w") as f:
        d = f.create_dataset("data", data=np.arange(5))
        g = f.create_group("grp")
        f.attrs["ref"] = d.ref
        f.create_dataset("refs", data=[d.ref, g.ref], dtype=h5oxide.ref_dtype)
        assert f[f.attrs["ref"]].name == "/data"
    with h5py.File(p, "r") as f:
        assert f[f.attrs["ref"]].name == "/data"
        r = f["refs"][()]
        assert [f[x].name for x in r] == ["/data", "/grp"]
        assert h5py.check_ref_dtype(f["refs"].dtype) is h5py.Reference


def test_dask_array_threads_and_processes(tmp_path):
    import dask
    import dask.array as da

    p = tmp_path / "dask.h5"
    data = np.arange(200 * 300, dtype="f8").reshape(200, 300)
    with h5py.File(p, "w") as f:
        f.create_dataset("k", data=data, chunks=(50, 60), compression="gzip")
    with h5oxide.File(p, "r") as f:
        ds = f["k"]
        x = da.from_array(ds, chunks=ds.chunks)
        assert x.sum().compute(scheduler="threads") == data.sum()
        assert (x[10:120:3, 5].compute(scheduler="threads") == data[10:120:3, 5]).all()
        # worker processes get the dataset by pickling (re-opened by file name and path)
        with dask.config.set(scheduler="processes", num_workers=2):
            assert (x.mean(axis=0).compute() == data.mean(axis=0)).all()


def test_dimension_scales(tmp_path):
    def s(h5py, f):
        d = f.create_dataset("data", data=np.zeros((3, 4)))
        x = f.create_dataset("x", data=np.arange(3.0))
        y = f.create_dataset("y", data=np.arange(4.0))
        x.make_scale("xname")
        y.make_scale()
        d.dims[0].attach_scale(x)
        d.dims[1].attach_scale(y)
        d.dims[0].label = "lab0"
        assert d.dims[0].label == "lab0" and d.dims[1].label == ""
        assert list(d.dims[0].keys()) == ["xname"] and len(d.dims[1]) == 1
        assert d.dims[0]["xname"] == x and d.dims[0][0] == x
        assert x.is_scale and not d.is_scale
        z = f.create_dataset("z", data=np.arange(3.0))
        z.make_scale("z")
        d.dims[0].attach_scale(z)
        d.dims[0].detach_scale(z)

    pa, pb = both(tmp_path, s)
    with h5py.File(pa, "r") as fa, h5oxide.File(pb, "r") as fb:
        for f in (fa, fb):
            d = f["data"]
            assert d.dims[0].label == "lab0"
            assert [k for k in d.dims[0].keys()] == ["xname"]
            assert d.dims[1][0].name == "/y"
            assert f["x"].is_scale and not f["z"].attrs.get("REFERENCE_LIST", [])


def test_dimension_scales_read_back_by_h5py(tmp_path):
    p = tmp_path / "ds.h5"
    with h5oxide.File(p, "w") as f:
        d = f.create_dataset("temp", data=np.zeros((2, 3)))
        t = f.create_dataset("time", data=[0.0, 1.0])
        t.make_scale("time")
        d.dims[0].attach_scale(t)
    with h5py.File(p, "r") as f:
        assert f["temp"].dims[0]["time"].name == "/time"
        assert h5py.h5ds.is_attached(f["temp"].id, f["time"].id, 0)


def test_copy_and_create_dataset_like(tmp_path):
    def setup(f):
        g = f.create_group("src")
        g.attrs["a"] = 1
        d = g.create_dataset("d", data=np.arange(20.0), chunks=(5,), compression="gzip",
                             maxshape=(None,))
        d.attrs["u"] = "m"
        g["s"] = h5py.SoftLink("/src/d")
        g.create_group("sub").create_dataset("x", data=[1, 2])

    def s(h5py, f):
        f.copy("src", "dst")
        f.copy(f["src/d"], f["src/sub"], name="dcopy")
        f.create_dataset_like("like", f["src/d"])

    both(tmp_path, s, mode="r+", setup=setup)


def test_file_like_and_core_driver(tmp_path):
    import io
    bio = io.BytesIO()
    with h5oxide.File(bio, "w") as f:
        f["x"] = np.arange(5)
        f.attrs["t"] = "mem"
    p = tmp_path / "from_bytes.h5"
    p.write_bytes(bio.getvalue())
    with h5py.File(p, "r") as f:
        assert f["x"][()].tolist() == [0, 1, 2, 3, 4] and f.attrs["t"] == "mem"
    with h5oxide.File(bio, "r+") as f:
        f["y"] = 1
    with h5py.File(io.BytesIO(bio.getvalue()), "r") as f:
        assert sorted(f) == ["x", "y"]
    core = tmp_path / "core.h5"
    with h5oxide.File(core, "w", driver="core") as f:
        f["z"] = [1.5]
    with h5py.File(core, "r") as f:
        assert f["z"][0] == 1.5
    nb = tmp_path / "nobacking.h5"
    with h5oxide.File(nb, "w", driver="core", backing_store=False) as f:
        f["z"] = [1.5]
        assert f["z"][0] == 1.5
    assert not nb.exists()


def test_compound_field_writes(tmp_path):
    comp = np.dtype([("x", "<i4"), ("y", "<f8")])

    def s(h5py, f):
        d = f.create_dataset("c", data=np.zeros(6, dtype=comp))
        d["x"] = np.arange(6)
        d[2:4, "y"] = [1.5, 2.5]

    both(tmp_path, s)


def test_libver_latest_file(tmp_path):
    p = tmp_path / "latest.h5"
    with h5oxide.File(p, "w", libver="latest") as f:
        for i in range(20):
            f.create_dataset(f"d{i:02d}", data=[i])
        for i in range(12):
            f.attrs[f"a{i:02d}"] = i
    with h5py.File(p, "r") as f:
        assert f.id.get_create_plist().get_version()[0] >= 2
        assert sorted(f) == [f"d{i:02d}" for i in range(20)]
        assert [f.attrs[f"a{i:02d}"] for i in range(12)] == list(range(12))


def test_array_types_and_compounds_with_array_members(tmp_path):
    comp = np.dtype([("id", "<i4"), ("pos", "<f8", (3,)), ("grid", "<i2", (2, 2))])
    rec = np.zeros(4, dtype=comp)
    rec["id"] = np.arange(4)
    rec["pos"] = np.arange(12.0).reshape(4, 3)
    rec["grid"] = np.arange(16).reshape(4, 2, 2)

    def s(h5py, f):
        f["rec"] = rec
        f.create_dataset("chunked", data=rec, chunks=(2,), compression="gzip")
        f.attrs["one"] = rec[1]

    both(tmp_path, s)


def test_track_order_groups(tmp_path):
    def s(h5py, f):
        g = f.create_group("ordered", track_order=True)
        for name in ["zeta", "alpha", "mid"] + [f"n{i}" for i in range(12, 0, -1)]:
            g.create_group(name)
        for name in ["z", "a", "m"] + [f"x{i}" for i in range(10, 0, -1)]:
            g.attrs[name] = 1
        del g["mid"]
        assert list(g)[:3] == ["zeta", "alpha", "n12"]

    pa, pb = both(tmp_path, s)
    with h5py.File(pa, "r") as fa, h5py.File(pb, "r") as fb:
        assert list(fa["ordered"]) == list(fb["ordered"])
        assert list(fa["ordered"].attrs) == list(fb["ordered"].attrs)


def test_track_order_file_datasets_and_attributes(tmp_path):
    """``File(track_order=True)`` tracks the root's links and attributes, and
    ``create_dataset(track_order=True)`` the dataset's attributes, compact and dense (more
    than 8: fractal heap with name and creation-order indexes), also when more are added
    after reopening."""
    def s(h5py, f):
        for n in ["zeta", "alpha", "mid"]:
            f.create_group(n)
        for i, n in enumerate(["c", "b", "a"]):
            f.attrs[n] = i
        d = f.create_dataset("d", data=[1, 2], track_order=True)
        for i in range(10):
            d.attrs[f"a{9 - i}"] = i
        small = f.create_dataset("small", data=[3], track_order=True)
        small.attrs["y"] = 1
        small.attrs["x"] = 2
        g = f.create_group("g", track_order=True)
        for i in range(12):
            g.attrs[f"b{11 - i:02d}"] = i
        plain = f.create_dataset("plain", data=[1])
        plain.attrs["b"] = 1
        plain.attrs["a"] = 2

    def more(h5py, f):
        f.attrs["0new"] = 5
        f.create_group("aa")
        f["d"].attrs["0x"] = 1
        f["small"].attrs["0y"] = 1
        f["g"].attrs["0z"] = 1
        del f["d"].attrs["a5"]

    pa, pb = tmp_path / "h5py.h5", tmp_path / "h5oxide.h5"
    for mod, p in ((h5py, pa), (h5oxide, pb)):
        with mod.File(p, "w", track_order=True) as f:
            s(mod, f)
        for mode in ("r+", "a"):
            with mod.File(p, mode) as f:
                if mode == "r+":
                    more(mod, f)
                else:
                    f["d"].attrs["late"] = 2
    assert_same_tree(pa, pb)

    def orders(f):
        return (list(f), list(f.attrs), list(f["d"].attrs), list(f["small"].attrs),
                list(f["g"].attrs), list(f["plain"].attrs))

    with h5py.File(pa, "r") as fa, h5py.File(pb, "r") as fb:
        want = orders(fa)
        assert want[0] == ["zeta", "alpha", "mid", "d", "small", "g", "plain", "aa"]
        assert want[2][:2] == ["a9", "a8"] and want[2][-2:] == ["0x", "late"]
        assert orders(fb) == want
    with h5oxide.File(pb, "r") as fo:
        assert orders(fo) == want
    out = __import__("subprocess").run(["h5dump", "-H", str(pb)], capture_output=True,
                                       text=True)
    assert out.returncode == 0, out.stderr
    assert 'ATTRIBUTE "late"' in out.stdout


def test_get_config_track_order(tmp_path):
    """h5py's library-wide default ``get_config().track_order`` is honoured."""
    cfg = h5oxide.get_config()
    assert cfg.track_order is False and h5py.get_config().track_order is False
    p = tmp_path / "cfg.h5"
    cfg.track_order = True
    try:
        with h5oxide.File(p, "w") as f:
            for n in "zyx":
                f.create_group(n)
            f.attrs["b"] = 1
            f.attrs["a"] = 2
            d = f.create_dataset("d", data=[1])
            d.attrs["q"] = 1
            d.attrs["p"] = 1
            f.create_dataset("e", data=[1], track_order=False)
    finally:
        cfg.track_order = False
    with h5py.File(p, "r") as f:
        assert list(f) == ["z", "y", "x", "d", "e"]
        assert list(f.attrs) == ["b", "a"]
        assert list(f["d"].attrs) == ["q", "p"]


def test_vlen_sequences_of_numbers(tmp_path):
    """Variable-length sequences of integers and floats (HDF5 class 9, type 0, in global heap
    collections): created empty and written element by element or by slices, created from an
    object array, chunked and resized, two-dimensional, and as attributes."""
    ragged = np.empty(3, dtype=object)
    ragged[0], ragged[1], ragged[2] = np.arange(3.0), np.array([1.5]), np.array([], "f8")

    def s(h5py, f):
        d = f.create_dataset("vi", (3,), dtype=h5py.vlen_dtype("i4"))
        d[0] = np.arange(3)
        d[1] = [7, 8]
        d[1:3] = [np.arange(2), np.arange(2) + 5]
        f.create_dataset("vf", data=ragged, dtype=h5py.vlen_dtype("f8"))
        c = f.create_dataset("vc", (4,), dtype=h5py.vlen_dtype(np.int64), chunks=(2,),
                             maxshape=(None,))
        c[1] = np.arange(5)
        c.resize((6,))
        c[5] = np.array([9])
        t = f.create_dataset("v2", (2, 2), dtype=h5py.vlen_dtype("f4"))
        t[1, 1] = np.array([1, 2], dtype="f4")
        f.attrs.create("v", ragged, dtype=h5py.vlen_dtype("f8"))
        u = np.empty(2, dtype=object)
        u[0], u[1] = np.array([1, 2], "u1"), np.array([3], "u1")
        f["vi"].attrs.create("u", u, dtype=h5py.vlen_dtype("u1"))
        with pytest.raises(TypeError, match="no native HDF5 equivalent"):
            f.create_dataset("bad", data=ragged)

    pa, pb = both(tmp_path, s)
    with h5py.File(pb, "r") as f:
        assert h5py.check_vlen_dtype(f["vi"].dtype) == np.dtype("i4")
        assert [x.tolist() for x in f["vi"][()]] == [[0, 1, 2], [0, 1], [5, 6]]
        assert [x.tolist() for x in f["vc"][()]] == [[], [0, 1, 2, 3, 4], [], [], [], [9]]
        assert f["v2"][1, 1].tolist() == [1.0, 2.0] and f["v2"][1, 1].dtype == np.float32
        assert [x.tolist() for x in f.attrs["v"]] == [[0.0, 1.0, 2.0], [1.5], []]
    with h5oxide.File(pb, "r") as f:
        assert h5oxide.check_vlen_dtype(f["vf"].dtype) == np.dtype("f8")
        assert [x.tolist() for x in f["vf"][()]] == [[0.0, 1.0, 2.0], [1.5], []]
        assert [x.tolist() for x in f["vi"].attrs["u"]] == [[1, 2], [3]]
    out = __import__("subprocess").run(["h5dump", "-d", "/vi", str(pb)], capture_output=True,
                                       text=True)
    assert out.returncode == 0, out.stderr
    assert "H5T_VLEN { H5T_STD_I32LE}" in out.stdout and "(0, 1, 2), (0, 1), (5, 6)" in out.stdout


def test_empty_null_dataspace(tmp_path):
    """``Empty(dtype)`` attributes and datasets (null dataspace; datasets contiguous of size 0,
    never allocated), also ``create_dataset(dtype=..., shape=None)``, read back as Empty."""
    def s(h5py, f):
        f.attrs["e"] = h5py.Empty("f4")
        f.attrs["es"] = h5py.Empty(h5py.string_dtype())
        d = f.create_dataset("ed", data=h5py.Empty("i4"))
        f.create_dataset("ed2", dtype="f8", shape=None)
        f.create_dataset("es", data=h5py.Empty("S5"))
        f["eg"] = h5py.Empty("u2")
        d.attrs["x"] = h5py.Empty("<i8")
        assert d.shape is None and d.size is None and d.chunks is None
        assert d[()] == h5py.Empty("i4")
        with pytest.raises(OSError, match="different number of elements"):
            d[()] = 1
        with pytest.raises(TypeError, match="chunk/filter options"):
            f.create_dataset("ez", data=h5py.Empty("i4"), compression="gzip")

    pa, pb = both(tmp_path, s)
    for mod, p in ((h5py, pa), (h5oxide, pb)):
        with mod.File(p, "a") as f:
            f["ed"].attrs["y"] = mod.Empty("f8")
    assert_same_tree(pa, pb)
    with h5py.File(pb, "r") as f:
        assert f.attrs["e"] == h5py.Empty("f4")
        assert f["ed2"][()] == h5py.Empty("f8")
        assert f["ed"].attrs["y"] == h5py.Empty("f8")
        assert f["ed"].id.get_create_plist().get_layout() == h5py.h5d.CONTIGUOUS
        assert f["ed"].id.get_storage_size() == 0
    with h5oxide.File(pb, "r") as f:
        assert f.attrs["es"] == h5oxide.Empty(h5oxide.string_dtype())
        assert f["es"][()] == h5oxide.Empty("S5")
    out = __import__("subprocess").run(["h5dump", str(pb)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("DATASPACE  NULL") == 8


def test_committed_datatypes(tmp_path):
    """``group[name] = numpy.dtype`` commits a named datatype (integer, compound, enum) with
    attributes; datasets created with ``dtype=group[name]`` refer to it (a shared Datatype
    message, the type's reference count counting them, h5dump naming the type)."""
    comp = np.dtype([("a", "<i4"), ("b", "<f8")])

    def s(h5py, f):
        f["T"] = np.dtype("<i4")
        t = f["T"]
        assert type(t).__name__ == "Datatype" and t.name == "/T" and t.dtype == np.int32
        t.attrs["unit"] = "m"
        f["C"] = comp
        f["E"] = h5py.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 42}, basetype="i2")
        c = f.create_dataset("c", (3,), dtype=f["T"])
        c[:] = [1, 2, 3]
        f.create_dataset("cc", data=np.ones(2, comp), dtype=f["C"])
        f.create_dataset("ce", data=np.array([42, 0], "i2"), dtype=f["E"])
        g = f.create_group("g")
        g["T2"] = np.dtype("f4")
        f.create_dataset("g/d", data=[1.5], dtype=g["T2"])
        f.attrs.create("ta", 5, dtype=f["T"])
        f.attrs.create("tc", np.ones(2, comp), dtype=f["C"])
        g.attrs.create("y", [1, 2], dtype=f["T"])
        t = f.create_dataset("tracked", data=[1], track_order=True)
        for i in range(10):  # dense attribute storage
            t.attrs.create(f"x{i}", i, dtype=f["T"])
        seen = []
        f.visititems(lambda n, o: seen.append((n, type(o).__name__)))
        assert seen == [("C", "Datatype"), ("E", "Datatype"), ("T", "Datatype"),
                        ("c", "Dataset"), ("cc", "Dataset"), ("ce", "Dataset"),
                        ("g", "Group"), ("g/T2", "Datatype"), ("g/d", "Dataset"),
                        ("tracked", "Dataset")]
        assert list(f.keys()) == ["C", "E", "T", "c", "cc", "ce", "g", "tracked"]

    pa, pb = both(tmp_path, s)
    for mod, p in ((h5py, pa), (h5oxide, pb)):
        with mod.File(p, "a") as f:
            f.create_dataset("c2", data=[7], dtype=f["T"])
            del f["tracked"].attrs["x0"]
            f["tracked"].attrs["z"] = 1
            f.attrs.create("ta", 6, dtype=f["T"])  # replaced
            f["g"].attrs.create("y2", 3, dtype=f["T"])
    assert_same_tree(pa, pb)
    with h5py.File(pa, "r") as fa, h5py.File(pb, "r") as fb:
        for f in (fa, fb):
            assert f["c2"][()].tolist() == [7] and f["c"].dtype == np.int32
            assert h5py.check_enum_dtype(f["ce"].dtype) == {"BLUE": 42, "GREEN": 1, "RED": 0}
        for n in ("T", "C", "E", "g/T2"):
            assert h5py.h5o.get_info(fa[n].id).rc == h5py.h5o.get_info(fb[n].id).rc
        assert h5py.h5o.get_info(fb["T"].id).rc == 15
        for f in (fa, fb):
            assert f.attrs.get_id("ta").get_type().committed() and f.attrs["ta"] == 6
            assert f["tracked"].attrs.get_id("x3").get_type().committed()
            assert list(f["tracked"].attrs) == [f"x{i}" for i in range(1, 10)] + ["z"]
    with h5oxide.File(pb, "r") as f:
        assert type(f["T"]).__name__ == "Datatype" and f["C"].dtype == comp
        assert f["T"].attrs["unit"] == "m"
    out = __import__("subprocess").run(["h5dump", str(pb)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert 'DATATYPE  "/T"' in out.stdout and 'DATATYPE  "/g/T2"' in out.stdout
    # datasets c, c2; attributes ta, x1..x9, y, y2
    assert out.stdout.count('DATATYPE  "/T"') == 2 + 1 + 9 + 2


def test_replaced_attribute_is_last_created(tmp_path):
    """Assigning an existing attribute re-creates it (last in creation order, as h5py does);
    ``modify`` writes it in place (its place kept), compact and dense."""
    def s(h5py, f):
        g = f.create_group("g", track_order=True)
        for n in "abc":
            g.attrs[n] = 1
        g.attrs["a"] = 2
        g.attrs.modify("b", 5)
        d = f.create_group("d", track_order=True)
        for i in range(10):
            d.attrs[f"x{i}"] = i
        d.attrs["x1"] = 5
        d.attrs.modify("x2", 7)
        d.attrs["x3"] = h5py.Empty("f4")

    pa, pb = both(tmp_path, s)
    with h5py.File(pa, "r") as fa, h5py.File(pb, "r") as fb:
        assert list(fb["g"].attrs) == ["b", "c", "a"]
        for n in ("g", "d"):
            assert list(fa[n].attrs) == list(fb[n].attrs)


@pytest.mark.parametrize("name", ["zstd", "lz4", "blosc_lz4", "blosc_zstd_bitshuffle",
                                  "blosc_zlib", "blosc_snappy", "bitshuffle_lz4",
                                  "bitshuffle_zstd", "bzip2"])
def test_plugin_filters_written_like_h5py(tmp_path, name):
    """``**hdf5plugin.X()`` filters: h5py (with hdf5plugin's libhdf5 plugins) reads our chunks,
    and the stored filter parameters equal the ones libhdf5 stores for the same call."""
    import hdf5plugin
    opts = {
        "zstd": hdf5plugin.Zstd(clevel=5),
        "lz4": hdf5plugin.LZ4(nbytes=1024),
        "blosc_lz4": hdf5plugin.Blosc(),
        "blosc_zstd_bitshuffle": hdf5plugin.Blosc(cname="zstd", clevel=7,
                                                  shuffle=hdf5plugin.Blosc.BITSHUFFLE),
        "blosc_zlib": hdf5plugin.Blosc(cname="zlib", shuffle=hdf5plugin.Blosc.NOSHUFFLE),
        "blosc_snappy": hdf5plugin.Blosc(cname="snappy"),
        "bitshuffle_lz4": hdf5plugin.Bitshuffle(),
        "bitshuffle_zstd": hdf5plugin.Bitshuffle(cname="zstd"),
        "bzip2": hdf5plugin.BZip2(),
    }[name]
    data = {
        "i4": np.arange(20000, dtype="i4").reshape(200, 100),
        "f8": np.linspace(0, 1, 30000).reshape(300, 100),
        "u1": (np.arange(5000) % 7).astype("u1"),
    }
    for lib, fn in ((h5py, tmp_path / "ref.h5"), (h5oxide, tmp_path / "ours.h5")):
        with lib.File(fn, "w") as f:
            for k, v in data.items():
                f.create_dataset(k, data=v, chunks=True, shuffle=(k == "f8"), **opts)
    with h5py.File(tmp_path / "ref.h5", "r") as a, h5py.File(tmp_path / "ours.h5", "r") as b:
        for k, v in data.items():
            np.testing.assert_array_equal(b[k][()], v)
            pa, pb = a[k].id.get_create_plist(), b[k].id.get_create_plist()
            fa = [pa.get_filter(i)[:3] for i in range(pa.get_nfilters())]
            fb = [pb.get_filter(i)[:3] for i in range(pb.get_nfilters())]
            assert fb == fa, k
            assert b[k].chunks == a[k].chunks
    with h5oxide.File(tmp_path / "ours.h5", "r") as f:
        for k, v in data.items():
            np.testing.assert_array_equal(f[k][()], v)


def test_unknown_plugin_filter_is_refused_like_h5py(tmp_path):
    for lib, fn in ((h5py, tmp_path / "a.h5"), (h5oxide, tmp_path / "b.h5")):
        with lib.File(fn, "w") as f:
            with pytest.raises(ValueError):
                f.create_dataset("x", data=np.arange(10), compression=31999)


def _compound_dtypes():
    S = h5py.string_dtype()
    return {
        "int_str": np.dtype([("a", "i4"), ("s", S)]),
        "str_between": np.dtype([("a", "i1"), ("s", S), ("b", "f8")]),
        "padded": np.dtype({"names": ["a", "s"], "formats": ["i4", S], "offsets": [0, 8],
                            "itemsize": 24}),
        "seq": np.dtype([("a", "i4"), ("v", h5py.vlen_dtype("f4"))]),
        "aligned": np.dtype([("a", "i1"), ("s", S)], align=True),
        "nested": np.dtype([("n", [("p", "i2"), ("q", S)]), ("z", "f4"),
                            ("b", h5py.string_dtype("ascii"))]),
        "reversed_offsets": np.dtype({"names": ["s", "a"], "formats": [S, "i4"],
                                      "offsets": [8, 0], "itemsize": 16}),
    }


def _compound_values(dt):
    a = np.zeros(3, dtype=dt)
    for i in range(3):
        for n in dt.names:
            f = dt.fields[n][0]
            if f.names:
                a[n][i] = (i, "in%d" % i)
            elif h5py.check_string_dtype(f):
                utf8 = h5py.check_string_dtype(f).encoding == "utf-8"
                a[n][i] = "" if i == 1 else ("wörld%d" % i if utf8 else b"ab%d" % i)
            elif h5py.check_vlen_dtype(f) is not None:
                a[n][i] = np.arange(i, dtype="f4")
            else:
                a[n][i] = i * 3 + 1
    return a


def test_compounds_with_variable_length_members_like_h5py(tmp_path):
    """Compounds holding variable-length strings and sequences (also nested, padded, aligned
    and with offsets out of name order): the file's compound layout is the one libhdf5 makes
    from h5py's memory type, so h5py sees the same datatype and values as in its own file."""
    dts = _compound_dtypes()
    for lib, fn in ((h5py, tmp_path / "ref.h5"), (h5oxide, tmp_path / "ours.h5")):
        with lib.File(fn, "w") as f:
            for k, dt in dts.items():
                f.create_dataset(k, data=_compound_values(dt))
                f.attrs[k] = _compound_values(dt)[:2]
            d = f.create_dataset("later", (4,), dtype=dts["str_between"])
            d[1:3] = _compound_values(dts["str_between"])[:2]
    assert_same_tree(tmp_path / "ref.h5", tmp_path / "ours.h5")
    with h5py.File(tmp_path / "ref.h5", "r") as a, h5py.File(tmp_path / "ours.h5", "r") as b:
        for k in list(dts) + ["later"]:
            assert b[k].dtype == a[k].dtype, k
            ta, tb = a[k].id.get_type(), b[k].id.get_type()
            assert tb.get_size() == ta.get_size(), k
            assert [tb.get_member_offset(i) for i in range(tb.get_nmembers())] == \
                [ta.get_member_offset(i) for i in range(ta.get_nmembers())], k
            assert str(b[k][()].tolist()) == str(a[k][()].tolist()), k
    with h5oxide.File(tmp_path / "ours.h5", "r") as f, h5py.File(tmp_path / "ref.h5", "r") as r:
        for k in list(dts) + ["later"]:
            assert str(f[k][()].tolist()) == str(r[k][()].tolist()), k


SO_SZIP_CASES = {
    "so_int_auto": dict(data=np.arange(1000, dtype="i4").reshape(100, 10) - 300, scaleoffset=True),
    "so_u2_big_endian": dict(data=np.arange(1000, dtype=">u2"), scaleoffset=4, chunks=(100,)),
    "so_i8_fill": dict(data=np.arange(1000, dtype="i8") * 3, scaleoffset=0, fillvalue=-5,
                       chunks=(64,)),
    "so_f4": dict(data=np.linspace(-1, 1, 1000, dtype="f4"), scaleoffset=3),
    "so_f8_fill_gzip": dict(data=np.linspace(0, 100, 1000), scaleoffset=2, fillvalue=-2.2,
                            shuffle=True, compression="gzip"),
    "szip_i4": dict(data=np.arange(1000, dtype="i4").reshape(100, 10), compression="szip"),
    "szip_f8_ec": dict(data=np.linspace(0, 1, 2000).reshape(40, 50), compression="szip",
                       compression_opts=("ec", 16)),
    "szip_short_rows": dict(data=np.arange(60, dtype="i2").reshape(20, 3), compression="szip",
                            compression_opts=("nn", 4)),
    "szip_f4_big_endian": dict(data=np.arange(500, dtype=">f4"), compression="szip",
                               chunks=(100,)),
}


@pytest.mark.parametrize("name", sorted(SO_SZIP_CASES))
def test_scaleoffset_and_szip_written_like_h5py(tmp_path, name):
    """h5py's ``scaleoffset=`` and ``compression="szip"``: the stored filter parameters equal
    the ones libhdf5's set_local stores, and libhdf5 decodes our chunks to what it decodes
    from its own (scale-offset: the same lossy values; szip: the data)."""
    kw = SO_SZIP_CASES[name]
    for lib, fn in ((h5py, tmp_path / "ref.h5"), (h5oxide, tmp_path / "ours.h5")):
        with lib.File(fn, "w") as f:
            f.create_dataset("d", **kw)
    with h5py.File(tmp_path / "ref.h5", "r") as a, h5py.File(tmp_path / "ours.h5", "r") as b:
        pa, pb = a["d"].id.get_create_plist(), b["d"].id.get_create_plist()
        assert [pb.get_filter(i)[:3] for i in range(pb.get_nfilters())] == \
            [pa.get_filter(i)[:3] for i in range(pa.get_nfilters())]
        assert b["d"].chunks == a["d"].chunks
        np.testing.assert_array_equal(b["d"][()], a["d"][()])
        assert b["d"].scaleoffset == a["d"].scaleoffset
        assert b["d"].compression_opts == a["d"].compression_opts
        ref = a["d"][()]
    with h5oxide.File(tmp_path / "ours.h5", "r") as f:
        np.testing.assert_array_equal(f["d"][()], ref)


def test_scaleoffset_arguments_checked_like_h5py(tmp_path):
    for lib, fn in ((h5py, tmp_path / "a.h5"), (h5oxide, tmp_path / "b.h5")):
        with lib.File(fn, "w") as f:
            with pytest.raises(ValueError):
                f.create_dataset("a", data=np.linspace(0, 1, 10), scaleoffset=True)
            with pytest.raises(TypeError):
                f.create_dataset("b", data=np.array([b"a"]), scaleoffset=2)
            with pytest.raises(ValueError):
                f.create_dataset("c", data=np.arange(3), scaleoffset=-1)
            with pytest.raises(ValueError):
                f.create_dataset("d", data=np.arange(3), scaleoffset=1, fletcher32=True)
            with pytest.raises(ValueError):
                f.create_dataset("e", data=np.arange(3), compression="szip",
                                 compression_opts=("nn", 3))


@pytest.mark.parametrize("libver,ub", [(None, 512), ("latest", 1024), (None, 4096)])
def test_userblock_like_h5py(tmp_path, libver, ub):
    """``userblock_size``: the superblock sits after the user block, which the user may fill;
    h5py, h5dump and h5oxide read the file, and changing it in place keeps the user block."""
    fn = tmp_path / "ub.h5"
    with h5oxide.File(fn, "w", userblock_size=ub, libver=libver) as f:
        f["x"] = np.arange(10)
        f.create_group("g").attrs["a"] = "text"
        assert f.userblock_size == ub
    with open(fn, "r+b") as fh:
        fh.write(b"my user block")
    with h5oxide.File(fn, "a", userblock_size=ub) as f:
        f["g/y"] = np.ones(3)
    with h5py.File(fn, "r") as f:
        assert f.userblock_size == ub
        np.testing.assert_array_equal(f["x"][()], np.arange(10))
        np.testing.assert_array_equal(f["g/y"][()], np.ones(3))
        assert f["g"].attrs["a"] == "text"
    with open(fn, "rb") as fh:
        assert fh.read(13) == b"my user block"
        fh.seek(ub)
        assert fh.read(8) == b"\x89HDF\r\n\x1a\n"
    with h5oxide.File(fn, "r") as f:
        assert f.userblock_size == ub
        np.testing.assert_array_equal(f["x"][()], np.arange(10))
    import subprocess
    out = subprocess.run(["h5dump", "-d", "/x", str(fn)], capture_output=True, text=True)
    assert out.returncode == 0 and "(0): 0, 1, 2, 3, 4, 5, 6, 7, 8, 9" in out.stdout


def test_userblock_arguments_checked_like_h5py(tmp_path):
    for lib, fn in ((h5py, tmp_path / "a.h5"), (h5oxide, tmp_path / "b.h5")):
        with pytest.raises(ValueError):
            lib.File(fn, "w", userblock_size=100)
        with lib.File(fn, "w", userblock_size=512):
            pass
        with pytest.raises(ValueError):
            lib.File(fn, "a", userblock_size=1024)
        with pytest.raises(ValueError):
            lib.File(fn, "r+", userblock_size=512)


def _low_level_facts(f):
    out = {}
    for k in ["c", "k", "e", "w"]:
        i = f[k].id
        p = i.get_create_plist()
        r = [k, i.get_offset(), i.get_storage_size(), p.get_layout(), p.get_nfilters(),
             [p.get_filter(j)[:3] for j in range(p.get_nfilters())]]
        if p.get_layout() == 2:
            r.append(p.get_chunk())
            infos = [i.get_chunk_info(j) for j in range(i.get_num_chunks())]
            r.append([(x.chunk_offset, x.filter_mask, x.byte_offset, x.size) for x in infos])
            seen = []
            i.chunk_iter(lambda s: seen.append(tuple(s)))
            r.append(seen == [tuple(x) for x in infos])
            r.append(tuple(i.get_chunk_info_by_coord(infos[0].chunk_offset)))
            r.append(i.read_direct_chunk(infos[0].chunk_offset))
        out[k] = r
    out["w"].append(f["w"][()].tolist())
    out["size"] = f.id.get_filesize()
    return out


def test_low_level_storage_api_like_h5py(tmp_path):
    """``Dataset.id``: offsets (absolute, past a user block), storage sizes, creation
    properties, chunk records, ``chunk_iter`` and direct chunk reads give what h5py gives, on
    h5py's file and on ours; ``write_direct_chunk`` stores chunks libhdf5 reads (also with a
    filter skipped by the mask)."""
    import zlib
    for lib in (h5py, h5oxide):
        with lib.File(tmp_path / f"{lib.__name__}.h5", "w", userblock_size=512) as f:
            f.create_dataset("c", data=np.arange(100, dtype="i4"))
            f.create_dataset("k", data=np.arange(1000, dtype="f4").reshape(40, 25),
                             chunks=(10, 10), compression="gzip", shuffle=True)
            f.create_dataset("e", (100,), chunks=(10,), dtype="i2")
            f["e"][15:25] = 1
            d = f.create_dataset("w", (4, 8), chunks=(2, 8), dtype="u1", compression="gzip")
            d.id.write_direct_chunk((2, 0), zlib.compress(bytes(range(16))), 0)
            d.id.write_direct_chunk((0, 0), bytes(range(100, 116)), 1)
    a, b = tmp_path / "h5py.h5", tmp_path / "h5oxide.h5"
    with h5py.File(a, "r") as fa, h5oxide.File(a, "r") as fd:
        assert _low_level_facts(fd) == _low_level_facts(fa)
    with h5py.File(b, "r") as fb, h5oxide.File(b, "r") as fc:
        facts = _low_level_facts(fb)
        assert _low_level_facts(fc) == facts
        assert facts["w"][-1] == [list(range(100, 108)), list(range(108, 116)),
                                  list(range(0, 8)), list(range(8, 16))]
    assert h5oxide.h5z.filter_avail(1) and h5oxide.h5s.UNLIMITED == h5py.h5s.UNLIMITED


def test_region_references_like_h5py(tmp_path):
    """``dset.regionref[...]`` (regular hyperslabs, integers, ``...``, index lists, boolean
    masks, MultiBlockSlice) stored in datasets and attributes: h5py dereferences ours exactly
    like its own, and h5oxide reads both the way h5py does (object, shape and values)."""
    keys = [np.s_[1:3, 2:5], np.s_[::2, 1], np.s_[...], np.s_[:, :], np.s_[4], np.s_[[0, 2], :],
            np.s_[1:3, [1, 5]], "mask", np.s_[::2, ::3], np.s_[-1, 2:9:3], "multiblock"]
    for lib in (h5py, h5oxide):
        with lib.File(tmp_path / f"{lib.__name__}.h5", "w") as f:
            d = f.create_dataset("d", data=np.arange(60).reshape(6, 10))
            refs = []
            for k in keys:
                if k == "mask":
                    refs.append(d.regionref[d[()] > 50])
                elif k == "multiblock":
                    mbs = lib.MultiBlockSlice(start=1, stride=3, count=2, block=2)
                    refs.append(d.regionref[mbs, 0:10:4])
                else:
                    refs.append(d.regionref[k])
            f.create_dataset("refs", data=refs, dtype=lib.regionref_dtype)
            f.attrs["one"] = d.regionref[2:4, 5]
            later = f.create_dataset("later", (3,), dtype=lib.regionref_dtype)
            later[1] = d.regionref[0, :]

    def facts(reader, fn):
        with reader.File(fn, "r") as f:
            out = []
            for r in f["refs"][()]:
                v = np.asarray(f["d"][r])
                out.append((f[r].name, v.shape, v.tolist()))
            v = np.asarray(f["d"][f.attrs["one"]])
            out.append((v.shape, v.tolist()))
            later = f["later"][()]
            out.append([bool(x) for x in later])
            out.append(np.asarray(f["d"][later[1]]).tolist())
            return out

    want = facts(h5py, tmp_path / "h5py.h5")
    assert facts(h5py, tmp_path / "h5oxide.h5") == want
    import subprocess
    dumps = [subprocess.run(["h5dump", "-d", "refs", str(tmp_path / f"{n}.h5")],
                            capture_output=True, text=True).stdout.split("\n", 1)[1]
             for n in ("h5py", "h5oxide")]
    assert dumps[1] == dumps[0]  # region types, blocks and points as libhdf5 prints them
    assert facts(h5oxide, tmp_path / "h5py.h5") == want
    assert facts(h5oxide, tmp_path / "h5oxide.h5") == want


def test_external_storage_like_h5py(tmp_path, monkeypatch):
    """``external=``: the data goes to the raw files (relative names against the working
    directory, as libhdf5 resolves them), byte for byte what h5py writes; h5py reads our
    datasets and their file lists, we read h5py's."""
    monkeypatch.chdir(tmp_path)
    out = {}
    for lib in (h5py, h5oxide):
        n = lib.__name__
        with lib.File(f"{n}.h5", "w") as f:
            f.create_dataset("x", data=np.arange(10, dtype="i4"),
                             external=[(f"{n}_a.bin", 0, 16), (f"{n}_b.bin", 8, 24)])
            e = f.create_dataset("y", (5,), "f8", external=f"{n}_y.bin")
            e[1:4] = [1.0, 2.0, 3.0]
            f.create_dataset("z", data=np.arange(6.0).reshape(2, 3),
                             external=[(f"{n}_z.bin", 100, 2**64 - 1)])
            with pytest.raises((ValueError, TypeError)):
                f.create_dataset("small", data=np.arange(10), external=[(f"{n}_s.bin", 0, 8)])
        out[n] = {k: (tmp_path / f"{n}_{k}.bin").read_bytes() for k in ("a", "b", "y", "z")}
    assert out["h5py"] == out["h5oxide"]
    for writer in ("h5py", "h5oxide"):
        for reader in (h5py, h5oxide):
            with reader.File(f"{writer}.h5", "r") as f:
                assert f["x"][()].tolist() == list(range(10))
                assert f["y"][1:4].tolist() == [1.0, 2.0, 3.0]
                assert f["z"][()].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
                assert f["x"].external == [(f"{writer}_a.bin", 0, 16), (f"{writer}_b.bin", 8, 24)]
                assert f["y"].external == [(f"{writer}_y.bin", 0, 2**64 - 1)]


def test_arrays_of_variable_length_types_like_h5py(tmp_path):
    """Datasets whose elements are arrays of variable-length sequences or strings (h5py's
    ``numpy.dtype((h5py.vlen_dtype('i4'), (3,)))``): each writer's file reads the same in h5py
    and in h5oxide."""

    def norm(x):
        if isinstance(x, np.ndarray) and x.dtype == object:
            return [norm(e) for e in x.tolist()]
        if isinstance(x, np.ndarray):
            return (x.dtype.str, x.tolist())
        if isinstance(x, list):
            return [norm(e) for e in x]
        return repr(x)

    seen = []
    for lib in (h5py, h5oxide):
        fn = tmp_path / f"{lib.__name__}.h5"
        with lib.File(fn, "w") as f:
            d = f.create_dataset("av", (2,), dtype=np.dtype((h5py.vlen_dtype("i4"), (3,))))
            x = np.empty((2, 3), dtype=object)
            for i in range(2):
                for j in range(3):
                    x[i, j] = np.arange(i + j, dtype="i4")
            d[...] = x
            e = f.create_dataset("as", (2,), dtype=np.dtype((h5py.string_dtype(), (2,))))
            e[0] = ["a", "bb"]
        for reader in (h5py, h5oxide):
            with reader.File(fn, "r") as f:
                seen.append((norm(f["av"][()]), norm(f["as"][()]), str(f["av"].dtype)))
    assert all(s == seen[0] for s in seen), seen
    assert seen[0][0][1][2] == ("<i4", [0, 1, 2])
