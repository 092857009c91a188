//! The Datatype message (type 0x03), spec §IV.A.2.d.
//!
//! Byte 0 holds the class (low nibble) and version (high nibble), bytes 1–3 a 24-bit class bit
//! field, bytes 4–7 the element size, then class properties. Nested types (compound members,
//! enum/array/vlen/complex bases) are complete datatype encodings with their own version.
//!
//! Versions handled: 1 (all classes; compound members carry the old array dimensions), 2 (array
//! class, compound members without dimensions), 3 (VAX order, packed compound/enum encodings),
//! 4 (revised references) and 5 (complex class). Versions 4 and 5 use the version-3 member
//! encodings. Reference kinds are decided by the type bits, not the message version (files
//! written by HDF5 1.12+ store revised references with message version 1).

use crate::cursor::Cursor;
use crate::{Error, Result};

/// Deepest nesting of compound/array/vlen/enum/complex types accepted.
pub const MAX_NESTING: u32 = 32;

const STRUCTURE: &str = "datatype message";

/// Byte order of an atomic type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// Little-endian.
    LittleEndian,
    /// Big-endian.
    BigEndian,
    /// VAX order: little-endian 16-bit words stored most significant word first (floats only).
    Vax,
}

/// Padding of a fixed-length or variable-length string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringPad {
    /// NUL-terminated (the NUL may be dropped when the string fills the field).
    NullTerm,
    /// Padded with NULs.
    NullPad,
    /// Padded with spaces.
    SpacePad,
}

/// Character set of a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharSet {
    /// US ASCII.
    Ascii,
    /// UTF-8.
    Utf8,
}

/// Mantissa normalization of a floating-point type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MantissaNorm {
    /// No normalization; the leading bit is stored.
    None,
    /// The most significant mantissa bit is always set (stored explicitly, e.g. x87 80-bit).
    MsbSet,
    /// The most significant bit is implied and not stored (IEEE).
    Implied,
}

/// Fixed-point (class 0) or bitfield (class 4) properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedPoint {
    /// Element size in bytes.
    pub size: u32,
    /// Byte order (never VAX).
    pub order: ByteOrder,
    /// Two's complement signed (always false for bitfields).
    pub signed: bool,
    /// Padding bit value below the used bits.
    pub lo_pad: bool,
    /// Padding bit value above the used bits.
    pub hi_pad: bool,
    /// Bit offset of the first significant bit.
    pub bit_offset: u16,
    /// Number of significant bits.
    pub precision: u16,
}

/// Floating-point (class 1) properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloatingPoint {
    /// Element size in bytes.
    pub size: u32,
    /// Byte order (little, big or VAX).
    pub order: ByteOrder,
    /// Low padding bit value.
    pub lo_pad: bool,
    /// High padding bit value.
    pub hi_pad: bool,
    /// Internal padding bit value.
    pub internal_pad: bool,
    /// Mantissa normalization.
    pub norm: MantissaNorm,
    /// Bit position of the sign bit.
    pub sign_location: u8,
    /// Bit offset of the first significant bit.
    pub bit_offset: u16,
    /// Number of significant bits.
    pub precision: u16,
    /// Bit position of the exponent.
    pub exponent_location: u8,
    /// Exponent size in bits.
    pub exponent_size: u8,
    /// Bit position of the mantissa.
    pub mantissa_location: u8,
    /// Mantissa size in bits.
    pub mantissa_size: u8,
    /// Exponent bias.
    pub exponent_bias: u32,
}

/// One member of a compound type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompoundMember {
    /// Member name (bytes as stored, without the terminator).
    pub name: Vec<u8>,
    /// Byte offset of the member in the compound element.
    pub offset: u32,
    /// Member type (a version-1 member with dimensions is an [`Datatype::Array`]).
    pub dtype: Datatype,
}

/// One member of an enumeration type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumMember {
    /// Member name.
    pub name: Vec<u8>,
    /// The member's value as stored: `base.size()` bytes in the base type's byte order.
    pub value: Vec<u8>,
}

/// Kind of a reference type (class 7), from bits 0–3 of the class bit field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceKind {
    /// Old-style object reference (`H5R_OBJECT1`): an object header address.
    Object,
    /// Old-style dataset region reference (`H5R_DATASET_REGION1`): a global heap ID.
    Region,
    /// Revised object reference (`H5R_OBJECT2`).
    Object2,
    /// Revised dataset region reference (`H5R_DATASET_REGION2`).
    Region2,
    /// Revised attribute reference (`H5R_ATTR`).
    Attribute,
}

impl ReferenceKind {
    /// True for the revised ("new", HDF5 1.12+) reference kinds.
    pub fn is_revised(self) -> bool {
        matches!(
            self,
            ReferenceKind::Object2 | ReferenceKind::Region2 | ReferenceKind::Attribute
        )
    }
}

/// A decoded HDF5 datatype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datatype {
    /// Class 0: integer.
    FixedPoint(FixedPoint),
    /// Class 1: floating point.
    Float(FloatingPoint),
    /// Class 2: time (deprecated).
    Time {
        /// Element size in bytes.
        size: u32,
        /// Byte order.
        order: ByteOrder,
        /// Bits of precision.
        precision: u16,
    },
    /// Class 3: fixed-length string.
    String {
        /// Length in bytes.
        size: u32,
        /// Padding.
        pad: StringPad,
        /// Character set.
        cset: CharSet,
    },
    /// Class 4: bitfield (`signed` is always false).
    Bitfield(FixedPoint),
    /// Class 5: opaque.
    Opaque {
        /// Element size in bytes.
        size: u32,
        /// Tag, trailing NULs removed.
        tag: Vec<u8>,
    },
    /// Class 6: compound.
    Compound {
        /// Element size in bytes.
        size: u32,
        /// Members in stored order.
        members: Vec<CompoundMember>,
    },
    /// Class 7: reference.
    Reference {
        /// Element size in bytes as stored.
        size: u32,
        /// Kind.
        kind: ReferenceKind,
    },
    /// Class 8: enumeration.
    Enum {
        /// Element size in bytes.
        size: u32,
        /// Base integer type.
        base: Box<Datatype>,
        /// Members in stored order.
        members: Vec<EnumMember>,
    },
    /// Class 9: variable-length sequence of `base`.
    VarLenSequence {
        /// Stored element size (4 + heap ID).
        size: u32,
        /// Element type.
        base: Box<Datatype>,
    },
    /// Class 9: variable-length string.
    VarLenString {
        /// Stored element size (4 + heap ID).
        size: u32,
        /// Padding.
        pad: StringPad,
        /// Character set.
        cset: CharSet,
        /// The base type stored in the message (a 1-byte character type).
        base: Box<Datatype>,
    },
    /// Class 10: fixed-size array.
    Array {
        /// Element size in bytes.
        size: u32,
        /// Dimension sizes, slowest first.
        dims: Vec<u32>,
        /// Element type.
        base: Box<Datatype>,
    },
    /// Class 11: complex number (real then imaginary part, each of the base float type).
    Complex {
        /// Element size in bytes.
        size: u32,
        /// Type of each part.
        base: Box<Datatype>,
    },
}

impl Datatype {
    /// Decodes a datatype message from `c`, consuming exactly its encoding.
    pub fn parse(c: &mut Cursor<'_>) -> Result<Datatype> {
        parse_at(c, 0)
    }

    /// Decodes a datatype from a whole message body.
    pub fn from_bytes(data: &[u8], addr: u64, sizes: crate::Sizes) -> Result<Datatype> {
        let mut c = Cursor::new(data, addr, STRUCTURE, sizes);
        Self::parse(&mut c)
    }

    /// The on-disk element size in bytes.
    pub fn size(&self) -> u32 {
        match self {
            Datatype::FixedPoint(f) | Datatype::Bitfield(f) => f.size,
            Datatype::Float(f) => f.size,
            Datatype::Time { size, .. }
            | Datatype::String { size, .. }
            | Datatype::Opaque { size, .. }
            | Datatype::Compound { size, .. }
            | Datatype::Reference { size, .. }
            | Datatype::Enum { size, .. }
            | Datatype::VarLenSequence { size, .. }
            | Datatype::VarLenString { size, .. }
            | Datatype::Array { size, .. }
            | Datatype::Complex { size, .. } => *size,
        }
    }

    /// The HDF5 class number (0–11).
    pub fn class_id(&self) -> u8 {
        match self {
            Datatype::FixedPoint(_) => 0,
            Datatype::Float(_) => 1,
            Datatype::Time { .. } => 2,
            Datatype::String { .. } => 3,
            Datatype::Bitfield(_) => 4,
            Datatype::Opaque { .. } => 5,
            Datatype::Compound { .. } => 6,
            Datatype::Reference { .. } => 7,
            Datatype::Enum { .. } => 8,
            Datatype::VarLenSequence { .. } | Datatype::VarLenString { .. } => 9,
            Datatype::Array { .. } => 10,
            Datatype::Complex { .. } => 11,
        }
    }

    /// True if the type is, or contains, a variable-length string or sequence or a revised
    /// reference (whose elements point into the global heap).
    pub fn has_variable_parts(&self) -> bool {
        match self {
            Datatype::VarLenSequence { .. } | Datatype::VarLenString { .. } => true,
            Datatype::Reference { kind, .. } => kind.is_revised(),
            Datatype::Compound { members, .. } => {
                members.iter().any(|m| m.dtype.has_variable_parts())
            }
            Datatype::Enum { base, .. }
            | Datatype::Array { base, .. }
            | Datatype::Complex { base, .. } => base.has_variable_parts(),
            _ => false,
        }
    }

    /// True if the type is, or contains, a reference of any kind other than old object references
    /// (region references and revised references).
    pub fn has_region_or_revised_refs(&self) -> bool {
        match self {
            Datatype::Reference { kind, .. } => *kind != ReferenceKind::Object,
            Datatype::Compound { members, .. } => {
                members.iter().any(|m| m.dtype.has_region_or_revised_refs())
            }
            Datatype::Enum { base, .. }
            | Datatype::Array { base, .. }
            | Datatype::Complex { base, .. }
            | Datatype::VarLenSequence { base, .. } => base.has_region_or_revised_refs(),
            _ => false,
        }
    }

    /// Number of elements of an array type (product of the dimensions), 1 for other types.
    pub fn array_len(&self) -> u64 {
        match self {
            Datatype::Array { dims, .. } => {
                dims.iter().fold(1u64, |a, &d| a.saturating_mul(d as u64))
            }
            _ => 1,
        }
    }
}

fn bit(flags: u32, n: u32) -> bool {
    flags & (1 << n) != 0
}

fn read_order(c: &Cursor<'_>, flags: u32, allow_vax: bool) -> Result<ByteOrder> {
    match (bit(flags, 0), bit(flags, 6) && allow_vax) {
        (false, false) => Ok(ByteOrder::LittleEndian),
        (true, false) => Ok(ByteOrder::BigEndian),
        (true, true) => Ok(ByteOrder::Vax),
        (false, true) => Err(c.corrupt("reserved float byte order (bit 6 without bit 0)")),
    }
}

fn string_pad(c: &Cursor<'_>, v: u32) -> Result<StringPad> {
    match v {
        0 => Ok(StringPad::NullTerm),
        1 => Ok(StringPad::NullPad),
        2 => Ok(StringPad::SpacePad),
        _ => Err(c.corrupt(format!("reserved string padding {v}"))),
    }
}

fn char_set(c: &Cursor<'_>, v: u32) -> Result<CharSet> {
    match v {
        0 => Ok(CharSet::Ascii),
        1 => Ok(CharSet::Utf8),
        _ => Err(c.corrupt(format!("reserved character set {v}"))),
    }
}

fn check_bits(c: &Cursor<'_>, size: u32, what: &str, pos: u64, len: u64) -> Result<()> {
    if pos.saturating_add(len) > (size as u64).saturating_mul(8) {
        return Err(c.corrupt(format!(
            "{what} (bits {pos}+{len}) outside a {size}-byte element"
        )));
    }
    Ok(())
}

/// Reads a name padded with NULs to a multiple of eight bytes (version 1/2 encodings).
fn padded_name(c: &mut Cursor<'_>) -> Result<Vec<u8>> {
    let start = c.pos();
    let name = c.cstr()?.to_vec();
    let used = c.pos() - start;
    let padded = used.div_ceil(8) * 8;
    c.skip(padded - used)?;
    Ok(name)
}

fn parse_at(c: &mut Cursor<'_>, depth: u32) -> Result<Datatype> {
    if depth > MAX_NESTING {
        return Err(Error::Limit {
            what: "datatype nesting depth",
            requested: depth as u64,
            limit: MAX_NESTING as u64,
        });
    }
    let b0 = c.u8()?;
    let class = b0 & 0x0f;
    let version = b0 >> 4;
    if !(1..=5).contains(&version) {
        return Err(Error::UnsupportedVersion {
            structure: STRUCTURE,
            version: version as u32,
        });
    }
    let f = c.array::<3>()?;
    let flags = u32::from_le_bytes([f[0], f[1], f[2], 0]);
    let size = c.u32()?;
    if size == 0 {
        return Err(c.corrupt("invalid datatype size 0"));
    }
    match class {
        0 | 4 => {
            let order = read_order(c, flags, false)?;
            let bit_offset = c.u16()?;
            let precision = c.u16()?;
            // Bits outside the element are not rejected (libhdf5 does not either); they read
            // as zero.
            let fp = FixedPoint {
                size,
                order,
                signed: class == 0 && bit(flags, 3),
                lo_pad: bit(flags, 1),
                hi_pad: bit(flags, 2),
                bit_offset,
                precision,
            };
            Ok(if class == 0 {
                Datatype::FixedPoint(fp)
            } else {
                Datatype::Bitfield(fp)
            })
        }
        1 => {
            let order = read_order(c, flags, true)?;
            let norm = match (flags >> 4) & 3 {
                0 => MantissaNorm::None,
                1 => MantissaNorm::MsbSet,
                2 => MantissaNorm::Implied,
                _ => return Err(c.corrupt("reserved mantissa normalization 3")),
            };
            let fl = FloatingPoint {
                size,
                order,
                lo_pad: bit(flags, 1),
                hi_pad: bit(flags, 2),
                internal_pad: bit(flags, 3),
                norm,
                sign_location: ((flags >> 8) & 0xff) as u8,
                bit_offset: c.u16()?,
                precision: c.u16()?,
                exponent_location: c.u8()?,
                exponent_size: c.u8()?,
                mantissa_location: c.u8()?,
                mantissa_size: c.u8()?,
                exponent_bias: c.u32()?,
            };
            check_bits(
                c,
                size,
                "float bits",
                fl.bit_offset as u64,
                fl.precision as u64,
            )?;
            check_bits(c, size, "sign bit", fl.sign_location as u64, 1)?;
            check_bits(
                c,
                size,
                "exponent",
                fl.exponent_location as u64,
                fl.exponent_size as u64,
            )?;
            check_bits(
                c,
                size,
                "mantissa",
                fl.mantissa_location as u64,
                fl.mantissa_size as u64,
            )?;
            if fl.exponent_size == 0 || fl.mantissa_size == 0 {
                return Err(c.corrupt("float with an empty exponent or mantissa"));
            }
            Ok(Datatype::Float(fl))
        }
        2 => {
            let order = read_order(c, flags, false)?;
            let precision = c.u16()?;
            Ok(Datatype::Time {
                size,
                order,
                precision,
            })
        }
        3 => Ok(Datatype::String {
            size,
            pad: string_pad(c, flags & 0xf)?,
            cset: char_set(c, (flags >> 4) & 0xf)?,
        }),
        5 => {
            let len = (flags & 0xff) as usize;
            let raw = c.bytes(len)?;
            let end = raw.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            let tag = raw.get(..end).unwrap_or(&[]).to_vec();
            Ok(Datatype::Opaque { size, tag })
        }
        6 => parse_compound(c, version, flags, size, depth),
        7 => {
            let kind = match flags & 0xf {
                0 => ReferenceKind::Object,
                1 => ReferenceKind::Region,
                2 => ReferenceKind::Object2,
                3 => ReferenceKind::Region2,
                4 => ReferenceKind::Attribute,
                t => return Err(c.corrupt(format!("reserved reference type {t}"))),
            };
            Ok(Datatype::Reference { size, kind })
        }
        8 => {
            let n = (flags & 0xffff) as usize;
            let base = parse_at(c, depth + 1)?;
            if !matches!(base, Datatype::FixedPoint(_)) {
                return Err(c.corrupt("enumeration base is not an integer type"));
            }
            // Each member needs at least one name byte and its value.
            let vsize = base.size() as usize;
            if n.saturating_mul(vsize.saturating_add(1)) > c.remaining() {
                return Err(c.truncated(n.saturating_mul(vsize.saturating_add(1))));
            }
            let mut names = Vec::with_capacity(n);
            for _ in 0..n {
                names.push(if version >= 3 {
                    c.cstr()?.to_vec()
                } else {
                    padded_name(c)?
                });
            }
            if names.iter().any(|n| n.is_empty()) {
                return Err(c.corrupt("enumeration member with an empty name"));
            }
            let mut members = Vec::with_capacity(n);
            for name in names {
                members.push(EnumMember {
                    name,
                    value: c.bytes(vsize)?.to_vec(),
                });
            }
            Ok(Datatype::Enum {
                size,
                base: Box::new(base),
                members,
            })
        }
        9 => {
            let base = parse_at(c, depth + 1)?;
            match flags & 0xf {
                0 => Ok(Datatype::VarLenSequence {
                    size,
                    base: Box::new(base),
                }),
                1 => Ok(Datatype::VarLenString {
                    size,
                    pad: string_pad(c, (flags >> 4) & 0xf)?,
                    cset: char_set(c, (flags >> 8) & 0xf)?,
                    base: Box::new(base),
                }),
                t => Err(c.corrupt(format!("reserved variable-length type {t}"))),
            }
        }
        10 => {
            let rank = c.u8()? as usize;
            if version < 3 {
                c.skip(3)?;
            }
            let mut dims = Vec::with_capacity(rank);
            for _ in 0..rank {
                dims.push(c.u32()?);
            }
            if version < 3 {
                c.skip(rank * 4)?; // permutation indices (never used)
            }
            let base = parse_at(c, depth + 1)?;
            if dims.contains(&0) {
                return Err(c.corrupt("array datatype with a zero-sized dimension"));
            }
            let count = dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d as u64));
            let expect = count.and_then(|n| n.checked_mul(base.size() as u64));
            if base.size() == 0 || expect != Some(size as u64) {
                return Err(c.corrupt(format!(
                    "array of {dims:?} elements of {} bytes has size {size}",
                    base.size()
                )));
            }
            Ok(Datatype::Array {
                size,
                dims,
                base: Box::new(base),
            })
        }
        11 => {
            if !bit(flags, 0) {
                return Err(Error::unsupported(
                    "complex datatype with heterogeneous parts",
                ));
            }
            if (flags >> 1) & 3 != 0 {
                return Err(Error::unsupported(format!(
                    "complex datatype form {}",
                    (flags >> 1) & 3
                )));
            }
            let base = parse_at(c, depth + 1)?;
            if !matches!(base, Datatype::Float(_)) {
                return Err(c.corrupt("complex base is not a floating-point type"));
            }
            Ok(Datatype::Complex {
                size,
                base: Box::new(base),
            })
        }
        _ => Err(Error::unsupported(format!("datatype class {class}"))),
    }
}

fn parse_compound(
    c: &mut Cursor<'_>,
    version: u8,
    flags: u32,
    size: u32,
    depth: u32,
) -> Result<Datatype> {
    let n = (flags & 0xffff) as usize;
    if n == 0 {
        return Err(c.corrupt("compound datatype with no members"));
    }
    // The smallest member encoding is 1 name byte + 1 offset byte + an 8-byte datatype header.
    if n.saturating_mul(10) > c.remaining() {
        return Err(c.truncated(n.saturating_mul(10)));
    }
    let offset_len = match size {
        0..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xff_ffff => 3,
        _ => 4,
    };
    let mut members = Vec::with_capacity(n);
    for _ in 0..n {
        let (name, offset, dims) = if version >= 3 {
            let name = c.cstr()?.to_vec();
            let offset = c.uint(offset_len)? as u32;
            (name, offset, Vec::new())
        } else {
            let name = padded_name(c)?;
            let offset = c.u32()?;
            let mut dims = Vec::new();
            if version == 1 {
                let ndims = c.u8()? as usize;
                c.skip(3)?; // reserved
                c.skip(4)?; // dimension permutation
                c.skip(4)?; // reserved
                let mut all = [0u32; 4];
                for d in all.iter_mut() {
                    *d = c.u32()?;
                }
                if ndims > 4 {
                    return Err(c.corrupt(format!("compound member with {ndims} dimensions")));
                }
                dims = all.get(..ndims).unwrap_or(&[]).to_vec();
            }
            (name, offset, dims)
        };
        let mut dtype = parse_at(c, depth + 1)?;
        if dims.contains(&0) {
            return Err(c.corrupt("compound member array with a zero-sized dimension"));
        }
        if !dims.is_empty() {
            if dtype.size() == 0 {
                return Err(c.corrupt("compound array member of zero-size elements"));
            }
            let count = dims.iter().fold(1u64, |a, &d| a.saturating_mul(d as u64));
            let total = count.saturating_mul(dtype.size() as u64);
            let total =
                u32::try_from(total).map_err(|_| c.corrupt("compound array member too large"))?;
            dtype = Datatype::Array {
                size: total,
                dims,
                base: Box::new(dtype),
            };
        }
        let end = (offset as u64).saturating_add(dtype.size() as u64);
        if end > size as u64 && !dtype.has_variable_parts() {
            return Err(c.corrupt(format!(
                "compound member ends at byte {end}, past the element size {size}"
            )));
        }
        members.push(CompoundMember {
            name,
            offset,
            dtype,
        });
    }
    Ok(Datatype::Compound { size, members })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sizes;

    fn parse(b: &[u8]) -> Result<(Datatype, usize)> {
        let mut c = Cursor::new(b, 0, STRUCTURE, Sizes::default());
        let t = Datatype::parse(&mut c)?;
        Ok((t, c.pos()))
    }

    fn int_msg(version: u8, flags0: u8, size: u32, off: u16, prec: u16) -> Vec<u8> {
        let mut v = vec![version << 4, flags0, 0, 0];
        v.extend_from_slice(&size.to_le_bytes());
        v.extend_from_slice(&off.to_le_bytes());
        v.extend_from_slice(&prec.to_le_bytes());
        v
    }

    fn f64_msg() -> Vec<u8> {
        let mut v = vec![0x11, 0x20, 63, 0];
        v.extend_from_slice(&8u32.to_le_bytes());
        v.extend_from_slice(&[0, 0, 64, 0, 52, 11, 0, 52]);
        v.extend_from_slice(&1023u32.to_le_bytes());
        v
    }

    #[test]
    fn integer_and_float() {
        let (t, n) = parse(&int_msg(1, 0x09, 4, 0, 32)).unwrap();
        assert_eq!(n, 12);
        match t {
            Datatype::FixedPoint(f) => {
                assert!(f.signed);
                assert_eq!(f.order, ByteOrder::BigEndian);
                assert_eq!(f.precision, 32);
            }
            _ => panic!(),
        }
        let (t, n) = parse(&f64_msg()).unwrap();
        assert_eq!(n, 20);
        match t {
            Datatype::Float(f) => {
                assert_eq!(f.norm, MantissaNorm::Implied);
                assert_eq!(f.sign_location, 63);
                assert_eq!(f.exponent_bias, 1023);
                assert_eq!(f.order, ByteOrder::LittleEndian);
            }
            _ => panic!(),
        }
        // precision beyond the element is accepted (those bits read as zero)
        assert!(parse(&int_msg(1, 0, 2, 8, 16)).is_ok());
        // unknown version
        assert!(matches!(
            parse(&int_msg(6, 0, 4, 0, 32)),
            Err(Error::UnsupportedVersion { .. })
        ));
    }

    #[test]
    fn compound_v1_with_array_member_and_v3() {
        // v1 compound, 1 member "a" with dims [2,3] of int32
        let mut v = vec![0x16, 1, 0, 0];
        v.extend_from_slice(&24u32.to_le_bytes());
        v.extend_from_slice(b"a\0\0\0\0\0\0\0");
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        for d in [2u32, 3, 0, 0] {
            v.extend_from_slice(&d.to_le_bytes());
        }
        v.extend_from_slice(&int_msg(1, 0x08, 4, 0, 32));
        let (t, n) = parse(&v).unwrap();
        assert_eq!(n, v.len());
        let Datatype::Compound { members, .. } = t else {
            panic!()
        };
        assert_eq!(members[0].name, b"a");
        let Datatype::Array { dims, size, .. } = &members[0].dtype else {
            panic!()
        };
        assert_eq!(dims, &[2, 3]);
        assert_eq!(*size, 24);

        // v3 compound, 2 members, 1-byte offsets
        let mut v = vec![0x36, 2, 0, 0];
        v.extend_from_slice(&12u32.to_le_bytes());
        v.extend_from_slice(b"x\0");
        v.push(0);
        v.extend_from_slice(&int_msg(1, 0, 4, 0, 32));
        v.extend_from_slice(b"yy\0");
        v.push(4);
        v.extend_from_slice(&f64_msg());
        let (t, n) = parse(&v).unwrap();
        assert_eq!(n, v.len());
        let Datatype::Compound { members, .. } = t else {
            panic!()
        };
        assert_eq!(members[1].offset, 4);
        assert_eq!(members[1].name, b"yy");
    }

    #[test]
    fn member_count_checked_before_allocating() {
        let mut v = vec![0x36, 0xff, 0xff, 0];
        v.extend_from_slice(&12u32.to_le_bytes());
        assert!(matches!(parse(&v), Err(Error::Truncated { .. })));
    }

    #[test]
    fn nesting_is_bounded() {
        // vlen of vlen of ... 100 deep
        let mut v = Vec::new();
        for _ in 0..100 {
            v.extend_from_slice(&[0x19, 0, 0, 0, 16, 0, 0, 0]);
        }
        v.extend_from_slice(&int_msg(1, 0, 1, 0, 8));
        assert!(matches!(parse(&v), Err(Error::Limit { .. })));
    }

    #[test]
    fn enum_vlen_array_ref_complex() {
        // enum v3 of uint8 with members "A"=0, "B"=1
        let mut v = vec![0x38, 2, 0, 0, 1, 0, 0, 0];
        v.extend_from_slice(&int_msg(1, 0, 1, 0, 8));
        v.extend_from_slice(b"A\0B\0");
        v.extend_from_slice(&[0, 1]);
        let (t, n) = parse(&v).unwrap();
        assert_eq!(n, v.len());
        let Datatype::Enum { members, .. } = t else {
            panic!()
        };
        assert_eq!(members[1].value, vec![1]);

        // vlen string, utf8, nullterm
        let mut v = vec![0x19, 0x01, 0x01, 0, 16, 0, 0, 0];
        v.extend_from_slice(&[0x13, 0, 0, 0, 1, 0, 0, 0]);
        let (t, _) = parse(&v).unwrap();
        assert!(matches!(
            t,
            Datatype::VarLenString {
                cset: CharSet::Utf8,
                pad: StringPad::NullTerm,
                ..
            }
        ));
        assert!(t.has_variable_parts());

        // array v2 of 2x3 f64
        let mut v = vec![0x2a, 0, 0, 0, 48, 0, 0, 0, 2, 0, 0, 0];
        v.extend_from_slice(&[2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
        v.extend_from_slice(&f64_msg());
        let (t, n) = parse(&v).unwrap();
        assert_eq!(n, v.len());
        assert_eq!(t.array_len(), 6);

        // revised reference with message version 1
        let (t, _) = parse(&[0x17, 0x12, 0, 0, 18, 0, 0, 0]).unwrap();
        assert_eq!(
            t,
            Datatype::Reference {
                size: 18,
                kind: ReferenceKind::Object2
            }
        );
        assert!(t.has_variable_parts());

        // complex of f64
        let mut v = vec![0x5b, 1, 0, 0, 16, 0, 0, 0];
        v.extend_from_slice(&f64_msg());
        let (t, _) = parse(&v).unwrap();
        assert_eq!(t.class_id(), 11);
    }

    #[test]
    fn opaque_tag() {
        let mut v = vec![0x15, 8, 0, 0, 4, 0, 0, 0];
        v.extend_from_slice(b"tag\0\0\0\0\0");
        let (t, n) = parse(&v).unwrap();
        assert_eq!(n, 16);
        assert_eq!(
            t,
            Datatype::Opaque {
                size: 4,
                tag: b"tag".to_vec()
            }
        );
    }
}
