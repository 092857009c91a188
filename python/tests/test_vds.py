"""Virtual datasets: h5oxide against real h5py on the corpus VDS files (values, slices,
``is_virtual`` and ``virtual_sources()``)."""

import h5py
import numpy
import pytest

import h5oxide

from conftest import shared_dir

CORPUS = shared_dir() / "corpus"

VDS_FILES = [
    ("hdf5/vds/1_vds.h5", "vds_dset"),
    ("hdf5/vds/2_vds.h5", "vds_dset"),
    ("hdf5/vds/3_1_vds.h5", "vds_dset"),
    ("hdf5/vds/3_2_vds.h5", "vds_dset"),
    ("hdf5/vds/4_vds.h5", "vds_dset"),
    ("hdf5/vds/5_vds.h5", "vds_dset"),
    ("hdf5/vds/vds-eiger.h5", "VDS-Eiger"),
    ("hdf5/vds/vds-percival-unlim-maxmin.h5", "VDS-Percival-unlim-maxmin"),
    ("generated/vds_virtual.h5", "vds"),
    ("generated/vds_virtual.h5", "vds_same_file_strided"),
]


def _call(f):
    """The value of f(), or the exception type it raised."""
    try:
        return f()
    except Exception as e:  # noqa: BLE001 - compared by type
        return type(e)


def _space_facts(sp):
    return (
        sp.shape,
        _call(lambda: sp.get_simple_extent_dims(True)),
        sp.get_select_type(),
        _call(sp.get_select_npoints),
        _call(sp.is_regular_hyperslab),
        _call(sp.get_regular_hyperslab),
        _call(sp.get_select_bounds),
    )


@pytest.mark.parametrize("rel,name", VDS_FILES)
def test_vds_like_h5py(rel, name):
    path = CORPUS / rel
    with h5py.File(path, "r") as fa, h5oxide.File(path, "r") as fb:
        da, db = fa[name], fb[name]
        assert db.is_virtual and da.is_virtual
        assert db.shape == da.shape and db.maxshape == da.maxshape
        assert db.dtype == da.dtype
        numpy.testing.assert_array_equal(db[()], da[()])
        sels = [numpy.s_[1:], numpy.s_[..., 1:5], numpy.s_[::2], numpy.s_[-1]]
        if da.ndim == 3:
            sels += [numpy.s_[1:4, ::3, 2], numpy.s_[:, 1:3, ::2], numpy.s_[[0, 2], 1]]
        for sel in sels:
            numpy.testing.assert_array_equal(db[sel], da[sel], err_msg=f"{rel} {sel}")
        ma, mb = da.virtual_sources(), db.virtual_sources()
        assert len(mb) == len(ma)
        for a, b in zip(ma, mb):
            assert type(b).__name__ == "VDSmap" and b._fields == a._fields
            assert (b.file_name, b.dset_name) == (a.file_name, a.dset_name)
            assert _space_facts(b.vspace) == _space_facts(a.vspace), f"{rel} vspace"
            assert _space_facts(b.src_space) == _space_facts(a.src_space), f"{rel} src_space"


def test_not_virtual():
    path = CORPUS / "generated/vds_virtual.h5"
    with h5oxide.File(path, "r") as f:
        d = f["src_local"]
        assert not d.is_virtual
        with pytest.raises(RuntimeError):
            d.virtual_sources()


def _build_vds(lib, out, src):
    """The same virtual datasets, written by `lib` (h5py or h5oxide) into `out`."""
    with lib.File(out, "w") as f:
        f["local"] = numpy.arange(5, dtype="i4") * -1
        lay = lib.VirtualLayout(shape=(4, 10), dtype="i4")
        for i in range(4):
            lay[i] = lib.VirtualSource(src, "d%d" % i, shape=(10,))
        f.create_virtual_dataset("vds", lay, fillvalue=-7)
        lay2 = lib.VirtualLayout(shape=(3, 12), dtype="f8")
        vs = lib.VirtualSource(src, "m", shape=(4, 6))
        lay2[0:2, 0:6] = vs[0:2, :]
        lay2[2, ::2] = vs[3, :]
        lay2[..., 7:9] = vs[1:, 4:]
        f.create_virtual_dataset("g/vds2", lay2)
        lay3 = lib.VirtualLayout(shape=(6,), dtype="i4")
        lay3[1:6] = lib.VirtualSource(f["local"])
        f.create_virtual_dataset("same", lay3, fillvalue=3)
        lay4 = lib.VirtualLayout(shape=(8,), dtype="i4", maxshape=(None,))
        mbs = lib.MultiBlockSlice(start=1, stride=3, count=3, block=1)
        lay4[0:6:2] = lib.VirtualSource(src, "d1", shape=(10,))[mbs]
        f.create_virtual_dataset("mb", lay4)


def test_vds_written_like_h5py(tmp_path, monkeypatch):
    """Virtual datasets h5oxide writes read back through libhdf5 (h5py) exactly like the ones
    h5py writes: values, extent, fill value and every mapping's selections."""
    monkeypatch.chdir(tmp_path)
    with h5py.File("src.h5", "w") as f:
        for i in range(4):
            f["d%d" % i] = numpy.arange(10, dtype="i4") + 100 * i
        f["m"] = numpy.arange(24, dtype="f8").reshape(4, 6)
    _build_vds(h5py, "ref.h5", "src.h5")
    _build_vds(h5oxide, "ours.h5", "src.h5")
    with h5py.File("ref.h5", "r") as fa, h5py.File("ours.h5", "r") as fb:
        for name in ["vds", "g/vds2", "same", "mb"]:
            da, db = fa[name], fb[name]
            assert db.is_virtual
            assert (db.shape, db.maxshape, db.dtype) == (da.shape, da.maxshape, da.dtype)
            assert db.fillvalue == da.fillvalue
            numpy.testing.assert_array_equal(db[()], da[()], err_msg=name)
            ma, mb = da.virtual_sources(), db.virtual_sources()
            assert len(mb) == len(ma)
            for a, b in zip(ma, mb):
                assert (b.file_name, b.dset_name) == (a.file_name, a.dset_name)
                assert _space_facts(b.vspace) == _space_facts(a.vspace), name
                assert b.src_space.get_select_type() == a.src_space.get_select_type()
                if a.src_space.get_select_type() == 2:
                    assert _call(b.src_space.get_regular_hyperslab) == _call(
                        a.src_space.get_regular_hyperslab)
        assert fb["same"].virtual_sources()[0].file_name == "."
    # and h5oxide reads its own
    with h5oxide.File("ours.h5", "r") as f, h5py.File("ref.h5", "r") as r:
        for name in ["vds", "g/vds2", "same", "mb"]:
            numpy.testing.assert_array_equal(f[name][()], r[name][()], err_msg=name)


def test_vds_layout_errors_like_h5py(tmp_path):
    for lib in (h5py, h5oxide):
        lay = lib.VirtualLayout(shape=(4,), dtype="i4")
        vs = lib.VirtualSource("x.h5", "d", shape=(3,))
        with pytest.raises(ValueError):
            lay[0:4] = vs
        with pytest.raises(RuntimeError):
            vs[0:2][0:1]
        with pytest.raises(TypeError):
            lib.VirtualSource("x.h5", "d")
        assert vs[1:].shape == (2,) and vs.shape == (3,)


def test_unlimited_vds_written_like_h5py(tmp_path, monkeypatch):
    """``0:h5s.UNLIMITED`` mappings (plain and strided): the virtual dataset grows with its
    sources in h5py exactly as one h5py wrote, and h5oxide reads it the same."""
    res = {}
    for lib in (h5py, h5oxide):
        d = tmp_path / lib.__name__
        d.mkdir()
        monkeypatch.chdir(d)
        with h5py.File("src.h5", "w") as f:
            f.create_dataset("data", data=numpy.arange(50).reshape(5, 10), maxshape=(None, 10),
                             chunks=(1, 10))
            f.create_dataset("b", data=numpy.arange(7), maxshape=(None,), chunks=(4,))
        with lib.File("vds.h5", "w") as f:
            lay = lib.VirtualLayout(shape=(5, 10), maxshape=(None, 10), dtype="i4")
            vs = lib.VirtualSource("src.h5", "data", shape=(5, 10), maxshape=(None, 10))
            lay[0:lib.h5s.UNLIMITED, :] = vs[0:lib.h5s.UNLIMITED, :]
            f.create_virtual_dataset("vds", lay, fillvalue=-1)
            lay2 = lib.VirtualLayout(shape=(14,), maxshape=(None,), dtype="i8")
            vs2 = lib.VirtualSource("src.h5", "b", shape=(7,), maxshape=(None,))
            lay2[0:lib.h5s.UNLIMITED:2] = vs2[0:lib.h5s.UNLIMITED]
            f.create_virtual_dataset("strided", lay2, fillvalue=-2)
        out = []
        for phase in (0, 1):
            if phase == 1:
                with h5py.File("src.h5", "a") as f:
                    f["data"].resize((8, 10))
                    f["data"][5:] = 99
                    f["b"].resize((9,))
                    f["b"][7:] = 77
            for reader in (h5py, h5oxide):
                with reader.File("vds.h5", "r") as f:
                    for n in ("vds", "strided"):
                        out.append((reader.__name__, n, f[n].shape, f[n][()].tolist()))
            with h5py.File("vds.h5", "r") as f:
                for n in ("vds", "strided"):
                    out.append([(m.file_name, m.dset_name, m.vspace.get_regular_hyperslab(),
                                 m.src_space.get_regular_hyperslab())
                                for m in f[n].virtual_sources()])
        res[lib.__name__] = out
    assert res["h5oxide"] == res["h5py"]
    assert [o[2] for o in res["h5py"] if isinstance(o, tuple) and o[1] == "vds"] == \
        [(5, 10), (5, 10), (8, 10), (8, 10)]


def test_writing_through_a_virtual_dataset_like_h5py(tmp_path):
    """Writes to a virtual dataset go to its sources (same file and another file; rows of a
    2-D VDS mapping 1-D sources and rows of 2-D ones; strided and single-element writes), and
    a write touching an unmapped element is refused before anything is written, as libhdf5
    does."""
    out = []
    for lib in (h5py, h5oxide):
        n = lib.__name__
        src = tmp_path / f"src_{n}.h5"
        with lib.File(src, "w") as g:
            g["ext"] = numpy.zeros((4, 5), "i8")
        with lib.File(tmp_path / f"vds_{n}.h5", "w") as f:
            f["a"] = numpy.zeros(6, "i8")
            f["b"] = numpy.zeros(6, "i8")
            layout = lib.VirtualLayout((3, 6), "i8")
            layout[0] = lib.VirtualSource(f["a"])
            layout[1, 1:5] = lib.VirtualSource(f["b"])[2:6]
            layout[2, 0:5] = lib.VirtualSource(str(src), "ext", shape=(4, 5))[1]
            v = f.create_virtual_dataset("v", layout, fillvalue=-1)
            v[:, 1:3] = [[1, 2], [3, 4], [5, 6]]
            v[0, ::2] = 9
            v[2, 4] = 42
            v[1, 1:5] = 7
            with pytest.raises(OSError):
                v[1] = 8
            got = (v[()].tolist(), f["a"][()].tolist(), f["b"][()].tolist())
        with lib.File(src, "r") as g:
            out.append((got, g["ext"][()].tolist()))
    assert out[0] == out[1]
    assert out[1][0][0] == [[9, 1, 9, 0, 9, 0], [-1, 7, 7, 7, 7, -1], [0, 5, 6, 0, 42, -1]]
