//! Writing: [`Writer`] wraps an [`h5oxide::RwFile`] (h5py modes `r+`, `w`, `w-`/`x`, `a`) and
//! converts NumPy arrays to HDF5 values the way h5py does (same datatypes for the same dtypes).
//!
//! One writer per open file; its methods take a mutex around the `RwFile` (writes to one file
//! are serialised, as they must be) and run with the GIL released. Reads of a file open for
//! writing go through a reader view that the writer flushes first ([`Writer::root`]).

use std::path::PathBuf;
use std::sync::Mutex;

use h5oxide::format::datatype::{
    ByteOrder, CharSet, CompoundMember, Datatype, EnumMember, FixedPoint, FloatingPoint,
    MantissaNorm, StringPad,
};
use h5oxide::format::encode::datatype as dt;
use h5oxide::format::value::Selection;
use h5oxide::format::vds::VdsMapping;
use h5oxide::write::{DatasetOptions, HeapSlot, SlotKind, Value};
use h5oxide::{Error, Hyperslab, Object, RwFile};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::{to_py_err, Node};

/// A file open for writing.
#[pyclass(frozen, module = "h5oxide._h5oxide")]
pub struct Writer {
    inner: Mutex<Option<RwFile>>,
}

impl Writer {
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut RwFile) -> h5oxide::Result<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            let mut g = self
                .inner
                .lock()
                .map_err(|_| Error::Invalid("writer lock poisoned".into()))?;
            match g.as_mut() {
                Some(w) => f(w),
                None => Err(Error::Invalid("file is closed".into())),
            }
        })
        .map_err(to_py_err)
    }
}

fn order_of(byteorder: &str) -> ByteOrder {
    let big = match byteorder {
        ">" => true,
        "<" => false,
        _ => cfg!(target_endian = "big"),
    };
    if big {
        ByteOrder::BigEndian
    } else {
        ByteOrder::LittleEndian
    }
}

fn float_type(size: u32, order: ByteOrder) -> PyResult<Datatype> {
    let mut t = match size {
        2 => Datatype::Float(FloatingPoint {
            size: 2,
            order,
            lo_pad: false,
            hi_pad: false,
            internal_pad: false,
            norm: MantissaNorm::Implied,
            sign_location: 15,
            bit_offset: 0,
            precision: 16,
            exponent_location: 10,
            exponent_size: 5,
            mantissa_location: 0,
            mantissa_size: 10,
            exponent_bias: 15,
        }),
        4 => dt::f32_le(),
        8 => dt::f64_le(),
        _ => {
            return Err(PyTypeError::new_err(format!(
                "No conversion path for a {size}-byte float"
            )))
        }
    };
    if let Datatype::Float(f) = &mut t {
        f.order = order;
    }
    Ok(t)
}

/// The HDF5 datatype h5py writes for a NumPy dtype.
pub fn datatype_of(py: Python<'_>, dtype: &Bound<'_, PyAny>) -> PyResult<Datatype> {
    let kind: String = dtype.getattr("kind")?.extract()?;
    let size: u32 = dtype.getattr("itemsize")?.extract()?;
    let byteorder: String = dtype.getattr("byteorder")?.extract()?;
    let order = order_of(&byteorder);
    let meta = dtype.getattr("metadata")?;
    let meta_get = |k: &str| -> Option<Bound<'_, PyAny>> {
        if meta.is_none() {
            None
        } else {
            meta.get_item(k).ok()
        }
    };
    if let Some(flag) = meta_get("h5py_opaque") {
        if flag.is_truthy()? {
            // h5py's opaque_dtype: an opaque type tagged with the NumPy dtype
            let s: String = dtype.getattr("str")?.extract()?;
            return Ok(Datatype::Opaque {
                size,
                tag: format!("NUMPY:{s}").into_bytes(),
            });
        }
    }
    let subdtype = dtype.getattr("subdtype")?;
    if !subdtype.is_none() {
        let base = subdtype.get_item(0)?;
        let dims: Vec<u32> = subdtype.get_item(1)?.extract()?;
        let base = datatype_of(py, &base)?;
        // NumPy holds pointers for variable-length elements; the file holds their 16-byte
        // heap references
        let size = if base.has_variable_parts() {
            dims.iter()
                .try_fold(base.size(), |a, &d| a.checked_mul(d))
                .ok_or_else(|| PyTypeError::new_err("array type too large"))?
        } else {
            size
        };
        return Ok(Datatype::Array {
            size,
            dims,
            base: Box::new(base),
        });
    }
    Ok(match kind.as_str() {
        "b" => dt::h5py_bool(),
        "i" | "u" => {
            let int = Datatype::FixedPoint(FixedPoint {
                size,
                order,
                signed: kind == "i",
                lo_pad: false,
                hi_pad: false,
                bit_offset: 0,
                precision: (size * 8) as u16,
            });
            if let Some(e) = meta_get("enum") {
                let mut members = Vec::new();
                let mut items: Vec<(String, i128)> = e
                    .call_method0("items")?
                    .call_method0("__iter__")?
                    .try_iter()?
                    .map(|it| it.and_then(|t| t.extract::<(String, i128)>()))
                    .collect::<PyResult<_>>()?;
                // libhdf5 sorts the members by name (strcmp) before it writes the type
                // (comparing enum types sorts them in place), so h5py's files have them so
                items.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                for (name, v) in items {
                    let bytes = v.to_le_bytes();
                    let mut value = bytes[..size as usize].to_vec();
                    if order == ByteOrder::BigEndian {
                        value.reverse();
                    }
                    members.push(EnumMember {
                        name: name.into_bytes(),
                        value,
                    });
                }
                Datatype::Enum {
                    size,
                    base: Box::new(int),
                    members,
                }
            } else {
                int
            }
        }
        "f" => float_type(size, order)?,
        "c" => dt::h5py_complex(float_type(size / 2, order)?),
        "S" => {
            let enc = meta_get("h5py_encoding")
                .map(|v| v.extract::<String>())
                .transpose()?;
            let cset = if enc.as_deref() == Some("utf-8") {
                CharSet::Utf8
            } else {
                CharSet::Ascii
            };
            Datatype::String {
                size: size.max(1),
                pad: StringPad::NullPad,
                cset,
            }
        }
        "O" => {
            if let Some(r) = meta_get("ref") {
                let name: String = r.getattr("__name__")?.extract()?;
                if name == "Reference" {
                    return Ok(Datatype::Reference {
                        size: 8,
                        kind: h5oxide::format::datatype::ReferenceKind::Object,
                    });
                }
                return Ok(Datatype::Reference {
                    size: 12,
                    kind: h5oxide::format::datatype::ReferenceKind::Region,
                });
            }
            let vlen = meta_get("vlen");
            let builtins = py.import("builtins")?;
            match vlen {
                Some(v) if v.is(&builtins.getattr("str")?) => dt::vlen_string(CharSet::Utf8),
                Some(v) if v.is(&builtins.getattr("bytes")?) => dt::vlen_string(CharSet::Ascii),
                Some(v) if !v.is_none() => {
                    // h5py's vlen_dtype(base): a variable-length sequence of `base`
                    let base = py.import("numpy")?.getattr("dtype")?.call1((v,))?;
                    let base_t = datatype_of(py, &base)?;
                    if base_t.has_variable_parts() {
                        return Err(PyTypeError::new_err(
                            "h5oxide: variable-length sequences of variable-length types are \
                             not supported yet",
                        ));
                    }
                    Datatype::VarLenSequence {
                        size: 16,
                        base: Box::new(base_t),
                    }
                }
                _ => {
                    return Err(PyTypeError::new_err(
                        "Object dtype dtype('O') has no native HDF5 equivalent",
                    ))
                }
            }
        }
        "V" => {
            let fields = dtype.getattr("fields")?;
            if fields.is_none() {
                Datatype::Opaque {
                    size,
                    tag: Vec::new(),
                }
            } else {
                compound_of(py, dtype)?.0
            }
        }
        _ => {
            return Err(PyTypeError::new_err(format!(
                "No conversion path for dtype: {}",
                dtype.repr()?
            )))
        }
    })
}

/// The size h5py gives a member type in memory: a pointer for a variable-length string,
/// `hvl_t` (16 bytes) for a sequence, the nested layout's size for a compound.
fn memory_size(t: &Datatype) -> PyResult<u32> {
    Ok(match t {
        Datatype::VarLenString { .. } => 8,
        Datatype::VarLenSequence { .. } => 16,
        Datatype::Array { base, .. } if base.has_variable_parts() => {
            return Err(PyTypeError::new_err(
                "h5oxide: arrays of variable-length types are not supported yet",
            ))
        }
        t => t.size(),
    })
}

/// A NumPy structured dtype as the compound type h5py's files hold, and its size in memory.
///
/// h5py lays the members out in order of their NumPy offsets, each at its NumPy offset or
/// right after the previous member's HDF5 memory type, whichever is later (so members whose
/// HDF5 type is larger than NumPy's, like `hvl_t` sequences, do not overlap), and the size is
/// at least NumPy's item size. libhdf5 then converts that memory type to the file's: each
/// variable-length member grows to its 16-byte file form, the members after it move by as
/// much, and the members are stored in offset order.
fn compound_of(py: Python<'_>, dtype: &Bound<'_, PyAny>) -> PyResult<(Datatype, u32)> {
    let itemsize: u32 = dtype.getattr("itemsize")?.extract()?;
    let names: Vec<String> = dtype.getattr("names")?.extract()?;
    let fields = dtype.getattr("fields")?;
    let mut entries = Vec::with_capacity(names.len());
    for (i, n) in names.iter().enumerate() {
        let f = fields.get_item(n)?;
        let fdt = f.get_item(0)?;
        let off: u32 = f.get_item(1)?.extract()?;
        let nested = fdt.getattr("subdtype")?.is_none() && !fdt.getattr("fields")?.is_none();
        let (t, mem) = if nested {
            compound_of(py, &fdt)?
        } else {
            let t = datatype_of(py, &fdt)?;
            let m = memory_size(&t)?;
            (t, m)
        };
        entries.push((off, i, n.clone(), t, mem));
    }
    entries.sort_by_key(|e| (e.0, e.1));
    let mut running = 0u32;
    let mut placed = Vec::with_capacity(entries.len());
    for (np_off, i, name, t, mem) in entries {
        let at = running.max(np_off);
        running = at
            .checked_add(mem)
            .ok_or_else(|| PyTypeError::new_err("compound type too large"))?;
        placed.push((i, name, t, at, mem));
    }
    let mem_size = running.max(itemsize);
    let variable = placed.iter().any(|p| p.2.has_variable_parts());
    let mut delta = 0u32;
    let mut members = Vec::with_capacity(placed.len());
    for (i, name, t, at, mem) in placed {
        let offset = at + delta;
        if t.has_variable_parts() {
            delta += t.size().saturating_sub(mem);
        }
        members.push((
            i,
            CompoundMember {
                name: name.into_bytes(),
                offset,
                dtype: t,
            },
        ));
    }
    if !variable {
        // fixed-size members keep NumPy's field order
        members.sort_by_key(|m| m.0);
    }
    let members = members.into_iter().map(|m| m.1).collect();
    Ok((
        Datatype::Compound {
            size: mem_size + delta,
            members,
        },
        mem_size,
    ))
}

/// Where one leaf of a compound with variable-length members is, in NumPy's record and in
/// the file's element, and what it holds.
struct Leaf {
    /// Field names from the top record down to this leaf.
    path: Vec<String>,
    np_off: usize,
    disk_off: usize,
    kind: LeafKind,
}

enum LeafKind {
    /// Bytes copied as they are.
    Fixed(usize),
    /// A variable-length string (str or bytes objects).
    Str,
    /// A variable-length sequence of this NumPy base dtype, `unit` bytes per element.
    Seq(Py<PyAny>, usize),
    /// An object reference (an h5oxide `Reference`).
    Ref,
    /// A dataset region reference (an h5oxide `RegionReference`).
    Region,
}

/// The leaves of compound `t` (from [`compound_of`]) against its NumPy dtype.
fn leaves_of(
    py: Python<'_>,
    dtype: &Bound<'_, PyAny>,
    t: &Datatype,
    np_base: usize,
    disk_base: usize,
    path: &[String],
    out: &mut Vec<Leaf>,
) -> PyResult<()> {
    let Datatype::Compound { members, .. } = t else {
        return Err(PyTypeError::new_err("not a compound type"));
    };
    let fields = dtype.getattr("fields")?;
    for m in members {
        let name = String::from_utf8_lossy(&m.name).into_owned();
        let f = fields.get_item(&name)?;
        let fdt = f.get_item(0)?;
        let np_off = np_base + f.get_item(1)?.extract::<usize>()?;
        let disk_off = disk_base + m.offset as usize;
        let mut p = path.to_vec();
        p.push(name);
        let kind = match &m.dtype {
            Datatype::Compound { .. } if !fdt.getattr("fields")?.is_none() => {
                leaves_of(py, &fdt, &m.dtype, np_off, disk_off, &p, out)?;
                continue;
            }
            Datatype::VarLenString { .. } => LeafKind::Str,
            Datatype::VarLenSequence { base, .. } => {
                let base_np = py
                    .import("numpy")?
                    .getattr("dtype")?
                    .call1((fdt.getattr("metadata")?.get_item("vlen")?,))?;
                LeafKind::Seq(base_np.unbind(), base.size().max(1) as usize)
            }
            Datatype::Reference {
                kind: h5oxide::format::datatype::ReferenceKind::Region,
                ..
            } => LeafKind::Region,
            Datatype::Reference { .. } => LeafKind::Ref,
            other => LeafKind::Fixed(other.size() as usize),
        };
        out.push(Leaf {
            path: p,
            np_off,
            disk_off,
            kind,
        });
    }
    Ok(())
}

/// The heap slot at `at` of a variable-length string element: `str` or `bytes` (None is
/// empty), as h5py converts them.
fn string_slot(it: &Bound<'_, PyAny>, at: usize) -> PyResult<HeapSlot> {
    let data = if let Ok(s) = it.cast::<PyString>() {
        s.extract::<String>()?.into_bytes()
    } else if let Ok(b) = it.cast::<PyBytes>() {
        b.as_bytes().to_vec()
    } else if it.is_none() {
        Vec::new()
    } else {
        return Err(PyTypeError::new_err(format!(
            "Can't implicitly convert non-string objects to strings ({})",
            it.get_type().name()?
        )));
    };
    let len =
        u32::try_from(data.len()).map_err(|_| PyTypeError::new_err("string larger than 4 GiB"))?;
    Ok(HeapSlot {
        at,
        len,
        data,
        kind: SlotKind::String,
    })
}

/// The heap slot at `at` of a variable-length sequence element: `it` converted to NumPy dtype
/// `base` (`unit` bytes per item; None is empty).
fn sequence_slot(
    np: &Bound<'_, PyModule>,
    it: &Bound<'_, PyAny>,
    base: &Bound<'_, PyAny>,
    unit: usize,
    at: usize,
) -> PyResult<HeapSlot> {
    let data: Vec<u8> = if it.is_none() {
        Vec::new()
    } else {
        let a = np.call_method1("asarray", (it, base))?;
        np.call_method1("ascontiguousarray", (a.call_method0("ravel")?, base))?
            .call_method0("tobytes")?
            .extract()?
    };
    let len = u32::try_from(data.len() / unit.max(1))
        .map_err(|_| PyTypeError::new_err("sequence larger than 4 GiB"))?;
    Ok(HeapSlot {
        at,
        len,
        data,
        kind: SlotKind::Sequence,
    })
}

/// A structured NumPy array whose compound type has variable-length members, as element bytes
/// in the file's layout with heap slots for the variable-length parts.
fn mixed_value_of(
    py: Python<'_>,
    arr: &Bound<'_, PyAny>,
    dtype: &Bound<'_, PyAny>,
    t: Datatype,
    shape: &[u64],
) -> PyResult<Value> {
    let np = py.import("numpy")?;
    let c = np.call_method1("ascontiguousarray", (arr, dtype))?;
    let np_size: usize = dtype.getattr("itemsize")?.extract()?;
    let disk_size = t.size() as usize;
    let n: usize = c.getattr("size")?.extract()?;
    let mut leaves = Vec::new();
    leaves_of(py, dtype, &t, 0, 0, &[], &mut leaves)?;
    let np_bytes: Vec<u8> = c.call_method0("tobytes")?.extract()?;
    let total = n
        .checked_mul(disk_size)
        .ok_or_else(|| PyTypeError::new_err("array too large"))?;
    let mut raw = vec![0u8; total];
    let mut slots = Vec::new();
    let flat = c.call_method0("ravel")?;
    for leaf in &leaves {
        if let LeafKind::Fixed(size) = leaf.kind {
            for i in 0..n {
                let from =
                    np_bytes.get(i * np_size + leaf.np_off..i * np_size + leaf.np_off + size);
                let to = raw
                    .get_mut(i * disk_size + leaf.disk_off..i * disk_size + leaf.disk_off + size);
                if let (Some(from), Some(to)) = (from, to) {
                    to.copy_from_slice(from);
                }
            }
            continue;
        }
        let mut col = flat.clone();
        for name in &leaf.path {
            col = col.get_item(name)?;
        }
        let objs = col.call_method0("tolist")?;
        for (i, it) in objs.try_iter()?.enumerate() {
            let it = it?;
            let at = i * disk_size + leaf.disk_off;
            match &leaf.kind {
                LeafKind::Str => slots.push(string_slot(&it, at)?),
                LeafKind::Seq(base, unit) => {
                    slots.push(sequence_slot(&np, &it, base.bind(py), *unit, at)?)
                }
                LeafKind::Ref => {
                    let addr: u64 = if it.is_none() {
                        0
                    } else {
                        let a = it.getattr("_addr").map_err(|_| {
                            PyTypeError::new_err(
                                "object references must be h5oxide Reference objects",
                            )
                        })?;
                        if a.is_none() {
                            0
                        } else {
                            a.extract()?
                        }
                    };
                    if let Some(to) = raw.get_mut(at..at + 8) {
                        to.copy_from_slice(&addr.to_le_bytes());
                    }
                }
                LeafKind::Region => {
                    slots.push(HeapSlot {
                        at,
                        len: 0,
                        data: region_object(&it)?,
                        kind: SlotKind::Region,
                    });
                }
                LeafKind::Fixed(_) => {}
            }
        }
    }
    Value::from_raw_with_slots(t, raw, slots, shape).map_err(to_py_err)
}

/// Elements of an array type of variable-length strings or sequences (h5py's
/// `numpy.dtype((h5py.string_dtype(), (3,)))`, `(h5py.vlen_dtype(base), dims)`): each element
/// is `product(dims)` heap references, one per item of the object array `arr` (whose shape may
/// end with the array type's dimensions, as NumPy expands them).
#[allow(clippy::too_many_arguments)]
fn vlen_array_value(
    py: Python<'_>,
    arr: &Bound<'_, PyAny>,
    dtype: &Bound<'_, PyAny>,
    t: Datatype,
    dims: &[u32],
    base: &Datatype,
    size: u32,
    shape: &[u64],
) -> PyResult<Value> {
    let np = py.import("numpy")?;
    let per: usize = dims.iter().map(|&d| d as usize).product();
    let unit = base.size() as usize;
    let tail: Vec<u64> = dims.iter().map(|&d| u64::from(d)).collect();
    let outer: Vec<u64> = if shape.ends_with(&tail) {
        shape[..shape.len() - tail.len()].to_vec()
    } else {
        shape.to_vec()
    };
    let flat = arr.call_method0("ravel")?.call_method0("tolist")?;
    let items: Vec<Bound<'_, PyAny>> = flat.try_iter()?.collect::<PyResult<_>>()?;
    let n: usize = outer.iter().map(|&d| d as usize).product();
    if items.len() != n * per {
        return Err(PyTypeError::new_err(format!(
            "{} items for {n} elements of {per} variable-length values",
            items.len()
        )));
    }
    let seq_base = match base {
        Datatype::VarLenSequence { .. } => {
            let b = dtype.getattr("subdtype")?.get_item(0)?;
            Some(
                np.getattr("dtype")?
                    .call1((b.getattr("metadata")?.get_item("vlen")?,))?,
            )
        }
        _ => None,
    };
    let esize = match base {
        Datatype::VarLenSequence { base, .. } => base.size().max(1) as usize,
        _ => 1,
    };
    let raw = vec![0u8; n * size as usize];
    let mut slots = Vec::with_capacity(items.len());
    for (k, it) in items.iter().enumerate() {
        let at = k * unit;
        slots.push(match &seq_base {
            None => string_slot(it, at)?,
            Some(b) => sequence_slot(&np, it, b, esize, at)?,
        });
    }
    Value::from_raw_with_slots(t, raw, slots, &outer).map_err(to_py_err)
}

/// Deletes the attribute `name` if it exists.
fn remove_attr(w: &mut RwFile, addr: u64, name: &str) -> h5oxide::Result<()> {
    match w.delete_attr(addr, name) {
        Err(Error::NotFound(_)) => Ok(()),
        r => r,
    }
}

fn object_ref() -> Datatype {
    Datatype::Reference {
        size: 8,
        kind: h5oxide::format::datatype::ReferenceKind::Object,
    }
}

/// Converts a NumPy array to a [`Value`] of `dtype` (the array's own when `None`).
pub fn value_of(
    py: Python<'_>,
    arr: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
) -> PyResult<Value> {
    let dtype = match dtype {
        Some(d) => d.clone(),
        None => arr.getattr("dtype")?,
    };
    let shape: Vec<u64> = arr.getattr("shape")?.extract()?;
    let t = datatype_of(py, &dtype)?;
    if let Datatype::VarLenString { cset, .. } = &t {
        let flat = arr.call_method0("ravel")?.call_method0("tolist")?;
        let mut items = Vec::new();
        for it in flat.try_iter()? {
            let it = it?;
            if let Ok(s) = it.cast::<PyString>() {
                items.push(s.extract::<String>()?.into_bytes());
            } else if let Ok(b) = it.cast::<PyBytes>() {
                items.push(b.as_bytes().to_vec());
            } else if it.is_none() {
                items.push(Vec::new());
            } else {
                return Err(PyTypeError::new_err(format!(
                    "Can't implicitly convert non-string objects to strings ({})",
                    it.get_type().name()?
                )));
            }
        }
        return Value::vlen_bytes(items, &shape, *cset).map_err(to_py_err);
    }
    if let Datatype::VarLenSequence { base, .. } = &t {
        // each element: a sequence (array, list, ...) converted to the base dtype; None is
        // an empty sequence
        let np = py.import("numpy")?;
        let base_np = np
            .getattr("dtype")?
            .call1((dtype.getattr("metadata")?.get_item("vlen")?,))?;
        let flat = arr.call_method0("ravel")?.call_method0("tolist")?;
        let mut items = Vec::new();
        for it in flat.try_iter()? {
            let it = it?;
            if it.is_none() {
                items.push(Vec::new());
                continue;
            }
            let a = np.call_method1("asarray", (&it, &base_np))?;
            let ndim: usize = a.getattr("ndim")?.extract()?;
            if ndim == 0 {
                return Err(PyTypeError::new_err(format!(
                    "Can't convert a {} to a variable-length sequence (an array or sequence \
                     is needed per element)",
                    it.get_type().name()?
                )));
            }
            let c = np.call_method1("ascontiguousarray", (a, &base_np))?;
            let raw: Vec<u8> = c.call_method0("tobytes")?.extract()?;
            items.push(raw);
        }
        return Value::vlen_sequences((**base).clone(), items, &shape).map_err(to_py_err);
    }
    if let Datatype::Reference {
        kind: h5oxide::format::datatype::ReferenceKind::Region,
        ..
    } = &t
    {
        let flat = arr.call_method0("ravel")?.call_method0("tolist")?;
        let mut raw = Vec::new();
        let mut slots = Vec::new();
        for it in flat.try_iter()? {
            let it = it?;
            slots.push(HeapSlot {
                at: raw.len(),
                len: 0,
                data: region_object(&it)?,
                kind: SlotKind::Region,
            });
            raw.extend_from_slice(&[0u8; 12]);
        }
        return Value::from_raw_with_slots(t, raw, slots, &shape).map_err(to_py_err);
    }
    if matches!(t, Datatype::Reference { .. }) {
        let flat = arr.call_method0("ravel")?.call_method0("tolist")?;
        let mut raw = Vec::new();
        for it in flat.try_iter()? {
            let it = it?;
            let addr: u64 = if it.is_none() {
                0
            } else {
                let a = it.getattr("_addr").map_err(|_| {
                    PyTypeError::new_err("object references must be h5oxide Reference objects")
                })?;
                if a.is_none() {
                    0
                } else {
                    a.extract()?
                }
            };
            raw.extend_from_slice(&addr.to_le_bytes());
        }
        return Value::from_raw(t, raw, &shape).map_err(to_py_err);
    }
    if matches!(t, Datatype::Compound { .. }) && t.has_variable_parts() {
        return mixed_value_of(py, arr, &dtype, t, &shape);
    }
    if let Datatype::Array { dims, base, size } = &t {
        if matches!(
            **base,
            Datatype::VarLenString { .. } | Datatype::VarLenSequence { .. }
        ) {
            return vlen_array_value(py, arr, &dtype, t.clone(), dims, base, *size, &shape);
        }
    }
    if t.has_variable_parts() {
        return Err(PyTypeError::new_err(
            "writing variable-length data inside array types is not supported yet",
        ));
    }
    let np = py.import("numpy")?;
    let c = np.call_method1("ascontiguousarray", (arr, &dtype))?;
    let raw: Vec<u8> = c.call_method0("tobytes")?.extract()?;
    Value::from_raw(t, raw, &shape).map_err(to_py_err)
}

#[pymethods]
impl Writer {
    /// Opens `path` for writing: mode `"r+"` (existing file) or `"w"` (create or truncate).
    #[new]
    #[pyo3(signature = (path, mode, latest=false, track_order=false, userblock=0))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        mode: &str,
        latest: bool,
        track_order: bool,
        userblock: u64,
    ) -> PyResult<Self> {
        let m = mode.to_string();
        let w = py
            .detach(move || match m.as_str() {
                "w" => {
                    let o = if latest {
                        h5oxide::write::WriteOptions::latest()
                    } else {
                        h5oxide::write::WriteOptions::new()
                    };
                    RwFile::create_with(&path, o.track_order(track_order).userblock(userblock))
                }
                _ => RwFile::open(&path),
            })
            .map_err(|e| {
                pyo3::exceptions::PyOSError::new_err(format!("Unable to open file ({e})"))
            })?;
        Ok(Writer {
            inner: Mutex::new(Some(w)),
        })
    }

    /// Flushes and returns the root group of a fresh reader view.
    fn root(&self, py: Python<'_>) -> PyResult<Node> {
        let root = self.with(py, |w| w.reader().and_then(|f| f.root()))?;
        Ok(Node::new(Object::Group(root)))
    }

    /// Writes everything so far.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |w| w.flush())
    }

    /// Flushes and closes.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| {
            let mut g = self
                .inner
                .lock()
                .map_err(|_| Error::Invalid("writer lock poisoned".into()))?;
            match g.take() {
                Some(w) => w.close(),
                None => Ok(()),
            }
        })
        .map_err(to_py_err)
    }

    /// Header address of the object at `path`.
    fn resolve(&self, py: Python<'_>, path: String) -> PyResult<u64> {
        self.with(py, move |w| w.resolve(&path))
    }

    /// Creates the group at `path` and missing parents; returns its address.
    fn require_group(&self, py: Python<'_>, path: String) -> PyResult<u64> {
        self.with(py, move |w| w.require_group(&path))
    }

    /// Creates a group (tracking creation order when `track_order`); returns its address.
    #[pyo3(signature = (path, track_order=false))]
    fn create_group(&self, py: Python<'_>, path: String, track_order: bool) -> PyResult<u64> {
        self.with(py, move |w| {
            if track_order {
                w.create_group_tracked(&path)
            } else {
                w.create_group(&path)
            }
        })
    }

    /// Creates a dataset of `dtype` and `shape`, filled with `data` when given.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (path, dtype, shape, data=None, chunks=None, maxshape=None, gzip=None, lzf=false, shuffle=false, fletcher32=false, fill=None, compact=false, track_order=false, filters=None, scaleoffset=None, external=None))]
    fn create_dataset(
        &self,
        py: Python<'_>,
        path: String,
        dtype: Bound<'_, PyAny>,
        shape: Vec<u64>,
        data: Option<Bound<'_, PyAny>>,
        chunks: Option<Vec<u64>>,
        maxshape: Option<Vec<Option<u64>>>,
        gzip: Option<u32>,
        lzf: bool,
        shuffle: bool,
        fletcher32: bool,
        fill: Option<Bound<'_, PyAny>>,
        compact: bool,
        track_order: bool,
        filters: Option<Vec<(u16, Vec<u32>)>>,
        scaleoffset: Option<(u32, u32)>,
        external: Option<Vec<(String, u64, u64)>>,
    ) -> PyResult<u64> {
        let t = datatype_of(py, &dtype)?;
        let mut o = DatasetOptions::new()
            .compact(compact)
            .track_order(track_order);
        if let Some(ext) = &external {
            let files: Vec<(&str, u64, u64)> =
                ext.iter().map(|(n, a, b)| (n.as_str(), *a, *b)).collect();
            o = o.external(&files);
        }
        if let Some(c) = &chunks {
            o = o.chunks(c);
        }
        if let Some(m) = &maxshape {
            o = o.maxshape(m);
        }
        if let Some(l) = gzip {
            o = o.deflate(l);
        }
        o = o.lzf(lzf).shuffle(shuffle).fletcher32(fletcher32);
        if let Some((kind, factor)) = scaleoffset {
            o = o.scaleoffset(kind, factor);
        }
        for (id, cd) in filters.unwrap_or_default() {
            o = o.filter(id, plugin_filter_name(id), &cd);
        }
        if let Some(f) = fill {
            let v = value_of(py, &f, Some(&dtype))?;
            o = o.fill_value(v).map_err(to_py_err)?;
        }
        let value = match data {
            Some(d) => Some(value_of(py, &d, Some(&dtype))?),
            None => None,
        };
        self.with(py, move |w| match value {
            Some(v) => w.create_dataset(&path, v, &o),
            None => w.create_dataset_empty(&path, t, &shape, &o),
        })
    }

    /// Creates a virtual dataset; `mappings` are `(file, dataset, source selection, virtual
    /// selection)` with selections as [`selection_of`] takes them.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (path, dtype, shape, maxshape, mappings, fill=None))]
    fn create_virtual_dataset(
        &self,
        py: Python<'_>,
        path: String,
        dtype: Bound<'_, PyAny>,
        shape: Vec<u64>,
        maxshape: Vec<Option<u64>>,
        mappings: Vec<(String, String, Bound<'_, PyAny>, Bound<'_, PyAny>)>,
        fill: Option<Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let t = datatype_of(py, &dtype)?;
        let mut o = DatasetOptions::new();
        if let Some(f) = fill {
            let v = value_of(py, &f, Some(&dtype))?;
            o = o.fill_value(v).map_err(to_py_err)?;
        }
        let maps = mappings
            .into_iter()
            .map(|(file, dataset, src, vsel)| {
                Ok(VdsMapping {
                    file,
                    dataset,
                    source: selection_of(&src)?,
                    virtual_sel: selection_of(&vsel)?,
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        self.with(py, move |w| {
            w.create_virtual_dataset(&path, t, &shape, &maxshape, &maps, &o)
        })
    }

    /// Commits `dtype` as a named datatype at `path`; returns its address.
    fn commit_datatype(
        &self,
        py: Python<'_>,
        path: String,
        dtype: Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let t = datatype_of(py, &dtype)?;
        self.with(py, move |w| w.commit_datatype(&path, &t))
    }

    /// Makes the dataset at `dataset` use the committed datatype at `committed`.
    fn share_datatype(&self, py: Python<'_>, dataset: u64, committed: u64) -> PyResult<()> {
        self.with(py, move |w| w.share_committed_datatype(dataset, committed))
    }

    /// Creates a dataset of `dtype` with a null dataspace (h5py's `Empty(dtype)`).
    #[pyo3(signature = (path, dtype, track_order=false))]
    fn create_dataset_null(
        &self,
        py: Python<'_>,
        path: String,
        dtype: Bound<'_, PyAny>,
        track_order: bool,
    ) -> PyResult<u64> {
        let t = datatype_of(py, &dtype)?;
        let o = DatasetOptions::new().track_order(track_order);
        self.with(py, move |w| w.create_dataset_null(&path, t, &o))
    }

    /// Sets an attribute from a NumPy array whose datatype is the committed datatype at
    /// `committed` (`dtype` its NumPy dtype); `renew` as for `set_attr`.
    #[pyo3(signature = (addr, name, data, dtype, committed, renew=false))]
    #[allow(clippy::too_many_arguments)]
    fn set_attr_committed(
        &self,
        py: Python<'_>,
        addr: u64,
        name: String,
        data: Bound<'_, PyAny>,
        dtype: Bound<'_, PyAny>,
        committed: u64,
        renew: bool,
    ) -> PyResult<()> {
        let v = value_of(py, &data, Some(&dtype))?;
        self.with(py, move |w| {
            if renew {
                remove_attr(w, addr, &name)?;
            }
            w.set_attr_committed(addr, &name, v, committed)
        })
    }

    /// Sets an attribute of `dtype` with a null dataspace (h5py's `Empty(dtype)`); `renew` as
    /// for `set_attr`.
    #[pyo3(signature = (addr, name, dtype, renew=false))]
    fn set_attr_null(
        &self,
        py: Python<'_>,
        addr: u64,
        name: String,
        dtype: Bound<'_, PyAny>,
        renew: bool,
    ) -> PyResult<()> {
        let v = Value::null(datatype_of(py, &dtype)?);
        self.with(py, move |w| {
            if renew {
                remove_attr(w, addr, &name)?;
            }
            w.set_attr(addr, &name, v)
        })
    }

    /// Writes `data` (already of the dataset's dtype, of the selection's shape) into the
    /// hyperslab `start`/`count`/`step`.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        py: Python<'_>,
        addr: u64,
        start: Vec<u64>,
        count: Vec<u64>,
        step: Vec<u64>,
        data: Bound<'_, PyAny>,
        dtype: Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let v = value_of(py, &data, Some(&dtype))?;
        let rank = start.len();
        let sel = Hyperslab {
            start,
            stride: step,
            count,
            block: vec![1; rank],
        };
        self.with(py, move |w| w.write_value(addr, &sel, &v))
    }

    /// Stores already-filtered `data` as the chunk at `offset` with `filter_mask`
    /// (`write_direct_chunk`).
    fn write_chunk_raw(
        &self,
        py: Python<'_>,
        addr: u64,
        offset: Vec<u64>,
        filter_mask: u32,
        data: Vec<u8>,
    ) -> PyResult<()> {
        self.with(py, move |w| {
            w.write_chunk_raw(addr, &offset, filter_mask, &data)
        })
    }

    /// Writes raw bytes (the elements as stored, row-major over the selection, from a
    /// contiguous `uint8` view of the caller's array: no copy) into the hyperslab.
    fn write_bytes(
        &self,
        py: Python<'_>,
        addr: u64,
        start: Vec<u64>,
        count: Vec<u64>,
        step: Vec<u64>,
        data: numpy::PyReadonlyArray1<'_, u8>,
    ) -> PyResult<()> {
        let bytes = data
            .as_slice()
            .map_err(|_| PyTypeError::new_err("write_bytes needs a contiguous uint8 array"))?;
        let rank = start.len();
        let sel = Hyperslab {
            start,
            stride: step,
            count,
            block: vec![1; rank],
        };
        self.with(py, move |w| w.write_raw(addr, &sel, bytes))
    }

    /// `(shape, maxshape, chunks, dtype)` of the dataset at `addr` as the writer knows it
    /// (no flush). `shape`/`maxshape` are `None` for a scalar... an empty list.
    #[allow(clippy::type_complexity)]
    fn dataset_info<'py>(
        &self,
        py: Python<'py>,
        addr: u64,
    ) -> PyResult<(
        Vec<u64>,
        Vec<Option<u64>>,
        Option<Vec<u64>>,
        Bound<'py, PyAny>,
    )> {
        let spec = self.with(py, move |w| w.dataset_spec(addr))?;
        let chunks = spec.layout.chunked().map(|c| c.chunk_dims.clone());
        let dtype = crate::dtype::numpy_dtype(py, &spec.dtype)?;
        Ok((spec.dims, spec.max, chunks, dtype))
    }

    /// Changes the dataset's shape.
    fn resize(&self, py: Python<'_>, addr: u64, shape: Vec<u64>) -> PyResult<()> {
        self.with(py, move |w| w.resize(addr, &shape))
    }

    /// Sets an attribute from a NumPy array (of the dtype to store). With `renew`, an
    /// existing attribute of that name is deleted first, so the new one is the last created
    /// (h5py's `attrs.create` on an existing name); without, it is replaced in place.
    #[pyo3(signature = (addr, name, data, dtype, renew=false))]
    fn set_attr(
        &self,
        py: Python<'_>,
        addr: u64,
        name: String,
        data: Bound<'_, PyAny>,
        dtype: Bound<'_, PyAny>,
        renew: bool,
    ) -> PyResult<()> {
        let v = value_of(py, &data, Some(&dtype))?;
        self.with(py, move |w| {
            if renew {
                remove_attr(w, addr, &name)?;
            }
            w.set_attr(addr, &name, v)
        })
    }

    /// Writes a dataset's `DIMENSION_LIST` attribute (HDF5 Dimension Scales): for each
    /// dimension, the addresses of the attached scales (variable-length sequences of object
    /// references, as `H5DSattach_scale` writes it). All empty: the attribute is deleted.
    fn set_dimension_list(&self, py: Python<'_>, addr: u64, lists: Vec<Vec<u64>>) -> PyResult<()> {
        let rank = lists.len() as u64;
        let empty = lists.iter().all(|l| l.is_empty());
        let items: Vec<Vec<u8>> = lists
            .iter()
            .map(|l| l.iter().flat_map(|a| a.to_le_bytes()).collect())
            .collect();
        self.with(py, move |w| {
            if empty {
                return match w.delete_attr(addr, "DIMENSION_LIST") {
                    Err(Error::NotFound(_)) => Ok(()),
                    r => r,
                };
            }
            let v = Value::vlen_sequences(object_ref(), items, &[rank])?;
            w.set_attr(addr, "DIMENSION_LIST", v)
        })
    }

    /// Writes a scale's `REFERENCE_LIST` attribute: `(dataset address, dimension)` pairs in a
    /// compound `{dataset: object reference, dimension: uint32}` of 16 bytes, as libhdf5's
    /// `H5DSattach_scale` writes it. Empty: the attribute is deleted.
    fn set_reference_list(
        &self,
        py: Python<'_>,
        addr: u64,
        entries: Vec<(u64, u32)>,
    ) -> PyResult<()> {
        let n = entries.len() as u64;
        let mut raw = Vec::with_capacity(entries.len() * 16);
        for (a, d) in &entries {
            raw.extend_from_slice(&a.to_le_bytes());
            raw.extend_from_slice(&d.to_le_bytes());
            raw.extend_from_slice(&[0; 4]);
        }
        self.with(py, move |w| {
            if n == 0 {
                return match w.delete_attr(addr, "REFERENCE_LIST") {
                    Err(Error::NotFound(_)) => Ok(()),
                    r => r,
                };
            }
            let t = Datatype::Compound {
                size: 16,
                members: vec![
                    CompoundMember {
                        name: b"dataset".to_vec(),
                        offset: 0,
                        dtype: object_ref(),
                    },
                    CompoundMember {
                        name: b"dimension".to_vec(),
                        offset: 8,
                        dtype: dt::int_le(4, false),
                    },
                ],
            };
            w.set_attr(addr, "REFERENCE_LIST", Value::from_raw(t, raw, &[n])?)
        })
    }

    /// Sets a scalar fixed-length, NUL-terminated ASCII string attribute of `size` bytes
    /// (`CLASS` and `NAME` of a dimension scale).
    fn set_cstring_attr(
        &self,
        py: Python<'_>,
        addr: u64,
        name: String,
        value: Vec<u8>,
        size: u32,
    ) -> PyResult<()> {
        let mut raw = value;
        raw.resize(size as usize, 0);
        self.with(py, move |w| {
            let t = Datatype::String {
                size,
                pad: StringPad::NullTerm,
                cset: CharSet::Ascii,
            };
            w.set_attr(addr, &name, Value::from_raw(t, raw, &[])?)
        })
    }

    /// Deletes an attribute.
    fn del_attr(&self, py: Python<'_>, addr: u64, name: String) -> PyResult<()> {
        self.with(py, move |w| w.delete_attr(addr, &name))
    }

    /// Creates a soft link.
    fn link_soft(&self, py: Python<'_>, path: String, target: String) -> PyResult<()> {
        self.with(py, move |w| w.link_soft(&path, &target))
    }

    /// Creates an external link.
    fn link_external(
        &self,
        py: Python<'_>,
        path: String,
        file: String,
        obj: String,
    ) -> PyResult<()> {
        self.with(py, move |w| w.link_external(&path, &file, &obj))
    }

    /// Creates a hard link to the object at `addr`.
    fn link_hard(&self, py: Python<'_>, path: String, addr: u64) -> PyResult<()> {
        self.with(py, move |w| w.link_hard_addr(&path, addr))
    }

    /// Removes a link.
    fn unlink(&self, py: Python<'_>, path: String) -> PyResult<()> {
        self.with(py, move |w| w.unlink(&path))
    }

    /// Moves a link.
    fn move_link(&self, py: Python<'_>, src: String, dst: String) -> PyResult<()> {
        self.with(py, move |w| w.move_link(&src, &dst))
    }
}

/// A selection from its Python form: `("none",)`, `("all",)`, `("regular", start, stride,
/// count, block)` (unlimited as 2**64-1), `("points", rank, [[coord, ...], ...])` or
/// `("blocks", rank, [([start...], [end...]), ...])` (inclusive ends).
fn selection_of(o: &Bound<'_, PyAny>) -> PyResult<Selection> {
    let kind: String = o.get_item(0)?.extract()?;
    Ok(match kind.as_str() {
        "none" => Selection::None,
        "all" => Selection::All,
        "regular" => Selection::Regular {
            start: o.get_item(1)?.extract()?,
            stride: o.get_item(2)?.extract()?,
            count: o.get_item(3)?.extract()?,
            block: o.get_item(4)?.extract()?,
        },
        "points" => Selection::Points {
            rank: o.get_item(1)?.extract()?,
            points: o.get_item(2)?.extract()?,
        },
        "blocks" => Selection::Blocks {
            rank: o.get_item(1)?.extract()?,
            blocks: o.get_item(2)?.extract()?,
        },
        k => {
            return Err(PyTypeError::new_err(format!(
                "unknown selection kind {k:?}"
            )))
        }
    })
}

/// The name a plugin filter registers with libhdf5 (stored in the filter pipeline message).
fn plugin_filter_name(id: u16) -> &'static str {
    match id {
        4 => "szip",
        307 => "bzip2",
        32001 => "blosc",
        32004 => "HDF5 lz4 filter; see http://www.hdfgroup.org/services/contributions.html",
        32008 => "bitshuffle; see https://github.com/kiyo-masui/bitshuffle",
        32015 => "Zstandard compression: http://www.zstd.net",
        _ => "",
    }
}

/// The global heap object of a dataset region reference: the dataset's header address, then
/// its selection serialized (spec Appendix D); empty for `None` or a null reference.
fn region_object(it: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if it.is_none() {
        return Ok(Vec::new());
    }
    let addr = it.getattr("_addr").map_err(|_| {
        PyTypeError::new_err("region references must be h5oxide RegionReference objects")
    })?;
    if addr.is_none() {
        return Ok(Vec::new());
    }
    let addr: u64 = addr.extract()?;
    let sel = it.getattr("_sel")?;
    if sel.is_none() {
        return Err(PyTypeError::new_err(
            "this region reference has no selection h5oxide can write",
        ));
    }
    let sel = selection_of(&sel)?;
    let mut out = addr.to_le_bytes().to_vec();
    out.extend_from_slice(
        &h5oxide::format::encode::selection::encode(&sel).map_err(crate::to_py_err)?,
    );
    Ok(out)
}
