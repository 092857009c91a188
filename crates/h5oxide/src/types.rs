//! Conversion of stored elements to Rust numbers ([`H5Type`]).
//!
//! Integers of any size, byte order, precision and bit offset convert to any Rust integer type
//! (clipped to its range, as libhdf5's conversion does) or float; floats convert from their bit
//! fields (any layout) to `f32`/`f64`; fast paths cover the common native layouts.

use h5oxide_format::datatype::{ByteOrder, Datatype, FixedPoint, FloatingPoint};
use h5oxide_format::{Error, Result};

/// A Rust type that elements of a numeric HDF5 datatype convert to.
pub trait H5Type: Copy + Send + Sync + Default + 'static {
    /// Name used in error messages.
    const NAME: &'static str;

    /// Converts `src` (whole elements of `dtype`, as stored) into `out`.
    fn convert(dtype: &Datatype, src: &[u8], out: &mut [Self]) -> Result<()>;

    /// True when elements of `dtype` are stored exactly as `Self` is laid out in memory on this
    /// machine (same size, signedness or float layout, and byte order), so they can be borrowed.
    fn is_native(dtype: &Datatype) -> bool;
}

fn native_order(o: ByteOrder) -> bool {
    match o {
        ByteOrder::LittleEndian => cfg!(target_endian = "little"),
        ByteOrder::BigEndian => cfg!(target_endian = "big"),
        ByteOrder::Vax => false,
    }
}

/// Reads an element's stored bytes as an unsigned little-endian integer of up to 16 bytes
/// (byte order normalised, VAX treated as little-endian words).
fn le_u128(bytes: &[u8], order: ByteOrder) -> u128 {
    let mut v: u128 = 0;
    match order {
        ByteOrder::BigEndian => {
            for &b in bytes.iter().take(16) {
                v = (v << 8) | b as u128;
            }
        }
        _ => {
            for &b in bytes.iter().take(16).rev() {
                v = (v << 8) | b as u128;
            }
        }
    }
    v
}

/// Decodes a fixed-point element to i128 (unsigned values above i128::MAX saturate).
pub(crate) fn int_value(fp: &FixedPoint, bytes: &[u8]) -> i128 {
    let size = bytes.len();
    // Only the bytes that hold the value's bits matter; for > 16-byte integers take the window.
    let offset = fp.bit_offset as u32;
    let precision = (fp.precision as u32).min(128);
    let raw = if size <= 16 {
        le_u128(bytes, fp.order) >> offset.min(127)
    } else {
        // Wide integer: gather the 128 bits starting at `offset` in little-endian bit order.
        let mut le: Vec<u8> = bytes.to_vec();
        if fp.order == ByteOrder::BigEndian {
            le.reverse();
        }
        let start = (offset / 8) as usize;
        let shift = offset % 8;
        let window: Vec<u8> = le.iter().skip(start).take(17).copied().collect();
        let mut v: u128 = 0;
        for &b in window.iter().take(16).rev() {
            v = (v << 8) | b as u128;
        }
        v >> shift
    };
    let masked = if precision >= 128 {
        raw
    } else {
        raw & ((1u128 << precision) - 1)
    };
    if fp.signed && precision > 0 && precision < 128 && masked >> (precision - 1) & 1 == 1 {
        (masked | !((1u128 << precision) - 1)) as i128
    } else if fp.signed || masked <= i128::MAX as u128 {
        masked as i128
    } else {
        i128::MAX
    }
}

/// Decodes a floating-point element from its bit fields to the nearest f64.
pub(crate) fn float_value(fl: &FloatingPoint, bytes: &[u8]) -> f64 {
    let mut le: Vec<u8> = bytes.to_vec();
    match fl.order {
        ByteOrder::BigEndian => le.reverse(),
        ByteOrder::Vax => {
            // VAX: 16-bit little-endian words, most significant word first.
            let words: Vec<[u8; 2]> = le
                .chunks(2)
                .map(|c| [c[0], *c.get(1).unwrap_or(&0)])
                .collect();
            le = words.into_iter().rev().flatten().collect();
        }
        ByteOrder::LittleEndian => {}
    }
    // Fast paths for IEEE layouts.
    if fl.bit_offset == 0 && fl.sign_location as u32 + 1 == fl.precision as u32 {
        match (
            le.len(),
            fl.exponent_size,
            fl.mantissa_size,
            fl.exponent_bias,
        ) {
            (8, 11, 52, 1023) if fl.precision == 64 => {
                let mut a = [0u8; 8];
                a.copy_from_slice(&le[..8]);
                return f64::from_le_bytes(a);
            }
            (4, 8, 23, 127) if fl.precision == 32 => {
                let mut a = [0u8; 4];
                a.copy_from_slice(&le[..4]);
                return f32::from_le_bytes(a) as f64;
            }
            _ => {}
        }
    }
    float_from_fields(fl, &le)
}

/// Bits `[pos, pos+len)` of a little-endian byte string, as u128 (len ≤ 128).
fn bits(le: &[u8], pos: u32, len: u32) -> u128 {
    let mut v: u128 = 0;
    for i in 0..len.min(128) {
        let b = pos + i;
        let byte = le.get((b / 8) as usize).copied().unwrap_or(0);
        if (byte >> (b % 8)) & 1 == 1 {
            v |= 1u128 << i;
        }
    }
    v
}

/// Generic decoder from the sign/exponent/mantissa fields (used for non-IEEE layouts).
fn float_from_fields(fl: &FloatingPoint, le: &[u8]) -> f64 {
    use h5oxide_format::datatype::MantissaNorm;
    let sign = bits(le, fl.bit_offset as u32 + fl.sign_location as u32, 1) == 1;
    let esize = fl.exponent_size as u32;
    let msize = fl.mantissa_size as u32;
    let e = bits(
        le,
        fl.bit_offset as u32 + fl.exponent_location as u32,
        esize,
    );
    let m = bits(
        le,
        fl.bit_offset as u32 + fl.mantissa_location as u32,
        msize,
    );
    let emax = if esize >= 128 {
        u128::MAX
    } else {
        (1u128 << esize) - 1
    };
    let bias = fl.exponent_bias as i64;
    let mag = if e == emax && fl.norm != MantissaNorm::None {
        let frac = if fl.norm == MantissaNorm::MsbSet && msize > 0 {
            m & !(1u128 << (msize - 1).min(127))
        } else {
            m
        };
        if frac == 0 {
            f64::INFINITY
        } else {
            f64::NAN
        }
    } else {
        // value = mantissa_with_leading * 2^(e - bias - msize)
        let (mant, exp) = match fl.norm {
            MantissaNorm::Implied if e != 0 => (m | (1u128 << msize.min(127)), e as i64 - bias),
            MantissaNorm::Implied => (m, 1 - bias),
            MantissaNorm::MsbSet => (m, e as i64 - bias + 1),
            MantissaNorm::None => (m, e as i64 - bias + 1),
        };
        let mant_f = mant as f64;
        let p = exp - msize as i64;
        mant_f
            * 2f64.powi(p.clamp(-2000, 2000) as i32 / 2)
            * 2f64.powi((p.clamp(-2000, 2000) - p.clamp(-2000, 2000) / 2) as i32)
    };
    if sign {
        -mag
    } else {
        mag
    }
}

macro_rules! int_impl {
    ($t:ty) => {
        impl H5Type for $t {
            const NAME: &'static str = stringify!($t);
            fn convert(dtype: &Datatype, src: &[u8], out: &mut [Self]) -> Result<()> {
                let size = dtype.size() as usize;
                check_len(src, size, out.len())?;
                match dtype {
                    Datatype::FixedPoint(fp) | Datatype::Bitfield(fp) => {
                        let native = fp.bit_offset == 0
                            && fp.precision as usize == 8 * size
                            && size == std::mem::size_of::<$t>()
                            && fp.signed == (<$t>::MIN != 0)
                            && fp.order != ByteOrder::Vax;
                        if native {
                            let be = fp.order == ByteOrder::BigEndian;
                            for (o, c) in out.iter_mut().zip(src.chunks_exact(size)) {
                                let mut a = [0u8; std::mem::size_of::<$t>()];
                                a.copy_from_slice(c);
                                *o = if be {
                                    <$t>::from_be_bytes(a)
                                } else {
                                    <$t>::from_le_bytes(a)
                                };
                            }
                        } else {
                            for (o, c) in out.iter_mut().zip(src.chunks_exact(size)) {
                                let v = int_value(fp, c);
                                *o = v.clamp(<$t>::MIN as i128, <$t>::MAX as i128) as $t;
                            }
                        }
                        Ok(())
                    }
                    Datatype::Enum { base, .. } => Self::convert(base, src, out),
                    Datatype::Float(fl) => {
                        for (o, c) in out.iter_mut().zip(src.chunks_exact(size)) {
                            let v = float_value(fl, c);
                            *o = if v.is_nan() { 0 } else { v as $t };
                        }
                        Ok(())
                    }
                    other => Err(type_error(other, Self::NAME)),
                }
            }
            fn is_native(dtype: &Datatype) -> bool {
                match dtype {
                    Datatype::FixedPoint(fp) => {
                        fp.bit_offset == 0
                            && fp.size as usize == std::mem::size_of::<$t>()
                            && fp.precision as usize == 8 * std::mem::size_of::<$t>()
                            && fp.signed == (<$t>::MIN != 0)
                            && (fp.size == 1 || native_order(fp.order))
                    }
                    _ => false,
                }
            }
        }
    };
}

int_impl!(i8);
int_impl!(i16);
int_impl!(i32);
int_impl!(i64);
int_impl!(u8);
int_impl!(u16);
int_impl!(u32);
int_impl!(u64);

macro_rules! float_impl {
    ($t:ty) => {
        impl H5Type for $t {
            const NAME: &'static str = stringify!($t);
            fn convert(dtype: &Datatype, src: &[u8], out: &mut [Self]) -> Result<()> {
                let size = dtype.size() as usize;
                check_len(src, size, out.len())?;
                match dtype {
                    Datatype::Float(fl) => {
                        let native = size == std::mem::size_of::<$t>()
                            && fl.bit_offset == 0
                            && fl.precision as usize == 8 * size
                            && fl.exponent_size == if size == 8 { 11 } else { 8 }
                            && fl.order != ByteOrder::Vax;
                        if native {
                            let be = fl.order == ByteOrder::BigEndian;
                            for (o, c) in out.iter_mut().zip(src.chunks_exact(size)) {
                                let mut a = [0u8; std::mem::size_of::<$t>()];
                                a.copy_from_slice(c);
                                *o = if be {
                                    <$t>::from_be_bytes(a)
                                } else {
                                    <$t>::from_le_bytes(a)
                                };
                            }
                        } else {
                            for (o, c) in out.iter_mut().zip(src.chunks_exact(size)) {
                                *o = float_value(fl, c) as $t;
                            }
                        }
                        Ok(())
                    }
                    Datatype::FixedPoint(fp) => {
                        for (o, c) in out.iter_mut().zip(src.chunks_exact(size)) {
                            *o = int_value(fp, c) as $t;
                        }
                        Ok(())
                    }
                    Datatype::Enum { base, .. } => Self::convert(base, src, out),
                    other => Err(type_error(other, Self::NAME)),
                }
            }
            fn is_native(dtype: &Datatype) -> bool {
                use h5oxide_format::datatype::MantissaNorm;
                let size = std::mem::size_of::<$t>();
                match dtype {
                    Datatype::Float(fl) => {
                        let (e, m, bias) = if size == 8 {
                            (11, 52, 1023)
                        } else {
                            (8, 23, 127)
                        };
                        fl.size as usize == size
                            && fl.bit_offset == 0
                            && fl.precision as usize == 8 * size
                            && fl.exponent_size == e
                            && fl.mantissa_size == m
                            && fl.exponent_bias == bias
                            && fl.mantissa_location == 0
                            && fl.exponent_location as usize == m as usize
                            && fl.sign_location as usize == 8 * size - 1
                            && fl.norm == MantissaNorm::Implied
                            && native_order(fl.order)
                    }
                    _ => false,
                }
            }
        }
    };
}

float_impl!(f32);
float_impl!(f64);

fn check_len(src: &[u8], size: usize, n: usize) -> Result<()> {
    if size == 0 || src.len() != size.saturating_mul(n) {
        return Err(Error::Invalid(format!(
            "buffer of {} bytes does not hold {n} elements of {size} bytes",
            src.len()
        )));
    }
    Ok(())
}

fn type_error(dtype: &Datatype, target: &str) -> Error {
    Error::Invalid(format!(
        "cannot convert HDF5 datatype class {} to {target}",
        dtype.class_id()
    ))
}

/// A short NumPy-style name of a datatype (`<f8`, `>i4`, `|S10`, `str`, `compound{...}`), for
/// listings.
pub fn dtype_name(dtype: &Datatype) -> String {
    let ord = |o: ByteOrder| match o {
        ByteOrder::BigEndian => ">",
        ByteOrder::Vax => "vax:",
        ByteOrder::LittleEndian => "<",
    };
    match dtype {
        Datatype::FixedPoint(fp) => {
            format!(
                "{}{}{}",
                if fp.size == 1 { "|" } else { ord(fp.order) },
                if fp.signed { "i" } else { "u" },
                fp.size
            )
        }
        Datatype::Float(fl) => format!("{}f{}", ord(fl.order), fl.size),
        Datatype::Bitfield(fp) => format!("bitfield{}", fp.size * 8),
        Datatype::Time { .. } => "time".into(),
        Datatype::String { size, .. } => format!("|S{size}"),
        Datatype::VarLenString { .. } => "str".into(),
        Datatype::Opaque { size, .. } => format!("|V{size}"),
        Datatype::Compound { members, .. } => {
            let parts: Vec<String> = members
                .iter()
                .map(|m| {
                    format!(
                        "{}: {}",
                        String::from_utf8_lossy(&m.name),
                        dtype_name(&m.dtype)
                    )
                })
                .collect();
            format!("compound{{{}}}", parts.join(", "))
        }
        Datatype::Reference { .. } => "ref".into(),
        Datatype::Enum { base, .. } => format!("enum({})", dtype_name(base)),
        Datatype::VarLenSequence { base, .. } => format!("vlen({})", dtype_name(base)),
        Datatype::Array { dims, base, .. } => format!("{}{:?}", dtype_name(base), dims),
        Datatype::Complex { size, .. } => format!("complex{}", size * 8),
    }
}
