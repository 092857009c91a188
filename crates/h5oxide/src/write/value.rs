//! Values to write: a datatype, a shape and the elements ([`Value`]), and the conversions from
//! Rust data ([`IntoValue`]).
//!
//! Conversions follow h5py: Rust numbers map to the little-endian HDF5 integer and IEEE float
//! types, `bool` to h5py's `FALSE`/`TRUE` enumeration over `int8`, [`num_complex::Complex`]
//! to h5py's compound of `r` and `i`; `&str`/`String` become a scalar variable-length UTF-8 string (what h5py stores for
//! `attrs["date"] = "2018-01-01"`); slices and vectors are 1-D; `ndarray` arrays keep their
//! shape (elements taken in logical, row-major order).

use h5oxide_format::datatype::{CharSet, Datatype, StringPad};
use h5oxide_format::encode::datatype as dt;
use h5oxide_format::messages::dataspace::Dataspace;
use h5oxide_format::{Error, Result};
use ndarray::{ArrayBase, Data, Dimension};
use num_complex::Complex;

/// A Rust number that is written as an HDF5 element.
pub trait H5Write: Copy + 'static {
    /// The HDF5 datatype this number is stored as.
    fn h5_dtype() -> Datatype;
    /// Appends the element's little-endian bytes.
    fn put_le(&self, out: &mut Vec<u8>);
    /// The bytes of `data` as stored, when the elements' bytes in memory already are exactly
    /// that (plain integers and floats on a little-endian machine); `None` otherwise. Lets the
    /// writer copy (or write) the elements without converting them one by one.
    #[doc(hidden)]
    fn stored_bytes(data: &[Self]) -> Option<&[u8]>
    where
        Self: Sized,
    {
        let _ = data;
        None
    }
}

/// The stored bytes of plain numbers (no padding, every bit pattern valid): their memory on a
/// little-endian machine.
#[cfg(target_endian = "little")]
fn plain_bytes<T: bytemuck::Pod>(data: &[T]) -> Option<&[u8]> {
    Some(bytemuck::cast_slice(data))
}

#[cfg(not(target_endian = "little"))]
fn plain_bytes<T: bytemuck::Pod>(_data: &[T]) -> Option<&[u8]> {
    None
}

macro_rules! h5write_int {
    ($($t:ty, $size:expr, $signed:expr);*) => {$(
        impl H5Write for $t {
            fn h5_dtype() -> Datatype {
                dt::int_le($size, $signed)
            }
            fn put_le(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn stored_bytes(data: &[Self]) -> Option<&[u8]> {
                plain_bytes(data)
            }
        }
    )*};
}
h5write_int!(i8, 1, true; i16, 2, true; i32, 4, true; i64, 8, true;
             u8, 1, false; u16, 2, false; u32, 4, false; u64, 8, false);

impl H5Write for f32 {
    fn h5_dtype() -> Datatype {
        dt::f32_le()
    }
    fn put_le(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn stored_bytes(data: &[Self]) -> Option<&[u8]> {
        plain_bytes(data)
    }
}

impl H5Write for bool {
    /// h5py's boolean: an `int8` enumeration `FALSE = 0`, `TRUE = 1`.
    fn h5_dtype() -> Datatype {
        dt::h5py_bool()
    }
    fn put_le(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl H5Write for Complex<f32> {
    /// h5py's `complex64`: a compound of `r` and `i`, two IEEE binary32.
    fn h5_dtype() -> Datatype {
        dt::h5py_complex(dt::f32_le())
    }
    fn put_le(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.re.to_le_bytes());
        out.extend_from_slice(&self.im.to_le_bytes());
    }
}

impl H5Write for Complex<f64> {
    /// h5py's `complex128`: a compound of `r` and `i`, two IEEE binary64.
    fn h5_dtype() -> Datatype {
        dt::h5py_complex(dt::f64_le())
    }
    fn put_le(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.re.to_le_bytes());
        out.extend_from_slice(&self.im.to_le_bytes());
    }
}

impl H5Write for f64 {
    fn h5_dtype() -> Datatype {
        dt::f64_le()
    }
    fn put_le(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn stored_bytes(data: &[Self]) -> Option<&[u8]> {
        plain_bytes(data)
    }
}

/// The elements of a [`Value`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Elements {
    /// Fixed-size elements, as stored (little-endian), `element size × count` bytes.
    Raw(Vec<u8>),
    /// Variable-length elements (strings), one byte vector each; stored in the global heap.
    VarLen(Vec<Vec<u8>>),
    /// Fixed-size elements as stored, whose variable-length parts (members of compounds) are
    /// 16-byte slots filled in when the heap objects are written.
    Mixed {
        /// Element bytes, the slots zeroed.
        raw: Vec<u8>,
        /// The variable-length parts.
        slots: Vec<HeapSlot>,
    },
}

/// A part of an element (of a value made by [`Value::from_raw_with_slots`]) stored in the
/// global heap: the slot at byte `at` of the raw elements gets a reference to the heap object
/// holding `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct HeapSlot {
    /// Byte position of the slot in the raw elements.
    pub at: usize,
    /// The stored length: base elements of a sequence, bytes of a string (unused for region
    /// references).
    pub len: u32,
    /// The bytes of the heap object.
    pub data: Vec<u8>,
    /// What the slot holds.
    pub kind: SlotKind,
}

/// What a [`HeapSlot`] holds, which decides its size and how an empty one is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    /// A variable-length sequence (16 bytes: length, heap id); empty = length 0, null heap id.
    Sequence,
    /// A variable-length string (16 bytes); empty = length 0 and a zero-length heap object,
    /// as libhdf5 writes it.
    String,
    /// A dataset region reference (12 bytes: heap id; the object holds the dataset's address
    /// and a serialized selection); empty data = a null reference (all zeros).
    Region,
}

impl SlotKind {
    /// Bytes the slot takes in the element.
    pub fn size(self) -> usize {
        match self {
            SlotKind::Region => 12,
            _ => 16,
        }
    }
}

/// Fills the slots of mixed elements: each non-empty part goes to a heap object through
/// `put` (which returns its collection address and index); an empty sequence is length 0
/// with a null heap address, an empty string a zero-length heap object, an empty region
/// reference all zeros, as libhdf5 writes them.
pub(crate) fn fill_slots(
    raw: &[u8],
    slots: &[HeapSlot],
    mut put: impl FnMut(&[u8]) -> Result<(u64, u32)>,
) -> Result<Vec<u8>> {
    let mut out = raw.to_vec();
    for s in slots {
        let (addr, index) = if s.data.is_empty() && s.kind != SlotKind::String {
            (0, 0)
        } else {
            put(&s.data)?
        };
        let slot = out
            .get_mut(s.at..s.at.saturating_add(s.kind.size()))
            .ok_or_else(|| Error::Invalid(format!("heap slot at byte {} is outside", s.at)))?;
        let id = match s.kind {
            SlotKind::Region => slot,
            _ => {
                slot[..4].copy_from_slice(&s.len.to_le_bytes());
                &mut slot[4..]
            }
        };
        id[..8].copy_from_slice(&addr.to_le_bytes());
        id[8..12].copy_from_slice(&index.to_le_bytes());
    }
    Ok(out)
}

/// Data to write as a dataset or an attribute: datatype, dataspace and elements.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub(crate) dtype: Datatype,
    pub(crate) space: Dataspace,
    pub(crate) elements: Elements,
}

pub(crate) fn space_for(shape: &[u64]) -> Dataspace {
    if shape.is_empty() {
        Dataspace::Scalar
    } else {
        Dataspace::Simple {
            dims: shape.to_vec(),
            max: shape.iter().map(|&d| Some(d)).collect(),
        }
    }
}

fn count(shape: &[u64]) -> Result<u64> {
    shape.iter().try_fold(1u64, |a, &d| {
        a.checked_mul(d)
            .ok_or_else(|| Error::Invalid(format!("shape {shape:?} overflows")))
    })
}

fn check_count(shape: &[u64], n: usize) -> Result<()> {
    if count(shape)? != n as u64 {
        return Err(Error::Invalid(format!(
            "shape {shape:?} does not match {n} elements"
        )));
    }
    if shape.len() > 32 {
        return Err(Error::Invalid(format!("rank {} exceeds 32", shape.len())));
    }
    Ok(())
}

impl Value {
    /// Numbers from a slice with a shape (`[]` for a scalar); the slice length must match.
    pub fn from_slice<T: H5Write>(data: &[T], shape: &[u64]) -> Result<Value> {
        check_count(shape, data.len())?;
        let dtype = T::h5_dtype();
        let mut raw = crate::buffer::with_capacity(data.len() * dtype.size() as usize);
        match T::stored_bytes(data) {
            Some(bytes) => raw.extend_from_slice(bytes),
            None => {
                for v in data {
                    v.put_le(&mut raw);
                }
            }
        }
        Ok(Value {
            dtype,
            space: space_for(shape),
            elements: Elements::Raw(raw),
        })
    }

    /// Raw little-endian element bytes of `dtype` (any fixed-size type the encoder supports)
    /// with a shape.
    pub fn from_raw(dtype: Datatype, raw: Vec<u8>, shape: &[u64]) -> Result<Value> {
        if dtype.has_variable_parts() {
            return Err(Error::Invalid(
                "raw bytes cannot hold variable-length elements".into(),
            ));
        }
        let n = count(shape)?;
        if n.checked_mul(dtype.size() as u64) != Some(raw.len() as u64) {
            return Err(Error::Invalid(format!(
                "{} bytes do not hold shape {shape:?} of {}-byte elements",
                raw.len(),
                dtype.size()
            )));
        }
        Ok(Value {
            dtype,
            space: space_for(shape),
            elements: Elements::Raw(raw),
        })
    }

    /// Element bytes of `dtype` as stored, with variable-length parts inside them (a compound
    /// with variable-length string or sequence members): `raw` holds every element, `slots`
    /// the parts that go to the global heap (their 16-byte slots in `raw` are overwritten).
    pub fn from_raw_with_slots(
        dtype: Datatype,
        raw: Vec<u8>,
        slots: Vec<HeapSlot>,
        shape: &[u64],
    ) -> Result<Value> {
        let n = count(shape)?;
        if n.checked_mul(dtype.size() as u64) != Some(raw.len() as u64) {
            return Err(Error::Invalid(format!(
                "{} bytes do not hold shape {shape:?} of {}-byte elements",
                raw.len(),
                dtype.size()
            )));
        }
        if let Some(s) = slots
            .iter()
            .find(|s| s.at.saturating_add(s.kind.size()) > raw.len())
        {
            return Err(Error::Invalid(format!(
                "heap slot at byte {} is outside the {} element bytes",
                s.at,
                raw.len()
            )));
        }
        Ok(Value {
            dtype,
            space: space_for(shape),
            elements: Elements::Mixed { raw, slots },
        })
    }

    /// Variable-length strings in `cset` with a shape (`[]` for a scalar), h5py's
    /// `string_dtype()` when `cset` is UTF-8.
    pub fn vlen_strings<S: AsRef<str>>(
        strings: &[S],
        shape: &[u64],
        cset: CharSet,
    ) -> Result<Value> {
        check_count(shape, strings.len())?;
        let mut els = Vec::with_capacity(strings.len());
        for s in strings {
            let s = s.as_ref();
            if cset == CharSet::Ascii && !s.is_ascii() {
                return Err(Error::Invalid(format!("string {s:?} is not ASCII")));
            }
            els.push(s.as_bytes().to_vec());
        }
        Ok(Value {
            dtype: dt::vlen_string(cset),
            space: space_for(shape),
            elements: Elements::VarLen(els),
        })
    }

    /// Variable-length strings given as bytes (UTF-8 when `cset` says so, unchecked), with a
    /// shape (`[]` for a scalar).
    pub fn vlen_bytes(items: Vec<Vec<u8>>, shape: &[u64], cset: CharSet) -> Result<Value> {
        check_count(shape, items.len())?;
        Ok(Value {
            dtype: dt::vlen_string(cset),
            space: space_for(shape),
            elements: Elements::VarLen(items),
        })
    }

    /// Variable-length sequences of `base` elements (each item holds whole elements as
    /// stored), with a shape (`[]` for a scalar).
    pub fn vlen_sequences(base: Datatype, items: Vec<Vec<u8>>, shape: &[u64]) -> Result<Value> {
        check_count(shape, items.len())?;
        let unit = base.size().max(1) as usize;
        if items.iter().any(|i| i.len() % unit != 0) {
            return Err(Error::Invalid(format!(
                "a sequence item is not a whole number of {unit}-byte elements"
            )));
        }
        Ok(Value {
            dtype: Datatype::VarLenSequence {
                size: 16,
                base: Box::new(base),
            },
            space: space_for(shape),
            elements: Elements::VarLen(items),
        })
    }

    /// Bytes per counted unit of a variable-length item: the base element size of a
    /// sequence, 1 for strings.
    pub(crate) fn element_unit(&self) -> usize {
        match &self.dtype {
            Datatype::VarLenSequence { base, .. } => base.size().max(1) as usize,
            _ => 1,
        }
    }

    /// Fixed-length strings of `size` bytes (0: the longest string's length, at least 1), each
    /// padded as `pad` says — numpy's `S` type is `size`, [`StringPad::NullPad`],
    /// [`CharSet::Ascii`]. A longer string is an error.
    pub fn fixed_strings<S: AsRef<[u8]>>(
        strings: &[S],
        shape: &[u64],
        size: usize,
        pad: StringPad,
        cset: CharSet,
    ) -> Result<Value> {
        check_count(shape, strings.len())?;
        let longest = strings.iter().map(|s| s.as_ref().len()).max().unwrap_or(0);
        let size = if size == 0 { longest.max(1) } else { size };
        let fill = if pad == StringPad::SpacePad { b' ' } else { 0 };
        let mut raw = Vec::with_capacity(size * strings.len());
        for s in strings {
            let s = s.as_ref();
            if s.len() > size {
                return Err(Error::Invalid(format!(
                    "string of {} bytes exceeds the fixed size {size}",
                    s.len()
                )));
            }
            if cset == CharSet::Ascii && !s.is_ascii() {
                return Err(Error::Invalid("string is not ASCII".into()));
            }
            raw.extend_from_slice(s);
            raw.resize(raw.len() + size - s.len(), fill);
        }
        let size = u32::try_from(size)
            .map_err(|_| Error::Invalid(format!("string size {size} too large")))?;
        Ok(Value {
            dtype: dt::fixed_string(size, pad, cset),
            space: space_for(shape),
            elements: Elements::Raw(raw),
        })
    }

    /// An empty value of `dtype` with a null dataspace (h5py's `Empty(dtype)`): no elements
    /// and no shape.
    pub fn null(dtype: Datatype) -> Value {
        let elements = if dtype.has_variable_parts() {
            Elements::VarLen(Vec::new())
        } else {
            Elements::Raw(Vec::new())
        };
        Value {
            dtype,
            space: Dataspace::Null,
            elements,
        }
    }

    /// The same elements with another shape of the same element count.
    pub fn reshape(mut self, shape: &[u64]) -> Result<Value> {
        let n = match &self.elements {
            Elements::Raw(r) => r.len() / (self.dtype.size().max(1) as usize),
            Elements::VarLen(v) => v.len(),
            Elements::Mixed { raw, .. } => raw.len() / (self.dtype.size().max(1) as usize),
        };
        check_count(shape, n)?;
        self.space = space_for(shape);
        Ok(self)
    }

    /// The datatype.
    pub fn dtype(&self) -> &Datatype {
        &self.dtype
    }

    /// The shape (empty for a scalar).
    pub fn shape(&self) -> &[u64] {
        self.space.dims()
    }
}

/// Rust data that can be written as a dataset or attribute.
pub trait IntoValue {
    /// Converts into a [`Value`].
    fn into_value(self) -> Result<Value>;
    /// The data as stored, without a copy, when it is a contiguous run of plain numbers
    /// (see [`H5Write::stored_bytes`]); `None` otherwise. The writer writes such data to the
    /// file straight from the caller's memory.
    #[doc(hidden)]
    fn stored_view(&self) -> Option<StoredView<'_>> {
        None
    }
}

/// Fixed-size elements borrowed as stored: datatype, shape and bytes
/// ([`IntoValue::stored_view`]).
#[doc(hidden)]
#[derive(Debug)]
pub struct StoredView<'a> {
    pub(crate) dtype: Datatype,
    pub(crate) shape: Vec<u64>,
    pub(crate) bytes: &'a [u8],
}

fn slice_view<T: H5Write>(data: &[T]) -> Option<StoredView<'_>> {
    Some(StoredView {
        dtype: T::h5_dtype(),
        shape: vec![data.len() as u64],
        bytes: T::stored_bytes(data)?,
    })
}

fn array_view<'a, T: H5Write + 'a, S: Data<Elem = T>, D: Dimension>(
    a: &'a ArrayBase<S, D>,
) -> Option<StoredView<'a>> {
    Some(StoredView {
        dtype: T::h5_dtype(),
        shape: a.shape().iter().map(|&d| d as u64).collect(),
        bytes: T::stored_bytes(a.as_slice()?)?,
    })
}

impl IntoValue for Value {
    fn into_value(self) -> Result<Value> {
        Ok(self)
    }
}

impl IntoValue for &Value {
    fn into_value(self) -> Result<Value> {
        Ok(self.clone())
    }
}

macro_rules! into_value_num {
    ($($t:ty),*) => {$(
        impl IntoValue for $t {
            fn into_value(self) -> Result<Value> {
                Value::from_slice(&[self], &[])
            }
        }
        impl IntoValue for &[$t] {
            fn into_value(self) -> Result<Value> {
                Value::from_slice(self, &[self.len() as u64])
            }
            fn stored_view(&self) -> Option<StoredView<'_>> {
                slice_view(self)
            }
        }
        impl<const N: usize> IntoValue for [$t; N] {
            fn into_value(self) -> Result<Value> {
                Value::from_slice(&self, &[N as u64])
            }
        }
        impl<const N: usize> IntoValue for &[$t; N] {
            fn into_value(self) -> Result<Value> {
                Value::from_slice(self, &[N as u64])
            }
            fn stored_view(&self) -> Option<StoredView<'_>> {
                slice_view(&self[..])
            }
        }
        impl IntoValue for Vec<$t> {
            fn into_value(self) -> Result<Value> {
                Value::from_slice(&self, &[self.len() as u64])
            }
            fn stored_view(&self) -> Option<StoredView<'_>> {
                slice_view(self)
            }
        }
        impl IntoValue for &Vec<$t> {
            fn into_value(self) -> Result<Value> {
                Value::from_slice(self, &[self.len() as u64])
            }
            fn stored_view(&self) -> Option<StoredView<'_>> {
                slice_view(self)
            }
        }
    )*};
}
into_value_num!(
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    f32,
    f64,
    bool,
    Complex<f32>,
    Complex<f64>
);

impl<T: H5Write, S: Data<Elem = T>, D: Dimension> IntoValue for &ArrayBase<S, D> {
    fn into_value(self) -> Result<Value> {
        array_value(self)
    }
    fn stored_view(&self) -> Option<StoredView<'_>> {
        array_view(self)
    }
}

impl<T: H5Write, S: Data<Elem = T>, D: Dimension> IntoValue for ArrayBase<S, D> {
    fn into_value(self) -> Result<Value> {
        array_value(&self)
    }
    fn stored_view(&self) -> Option<StoredView<'_>> {
        array_view(self)
    }
}

fn array_value<T: H5Write, S: Data<Elem = T>, D: Dimension>(a: &ArrayBase<S, D>) -> Result<Value> {
    let shape: Vec<u64> = a.shape().iter().map(|&d| d as u64).collect();
    let dtype = T::h5_dtype();
    let mut raw = Vec::with_capacity(a.len() * dtype.size() as usize);
    if let Some(s) = a.as_slice() {
        match T::stored_bytes(s) {
            Some(bytes) => raw.extend_from_slice(bytes),
            None => {
                for v in s {
                    v.put_le(&mut raw);
                }
            }
        }
    } else {
        for v in a.iter() {
            v.put_le(&mut raw);
        }
    }
    Value::from_raw(dtype, raw, &shape)
}

impl IntoValue for &str {
    fn into_value(self) -> Result<Value> {
        Value::vlen_strings(&[self], &[], CharSet::Utf8)
    }
}

impl IntoValue for String {
    fn into_value(self) -> Result<Value> {
        Value::vlen_strings(&[self], &[], CharSet::Utf8)
    }
}

impl IntoValue for &String {
    fn into_value(self) -> Result<Value> {
        Value::vlen_strings(&[self], &[], CharSet::Utf8)
    }
}

impl IntoValue for &[&str] {
    fn into_value(self) -> Result<Value> {
        Value::vlen_strings(self, &[self.len() as u64], CharSet::Utf8)
    }
}

impl IntoValue for Vec<&str> {
    fn into_value(self) -> Result<Value> {
        Value::vlen_strings(&self, &[self.len() as u64], CharSet::Utf8)
    }
}

impl IntoValue for &[String] {
    fn into_value(self) -> Result<Value> {
        Value::vlen_strings(self, &[self.len() as u64], CharSet::Utf8)
    }
}

impl IntoValue for Vec<String> {
    fn into_value(self) -> Result<Value> {
        Value::vlen_strings(&self, &[self.len() as u64], CharSet::Utf8)
    }
}
