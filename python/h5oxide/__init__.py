"""h5oxide: an h5py-compatible API over a pure-Rust HDF5 implementation (no libhdf5).

``import h5oxide as h5py`` and existing reading code runs::

    import h5oxide as h5py
    with h5py.File("data.h5") as f:
        for name, obj in f.items():
            print(name, obj)
        a = f["group/dataset"][10:20]
        units = f["group/dataset"].attrs["units"]

Files open for writing (modes ``'r+'``, ``'w'``, ``'w-'``/``'x'``, ``'a'``) are changed in
place by the Rust engine (``h5oxide.RwFile``): groups, datasets (contiguous, compact, chunked
with gzip/lzf/shuffle/fletcher32), attributes, links, slice assignment and resizing. It
writes the "compatible" profile (what h5py writes by default); ``libver`` is accepted and
recorded only.
"""

import contextlib
import copy
import io
import operator
import os
import posixpath
import threading
from collections import namedtuple
from collections.abc import ItemsView, KeysView, Mapping, MutableMapping, ValuesView

import numpy

from . import _h5oxide

__all__ = [
    "File", "Group", "Dataset", "Datatype", "AttributeManager",
    "SoftLink", "ExternalLink", "HardLink", "Empty", "Reference", "RegionReference",
    "DimensionManager", "DimensionProxy",
    "string_dtype", "vlen_dtype", "enum_dtype", "check_string_dtype", "check_vlen_dtype",
    "check_enum_dtype", "check_ref_dtype", "check_dtype", "special_dtype", "ref_dtype",
    "regionref_dtype", "is_hdf5", "version", "get_config",
    "VirtualSource", "VirtualLayout", "MultiBlockSlice",
]

from . import version  # noqa: E402 - h5py.version's layout

__version__ = version.h5oxide_version

_MODES = ("r", "r+", "w", "w-", "x", "a")

# Plugin filters h5oxide can write (ids as hdf5plugin registers them): bzip2, Blosc, LZ4,
# Bitshuffle, Zstandard.
_PLUGIN_ENCODERS = (307, 32001, 32004, 32008, 32015)



class _Config:
    """Library-wide defaults, like h5py's ``get_config()``: ``track_order`` is the default of
    the ``track_order`` arguments of ``File``, ``create_group`` and ``create_dataset``."""

    def __init__(self):
        self.track_order = False

    def __repr__(self):
        return f"<h5oxide config track_order={self.track_order}>"


_CONFIG = _Config()


def get_config():
    """The library-wide configuration object (``get_config().track_order = True`` makes
    every new file, group and dataset track creation order, as in h5py)."""
    return _CONFIG


def _track(track_order):
    return bool(_CONFIG.track_order if track_order is None else track_order)


# ---------------------------------------------------------------------------------------------
# small value types
# ---------------------------------------------------------------------------------------------

class _ResizeError(ValueError, RuntimeError):
    """A resize past the maximum shape (h5py: ValueError over HDF5 1.x, RuntimeError over
    HDF5 2.0)."""


class Empty:
    """An empty (null dataspace) dataset or attribute value: a dtype and no data."""

    shape = None
    size = None

    def __init__(self, dtype):
        self.dtype = numpy.dtype(dtype)

    def __eq__(self, other):
        return isinstance(other, Empty) and self.dtype == other.dtype

    def __hash__(self):
        return hash(("Empty", self.dtype.str))

    def __repr__(self):
        return f"Empty(dtype={self.dtype!r})"


class Reference:
    """An object reference, as stored in a dataset or attribute of reference type.

    Use it as a key of any group of the same file (``f[ref]``) to get the object.
    """

    def __init__(self, token=None, addr=None):
        self._token = token
        self._addr = addr

    typecode = 0
    typesize = 8  # bytes of a stored object reference

    def __bool__(self):
        return self._addr is not None

    def __eq__(self, other):
        return (isinstance(other, Reference) and type(other) is type(self)
                and self._addr == other._addr and _ident(self._token) == _ident(other._token))

    def __hash__(self):
        return hash((type(self).__name__, self._addr, _ident(self._token)))

    def __repr__(self):
        return f"<HDF5 object reference{'' if self else ' (null)'}>"


class RegionReference(Reference):
    """A dataset region reference: the dataset it points to (``f[ref]``) and a selection in it
    (``dset[ref]`` reads the selected elements). Made by ``dset.regionref[...]``."""

    typecode = 1
    typesize = 12  # bytes of a stored region reference

    def __init__(self, token=None, addr=None, sel=None):
        super().__init__(token, addr)
        # the selection in the writer's form: ("all",), ("regular", start, stride, count,
        # block), ("points", rank, points), ("blocks", rank, blocks) or ("none",)
        self._sel = sel

    def __repr__(self):
        return f"<HDF5 region reference{'' if self else ' (null)'}>"


def _ident(token):
    return None if token is None else token.ident()


class SoftLink:
    """A soft link: a path, resolved when followed."""

    def __init__(self, path):
        self._path = str(path)

    @property
    def path(self):
        """The path the link points to."""
        return self._path

    def __repr__(self):
        return f'<SoftLink to "{self.path}">'


class ExternalLink:
    """A link to an object in another file."""

    def __init__(self, filename, path):
        self._filename = os.fspath(filename)
        self._path = path

    @property
    def path(self):
        """The path in the other file."""
        return self._path

    @property
    def filename(self):
        """The other file's name, as stored."""
        return self._filename

    def __repr__(self):
        return f'<ExternalLink to "{self.path}" in file "{self.filename}"'


class HardLink:
    """A hard link (the object itself)."""


# ---------------------------------------------------------------------------------------------
# dtype helpers (same behaviour as h5py's: metadata on numpy dtypes)
# ---------------------------------------------------------------------------------------------

ref_dtype = numpy.dtype("O", metadata={"ref": Reference})
regionref_dtype = numpy.dtype("O", metadata={"ref": RegionReference})


class _StringInfo:
    def __init__(self, encoding, length):
        self.encoding = encoding
        self.length = length

    def __repr__(self):
        return f"string_info(encoding={self.encoding!r}, length={self.length!r})"

    def __eq__(self, other):
        return (self.encoding, self.length) == (other.encoding, other.length)


def string_dtype(encoding="utf-8", length=None):
    """The dtype of an HDF5 string: fixed ``|S<length>`` or variable-length (object)."""
    enc = {"utf-8": "utf-8", "utf8": "utf-8", "ascii": "ascii"}.get(encoding.lower())
    if enc is None:
        raise ValueError(f"Invalid encoding ({encoding!r}); 'utf-8' or 'ascii' allowed")
    if length is None:
        return numpy.dtype("O", metadata={"vlen": str if enc == "utf-8" else bytes})
    if isinstance(length, int):
        return numpy.dtype("|S" + str(length), metadata={"h5py_encoding": enc})
    raise TypeError(f"length must be integer or None (got {length!r})")


def vlen_dtype(basetype):
    """The dtype of a variable-length sequence of ``basetype``."""
    return numpy.dtype("O", metadata={"vlen": basetype})


def enum_dtype(values_dict, basetype=numpy.uint8):
    """An integer dtype carrying an enumeration's ``{name: value}`` mapping."""
    dt = numpy.dtype(basetype)
    if dt.kind not in "iu":
        raise TypeError("Only integer types can be used as enums")
    return numpy.dtype(dt, metadata={"enum": dict(values_dict)})


def check_string_dtype(dt):
    """Encoding and length of a string dtype, or ``None`` if it is not one."""
    vlen = check_vlen_dtype(dt)
    if vlen is str:
        return _StringInfo("utf-8", None)
    if vlen is bytes:
        return _StringInfo("ascii", None)
    if dt.kind == "S":
        enc = (dt.metadata or {}).get("h5py_encoding", "ascii")
        return _StringInfo(enc, dt.itemsize)
    return None


def check_vlen_dtype(dt):
    """The base type of a variable-length dtype, or ``None``."""
    try:
        return (dt.metadata or {}).get("vlen", None)
    except AttributeError:
        return None


def check_enum_dtype(dt):
    """The ``{name: value}`` mapping of an enum dtype, or ``None``."""
    try:
        return (dt.metadata or {}).get("enum", None)
    except AttributeError:
        return None


def check_ref_dtype(dt):
    """The reference class of a reference dtype, or ``None``."""
    try:
        return (dt.metadata or {}).get("ref", None)
    except AttributeError:
        return None


def opaque_dtype(np_dtype):
    """A dtype tagged to be stored as HDF5 opaque data (tag ``NUMPY:<dtype.str>``), for NumPy
    types HDF5 has no equivalent of, e.g. datetimes (h5py's ``opaque_dtype``)."""
    dt = numpy.dtype(np_dtype)
    if dt.hasobject:
        raise TypeError("Cannot store numpy object arrays as opaque data")
    if dt.names is not None:
        raise TypeError("Cannot store numpy structured arrays as opaque data")
    if dt.subdtype is not None:
        raise TypeError("Cannot store numpy sub-array dtype as opaque data")
    if dt.itemsize == 0:
        raise TypeError("dtype for opaque data must have explicit size")
    return numpy.dtype(dt, metadata={"h5py_opaque": True})


def check_opaque_dtype(dt):
    """True if ``dt`` is tagged to be stored as HDF5 opaque data."""
    return bool((getattr(dt, "metadata", None) or {}).get("h5py_opaque", False))


def complex_compat_dtype(complex_dtype, names=("r", "i")):
    """The compound of two floats h5py stores complex numbers as, e.g. ``'<c8'`` →
    ``[('r', '<f4'), ('i', '<f4')]``."""
    dt = numpy.dtype(complex_dtype)
    if dt.kind != "c":
        raise TypeError(f"{dt} is not a complex dtype")
    part = dt.newbyteorder("=") if dt.byteorder == "|" else dt
    f = numpy.dtype(f"{part.byteorder if part.byteorder != '=' else ''}f{dt.itemsize // 2}")
    if dt.byteorder in ("<", ">"):
        f = f.newbyteorder(dt.byteorder)
    return numpy.dtype([(names[0], f), (names[1], f)])


def check_complex_dtype(dt, names=("r", "i")):
    """The NumPy complex dtype ``dt`` represents (a complex dtype, or a compound of two equal
    floats named ``names``, any names with ``names=None``), else None."""
    dt = numpy.dtype(dt)
    if dt.kind == "c":
        return dt
    if dt.names is None or len(dt.names) != 2:
        return None
    if names is not None and tuple(dt.names) != tuple(names):
        return None
    (a, oa), (b, ob) = (dt.fields[n][:2] for n in dt.names)
    if a.kind != "f" or a != b or oa != 0 or ob != a.itemsize or dt.itemsize != 2 * a.itemsize:
        return None
    try:
        c = numpy.dtype(f"c{2 * a.itemsize}")
    except TypeError:
        return None
    return c.newbyteorder(a.byteorder) if a.byteorder in "<>" else c


def check_dtype(**kwds):
    """Legacy: ``check_dtype(vlen=dt)``, ``check_dtype(enum=dt)`` or ``check_dtype(ref=dt)``."""
    if len(kwds) != 1:
        raise TypeError("Exactly one keyword may be provided")
    (name, dt), = kwds.items()
    if name not in ("vlen", "enum", "ref"):
        raise TypeError('Unknown special type "%s"' % name)
    try:
        return dt.metadata[name]
    except (TypeError, KeyError, AttributeError):
        return None


def special_dtype(**kwds):
    """Legacy: ``special_dtype(vlen=...)``, ``special_dtype(enum=(base, values))``,
    ``special_dtype(ref=Reference)``."""
    if len(kwds) != 1:
        raise TypeError("Exactly one keyword may be provided")
    (name, val), = kwds.items()
    if name == "vlen":
        return vlen_dtype(val)
    if name == "enum":
        base, values = val
        return enum_dtype(values, base)
    if name == "ref":
        if val not in (Reference, RegionReference):
            raise ValueError("Ref class must be Reference or RegionReference")
        return ref_dtype if val is Reference else regionref_dtype
    raise TypeError(f'Unknown special type "{name}"')


# ---------------------------------------------------------------------------------------------
# objects
# ---------------------------------------------------------------------------------------------

class _FileState:
    """What every object of one open file shares: the File, and whether it is still open."""

    def __init__(self):
        self.open = True
        self.file = None
        self._paths = None
        self.writer = None     # _h5oxide.Writer when open for writing
        self.gen = 0           # bumped whenever a changed file is re-read
        self.dirty = False     # changes not yet visible to the reader view
        self.root_node = None

    changes = 0

    def changed(self):
        """Records a change: the next read flushes and re-reads."""
        self.dirty = True
        self.changes += 1
        self._paths = None

    def fresh(self):
        """Makes the reader view current (flushing changes); returns its generation."""
        if self.dirty:
            self.root_node = self.writer.root()
            self.gen += 1
            self.dirty = False
        return self.gen

    def w(self):
        """The writer, or ValueError when the file is read-only."""
        if not self.open:
            raise ValueError("Not a location (invalid object ID)")
        if self.writer is None:
            raise ValueError("Unable to synchronously write (no write intent on file)")
        return self.writer

    def path_of(self, addr):
        """The first path (in h5py's visit order) of the object at ``addr``, or None."""
        if self._paths is None:
            root = self.file._n()
            paths = {root.addr: "/"}
            for path, node in root.walk():
                paths.setdefault(node.addr, "/" + path)
            self._paths = paths
        return self._paths.get(addr)


def _read_only(*_args, **_kwds):
    raise ValueError("Unable to synchronously write (no write intent on file)")


class HLObject:
    """Base of Group, Dataset and Datatype."""

    _name = None

    def __init__(self, node, state, addr=None, name=None):
        self._node = node
        self._state = state
        self._gen = state.gen
        self._addr = node.addr if node is not None else addr
        if name is not None:
            self._name = name
        elif node is not None and state.writer is not None:
            self._name = node.name or None

    def _n(self):
        st = self._state
        if not st.open:
            raise ValueError("Not a location (invalid object ID)")
        if st.writer is not None:
            g = st.fresh()
            if g != self._gen or self._node is None:
                name = self._name if self._name is not None else ""
                self._node = _h5oxide.node_at(st.root_node.token, self._addr, name)
                self._gen = g
        return self._node

    def _w(self):
        return self._state.w()

    def _abs(self, name):
        """The absolute path of ``name`` relative to this object."""
        name = _path(name)
        base = self.name or "/"
        if "/" not in name and name not in (".", ".."):
            return (base if base.endswith("/") else base + "/") + name
        p = posixpath.normpath(posixpath.join(base, name))
        return "/" + p.lstrip("/")

    @property
    def name(self):
        """The path of the object (for an object reached through a reference, the first path
        that leads to it)."""
        if self._name is not None and self._state.writer is not None:
            if not self._state.open:
                raise ValueError("Not a location (invalid object ID)")
            name = self._name
        else:
            n = self._n()
            name = self._name if self._name is not None else n.name
        if name:
            if "/." in name or "//" in name:
                parts = [c for c in name.split("/") if c not in ("", ".")]
                name = "/" + "/".join(parts)
            return name
        return self._state.path_of(self._addr)

    @property
    def file(self):
        """The File the object belongs to."""
        self._n()
        return self._state.file

    @property
    def parent(self):
        """The group containing the object."""
        return self.file[posixpath.dirname(self.name)]

    @property
    def attrs(self):
        """The object's attributes (an AttributeManager)."""
        return AttributeManager(self)

    @property
    def ref(self):
        """An object reference to this object."""
        n = self._n()
        return Reference(n.token, n.addr)

    def __bool__(self):
        return self._state.open

    def __eq__(self, other):
        if not isinstance(other, HLObject):
            return NotImplemented
        if not (self._state.open and other._state.open):
            return False
        if self._state is other._state:
            return self._addr == other._addr
        return (self._addr == other._addr
                and self._n().token.ident() == other._n().token.ident())

    def __ne__(self, other):
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    def __hash__(self):
        return hash((self._addr, id(self._state) if self._state.writer else
                     self._node.token.ident()))

    def __reduce__(self):
        # Re-opened by file name and path in the unpickling process (read-only), so Dask
        # workers can use datasets and groups.
        if self._state.writer is not None:
            raise TypeError("h5oxide: objects of a file open for writing cannot be pickled")
        return (_reopen, (self.file.filename, self.name))


def _wrap(node, state):
    kind = node.kind
    if kind == "group":
        return Group(node, state)
    if kind == "dataset":
        return Dataset(node, state)
    return Datatype(node, state)


def _path(name):
    if isinstance(name, bytes):
        name = name.decode("utf-8")
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str):
        raise TypeError(f"Accessing a group is done with bytes or str, not {type(name)}")
    return name


class AttributeManager(MutableMapping):
    """Dictionary-style access to an object's attributes (``obj.attrs``)."""

    def __init__(self, parent):
        self._parent = parent

    def _node(self):
        return self._parent._n()

    def __getitem__(self, name):
        v = self._node().attr_value(_path(name))
        if type(v) is tuple:
            return Empty(v[1])
        return v

    def __iter__(self):
        return iter(self._node().attr_names())

    def __len__(self):
        return len(self._node().attr_names())

    def __contains__(self, name):
        try:
            return _path(name) in self._node().attr_names()
        except TypeError:
            return False

    def keys(self):
        """Attribute names."""
        return KeysViewHDF5(self)

    def values(self):
        """Attribute values."""
        return ValuesViewHDF5(self)

    def items(self):
        """``(name, value)`` pairs."""
        return ItemsViewHDF5(self)

    def get_id(self, name):
        """The low-level attribute identifier (:class:`AttrID`: name, shape, dtype, storage
        size, read and write)."""
        name = _path(name)
        if name not in self:
            raise KeyError(f"Can't open attribute (can't locate attribute: '{name}')")
        return AttrID(self, name)

    def get_shape_dtype(self, name):
        """``(shape, dtype)`` of an attribute without reading it (h5oxide extension)."""
        shape, dt = self._node().attr_info(_path(name))
        return (None if shape is None else tuple(shape)), dt

    def __setitem__(self, name, value):
        self.create(name, value)

    def create(self, name, data, shape=None, dtype=None):
        """Creates (or replaces) attribute ``name`` from ``data`` (converted like h5py). With a
        committed datatype of the same file as ``dtype``, the attribute's type refers to it.
        A replaced attribute becomes the last created, as in h5py."""
        self._create(name, data, shape, dtype, True)

    def _create(self, name, data, shape, dtype, renew):
        w = self._parent._w()
        committed = None
        if isinstance(dtype, Datatype):
            if dtype._state is self._parent._state:
                committed = dtype._addr
            dtype = dtype.dtype
        if isinstance(data, Empty):
            w.set_attr_null(self._parent._addr, _path(name),
                            data.dtype if dtype is None else numpy.dtype(dtype), renew)
            self._parent._state.changed()
            return
        arr, dt = _as_array(data, dtype)
        if shape is not None:
            arr = arr.reshape(shape)
        if committed is not None:
            w.set_attr_committed(self._parent._addr, _path(name), arr, dt, committed, renew)
        else:
            w.set_attr(self._parent._addr, _path(name), arr, dt, renew)
        self._parent._state.changed()

    def modify(self, name, value):
        """Changes the value of ``name`` keeping its type and shape when it exists."""
        name = _path(name)
        if name in self:
            shape, dt = self.get_shape_dtype(name)
            if shape is not None:
                arr = numpy.asarray(value, dtype=dt)
                if arr.shape == shape:
                    # written in place: keeps its creation order (and its committed type)
                    committed = self._node().attr_committed(name)
                    if committed is not None:
                        w = self._parent._w()
                        w.set_attr_committed(self._parent._addr, name, arr, dt, committed, False)
                        self._parent._state.changed()
                        return
                    self._create(name, arr, None, dt, False)
                    return
        self.create(name, value)

    def __delitem__(self, name):
        w = self._parent._w()
        try:
            w.del_attr(self._parent._addr, _path(name))
        except KeyError:
            raise KeyError(f"Can't delete attribute (can't locate attribute: '{name}')")
        self._parent._state.changed()

    def __repr__(self):
        if not self._parent._state.open:
            return "<Attributes of closed HDF5 object>"
        return f"<Attributes of HDF5 object at {id(self._parent)}>"


class KeysViewHDF5(KeysView):
    def __str__(self):
        return "<KeysViewHDF5 {}>".format(list(self))

    __repr__ = __str__


class ValuesViewHDF5(ValuesView):
    """Values of a group or attribute manager (None for a dangling link, as in h5py)."""

    def __iter__(self):
        for key in self._mapping:
            yield self._mapping.get(key)

    def __contains__(self, value):
        return any(v is value or v == value for v in self)


class ItemsViewHDF5(ItemsView):
    """``(name, value)`` pairs (value None for a dangling link, as in h5py)."""

    def __iter__(self):
        for key in self._mapping:
            yield (key, self._mapping.get(key))

    def __contains__(self, item):
        key, val = item
        return key in self._mapping and val == self._mapping.get(key)


class Group(HLObject, MutableMapping):
    """A group: a container of named links to groups, datasets and datatypes."""

    @property
    def id(self):
        """The low-level identifier (validity and identity only)."""
        return GroupID(self)

    def _resolve(self, name):
        if isinstance(name, Reference):
            if not name:
                raise ValueError("Invalid HDF5 object reference")
            if not isinstance(name._token, _h5oxide.FileToken):
                raise ValueError("Invalid HDF5 object reference")
            node = _h5oxide.deref_addr(name._token, name._addr)
            return _wrap(node, self._state)
        name = _path(name)
        n = self._n()
        if name in ("", "."):
            node = n
        else:
            node = n.get(name)
        obj = _wrap(node, self._state)
        if node.token.ident() != n.token.ident():
            obj._state = _foreign_state(node)
            # h5py names an object reached through an external link by its path in that file
            parent, base = posixpath.split(name.rstrip("/"))
            try:
                grp = n.get(parent) if parent else n
                link = grp.link(base) if grp.kind == "group" else None
            except KeyError:
                link = None
            if link is not None and link[1] == "external":
                obj._name = "/" + link[2].lstrip("/")
        return obj

    def __getitem__(self, name):
        return self._resolve(name)

    def get(self, name, default=None, getclass=False, getlink=False):
        """The object at ``name`` or ``default``; with ``getlink=True``, the link itself
        (HardLink, SoftLink or ExternalLink); with ``getclass=True``, its class."""
        if not (getclass or getlink):
            try:
                return self[name]
            except KeyError:
                return default
        name = _path(name)
        if name not in self:
            return default
        if getlink:
            parent, base = posixpath.split(name.rstrip("/"))
            grp = self[parent] if parent else self
            if not base:
                return HardLink if getclass else HardLink()
            link = grp._n().link(base)
            if link is None:
                return default
            _lname, kind, target, fname = link
            if kind == "soft":
                return SoftLink if getclass else SoftLink(target)
            if kind == "external":
                return ExternalLink if getclass else ExternalLink(fname, target)
            if kind == "hard":
                return HardLink if getclass else HardLink()
            raise TypeError("Unknown link type")
        return type(self[name])

    def _link_names(self):
        return [l[0] for l in self._n().links()]

    def __iter__(self):
        return iter(self._link_names())

    def __len__(self):
        return len(self._n().links())

    def __contains__(self, name):
        try:
            name = _path(name)
        except TypeError:
            return False
        if name in ("", ".", "/"):
            return True
        # like h5py: every component but the last must lead to a group; the last must be a link
        # (which may dangle)
        parent, base = posixpath.split(name.rstrip("/"))
        n = self._n()
        if parent and parent != name:
            try:
                n = n.get(parent)
            except KeyError:
                return False
            if n.kind != "group":
                return False
        if not base:
            return True
        return n.link(base) is not None

    def keys(self):
        """Member names (a view)."""
        return KeysViewHDF5(self)

    def values(self):
        """Member objects (a view)."""
        return ValuesViewHDF5(self)

    def items(self):
        """``(name, object)`` pairs (a view)."""
        return ItemsViewHDF5(self)

    def visit(self, func):
        """Calls ``func(name)`` for every object below this group (each object once, names
        relative to this group); stops and returns the first non-None result."""
        for path, _node in self._n().walk():
            r = func(path)
            if r is not None:
                return r
        return None

    def visititems(self, func):
        """Calls ``func(name, object)`` for every object below this group; stops and returns
        the first non-None result."""
        for path, node in self._n().walk():
            r = func(path, _wrap(node, self._state))
            if r is not None:
                return r
        return None

    def visit_links(self, func):
        """Calls ``func(name)`` for every link below this group (soft and external links are
        not followed); stops and returns the first non-None result."""
        return self.visititems_links(lambda name, _link: func(name))

    def visititems_links(self, func):
        """Calls ``func(name, link)`` for every link below this group, with link a HardLink,
        SoftLink or ExternalLink; stops and returns the first non-None result."""
        seen = {self._n().addr}

        def walk(node, prefix):
            for lname, kind, target, fname in sorted(node.links()):
                path = prefix + lname
                if kind == "soft":
                    r = func(path, SoftLink(target))
                elif kind == "external":
                    r = func(path, ExternalLink(fname, target))
                else:
                    r = func(path, HardLink())
                if r is not None:
                    return r
                if kind == "hard" and int(target) not in seen:
                    seen.add(int(target))
                    child = node.get(lname)
                    if child.kind == "group":
                        r = walk(child, path + "/")
                        if r is not None:
                            return r
            return None

        return walk(self._n(), "")

    def _ensure_parent(self, path, name=None):
        """Creates the missing groups above ``path`` (h5py creates intermediate groups); a
        plain ``name`` (no '/') has this group as its parent, which exists."""
        if name is not None and "/" not in _path(name):
            return
        parent = posixpath.dirname(path)
        if parent not in ("", "/"):
            self._w().require_group(parent)

    def create_group(self, name, track_order=None):
        """Creates a group (and missing intermediate groups) and returns it."""
        w = self._w()
        path = self._abs(name)
        self._ensure_parent(path, name)
        addr = w.create_group(path, _track(track_order))
        self._state.changed()
        return Group(None, self._state, addr=addr, name=path)

    def require_group(self, name):
        """The group ``name``, created if missing."""
        if name in self:
            obj = self[name]
            if not isinstance(obj, Group):
                raise TypeError(f"Incompatible object ({type(obj).__name__}) already exists")
            return obj
        return self.create_group(name)

    def create_dataset(self, name, shape=None, dtype=None, data=None, chunks=None,
                       maxshape=None, compression=None, compression_opts=None, shuffle=None,
                       fletcher32=None, fillvalue=None, track_order=None, scaleoffset=None,
                       track_times=None, external=None, **kwds):
        """Creates a dataset like h5py's ``create_dataset`` and returns it."""
        w = self._w()
        committed = None
        if isinstance(dtype, Datatype):
            # a committed (named) datatype of this file: the dataset's datatype refers to it
            if dtype._state is self._state:
                committed = dtype._addr
            dtype = dtype.dtype
        if name is None:
            raise NotImplementedError("h5oxide: anonymous datasets are not supported")
        path = self._abs(name)
        external = _normalize_external(external)
        layout = kwds.pop("layout", None)
        kwds.pop("allow_unknown_filter", None)
        kwds.pop("dcpl", None)
        kwds.pop("efile_prefix", None)
        kwds.pop("virtual_prefix", None)
        if kwds:
            raise TypeError(f"create_dataset() got unexpected keyword arguments {sorted(kwds)}")
        if isinstance(data, Empty) or (data is None and shape is None and dtype is not None):
            # a null dataspace (h5py's Empty): no storage options apply
            if chunks or maxshape is not None or compression is not None or shuffle or \
                    fletcher32 or scaleoffset is not None:
                raise TypeError("Empty datasets don't support chunk/filter options")
            dt = numpy.dtype(dtype) if dtype is not None else data.dtype
            self._ensure_parent(path, name)
            addr = w.create_dataset_null(path, dt, track_order=_track(track_order))
            if committed is not None:
                w.share_datatype(addr, committed)
            self._state.changed()
            return Dataset(None, self._state, addr=addr, name=path)
        if data is None and shape is None:
            raise TypeError("One of data, shape or dtype must be specified")
        if data is not None:
            arr, dt = _as_array(data, dtype)
            if shape is not None:
                shape = (shape,) if isinstance(shape, int) else tuple(shape)
                if numpy.prod(shape, dtype=numpy.int64) != arr.size:
                    raise ValueError("Shape tuple is incompatible with data")
                arr = arr.reshape(shape)
            shape = arr.shape
        else:
            arr = None
            dt = numpy.dtype("=f4") if dtype is None else numpy.dtype(dtype)
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if isinstance(maxshape, int):
            maxshape = (maxshape,)
        if dt.itemsize == 0 and dt.kind in "SV":
            raise ValueError("Size must be positive (size must be positive)")
        if maxshape is not None:
            maxshape = tuple(maxshape)
            if len(maxshape) != len(shape):
                raise ValueError("Dimensionality of shape and maxshape must match")
        gzip = None
        lzf = False
        plugin = None
        if compression is not None:
            if compression in ("gzip",) or isinstance(compression, int) and \
                    not isinstance(compression, bool) and 0 <= compression <= 9:
                gzip = compression_opts if compression == "gzip" else compression
                if gzip is None:
                    gzip = 4
            elif compression == "lzf":
                if compression_opts is not None:
                    raise ValueError("LZF compression filter accepts no options")
                lzf = True
            elif compression == "szip":
                opts = ("nn", 8) if compression_opts is None else compression_opts
                err = "SZIP options must be a 2-tuple ('ec'|'nn', even integer 0-32)"
                try:
                    szmethod, szpix = opts
                except TypeError as exc:
                    raise TypeError(err) from exc
                if szmethod not in ("ec", "nn") or not (0 < szpix <= 32 and szpix % 2 == 0):
                    raise ValueError(err)
                plugin = [(4, [4 if szmethod == "ec" else 32, int(szpix)])]
            elif isinstance(compression, int) and not isinstance(compression, bool) and \
                    compression in _PLUGIN_ENCODERS:
                # a plugin filter by id (hdf5plugin's ``**hdf5plugin.Zstd()`` etc.)
                opts = compression_opts
                if opts is None:
                    opts = ()
                elif isinstance(opts, int):
                    opts = (opts,)
                plugin = [(int(compression), [int(x) for x in opts])]
            else:
                raise ValueError(f'Compression filter "{compression}" is unavailable')
        so = None
        if scaleoffset is not None:
            # h5py's checks and choices: D-scale digits for floats, minimum bits for integers
            if scaleoffset < 0:
                raise ValueError("scale factor must be >= 0")
            if dt.kind == "f":
                if scaleoffset is True:
                    raise ValueError("integer scaleoffset must be provided for floating point "
                                     "types")
                so = (0, int(scaleoffset))
            elif dt.kind in "ui":
                so = (2, 0 if scaleoffset is True else int(scaleoffset))
            else:
                raise TypeError("scale/offset filter only supported for integer and "
                                "floating-point types")
            if fletcher32:
                raise ValueError("fletcher32 cannot be used with potentially lossy scale/offset "
                                 "filter")
        if chunks is True or (chunks is None and (maxshape is not None and maxshape != shape
                                                   and not external
                                                   or compression is not None or shuffle
                                                   or fletcher32 or so is not None)):
            chunks = _guess_chunk(shape, maxshape, dt.itemsize)
        elif chunks is False:
            chunks = None
        if chunks is not None:
            chunks = tuple(int(c) for c in chunks)
            if len(chunks) != len(shape):
                raise ValueError("Chunk shape must have the same rank as the dataset")
        if maxshape is not None and chunks is None and maxshape != shape:
            raise ValueError("Chunked format required for given storage options")
        fill = None
        if fillvalue is not None:
            fill, _ = _as_array(fillvalue, dt)
        self._ensure_parent(path, name)
        direct = arr is not None and not dt.hasobject and arr.size > 0
        if direct:
            arr = numpy.ascontiguousarray(arr, dtype=dt)
        addr = w.create_dataset(path, dt, list(shape), None if direct else arr,
                                chunks=None if chunks is None else list(chunks),
                                maxshape=None if maxshape is None else list(maxshape),
                                gzip=gzip, lzf=lzf, shuffle=bool(shuffle),
                                fletcher32=bool(fletcher32), fill=fill,
                                compact=layout == "compact", track_order=_track(track_order),
                                filters=plugin, scaleoffset=so, external=external or None)
        if committed is not None:
            w.share_datatype(addr, committed)
        if direct:
            r = len(shape)
            w.write_bytes(addr, [0] * r, list(shape), [1] * r, arr.reshape(-1).view(numpy.uint8))
        self._state.changed()
        return Dataset(None, self._state, addr=addr, name=path)

    def require_dataset(self, name, shape, dtype, exact=False, **kwds):
        """The dataset ``name`` if it exists with a compatible shape and dtype, else a new one."""
        if name not in self:
            return self.create_dataset(name, shape, dtype, **kwds)
        d = self[name]
        if not isinstance(d, Dataset):
            raise TypeError(f"Incompatible object ({type(d).__name__}) already exists")
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if shape != d.shape:
            raise TypeError(f"Shapes do not match (existing {d.shape} vs new {shape})")
        dtype = numpy.dtype(dtype)
        if exact and dtype != d.dtype:
            raise TypeError(f"Datatypes do not exactly match (existing {d.dtype} vs new {dtype})")
        if not numpy.can_cast(dtype, d.dtype):
            raise TypeError(f"Datatypes cannot be safely cast (existing {d.dtype} vs new {dtype})")
        return d

    def __setitem__(self, name, obj):
        w = self._w()
        path = self._abs(name)
        if isinstance(obj, SoftLink):
            self._ensure_parent(path)
            w.link_soft(path, obj.path)
        elif isinstance(obj, ExternalLink):
            self._ensure_parent(path)
            w.link_external(path, obj.filename, obj.path)
        elif isinstance(obj, HLObject):
            if obj._state is not self._state:
                raise ValueError("Unable to create link (objects are in different files)")
            self._ensure_parent(path)
            w.link_hard(path, obj._addr)
        elif isinstance(obj, numpy.dtype):
            # h5py commits a NumPy dtype as a named datatype
            self._ensure_parent(path, name)
            w.commit_datatype(path, obj)
        else:
            self.create_dataset(name, data=obj)
            return
        self._state.changed()

    def __delitem__(self, name):
        w = self._w()
        path = self._abs(name)
        try:
            w.unlink(path)
        except KeyError:
            raise KeyError(f"Couldn't delete link (callback link pointer is NULL (specified link may be '.' or not exist))")
        self._state.changed()

    def move(self, source, dest):
        """Moves (renames) the link ``source`` to ``dest``."""
        w = self._w()
        src, dst = self._abs(source), self._abs(dest)
        if src == dst:
            return
        w.move_link(src, dst)
        self._state.changed()

    def create_dataset_like(self, name, other, **kwupdate):
        """A new dataset shaped like ``other`` (shape, dtype, chunks, maxshape, filters, fill
        value), with ``kwupdate`` overriding any of them."""
        for k in ("shape", "dtype", "chunks", "maxshape", "compression", "compression_opts",
                  "shuffle", "fletcher32", "fillvalue"):
            kwupdate.setdefault(k, getattr(other, k))
        if kwupdate.get("chunks") is not None and kwupdate.get("maxshape") is not None and \
                kwupdate["maxshape"] == kwupdate["shape"]:
            kwupdate["maxshape"] = None
        return self.create_dataset(name, **kwupdate)

    def copy(self, source, dest, name=None, shallow=False, expand_soft=False,
             expand_external=False, expand_refs=False, without_attrs=False):
        """Copies a group or dataset (with attributes; groups recursively unless ``shallow``)
        to ``dest`` (a path or a group of this file). Storage options are kept; object
        references inside copied data are not rewritten."""
        w = self._w()
        src = self[source] if not isinstance(source, HLObject) else source
        if isinstance(dest, Group):
            if name is None:
                name = posixpath.basename(src.name)
            dst_group, dst_name = dest, name
        else:
            dest = _path(dest)
            if dest in self and isinstance(self[dest], Group):
                dst_group = self[dest]
                dst_name = name if name is not None else posixpath.basename(src.name)
            else:
                dst_group, dst_name = self, dest
        if dst_group._state is not self._state:
            raise NotImplementedError("h5oxide: copying between files")
        del w

        def attrs_of(a, b):
            if without_attrs:
                return
            for k in a.attrs:
                b.attrs[k] = a.attrs[k]

        def rec(s, g, n, top):
            if isinstance(s, Dataset):
                d = g.create_dataset_like(n, s)
                if s.size:
                    d[...] = s[()]
                attrs_of(s, d)
                return
            new = g.create_group(n)
            attrs_of(s, new)
            if shallow and not top:
                return
            for k in s:
                link = s.get(k, getlink=True)
                if isinstance(link, SoftLink) and not expand_soft:
                    new[k] = SoftLink(link.path)
                elif isinstance(link, ExternalLink) and not expand_external:
                    new[k] = ExternalLink(link.filename, link.path)
                else:
                    rec(s[k], new, k, False)
        rec(src, dst_group, dst_name, True)

    @contextlib.contextmanager
    def build_virtual_dataset(self, name, shape, dtype, maxshape=None, fillvalue=None):
        """Context manager giving a :class:`VirtualLayout` to fill with sources; the virtual
        dataset is created when the block ends (h5py's ``build_virtual_dataset``)."""
        layout = VirtualLayout(shape, dtype, maxshape, self.file.filename)
        yield layout
        self.create_virtual_dataset(name, layout, fillvalue)

    def create_virtual_dataset(self, name, layout, fillvalue=None):
        """Creates a virtual dataset from a :class:`VirtualLayout` (h5py's
        ``create_virtual_dataset``) and returns it. Sources in this same file are stored as
        ``"."``, as h5py does."""
        w = self._w()
        path = self._abs(name)
        self._ensure_parent(path)
        if isinstance(layout.dtype, Datatype):
            dtype = layout.dtype.dtype
        else:
            dtype = numpy.dtype(layout.dtype)
        fname = self.file.filename
        if layout._filename is not None and layout._filename != fname:
            raise Exception(f"{fname!r} != {layout._filename!r}")
        shape = layout.shape
        maxshape = layout.maxshape if layout.maxshape is not None else shape
        maps = [
            ("." if src_file == fname else src_file, dset, src_sel, vsel)
            for vsel, src_file, dset, src_sel in layout._maps
        ]
        fill = None if fillvalue is None else numpy.array(fillvalue, dtype=dtype)
        addr = w.create_virtual_dataset(path, dtype, [int(x) for x in shape],
                                        [None if m is None else int(m) for m in maxshape],
                                        maps, fill)
        self._state.changed()
        return Dataset(None, self._state, addr=addr, name=path)

    def __repr__(self):
        if not self._state.open:
            return "<Closed HDF5 group>"
        return f'<HDF5 group "{self.name}" ({len(self)} members)>'


def _foreign_state(node):
    """State for an object reached through an external link: its own (read-only) File."""
    st = _FileState()
    f = File.__new__(File)
    Group.__init__(f, _h5oxide.open(node.filename) if node.filename else node, st)
    f._filename = node.filename
    st.file = f
    return st


class File(Group):
    """An HDF5 file, opened read-only: ``File(name, mode='r')``.

    ``name`` is a path (str, bytes or os.PathLike) or a binary file-like object.
    """

    @property
    def id(self):
        """The low-level file identifier (:class:`FileID`)."""
        return FileID(self)

    @classmethod
    def in_memory(cls, file_image=None, **kwargs):
        """A file that lives in memory only (h5py's ``File.in_memory``): new and empty, or
        opened read-write from ``file_image`` (bytes or any buffer)."""
        if file_image is None:
            return cls(io.BytesIO(), "w", **kwargs)
        return cls(io.BytesIO(bytes(memoryview(file_image))), "r+", **kwargs)

    @property
    def meta_block_size(self):
        """The metadata block size of the file access properties (libhdf5's 2048 unless
        given)."""
        return self._meta_block_size

    def __init__(self, name, mode="r", driver=None, libver=None, userblock_size=None,
                 swmr=False, rdcc_nslots=None, rdcc_nbytes=None, rdcc_w0=None, track_order=None,
                 fs_strategy=None, fs_persist=False, fs_threshold=1, fs_page_size=None,
                 page_buf_size=None, min_meta_keep=0, min_raw_keep=0, locking=None,
                 alignment_threshold=1, alignment_interval=1, meta_block_size=None, **kwds):
        if mode is None:
            mode = "r"
        if mode not in _MODES:
            raise ValueError("Invalid mode; must be one of r, r+, w, w-, x, a")
        self._libver = libver
        self._meta_block_size = 2048 if meta_block_size is None else int(meta_block_size)
        self._backing = None
        self._userblock = None
        self._driver = ("fileobj" if hasattr(name, "read") and hasattr(name, "seek")
                        else "core" if driver == "core" else "sec2")
        if mode != "r":
            backing_store = kwds.pop("backing_store", True)
            if hasattr(name, "read") and hasattr(name, "seek"):
                # a file-like object: work on a temporary file, copied back at flush and close
                import tempfile
                fd, tmp = tempfile.mkstemp(suffix=".h5")
                name.seek(0)
                content = b"" if mode in ("w", "w-", "x") else name.read()
                with os.fdopen(fd, "wb") as t:
                    t.write(content)
                exists = bool(content)
                if mode in ("w-", "x") and name.seek(0, 2) > 0:
                    os.unlink(tmp)
                    raise FileExistsError(17, "Unable to synchronously create file (file exists)")
                self._backing = ("filelike", name, tmp)
                fname = getattr(name, "name", repr(name))
                name = tmp
                if not exists:
                    mode = "w"
            elif driver == "core":
                # in memory: a temporary file, written to ``name`` at close if backing_store
                import shutil
                import tempfile
                if isinstance(name, bytes):
                    name = os.fsdecode(name)
                target = os.fspath(name)
                fd, tmp = tempfile.mkstemp(suffix=".h5")
                os.close(fd)
                if mode in ("r+", "a") and os.path.exists(target):
                    shutil.copyfile(target, tmp)
                elif mode in ("w-", "x") and os.path.exists(target):
                    os.unlink(tmp)
                    raise FileExistsError(
                        17, f"Unable to synchronously create file (unable to open file: name = "
                        f"'{target}', errno = 17, error message = 'File exists')")
                elif mode == "r+":
                    os.unlink(tmp)
                    raise FileNotFoundError(2, f"Unable to synchronously open file ({target})")
                else:
                    os.unlink(tmp)
                    mode = "w"
                self._backing = ("core", target if backing_store else None, tmp)
                fname = target
                name = tmp
            else:
                fname = None
            if isinstance(name, bytes):
                name = os.fsdecode(name)
            name = os.fspath(name)
            exists = os.path.exists(name)
            if mode in ("w-", "x") and exists:
                raise FileExistsError(
                    17, f"Unable to synchronously create file (unable to open file: name = "
                    f"'{name}', errno = 17, error message = 'File exists')")
            if mode == "r+" and not exists:
                raise FileNotFoundError(
                    2, f"Unable to synchronously open file (unable to open file: name = "
                    f"'{name}', errno = 2, error message = 'No such file or directory')")
            create = mode in ("w", "w-", "x") or (mode == "a" and not exists)
            ub = 0
            if userblock_size is not None:
                ub = int(userblock_size)
                if not create:
                    if mode == "r+":
                        raise ValueError("User block may only be specified when creating a file")
                    with open(name, "rb") as fh:
                        existing = _userblock_size(fh)
                    if ub != existing:
                        raise ValueError(f"Requested userblock size ({ub}) does not match that "
                                         f"of existing file ({existing})")
                    ub = 0
                elif ub != 0 and (ub < 512 or ub & (ub - 1)):
                    raise ValueError("Unable to set user block size (userblock size must be a "
                                     "power of 2 >= 512)")
            low = libver[0] if isinstance(libver, (tuple, list)) else libver
            latest = low in ("latest", "v108", "v110", "v112", "v114", "v200")
            writer = _h5oxide.Writer(name, "w" if create else "r+", latest,
                                     _track(track_order) if create else False, ub)
            self._filename = fname if fname is not None else name
            self._mode = "r+"
            state = _FileState()
            state.file = self
            state.writer = writer
            state.root_node = writer.root()
            super().__init__(state.root_node, state)
            self._name = "/"
            return
        self._mode = "r"
        if hasattr(name, "read") and hasattr(name, "seek"):
            # Read lazily, range by range (an fsspec file on object storage downloads only
            # what is read), serialized by a lock as the object has one position.
            size = name.seek(0, os.SEEK_END)
            lock = threading.Lock()

            def readat(offset, length, fh=name, lock=lock):
                with lock:
                    fh.seek(offset)
                    out = fh.read(length)
                    while out is not None and len(out) < length:
                        more = fh.read(length - len(out))
                        if not more:
                            break
                        out = bytes(out) + bytes(more)
                return bytes(out or b"")

            node = _h5oxide.open_reader(readat, size)
            with lock:
                self._userblock = _userblock_size(name)
            self._filename = getattr(name, "name", repr(name))
        else:
            if isinstance(name, bytes):
                name = os.fsdecode(name)
            name = os.fspath(name)
            node = _h5oxide.open(name)
            self._filename = name
        state = _FileState()
        state.file = self
        super().__init__(node, state)

    @property
    def filename(self):
        """The file's name, as given."""
        return self._filename

    @property
    def mode(self):
        """``'r'`` (read-only) or ``'r+'`` (writable), as h5py reports it."""
        return self._mode

    @property
    def driver(self):
        """The driver name h5py would report: ``'fileobj'`` for a file-like object,
        ``'core'`` for ``driver='core'``, else ``'sec2'``."""
        return self._driver

    @property
    def userblock_size(self):
        """The size of the user block: where the superblock's signature sits (0, 512, 1024,
        ... bytes into the file)."""
        if self._userblock is None:
            path = self._filename if self._backing is None else self._backing[2]
            with open(path, "rb") as fh:
                self._userblock = _userblock_size(fh)
        return self._userblock

    @property
    def swmr_mode(self):
        """Always False."""
        return False

    @property
    def libver(self):
        """The library version bounds (reported like h5py's default)."""
        return ("earliest", "v200")

    @property
    def file(self):
        return self

    @property
    def name(self):
        return "/"

    @property
    def parent(self):
        return self["/"]

    def close(self):
        """Closes the file (writing everything first); every object of it becomes invalid."""
        st = self._state
        if st.open and st.writer is not None:
            st.open = False
            st.writer.close()
            self._copy_back(final=True)
        st.open = False

    def flush(self):
        """Writes everything changed so far, so other readers see it."""
        if self._state.writer is not None and self._state.open:
            self._state.writer.flush()
            self._copy_back(final=False)

    def _copy_back(self, final):
        """For file-like objects and ``driver='core'``: the temporary file's bytes go to the
        object (at every flush) or to the backing file (at close)."""
        if self._backing is None:
            return
        kind, target, tmp = self._backing
        if kind == "filelike":
            with open(tmp, "rb") as t:
                data = t.read()
            target.seek(0)
            target.write(data)
            if hasattr(target, "truncate"):
                target.truncate()
            target.seek(0)
        elif final and target is not None:
            import shutil
            shutil.copyfile(tmp, target)
        if final:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *args):
        if self._state.open:
            self.close()

    def __repr__(self):
        if not self._state.open:
            return "<Closed HDF5 file>"
        return f'<HDF5 file "{os.path.basename(self.filename)}" (mode {self.mode})>'


class Datatype(HLObject):
    """A committed (named) datatype."""

    @property
    def id(self):
        """The low-level type identifier (:class:`TypeID`)."""
        return TypeID(self)

    @property
    def dtype(self):
        """Its NumPy dtype."""
        return self._n().dtype

    def committed(self):
        return True

    def __repr__(self):
        if not self._state.open:
            return "<Closed HDF5 named type>"
        return f'<HDF5 named type "{posixpath.basename(self.name)}" (dtype {self.dtype.str})>'


def is_hdf5(fname):
    """True if ``fname`` names a file with an HDF5 superblock signature at offset 0, 512,
    1024, ...; False for other files and for names that cannot be opened (as h5py)."""
    try:
        with open(fname, "rb") as fh:
            found = _userblock_size(fh)
            fh.seek(found)
            return fh.read(8) == b"\x89HDF\r\n\x1a\n"
    except (OSError, TypeError, ValueError):
        return False


def _userblock_size(fh):
    """Where the superblock signature is in an open binary file: 0, 512, 1024, 2048, ...
    (the user block's size), or 0 when it is not found."""
    at = 0
    while True:
        fh.seek(at)
        head = fh.read(8)
        if len(head) < 8:
            return 0
        if head == b"\x89HDF\r\n\x1a\n":
            return at
        at = 512 if at == 0 else at * 2


def _names_args(args):
    names = tuple(a for a in args if isinstance(a, str))
    rest = tuple(a for a in args if not isinstance(a, str))
    return names, rest


def _check_index(args, shape):
    """Raises h5py's error for an index object h5py does not accept, before NumPy (whose error
    types differ) sees it: floats and other objects are a TypeError, as are index arrays that
    are neither integer nor boolean, and boolean arrays that fit neither the dataset's shape
    nor the length of their axis."""
    real = [a for a in args if a is not Ellipsis]
    axis = 0
    for a in args:
        if a is Ellipsis:
            axis = len(shape) - (len(real) - axis)
            continue
        if isinstance(a, slice) or (not isinstance(a, (list, numpy.ndarray))
                                    and hasattr(a, "__index__")):
            axis += 1
            continue
        if not isinstance(a, (list, numpy.ndarray)):
            raise TypeError("Selection can't process %r" % (a,))
        arr = numpy.asarray(a)
        if arr.dtype.kind == "b":
            whole = len(real) == 1 and arr.shape == tuple(shape)
            one_axis = arr.ndim == 1 and axis < len(shape) and arr.shape[0] == shape[axis]
            if not (whole or one_axis):
                if len(args) == 1 and isinstance(a, numpy.ndarray):
                    raise TypeError("Boolean indexing array has incompatible shape")
                raise TypeError("boolean index did not match indexed array")
        elif arr.size and arr.dtype.kind not in "iu":
            raise TypeError("Indexing arrays must have integer dtypes")
        axis += 1


class MultiBlockSlice:
    """A regular pattern of blocks along one axis (h5py's ``MultiBlockSlice``): ``count``
    blocks of ``block`` elements, ``stride`` apart, from ``start``. ``count=None`` takes as
    many blocks as fit the axis."""

    def __init__(self, start=0, stride=1, count=None, block=1):
        if start < 0 or stride < 1 or block < 1 or (count is not None and count < 1):
            raise ValueError("Invalid MultiBlockSlice: start >= 0, stride >= 1, count >= 1 "
                             "and block >= 1 are required")
        if count is not None and block > stride and count > 1:
            raise ValueError("Invalid MultiBlockSlice: blocks overlap (block > stride)")
        self.start, self.stride, self.count, self.block = start, stride, count, block

    def indices(self, length):
        """``(start, stride, count, block)`` for an axis of ``length`` elements."""
        count = self.count
        if count is None:
            if self.start + self.block > length:
                raise ValueError("No full blocks fit the axis")
            count = (length - self.start - self.block) // self.stride + 1
        if self.start + (count - 1) * self.stride + self.block > length:
            raise ValueError(f"{self!r} goes beyond an axis of {length} elements")
        return self.start, self.stride, count, self.block

    def __repr__(self):
        return (f"MultiBlockSlice(start={self.start}, stride={self.stride}, "
                f"count={self.count}, block={self.block})")


def _vds_select(shape, key):
    """The selection ``key`` makes in a space of ``shape`` for a virtual dataset mapping: its
    Python form for the writer (see ``create_virtual_dataset`` of the native module) and the
    selected shape (axes indexed by an integer dropped), as h5py's ``select``."""
    shape = tuple(int(x) for x in shape)
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        i = next(n for n, k in enumerate(key) if k is Ellipsis)
        if sum(k is Ellipsis for k in key) > 1:
            raise ValueError("Only one ellipsis may be used.")
        fill = len(shape) - (len(key) - 1)
        key = key[:i] + (slice(None),) * fill + key[i + 1:]
    if len(key) > len(shape):
        raise ValueError(f"{len(key)} indices for a space of rank {len(shape)}")
    key = key + (slice(None),) * (len(shape) - len(key))
    start, stride, count, block, out = [], [], [], [], []
    for k, n in zip(key, shape):
        if isinstance(k, MultiBlockSlice):
            s, st, c, b = k.indices(n)
            out.append(c * b)
        elif isinstance(k, slice) and k.stop == _H5S.UNLIMITED:
            # h5py's unlimited selection (``0:h5s.UNLIMITED``): the count is unlimited
            s, st = (k.start or 0), (k.step or 1)
            if s < 0 or st < 1:
                raise ValueError("An unlimited selection needs start >= 0 and step >= 1")
            c, b = _H5S.UNLIMITED, 1
            out.append(max(0, len(range(s, n, st))))
        elif isinstance(k, slice):
            s, stop, st = k.indices(n)
            if st < 1:
                raise ValueError("Step must be >= 1 (got %d)" % st)
            c = len(range(s, stop, st))
            if c == 0:
                raise ValueError("Zero-length selections are not allowed")
            b = 1
            out.append(c)
        elif isinstance(k, (int, numpy.integer)):
            k = int(k)
            if k < 0:
                k += n
            if not 0 <= k < n:
                raise IndexError(f"Index ({k}) out of range for (0-{n - 1})")
            s, st, c, b = k, 1, 1, 1
        else:
            raise TypeError(f"Virtual dataset selections take slices, integers, Ellipsis and "
                            f"MultiBlockSlice, not {type(k).__name__}")
        start.append(s)
        stride.append(st)
        count.append(c)
        block.append(b)
    return ("regular", start, stride, count, block), tuple(out)


class VirtualSource:
    """A source dataset of a virtual dataset (h5py's ``VirtualSource``): a :class:`Dataset`,
    or a file name with the dataset's ``name`` and ``shape``. Index it once to select part of
    the source (``vs[0:10, ::2]``)."""

    def __init__(self, path_or_dataset, name=None, shape=None, dtype=None, maxshape=None):
        if isinstance(path_or_dataset, Dataset):
            failed = {k: v for k, v in {"name": name, "shape": shape, "dtype": dtype,
                                        "maxshape": maxshape}.items() if v is not None}
            if failed:
                raise TypeError("If a Dataset is passed as the first argument then no other "
                                f"arguments may be passed.  You passed {failed}")
            ds = path_or_dataset
            path, name, shape, dtype, maxshape = (ds.file.filename, ds.name, ds.shape,
                                                  ds.dtype, ds.maxshape)
        else:
            path = path_or_dataset
            if name is None:
                raise TypeError("The name parameter is required when specifying a source by "
                                "path")
            if shape is None:
                raise TypeError("The shape parameter is required when specifying a source by "
                                "path")
            if isinstance(shape, int):
                shape = (shape,)
            if isinstance(maxshape, int):
                maxshape = (maxshape,)
        self.path = os.fspath(path)
        self.name = name
        self.dtype = dtype
        self._space_shape = tuple(shape)
        self.maxshape = tuple(shape) if maxshape is None else tuple(maxshape)
        self.sel = ("all",)
        self._shape = tuple(shape)
        self._all_selected = True

    @property
    def shape(self):
        """Shape of the selected part."""
        return self._shape

    def __getitem__(self, key):
        if not self._all_selected:
            raise RuntimeError("VirtualSource objects can only be sliced once.")
        tmp = copy.copy(self)
        tmp.sel, tmp._shape = _vds_select(self._space_shape, key)
        tmp._all_selected = False
        return tmp


class VirtualLayout:
    """The layout of a virtual dataset being built (h5py's ``VirtualLayout``): assign
    :class:`VirtualSource` objects to parts of it, then pass it to
    ``Group.create_virtual_dataset``."""

    def __init__(self, shape, dtype, maxshape=None, filename=None):
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.dtype = dtype
        self.maxshape = (maxshape,) if isinstance(maxshape, int) else maxshape
        self._filename = filename
        self._maps = []

    def __setitem__(self, key, source):
        vsel, vshape = _vds_select(self.shape, key)
        unlimited = _H5S.UNLIMITED in vsel[3] or (source.sel[0] == "regular"
                                                   and _H5S.UNLIMITED in source.sel[3])
        if unlimited:
            self._maps.append((vsel, source.path, source.name, source.sel))
            return
        n_v = 1
        for x in vshape:
            n_v *= x
        n_s = 1
        for x in source.shape:
            n_s *= x
        if n_v != n_s:
            raise ValueError(f"Unable to set virtual mapping (virtual and source space "
                             f"selections have different numbers of elements: {n_v} vs {n_s})")
        self._maps.append((vsel, source.path, source.name, source.sel))


VDSmap = namedtuple("VDSmap", ("vspace", "file_name", "dset_name", "src_space"))
VDSmap.__doc__ = "One mapping of a virtual dataset (h5py's ``VDSmap``)."


class VirtualSpace:
    """A dataspace with a selection, as a virtual dataset mapping stores it: the part of h5py's
    low-level ``h5s.SpaceID`` that ``Dataset.virtual_sources()`` users read (extent, selection
    type, regular hyperslab, bounds, points and blocks). Selection types and ``UNLIMITED`` use
    h5py's ``h5s`` values (0 none, 1 points, 2 hyperslabs, 3 all; 2**64-1)."""

    SEL_NONE, SEL_POINTS, SEL_HYPERSLABS, SEL_ALL = 0, 1, 2, 3
    UNLIMITED = 2**64 - 1

    def __init__(self, extent, maxextent, selection):
        self._extent = tuple(extent)
        self._max = tuple(maxextent)
        self._type, self._npoints, self._regular, self._points, self._blocks = selection

    @property
    def shape(self):
        """The extent (a tuple; ``()`` for a scalar space)."""
        return self._extent

    @property
    def rank(self):
        return len(self._extent)

    def get_simple_extent_ndims(self):
        return len(self._extent)

    def get_simple_extent_dims(self, maxdims=False):
        return self._max if maxdims else self._extent

    def get_simple_extent_type(self):
        """0 for a scalar space, 1 for a simple one (h5py's ``h5s.SCALAR``/``SIMPLE``)."""
        return 0 if not self._extent and self._type == self.SEL_ALL else 1

    def get_select_type(self):
        return self._type

    def get_select_npoints(self):
        if self._type == self.SEL_ALL:
            n = 1
            for d in self._extent:
                n *= d
            return n
        if self._npoints is None:
            raise RuntimeError("Unspecified error in H5Sget_select_npoints (return value <0)")
        return self._npoints

    def is_regular_hyperslab(self):
        if self._type != self.SEL_HYPERSLABS:
            raise ValueError("selection is not a hyperslab")
        return self._regular is not None

    def get_regular_hyperslab(self):
        """``(start, stride, count, block)``, each a tuple (``UNLIMITED`` for unlimited)."""
        if self._type != self.SEL_HYPERSLABS or self._regular is None:
            raise ValueError("selection is not a regular hyperslab")
        return tuple(tuple(x) for x in self._regular)

    def get_select_bounds(self):
        """``(low corner, high corner)`` (inclusive), or None for an empty selection."""
        if self._type == self.SEL_NONE:
            return None
        if self._type == self.SEL_ALL:
            if not self._extent:
                raise ValueError("no bounds for a scalar space")
            return tuple(0 for _ in self._extent), tuple(d - 1 for d in self._extent)
        if self._type == self.SEL_POINTS:
            pts = self._points or []
            if not pts:
                return None
            return (tuple(min(c) for c in zip(*pts)), tuple(max(c) for c in zip(*pts)))
        if self._blocks:
            return (tuple(min(c) for c in zip(*(b[0] for b in self._blocks))),
                    tuple(max(c) for c in zip(*(b[1] for b in self._blocks))))
        start, stride, count, block = self._regular
        if any(x == self.UNLIMITED for x in tuple(count) + tuple(block)):
            raise RuntimeError("Unspecified error in H5Sget_select_bounds (return value <0)")
        return (tuple(start),
                tuple(s + (c - 1) * st + b - 1 for s, st, c, b in zip(start, stride, count, block)))

    def get_select_elem_npoints(self):
        if self._type != self.SEL_POINTS:
            raise ValueError("selection is not a point list")
        return len(self._points)

    def get_select_elem_pointlist(self):
        """The selected points as an (n, rank) array."""
        if self._type != self.SEL_POINTS:
            raise ValueError("selection is not a point list")
        return numpy.array(self._points, dtype=numpy.uint64).reshape(len(self._points), self.rank)

    def get_select_hyper_nblocks(self):
        if self._type != self.SEL_HYPERSLABS:
            raise ValueError("selection is not a hyperslab")
        if self._blocks is not None:
            return len(self._blocks)
        if self._npoints is None:
            raise RuntimeError("unlimited selection")
        n = 1
        for c in self._regular[2]:
            n *= c
        return n

    def __repr__(self):
        kind = {0: "none", 1: "points", 2: "hyperslabs", 3: "all"}.get(self._type, "?")
        return f"<VirtualSpace extent {self._extent} selection {kind}>"


def _region_selection(shape, args):
    """The selection ``dset.regionref[args]`` makes, as h5py makes it: a boolean mask selects
    points; slices, integers, ``...`` and :class:`MultiBlockSlice` a regular hyperslab; index
    lists (increasing) a union of blocks."""
    if isinstance(args, numpy.ndarray) and args.dtype == bool:
        if args.shape != tuple(shape):
            raise TypeError("Boolean indexing array has incompatible shape")
        return ("points", len(shape), numpy.argwhere(args).tolist())
    key = args if isinstance(args, tuple) else (args,)
    if not any(isinstance(k, (list, numpy.ndarray)) for k in key):
        return _vds_select(shape, args)[0]
    if any(k is Ellipsis for k in key):
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (len(shape) - len(key) + 1) + key[i + 1:]
    key = key + (slice(None),) * (len(shape) - len(key))
    runs = []
    for k, n in zip(key, shape):
        if isinstance(k, slice):
            idx = list(range(*k.indices(n)))
        elif isinstance(k, (list, numpy.ndarray)):
            idx = [int(x) for x in numpy.asarray(k).reshape(-1)]
            if any(b <= a for a, b in zip(idx, idx[1:])):
                raise TypeError("Indexing elements must be in increasing order")
        else:
            idx = [int(k) + (n if int(k) < 0 else 0)]
        if not idx or idx[0] < 0 or idx[-1] >= n:
            raise IndexError(f"Index out of range for an axis of {n}")
        r = []
        for x in idx:
            if r and r[-1][1] == x - 1:
                r[-1][1] = x
            else:
                r.append([x, x])
        runs.append(r)
    blocks = [((), ())]
    for r in runs:
        blocks = [(s0 + (a,), e0 + (b,)) for s0, e0 in blocks for a, b in r]
    return ("blocks", len(shape), [(list(s0), list(e0)) for s0, e0 in blocks])


class _RegionProxy:
    """``dset.regionref``: indexing it makes a region reference to the selected part."""

    def __init__(self, dset):
        self._dset = dset

    def __getitem__(self, args):
        d = self._dset
        shape = d.shape
        if shape is None:
            raise TypeError("Region references of empty datasets are not supported")
        whole = args is Ellipsis or (isinstance(args, tuple) and len(args) <= 1
                                     and all(a is Ellipsis for a in args))
        if shape == () or whole:
            sel = ("all",)  # h5py selects "all" for these, a hyperslab for explicit slices
        else:
            sel = _region_selection(shape, args)
        n = d._n()
        return RegionReference(n.token, n.addr, sel)


StoreInfo = namedtuple("StoreInfo", ("chunk_offset", "filter_mask", "byte_offset", "size"))
StoreInfo.__doc__ = "A stored chunk (h5py's ``h5d.StoreInfo``); byte offsets are absolute."


class _ObjectID:
    """The part of h5py's low-level object identifiers (``obj.id``) that high-level code
    uses: validity, and the object's address as ``id.id``-like identity."""

    def __init__(self, obj):
        self._obj = obj

    @property
    def valid(self):
        return self._obj._state.open

    def __bool__(self):
        return self.valid

    def __eq__(self, other):
        return isinstance(other, _ObjectID) and other._obj._state is self._obj._state and \
            other._obj._addr == self._obj._addr

    def __hash__(self):
        return hash((id(self._obj._state), self._obj._addr))


class TypeID(_ObjectID):
    """h5py's ``h5t.TypeID`` of a committed datatype, as far as h5oxide supports the
    low-level API."""

    @property
    def dtype(self):
        return self._obj.dtype

    def committed(self):
        return True


class GroupID(_ObjectID):
    """h5py's ``h5g.GroupID``, as far as h5oxide supports the low-level API."""


class FileID(GroupID):
    """h5py's ``h5f.FileID``, as far as h5oxide supports the low-level API."""

    def get_filesize(self):
        """Size of the file in bytes (after writing what is pending)."""
        f = self._obj
        if f._state.writer is not None:
            f._state.writer.flush()
        path = f._backing[2] if f._backing else f.filename
        return os.path.getsize(path)

    def get_intent(self):
        """1 (``h5f.ACC_RDWR``) when open for writing, else 0 (``ACC_RDONLY``)."""
        return 0 if self._obj._state.writer is None else 1


# libhdf5's names of its predefined filters (files store no name for them)
_FILTER_NAMES = {1: b"deflate", 2: b"shuffle", 3: b"fletcher32", 4: b"szip", 5: b"nbit",
                 6: b"scaleoffset"}


def _filter_name(fid, name):
    name = bytes(name)
    return name if name else _FILTER_NAMES.get(fid, b"")


class AttrID:
    """h5py's ``h5a.AttrID`` (``attrs.get_id(name)``), as far as h5oxide supports the
    low-level API: name, shape, dtype, storage size, read and write."""

    def __init__(self, attrs, name):
        self._attrs = attrs
        self._name = name

    @property
    def name(self):
        return self._name.encode()

    def get_name(self):
        return self.name

    @property
    def shape(self):
        shape, _dt = self._attrs.get_shape_dtype(self._name)
        return () if shape is None else shape

    @property
    def dtype(self):
        return self._attrs.get_shape_dtype(self._name)[1]

    @property
    def valid(self):
        return self._attrs._parent._state.open

    def get_storage_size(self):
        """Bytes of the stored value (16 per variable-length element)."""
        return self._attrs._node().attr_storage_size(self._name)

    def read(self, arr, mtype=None):
        """Reads the value into the NumPy array ``arr`` (same shape)."""
        v = self._attrs[self._name]
        if isinstance(v, Empty):
            return
        arr[...] = v

    def write(self, arr, mtype=None):
        """Writes ``arr`` into the attribute, keeping its type and shape."""
        self._attrs.modify(self._name, arr)


class PropDCID:
    """The dataset creation properties h5py's ``DatasetID.get_create_plist()`` gives and
    readers use (layout, chunk shape, filters)."""

    def __init__(self, node):
        self._node = node

    def get_layout(self):
        """0 compact, 1 contiguous, 2 chunked, 3 virtual (``h5d.COMPACT`` ...)."""
        return self._node.layout_class

    def get_chunk(self):
        c = self._node.chunks
        if c is None:
            raise ValueError("Not a chunked storage layout")
        return tuple(c)

    def get_nfilters(self):
        return len(self._node.filter_details)

    def get_filter(self, filter_idx):
        """``(filter id, flags, client data values, name)``."""
        details = self._node.filter_details
        if not 0 <= filter_idx < len(details):
            raise ValueError(f"Filter number {filter_idx} is invalid")
        fid, flags, cd, name = details[filter_idx]
        return fid, flags, tuple(cd), _filter_name(fid, name)

    def get_filter_by_id(self, filter_code):
        """``(flags, client data values, name)`` of the filter, or None if absent."""
        for fid, flags, cd, name in self._node.filter_details:
            if fid == filter_code:
                return flags, tuple(cd), _filter_name(fid, name)
        return None

    def all_filters_avail(self):
        return all(h5z.filter_avail(f[0]) for f in self._node.filter_details)


class DatasetID(_ObjectID):
    """h5py's ``h5d.DatasetID`` for what kerchunk-style indexers and direct chunk I/O use:
    storage offsets and sizes, chunk records, raw chunk reads and writes, creation
    properties."""

    @property
    def shape(self):
        return self._obj.shape

    @property
    def rank(self):
        return self._obj.ndim

    def get_offset(self):
        """Absolute file offset of contiguous data, or None."""
        return self._obj._n().data_offset()

    def get_storage_size(self):
        return self._obj._n().storage_size()

    def get_create_plist(self):
        return PropDCID(self._obj._n())

    def _chunks(self, by_offset=False):
        """The stored chunks (offset, mask, address, size), listed once per file state, and
        the same keyed by offset."""
        ds = self._obj
        key = (ds._state.changes, ds._state.gen)
        c = ds.__dict__.get("_stored_chunks")
        if c is None or c[0] != key:
            chunks = ds._n().stored_chunks()
            c = (key, chunks, {tuple(r[0]): r for r in chunks})
            ds._stored_chunks = c
        return c[2] if by_offset else c[1]

    def get_num_chunks(self, filter_space=None):
        return len(self._chunks())

    def get_chunk_info(self, index, space=None):
        chunks = self._chunks()
        if not 0 <= index < len(chunks):
            raise ValueError(f"Chunk index {index} is out of range ({len(chunks)} chunks)")
        off, mask, addr, size = chunks[index]
        return StoreInfo(tuple(off), mask, addr, size)

    def get_chunk_info_by_coord(self, chunk_offset):
        want = tuple(int(x) for x in chunk_offset)
        r = self._chunks(by_offset=True).get(want)
        if r is None:
            return StoreInfo(None, 0, None, 0)
        return StoreInfo(want, r[1], r[2], r[3])

    def chunk_iter(self, callback):
        """Calls ``callback(StoreInfo)`` for every allocated chunk, in chunk offset order."""
        for off, mask, addr, size in self._chunks():
            callback(StoreInfo(tuple(off), mask, addr, size))

    def read_direct_chunk(self, offsets, dxpl=None, out=None):
        """``(filter_mask, bytes)`` of the stored (filtered) chunk at ``offsets``."""
        offsets = tuple(int(x) for x in offsets)
        node = self._obj._n()
        chunks = node.chunks
        if chunks is None:
            raise OSError("Can't read unprocessed chunk data (not a chunked dataset)")
        if len(offsets) != len(chunks):
            raise TypeError(f"offsets length ({len(offsets)}) must match dataset rank "
                            f"({len(chunks)})")
        if any(o < 0 or o % c for o, c in zip(offsets, chunks)):
            raise OSError("Can't read unprocessed chunk data (offset doesn't fall on chunks's "
                          "boundary)")
        # looked up by true coordinates, as libhdf5's H5Dread_chunk does (get_chunk_info
        # reports libhdf5's offsets, which differ for some extensible-array indexes)
        r = node.read_chunk_raw(list(offsets))
        if r is None:
            raise RuntimeError("Can't get storage size of chunk (chunk storage is not "
                               "allocated)")
        mask, data = r
        if out is not None:
            view = memoryview(out).cast("B")
            if len(view) < len(data):
                raise ValueError("Output buffer is too small for the chunk")
            view[:len(data)] = data
            return mask, out
        return mask, data

    def write_direct_chunk(self, offsets, data, filter_mask=0x00000000, dxpl=None):
        """Stores ``data`` (already filtered) as the chunk at ``offsets``."""
        ds = self._obj
        w = ds._w()
        raw = bytes(memoryview(data).cast("B")) if not isinstance(data, bytes) else data
        w.write_chunk_raw(ds._addr, [int(x) for x in offsets], int(filter_mask), raw)
        ds._state.changed()


class _H5Z:
    """h5py's ``h5z`` constants and ``filter_avail`` (filters h5oxide decodes)."""
    FILTER_DEFLATE, FILTER_SHUFFLE, FILTER_FLETCHER32, FILTER_SZIP, FILTER_NBIT = 1, 2, 3, 4, 5
    FILTER_SCALEOFFSET, FILTER_LZF = 6, 32000
    FLAG_MANDATORY, FLAG_OPTIONAL = 0, 1
    SO_FLOAT_DSCALE, SO_FLOAT_ESCALE, SO_INT = 0, 1, 2
    SO_INT_MINBITS_DEFAULT = 0
    _DECODED = (1, 2, 3, 4, 5, 6, 307, 32000, 32001, 32004, 32008, 32015, 32026)

    @staticmethod
    def filter_avail(filter_code):
        return filter_code in _H5Z._DECODED


class _H5S:
    """h5py's ``h5s`` constants."""
    UNLIMITED = 2**64 - 1
    SCALAR, SIMPLE, NULL = 0, 1, 2
    SEL_NONE, SEL_POINTS, SEL_HYPERSLABS, SEL_ALL = 0, 1, 2, 3


class _H5D:
    """h5py's ``h5d`` layout constants."""
    COMPACT, CONTIGUOUS, CHUNKED, VIRTUAL = 0, 1, 2, 3


h5z, h5s, h5d = _H5Z(), _H5S(), _H5D()
UNLIMITED = _H5S.UNLIMITED


class Dataset(HLObject):
    """A dataset: an n-dimensional array of one dtype."""

    @property
    def id(self):
        """The low-level identifier (:class:`DatasetID`: storage and chunk access)."""
        return DatasetID(self)

    def flush(self):
        """Writes pending changes to the file (h5py's SWMR ``Dataset.flush``)."""
        if self._state.writer is not None:
            self._state.writer.flush()

    def refresh(self):
        """h5py's SWMR ``Dataset.refresh``. A no-op: h5oxide does not follow another
        process's appends to a file it has open (open it again to see them)."""

    def _winfo(self):
        """``(shape, maxshape, chunks, dtype)`` from the writer (no flush), or None when the
        file is read-only or the writer cannot describe the dataset."""
        st = self._state
        if st.writer is None:
            return None
        if not st.open:
            raise ValueError("Not a location (invalid object ID)")
        c = self.__dict__.get("_winfo_cache")
        if c is not None and c[0] == st.changes:
            return c[1]
        try:
            info = st.writer.dataset_info(self._addr)
        except OSError:
            info = None
        self._winfo_cache = (st.changes, info)
        return info

    @property
    def shape(self):
        """The shape (a tuple), or None for an empty dataset."""
        w = self._winfo()
        if w is not None:
            return tuple(w[0])
        s = self._n().shape
        return None if s is None else tuple(s)

    @property
    def dtype(self):
        """The NumPy dtype (in the file's byte order, like h5py)."""
        w = self._winfo()
        if w is not None:
            return w[3]
        return self._n().dtype

    @property
    def ndim(self):
        """Number of dimensions."""
        s = self.shape
        return 0 if s is None else len(s)

    @property
    def size(self):
        """Number of elements (None for an empty dataset)."""
        s = self.shape
        if s is None:
            return None
        p = 1
        for d in s:
            p *= d
        return p

    @property
    def nbytes(self):
        """Bytes of the dataset's elements in memory."""
        s = self.size
        return 0 if s is None else s * self.dtype.itemsize

    @property
    def chunks(self):
        """The chunk shape, or None if the dataset is not chunked."""
        w = self._winfo()
        c = w[2] if w is not None else self._n().chunks
        return None if c is None else tuple(c)

    @property
    def maxshape(self):
        """Maximum shape, None entries being unlimited."""
        w = self._winfo()
        m = w[1] if w is not None else self._n().maxshape
        return None if m is None else tuple(m)

    def _filter(self, fid):
        for i, cd in self._n().filters:
            if i == fid:
                return cd
        return None

    @property
    def filter_ids(self):
        """The ids of the dataset's filters, in the order they are applied when writing."""
        return tuple(fid for fid, _cd in self._n().filters)

    @property
    def filter_names(self):
        """The names of the dataset's filters (as libhdf5 reports them), in write order."""
        return tuple(_filter_name(fid, name).decode("utf-8", "replace")
                     for fid, _flags, _cd, name in self._n().filter_details)

    @property
    def compression(self):
        """``'gzip'``, ``'lzf'`` or ``'szip'`` if the dataset uses that filter, ``'unknown'``
        for another (plugin) filter, else None."""
        for fid, name in ((1, "gzip"), (32000, "lzf"), (4, "szip")):
            if self._filter(fid) is not None:
                return name
        if any(fid not in (1, 2, 3, 4, 6, 32000) for fid, _cd in self._n().filters):
            return "unknown"  # a filter from a plugin, as h5py says
        return None

    @property
    def compression_opts(self):
        """The gzip level, or szip's ``(mask, pixels per block)``; None otherwise."""
        comp = self.compression
        if comp == "gzip":
            cd = self._filter(1)
            return cd[0] if cd else None
        if comp == "szip":
            cd = self._filter(4)
            if cd and len(cd) >= 2:
                return ("ec" if cd[0] & 4 else "nn" if cd[0] & 32 else cd[0], cd[1])
        return None

    @property
    def shuffle(self):
        """True if the shuffle filter is applied."""
        return self._filter(2) is not None

    @property
    def fletcher32(self):
        """True if the Fletcher-32 checksum filter is applied."""
        return self._filter(3) is not None

    @property
    def scaleoffset(self):
        """The scale-offset filter's factor, or None."""
        cd = self._filter(6)
        if cd is None:
            return None
        return cd[1] if len(cd) > 1 else 0

    @property
    def fillvalue(self):
        """The fill value of unwritten elements."""
        return self._n().fillvalue()

    @property
    def is_virtual(self):
        """True for a virtual dataset."""
        return self._n().is_virtual

    def _write_virtual(self, args, val):
        """Writes through a virtual dataset into its sources, as libhdf5 does for h5py: each
        mapping's part of the selection goes to the matching part of its source dataset.
        Mappings whose virtual and source selections are single boxes (whole spaces, slices
        with step 1, VirtualSource slicing) and basic indexes (ints, slices) are supported."""
        args = args if isinstance(args, tuple) else (args,)
        slab = self._slab(args)
        if slab is None:
            raise NotImplementedError("h5oxide: writing through a virtual dataset with a fancy "
                                      "index")
        start, count, step, keep = slab
        data = numpy.broadcast_to(numpy.asarray(val, dtype=self.dtype),
                                  tuple(count[d] for d in keep)).reshape(tuple(count))

        def box(space, ext):
            t = space.get_select_type()
            if t == VirtualSpace.SEL_ALL:
                return [0] * len(ext), list(ext)
            if t == VirtualSpace.SEL_HYPERSLABS and space.is_regular_hyperslab():
                st, stride, cnt, blk = space.get_regular_hyperslab()
                if all(c == 1 for c in cnt) and VirtualSpace.UNLIMITED not in blk:
                    return list(st), list(blk)
                if all(b == 1 and sd == 1 for b, sd in zip(blk, stride)) and \
                        VirtualSpace.UNLIMITED not in cnt:
                    return list(st), list(cnt)
            raise NotImplementedError("h5oxide: writing through a virtual dataset mapping "
                                      "that is not a single box")

        base = os.path.dirname(os.path.abspath(self.file.filename))
        opened = {}

        def source(m):
            # the source dataset (libhdf5 does not store an "all" selection's extent)
            if m.file_name == ".":
                return self.file[m.dset_name]
            path = os.path.join(base, m.file_name)
            if not os.path.exists(path):
                path = m.file_name
            if path not in opened:
                opened[path] = File(path, "r+")
            return opened[path][m.dset_name]

        try:
            self._write_virtual_parts(start, count, step, data, box, source)
        finally:
            for f in opened.values():
                f.close()
        self._state.changed()

    def _write_virtual_parts(self, start, count, step, data, box, source):
        writes, covered = [], 0
        for m in self.virtual_sources():
            src = source(m)
            v0, vn = box(m.vspace, self.shape)
            s0, sn = box(m.src_space, src.shape)
            # the boxes pair their dimensions longer than one, in order (a row of a 2-D
            # virtual dataset can map a 1-D source)
            vd = [d for d, n in enumerate(vn) if n != 1]
            sd = [e for e, n in enumerate(sn) if n != 1]
            if [vn[d] for d in vd] != [sn[e] for e in sd]:
                raise NotImplementedError("h5oxide: writing through a virtual dataset mapping "
                                          "whose source box has another shape")
            sub, offs = [], []  # per virtual dimension: data slice, (offset in box, step)
            for d, (a, c, st) in enumerate(zip(start, count, step)):
                lo, hi = v0[d], v0[d] + vn[d]
                first = max(0, -(-(lo - a) // st))  # first k with a + k*st >= lo
                last = min(c - 1, (hi - 1 - a) // st) if hi - 1 >= a else -1
                if last < first:
                    break
                sub.append(slice(first, last + 1))
                offs.append((a + first * st - lo, last - first + 1, st))
            else:
                part = data[tuple(sub)]
                src_idx, src_shape = [], []
                pair = dict(zip(sd, vd))
                for e in range(len(sn)):
                    if e in pair:
                        o, k, st = offs[pair[e]]
                        src_idx.append(slice(s0[e] + o, s0[e] + o + (k - 1) * st + 1, st))
                        src_shape.append(k)
                    else:
                        src_idx.append(slice(s0[e], s0[e] + 1))
                        src_shape.append(1)
                writes.append((src, tuple(src_idx), part.reshape(tuple(src_shape))))
                covered += part.size
        if covered < data.size:
            raise OSError("Can't synchronously write data (write requested to unmapped portion "
                          "of virtual dataset)")
        for src, src_idx, part in writes:
            src[src_idx] = part

    def virtual_sources(self):
        """The mappings of a virtual dataset, as h5py gives them: a list of
        ``VDSmap(vspace, file_name, dset_name, src_space)``, the spaces being
        :class:`VirtualSpace` objects (the subset of h5py's ``h5s.SpaceID`` that describes a
        selection). Raises RuntimeError for other datasets, like h5py."""
        if not self.is_virtual:
            raise RuntimeError("Not a virtual dataset")
        return [
            VDSmap(VirtualSpace(*vs), fname, dname, VirtualSpace(*ss))
            for fname, dname, vs, ss in self._n().virtual_sources()
        ]

    @property
    def external(self):
        """The external raw files: a list of ``(name, offset, size)``, or None."""
        files = self._n().external_files
        return None if files is None else [tuple(x) for x in files]

    @property
    def dims(self):
        """The dimension scales of each dimension (HDF5 Dimension Scales, as netCDF-4 and
        xarray use them)."""
        return DimensionManager(self)

    @property
    def is_scale(self):
        """True if the dataset is a dimension scale."""
        c = self.attrs.get("CLASS") if "CLASS" in self.attrs else None
        return c is not None and bytes(c).rstrip(b"\0") == b"DIMENSION_SCALE"

    def make_scale(self, name=""):
        """Makes the dataset a dimension scale called ``name``."""
        w = self._w()
        w.set_cstring_attr(self._addr, "CLASS", b"DIMENSION_SCALE", 16)
        nb = name.encode("ascii") if isinstance(name, str) else bytes(name)
        w.set_cstring_attr(self._addr, "NAME", nb, len(nb) + 1)
        self._state.changed()

    def _direct_ok(self):
        """True when the stored bytes are the NumPy bytes (native numeric types)."""
        dt = self.dtype
        return dt.isnative and dt.kind in "iufcb" and dt.names is None and not dt.hasobject

    def _read_all(self):
        if self.shape is not None and self._direct_ok():
            # NumPy allocates the result (huge pages where the OS gives them), the engine
            # reads straight into it: one pass over the memory, no copy.
            out = numpy.empty(self.shape, self.dtype)
            if not out.size or self._n().read_into(out.reshape(-1).view(numpy.uint8)):
                return out
        return self._n().read()

    def _slab(self, args):
        """``(start, count, step, keep)`` for an index of ints, slices and Ellipsis (``keep``:
        the axes that stay in the result), or None for other (fancy) indexes."""
        shape = self.shape
        rank = len(shape)
        if any(a is Ellipsis for a in args):
            if sum(a is Ellipsis for a in args) > 1:
                raise ValueError("Only one Ellipsis may be used")
            i = next(k for k, a in enumerate(args) if a is Ellipsis)
            fill = (slice(None),) * (rank - len(args) + 1)
            args = args[:i] + fill + args[i + 1:]
        if len(args) > rank:
            raise ValueError("%d indexing arguments for %d dimensions" % (len(args), rank))
        args = tuple(args) + (slice(None),) * (rank - len(args))
        start, count, step, keep = [], [], [], []
        for d, (a, n) in enumerate(zip(args, shape)):
            if isinstance(a, slice):
                b, e, st = a.indices(n)
                if st < 1:
                    raise ValueError("Step must be >= 1 (got %d)" % st)
                c = max(0, (e - b + st - 1) // st)
                start.append(b if c else 0)
                count.append(c)
                step.append(st)
                keep.append(d)
            elif isinstance(a, (int, numpy.integer)) and not isinstance(a, (bool, numpy.bool_)):
                i = int(a)
                if i < 0:
                    i += n
                if not 0 <= i < n:
                    raise IndexError("Index (%d) out of range for (0-%d)" % (int(a), n - 1))
                start.append(i)
                count.append(1)
                step.append(1)
            else:
                return None
        return start, count, step, keep

    @property
    def regionref(self):
        """``dset.regionref[selection]`` makes a :class:`RegionReference` to that part of the
        dataset (slices, integers, ``...`` and :class:`MultiBlockSlice`)."""
        return _RegionProxy(self)

    def _read_region(self, ref):
        """The elements a region reference selects, shaped as h5py shapes them: the dataset's
        shape for "all", ``count * block`` per axis for a regular hyperslab, the distinct
        coordinates per axis for a rectangular union of blocks, else 1-D (points: in stored
        order; blocks: row-major)."""
        sel = ref._sel
        if not ref or sel is None:
            raise ValueError("Invalid region reference")
        kind = sel[0]
        if kind == "all":
            return self[()]
        if kind == "none":
            return numpy.empty((0,), dtype=self.dtype)
        if kind == "regular":
            _, start, stride, count, block = sel
            idx = [numpy.add.outer(s + st * numpy.arange(c), numpy.arange(b)).reshape(-1)
                   for s, st, c, b in zip(start, stride, count, block)]
            lo = [int(i.min()) for i in idx]
            box = self[tuple(slice(l, int(i.max()) + 1) for l, i in zip(lo, idx))]
            return numpy.asarray(box[numpy.ix_(*[i - l for i, l in zip(idx, lo)])])
        if kind == "points":
            pts = numpy.asarray(sel[2], dtype=numpy.int64).reshape(len(sel[2]), -1)
            if len(pts) == 0:
                return numpy.empty((0,), dtype=self.dtype)
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            box = self[tuple(slice(int(a), int(b) + 1) for a, b in zip(lo, hi))]
            return box[tuple((pts - lo).T)]
        blocks = sel[2]
        if not blocks:
            return numpy.empty((0,), dtype=self.dtype)
        rank = len(blocks[0][0])
        lo = [min(b[0][d] for b in blocks) for d in range(rank)]
        hi = [max(b[1][d] for b in blocks) for d in range(rank)]
        box = self[tuple(slice(a, b + 1) for a, b in zip(lo, hi))]
        mask = numpy.zeros(box.shape, dtype=bool)
        for s0, e0 in blocks:
            mask[tuple(slice(a - l, b - l + 1) for a, b, l in zip(s0, e0, lo))] = True
        out = box[mask]
        shape = tuple(int(mask.any(axis=tuple(x for x in range(rank) if x != d)).sum())
                      for d in range(rank))
        n = 1
        for x in shape:
            n *= x
        return out.reshape(shape) if n == out.size else out

    def __getitem__(self, args, new_dtype=None):
        if isinstance(args, RegionReference):
            return self._read_region(args)
        if new_dtype is None and self._state.writer is None:
            # Basic indexes of plain numeric datasets are handled by the engine in one call.
            out = self._n().getitem(args)
            if out is not None:
                return out
        args = args if isinstance(args, tuple) else (args,)
        if any(a is None for a in args):
            raise TypeError("Indexing with None (or np.newaxis) is not supported")
        if self.shape is None:
            if args == () or (len(args) == 1 and args[0] is Ellipsis):
                return Empty(self.dtype)
            raise ValueError("Empty datasets cannot be sliced")
        names, args = _names_args(args)
        if not names and args != ():
            slab = self._slab(args)
            if slab is not None:
                start, count, step, keep = slab
                shape = self.shape
                if 0 in count:
                    out = numpy.empty(tuple(count[d] for d in keep) + self.dtype.shape,
                                      self.dtype.base)
                elif (list(count) == list(shape) and all(x == 0 for x in start)
                      and all(x == 1 for x in step)):
                    out = self._read_all()
                else:
                    out = self._n().read_slab(start, count, step)
                    out = out.reshape(tuple(count[d] for d in keep) + out.shape[len(shape):])
                if new_dtype is not None:
                    out = out.astype(new_dtype)
                if not keep and not (len(shape) == 0 and any(a is Ellipsis for a in args)):
                    return out[()]
                return out
        if names and self.dtype.names is None:
            raise ValueError("Field names only allowed for compound types")
        _check_index(args, self.shape)
        args = self._expand(args)
        arr = self._read_all()
        if names:
            arr = _select_fields(arr, names[0] if len(names) == 1 else list(names))
        if new_dtype is not None:
            arr = arr.astype(new_dtype)
        out = arr[args] if args != () else arr
        if isinstance(out, numpy.ndarray) and out.shape == ():
            return out[()] if args == () else out
        return out

    def _expand(self, args):
        """Checks an index against the dataset's rank as h5py does, and makes it address the
        dataset's dimensions only (not the trailing ones of an array type)."""
        rank = len(self.shape)
        for a in args:
            if isinstance(a, slice) and a.step is not None and a.step < 1:
                raise ValueError("Step must be >= 1 (got %d)" % a.step)
        real = [a for a in args if a is not Ellipsis]
        if len(real) > rank:
            raise ValueError("%d indexing arguments for %d dimensions" % (len(real), rank))
        if self.dtype.subdtype is None or args == ():
            return args
        out = []
        for a in args:
            if a is Ellipsis:
                out.extend([slice(None)] * (rank - len(real)))
            else:
                out.append(a)
        out.extend([slice(None)] * (rank - len(out)))
        return tuple(out)

    def __array__(self, dtype=None, copy=None):
        if copy is False:
            raise ValueError("Dataset.__array__ received copy=False but memory allocation "
                             "cannot be avoided on read")
        arr = self._read_all()
        if dtype is not None:
            arr = arr.astype(dtype)
        return arr

    def len(self):
        """The size of the first axis; TypeError for a scalar dataset."""
        s = self.shape
        if not s:
            raise TypeError("Attempt to take len() of scalar dataset")
        return s[0]

    def __len__(self):
        return self.len()

    def __iter__(self):
        s = self.shape
        if not s:
            raise TypeError("Can't iterate over a scalar dataset")
        arr = self._read_all()
        for i in range(s[0]):
            yield arr[i]

    def read_direct(self, dest, source_sel=None, dest_sel=None):
        """Reads ``self[source_sel]`` into ``dest[dest_sel]``."""
        if (source_sel is None and dest_sel is None and isinstance(dest, numpy.ndarray)
                and dest.flags.c_contiguous and dest.flags.writeable
                and dest.dtype == self.dtype and not dest.dtype.hasobject
                and dest.shape == self.shape and self.dtype.isnative
                and self.dtype.kind in "iufcb" and self.dtype.names is None):
            # straight into the caller's buffer, no copy
            if self._n().read_into(dest.reshape(-1).view(numpy.uint8)):
                return
        data = self[source_sel] if source_sel is not None else self._read_all()
        if dest_sel is None:
            dest[...] = data
        else:
            dest[dest_sel] = data

    def asstr(self, encoding=None, errors="strict"):
        """A wrapper reading string data as ``str`` (decoded with the stored encoding, or
        ``encoding``)."""
        info = check_string_dtype(self.dtype)
        if info is None:
            raise TypeError("dset.asstr() can only be used on datasets with an HDF5 string datatype")
        if encoding is None:
            encoding = info.encoding
        return _AsStr(self, encoding, errors)

    def astype(self, dtype):
        """A wrapper reading the data converted to ``dtype``."""
        return _AsType(self, numpy.dtype(dtype))

    def fields(self, names):
        """A wrapper reading only the named fields of a compound dataset."""
        return _Fields(self, names)

    def __setitem__(self, args, val):
        w = self._w()
        if self.is_virtual:
            return self._write_virtual(args, val)
        if type(args) is int and type(val) is numpy.ndarray:
            # One whole row (or element) of a plain numeric dataset from an array of its own
            # type and shape, e.g. the appends of a growing log: no general selection work.
            shape = self.shape
            dt = self.dtype
            if (shape and val.dtype == dt and not dt.hasobject and not dt.shape
                    and val.shape == tuple(shape[1:]) and val.flags.c_contiguous):
                i = args + shape[0] if args < 0 else args
                if 0 <= i < shape[0]:
                    rank = len(shape)
                    w.write_bytes(self._addr, [i] + [0] * (rank - 1), [1] + list(shape[1:]),
                                  [1] * rank, val.reshape(-1).view(numpy.uint8))
                    self._changed_keep_info()
                    return
        args = args if isinstance(args, tuple) else (args,)
        names, args = _names_args(args)
        if self.shape is None:
            raise OSError("Can't synchronously write data (src and dest dataspaces have "
                          "different number of elements selected)")
        if names:
            # fields of a compound: read the selection, set the fields, write it back
            if self.dtype.names is None:
                raise ValueError("Field names only allowed for compound types")
            cur = self[args] if args != () else self[()]
            cur = numpy.array(cur, copy=True)
            if len(names) == 1:
                cur[names[0]] = val
            else:
                val = numpy.asarray(val)
                for n in names:
                    cur[n] = val[n] if val.dtype.names else val
            self[args if args != () else ()] = cur
            return
        dt = self.dtype
        slab = self._slab(args) if args != () else self._slab((Ellipsis,))
        if slab is None:
            # fancy selection: read, assign with NumPy, write back
            _check_index(args, self.shape)
            arr = self._read_all()
            arr[self._expand(args)] = val
            slab = self._slab((Ellipsis,))
            val = arr
        start, count, step, keep = slab
        if 0 in count:
            return
        sel_shape = tuple(count[d] for d in keep) + dt.shape
        if check_vlen_dtype(dt) in (str, bytes):
            arr = numpy.empty(sel_shape, dtype=object)
            arr[...] = val
        elif check_vlen_dtype(dt) is not None:
            arr = _vlen_objects(val, sel_shape)
        else:
            arr = numpy.asarray(val, dtype=dt.base if dt.shape else dt)
            if arr.shape != sel_shape:
                arr = numpy.broadcast_to(arr, sel_shape)
        arr = numpy.ascontiguousarray(arr).reshape(tuple(count) + dt.shape)
        if not dt.hasobject:
            # fixed-size elements: the array's bytes are what is stored (no copy)
            w.write_bytes(self._addr, start, count, step, arr.reshape(-1).view(numpy.uint8))
        else:
            w.write(self._addr, start, count, step, arr, dt)
        self._changed_keep_info()

    def _changed_keep_info(self, info=None):
        """Records a change that leaves this dataset's shape and type as ``info`` says (or as
        they were): its cached writer description stays valid."""
        st = self._state
        c = self.__dict__.get("_winfo_cache")
        valid = c is not None and c[0] == st.changes
        st.changed()
        if info is not None:
            self._winfo_cache = (st.changes, info)
        elif valid:
            self._winfo_cache = (st.changes, c[1])

    def resize(self, size, axis=None):
        """Changes the shape (within ``maxshape``); the dataset must be chunked."""
        w = self._w()
        if self.chunks is None:
            raise TypeError("Only chunked datasets can be resized")
        shape = self.shape
        if axis is not None:
            if not 0 <= axis < len(shape):
                raise ValueError("Invalid axis (0 to %s allowed)" % (len(shape) - 1))
            new = list(shape)
            new[axis] = int(size)
        else:
            new = [size] if isinstance(size, (int, numpy.integer)) else [int(x) for x in size]
            if len(new) != len(shape):
                raise TypeError("New shape length (%d) must match dataset rank (%d)"
                                % (len(new), len(shape)))
        for n, m in zip(new, self.maxshape):
            if m is not None and n > m:
                # h5py raises ValueError over HDF5 1.x, RuntimeError over HDF5 2.0: both catch it
                raise _ResizeError(
                    "Unable to synchronously change a dataset's dimensions (dimension cannot "
                    f"exceed the existing maximal size (new: {n} max: {m}))")
        w.resize(self._addr, new)
        info = self._winfo()
        self._changed_keep_info(None if info is None else (list(new),) + tuple(info[1:]))

    def write_direct(self, source, source_sel=None, dest_sel=None):
        """Writes ``source[source_sel]`` into ``self[dest_sel]``."""
        data = source if source_sel is None else source[source_sel]
        self[() if dest_sel is None else dest_sel] = data

    def iter_chunks(self, sel=None):
        """An iterator over the chunks the selection touches: for each, the tuple of slices
        (step 1) of the part of the selection inside that chunk, as h5py does. The selection
        has one slice or integer per dimension; an integer selects one index; steps are
        ignored."""
        if not self.chunks:
            raise TypeError("Chunked dataset required")
        shape = self.shape
        rank = len(shape)
        if sel is None:
            bounds = [(0, n) for n in shape]
        else:
            sel = [sel] if isinstance(sel, (slice, int)) else list(sel)
            if len(sel) != rank:
                raise ValueError("Invalid selection - selection region must have same rank "
                                 "as dataset")
            bounds = []
            for a, n in zip(sel, shape):
                if isinstance(a, slice):
                    bounds.append((a.start or 0, a.stop or n))
                elif isinstance(a, int):
                    bounds.append((a, a + 1))
                else:
                    raise AssertionError(f"{a}: Selection object must be a slice or integer")
        for (b, e), n in zip(bounds, shape):
            if b < 0 or e > n or e <= b:
                raise ValueError("Invalid selection - selection region must be within dataset "
                                 "space")
        if rank == 0:
            return iter(())
        import itertools
        axes = []
        for (b, e), c in zip(bounds, self.chunks):
            axes.append([slice(max(k, b), min(k + c, e), 1) for k in range(b // c * c, e, c)])
        return itertools.product(*axes)

    def __repr__(self):
        if not self._state.open:
            return "<Closed HDF5 dataset>"
        name = "(anonymous)" if self.name is None else f'"{posixpath.basename(self.name)}"'
        return f'<HDF5 dataset {name}: shape {self.shape}, type "{self.dtype.str}">'


def _ref_addrs(value):
    """Addresses of the references in an attribute value (array of references)."""
    return [r._addr for r in numpy.asarray(value, dtype=object).reshape(-1) if r]


class DimensionManager:
    """``dset.dims``: one DimensionProxy per dimension."""

    def __init__(self, dset):
        self._dset = dset

    def __len__(self):
        return len(self._dset.shape)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError("Index out of range")
        return DimensionProxy(self._dset, index % len(self))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def create_scale(self, dset, name=""):
        """Deprecated spelling of ``dset.make_scale(name)``."""
        dset.make_scale(name)

    def __repr__(self):
        return f"<Dimensions of HDF5 object at {id(self._dset)}>"


class DimensionProxy:
    """One dimension of a dataset: its label and attached scales."""

    def __init__(self, dset, dim):
        self._dset = dset
        self._dim = dim

    def _lists(self):
        d = self._dset
        rank = len(d.shape)
        if "DIMENSION_LIST" not in d.attrs:
            return [[] for _ in range(rank)]
        v = d.attrs["DIMENSION_LIST"]
        return [_ref_addrs(v[i]) for i in range(rank)]

    @property
    def label(self):
        """The dimension's label ('' if none)."""
        d = self._dset
        if "DIMENSION_LABELS" not in d.attrs:
            return ""
        v = d.attrs["DIMENSION_LABELS"][self._dim]
        if isinstance(v, bytes):
            v = v.decode("utf-8", "surrogateescape")
        return v or ""

    @label.setter
    def label(self, value):
        d = self._dset
        rank = len(d.shape)
        if "DIMENSION_LABELS" in d.attrs:
            labels = [x.decode() if isinstance(x, bytes) else (x or "")
                      for x in d.attrs["DIMENSION_LABELS"]]
        else:
            labels = [""] * rank
        labels[self._dim] = value
        d.attrs.create("DIMENSION_LABELS", numpy.array(labels, dtype=object),
                       dtype=string_dtype("ascii"))

    def _scales(self):
        d = self._dset
        out = []
        for addr in self._lists()[self._dim]:
            node = _h5oxide.node_at(d._n().token, addr, "")
            out.append(Dataset(node, d._state))
        return out

    def __len__(self):
        return len(self._lists()[self._dim])

    def __getitem__(self, item):
        scales = self._scales()
        if isinstance(item, int):
            return scales[item]
        for s in scales:
            if _scale_name(s) == item:
                return s
        raise KeyError(item)

    def __iter__(self):
        for s in self._scales():
            yield _scale_name(s)

    def keys(self):
        """Names of the attached scales."""
        return [_scale_name(s) for s in self._scales()]

    def values(self):
        """The attached scales."""
        return self._scales()

    def items(self):
        """``(name, scale)`` pairs."""
        return [(_scale_name(s), s) for s in self._scales()]

    def attach_scale(self, dscale):
        """Attaches the dimension scale ``dscale`` to this dimension."""
        d = self._dset
        w = d._w()
        if not dscale.is_scale:
            dscale.make_scale()
        lists = self._lists()
        if dscale._addr in lists[self._dim]:
            return
        lists[self._dim].append(dscale._addr)
        refs = [(r._addr, int(i)) for r, i in dscale.attrs["REFERENCE_LIST"]] \
            if "REFERENCE_LIST" in dscale.attrs else []
        refs.append((d._addr, self._dim))
        w.set_dimension_list(d._addr, lists)
        w.set_reference_list(dscale._addr, refs)
        d._state.changed()

    def detach_scale(self, dscale):
        """Detaches the dimension scale ``dscale`` from this dimension."""
        d = self._dset
        w = d._w()
        lists = self._lists()
        if dscale._addr not in lists[self._dim]:
            raise ValueError("Scale is not attached to this dimension")
        lists[self._dim].remove(dscale._addr)
        refs = [(r._addr, int(i)) for r, i in dscale.attrs["REFERENCE_LIST"]] \
            if "REFERENCE_LIST" in dscale.attrs else []
        refs = [x for x in refs if x != (d._addr, self._dim)]
        w.set_dimension_list(d._addr, lists)
        w.set_reference_list(dscale._addr, refs)
        d._state.changed()

    def __repr__(self):
        return f'<"{self.label}" dimension {self._dim} of HDF5 dataset at {id(self._dset)}>'


def _scale_name(scale):
    if "NAME" not in scale.attrs:
        return ""
    v = scale.attrs["NAME"]
    if isinstance(v, (bytes, numpy.bytes_)):
        v = bytes(v).rstrip(b"\0").decode("utf-8", "surrogateescape")
    return v


class _Wrapper:
    def __init__(self, dset):
        self._dset = dset

    def __len__(self):
        return len(self._dset)

    @property
    def shape(self):
        return self._dset.shape

    @property
    def ndim(self):
        return self._dset.ndim

    @property
    def size(self):
        return self._dset.size

    def __array__(self, dtype=None, copy=None):
        arr = self[()] if self._dset.ndim else numpy.asarray(self[()])
        arr = numpy.asarray(arr)
        return arr if dtype is None else arr.astype(dtype)


class _AsStr(_Wrapper):
    def __init__(self, dset, encoding, errors):
        super().__init__(dset)
        self.encoding = encoding
        self.errors = errors

    @property
    def dtype(self):
        return numpy.dtype(object)

    def __getitem__(self, args):
        data = self._read_str(args)
        if data is not None:
            return data
        data = self._dset[args]
        if isinstance(data, bytes):
            return data.decode(self.encoding, self.errors)
        if isinstance(data, numpy.bytes_):
            return bytes(data).decode(self.encoding, self.errors)
        arr = numpy.asarray(data)
        enc, err = self.encoding, self.errors
        if arr.dtype.kind == "O" and enc.replace("-", "").replace("_", "").lower() == "utf8" \
                and err == "strict":
            fast = _h5oxide.utf8_strings(arr.reshape(-1))
            if fast is not None:
                return fast.reshape(arr.shape)
        out = numpy.empty(arr.shape, dtype=object)
        # One pass over a list (indexing an object array element by element costs more than
        # the decoding itself).
        out.reshape(-1)[:] = [bytes(b).decode(enc, err) for b in arr.reshape(-1).tolist()]
        return out


    def _read_str(self, args):
        """UTF-8 strings made by the engine straight from the stored bytes, for a dataset of
        variable-length strings, the default encoding and a basic index; None otherwise (or
        when a string is not valid UTF-8: the caller's path then raises Python's error)."""
        d = self._dset
        enc = self.encoding.replace("-", "").replace("_", "").lower()
        info = check_string_dtype(d.dtype)
        if enc != "utf8" or self.errors != "strict" or info is None or info.length is not None \
                or not d.shape:
            return None
        args = args if isinstance(args, tuple) else (args,)
        if any(isinstance(a, (str, bytes)) for a in args):
            return None
        try:
            slab = d._slab(args)
        except (TypeError, ValueError, IndexError):
            return None
        if slab is None:
            return None
        start, count, step, keep = slab
        if 0 in count:
            return None
        if (list(count) == list(d.shape) and all(x == 0 for x in start)
                and all(x == 1 for x in step)):
            out = d._n().read(True)
        else:
            out = d._n().read_slab(start, count, step, True)
        out = out.reshape(tuple(count[i] for i in keep))
        if out.size and not isinstance(out.reshape(-1)[0], str):
            return None
        return out if keep else out[()]


class _AsType(_Wrapper):
    def __init__(self, dset, dtype):
        super().__init__(dset)
        self.dtype = dtype

    def __getitem__(self, args):
        return self._dset.__getitem__(args, new_dtype=self.dtype)


class _Fields(_Wrapper):
    def __init__(self, dset, names):
        super().__init__(dset)
        self._names = names

    @property
    def dtype(self):
        if isinstance(self._names, str):
            return self._dset.dtype.fields[self._names][0]
        return numpy.dtype([(n, self._dset.dtype.fields[n][0]) for n in self._names])

    def __getitem__(self, args):
        arr = self._dset._read_all()
        sel = self._names if isinstance(self._names, str) else list(self._names)
        return _select_fields(arr, sel)[args]


def _select_fields(arr, names):
    """``arr[names]`` as h5py reads it: one field's array, or a new packed structured array."""
    if isinstance(names, str):
        return arr[names]
    packed = numpy.dtype([(n, arr.dtype.fields[n][0]) for n in names])
    out = numpy.empty(arr.shape, packed)
    for n in names:
        out[n] = arr[n]
    return out


def _vlen_objects(data, shape=None):
    """An object array of variable-length sequences from ``data``: an object array (kept), a
    single sequence (for a scalar ``shape``) or nested sequences whose innermost level are
    the sequences (``shape`` gives how many levels are the array's)."""
    if isinstance(data, numpy.ndarray) and data.dtype.kind == "O" and \
            (shape is None or data.shape == tuple(shape)):
        return data
    if shape is None:
        if isinstance(data, numpy.ndarray) and data.dtype.kind != "O":
            # a numeric array: its rows are the sequences (its last axis their elements)
            shape = data.shape[:-1]
        else:
            shape = (len(data),) if isinstance(data, (list, tuple)) else ()
    shape = tuple(shape)
    arr = numpy.empty(shape, dtype=object)
    if not shape:
        arr[()] = data
        return arr
    for idx in numpy.ndindex(*shape):
        v = data
        for i in idx:
            v = v[i]
        arr[idx] = v
    return arr


def _find_item_type(data):
    """The one type of every item of a (nested) list or tuple, or of an object array, as h5py's
    ``find_item_type`` finds it; None when the items differ or for other containers."""
    if isinstance(data, numpy.ndarray):
        if data.dtype.kind == "O" and check_string_dtype(data.dtype) is None and len(data) > 0:
            types = {type(e) for e in data.flat}
        else:
            return None
    elif isinstance(data, (list, tuple)):
        types = {_find_item_type(e) for e in data}
    else:
        return type(data)
    if len(types) != 1:
        return None
    return types.pop()


def _as_array(data, dtype=None):
    """``(array, dtype)`` as h5py converts a value to store: str becomes a variable-length
    UTF-8 string, NumPy unicode arrays too; other values go through ``numpy.asarray``."""
    if dtype is not None:
        dt = numpy.dtype(dtype)
        if check_vlen_dtype(dt) in (str, bytes) or check_ref_dtype(dt) is not None:
            arr = numpy.empty(numpy.shape(data), dtype=object)
            arr[...] = data
            return arr, dt
        if check_vlen_dtype(dt) is not None:
            return _vlen_objects(data), dt
        return numpy.asarray(data, dtype=dt), dt
    if isinstance(data, Reference) or (isinstance(data, (list, tuple)) and data
                                       and all(isinstance(x, Reference) for x in data)):
        arr = numpy.empty(numpy.shape(data) if not isinstance(data, Reference) else (),
                          dtype=object)
        arr[...] = data if not isinstance(data, Reference) else [data][0]
        region = all(isinstance(x, RegionReference) for x in arr.reshape(-1))
        return arr, regionref_dtype if region else ref_dtype
    if type(data) is bytes:  # like h5py's guess_dtype: variable-length ASCII
        arr = numpy.empty((), dtype=object)
        arr[()] = data
        return arr, string_dtype("ascii")
    item = _find_item_type(data) if isinstance(data, (list, tuple)) else None
    if item is bytes or item is str:
        # h5py's guess_dtype: (nested) lists of bytes or of str are variable-length strings
        # (ASCII or UTF-8), not NumPy's fixed-length 'S'/'U' arrays
        arr = numpy.empty(numpy.shape(data), dtype=object)
        arr[...] = data
        return arr, string_dtype("ascii" if item is bytes else "utf-8")
    arr = numpy.asarray(data)
    if arr.dtype.kind == "U" and not check_opaque_dtype(arr.dtype):
        out = numpy.empty(arr.shape, dtype=object)
        out[...] = arr.tolist() if arr.shape else str(arr[()])
        return out, string_dtype()
    if arr.dtype.kind == "O":
        vlen = check_vlen_dtype(arr.dtype)
        if vlen is None:
            flat = arr.reshape(-1)
            if all(isinstance(x, str) for x in flat):
                return arr, string_dtype()
            if all(isinstance(x, bytes) for x in flat):
                return arr, string_dtype("ascii")
            raise TypeError("Object dtype dtype('O') has no native HDF5 equivalent")
    return arr, arr.dtype


def _external_entry(entry):
    """A ``(name, offset, size)`` entry of ``external=``, checked as h5py checks it."""
    if not isinstance(entry, tuple):
        raise TypeError("Each external entry must be a tuple of (name, offset, size)")
    name, offset, size = entry
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    name = os.fspath(name)
    return name, operator.index(offset), operator.index(size)


def _normalize_external(external):
    """h5py's ``external=``: a file name (the whole dataset in it, unlimited) or an iterable of
    ``(name, offset, size)`` tuples; ``[]`` for None."""
    if external is None:
        return []
    if isinstance(external, (str, bytes, os.PathLike)):
        return [_external_entry((external, 0, _H5S.UNLIMITED))]
    return [_external_entry(e) for e in external]


def _guess_chunk(shape, maxshape, typesize):
    """h5py's chunk shape heuristic: about 16 KiB–1 MiB, halving axes in turn."""
    import math
    shape = tuple((x if x != 0 else 1024) for i, x in enumerate(shape))
    ndims = len(shape)
    if ndims == 0:
        raise ValueError("Chunks not allowed for scalar datasets.")
    chunks = numpy.array(shape, dtype="=f8")
    if not numpy.all(numpy.isfinite(chunks)):
        raise ValueError("Illegal value in chunk tuple")
    dset_size = numpy.prod(chunks) * typesize
    target_size = 16 * 1024 * (2 ** numpy.log10(dset_size / (1024. * 1024)))
    target_size = min(max(target_size, 8 * 1024), 1024 * 1024)
    idx = 0
    while True:
        chunk_bytes = numpy.prod(chunks) * typesize
        if (chunk_bytes < target_size or abs(chunk_bytes - target_size) / target_size < 0.5) \
                and chunk_bytes < 1024 * 1024:
            break
        if numpy.prod(chunks) == 1:
            break
        chunks[idx % ndims] = math.ceil(chunks[idx % ndims] / 2.0)
        idx += 1
    return tuple(int(x) for x in chunks)


_REOPENED = {}


def _reopen(filename, name):
    """Unpickling: the object ``name`` of ``filename`` opened read-only (one File per name
    per process)."""
    f = _REOPENED.get(filename)
    if f is None or not f:
        f = _REOPENED[filename] = File(filename, "r")
    return f if name == "/" else f[name]
