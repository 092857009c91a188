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
