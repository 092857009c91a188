"""Smaller parts of h5py's API, each run with ``h5py`` and with ``h5oxide`` and compared:
the MutableMapping methods of groups and attributes, ``attrs.get_id``, filter ids and names,
opaque and complex dtype helpers, ``build_virtual_dataset``, ``File.in_memory``; files
h5oxide writes are read back by real h5py."""

import h5py
import numpy as np
import pytest

import h5oxide

LIBS = [h5py, h5oxide]


def _run(lib, fn):
    out = []
    with lib.File(fn, "w") as f:
        f.attrs["s"] = "hello"
        f.attrs["n"] = np.arange(6).reshape(2, 3)
        i = f.attrs.get_id("n")
        a = np.zeros((2, 3), dtype="i8")
        i.read(a)
        out.append((i.name, i.shape, i.dtype, i.get_storage_size(), a.tolist(),
                    f.attrs.get_id("s").get_storage_size(), f.attrs.get_id("s").dtype))
        with pytest.raises(KeyError):
            f.attrs.get_id("missing")
        f.attrs.update({"u": 1, "w": 2})
        out.append((f.attrs.pop("u"), "u" in f.attrs, f.attrs.setdefault("w", 5),
                    f.attrs.setdefault("q", 7), sorted(f.attrs)))
        f.attrs.clear()
        out.append(len(f.attrs))
        g = f.create_group("g")
        g["a"] = 1
        g.update({"b": np.arange(3)})
        out.append((sorted(g), g.setdefault("c", 5)))
        del g["a"]
        k, v = g.popitem()
        out.append((sorted(g), k, v[()].tolist() if k == "b" else v[()]))
        g.clear()
        out.append(len(g))
        d = f.create_dataset("x", data=np.arange(1000.0), chunks=(100,), compression="gzip",
                             shuffle=True, fletcher32=True)
        e = f.create_dataset("y", data=np.arange(10))
        out.append((d.filter_ids, d.filter_names, e.filter_ids, e.filter_names))
        f["T"] = np.dtype("<i4")
        out.append((f["T"].id.dtype, f["T"].id.committed()))
        with f.build_virtual_dataset("v", (3,), "i8") as layout:
            layout[:] = lib.VirtualSource(f["y"])[:3]
        out.append((f["v"][()].tolist(), f.meta_block_size, lib.UNLIMITED,
                    d.ref.typesize, d.regionref[0:2].typesize))
    return out


def test_small_api_like_h5py(tmp_path):
    a = _run(h5py, tmp_path / "a.h5")
    b = _run(h5oxide, tmp_path / "b.h5")
    assert a == b
    with h5py.File(tmp_path / "b.h5", "r") as f:
        assert f["v"][()].tolist() == [0, 1, 2]
        assert sorted(f) == ["T", "g", "v", "x", "y"]
        assert len(f["g"]) == 0 and len(f.attrs) == 0


@pytest.mark.parametrize("lib", LIBS)
def test_opaque_dtypes_written_like_h5py(tmp_path, lib):
    t = np.array(["2020-01-01T00:00:00", "2021-06-01T12:30:00"], dtype="M8[ns]")
    fn = tmp_path / "o.h5"
    with lib.File(fn, "w") as f:
        f["t"] = t.astype(lib.opaque_dtype(t.dtype))
        f["u"] = np.array(["ab", "c"], dtype=lib.opaque_dtype("U2"))
        f.attrs["ta"] = t.astype(lib.opaque_dtype(t.dtype))
        f.create_dataset("c", (3,), dtype=lib.opaque_dtype("M8[s]"))
        with pytest.raises(TypeError):
            f["dt"] = t  # no HDF5 equivalent without the opaque tag
    for reader in LIBS:
        with reader.File(fn, "r") as f:
            assert f["t"].dtype == np.dtype("<M8[ns]")
            assert np.array_equal(f["t"][()], t)
            assert f["u"][()].tolist() == ["ab", "c"]
            assert np.array_equal(f.attrs["ta"], t)
            assert f["c"][()].tolist() == [np.datetime64(0, "s")] * 3
    with h5py.File(fn, "r") as f:
        assert f["t"].id.get_type().get_tag() == b"NUMPY:<M8[ns]"
        assert f["u"].id.get_type().get_tag() == b"NUMPY:<U2"


def test_dtype_helpers_like_h5py():
    for x in ["M8[ns]", "V4", "i4", "U3", [("a", "i4")], "(2,)i4", "O", "S"]:
        try:
            want = h5py.opaque_dtype(x)
        except TypeError as e:
            with pytest.raises(TypeError, match=str(e)[:20]):
                h5oxide.opaque_dtype(x)
            continue
        got = h5oxide.opaque_dtype(x)
        assert got == want and got.metadata == want.metadata
        assert h5oxide.check_opaque_dtype(got) and h5py.check_opaque_dtype(got)
    assert not h5oxide.check_opaque_dtype(np.dtype("V4"))
    for x in ["c8", "<c16", ">c16", "c32"]:
        assert h5oxide.complex_compat_dtype(x) == h5py.complex_compat_dtype(x)
    assert h5oxide.complex_compat_dtype("c8", names=("re", "im")) == \
        h5py.complex_compat_dtype("c8", names=("re", "im"))
    for d in [np.dtype("c8"), h5py.complex_compat_dtype("c8"),
              h5py.complex_compat_dtype(">c16"), np.dtype([("x", "<f4"), ("y", "<f4")]),
              np.dtype("f8"), np.dtype([("r", "<f4"), ("i", "<f8")]),
              np.dtype([("r", "<f4")])]:
        for names in (("r", "i"), None):
            assert h5oxide.check_complex_dtype(d, names=names) == \
                h5py.check_complex_dtype(d, names=names), (d, names)


@pytest.mark.parametrize("lib", LIBS)
def test_in_memory_files(tmp_path, lib):
    m = lib.File.in_memory()
    m["x"] = np.arange(3)
    m.attrs["a"] = 1
    assert m["x"][()].tolist() == [0, 1, 2]
    m.close()
    fn = tmp_path / "img.h5"
    with h5py.File(fn, "w") as f:
        f["x"] = np.arange(5.0)
    img = fn.read_bytes()
    m = lib.File.in_memory(img)
    assert m["x"][()].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    m["z"] = 1
    assert sorted(m) == ["x", "z"]
    m.close()
    assert fn.read_bytes() == img  # the image was copied, not written back


def test_asstr_like_h5py(tmp_path):
    """``asstr()`` reads (whole, slices, integers, Ellipsis, lists, other encodings, invalid
    UTF-8) give what h5py gives; h5oxide makes the ``str`` objects in the engine."""
    fn = tmp_path / "s.h5"
    with h5py.File(fn, "w") as f:
        f["s"] = np.array(["héllo", "b", "", "dd"] * 3, dtype=h5py.string_dtype()).reshape(3, 4)
        f["one"] = "x"
        f.create_dataset("bad", (2,), dtype=h5py.string_dtype())
        f["bad"][0] = b"\xff\xfe"
    got = []
    for lib in LIBS:
        with lib.File(fn, "r") as f:
            s = f["s"].asstr()
            r = [s[()].tolist(), s[1].tolist(), s[1, 2], s[:, 1:3].tolist(), s[..., 0].tolist(),
                 f["one"].asstr()[()], s[0:0].shape, f["s"].asstr("latin-1")[0, 0],
                 s[[0, 2]].tolist(), type(s[0, 0]).__name__, s[()].dtype]
            with pytest.raises(UnicodeDecodeError):
                f["bad"].asstr()[()]
            r.append(f["bad"].asstr(errors="replace")[()].tolist())
            got.append(r)
    assert got[0] == got[1]


def _keras_like(lib, f):
    names = ["dense", "dense_1"]
    f.attrs["layer_names"] = [n.encode("utf8") for n in names]  # h5py: vlen ASCII, read as str
    f.attrs["backend"] = b"tensorflow"
    f.attrs["model_config"] = '{"a": [1, 2]}'
    for n in names:
        g = f.create_group(n)
        wn = [f"{n}/kernel:0".encode(), f"{n}/bias:0".encode()]
        g.attrs["weight_names"] = wn
        for w, shape in zip(wn, [(4, 3), (3,)]):
            g.create_dataset(w.decode(), shape, dtype="float32")[...] = np.ones(shape, "float32")
    out = [repr(f.attrs["layer_names"]), repr(f.attrs["backend"]), f.attrs["model_config"]]
    for n in names:
        g = f[n]
        out.append([repr(x) for x in g.attrs["weight_names"]])
        out.append([np.asarray(g[w]).tolist() for w in g.attrs["weight_names"]])
    return out


def _table_like(lib, f):
    dt = np.dtype([("index", "<i8"), ("value", "<f8"), ("label", "S8")])
    d = f.create_dataset("table", (0,), dtype=dt, maxshape=(None,), chunks=(64,),
                         compression="gzip")
    for i in range(3):
        rows = np.array([(i * 10 + k, k * 0.5, b"r%d" % k) for k in range(5)], dtype=dt)
        n = d.shape[0]
        d.resize((n + 5,))
        d[n:] = rows
    return d[()].tolist(), d["label"][:3].tolist(), d[2:4]["value"].tolist(), d.dtype.descr


def _anndata_like(lib, f):
    g = f.create_group("X")
    g.attrs["encoding-type"] = "csr_matrix"
    g.attrs["shape"] = (3, 4)
    g["data"] = np.array([1.0, 2.0, 3.0], "f4")
    g["indptr"] = np.array([0, 1, 2, 3], "i8")
    obs = f.create_group("obs")
    obs.attrs["column-order"] = np.array(["a", "b"], dtype=object)
    obs.create_dataset("_index", data=np.array(["c1", "c2"], dtype=object),
                       dtype=h5py.string_dtype())
    obs["cats"] = [b"x", b"yy"]
    return ([(k, repr(v)) for k, v in sorted(g.attrs.items())],
            [type(x).__name__ for x in obs.attrs["column-order"]],
            obs["_index"].asstr()[()].tolist(), repr(obs["cats"][()]),
            repr(h5py.check_string_dtype(obs["cats"].dtype)))


def _netcdf_like(lib, f):
    x = f.create_dataset("x", data=np.arange(4.0))
    x.make_scale("x")
    t = f.create_dataset("t", data=np.arange(3.0))
    t.make_scale("t")
    v = f.create_dataset("v", data=np.zeros((3, 4), "f4"), fillvalue=np.float32(np.nan))
    v.dims[0].attach_scale(t)
    v.dims[1].attach_scale(x)
    v.attrs["units"] = "K"
    return ([d.label for d in v.dims], [list(d.keys()) for d in v.dims], str(v.fillvalue),
            x.is_scale, sorted(v.attrs.keys()), repr(x.attrs["CLASS"]))


def _tree(f):
    out = []

    def visit(name, obj):
        attrs = [(k, repr(v)) for k, v in sorted(obj.attrs.items()) if k != "DIMENSION_LIST"]
        if isinstance(obj, h5py.Dataset):
            out.append((name, obj.dtype.str, repr(obj[()]), attrs))
        else:
            out.append((name, attrs))
    f.visititems(visit)
    return out


@pytest.mark.parametrize("program", [_keras_like, _table_like, _anndata_like, _netcdf_like])
def test_program_shapes_like_h5py(tmp_path, program):
    """What Keras (legacy weights), table appenders, AnnData and netCDF-style writers do, run
    with h5py and with h5oxide: the same values read back, and h5py sees the same tree in our
    file as in its own."""
    got, trees = [], []
    for lib in LIBS:
        fn = tmp_path / f"{lib.__name__}.h5"
        with lib.File(fn, "w") as f:
            got.append(program(lib, f))
        with h5py.File(fn, "r") as f:
            trees.append(_tree(f))
    assert got[0] == got[1]
    assert trees[0] == trees[1]


def test_modify_keeps_a_committed_attribute_type(tmp_path):
    """``attrs.modify`` of an attribute whose type is a committed datatype keeps it committed
    (h5py writes the value through the existing attribute)."""
    for lib in LIBS:
        fn = tmp_path / f"{lib.__name__}.h5"
        with lib.File(fn, "w") as f:
            f["T"] = np.dtype("<i4")
            f.attrs.create("a", [1, 2, 3], dtype=f["T"])
            f.attrs.modify("a", [7, 8, 9])
        with h5py.File(fn, "r") as f:
            assert f.attrs["a"].tolist() == [7, 8, 9]
            assert f.attrs.get_id("a").get_type().committed()


def test_deleting_a_dataset_releases_its_committed_types(tmp_path):
    """Deleting the last link to a dataset lowers the reference count of the committed
    datatype its type and its attributes use, as libhdf5 does."""
    counts = []
    for lib in LIBS:
        fn = tmp_path / f"{lib.__name__}.h5"
        with lib.File(fn, "w") as f:
            f["T"] = np.dtype("<i4")
            d = f.create_dataset("d", (3,), dtype=f["T"])
            d.attrs.create("a", 1, dtype=f["T"])
            f.create_dataset("e", (2,), dtype=f["T"])
        with lib.File(fn, "a") as f:
            del f["d"]
        with h5py.File(fn, "r") as f:
            counts.append((h5py.h5o.get_info(f["T"].id).rc, sorted(f)))
    assert counts[0] == counts[1] == (2, ["T", "e"])
