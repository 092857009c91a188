//! Scale-offset filter, HDF5 filter id **6** (`H5Z_FILTER_SCALEOFFSET`).
//!
//! Lossy (floating point) or lossless (integer) compression: each value is stored as its
//! offset from the chunk minimum, packed in the fewest bits that hold the largest offset.
//!
//! `cd_values` (20 entries, filled in by libhdf5's `set_local`):
//! `[0]` scale type (0 floating-point D-scale, 1 floating-point E-scale, 2 integer),
//! `[1]` scale factor (D for D-scale; requested bit width for integers, unused on read),
//! `[2]` number of elements in a chunk, `[3]` class (0 integer, 1 float),
//! `[4]` element size in bytes, `[5]` sign (0 unsigned, 1 two's complement),
//! `[6]` byte order (0 little-, 1 big-endian), `[7]` fill value defined (1) or not (0),
//! `[8..]` fill value, its bytes least-significant first packed four per `u32`.
//!
//! Encoded chunk: a 21-byte header — `minbits` (u32 little-endian), one byte giving the size
//! of `minval` (8), `minval` (u64 little-endian: the chunk minimum for integers, the bits of
//! the minimum float in its low bytes for floats), padding — then the offsets, `minbits` bits
//! each, most significant bit first, packed back to back. When a fill value is defined the
//! all-ones offset means "fill value". Floats were scaled by `10^D` and rounded; on decode the
//! value is `offset / 10^D + min`, computed in the element's precision like libhdf5 does.
//! `minbits == 8 * size` means the data is stored uncompressed (in the writer's native order,
//! assumed little-endian); `minbits == 0` means every element equals the minimum.
//!
//! References: HDF5 User Guide, "Using the Scale-Offset Filter" (`H5Pset_scaleoffset`);
//! RFC "HDF5 Scale+Offset Filter" (The HDF Group, 2004).
//! Known incompatibilities: E-scale (scale type 1) is not implemented by libhdf5 either and
//! gives [`Error::Unsupported`]; chunks written on a big-endian machine with full-precision
//! (uncompressed) storage would be misread. The encoder reproduces libhdf5's bytes for
//! integers (apart from unused header padding) and uses D-scale for floats.

use crate::{cd, check_claimed, corrupt, Error, Filter, Result};

/// The scale-offset filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScaleOffset;

const NAME: &str = "filter scaleoffset";
const HEADER: usize = 21;

/// Reads `bits` bits (≤ 64) most significant first.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn read(&mut self, bits: u32) -> Option<u64> {
        let mut v = 0u64;
        let mut left = bits;
        while left > 0 {
            let byte = *self.data.get(self.pos / 8)?;
            let used = (self.pos % 8) as u32;
            let avail = 8 - used;
            let take = avail.min(left);
            let chunk = (u64::from(byte) >> (avail - take)) & ((1u64 << take) - 1);
            v = (v << take) | chunk;
            left -= take;
            self.pos += take as usize;
        }
        Some(v)
    }
}

fn fill_bytes(cd_values: &[u32], size: usize) -> Result<u64> {
    let mut b = [0u8; 8];
    for (i, slot) in b.iter_mut().enumerate().take(size) {
        let word = cd(cd_values, 8 + i / 4, NAME)?;
        *slot = word.to_le_bytes()[i % 4];
    }
    Ok(u64::from_le_bytes(b))
}

fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

impl Filter for ScaleOffset {
    fn id(&self) -> u16 {
        6
    }
    fn name(&self) -> &str {
        "scaleoffset"
    }
    fn decode(&self, input: &[u8], cd_values: &[u32], size_hint: usize) -> Result<Vec<u8>> {
        let scale_type = cd(cd_values, 0, NAME)?;
        let scale_factor = cd(cd_values, 1, NAME)? as i32;
        let nelmts = cd(cd_values, 2, NAME)? as usize;
        let class = cd(cd_values, 3, NAME)?;
        let size = cd(cd_values, 4, NAME)? as usize;
        let order_be = cd(cd_values, 6, NAME)? == 1;
        let fill_defined = cd(cd_values, 7, NAME)? == 1;
        match (class, size) {
            (0, 1 | 2 | 4 | 8) | (1, 4 | 8) => {}
            _ => {
                return Err(Error::unsupported(format!(
                    "scaleoffset class {class} size {size}"
                )))
            }
        }
        if class == 1 && scale_type != 0 {
            return Err(Error::unsupported(format!(
                "scaleoffset float scale type {scale_type}"
            )));
        }
        let out_len = check_claimed(
            "scaleoffset chunk size",
            (nelmts as u64).saturating_mul(size as u64),
            size_hint,
        )?;
        let head = input
            .get(..HEADER)
            .ok_or_else(|| corrupt(NAME, "chunk shorter than the 21-byte header"))?;
        let minbits = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let minval_len = usize::from(head[4]).min(8);
        let mut mv = [0u8; 8];
        mv[..minval_len].copy_from_slice(&head[5..5 + minval_len]);
        let minval = u64::from_le_bytes(mv);
        let width = (size * 8) as u32;
        if minbits > width {
            return Err(corrupt(
                NAME,
                format!("minbits {minbits} exceeds the element width {width}"),
            ));
        }
        let body = input.get(HEADER..).unwrap_or_default();
        let mut out = vec![0u8; out_len];
        if minbits == width {
            let raw = body
                .get(..out_len)
                .ok_or_else(|| corrupt(NAME, "truncated uncompressed data"))?;
            out.copy_from_slice(raw);
            if order_be {
                for e in out.chunks_exact_mut(size) {
                    e.reverse();
                }
            }
            return Ok(out);
        }
        let needed = (minbits as u64 * nelmts as u64).div_ceil(8);
        if (body.len() as u64) < needed {
            return Err(corrupt(
                NAME,
                format!("packed data needs {needed} bytes, chunk has {}", body.len()),
            ));
        }
        let fill = fill_defined
            .then(|| fill_bytes(cd_values, size))
            .transpose()?;
        let all_ones = mask(minbits);
        let mut reader = BitReader { data: body, pos: 0 };
        let wmask = mask(width);
        for e in out.chunks_exact_mut(size) {
            let v = if minbits == 0 {
                0
            } else {
                reader
                    .read(minbits)
                    .ok_or_else(|| corrupt(NAME, "truncated"))?
            };
            // With a fill value defined, the all-ones offset marks a fill element. For
            // `minbits == 0` that is every element (offset 0 == 2^0 - 1): the encoder only
            // writes minbits 0 with a fill value when the whole chunk is fill, and libhdf5
            // decodes it so.
            let bits = match fill {
                Some(f) if v == all_ones => f,
                _ if class == 0 => v.wrapping_add(minval) & wmask,
                _ if size == 4 => {
                    let min = f32::from_bits(minval as u32);
                    let x = v as u32 as i32 as f32 / 10f32.powi(scale_factor) + min;
                    u64::from(x.to_bits())
                }
                _ => {
                    let min = f64::from_bits(minval);
                    let x = v as i64 as f64 / 10f64.powi(scale_factor) + min;
                    x.to_bits()
                }
            };
            let le = bits.to_le_bytes();
            let src = le.get(..size).unwrap_or_default();
            e.copy_from_slice(src);
            if order_be {
                e.reverse();
            }
        }
        Ok(out)
    }

    fn encode(&self, input: &[u8], cd_values: &[u32]) -> Result<Vec<u8>> {
        encode(input, cd_values)
    }
}

/// Bits needed for values `0..num` (`ceil(log2(num))`).
fn bits_for(num: u64) -> u32 {
    if num <= 1 {
        0
    } else {
        64 - (num - 1).leading_zeros()
    }
}

/// Appends `bits` bits of `v`, most significant first.
struct BitWriter {
    out: Vec<u8>,
    used: u32,
}

impl BitWriter {
    fn put(&mut self, v: u64, bits: u32) {
        let mut left = bits;
        while left > 0 {
            if self.used == 0 || self.used == 8 {
                self.out.push(0);
                self.used = 0;
            }
            let take = (8 - self.used).min(left);
            let chunk = ((v >> (left - take)) & ((1u64 << take) - 1)) as u8;
            if let Some(last) = self.out.last_mut() {
                *last |= chunk << (8 - self.used - take);
            }
            self.used += take;
            left -= take;
        }
    }
}

/// Encodes a chunk. Integers are packed in the fewest bits that hold them, or in the bit width
/// requested by `cd_values[1]` when it is positive (lossy if too small, as in libhdf5); floats
/// use D-scale with factor `cd_values[1]`, rounding to the nearest multiple of `10^-D`.
fn encode(input: &[u8], cd_values: &[u32]) -> Result<Vec<u8>> {
    let scale_type = cd(cd_values, 0, NAME)?;
    let d = cd(cd_values, 1, NAME)? as i32;
    let class = cd(cd_values, 3, NAME)?;
    let size = cd(cd_values, 4, NAME)? as usize;
    let signed = cd(cd_values, 5, NAME)? == 1;
    let order_be = cd(cd_values, 6, NAME)? == 1;
    let fill_defined = cd(cd_values, 7, NAME)? == 1;
    match (class, size) {
        (0, 1 | 2 | 4 | 8) | (1, 4 | 8) => {}
        _ => {
            return Err(Error::unsupported(format!(
                "scaleoffset class {class} size {size}"
            )))
        }
    }
    if class == 1 && scale_type != 0 {
        return Err(Error::unsupported(format!(
            "scaleoffset float scale type {scale_type}"
        )));
    }
    if !input.len().is_multiple_of(size) {
        return Err(Error::Invalid(
            "scaleoffset: data is not a whole number of elements".into(),
        ));
    }
    let width = (size * 8) as u32;
    let raw: Vec<u64> = input
        .chunks_exact(size)
        .map(|e| {
            let mut b = [0u8; 8];
            for (i, x) in e.iter().enumerate() {
                let at = if order_be { size - 1 - i } else { i };
                if let Some(slot) = b.get_mut(at) {
                    *slot = *x;
                }
            }
            u64::from_le_bytes(b)
        })
        .collect();
    let fill = fill_defined
        .then(|| fill_bytes(cd_values, size))
        .transpose()?;
    let sext = |v: u64| -> i64 {
        if signed && width < 64 {
            let shift = 64 - width;
            ((v << shift) as i64) >> shift
        } else {
            v as i64
        }
    };
    // Offsets from the minimum (as u64), the minimum's stored bits, and the bit width.
    let (offsets, minval, minbits): (Vec<Option<u64>>, u64, u32) = if class == 0 {
        let vals = raw.iter().filter(|&&v| Some(v) != fill);
        let (min, max) = if signed {
            let mut it = vals.map(|&v| sext(v) as i128);
            let first = it.next();
            let (mn, mx) = it.fold(first.map_or((0, 0), |f| (f, f)), |(a, b), v| {
                (a.min(v), b.max(v))
            });
            (mn, mx)
        } else {
            let mut it = vals.map(|&v| i128::from(v));
            let first = it.next();
            it.fold(first.map_or((0, 0), |f| (f, f)), |(a, b), v| {
                (a.min(v), b.max(v))
            })
        };
        let span = (max - min) as u128 + 1 + u128::from(fill.is_some());
        let computed = if span > u128::from(u64::MAX) {
            width
        } else {
            bits_for(span as u64).min(width)
        };
        // A requested bit width (cd_values[1] > 0) wins, as in libhdf5 (lossy if too small).
        let minbits = if d > 0 {
            (d as u32).min(width)
        } else {
            computed
        };
        let offs = raw
            .iter()
            .map(|&v| {
                if Some(v) == fill {
                    None
                } else {
                    let x = if signed {
                        i128::from(sext(v))
                    } else {
                        i128::from(v)
                    };
                    Some((x - min) as u64)
                }
            })
            .collect();
        (offs, min as u64, minbits)
    } else {
        let to_f64 = |v: u64| {
            if size == 4 {
                f64::from(f32::from_bits(v as u32))
            } else {
                f64::from_bits(v)
            }
        };
        let vals: Vec<f64> = raw
            .iter()
            .filter(|&&v| Some(v) != fill)
            .map(|&v| to_f64(v))
            .collect();
        let min = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let min = if min.is_finite() { min } else { 0.0 };
        let (min_bits, min_back) = if size == 4 {
            let m = min as f32;
            (u64::from(m.to_bits()), f64::from(m))
        } else {
            (min.to_bits(), min)
        };
        let scale = 10f64.powi(d);
        let mut offs = Vec::with_capacity(raw.len());
        let mut max_off = 0u64;
        let mut ok = vals.iter().all(|v| v.is_finite());
        for &v in &raw {
            if Some(v) == fill {
                offs.push(None);
                continue;
            }
            let o = ((to_f64(v) - min_back) * scale).round();
            if !(0.0..9.0e15).contains(&o) {
                ok = false;
                break;
            }
            max_off = max_off.max(o as u64);
            offs.push(Some(o as u64));
        }
        let minbits = if ok {
            bits_for(max_off + 1 + u64::from(fill.is_some())).min(width)
        } else {
            width
        };
        (offs, min_bits, minbits)
    };
    let mut out = Vec::with_capacity(21 + input.len());
    out.extend_from_slice(&minbits.to_le_bytes());
    out.push(8);
    let minval = if minbits == width { 0 } else { minval };
    out.extend_from_slice(&minval.to_le_bytes());
    out.resize(HEADER, 0);
    if minbits == width {
        // Stored uncompressed, in (little-endian) native order.
        for v in &raw {
            out.extend_from_slice(v.to_le_bytes().get(..size).unwrap_or_default());
        }
        return Ok(out);
    }
    let all_ones = mask(minbits);
    let mut w = BitWriter { out, used: 0 };
    if minbits > 0 {
        for o in offsets {
            w.put(o.unwrap_or(all_ones) & all_ones, minbits);
        }
    }
    // libhdf5 sizes the packed data as floor(bits / 8) + 1 bytes.
    if w.used == 0 || w.used == 8 {
        w.out.push(0);
    }
    Ok(w.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdv(
        scale_type: u32,
        factor: u32,
        n: u32,
        class: u32,
        size: u32,
        order: u32,
        fill: Option<u32>,
    ) -> Vec<u32> {
        let mut v = vec![
            scale_type,
            factor,
            n,
            class,
            size,
            1,
            order,
            u32::from(fill.is_some()),
        ];
        v.extend([fill.unwrap_or(0), 0, 0, 0]);
        v
    }

    fn header(minbits: u32, minval: u64) -> Vec<u8> {
        let mut h = minbits.to_le_bytes().to_vec();
        h.push(8);
        h.extend_from_slice(&minval.to_le_bytes());
        h.resize(HEADER, 0);
        h
    }

    #[test]
    fn integers_with_fill() {
        // 3-bit offsets 0,1,7(fill),5 from min -2 → packed MSB first: 000 001 111 101 → 0x07 0xD0
        let mut input = header(3, (-2i64) as u64);
        input.extend([0b0000_0111, 0b1101_0000]);
        let cdv = cdv(2, 0, 4, 0, 2, 0, Some(99));
        let out = ScaleOffset.decode(&input, &cdv, 8).unwrap();
        let vals: Vec<i16> = out
            .chunks(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(vals, vec![-2, -1, 99, 3]);
        // Big-endian output.
        let mut be = cdv.clone();
        be[6] = 1;
        let out = ScaleOffset.decode(&input, &be, 8).unwrap();
        assert_eq!(&out[..2], &(-2i16).to_be_bytes());
        assert!(ScaleOffset.decode(&input[..22], &cdv, 8).is_err());
        assert!(ScaleOffset.decode(&header(17, 0), &cdv, 8).is_err());
        assert!(ScaleOffset.decode(&input, &cdv[..5], 8).is_err());
    }

    #[test]
    fn encode_round_trip() {
        let ints: Vec<i32> = (0..1000).map(|i| (i * 37 % 1001) - 500).collect();
        let bytes: Vec<u8> = ints.iter().flat_map(|v| v.to_le_bytes()).collect();
        for fill in [None, Some(7u32)] {
            let cdv = cdv(2, 0, 1000, 0, 4, 0, fill);
            let z = ScaleOffset.encode(&bytes, &cdv).unwrap();
            assert!(z.len() < bytes.len() / 2);
            assert_eq!(ScaleOffset.decode(&z, &cdv, bytes.len()).unwrap(), bytes);
        }
        let be: Vec<u8> = ints
            .iter()
            .flat_map(|v| (*v as i64).to_be_bytes())
            .collect();
        let cdv8 = cdv(2, 0, 1000, 0, 8, 1, None);
        let z = ScaleOffset.encode(&be, &cdv8).unwrap();
        assert_eq!(ScaleOffset.decode(&z, &cdv8, be.len()).unwrap(), be);
        let u8s: Vec<u8> = (0..=255u8).collect();
        let mut c = cdv(2, 0, 256, 0, 1, 0, None);
        c[5] = 0;
        let z = ScaleOffset.encode(&u8s, &c).unwrap();
        assert_eq!(ScaleOffset.decode(&z, &c, 256).unwrap(), u8s);
        let floats: Vec<f64> = (0..500)
            .map(|i| (f64::from(i) * 0.37).sin() * 10.0)
            .collect();
        let fb: Vec<u8> = floats.iter().flat_map(|v| v.to_le_bytes()).collect();
        let cf = cdv(0, 3, 500, 1, 8, 0, None);
        let z = ScaleOffset.encode(&fb, &cf).unwrap();
        let back = ScaleOffset.decode(&z, &cf, fb.len()).unwrap();
        for (a, b) in floats.iter().zip(back.chunks(8)) {
            let b = f64::from_le_bytes(b.try_into().unwrap());
            assert!((a - b).abs() <= 0.0005 + 1e-12, "{a} {b}");
        }
    }

    #[test]
    fn constant_and_float() {
        let out = ScaleOffset
            .decode(&header(0, 42), &cdv(2, 0, 3, 0, 4, 0, None), 12)
            .unwrap();
        assert_eq!(
            out,
            [42u32, 42, 42]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<_>>()
        );
        let mut input = header(8, u64::from(1.5f32.to_bits()));
        input.extend([0, 25, 100]);
        let out = ScaleOffset
            .decode(&input, &cdv(0, 2, 3, 1, 4, 0, None), 12)
            .unwrap();
        let vals: Vec<f32> = out
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(vals, vec![1.5, 1.75, 2.5]);
        assert!(ScaleOffset
            .decode(&input, &cdv(1, 2, 3, 1, 4, 0, None), 12)
            .is_err());
        assert!(ScaleOffset
            .decode(&input, &cdv(0, 2, u32::MAX, 1, 4, 0, None), 12)
            .is_err());
    }
}
