//! Datatype message 0x03 (spec §IV.A.2.d), version 1, for the atomic classes and strings.
//!
//! Supported: fixed-point (class 0), floating-point (1), fixed-length string (3), bitfield (4),
//! opaque (5) and variable-length strings (9). The constructors give the types h5py and numpy
//! use: little-endian integers and IEEE floats, variable-length UTF-8 strings.

use super::{pad8, Put};
use crate::datatype::{
    ByteOrder, CharSet, Datatype, FixedPoint, FloatingPoint, MantissaNorm, StringPad,
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
    b.u8(1 << 4 | class); // version 1
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
        other => {
            return Err(Error::unsupported(format!(
                "writing datatype class {}",
                other.class_id()
            )))
        }
    }
    Ok(())
}
