//! HDF5 datatype → NumPy dtype, following h5py's rules (`TypeID.dtype`):
//!
//! * integers and bitfields: `<order><i|u><size>` in the file's byte order (`>i4`, `<u2`);
//! * floats: the smallest NumPy float whose size, mantissa and exponent range hold the stored
//!   layout, in the file's byte order (bfloat16 becomes `<f8`, like h5py);
//! * fixed strings: `|S<n>` with `h5py_encoding` metadata; variable-length strings: object with
//!   `vlen` metadata (`bytes` for ASCII, `str` for UTF-8);
//! * compounds: structured dtypes with the stored offsets and item size, except a compound of two
//!   equal floats named `r` and `i`, which is complex;
//! * enums: the base integer with `enum` metadata, except `{FALSE: 0, TRUE: 1}`, which is `bool`;
//! * arrays: sub-array dtypes; variable-length sequences: object with `vlen` metadata;
//! * object and region references: object with `ref` metadata (`h5oxide.Reference` /
//!   `h5oxide.RegionReference`);
//! * opaque: `|V<n>` (or the dtype in a `NUMPY:` tag); complex (HDF5 2.0): `<order>c<size>`.
//!
//! Anything else (time, revised references, VAX floats) raises `TypeError`, as h5py does.

use h5oxide::format::datatype::{ByteOrder, CharSet, Datatype, FloatingPoint, ReferenceKind};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

/// The `<`/`>` prefix of a byte order; VAX has no NumPy equivalent.
fn order_char(order: ByteOrder) -> PyResult<&'static str> {
    match order {
        ByteOrder::LittleEndian => Ok("<"),
        ByteOrder::BigEndian => Ok(">"),
        ByteOrder::Vax => Err(PyTypeError::new_err(
            "No NumPy equivalent for VAX-ordered floating-point types",
        )),
    }
}

/// `numpy.dtype(spec)`.
fn np_dtype<'py>(py: Python<'py>, spec: impl IntoPyObject<'py>) -> PyResult<Bound<'py, PyAny>> {
    py.import("numpy")?.getattr("dtype")?.call1((spec,))
}

/// `numpy.dtype(spec, metadata={key: value})`.
fn np_dtype_meta<'py>(
    py: Python<'py>,
    spec: impl IntoPyObject<'py>,
    key: &str,
    value: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let meta = PyDict::new(py);
    meta.set_item(key, value)?;
    let kw = PyDict::new(py);
    kw.set_item("metadata", meta)?;
    py.import("numpy")?
        .getattr("dtype")?
        .call((spec,), Some(&kw))
}

/// One of NumPy's float types, described as h5py compares them.
struct FloatKind {
    code: &'static str,
    size: u32,
    nmant: i64,
    maxexp: i64,
    minexp: i64,
}

/// The long double's (nmant, maxexp, minexp, itemsize), read once from `numpy.finfo`.
static LONGDOUBLE: std::sync::OnceLock<(i64, i64, i64, u32)> = std::sync::OnceLock::new();

/// The candidate float types in h5py's order (`numpy.typecodes["Float"]`: e, f, d, g) with `numpy.finfo`'s values. The long
/// double's properties come from `numpy.finfo`, with h5py's correction for x87 80-bit floats.
fn float_kinds(py: Python<'_>) -> PyResult<Vec<FloatKind>> {
    let ld = match LONGDOUBLE.get() {
        Some(v) => *v,
        None => {
            let np = py.import("numpy")?;
            let ld = np.getattr("longdouble")?;
            let fi = np.getattr("finfo")?.call1((&ld,))?;
            let mut nmant: i64 = fi.getattr("nmant")?.extract()?;
            let nexp: i64 = fi.getattr("nexp")?.extract()?;
            if nmant == 63 && nexp == 15 {
                nmant += 1;
            }
            let size: u32 = np_dtype(py, &ld)?.getattr("itemsize")?.extract()?;
            let v = (
                nmant,
                fi.getattr("maxexp")?.extract()?,
                fi.getattr("minexp")?.extract()?,
                size,
            );
            *LONGDOUBLE.get_or_init(|| v)
        }
    };
    Ok(vec![
        FloatKind {
            code: "f2",
            size: 2,
            nmant: 10,
            maxexp: 16,
            minexp: -14,
        },
        FloatKind {
            code: "f4",
            size: 4,
            nmant: 23,
            maxexp: 128,
            minexp: -126,
        },
        FloatKind {
            code: "f8",
            size: 8,
            nmant: 52,
            maxexp: 1024,
            minexp: -1022,
        },
        FloatKind {
            code: "g",
            size: ld.3,
            nmant: ld.0,
            maxexp: ld.1,
            minexp: ld.2,
        },
    ])
}

/// The NumPy float code h5py picks for a stored float layout, or `None` if none can hold it.
pub fn float_code(py: Python<'_>, f: &FloatingPoint) -> PyResult<Option<(&'static str, u32)>> {
    let esize = f.exponent_size as u32;
    let emax: i128 = if esize >= 100 {
        i128::MAX / 4
    } else {
        (1i128 << esize) - 1
    };
    let bias = f.exponent_bias as i128;
    for k in float_kinds(py)? {
        if k.size >= f.size
            && (f.mantissa_size as i64) <= k.nmant
            && emax - bias - 1 <= k.maxexp as i128
            && 1 - bias >= k.minexp as i128
        {
            return Ok(Some((k.code, k.size)));
        }
    }
    Ok(None)
}

/// The value of an enum member as an integer (its base type's byte order).
pub fn enum_value(base: &Datatype, bytes: &[u8]) -> i128 {
    let (order, signed) = match base {
        Datatype::FixedPoint(fp) | Datatype::Bitfield(fp) => (fp.order, fp.signed),
        _ => (ByteOrder::LittleEndian, false),
    };
    let mut le = bytes.to_vec();
    if order == ByteOrder::BigEndian {
        le.reverse();
    }
    le.truncate(16);
    let mut v: u128 = 0;
    for &b in le.iter().rev() {
        v = (v << 8) | b as u128;
    }
    let bits = 8 * le.len() as u32;
    if signed && bits > 0 && bits < 128 && (v >> (bits - 1)) & 1 == 1 {
        (v | !((1u128 << bits) - 1)) as i128
    } else {
        v as i128
    }
}

/// True if an enum is h5py's boolean: exactly the members `FALSE = 0` and `TRUE = 1`.
pub fn is_bool_enum(base: &Datatype, members: &[h5oxide::format::datatype::EnumMember]) -> bool {
    if members.len() != 2 {
        return false;
    }
    let mut seen = [false, false];
    for m in members {
        match (m.name.as_slice(), enum_value(base, &m.value)) {
            (b"FALSE", 0) => seen[0] = true,
            (b"TRUE", 1) => seen[1] = true,
            _ => return false,
        }
    }
    seen == [true, true]
}

/// True if a compound is h5py's complex number: members `r` and `i` of one float type of 4, 8
/// or 16 bytes (as NumPy dtypes).
pub fn complex_compound(
    py: Python<'_>,
    members: &[h5oxide::format::datatype::CompoundMember],
) -> PyResult<bool> {
    if members.len() != 2 || members[0].name != b"r" || members[1].name != b"i" {
        return Ok(false);
    }
    match (&members[0].dtype, &members[1].dtype) {
        (Datatype::Float(a), Datatype::Float(b)) if a == b => {
            Ok(matches!(float_code(py, a)?, Some((_, 4 | 8 | 16))) && a.order != ByteOrder::Vax)
        }
        _ => Ok(false),
    }
}

/// True if libhdf5 converts the type on every read (variable-length parts or references), the
/// case where it lays compound members out again with in-memory sizes.
fn force_conv(dt: &Datatype) -> bool {
    match dt {
        Datatype::VarLenSequence { .. }
        | Datatype::VarLenString { .. }
        | Datatype::Reference { .. } => true,
        Datatype::Compound { members, .. } => members.iter().any(|m| force_conv(&m.dtype)),
        Datatype::Enum { base, .. }
        | Datatype::Array { base, .. }
        | Datatype::Complex { base, .. } => force_conv(base),
        _ => false,
    }
}

/// The element size libhdf5 reports for a type opened from a file (`H5T_LOC_MEMORY`): a
/// variable-length string is a `char *`, a sequence an `hvl_t`, a revised reference an
/// `H5R_ref_t`; compounds and arrays grow or shrink with their members.
pub fn memory_size(dt: &Datatype) -> u32 {
    match dt {
        Datatype::VarLenString { .. } => std::mem::size_of::<usize>() as u32,
        Datatype::VarLenSequence { .. } => 2 * std::mem::size_of::<usize>() as u32,
        Datatype::Reference { kind, .. } => match kind {
            ReferenceKind::Object => 8,
            ReferenceKind::Region => 12,
            _ => 64,
        },
        Datatype::Array { dims, base, .. } => dims
            .iter()
            .fold(memory_size(base), |a, &d| a.saturating_mul(d)),
        Datatype::Compound { .. } if force_conv(dt) => memory_compound(dt).1,
        other => other.size(),
    }
}

/// Members (in offset order, with shifted offsets) and size of a compound that libhdf5 lays out
/// again in memory (see [`memory_size`]); other compounds are returned unchanged.
fn memory_compound(dt: &Datatype) -> (Vec<(&h5oxide::format::datatype::CompoundMember, u32)>, u32) {
    let Datatype::Compound { size, members } = dt else {
        return (Vec::new(), dt.size());
    };
    if !force_conv(dt) {
        return (members.iter().map(|m| (m, m.offset)).collect(), *size);
    }
    let mut sorted: Vec<_> = members.iter().collect();
    sorted.sort_by_key(|m| m.offset);
    let mut change: i64 = 0;
    let mut out = Vec::with_capacity(sorted.len());
    for m in sorted {
        let off = (m.offset as i64 + change).max(0) as u32;
        out.push((m, off));
        change += memory_size(&m.dtype) as i64 - m.dtype.size() as i64;
    }
    (out, (*size as i64 + change).max(0) as u32)
}

/// The NumPy dtype h5py reports for `dt`.
pub fn numpy_dtype<'py>(py: Python<'py>, dt: &Datatype) -> PyResult<Bound<'py, PyAny>> {
    match dt {
        Datatype::FixedPoint(fp) => {
            let o = order_char(fp.order)?;
            np_dtype(
                py,
                format!("{o}{}{}", if fp.signed { "i" } else { "u" }, fp.size),
            )
        }
        Datatype::Bitfield(fp) => np_dtype(py, format!("{}u{}", order_char(fp.order)?, fp.size)),
        Datatype::Float(f) => {
            let o = order_char(f.order)?;
            match float_code(py, f)? {
                Some((code, _)) => np_dtype(py, code)?.call_method1("newbyteorder", (o,)),
                None => Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "Insufficient precision in available types to represent {} bits of exponent and {} of mantissa",
                    f.exponent_size, f.mantissa_size
                ))),
            }
        }
        Datatype::Complex { size, base } => {
            let Datatype::Float(f) = &**base else {
                return Err(PyTypeError::new_err(
                    "complex type whose base is not a float",
                ));
            };
            np_dtype(py, format!("{}c{}", order_char(f.order)?, size))
        }
        Datatype::Time { .. } => Err(PyTypeError::new_err(
            "No NumPy equivalent for TypeTimeID exists",
        )),
        Datatype::String { size, cset, .. } => {
            let enc = if *cset == CharSet::Utf8 {
                "utf-8"
            } else {
                "ascii"
            };
            np_dtype_meta(
                py,
                format!("|S{size}"),
                "h5py_encoding",
                pyo3::types::PyString::new(py, enc).into_any(),
            )
        }
        Datatype::VarLenString { cset, .. } => {
            let builtins = py.import("builtins")?;
            let kind = builtins.getattr(if *cset == CharSet::Utf8 {
                "str"
            } else {
                "bytes"
            })?;
            np_dtype_meta(py, "O", "vlen", kind)
        }
        Datatype::Opaque { size, tag } => {
            if let Some(rest) = tag.strip_prefix(b"NUMPY:") {
                let spec = String::from_utf8_lossy(rest).into_owned();
                np_dtype_meta(
                    py,
                    spec,
                    "h5py_opaque",
                    pyo3::types::PyBool::new(py, true).to_owned().into_any(),
                )
            } else {
                np_dtype(py, format!("|V{size}"))
            }
        }
        Datatype::Compound { members, .. } => {
            if complex_compound(py, members)? {
                let Datatype::Float(f) = &members[0].dtype else {
                    unreachable!()
                };
                let (_, fsize) = float_code(py, f)?.unwrap_or(("f8", 8));
                return np_dtype(py, format!("{}c{}", order_char(f.order)?, 2 * fsize));
            }
            let (layout, itemsize) = memory_compound(dt);
            let names = PyList::empty(py);
            let formats = PyList::empty(py);
            let offsets = PyList::empty(py);
            for (m, off) in layout {
                names.append(String::from_utf8_lossy(&m.name).into_owned())?;
                formats.append(numpy_dtype(py, &m.dtype)?)?;
                offsets.append(off)?;
            }
            let d = PyDict::new(py);
            d.set_item("names", names)?;
            d.set_item("formats", formats)?;
            d.set_item("offsets", offsets)?;
            d.set_item("itemsize", itemsize)?;
            np_dtype(py, d)
        }
        Datatype::Enum { base, members, .. } => {
            if is_bool_enum(base, members) {
                return np_dtype(py, "bool");
            }
            let base_np = numpy_dtype(py, base)?;
            let map = PyDict::new(py);
            for m in members {
                let name = match std::str::from_utf8(&m.name) {
                    Ok(s) => s.into_pyobject(py)?.into_any(),
                    Err(_) => pyo3::types::PyBytes::new(py, &m.name).into_any(),
                };
                map.set_item(name, enum_value(base, &m.value))?;
            }
            np_dtype_meta(py, base_np, "enum", map.into_any())
        }
        Datatype::VarLenSequence { base, .. } => {
            let base_np = numpy_dtype(py, base)?;
            np_dtype_meta(py, "O", "vlen", base_np)
        }
        Datatype::Array { dims, base, .. } => {
            let base_np = numpy_dtype(py, base)?;
            let shape = PyTuple::new(py, dims.iter().map(|&d| d as u64))?;
            np_dtype(py, PyTuple::new(py, [base_np, shape.into_any()])?)
        }
        Datatype::Reference { kind, .. } => {
            let cls = match kind {
                ReferenceKind::Object => "Reference",
                ReferenceKind::Region => "RegionReference",
                _ => return Err(PyTypeError::new_err("Unknown reference type")),
            };
            let cls = py.import("h5oxide")?.getattr(cls)?;
            np_dtype_meta(py, "O", "ref", cls)
        }
    }
}
