//! Datatype message 0x03 (spec §IV.A.2.d), version 1, for the atomic classes and strings.
//!
//! Supported: fixed-point (class 0), floating-point (1), fixed-length string (3), bitfield (4),
//! opaque (5), compound (6, members without array dimensions), enumeration (8) and
//! variable-length strings and sequences (9). The constructors give the types h5py and numpy
//! use: little-endian integers and IEEE floats, variable-length UTF-8 strings.

use super::{pad8, Put};
use crate::datatype::{
    ByteOrder, CharSet, CompoundMember, Datatype, EnumMember, FixedPoint, FloatingPoint,
    MantissaNorm, ReferenceKind, StringPad,
};
use crate::{Error, Result};

/// Little-endian integer of `size` bytes, signed or not, using every bit.
pub fn int_le(size: u32, signed: bool) -> Datatype {
    Datatype::FixedPoint(FixedPoint {
        size,
        order: ByteOrder::LittleEndian,
        signed,
        lo_pad: false,
        hi_pad: false,
        bit_offset: 0,
        precision: (size * 8) as u16,
    })
}

/// IEEE 754 binary32, little-endian.
pub fn f32_le() -> Datatype {
    ieee(4, 31, 23, 8, 23, 127)
}

/// IEEE 754 binary64, little-endian.
pub fn f64_le() -> Datatype {
    ieee(8, 63, 52, 11, 52, 1023)
}

fn ieee(size: u32, sign: u8, eloc: u8, esize: u8, msize: u8, bias: u32) -> Datatype {
    Datatype::Float(FloatingPoint {
        size,
        order: ByteOrder::LittleEndian,
        lo_pad: false,
        hi_pad: false,
        internal_pad: false,
        norm: MantissaNorm::Implied,
        sign_location: sign,
        bit_offset: 0,
        precision: (size * 8) as u16,
        exponent_location: eloc,
        exponent_size: esize,
        mantissa_location: 0,
        mantissa_size: msize,
        exponent_bias: bias,
    })
}

/// Variable-length string in `cset`, NUL-terminated (h5py's `string_dtype()` for UTF-8).
pub fn vlen_string(cset: CharSet) -> Datatype {
    Datatype::VarLenString {
        size: 16,
        pad: StringPad::NullTerm,
        cset,
        base: Box::new(int_le(1, false)),
    }
}

/// Fixed-length string of `size` bytes (numpy's `S` type is NUL-padded ASCII).
pub fn fixed_string(size: u32, pad: StringPad, cset: CharSet) -> Datatype {
    Datatype::String { size, pad, cset }
}

/// numpy's `bool` as h5py stores it: an enumeration over `int8` with `FALSE = 0`, `TRUE = 1`.
pub fn h5py_bool() -> Datatype {
    Datatype::Enum {
        size: 1,
        base: Box::new(int_le(1, true)),
        members: vec![
            EnumMember {
                name: b"FALSE".to_vec(),
                value: vec![0],
            },
            EnumMember {
                name: b"TRUE".to_vec(),
                value: vec![1],
            },
        ],
    }
}

/// numpy's complex types as h5py stores them: a compound of two floats named `r` and `i`.
pub fn h5py_complex(part: Datatype) -> Datatype {
    let n = part.size();
    Datatype::Compound {
        size: 2 * n,
        members: vec![
            CompoundMember {
                name: b"r".to_vec(),
                offset: 0,
                dtype: part.clone(),
            },
            CompoundMember {
                name: b"i".to_vec(),
                offset: n,
                dtype: part,
            },
        ],
    }
}

/// Appends `name`, NUL-terminated and padded to a multiple of 8 bytes counted from the name's
/// start (datatype versions 1 and 2).
fn put_name(b: &mut Vec<u8>, name: &[u8]) -> Result<()> {
    if name.is_empty() || name.contains(&0) {
        return Err(Error::Invalid(
            "member names must be non-empty and without NUL".into(),
        ));
    }
    b.extend_from_slice(name);
    b.zeros(pad8(name.len() + 1) - name.len());
    Ok(())
}

fn member_count(n: usize) -> Result<[u8; 3]> {
    let n = u16::try_from(n)
        .map_err(|_| Error::Invalid(format!("{n} members exceed the 65535 allowed")))?;
    let [lo, hi] = n.to_le_bytes();
    Ok([lo, hi, 0])
}

fn pad_bits(p: StringPad) -> u8 {
    match p {
        StringPad::NullTerm => 0,
        StringPad::NullPad => 1,
        StringPad::SpacePad => 2,
    }
}

fn cset_bits(c: CharSet) -> u8 {
    match c {
        CharSet::Ascii => 0,
        CharSet::Utf8 => 1,
    }
}

fn fixed_bits(f: &FixedPoint) -> Result<u8> {
    let order = match f.order {
        ByteOrder::LittleEndian => 0,
        ByteOrder::BigEndian => 1,
        ByteOrder::Vax => return Err(Error::Invalid("VAX byte order for an integer".into())),
    };
    Ok(order | (f.lo_pad as u8) << 1 | (f.hi_pad as u8) << 2 | (f.signed as u8) << 3)
}

fn header(b: &mut Vec<u8>, class: u8, bits: [u8; 3], size: u32) {
    header_v(b, 1, class, bits, size);
}

fn header_v(b: &mut Vec<u8>, version: u8, class: u8, bits: [u8; 3], size: u32) {
    b.u8(version << 4 | class);
    b.extend_from_slice(&bits);
    b.u32(size);
}

/// Encodes a datatype message body (version 1).
pub fn encode(dt: &Datatype) -> Result<Vec<u8>> {
    let mut b = Vec::new();
    encode_into(dt, &mut b)?;
    Ok(b)
}

fn encode_into(dt: &Datatype, b: &mut Vec<u8>) -> Result<()> {
    match dt {
        Datatype::FixedPoint(f) | Datatype::Bitfield(f) => {
            let class = if matches!(dt, Datatype::FixedPoint(_)) {
                0
            } else {
                4
            };
            if class == 4 && f.signed {
                return Err(Error::Invalid("a bitfield cannot be signed".into()));
            }
            header(b, class, [fixed_bits(f)?, 0, 0], f.size);
            b.u16(f.bit_offset);
            b.u16(f.precision);
        }
        Datatype::Float(f) => {
            let order = match f.order {
                ByteOrder::LittleEndian => 0x00,
                ByteOrder::BigEndian => 0x01,
                ByteOrder::Vax => 0x41,
            };
            let norm = match f.norm {
                MantissaNorm::None => 0,
                MantissaNorm::MsbSet => 1,
                MantissaNorm::Implied => 2,
            };
            let bits0 = order
                | (f.lo_pad as u8) << 1
                | (f.hi_pad as u8) << 2
                | (f.internal_pad as u8) << 3
                | norm << 4;
            header(b, 1, [bits0, f.sign_location, 0], f.size);
            b.u16(f.bit_offset);
            b.u16(f.precision);
            b.u8(f.exponent_location);
            b.u8(f.exponent_size);
            b.u8(f.mantissa_location);
            b.u8(f.mantissa_size);
            b.u32(f.exponent_bias);
        }
        Datatype::String { size, pad, cset } => {
            if *size == 0 {
                return Err(Error::Invalid(
                    "a fixed-length string needs a size of at least 1".into(),
                ));
            }
            header(b, 3, [pad_bits(*pad) | cset_bits(*cset) << 4, 0, 0], *size);
        }
        Datatype::Opaque { size, tag } => {
            let tag_len = pad8(tag.len());
            if tag_len > 255 || tag.contains(&0) {
                return Err(Error::Invalid(
                    "opaque tag: at most 255 bytes, no NUL".into(),
                ));
            }
            header(b, 5, [tag_len as u8, 0, 0], *size);
            b.extend_from_slice(tag);
            b.zeros(tag_len - tag.len());
        }
        Datatype::Compound { size, members }
            if members
                .iter()
                .any(|m| matches!(m.dtype, Datatype::Array { .. })) =>
        {
            // Version 2 (§IV.A.2.d): members carry no dimension fields; array members are
            // array types of their own (class 10), as libhdf5 writes them.
            header_v(b, 2, 6, member_count(members.len())?, *size);
            for m in members {
                let end = u64::from(m.offset) + u64::from(m.dtype.size());
                if end > u64::from(*size) {
                    return Err(Error::Invalid(format!(
                        "compound member ends at byte {end}, beyond the size {size}"
                    )));
                }
                put_name(b, &m.name)?;
                b.u32(m.offset);
                encode_into(&m.dtype, b)?;
            }
        }
        Datatype::Array { size, dims, base } => {
            // Version 2 array (§IV.A.2.d class 10): rank, reserved, dimensions, permutation
            // (identity; libhdf5 ignores it), base type.
            if dims.is_empty() || dims.len() > 32 {
                return Err(Error::Invalid(format!("array of rank {}", dims.len())));
            }
            header_v(b, 2, 10, [0, 0, 0], *size);
            b.u8(dims.len() as u8);
            b.zeros(3);
            for d in dims {
                b.u32(*d);
            }
            for i in 0..dims.len() {
                b.u32(i as u32);
            }
            encode_into(base, b)?;
        }
        Datatype::Compound { size, members } => {
            header(b, 6, member_count(members.len())?, *size);
            for m in members {
                let end = u64::from(m.offset) + u64::from(m.dtype.size());
                if end > u64::from(*size) {
                    return Err(Error::Invalid(format!(
                        "compound member ends at byte {end}, beyond the size {size}"
                    )));
                }
                put_name(b, &m.name)?;
                b.u32(m.offset);
                b.u8(0); // dimensionality
                b.zeros(3);
                b.u32(0); // dimension permutation
                b.u32(0);
                b.zeros(16); // dimension sizes
                encode_into(&m.dtype, b)?;
            }
        }
        Datatype::Enum {
            size,
            base,
            members,
        } => {
            if !matches!(**base, Datatype::FixedPoint(_)) || base.size() != *size {
                return Err(Error::Invalid(
                    "an enumeration's base must be an integer of the same size".into(),
                ));
            }
            header(b, 8, member_count(members.len())?, *size);
            encode_into(base, b)?;
            for m in members {
                put_name(b, &m.name)?;
            }
            for m in members {
                if m.value.len() != *size as usize {
                    return Err(Error::Invalid(format!(
                        "enumeration value of {} bytes for a {size}-byte type",
                        m.value.len()
                    )));
                }
                b.extend_from_slice(&m.value);
            }
        }
        Datatype::VarLenString {
            size,
            pad,
            cset,
            base,
        } => {
            header(b, 9, [1 | pad_bits(*pad) << 4, cset_bits(*cset), 0], *size);
            encode_into(base, b)?;
        }
        Datatype::VarLenSequence { size, base } => {
            header(b, 9, [0, 0, 0], *size);
            encode_into(base, b)?;
        }
        Datatype::Reference {
            size,
            kind: ReferenceKind::Object,
        } => header(b, 7, [0, 0, 0], *size),
        // a dataset region reference (type 1): 12 bytes, a global heap id whose object holds
        // the dataset's address and a serialized selection
        Datatype::Reference {
            size,
            kind: ReferenceKind::Region,
        } => header(b, 7, [1, 0, 0], *size),
        other => {
            return Err(Error::unsupported(format!(
                "writing datatype class {}",
                other.class_id()
            )))
        }
    }
    Ok(())
}
