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
//! (uncompressed) storage would be misread. Encoding is not implemented.

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
            let bits = match fill {
                Some(f) if minbits > 0 && v == all_ones => f,
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
