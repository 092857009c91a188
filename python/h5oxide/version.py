"""Version information, laid out like ``h5py.version``.

``version`` / ``version_tuple`` name the h5py release whose API this package follows (code
written for h5py often tests them, e.g. ``h5py.version.version_tuple >= (3, 0)``);
``h5oxide_version`` is this package's own version. ``hdf5_version`` names the HDF5 library
release whose file format h5oxide reads and writes (there is no HDF5 library inside).
"""

from collections import namedtuple

_Version = namedtuple("_Version", ["major", "minor", "bugfix", "pre", "post", "dev"])

h5oxide_version = "0.1.0"

version = "3.16.0"
version_tuple = _Version(3, 16, 0, None, None, None)

hdf5_version = "2.0.0"
hdf5_version_tuple = (2, 0, 0)
hdf5_built_version_tuple = hdf5_version_tuple

api_version = "1.8"
api_version_tuple = (1, 8)

info = (
    "Summary of the h5oxide configuration\n"
    "------------------------------------\n\n"
    f"h5oxide {h5oxide_version} (pure Rust HDF5, h5py {version} API)\n"
    f"HDF5 format {hdf5_version}\n"
)
