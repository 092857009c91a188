//! `h5oxide._h5oxide`: the native half of the `h5oxide` Python package.
//!
//! It exposes the Rust reader in small pieces that `h5oxide/__init__.py` assembles into an
//! h5py-compatible API: [`open`] returns a [`Node`] for the root group; a node is a group, a
//! dataset or a committed datatype and answers questions about itself (links, attributes, shape,
//! dtype, values). All file I/O and decoding run with the GIL released (`Python::detach`); there
//! is no lock of our own (the Rust file handle is `Send + Sync`).

use std::sync::Arc;

use h5oxide::file::FileInner;
use h5oxide::format::messages::dataspace::Dataspace;
use h5oxide::{Error, LinkKind, Object};
use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyError, PyOSError, PyPermissionError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyList, PySlice, PyTuple};

/// `(filter id, flags, client data values, name)` of one filter of a pipeline.
type FilterDetail = (u16, u16, Vec<u32>, Vec<u8>);

mod convert;
mod dtype;
mod write;

use convert::Mode;

/// A dataspace selection for Python: `(type, npoints, regular, points, blocks)` with type 0
/// none, 1 points, 2 hyperslabs, 3 all (h5py's `h5s.SEL_*`); `npoints` `None` when unlimited
/// (or "all"); `regular` `(start, stride, count, block)` for a regular hyperslab (unlimited
/// entries are 2**64-1, `h5s.UNLIMITED`); `points` the coordinates of a point selection;
/// `blocks` the `(start, end)` corners of an irregular hyperslab.
type SelectionTuple = (
    u8,
    Option<u64>,
    Option<[Vec<u64>; 4]>,
    Option<Vec<Vec<u64>>>,
    Option<Vec<(Vec<u64>, Vec<u64>)>>,
);

/// A virtual space for Python: `(extent, max extent, selection)`.
type SpaceTuple = (Vec<u64>, Vec<u64>, SelectionTuple);

/// One virtual dataset mapping for Python: `(file, dataset, virtual space, source space)`.
type VirtualMapTuple = (String, String, SpaceTuple, SpaceTuple);

fn selection_tuple(sel: &h5oxide::format::value::Selection) -> SelectionTuple {
    use h5oxide::format::value::Selection;
    match sel {
        Selection::None => (0, Some(0), None, None, None),
        Selection::All => (3, None, None, None, None),
        Selection::Points { points, .. } => (1, sel.npoints(), None, Some(points.clone()), None),
        Selection::Regular { .. } => (2, sel.npoints(), sel.regular(), None, None),
        Selection::Blocks { blocks, .. } => {
            (2, sel.npoints(), sel.regular(), None, Some(blocks.clone()))
        }
    }
}

/// The rank of a selection (`default` for none/all, which do not carry one).
fn selection_rank(sel: &h5oxide::format::value::Selection, default: usize) -> usize {
    use h5oxide::format::value::Selection;
    match sel {
        Selection::Points { rank, .. } | Selection::Blocks { rank, .. } => *rank as usize,
        Selection::Regular { start, .. } => start.len(),
        _ => default,
    }
}

/// The inclusive bounding box of a selection; `None` when empty, "all" or unlimited.
fn selection_bounds(
    sel: &h5oxide::format::value::Selection,
    _rank: usize,
) -> Option<(Vec<u64>, Vec<u64>)> {
    use h5oxide::format::value::Selection;
    match sel {
        Selection::Regular {
            start,
            stride,
            count,
            block,
        } => {
            let mut hi = Vec::with_capacity(start.len());
            for d in 0..start.len() {
                let (c, b) = (count[d], block[d]);
                if c == u64::MAX || b == u64::MAX || c == 0 || b == 0 {
                    return None;
                }
                hi.push(
                    (c - 1)
                        .checked_mul(stride[d])?
                        .checked_add(start[d])?
                        .checked_add(b - 1)?,
                );
            }
            Some((start.clone(), hi))
        }
        Selection::Points { points, .. } => {
            let first = points.first()?;
            let (mut lo, mut hi) = (first.clone(), first.clone());
            for p in points {
                for (d, &x) in p.iter().enumerate() {
                    if let (Some(l), Some(h)) = (lo.get_mut(d), hi.get_mut(d)) {
                        *l = (*l).min(x);
                        *h = (*h).max(x);
                    }
                }
            }
            Some((lo, hi))
        }
        Selection::Blocks { blocks, .. } => {
            let (s0, e0) = blocks.first()?;
            let (mut lo, mut hi) = (s0.clone(), e0.clone());
            for (s, e) in blocks {
                for d in 0..lo.len() {
                    if let (Some(&a), Some(&b)) = (s.get(d), e.get(d)) {
                        lo[d] = lo[d].min(a);
                        hi[d] = hi[d].max(b);
                    }
                }
            }
            Some((lo, hi))
        }
        _ => None,
    }
}

/// Maps a Rust error to the exception h5py raises in the same situation.
pub(crate) fn to_py_err(e: Error) -> PyErr {
    match e {
        Error::NotFound(m) => PyKeyError::new_err(format!("Unable to open object ({m})")),
        Error::Invalid(m) => PyValueError::new_err(m),
        Error::Io(m) => PyOSError::new_err(m),
        other => PyOSError::new_err(other.to_string()),
    }
}

/// An opaque reference to an open file, carried by `Reference` objects so they can be
/// dereferenced later.
#[pyclass(frozen, module = "h5oxide._h5oxide")]
pub struct FileToken {
    pub(crate) inner: Arc<FileInner>,
}

#[pymethods]
impl FileToken {
    /// An integer identifying the file (equal for handles of the same open file).
    fn ident(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }
}

/// A link as Python sees it: `(name, kind, target, file)`.
type LinkTuple = (String, &'static str, String, Option<String>);

/// A link as `(name, kind, target, file)`: kind `"hard"` (target: the address), `"soft"`
/// (target: the path), `"external"` (target: the path, file: the file name) or `"user"`
/// (target: the link class).
fn link_tuple(l: &h5oxide::Link) -> LinkTuple {
    let (kind, target, file) = match &l.kind {
        LinkKind::Hard(a) => ("hard", a.to_string(), None),
        LinkKind::Soft(p) => ("soft", p.clone(), None),
        LinkKind::External { file, path } => ("external", path.clone(), Some(file.clone())),
        LinkKind::UserDefined(c) => ("user", c.to_string(), None),
    };
    (l.name.clone(), kind, target, file)
}

/// A group, dataset or committed datatype.
#[pyclass(frozen, module = "h5oxide._h5oxide")]
pub struct Node {
    obj: Object,
    /// For a dataset of a plain numeric type: its NumPy dtype, made once for the fast indexing
    /// path of [`Node::getitem`] (`None` inside: the dataset takes the general path).
    fast_dtype: std::sync::OnceLock<Option<Py<PyAny>>>,
}

impl Node {
    pub(crate) fn new(obj: Object) -> Node {
        Node {
            obj,
            fast_dtype: std::sync::OnceLock::new(),
        }
    }

    fn file(&self) -> &Arc<FileInner> {
        match &self.obj {
            Object::Group(g) => g.file_inner(),
            Object::Dataset(d) => d.file_inner(),
            Object::Datatype(t) => t.file_inner(),
        }
    }

    fn group(&self) -> PyResult<&h5oxide::Group> {
        match &self.obj {
            Object::Group(g) => Ok(g),
            _ => Err(PyTypeError::new_err(format!(
                "{} is not a group",
                self.obj.name()
            ))),
        }
    }

    /// The NumPy dtype of a dataset [`Node::getitem`] serves (plain integers and floats whose
    /// stored layout NumPy shares), made once; None for anything else.
    fn fast_dtype<'py>(&self, py: Python<'py>) -> PyResult<Option<&Bound<'py, PyAny>>> {
        if self.fast_dtype.get().is_none() {
            let made = match &self.obj {
                Object::Dataset(d)
                    if matches!(
                        d.dtype(),
                        h5oxide::format::datatype::Datatype::FixedPoint(_)
                            | h5oxide::format::datatype::Datatype::Float(_)
                    ) && convert::identical_layout(py, d.dtype())? =>
                {
                    Some(dtype::numpy_dtype(py, d.dtype())?.unbind())
                }
                _ => None,
            };
            let _ = self.fast_dtype.set(made);
        }
        Ok(self
            .fast_dtype
            .get()
            .and_then(|v| v.as_ref())
            .map(|v| v.bind(py)))
    }

    fn dataset(&self) -> PyResult<&h5oxide::Dataset> {
        match &self.obj {
            Object::Dataset(d) => Ok(d),
            _ => Err(PyTypeError::new_err(format!(
                "{} is not a dataset",
                self.obj.name()
            ))),
        }
    }

    fn attribute(&self, py: Python<'_>, name: &str) -> PyResult<h5oxide::Attribute> {
        let obj = self.obj.clone();
        let n = name.to_string();
        py.detach(move || match &obj {
            Object::Group(g) => g.attr(&n),
            Object::Dataset(d) => d.attr(&n),
            Object::Datatype(_) => obj.attrs().and_then(|v| {
                v.into_iter()
                    .find(|a| a.name() == n)
                    .ok_or(Error::NotFound(format!("attribute {n:?}")))
            }),
        })
        .map_err(|e| match e {
            Error::NotFound(_) => PyKeyError::new_err(format!(
                "Can't open attribute (can't locate attribute: '{name}')"
            )),
            e => to_py_err(e),
        })
    }
}

#[pymethods]
impl Node {
    /// `"group"`, `"dataset"` or `"datatype"`.
    #[getter]
    fn kind(&self) -> &'static str {
        match self.obj {
            Object::Group(_) => "group",
            Object::Dataset(_) => "dataset",
            Object::Datatype(_) => "datatype",
        }
    }

    /// The path the object was opened by.
    #[getter]
    fn name(&self) -> String {
        self.obj.name().to_string()
    }

    /// Address of the object header.
    #[getter]
    fn addr(&self) -> u64 {
        match &self.obj {
            Object::Group(g) => g.addr(),
            Object::Dataset(d) => d.addr(),
            Object::Datatype(t) => t.addr(),
        }
    }

    /// The file holding the object (external links may lead to another file).
    #[getter]
    fn token(&self) -> FileToken {
        FileToken {
            inner: self.file().clone(),
        }
    }

    /// Path of the file holding the object.
    #[getter]
    fn filename(&self) -> Option<String> {
        self.file().path().map(|p| p.to_string_lossy().into_owned())
    }

    /// The group's links, in the order h5py iterates them (creation order when every link
    /// has one, else by name), as `(name, kind, target, file)` with kind `"hard"`, `"soft"`,
    /// `"external"` or `"user"`.
    fn links<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let g = self.group()?.clone();
        let mut links = py.detach(move || g.links()).map_err(to_py_err)?;
        if !links.is_empty() && links.iter().all(|l| l.creation_order.is_some()) {
            links.sort_by_key(|l| l.creation_order);
        }
        let out = PyList::empty(py);
        for l in links {
            out.append(link_tuple(&l))?;
        }
        Ok(out)
    }

    /// The link called `name` in this group, as `(name, kind, target, file)` (see
    /// [`Node::links`]), or `None`.
    fn link(&self, py: Python<'_>, name: &str) -> PyResult<Option<LinkTuple>> {
        let g = self.group()?;
        let file = g.file_inner().clone();
        let addr = g.addr();
        let n = name.to_string();
        let found = py
            .detach(
                move || -> h5oxide::Result<Option<h5oxide::format::messages::link::Link>> {
                    let oh = file.header(addr)?;
                    h5oxide::format::group::lookup(&file.ctx(), &oh, n.as_bytes())
                },
            )
            .map_err(to_py_err)?;
        Ok(found.map(|l| {
            use h5oxide::format::messages::link::LinkTarget;
            let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let kind = match &l.target {
                LinkTarget::Hard(a) => LinkKind::Hard(*a),
                LinkTarget::Soft(t) => LinkKind::Soft(s(t)),
                LinkTarget::External { file, path } => LinkKind::External {
                    file: s(file),
                    path: s(path),
                },
                LinkTarget::UserDefined { class, .. } => LinkKind::UserDefined(*class),
            };
            link_tuple(&h5oxide::Link {
                name: s(&l.name),
                kind,
                creation_order: l.creation_order,
            })
        }))
    }

    /// The object at `path` (relative to this group, or absolute); `KeyError` if there is none.
    fn get(&self, py: Python<'_>, path: &str) -> PyResult<Node> {
        let g = self.group()?.clone();
        let p = path.to_string();
        let obj = py.detach(move || g.get(&p)).map_err(|e| match e {
            Error::NotFound(m) => {
                PyKeyError::new_err(format!("Unable to synchronously open object ({m})"))
            }
            // h5py: "Can't find object (too many links)" is a KeyError too
            e @ Error::Cycle { .. } => {
                PyKeyError::new_err(format!("Unable to synchronously open object ({e})"))
            }
            e => to_py_err(e),
        })?;
        Ok(Node::new(obj))
    }

    /// True if `path` leads to an object.
    fn contains(&self, py: Python<'_>, path: &str) -> PyResult<bool> {
        let g = self.group()?.clone();
        let p = path.to_string();
        Ok(py.detach(move || g.contains(&p)))
    }

    /// Every object below this group, each once, depth-first with members by name (like
    /// h5py's `visit`, i.e. `H5Ovisit` by name), as `(path relative to this group, node)`.
    /// Only hard links are followed.
    fn walk<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let g = self.group()?.clone();
        let items = py.detach(move || -> h5oxide::Result<Vec<(String, Object)>> {
            let mut out = Vec::new();
            let mut seen = std::collections::HashSet::new();
            seen.insert(g.addr());
            walk_into(&g, "", &mut out, &mut seen, 0)?;
            Ok(out)
        });
        let items = items.map_err(to_py_err)?;
        let out = PyList::empty(py);
        for (rel, obj) in items {
            out.append((rel, Node::new(obj)))?;
        }
        Ok(out)
    }

    /// Names of the object's attributes in the order h5py lists them: creation order when the
    /// object tracks it, else by name.
    fn attr_names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let file = self.file().clone();
        let addr = self.addr();
        let names = py
            .detach(move || -> h5oxide::Result<Vec<Vec<u8>>> {
                let oh = file.header(addr)?;
                let attrs = h5oxide::format::attributes::attribute_messages_with(
                    &file.ctx(),
                    &oh,
                    file.sohm(),
                )?;
                if attrs.creation_order_tracked {
                    if let Some(order) = attrs.attr_order {
                        return Ok(order);
                    }
                    let mut v: Vec<_> = attrs.attributes.iter().collect();
                    v.sort_by_key(|a| a.creation_order.unwrap_or(u64::MAX));
                    return Ok(v.into_iter().map(|a| a.message.name.clone()).collect());
                }
                let mut names: Vec<Vec<u8>> = attrs
                    .attributes
                    .into_iter()
                    .map(|a| a.message.name)
                    .collect();
                names.sort();
                Ok(names)
            })
            .map_err(to_py_err)?;
        Ok(names
            .into_iter()
            .map(|n| String::from_utf8_lossy(&n).into_owned())
            .collect())
    }

    /// The value of attribute `name` as h5py returns it: a NumPy scalar (or `str`/`bytes`) for a
    /// scalar, an array otherwise; `(None, dtype)` for an empty (null dataspace) attribute.
    fn attr_value<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let a = self.attribute(py, name)?;
        if matches!(a.space(), Dataspace::Null) {
            let dt = dtype::numpy_dtype(py, a.dtype())?;
            return Ok(PyTuple::new(py, [py.None().into_bound(py), dt])?.into_any());
        }
        if matches!(a.space(), Dataspace::Scalar) {
            // The common scalar number: a NumPy scalar straight from the bytes.
            if let Some(v) = convert::numpy_scalar(py, a.dtype(), a.raw())? {
                return Ok(v);
            }
        }
        let arr = convert::to_numpy(
            py,
            a.file_inner(),
            a.dtype(),
            a.raw().to_vec(),
            &a.shape(),
            Mode::Attribute,
        )?;
        let ndim: usize = arr.getattr("ndim")?.extract()?;
        if ndim == 0 {
            arr.get_item(PyTuple::empty(py))
        } else {
            Ok(arr)
        }
    }

    /// `(shape, dtype)` of attribute `name`; shape is `None` for a null dataspace.
    fn attr_info<'py>(
        &self,
        py: Python<'py>,
        name: &str,
    ) -> PyResult<(Option<Vec<usize>>, Bound<'py, PyAny>)> {
        let a = self.attribute(py, name)?;
        let shape = if matches!(a.space(), Dataspace::Null) {
            None
        } else {
            Some(a.shape())
        };
        Ok((shape, dtype::numpy_dtype(py, a.dtype())?))
    }

    /// The object header address of attribute `name`'s committed datatype, or `None` when its
    /// type is stored in the attribute.
    fn attr_committed(&self, py: Python<'_>, name: &str) -> PyResult<Option<u64>> {
        Ok(self.attribute(py, name)?.committed_dtype())
    }

    /// Bytes of attribute `name`'s stored value: elements × the stored element size
    /// (16 per variable-length element); 0 for a null dataspace.
    fn attr_storage_size(&self, py: Python<'_>, name: &str) -> PyResult<u64> {
        let a = self.attribute(py, name)?;
        if matches!(a.space(), Dataspace::Null) {
            return Ok(0);
        }
        let n: u64 = a.shape().iter().map(|&d| d as u64).product();
        Ok(n.saturating_mul(u64::from(a.dtype().size())))
    }

    /// The dataset's shape; `None` for a null dataspace.
    #[getter]
    fn shape(&self) -> PyResult<Option<Vec<usize>>> {
        let d = self.dataset()?;
        Ok(if matches!(d.info().space, Dataspace::Null) {
            None
        } else {
            Some(d.shape())
        })
    }

    /// The dataset's maximum shape (`None` entries are unlimited).
    #[getter]
    fn maxshape(&self) -> PyResult<Option<Vec<Option<u64>>>> {
        let d = self.dataset()?;
        Ok(match &d.info().space {
            Dataspace::Null => None,
            Dataspace::Scalar => Some(Vec::new()),
            Dataspace::Simple { .. } => Some(d.maxshape()),
        })
    }

    /// The dataset's filter pipeline as `(filter id, client data)` pairs, in write order.
    #[getter]
    fn filters(&self) -> PyResult<Vec<(u16, Vec<u32>)>> {
        Ok(self
            .filter_details()?
            .into_iter()
            .map(|(id, _, cd, _)| (id, cd))
            .collect())
    }

    /// True for a virtual dataset.
    #[getter]
    fn is_virtual(&self) -> PyResult<bool> {
        Ok(matches!(
            self.dataset()?.info().layout,
            h5oxide::format::messages::layout::DataLayout::Virtual { .. }
        ))
    }

    /// The mappings of a virtual dataset, in stored order, as `(file name, dataset name,
    /// virtual space, source space)`; each space is `(extent, max extent, selection)`, the
    /// selection as [`selection_tuple`] describes it. The virtual space's extent is the stored
    /// one (what libhdf5 reports for it), the source space's the selection's bounds (a scalar
    /// space for "all", zeros when unlimited), as libhdf5 decodes them.
    fn virtual_sources(&self) -> PyResult<Vec<VirtualMapTuple>> {
        let d = self.dataset()?;
        let Some(v) = d.info().virtual_layout.as_ref() else {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "Not a virtual dataset",
            ));
        };
        let vmax: Vec<u64> = d.maxshape().iter().map(|m| m.unwrap_or(u64::MAX)).collect();
        Ok(v.mappings
            .iter()
            .map(|m| {
                use h5oxide::format::value::Selection;
                let vspace = (
                    v.stored_dims.clone(),
                    vmax.clone(),
                    selection_tuple(&m.virtual_sel),
                );
                let src_extent: Vec<u64> = match &m.source {
                    Selection::All => Vec::new(),
                    sel => selection_bounds(sel, v.stored_dims.len())
                        .map(|(_, hi)| hi.iter().map(|&h| h + 1).collect())
                        .unwrap_or_else(|| vec![0; selection_rank(sel, v.stored_dims.len())]),
                };
                let sspace = (src_extent.clone(), src_extent, selection_tuple(&m.source));
                (m.file.clone(), m.dataset.clone(), vspace, sspace)
            })
            .collect())
    }

    /// The filter pipeline in full: `(id, flags, client data, name)` per filter.
    #[getter]
    fn filter_details(&self) -> PyResult<Vec<FilterDetail>> {
        Ok(self
            .dataset()?
            .info()
            .pipeline
            .as_ref()
            .map(|p| {
                p.filters
                    .iter()
                    .map(|f| {
                        (
                            f.id,
                            f.flags,
                            f.cd_values.clone(),
                            f.name.clone().unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Layout class: 0 compact, 1 contiguous, 2 chunked, 3 virtual (h5py's `h5d` values).
    #[getter]
    fn layout_class(&self) -> PyResult<u8> {
        use h5oxide::format::messages::layout::DataLayout;
        Ok(match self.dataset()?.info().layout {
            DataLayout::Compact { .. } => 0,
            DataLayout::Contiguous { .. } => 1,
            DataLayout::Chunked(_) => 2,
            DataLayout::Virtual { .. } => 3,
        })
    }

    /// Absolute file offset of contiguous data (`None` when not contiguous or not allocated).
    fn data_offset(&self) -> PyResult<Option<u64>> {
        Ok(self.dataset()?.data_offset())
    }

    /// Bytes allocated for the data.
    fn storage_size(&self, py: Python<'_>) -> PyResult<u64> {
        let d = self.dataset()?.clone();
        py.detach(move || d.storage_size()).map_err(to_py_err)
    }

    /// The allocated chunks as `(offset, filter mask, absolute address, size)`, by offset.
    #[allow(clippy::type_complexity)]
    fn stored_chunks(&self, py: Python<'_>) -> PyResult<Vec<(Vec<u64>, u32, u64, u64)>> {
        let d = self.dataset()?.clone();
        let r = py.detach(move || d.stored_chunks()).map_err(to_py_err)?;
        Ok(r.into_iter()
            .map(|c| (c.offset, c.filter_mask, c.address, c.size))
            .collect())
    }

    /// The stored (filtered) bytes of a chunk `stored_chunks` listed, given as that record.
    fn stored_chunk_bytes<'py>(
        &self,
        py: Python<'py>,
        offset: Vec<u64>,
        filter_mask: u32,
        address: u64,
        size: u64,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let d = self.dataset()?.clone();
        let rec = h5oxide::format::chunk_index::ChunkRecord {
            offset,
            address,
            size,
            filter_mask,
        };
        let b = py
            .detach(move || d.stored_chunk_bytes(&rec))
            .map_err(to_py_err)?;
        Ok(PyBytes::new(py, &b))
    }

    /// `(filter mask, stored bytes)` of the chunk at element offset `offset` (true
    /// coordinates, looked up in the chunk index), or `None` when it is not allocated.
    fn read_chunk_raw<'py>(
        &self,
        py: Python<'py>,
        offset: Vec<u64>,
    ) -> PyResult<Option<(u32, Bound<'py, PyBytes>)>> {
        let d = self.dataset()?.clone();
        let r = py
            .detach(move || d.read_chunk_raw(&offset))
            .map_err(to_py_err)?;
        Ok(r.map(|(mask, b)| (mask, PyBytes::new(py, &b))))
    }

    /// The external raw storage of a dataset: `(file name, offset, bytes)` per file (`bytes`
    /// 2**64-1: unlimited), or `None` when the data is in the file.
    #[getter]
    fn external_files(&self) -> PyResult<Option<Vec<(String, u64, u64)>>> {
        let d = self.dataset()?;
        let Some(efl) = &d.info().external else {
            return Ok(None);
        };
        let f = d.file_inner();
        let ctx = f.ctx();
        let heap = h5oxide::format::local_heap::LocalHeap::read(&ctx, efl.heap_address)
            .map_err(to_py_err)?;
        let mut out = Vec::with_capacity(efl.slots.len());
        for slot in &efl.slots {
            let name = heap.string_at(slot.name_offset).map_err(to_py_err)?;
            out.push((
                String::from_utf8_lossy(name).into_owned(),
                slot.offset,
                slot.size,
            ));
        }
        Ok(Some(out))
    }

    /// Chunk shape of a chunked dataset, else `None`.
    #[getter]
    fn chunks(&self) -> PyResult<Option<Vec<u64>>> {
        Ok(self.dataset()?.chunks())
    }

    /// The NumPy dtype of a dataset or committed datatype.
    #[getter]
    fn dtype<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.obj {
            Object::Dataset(d) => dtype::numpy_dtype(py, d.dtype()),
            Object::Datatype(t) => {
                let t = t.clone();
                let dt = py.detach(move || t.dtype()).map_err(to_py_err)?;
                dtype::numpy_dtype(py, &dt)
            }
            Object::Group(_) => Err(PyTypeError::new_err("a group has no dtype")),
        }
    }

    /// Reads the whole dataset as a NumPy array (shape = dataset shape + sub-array shape);
    /// `as_str`: variable-length strings as `str` ([`Mode::DatasetStr`]).
    #[pyo3(signature = (as_str=false))]
    fn read<'py>(&self, py: Python<'py>, as_str: bool) -> PyResult<Bound<'py, PyAny>> {
        let d = self.dataset()?.clone();
        let d2 = d.clone();
        let raw = py.detach(move || d2.read_raw()).map_err(to_py_err)?;
        let mode = if as_str {
            Mode::DatasetStr
        } else {
            Mode::Dataset
        };
        convert::to_numpy(py, d.file_inner(), d.dtype(), raw, &d.shape(), mode)
    }

    /// Reads the hyperslab `start`/`count`/`step` (one block per step) as a NumPy array of
    /// shape `count`; `as_str` as for `read`.
    #[pyo3(signature = (start, count, step, as_str=false))]
    fn read_slab<'py>(
        &self,
        py: Python<'py>,
        start: Vec<u64>,
        count: Vec<u64>,
        step: Vec<u64>,
        as_str: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let d = self.dataset()?.clone();
        let d2 = d.clone();
        let rank = start.len();
        let shape: Vec<usize> = count.iter().map(|&c| c as usize).collect();
        let sel = h5oxide::Hyperslab {
            start,
            stride: step,
            count,
            block: vec![1; rank],
        };
        let raw = py
            .detach(move || d2.read_hyperslab_raw(&sel))
            .map_err(to_py_err)?;
        let mode = if as_str {
            Mode::DatasetStr
        } else {
            Mode::Dataset
        };
        convert::to_numpy(py, d.file_inner(), d.dtype(), raw, &shape, mode)
    }

    /// The fast path of `Dataset.__getitem__` for a dataset of a plain integer or float type
    /// and a basic index (ints, slices with step >= 1, at most one Ellipsis): the selected
    /// values as a NumPy array, or a NumPy scalar when an int indexes every axis. Returns None
    /// for any other index or dataset, an index out of range, an empty or whole selection: the
    /// Python side then takes its general path (which raises h5py's errors).
    fn getitem<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Object::Dataset(d) = &self.obj else {
            return Ok(None);
        };
        let Some(dtype) = self.fast_dtype(py)? else {
            return Ok(None);
        };
        let shape = d.shape();
        let rank = shape.len();
        if rank == 0 {
            return Ok(None);
        }
        let items: Vec<Bound<'py, PyAny>> = match key.cast::<PyTuple>() {
            Ok(t) => t.iter().collect(),
            Err(_) => vec![key.clone()],
        };
        let ellipsis = py.Ellipsis();
        let n_ellipsis = items.iter().filter(|a| a.is(&ellipsis)).count();
        if n_ellipsis > 1 || items.len() - n_ellipsis > rank {
            return Ok(None);
        }
        let mut start = Vec::with_capacity(rank);
        let mut count = Vec::with_capacity(rank);
        let mut step = Vec::with_capacity(rank);
        let mut keep = Vec::with_capacity(rank);
        // A whole axis `dim`.
        fn full(
            n: usize,
            s: &mut Vec<u64>,
            c: &mut Vec<u64>,
            st: &mut Vec<u64>,
            k: &mut Vec<usize>,
        ) {
            s.push(0);
            c.push(n as u64);
            st.push(1);
            k.push(n);
        }
        let mut dim = 0;
        for a in &items {
            if a.is(&ellipsis) {
                for _ in 0..rank + n_ellipsis - items.len() {
                    let n = shape.get(dim).copied().unwrap_or(0);
                    full(n, &mut start, &mut count, &mut step, &mut keep);
                    dim += 1;
                }
                continue;
            }
            let n = shape.get(dim).copied().unwrap_or(0);
            if let Ok(sl) = a.cast::<PySlice>() {
                let ind = sl.indices(n as isize)?;
                if ind.step < 1 {
                    return Ok(None);
                }
                let len = ind.slicelength;
                start.push(if len > 0 { ind.start as u64 } else { 0 });
                count.push(len as u64);
                step.push(ind.step as u64);
                keep.push(len);
            } else if a.is_instance_of::<PyBool>() {
                return Ok(None);
            } else if let Ok(i) = a.extract::<i64>() {
                let j = if i < 0 { i + n as i64 } else { i };
                if j < 0 || j >= n as i64 {
                    return Ok(None);
                }
                start.push(j as u64);
                count.push(1);
                step.push(1);
            } else {
                return Ok(None);
            }
            dim += 1;
        }
        while dim < rank {
            let n = shape.get(dim).copied().unwrap_or(0);
            full(n, &mut start, &mut count, &mut step, &mut keep);
            dim += 1;
        }
        let whole = start.iter().all(|&s| s == 0)
            && step.iter().all(|&s| s == 1)
            && count.iter().zip(&shape).all(|(&c, &n)| c == n as u64);
        if whole || count.contains(&0) {
            return Ok(None);
        }
        let sel = h5oxide::Hyperslab {
            start,
            stride: step,
            count,
            block: vec![1; rank],
        };
        let small = sel
            .num_elements()
            .is_some_and(|n| n.saturating_mul(d.dtype().size() as u64) <= 1 << 16);
        let raw = if small {
            // Too little work to be worth releasing and re-taking the GIL.
            d.read_hyperslab_raw(&sel)
        } else {
            let d2 = d.clone();
            py.detach(move || d2.read_hyperslab_raw(&sel))
        }
        .map_err(to_py_err)?;
        if !keep.is_empty() {
            if let Some(arr) = typed_array(py, d.dtype(), &raw, &keep)? {
                return Ok(Some(arr));
            }
        }
        let arr = numpy::PyArray1::<u8>::from_vec(py, raw).call_method1("view", (dtype,))?;
        if keep.is_empty() {
            return Ok(Some(arr.get_item(0)?));
        }
        Ok(Some(
            arr.call_method1("reshape", (PyTuple::new(py, keep)?,))?,
        ))
    }

    /// Reads the whole dataset's stored bytes straight into `out` (a contiguous `uint8` view
    /// of a NumPy array of the dataset's dtype and size): no intermediate buffer.
    /// Returns False (and reads nothing) when the stored layout differs from NumPy's for the
    /// dtype (non-native precision, padding, strings needing normalisation...).
    fn read_into(
        &self,
        py: Python<'_>,
        mut out: numpy::PyReadwriteArray1<'_, u8>,
    ) -> PyResult<bool> {
        let d = self.dataset()?.clone();
        if !convert::identical_layout(py, d.dtype())?
            || matches!(
                d.dtype(),
                h5oxide::format::datatype::Datatype::String { .. }
                    | h5oxide::format::datatype::Datatype::Array { .. }
            )
        {
            return Ok(false);
        }
        let buf = out
            .as_slice_mut()
            .map_err(|_| PyTypeError::new_err("read_into needs a contiguous uint8 array"))?;
        if d.info().num_bytes().ok() != Some(buf.len() as u64) {
            return Ok(false);
        }
        py.detach(move || d.read_raw_into(buf)).map_err(to_py_err)?;
        Ok(true)
    }

    /// The fill value's stored bytes converted like one element.
    fn fillvalue<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let d = self.dataset()?;
        let arr = convert::to_numpy(
            py,
            d.file_inner(),
            d.dtype(),
            d.info().fill_bytes(),
            &[],
            Mode::Dataset,
        )?;
        arr.get_item(PyTuple::empty(py))
    }
}

/// Appends the objects below `g` to `out` (see [`Node::walk`]).
fn walk_into(
    g: &h5oxide::Group,
    prefix: &str,
    out: &mut Vec<(String, Object)>,
    seen: &mut std::collections::HashSet<u64>,
    depth: u32,
) -> h5oxide::Result<()> {
    if depth > 4096 {
        return Err(Error::Cycle {
            structure: "group tree",
            addr: g.addr(),
        });
    }
    let mut links = g.links()?;
    links.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    for l in links {
        if let LinkKind::Hard(a) = l.kind {
            if !seen.insert(a) {
                continue;
            }
            let rel = format!("{prefix}{}", l.name);
            // Opened at the link's address: looking the name up again would walk the group's
            // index (and read its whole local heap) once per member.
            let name = if g.name().ends_with('/') {
                format!("{}{}", g.name(), l.name)
            } else {
                format!("{}/{}", g.name(), l.name)
            };
            let obj = Object::at(g.file_inner(), a, name)?;
            let sub = if let Object::Group(sg) = &obj {
                Some(sg.clone())
            } else {
                None
            };
            out.push((rel.clone(), obj));
            if let Some(sg) = sub {
                walk_into(&sg, &format!("{rel}/"), out, seen, depth + 1)?;
            }
        }
    }
    Ok(())
}

/// Opens `path` read-only and returns its root group.
#[pyfunction]
fn open(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Node> {
    if let Err(e) = std::fs::metadata(&path) {
        let msg = format!("Unable to synchronously open file (unable to open file: name = '{}', errno = {}, error message = '{e}')", path.display(), e.raw_os_error().unwrap_or(0));
        return Err(match e.kind() {
            std::io::ErrorKind::NotFound => {
                PyFileNotFoundError::new_err((e.raw_os_error().unwrap_or(2), msg))
            }
            std::io::ErrorKind::PermissionDenied => {
                PyPermissionError::new_err((e.raw_os_error().unwrap_or(13), msg))
            }
            _ => PyOSError::new_err(msg),
        });
    }
    let p = path.clone();
    let root = py
        .detach(move || h5oxide::File::open(&p).and_then(|f| f.root()))
        .map_err(|e| PyOSError::new_err(format!("Unable to synchronously open file ({e})")))?;
    Ok(Node::new(Object::Group(root)))
}

/// Opens an HDF5 image held in memory (e.g. read from a Python file object) and returns its root
/// group.
#[pyfunction]
fn open_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Node> {
    let data = data.to_vec();
    let root = py
        .detach(move || h5oxide::File::from_bytes(data).and_then(|f| f.root()))
        .map_err(|e| PyOSError::new_err(format!("Unable to synchronously open file ({e})")))?;
    Ok(Node::new(Object::Group(root)))
}

/// Opens the HDF5 file of `size` bytes that `readat(offset, length) -> bytes` reads (a Python
/// file-like object, an fsspec file on object storage, ...) and returns its root group. Reads
/// go through a cache of 256 KiB blocks (at most 64 MiB), so the small metadata reads become
/// a few calls; larger reads call `readat` once.
#[pyfunction]
fn open_reader(py: Python<'_>, readat: Py<PyAny>, size: u64) -> PyResult<Node> {
    let fetch = move |at: u64, n: usize| -> std::io::Result<Vec<u8>> {
        Python::attach(|py| {
            let r = readat
                .call1(py, (at, n))
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            let b = r
                .bind(py)
                .cast::<PyBytes>()
                .map_err(|_| std::io::Error::other("readat must return bytes"))?;
            Ok(b.as_bytes().to_vec())
        })
    };
    let src = h5oxide::storage::BlockCache::new(
        h5oxide::storage::RangeStorage::new(size, fetch),
        256 << 10,
        64 << 20,
    );
    let root = py
        .detach(move || {
            h5oxide::OpenOptions::default()
                .open_source(src)
                .and_then(|f| f.root())
        })
        .map_err(|e| PyOSError::new_err(format!("Unable to synchronously open file ({e})")))?;
    Ok(Node::new(Object::Group(root)))
}

/// The object whose header is at `addr` in the file of `token` (dereferencing a reference).
#[pyfunction]
fn deref_addr(py: Python<'_>, token: &FileToken, addr: u64) -> PyResult<Node> {
    let f = token.inner.clone();
    let obj = py
        .detach(move || Object::at(&f, addr, String::new()))
        .map_err(to_py_err)?;
    Ok(Node::new(obj))
}

/// The object whose header is at `addr` in the file of `token`, named `name`.
#[pyfunction]
fn node_at(py: Python<'_>, token: &FileToken, addr: u64, name: String) -> PyResult<Node> {
    let f = token.inner.clone();
    let obj = py
        .detach(move || Object::at(&f, addr, name))
        .map_err(to_py_err)?;
    Ok(Node::new(obj))
}

/// A small read of little-endian integers or IEEE floats (as stored = as NumPy holds them on a
/// little-endian machine) as a typed NumPy array of shape `keep`, built with NumPy's C API
/// (no Python-level `view`/`reshape` calls); `None` for other types, big reads or machines.
fn typed_array<'py>(
    py: Python<'py>,
    dt: &h5oxide::format::datatype::Datatype,
    raw: &[u8],
    keep: &[usize],
) -> PyResult<Option<Bound<'py, PyAny>>> {
    use h5oxide::format::datatype::{ByteOrder, Datatype};
    use numpy::{PyArray1, PyArrayMethods};
    if cfg!(target_endian = "big") || raw.len() > 1 << 16 {
        return Ok(None);
    }
    fn make<'py, T: numpy::Element + Copy>(
        py: Python<'py>,
        raw: &[u8],
        keep: &[usize],
        from: impl Fn(&[u8]) -> T,
    ) -> PyResult<Bound<'py, PyAny>> {
        let size = std::mem::size_of::<T>();
        let v: Vec<T> = raw.chunks_exact(size).map(from).collect();
        Ok(PyArray1::from_vec(py, v).reshape(keep)?.into_any())
    }
    macro_rules! le {
        ($t:ty) => {
            |b: &[u8]| <$t>::from_le_bytes(b.try_into().unwrap_or_default())
        };
    }
    Ok(Some(match dt {
        Datatype::FixedPoint(fp) if fp.order == ByteOrder::LittleEndian => {
            match (fp.size, fp.signed) {
                (1, true) => make(py, raw, keep, le!(i8))?,
                (2, true) => make(py, raw, keep, le!(i16))?,
                (4, true) => make(py, raw, keep, le!(i32))?,
                (8, true) => make(py, raw, keep, le!(i64))?,
                (1, false) => make(py, raw, keep, le!(u8))?,
                (2, false) => make(py, raw, keep, le!(u16))?,
                (4, false) => make(py, raw, keep, le!(u32))?,
                (8, false) => make(py, raw, keep, le!(u64))?,
                _ => return Ok(None),
            }
        }
        Datatype::Float(f) if f.order == ByteOrder::LittleEndian => match f.size {
            4 => make(py, raw, keep, le!(f32))?,
            8 => make(py, raw, keep, le!(f64))?,
            _ => return Ok(None),
        },
        _ => return Ok(None),
    }))
}

/// The native module.
/// UTF-8 `str` objects from a flat sequence of `bytes` (what `asstr()` makes with its default
/// encoding and `strict` errors), or `None` when an item is not `bytes` or not valid UTF-8 (the
/// caller then decodes in Python and raises what Python raises).
#[pyfunction]
fn utf8_strings<'py>(
    py: Python<'py>,
    items: Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let mut out: Vec<Py<PyAny>> = Vec::new();
    for it in items.try_iter()? {
        let it = it?;
        let Ok(b) = it.cast::<PyBytes>() else {
            return Ok(None);
        };
        let Ok(s) = std::str::from_utf8(b.as_bytes()) else {
            return Ok(None);
        };
        out.push(pyo3::types::PyString::new(py, s).into_any().unbind());
    }
    Ok(Some(numpy::PyArray1::from_vec(py, out).into_any()))
}

#[pymodule]
fn _h5oxide(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Node>()?;
    m.add_class::<FileToken>()?;
    m.add_function(wrap_pyfunction!(open, m)?)?;
    m.add_function(wrap_pyfunction!(utf8_strings, m)?)?;
    m.add_function(wrap_pyfunction!(deref_addr, m)?)?;
    m.add_function(wrap_pyfunction!(open_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(open_reader, m)?)?;
    m.add_function(wrap_pyfunction!(node_at, m)?)?;
    m.add_class::<write::Writer>()?;
    Ok(())
}
