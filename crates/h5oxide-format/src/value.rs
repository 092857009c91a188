//! Decoding element bytes into dynamic values.
//!
//! Element encodings follow the datatype message (spec §IV.A.2.d): integers and floats are
//! decoded from their bit fields (byte order, bit offset, precision, sign/exponent/mantissa
//! positions, bias, normalization), so odd sizes, half, bfloat16, x87 80-bit, 128-bit and VAX
//! floats all decode. Variable-length data lives in the global heap (§III.E); old-style region
//! references point at a global heap object holding the object address and a serialized dataspace
//! selection (§VIII Appendix D, "Dataspace Selection" and "Reference Encoding").

use std::borrow::Cow;

use crate::cursor::{Cursor, UNDEF};
use crate::datatype::{
    ByteOrder, Datatype, FixedPoint, FloatingPoint, MantissaNorm, ReferenceKind, StringPad,
};
use crate::global_heap::{GlobalHeapCache, GlobalHeapId};
use crate::{Ctx, Error, Result};

/// A decoded element.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Integer, bitfield, enum (stored integer) or time value that fits in an `i128`.
    Int(i128),
    /// An integer too wide for `i128`, as decimal text (e.g. a 1000-byte integer).
    BigInt(String),
    /// A floating-point value, rounded to the nearest `f64`.
    Float(f64),
    /// A complex value: real and imaginary parts.
    Complex(f64, f64),
    /// A fixed or variable-length string's bytes, padding removed.
    String(Vec<u8>),
    /// An opaque element's bytes.
    Opaque(Vec<u8>),
    /// A compound element: `(member name, value)` in stored member order.
    Compound(Vec<(Vec<u8>, Value)>),
    /// A fixed-size array: its dimensions and its elements in row-major order.
    Array {
        /// Dimension sizes, slowest first.
        dims: Vec<u32>,
        /// The `product(dims)` elements.
        elems: Vec<Value>,
    },
    /// A variable-length sequence.
    VarLen(Vec<Value>),
    /// An old-style object reference: the object header address, `None` for a null reference.
    ObjectRef(Option<u64>),
    /// An old-style dataset region reference, `None` for a null reference.
    RegionRef(Option<RegionRef>),
    /// An old-style region reference whose global heap object could not be read or decoded
    /// (libhdf5 then cannot dereference it either).
    InvalidRegionRef,
    /// A revised (HDF5 1.12+) reference, undecoded: its stored bytes.
    RevisedRef(Vec<u8>),
}

/// A dereferenced old-style region reference.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionRef {
    /// Object header address of the dataset.
    pub target: u64,
    /// The selected region.
    pub selection: Selection,
}

/// A dataspace selection, decoded from its serialized form (Appendix D).
///
/// Hyperslabs are normalized as libhdf5 does, so that [`Selection::regular`] gives the same
/// start/stride/count/block libhdf5 reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// Nothing selected.
    None,
    /// The whole dataspace.
    All,
    /// A list of points, in stored order.
    Points {
        /// Rank of the dataspace.
        rank: u32,
        /// Coordinates of each point.
        points: Vec<Vec<u64>>,
    },
    /// A regular hyperslab; counts and blocks may be [`UNDEF`] ("unlimited").
    Regular {
        /// Start per dimension.
        start: Vec<u64>,
        /// Stride per dimension.
        stride: Vec<u64>,
        /// Count per dimension.
        count: Vec<u64>,
        /// Block per dimension.
        block: Vec<u64>,
    },
    /// An irregular hyperslab: a list of disjoint blocks `(start, end)` (inclusive coordinates).
    Blocks {
        /// Rank of the dataspace.
        rank: u32,
        /// The blocks.
        blocks: Vec<(Vec<u64>, Vec<u64>)>,
    },
}

/// Normalizes one dimension of a regular hyperslab as libhdf5 does: a contiguous pattern
/// (stride = block) becomes one block, and a single block has stride 1.
pub(crate) fn normalize_dim(start: u64, stride: u64, count: u64, block: u64) -> [u64; 4] {
    if stride == block && count != UNDEF {
        let b = if block == 1 {
            count
        } else {
            block.saturating_mul(count)
        };
        [start, 1, 1, b]
    } else if count == 1 {
        [start, 1, 1, block]
    } else {
        [start, stride, count, block]
    }
}

impl Selection {
    /// Decodes a serialized selection: type (4), version (4), then the type's info.
    pub fn parse(c: &mut Cursor<'_>) -> Result<Selection> {
        let kind = c.u32()?;
        let version = c.u32()?;
        let unsupported = |v: u32| {
            Err(Error::UnsupportedVersion {
                structure: "dataspace selection",
                version: v,
            })
        };
        match kind {
            0 | 3 => {
                if version != 1 {
                    return unsupported(version);
                }
                c.skip(8)?;
                Ok(if kind == 0 {
                    Selection::None
                } else {
                    Selection::All
                })
            }
            1 => {
                let (width, rank, n) = match version {
                    1 => {
                        c.skip(8)?; // reserved, length
                        let rank = c.u32()?;
                        (4usize, rank, c.u32()? as u64)
                    }
                    2 => {
                        let width = c.u8()? as usize;
                        if !matches!(width, 2 | 4 | 8) {
                            return Err(c.corrupt(format!("point selection encode size {width}")));
                        }
                        let rank = c.u32()?;
                        (width, rank, c.uint(width)?)
                    }
                    v => return unsupported(v),
                };
                if rank == 0 && n > 1 {
                    // Rank-0 points take no bytes: only the count bounds the loop below.
                    return Err(c.corrupt(format!("{n} points of rank 0")));
                }
                let need = n.saturating_mul(rank as u64).saturating_mul(width as u64);
                if need > c.remaining() as u64 || rank > 32 {
                    return Err(c.truncated(need.min(usize::MAX as u64) as usize));
                }
                let mut points = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let mut p = Vec::with_capacity(rank as usize);
                    for _ in 0..rank {
                        p.push(c.uint(width)?);
                    }
                    points.push(p);
                }
                Ok(Selection::Points { rank, points })
            }
            2 => {
                let (regular, width, rank) = match version {
                    1 => {
                        c.skip(8)?; // reserved, length
                        (false, 4usize, c.u32()?)
                    }
                    2 => {
                        let flags = c.u8()?;
                        c.skip(4)?; // length
                        (flags & 1 != 0, 8, c.u32()?)
                    }
                    3 => {
                        let flags = c.u8()?;
                        let width = c.u8()? as usize;
                        if !matches!(width, 2 | 4 | 8) {
                            return Err(
                                c.corrupt(format!("hyperslab selection encode size {width}"))
                            );
                        }
                        (flags & 1 != 0, width, c.u32()?)
                    }
                    v => return unsupported(v),
                };
                if rank > 32 {
                    return Err(c.corrupt(format!("selection of rank {rank}")));
                }
                let all_ones = if width >= 8 {
                    u64::MAX
                } else {
                    (1u64 << (8 * width)) - 1
                };
                let rd = |c: &mut Cursor<'_>| -> Result<u64> {
                    let v = c.uint(width)?;
                    Ok(if v == all_ones { UNDEF } else { v })
                };
                if regular {
                    let (mut start, mut stride, mut count, mut block) =
                        (vec![], vec![], vec![], vec![]);
                    for _ in 0..rank {
                        let d = normalize_dim(rd(c)?, rd(c)?, rd(c)?, rd(c)?);
                        start.push(d[0]);
                        stride.push(d[1]);
                        count.push(d[2]);
                        block.push(d[3]);
                    }
                    return Ok(Selection::Regular {
                        start,
                        stride,
                        count,
                        block,
                    });
                }
                let n = if version == 1 {
                    c.u32()? as u64
                } else {
                    c.uint(width)?
                };
                if rank == 0 && n > 1 {
                    // Rank-0 blocks take no bytes: only the count bounds the loop below.
                    return Err(c.corrupt(format!("{n} hyperslab blocks of rank 0")));
                }
                let need = n
                    .saturating_mul(2 * rank as u64)
                    .saturating_mul(width as u64);
                if need > c.remaining() as u64 {
                    return Err(c.truncated(need.min(usize::MAX as u64) as usize));
                }
                let mut blocks = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let mut s = Vec::with_capacity(rank as usize);
                    for _ in 0..rank {
                        s.push(c.uint(width)?);
                    }
                    let mut e = Vec::with_capacity(rank as usize);
                    for _ in 0..rank {
                        e.push(c.uint(width)?);
                    }
                    if s.iter().zip(&e).any(|(a, b)| a > b) {
                        return Err(c.corrupt("hyperslab block ends before it starts"));
                    }
                    blocks.push((s, e));
                }
                Ok(Selection::Blocks { rank, blocks })
            }
            k => Err(c.corrupt(format!("unknown selection type {k}"))),
        }
    }

    /// The selection as a regular hyperslab `[start, stride, count, block]`, when it is one
    /// (irregular block lists that form a regular pattern count, as in libhdf5).
    pub fn regular(&self) -> Option<[Vec<u64>; 4]> {
        match self {
            Selection::Regular {
                start,
                stride,
                count,
                block,
            } => Some([start.clone(), stride.clone(), count.clone(), block.clone()]),
            Selection::Blocks { rank, blocks } => blocks_regular(*rank, blocks),
            _ => None,
        }
    }

    /// Number of selected points; `None` for "all" and for unlimited or overflowing counts.
    pub fn npoints(&self) -> Option<u64> {
        match self {
            Selection::None => Some(0),
            Selection::All => None,
            Selection::Points { points, .. } => Some(points.len() as u64),
            Selection::Regular { count, block, .. } => {
                count.iter().zip(block).try_fold(1u64, |a, (&c, &b)| {
                    if c == UNDEF || b == UNDEF {
                        return None;
                    }
                    a.checked_mul(c)?.checked_mul(b)
                })
            }
            Selection::Blocks { blocks, .. } => {
                if let Some(pts) = self.points(10_000) {
                    return Some(pts.len() as u64);
                }
                blocks
                    .iter()
                    .try_fold(0u64, |a, (s, e)| a.checked_add(block_volume(s, e)?))
            }
        }
    }

    /// The selected coordinates, when there are at most `limit` of them: points in stored order;
    /// hyperslab coordinates in row-major order without duplicates. `None` for "all" or when
    /// there are more.
    pub fn points(&self, limit: u64) -> Option<Vec<Vec<u64>>> {
        match self {
            Selection::None => Some(Vec::new()),
            Selection::All => None,
            Selection::Points { points, .. } => {
                (points.len() as u64 <= limit).then(|| points.clone())
            }
            Selection::Regular {
                start,
                stride,
                count,
                block,
            } => {
                let mut per_dim: Vec<Vec<u64>> = Vec::new();
                let mut total = 1u64;
                for (((&s, &st), &c), &b) in start.iter().zip(stride).zip(count).zip(block) {
                    if c == UNDEF || b == UNDEF {
                        return None;
                    }
                    let n = c.checked_mul(b)?;
                    if n == 0 {
                        // An empty dimension selects nothing, however large the others are.
                        return Some(Vec::new());
                    }
                    total = total.checked_mul(n)?;
                    if total > limit {
                        return None;
                    }
                    let mut v = Vec::with_capacity(n as usize);
                    for k in 0..c {
                        for j in 0..b {
                            v.push(s.checked_add(k.checked_mul(st)?)?.checked_add(j)?);
                        }
                    }
                    v.sort_unstable();
                    v.dedup();
                    per_dim.push(v);
                }
                Some(cartesian(&per_dim))
            }
            Selection::Blocks { blocks, .. } => {
                let mut total = 0u64;
                for (s, e) in blocks {
                    total = total.checked_add(block_volume(s, e)?)?;
                    if total > limit {
                        return None;
                    }
                }
                let mut all = Vec::new();
                for (s, e) in blocks {
                    let dims: Vec<Vec<u64>> =
                        s.iter().zip(e).map(|(&a, &b)| (a..=b).collect()).collect();
                    all.extend(cartesian(&dims));
                }
                all.sort();
                all.dedup();
                Some(all)
            }
        }
    }
}

fn block_volume(s: &[u64], e: &[u64]) -> Option<u64> {
    s.iter().zip(e).try_fold(1u64, |a, (&s, &e)| {
        a.checked_mul(e.checked_sub(s)?.checked_add(1)?)
    })
}

fn cartesian(dims: &[Vec<u64>]) -> Vec<Vec<u64>> {
    let mut out: Vec<Vec<u64>> = vec![Vec::new()];
    for d in dims {
        let mut next = Vec::with_capacity(out.len() * d.len());
        for p in &out {
            for &x in d {
                let mut q = p.clone();
                q.push(x);
                next.push(q);
            }
        }
        out = next;
    }
    out
}

/// Whether a set of disjoint blocks is the cartesian product of one regular pattern per
/// dimension (what libhdf5 reports as a regular hyperslab).
fn blocks_regular(rank: u32, blocks: &[(Vec<u64>, Vec<u64>)]) -> Option<[Vec<u64>; 4]> {
    if blocks.is_empty() {
        return None;
    }
    let mut uniq: Vec<&(Vec<u64>, Vec<u64>)> = blocks.iter().collect();
    uniq.sort();
    uniq.dedup();
    let mut out: [Vec<u64>; 4] = Default::default();
    let mut product = 1usize;
    let mut per_dim = Vec::new();
    for d in 0..rank as usize {
        let mut iv: Vec<(u64, u64)> = uniq
            .iter()
            .filter_map(|(s, e)| Some((*s.get(d)?, *e.get(d)?)))
            .collect();
        iv.sort_unstable();
        iv.dedup();
        let first = *iv.first()?;
        let len = first.1.checked_sub(first.0)?.checked_add(1)?;
        let stride = match iv.get(1) {
            Some(second) => second.0.checked_sub(first.0)?,
            None => 1,
        };
        for (k, &(s, e)) in iv.iter().enumerate() {
            if e.checked_sub(s).and_then(|x| x.checked_add(1)) != Some(len)
                || s != first.0.checked_add((k as u64).checked_mul(stride)?)?
            {
                return None;
            }
            if iv.len() > 1 && stride < len {
                return None; // overlapping
            }
        }
        let n = normalize_dim(first.0, stride, iv.len() as u64, len);
        for (o, v) in out.iter_mut().zip(n) {
            o.push(v);
        }
        product = product.checked_mul(iv.len())?;
        per_dim.push(iv);
    }
    if product != uniq.len() {
        return None;
    }
    // Every block must be one cell of the product (counts match, so then all cells are present).
    for (s, e) in &uniq {
        for (d, iv) in per_dim.iter().enumerate() {
            let key = (*s.get(d)?, *e.get(d)?);
            iv.binary_search(&key).ok()?;
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// byte order and bit extraction
// ---------------------------------------------------------------------------------------------

/// The index permutation that turns a VAX-ordered element into little-endian order (16-bit words
/// reversed); `le[k] = raw[perm[k]]`.
pub fn vax_permutation(size: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..size).collect();
    let mut i = 0;
    while i < size {
        if let (Some(j), Some(k)) = (size.checked_sub(2 + i), size.checked_sub(1 + i)) {
            if i + 1 < size {
                let (a, b) = (idx[i], idx[i + 1]);
                idx[i] = idx[j];
                idx[i + 1] = idx[k];
                idx[j] = a;
                idx[k] = b;
            }
        }
        i += 4;
    }
    idx
}

/// The element's bytes in little-endian order.
pub fn to_little_endian(order: ByteOrder, bytes: &[u8]) -> Cow<'_, [u8]> {
    match order {
        ByteOrder::LittleEndian => Cow::Borrowed(bytes),
        _ if bytes.len() <= 1 => Cow::Borrowed(bytes),
        ByteOrder::BigEndian => Cow::Owned(bytes.iter().rev().copied().collect()),
        ByteOrder::Vax => Cow::Owned(
            vax_permutation(bytes.len())
                .iter()
                .filter_map(|&i| bytes.get(i).copied())
                .collect(),
        ),
    }
}

/// Bits `pos..pos+len` of a little-endian byte string, as an unsigned integer (`len` ≤ 128).
fn bits_u128(le: &[u8], pos: usize, len: usize) -> u128 {
    let mut v: u128 = 0;
    for i in 0..len.min(128) {
        let b = pos + i;
        if let Some(byte) = le.get(b / 8) {
            if byte >> (b % 8) & 1 == 1 {
                v |= 1u128 << i;
            }
        }
    }
    v
}

/// Bits `pos..pos+len` of a little-endian byte string, as little-endian 64-bit limbs.
fn bits_limbs(le: &[u8], pos: usize, len: usize) -> Vec<u64> {
    let mut limbs = vec![0u64; len.div_ceil(64)];
    // only the bits inside the element can be set
    let len = len.min((le.len() * 8).saturating_sub(pos));
    if pos.is_multiple_of(8) {
        for (i, limb) in limbs.iter_mut().enumerate() {
            let mut w = [0u8; 8];
            for (k, x) in w.iter_mut().enumerate() {
                *x = le.get(pos / 8 + i * 8 + k).copied().unwrap_or(0);
            }
            *limb = u64::from_le_bytes(w);
        }
        for (i, limb) in limbs.iter_mut().enumerate() {
            let valid = len.saturating_sub(i * 64);
            if valid < 64 {
                *limb &= (1u64 << valid) - 1;
            }
        }
        return limbs;
    }
    for i in 0..len {
        let b = pos + i;
        if le.get(b / 8).is_some_and(|byte| byte >> (b % 8) & 1 == 1) {
            if let Some(l) = limbs.get_mut(i / 64) {
                *l |= 1u64 << (i % 64);
            }
        }
    }
    limbs
}

/// Decimal text of a non-negative big integer given as little-endian limbs.
fn limbs_to_decimal(mut limbs: Vec<u64>) -> String {
    const CHUNK: u64 = 10_000_000_000_000_000_000; // 10^19
    let mut parts = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem: u128 = 0;
        for l in limbs.iter_mut().rev() {
            let cur = (rem << 64) | *l as u128;
            *l = (cur / CHUNK as u128) as u64;
            rem = cur % CHUNK as u128;
        }
        parts.push(rem as u64);
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
    }
    let mut s = match parts.pop() {
        Some(top) => top.to_string(),
        None => return "0".to_string(),
    };
    for p in parts.iter().rev() {
        s.push_str(&format!("{p:019}"));
    }
    s
}

/// The value of an integer whose `precision` bits start at `offset` in the little-endian bytes.
pub fn decode_integer(le: &[u8], offset: usize, precision: usize, signed: bool) -> Value {
    // Bits past the element read as zero; when the sign bit is among them the value is the
    // unsigned reading of the bits that exist.
    let avail = le.len().saturating_mul(8).saturating_sub(offset);
    let (precision, signed) = if precision > avail {
        (avail, false)
    } else {
        (precision, signed)
    };
    if precision == 0 {
        return Value::Int(0);
    }
    if precision <= 127 || (precision == 128 && signed) {
        let v = bits_u128(le, offset, precision);
        let negative = signed && (v >> (precision - 1)) & 1 == 1;
        let x = if negative && precision < 128 {
            (v as i128)
                .wrapping_sub(1i128 << (precision - 1))
                .wrapping_sub(1i128 << (precision - 1))
        } else {
            v as i128
        };
        return Value::Int(x);
    }
    let mut limbs = bits_limbs(le, offset, precision);
    let negative = signed && {
        let top = precision - 1;
        limbs
            .get(top / 64)
            .is_some_and(|l| (l >> (top % 64)) & 1 == 1)
    };
    if negative {
        // two's complement negate within `precision` bits
        let mut carry = true;
        for l in limbs.iter_mut() {
            let (v, c) = (!*l).overflowing_add(carry as u64);
            *l = v;
            carry = c;
        }
        if !precision.is_multiple_of(64) {
            if let Some(last) = limbs.last_mut() {
                *last &= (1u64 << (precision % 64)) - 1;
            }
        }
    }
    let fits = limbs.iter().skip(2).all(|&l| l == 0);
    if fits {
        let mag = limbs.first().copied().unwrap_or(0) as u128
            | (limbs.get(1).copied().unwrap_or(0) as u128) << 64;
        if negative && mag <= 1u128 << 127 {
            return Value::Int((mag as i128).wrapping_neg());
        }
        if !negative && mag <= i128::MAX as u128 {
            return Value::Int(mag as i128);
        }
    }
    let s = limbs_to_decimal(limbs);
    Value::BigInt(if negative { format!("-{s}") } else { s })
}

fn pow2(e: i64) -> f64 {
    // e within [-1022, 1023]
    f64::from_bits(((e + 1023) as u64) << 52)
}

fn ldexp(mut x: f64, mut e: i64) -> f64 {
    while e > 1000 {
        x *= pow2(1000);
        e -= 1000;
        if x.is_infinite() {
            return x;
        }
    }
    while e < -1000 {
        x *= pow2(-1000);
        e += 1000;
        if x == 0.0 {
            return x;
        }
    }
    x * pow2(e)
}

/// `m × 2^e2` correctly rounded to the nearest `f64` (ties to even); overflow gives infinity.
pub fn scale_to_f64(m: u128, e2: i128) -> f64 {
    if m == 0 {
        return 0.0;
    }
    let nbits = 128 - m.leading_zeros() as i128;
    let top = nbits - 1 + e2; // value in [2^top, 2^(top+1))
    if top > 1023 {
        return f64::INFINITY;
    }
    if top < -1076 {
        return 0.0;
    }
    let lsb = (top - 52).max(-1074); // exponent of the result's last bit
    let shift = lsb - e2;
    let (q, e) = if shift <= 0 {
        (m, e2)
    } else if shift >= 128 {
        // m < 2^128 ≤ 2^shift: only rounding up to one unit is possible
        let half_exceeded = shift == 128 && m > 1u128 << 127;
        (half_exceeded as u128, lsb)
    } else {
        let q = m >> shift;
        let rem = m & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let up = rem > half || (rem == half && q & 1 == 1);
        (q + up as u128, lsb)
    };
    // q < 2^54, exactly representable; the product is exact or overflows.
    ldexp(q as f64, e as i64)
}

/// Decodes a floating-point element from its little-endian bytes per the type's bit fields.
pub fn decode_float(f: &FloatingPoint, le: &[u8]) -> Result<f64> {
    let esz = f.exponent_size as usize;
    let msz = f.mantissa_size as usize;
    if esz > 64 || msz > 127 {
        return Err(Error::unsupported(format!(
            "float with a {esz}-bit exponent and {msz}-bit mantissa"
        )));
    }
    let sign = bits_u128(le, f.sign_location as usize, 1) == 1;
    let e = bits_u128(le, f.exponent_location as usize, esz);
    let m = bits_u128(le, f.mantissa_location as usize, msz);
    let e_max = if esz == 128 {
        u128::MAX
    } else {
        (1u128 << esz) - 1
    };
    let x = {
        let frac = if f.norm == MantissaNorm::Implied {
            m
        } else {
            m & ((1u128 << (msz.max(1) - 1)) - 1)
        };
        if e == e_max && f.order != ByteOrder::Vax {
            if frac == 0 {
                f64::INFINITY
            } else {
                return Ok(f64::NAN);
            }
        } else {
            let bias = f.exponent_bias as i128;
            let (mm, e2) = match f.norm {
                MantissaNorm::Implied if e == 0 => (m, 1 - bias - msz as i128),
                MantissaNorm::Implied => ((1u128 << msz) | m, e as i128 - bias - msz as i128),
                _ => (m, (e as i128).max(1) - bias - (msz as i128 - 1)),
            };
            scale_to_f64(mm, e2)
        }
    };
    Ok(if sign { -x } else { x })
}

fn standard_float(f: &FloatingPoint) -> Option<usize> {
    let std = match f.size {
        2 => (15, 10, 5, 0, 10, 15),
        4 => (31, 23, 8, 0, 23, 127),
        8 => (63, 52, 11, 0, 52, 1023),
        _ => return None,
    };
    let ok = f.order != ByteOrder::Vax
        && u64::from(f.precision) == 8 * u64::from(f.size)
        && f.bit_offset == 0
        && f.norm == MantissaNorm::Implied
        && (
            f.sign_location,
            f.exponent_location,
            f.exponent_size,
            f.mantissa_location,
            f.mantissa_size,
            f.exponent_bias,
        ) == std;
    ok.then_some(f.size as usize)
}

fn half_to_f64(b: u16) -> f64 {
    let sign = b >> 15 == 1;
    let e = (b >> 10) & 0x1f;
    let m = (b & 0x3ff) as u128;
    let x = match e {
        0 => scale_to_f64(m, -24),
        0x1f if m == 0 => f64::INFINITY,
        0x1f => return f64::NAN,
        _ => scale_to_f64((1 << 10) | m, e as i128 - 25),
    };
    if sign {
        -x
    } else {
        x
    }
}

fn fixed_value(fp: &FixedPoint, bytes: &[u8]) -> Value {
    if fp.bit_offset == 0
        && u64::from(fp.precision) == 8 * u64::from(fp.size)
        && fp.order == ByteOrder::LittleEndian
    {
        match (bytes, fp.signed) {
            ([a], true) => return Value::Int(*a as i8 as i128),
            ([a], false) => return Value::Int(*a as i128),
            (&[a, b], s) => {
                return Value::Int(if s {
                    i16::from_le_bytes([a, b]) as i128
                } else {
                    u16::from_le_bytes([a, b]) as i128
                })
            }
            (&[a, b, c, d], s) => {
                let w = [a, b, c, d];
                return Value::Int(if s {
                    i32::from_le_bytes(w) as i128
                } else {
                    u32::from_le_bytes(w) as i128
                });
            }
            (&[a, b, c, d, e, f, g, h], s) => {
                let w = [a, b, c, d, e, f, g, h];
                return Value::Int(if s {
                    i64::from_le_bytes(w) as i128
                } else {
                    u64::from_le_bytes(w) as i128
                });
            }
            _ => {}
        }
    }
    let le = to_little_endian(fp.order, bytes);
    decode_integer(
        &le,
        fp.bit_offset as usize,
        fp.precision as usize,
        fp.signed,
    )
}

/// Decodes a float element (any order) to `f64`.
pub fn float_value(f: &FloatingPoint, bytes: &[u8]) -> Result<f64> {
    let le = to_little_endian(f.order, bytes);
    match (standard_float(f), &*le) {
        (Some(8), &[a, b, c, d, e, g, h, i]) => Ok(f64::from_le_bytes([a, b, c, d, e, g, h, i])),
        (Some(4), &[a, b, c, d]) => Ok(f32::from_le_bytes([a, b, c, d]) as f64),
        (Some(2), &[a, b]) => Ok(half_to_f64(u16::from_le_bytes([a, b]))),
        _ => decode_float(f, &le),
    }
}

// ---------------------------------------------------------------------------------------------
// the decoder
// ---------------------------------------------------------------------------------------------

/// Removes a fixed-length string's padding as h5py shows it: null-terminated → the bytes before
/// the first NUL; null-padded → trailing NULs removed; space-padded → trailing spaces, then
/// trailing NULs removed.
pub fn strip_string(pad: StringPad, b: &[u8]) -> &[u8] {
    fn rstrip(b: &[u8], c: u8) -> &[u8] {
        let end = b.iter().rposition(|&x| x != c).map_or(0, |i| i + 1);
        b.get(..end).unwrap_or(&[])
    }
    match pad {
        StringPad::NullTerm => {
            let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
            b.get(..end).unwrap_or(b)
        }
        StringPad::NullPad => rstrip(b, 0),
        StringPad::SpacePad => rstrip(rstrip(b, b' '), 0),
    }
}

/// Widest time element decoded (its value is printed as a decimal integer).
const MAX_TIME_BYTES: usize = 1024;

/// Decodes elements, caching the global heap collections it reads.
pub struct Decoder<'a> {
    ctx: Ctx<'a>,
    heap: GlobalHeapCache,
    /// Global heap objects dereferenced so far (bounded by `limits.max_visits`, so that nested
    /// sequences sharing heap objects cannot make decoding unbounded).
    derefs: u64,
}

impl<'a> Decoder<'a> {
    /// A decoder reading variable-length data and region references through `ctx`.
    pub fn new(ctx: Ctx<'a>) -> Self {
        Decoder {
            ctx,
            heap: GlobalHeapCache::new(),
            derefs: 0,
        }
    }

    /// The context.
    pub fn ctx(&self) -> &Ctx<'a> {
        &self.ctx
    }

    /// Bytes of the global heap object `id`.
    pub fn heap_object(&mut self, id: GlobalHeapId) -> Result<Vec<u8>> {
        Ok(self.heap.object(&self.ctx, id)?.into_owned())
    }

    /// The `n` variable-length strings whose 16-byte heap references are in `raw` (`size`
    /// bytes per element), appended to one buffer: returns the buffer and each string's end
    /// in it. Strings stop at their first NUL, as [`Decoder::decode`] reads them; a null
    /// reference is an empty string. One allocation for all strings instead of one each.
    pub fn vlen_strings(
        &mut self,
        raw: &[u8],
        n: usize,
        size: usize,
    ) -> Result<(Vec<u8>, Vec<usize>)> {
        let mut buf = Vec::new();
        let mut ends = Vec::with_capacity(n.min(raw.len() / size.max(1)));
        for i in 0..n {
            let el = raw.get(i * size..(i + 1) * size).ok_or_else(|| {
                Error::Invalid("variable-length string elements too short".into())
            })?;
            self.with_vlen_string(el, |s| buf.extend_from_slice(s))?;
            ends.push(buf.len());
        }
        Ok((buf, ends))
    }

    /// Calls `f` with the variable-length string whose 16-byte heap reference is `bytes`: its
    /// bytes up to the first NUL, empty for a null reference or length 0.
    fn with_vlen_string<R>(&mut self, bytes: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        let (len, id) = self.vlen_header(bytes)?;
        if id.is_null() || len == 0 {
            return Ok(f(&[]));
        }
        let obj = self.heap.object(&self.ctx, id)?;
        let s = obj.get(..len as usize).ok_or_else(|| {
            Error::corrupt(
                "variable-length string",
                id.collection,
                "string longer than its heap object",
            )
        })?;
        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        Ok(f(s.get(..end).unwrap_or(s)))
    }

    /// Decodes one element; `bytes` must hold at least `dtype.size()` bytes.
    pub fn decode(&mut self, dtype: &Datatype, bytes: &[u8]) -> Result<Value> {
        let size = dtype.size() as usize;
        let bytes = bytes.get(..size).ok_or_else(|| {
            Error::Invalid(format!(
                "element of {} bytes needs {size} bytes",
                bytes.len()
            ))
        })?;
        match dtype {
            Datatype::FixedPoint(fp) => Ok(fixed_value(fp, bytes)),
            Datatype::Bitfield(fp) => {
                let le = to_little_endian(fp.order, bytes);
                Ok(decode_integer(
                    &le,
                    fp.bit_offset as usize,
                    fp.precision as usize,
                    false,
                ))
            }
            Datatype::Enum { base, .. } => self.decode(base, bytes),
            Datatype::Float(f) => Ok(Value::Float(float_value(f, bytes)?)),
            Datatype::Complex { base, .. } => {
                let Datatype::Float(f) = &**base else {
                    return Err(Error::Invalid("complex base is not a float".into()));
                };
                let h = f.size as usize;
                let re = bytes
                    .get(..h)
                    .ok_or_else(|| Error::Invalid("complex element too short".into()))?;
                let im = bytes
                    .get(h..2 * h)
                    .ok_or_else(|| Error::Invalid("complex element too short".into()))?;
                Ok(Value::Complex(float_value(f, re)?, float_value(f, im)?))
            }
            Datatype::Time { order, .. } => {
                if bytes.len() > MAX_TIME_BYTES {
                    return Err(Error::unsupported(format!(
                        "time value of {} bytes",
                        bytes.len()
                    )));
                }
                let le = to_little_endian(*order, bytes);
                Ok(decode_integer(&le, 0, le.len().saturating_mul(8), false))
            }
            Datatype::String { pad, .. } => Ok(Value::String(strip_string(*pad, bytes).to_vec())),
            Datatype::Opaque { .. } => Ok(Value::Opaque(bytes.to_vec())),
            Datatype::Compound { members, .. } => {
                let mut out = Vec::with_capacity(members.len());
                for m in members {
                    let start = m.offset as usize;
                    let part = bytes.get(start..).ok_or_else(|| {
                        Error::Invalid("compound member outside the element".into())
                    })?;
                    out.push((m.name.clone(), self.decode(&m.dtype, part)?));
                }
                Ok(Value::Compound(out))
            }
            Datatype::Array { dims, base, .. } => {
                let bs = base.size() as usize;
                let n = dtype.array_len() as usize;
                let mut elems = Vec::with_capacity(n.min(bytes.len()));
                for i in 0..n {
                    let part = bytes.get(i * bs..).ok_or_else(|| {
                        Error::Invalid("array element outside the element".into())
                    })?;
                    elems.push(self.decode(base, part)?);
                }
                Ok(Value::Array {
                    dims: dims.clone(),
                    elems,
                })
            }
            Datatype::VarLenString { .. } => {
                self.with_vlen_string(bytes, |s| Value::String(s.to_vec()))
            }
            Datatype::VarLenSequence { base, .. } => {
                let (len, id) = self.vlen_header(bytes)?;
                if id.is_null() || len == 0 {
                    return Ok(Value::VarLen(Vec::new()));
                }
                let bs = base.size() as usize;
                let obj = self.heap.object(&self.ctx, id)?.into_owned();
                if bs == 0 || (len as usize).checked_mul(bs).is_none_or(|n| n > obj.len()) {
                    return Err(Error::corrupt(
                        "variable-length sequence",
                        id.collection,
                        format!("{len} elements of {bs} bytes do not fit their heap object"),
                    ));
                }
                let mut out = Vec::with_capacity(len as usize);
                for i in 0..len as usize {
                    let part = obj.get(i * bs..).unwrap_or(&[]);
                    out.push(self.decode(base, part)?);
                }
                Ok(Value::VarLen(out))
            }
            Datatype::Reference { kind, .. } => match kind {
                ReferenceKind::Object => Ok(Value::ObjectRef(object_address(
                    bytes,
                    self.ctx.sizes.offset,
                ))),
                ReferenceKind::Region => {
                    if bytes.iter().all(|&b| b == 0) {
                        return Ok(Value::RegionRef(None));
                    }
                    let mut c = self.ctx.cursor(bytes, 0, "region reference");
                    let id = GlobalHeapId::parse(&mut c)?;
                    if id.is_null() {
                        return Ok(Value::RegionRef(None));
                    }
                    let Ok(obj) = self.heap.object(&self.ctx, id).map(Cow::into_owned) else {
                        return Ok(Value::InvalidRegionRef);
                    };
                    let mut c = self.ctx.cursor(&obj, id.collection, "region reference");
                    let parsed = c
                        .offset()
                        .and_then(|target| Ok((target, Selection::parse(&mut c)?)));
                    Ok(match parsed {
                        Ok((target, selection)) => {
                            Value::RegionRef(Some(RegionRef { target, selection }))
                        }
                        Err(_) => Value::InvalidRegionRef,
                    })
                }
                _ => Ok(Value::RevisedRef(bytes.to_vec())),
            },
        }
    }

    fn vlen_header(&mut self, bytes: &[u8]) -> Result<(u32, GlobalHeapId)> {
        let mut c = self.ctx.cursor(bytes, 0, "variable-length element");
        let len = c.u32()?;
        let id = GlobalHeapId::parse(&mut c)?;
        self.derefs = self.derefs.saturating_add(1).saturating_add(len as u64);
        if self.derefs > self.ctx.limits.max_visits {
            return Err(Error::Limit {
                what: "variable-length elements decoded",
                requested: self.derefs,
                limit: self.ctx.limits.max_visits,
            });
        }
        Ok((len, id))
    }

    /// Decodes `n` consecutive elements of `dtype` from `bytes`, with fast paths for plain
    /// numeric types.
    pub fn decode_many(&mut self, dtype: &Datatype, bytes: &[u8], n: usize) -> Result<Vec<Value>> {
        let size = dtype.size() as usize;
        let need = n
            .checked_mul(size)
            .filter(|&x| x <= bytes.len())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "{n} elements of {size} bytes need more than {} bytes",
                    bytes.len()
                ))
            })?;
        let data = bytes.get(..need).unwrap_or(&[]);
        if size == 0 {
            return (0..n).map(|_| self.decode(dtype, &[])).collect();
        }
        match dtype {
            Datatype::FixedPoint(fp)
                if fp.bit_offset == 0
                    && u64::from(fp.precision) == 8 * u64::from(fp.size)
                    && size <= 8 =>
            {
                let be = fp.order == ByteOrder::BigEndian;
                Ok(data
                    .chunks_exact(size)
                    .map(|ch| {
                        let mut w = [0u8; 8];
                        for (i, &b) in ch.iter().enumerate() {
                            let k = if be { size - 1 - i } else { i };
                            if let Some(x) = w.get_mut(k) {
                                *x = b;
                            }
                        }
                        let u = u64::from_le_bytes(w);
                        let shift = 64 - 8 * size as u32;
                        Value::Int(if fp.signed {
                            ((u << shift) as i64 >> shift) as i128
                        } else {
                            u as i128
                        })
                    })
                    .collect())
            }
            Datatype::Float(f) if standard_float(f).is_some() => data
                .chunks_exact(size)
                .map(|ch| float_value(f, ch).map(Value::Float))
                .collect(),
            _ => data
                .chunks_exact(size)
                .map(|ch| self.decode(dtype, ch))
                .collect(),
        }
    }
}

/// Address held by an old-style object reference (the first Size-of-Offsets bytes), `None` for a
/// null reference (0 or all ones; like the oracle, 2^32-1 counts as null whatever the width).
pub fn object_address(bytes: &[u8], offset_size: u8) -> Option<u64> {
    let n = (offset_size as usize).min(8).min(bytes.len());
    let v = crate::cursor::le_uint(bytes.get(..n).unwrap_or(&[]));
    let ones = if n >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * n)) - 1
    };
    if v == 0 || v == ones || v == u32::MAX as u64 {
        None
    } else {
        Some(v)
    }
}

/// Decodes `n` consecutive elements with one [`Decoder`], so each global heap collection is read
/// once.
pub fn decode_all(dtype: &Datatype, bytes: &[u8], n: usize, ctx: &Ctx<'_>) -> Result<Vec<Value>> {
    Decoder::new(*ctx).decode_many(dtype, bytes, n)
}

/// Decodes one element with a fresh [`Decoder`]. It re-reads any global heap collection the
/// element points into: for many elements use [`decode_all`] or one [`Decoder`].
pub fn decode(dtype: &Datatype, bytes: &[u8], ctx: &Ctx<'_>) -> Result<Value> {
    Decoder::new(*ctx).decode(dtype, bytes)
}

#[cfg(test)]
mod tests;
