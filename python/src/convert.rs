//! Stored element bytes → NumPy arrays, with the dtype of [`crate::dtype::numpy_dtype`].
//!
//! Three paths, fastest first:
//! 1. the stored layout *is* the NumPy layout (standard integers and IEEE floats in either byte
//!    order, fixed strings, opaque, compounds/arrays/enums of those): the bytes become the
//!    array's buffer without a copy;
//! 2. numbers in other layouts (odd precisions or bit offsets, bfloat16, x87, ...): decoded to
//!    64-bit numbers in Rust, then cast to the target dtype by NumPy;
//! 3. everything with variable-length parts or references: decoded to [`Value`]s in Rust, then
//!    turned into Python objects (bytes, str, arrays, references) element by element.
//!
//! Decoding runs with the GIL released; only Python object creation holds it.

use std::sync::Arc;

use h5oxide::file::FileInner;
use h5oxide::format::datatype::{ByteOrder, Datatype, FloatingPoint, MantissaNorm, StringPad};
use h5oxide::format::value::strip_string;
use h5oxide::format::value::{Decoder, Value};
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyComplex, PyList, PyTuple};

use crate::dtype::{complex_compound, is_bool_enum};
use crate::to_py_err;

/// True for the IEEE half, single and double layouts NumPy uses.
fn ieee_standard(f: &FloatingPoint) -> bool {
    let bits = 8 * f.size;
    f.order != ByteOrder::Vax
        && f.bit_offset == 0
        && f.precision as u32 == bits
        && f.norm == MantissaNorm::Implied
        && f.sign_location as u32 + 1 == bits
        && f.mantissa_location == 0
        && f.exponent_location == f.mantissa_size
        && matches!(
            (f.size, f.exponent_size, f.mantissa_size, f.exponent_bias),
            (2, 5, 10, 15) | (4, 8, 23, 127) | (8, 11, 52, 1023)
        )
}

/// True if the stored bytes of `dt` are exactly the buffer of its NumPy dtype.
pub fn identical_layout(py: Python<'_>, dt: &Datatype) -> PyResult<bool> {
    Ok(match dt {
        Datatype::FixedPoint(fp) | Datatype::Bitfield(fp) => {
            matches!(fp.size, 1 | 2 | 4 | 8)
                && fp.bit_offset == 0
                && fp.precision as u32 == 8 * fp.size
        }
        Datatype::Float(f) => ieee_standard(f),
        Datatype::Complex { base, .. } => {
            matches!(&**base, Datatype::Float(f) if ieee_standard(f) && f.size >= 4)
        }
        Datatype::String { .. } | Datatype::Opaque { .. } => true,
        Datatype::Compound { size, members } => {
            if complex_compound(py, members)? {
                match &members[0].dtype {
                    Datatype::Float(f) => {
                        ieee_standard(f)
                            && f.size >= 4
                            && members[0].offset == 0
                            && members[1].offset == f.size
                            && *size == 2 * f.size
                    }
                    _ => false,
                }
            } else {
                let mut ok = true;
                for m in members {
                    ok = ok && identical_layout(py, &m.dtype)?;
                }
                ok
            }
        }
        Datatype::Enum { base, members, .. } => {
            if is_bool_enum(base, members) {
                matches!(&**base, Datatype::FixedPoint(fp) if fp.size == 1 && fp.bit_offset == 0 && fp.precision == 8)
            } else {
                identical_layout(py, base)?
            }
        }
        Datatype::Array { base, .. } => identical_layout(py, base)?,
        _ => false,
    })
}

/// True if `dt` has fixed-length strings that are not null-padded: libhdf5 converts those to
/// h5py's null-padded memory strings (see [`normalize_strings`]).
fn has_padded_strings(dt: &Datatype) -> bool {
    match dt {
        Datatype::String { pad, .. } => *pad != StringPad::NullPad,
        Datatype::Compound { members, .. } => members.iter().any(|m| has_padded_strings(&m.dtype)),
        Datatype::Array { base, .. } => has_padded_strings(base),
        _ => false,
    }
}

/// Rewrites the fixed-length strings of one element as null-padded, as libhdf5's string
/// conversion does: a null-terminated string keeps the bytes before its first NUL, a
/// space-padded one loses its trailing spaces; the rest is filled with NULs.
fn normalize_strings(dt: &Datatype, elem: &mut [u8]) {
    match dt {
        Datatype::String { pad, size, .. } if *pad != StringPad::NullPad => {
            let n = (*size as usize).min(elem.len());
            let keep = strip_string(*pad, &elem[..n]).len();
            elem[keep..n].fill(0);
        }
        Datatype::Compound { members, .. } => {
            for m in members {
                let start = m.offset as usize;
                let end = start.saturating_add(m.dtype.size() as usize);
                if let Some(part) = elem.get_mut(start..end) {
                    normalize_strings(&m.dtype, part);
                }
            }
        }
        Datatype::Array { base, .. } => {
            let bs = base.size() as usize;
            if bs > 0 {
                for part in elem.chunks_exact_mut(bs) {
                    normalize_strings(base, part);
                }
            }
        }
        _ => {}
    }
}

/// True if `dt` is a plain number (integer, float, enum, complex) decoded to a number.
fn numeric(py: Python<'_>, dt: &Datatype) -> PyResult<bool> {
    Ok(match dt {
        Datatype::FixedPoint(_)
        | Datatype::Bitfield(_)
        | Datatype::Float(_)
        | Datatype::Complex { .. } => true,
        Datatype::Enum { base, .. } => numeric(py, base)?,
        Datatype::Compound { members, .. } => complex_compound(py, members)?,
        _ => false,
    })
}

/// How the top-level elements are handed to Python.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Dataset reads: variable-length strings are `bytes` (h5py 3).
    Dataset,
    /// Dataset reads through `asstr()` (UTF-8, strict): a dataset of variable-length strings
    /// gives `str` objects made straight from the stored bytes; when one is not valid UTF-8,
    /// all are `bytes` (as [`Mode::Dataset`]) and the caller decodes them and raises Python's
    /// error.
    DatasetStr,
    /// Attribute reads: top-level variable-length strings are `str` (UTF-8, surrogateescape).
    Attribute,
}

/// Converts `raw` (all elements of `dt`, as stored, row-major) to a NumPy array of `shape`
/// (plus the sub-array shape of an array type) and the dtype h5py gives `dt`.
pub fn to_numpy<'py>(
    py: Python<'py>,
    file: &Arc<FileInner>,
    dt: &Datatype,
    raw: Vec<u8>,
    shape: &[usize],
    mode: Mode,
) -> PyResult<Bound<'py, PyAny>> {
    let np = py.import("numpy")?;
    let dtype = crate::dtype::numpy_dtype(py, dt)?;
    let n: usize = shape.iter().product();
    // NumPy has no top-level sub-array dtype: an array type becomes extra trailing dimensions.
    // (nested array types add their dimensions in turn).
    let mut atom_dt = dt;
    let mut atom_np = dtype.clone();
    let mut full_shape = shape.to_vec();
    while let Datatype::Array { dims, base, .. } = atom_dt {
        full_shape.extend(dims.iter().map(|&d| d as usize));
        atom_np = atom_np.getattr("subdtype")?.get_item(0)?;
        atom_dt = base;
    }
    let natoms: usize = full_shape.iter().product();
    let shape_t = PyTuple::new(py, full_shape.iter().copied())?;
    let size = dt.size() as usize;
    if raw.len() != n.saturating_mul(size) {
        return Err(pyo3::exceptions::PyOSError::new_err(format!(
            "read {} bytes for {n} elements of {size} bytes",
            raw.len()
        )));
    }

    if identical_layout(py, atom_dt)? {
        let mut raw = raw;
        if has_padded_strings(dt) && size > 0 {
            let d = dt.clone();
            raw = py.detach(move || {
                for elem in raw.chunks_exact_mut(size) {
                    normalize_strings(&d, elem);
                }
                raw
            });
        }
        let bytes = PyArray1::<u8>::from_vec(py, raw);
        return bytes
            .call_method1("view", (&atom_np,))?
            .call_method1("reshape", (shape_t,));
    }

    if numeric(py, atom_dt)? {
        let kind: String = atom_np.getattr("kind")?.extract()?;
        let atom = atom_dt.clone();
        let f = file.clone();
        let values = py
            .detach(move || Decoder::new(f.ctx()).decode_many(&atom, &raw, natoms))
            .map_err(to_py_err)?;
        let arr = match kind.as_str() {
            "c" => {
                let mut v = Vec::with_capacity(2 * natoms);
                for x in &values {
                    match x {
                        Value::Complex(re, im) => v.extend([*re, *im]),
                        Value::Compound(parts) if parts.len() == 2 => {
                            for (_, p) in parts {
                                v.push(if let Value::Float(x) = p {
                                    *x
                                } else {
                                    f64::NAN
                                });
                            }
                        }
                        _ => v.extend([f64::NAN, f64::NAN]),
                    }
                }
                PyArray1::from_vec(py, v).call_method1("view", ("complex128",))?
            }
            "f" => {
                let v: Vec<f64> = values.iter().map(num_f64).collect();
                PyArray1::from_vec(py, v).into_any()
            }
            "u" => {
                let v: Vec<u64> = values
                    .iter()
                    .map(|x| num_i128(x).clamp(0, u64::MAX as i128) as u64)
                    .collect();
                PyArray1::from_vec(py, v).into_any()
            }
            "b" => {
                let v: Vec<bool> = values.iter().map(|x| num_i128(x) != 0).collect();
                PyArray1::from_vec(py, v).into_any()
            }
            _ => {
                let v: Vec<i64> = values
                    .iter()
                    .map(|x| num_i128(x).clamp(i64::MIN as i128, i64::MAX as i128) as i64)
                    .collect();
                PyArray1::from_vec(py, v).into_any()
            }
        };
        return arr
            .call_method1("astype", (&atom_np,))?
            .call_method1("reshape", (shape_t,));
    }

    if matches!(dt, Datatype::VarLenString { .. })
        && matches!(mode, Mode::Dataset | Mode::DatasetStr)
    {
        // h5py 3 gives `bytes` for each variable-length string of a dataset: read them all
        // into one buffer, then make the objects.
        let f = file.clone();
        let (buf, ends) = py
            .detach(move || Decoder::new(f.ctx()).vlen_strings(&raw, n, size))
            .map_err(to_py_err)?;
        let mut objs: Vec<Py<PyAny>> = Vec::with_capacity(ends.len());
        if mode == Mode::DatasetStr {
            let mut start = 0;
            for &end in &ends {
                match std::str::from_utf8(buf.get(start..end).unwrap_or(&[])) {
                    Ok(s) => objs.push(pyo3::types::PyString::new(py, s).into_any().unbind()),
                    Err(_) => break,
                }
                start = end;
            }
            if objs.len() == ends.len() {
                return PyArray1::from_vec(py, objs).call_method1("reshape", (shape_t,));
            }
            objs.clear();
        }
        let mut start = 0;
        for &end in &ends {
            objs.push(
                PyBytes::new(py, buf.get(start..end).unwrap_or(&[]))
                    .into_any()
                    .unbind(),
            );
            start = end;
        }
        return PyArray1::from_vec(py, objs)
            .call_method1("view", (&dtype,))?
            .call_method1("reshape", (shape_t,));
    }

    // General path: decode to values, then build Python objects.
    let f = file.clone();
    let d = dt.clone();
    let values = py
        .detach(move || Decoder::new(f.ctx()).decode_many(&d, &raw, n))
        .map_err(to_py_err)?;
    let cx = Cx {
        file: file.clone(),
        top_str: mode == Mode::Attribute,
    };
    if dtype.getattr("kind")?.extract::<String>()? == "O" {
        // Object elements (strings, sequences, references): the array is made from the objects
        // in one step instead of one `__setitem__` call per element.
        let objs = values
            .iter()
            .map(|v| value_to_py(py, &cx, dt, v, true).map(Bound::unbind))
            .collect::<PyResult<Vec<Py<PyAny>>>>()?;
        return PyArray1::from_vec(py, objs)
            .call_method1("view", (&dtype,))?
            .call_method1("reshape", (shape_t,));
    }
    let out = np.getattr("empty")?.call1((n, &dtype))?;
    for (i, v) in values.iter().enumerate() {
        let o = value_to_py(py, &cx, dt, v, true)?;
        out.set_item(i, o)?;
    }
    out.call_method1("reshape", (shape_t,))
}

fn num_f64(v: &Value) -> f64 {
    match v {
        Value::Float(x) => *x,
        Value::Int(i) => *i as f64,
        Value::BigInt(s) => s.parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

fn num_i128(v: &Value) -> i128 {
    match v {
        Value::Int(i) => *i,
        Value::Float(x) => *x as i128,
        Value::BigInt(s) => {
            if s.starts_with('-') {
                i128::MIN
            } else {
                i128::MAX
            }
        }
        _ => 0,
    }
}

/// Context of a value conversion.
struct Cx {
    file: Arc<FileInner>,
    /// Top-level variable-length strings become `str` (attributes).
    top_str: bool,
}

/// One decoded value as the Python object h5py would store in an array of the type's dtype.
fn value_to_py<'py>(
    py: Python<'py>,
    cx: &Cx,
    dt: &Datatype,
    v: &Value,
    top: bool,
) -> PyResult<Bound<'py, PyAny>> {
    match (dt, v) {
        (Datatype::Enum { base, members, .. }, Value::Int(i)) if is_bool_enum(base, members) => {
            Ok(pyo3::types::PyBool::new(py, *i != 0).to_owned().into_any())
        }
        (_, Value::Int(i)) => Ok(i.into_pyobject(py)?.into_any()),
        (_, Value::BigInt(s)) => py.import("builtins")?.getattr("int")?.call1((s.as_str(),)),
        (_, Value::Float(x)) => Ok(x.into_pyobject(py)?.into_any()),
        (_, Value::Complex(re, im)) => Ok(PyComplex::from_doubles(py, *re, *im).into_any()),
        (Datatype::VarLenString { .. }, Value::String(b)) if top && cx.top_str => {
            match std::str::from_utf8(b) {
                Ok(s) => Ok(pyo3::types::PyString::new(py, s).into_any()),
                Err(_) => PyBytes::new(py, b).call_method1("decode", ("utf-8", "surrogateescape")),
            }
        }
        (_, Value::String(b)) | (_, Value::Opaque(b)) | (_, Value::RevisedRef(b)) => {
            Ok(PyBytes::new(py, b).into_any())
        }
        (Datatype::Compound { members, .. }, Value::Compound(parts)) => {
            if complex_compound(py, members)? {
                let re = parts.first().map(|p| num_f64(&p.1)).unwrap_or(f64::NAN);
                let im = parts.get(1).map(|p| num_f64(&p.1)).unwrap_or(f64::NAN);
                return Ok(PyComplex::from_doubles(py, re, im).into_any());
            }
            let mut items = Vec::with_capacity(parts.len());
            for (m, (_, pv)) in members.iter().zip(parts.iter()) {
                items.push(value_to_py(py, cx, &m.dtype, pv, false)?);
            }
            Ok(PyTuple::new(py, items)?.into_any())
        }
        (Datatype::Array { base, dims, .. }, Value::Array { elems, .. }) => {
            let np = py.import("numpy")?;
            let base_np = crate::dtype::numpy_dtype(py, base)?;
            let arr = np.getattr("empty")?.call1((elems.len(), &base_np))?;
            for (i, e) in elems.iter().enumerate() {
                arr.set_item(i, value_to_py(py, cx, base, e, false)?)?;
            }
            let shape = PyTuple::new(py, dims.iter().map(|&d| d as usize))?;
            arr.call_method1("reshape", (shape,))
        }
        (Datatype::VarLenSequence { base, .. }, Value::VarLen(elems)) => {
            let np = py.import("numpy")?;
            let mut base_np = crate::dtype::numpy_dtype(py, base)?;
            let kind: String = base_np.getattr("kind")?.extract()?;
            if kind == "O" {
                // h5py's sequences of objects are plain object arrays (no vlen/ref metadata)
                base_np = np.getattr("dtype")?.call1(("O",))?;
            } else if matches!(kind.as_str(), "i" | "u" | "f" | "c") {
                // h5py's sequence elements are in native byte order
                base_np = base_np.call_method1("newbyteorder", ("=",))?;
            }
            if numeric(py, base)? && !matches!(&**base, Datatype::Compound { .. }) {
                let list = PyList::empty(py);
                for e in elems {
                    list.append(value_to_py(py, cx, base, e, false)?)?;
                }
                return np.getattr("array")?.call1((list, &base_np));
            }
            let arr = np.getattr("empty")?.call1((elems.len(), &base_np))?;
            for (i, e) in elems.iter().enumerate() {
                arr.set_item(i, value_to_py(py, cx, base, e, false)?)?;
            }
            Ok(arr)
        }
        (_, Value::ObjectRef(addr)) => {
            let cls = py.import("h5oxide")?.getattr("Reference")?;
            let token = crate::FileToken {
                inner: cx.file.clone(),
            };
            cls.call1((token, *addr))
        }
        (_, Value::RegionRef(r)) => {
            let cls = py.import("h5oxide")?.getattr("RegionReference")?;
            let token = crate::FileToken {
                inner: cx.file.clone(),
            };
            match r {
                None => cls.call1((token, None::<u64>, py.None())),
                Some(r) => cls.call1((token, Some(r.target), selection_py(py, &r.selection)?)),
            }
        }
        (dt, v) => Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "cannot convert value {v:?} of HDF5 type class {}",
            dt.class_id()
        ))),
    }
}

/// NumPy's scalar types for the plain numeric types [`numpy_scalar`] makes: int8..int64,
/// uint8..uint64, float32, float64 (looked up once).
static SCALAR_TYPES: std::sync::OnceLock<Vec<Py<PyAny>>> = std::sync::OnceLock::new();

/// One stored element of a plain integer (1, 2, 4, 8 bytes) or IEEE float (4, 8 bytes) type as
/// the NumPy scalar h5py gives for a scalar attribute (`np.int64(3)`, `np.float32(0.5)`), made
/// without going through an array; None for any other type.
pub fn numpy_scalar<'py>(
    py: Python<'py>,
    dt: &Datatype,
    raw: &[u8],
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let (size, order) = match dt {
        Datatype::FixedPoint(fp)
            if matches!(fp.size, 1 | 2 | 4 | 8)
                && fp.bit_offset == 0
                && fp.precision as u32 == 8 * fp.size =>
        {
            (fp.size as usize, fp.order)
        }
        Datatype::Float(f) if matches!(f.size, 4 | 8) && ieee_standard(f) => {
            (f.size as usize, f.order)
        }
        _ => return Ok(None),
    };
    let Some(bytes) = raw.get(..size) else {
        return Ok(None);
    };
    let mut word = [0u8; 8];
    if order == ByteOrder::BigEndian {
        for (w, b) in word.iter_mut().zip(bytes.iter().rev()) {
            *w = *b;
        }
    } else {
        word[..size].copy_from_slice(bytes);
    }
    let bits = u64::from_le_bytes(word);
    if SCALAR_TYPES.get().is_none() {
        let np = py.import("numpy")?;
        let names = [
            "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32",
            "float64",
        ];
        let types = names
            .iter()
            .map(|n| np.getattr(*n).map(Bound::unbind))
            .collect::<PyResult<Vec<_>>>()?;
        let _ = SCALAR_TYPES.set(types);
    }
    let Some(types) = SCALAR_TYPES.get() else {
        return Ok(None);
    };
    let log = size.trailing_zeros() as usize; // 0..=3
    let (index, value) = match dt {
        Datatype::FixedPoint(fp) if fp.signed => {
            let shift = 64 - 8 * size as u32;
            let v = ((bits << shift) as i64) >> shift;
            (log, v.into_pyobject(py)?.into_any())
        }
        Datatype::FixedPoint(_) => (4 + log, bits.into_pyobject(py)?.into_any()),
        _ if size == 4 => (
            8,
            (f32::from_bits(bits as u32) as f64)
                .into_pyobject(py)?
                .into_any(),
        ),
        _ => (9, f64::from_bits(bits).into_pyobject(py)?.into_any()),
    };
    match types.get(index) {
        Some(t) => Ok(Some(t.bind(py).call1((value,))?)),
        None => Ok(None),
    }
}

/// A selection in the form the writer takes back (`("all",)`, `("regular", start, stride,
/// count, block)`, `("points", rank, points)`, `("blocks", rank, [(start, end), ...])`,
/// `("none",)`), for region references read from a file.
fn selection_py<'py>(
    py: Python<'py>,
    sel: &h5oxide::format::value::Selection,
) -> PyResult<Bound<'py, PyAny>> {
    use h5oxide::format::value::Selection;
    Ok(match sel {
        Selection::None => ("none",).into_pyobject(py)?.into_any(),
        Selection::All => ("all",).into_pyobject(py)?.into_any(),
        Selection::Points { rank, points } => ("points", *rank, points.clone())
            .into_pyobject(py)?
            .into_any(),
        Selection::Regular {
            start,
            stride,
            count,
            block,
        } => (
            "regular",
            start.clone(),
            stride.clone(),
            count.clone(),
            block.clone(),
        )
            .into_pyobject(py)?
            .into_any(),
        Selection::Blocks { rank, blocks } => ("blocks", *rank, blocks.clone())
            .into_pyobject(py)?
            .into_any(),
    })
}
