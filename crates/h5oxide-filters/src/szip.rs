//! Szip filter, HDF5 filter id **4** (`H5Z_FILTER_SZIP`): CCSDS 121.0-B Adaptive Entropy
//! Coding (Rice coding with an optional unit-delay predictor), as produced by the szip library
//! or by libaec's szip compatibility layer.
//!
//! Encoded layout: a 4-byte little-endian decoded size, then the AEC bit stream.
//!
//! `cd_values` (filled in by libhdf5's `set_local` from the datatype):
//! `[0]` options mask (1 allow-K13, 2 chip, 4 entropy coding, 8 LSB, 16 MSB byte order,
//! 32 nearest-neighbour preprocessing, 128 raw), `[1]` pixels per block (even, ≤ 32),
//! `[2]` bits per pixel (1–24, 32 or 64), `[3]` pixels per scanline.
//!
//! Decoding follows libaec's szip semantics: the reference sample interval is
//! `ceil(pixels_per_scanline / pixels_per_block)` blocks; when a scanline is not a whole number
//! of blocks each scanline was padded to whole blocks before coding and the padding is dropped
//! after decoding; 32- and 64-bit pixels were coded as 8-bit samples of the byte-transposed
//! buffer (byte 0 of every pixel, then byte 1, ...), which is undone after decoding. Samples
//! wider than 8 bits are emitted big-endian when the MSB option is set, else little-endian.
//!
//! The entropy decoder is our own, written from CCSDS 121.0-B (with libaec's conventions for
//! zero-block runs and the second extension).
//!
//! References: CCSDS 121.0-B-3 "Lossless Data Compression"; libaec
//! (<https://gitlab.dkrz.de/k202009/libaec>); HDF5 User Guide, "Szip compression".
//! Known incompatibilities: signed-sample and restricted-code-option variants of AEC are not
//! used by szip and are not implemented. Encoding is not implemented.

use crate::{bytes, cd, check_claimed, corrupt, Error, Filter, Result};

/// The szip filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Szip;

const NAME: &str = "filter szip";

const MSB_OPTION: u32 = 16;
const NN_OPTION: u32 = 32;

impl Filter for Szip {
    fn id(&self) -> u16 {
        4
    }
    fn name(&self) -> &str {
        "szip"
    }
    fn decode(&self, input: &[u8], cd_values: &[u32], size_hint: usize) -> Result<Vec<u8>> {
        let options = cd(cd_values, 0, NAME)?;
        let ppb = cd(cd_values, 1, NAME)?;
        let bpp = cd(cd_values, 2, NAME)?;
        let pps = cd(cd_values, 3, NAME)?;
        let size = bytes::le32(input, 0)
            .ok_or_else(|| corrupt(NAME, "chunk shorter than its 4-byte size"))?;
        let size = check_claimed("szip decoded size", u64::from(size), size_hint)?;
        let stream = input.get(4..).unwrap_or_default();
        decode_stream(stream, options, ppb, bpp, pps, size)
    }
}

/// Decodes an szip-compatible AEC stream into `size` bytes.
pub fn decode_stream(
    stream: &[u8],
    options: u32,
    ppb: u32,
    bpp: u32,
    pps: u32,
    size: usize,
) -> Result<Vec<u8>> {
    if ppb == 0 || pps == 0 {
        return Err(corrupt(NAME, "zero pixels per block or per scanline"));
    }
    if !ppb.is_multiple_of(2) || ppb > 64 {
        return Err(corrupt(NAME, format!("bad pixels per block {ppb}")));
    }
    let interleave = bpp == 32 || bpp == 64;
    let sample_bits = if interleave { 8 } else { bpp };
    if !(1..=32).contains(&sample_bits) {
        return Err(corrupt(NAME, format!("bad bits per pixel {bpp}")));
    }
    let pixel = match sample_bits {
        17.. => 4usize,
        9..=16 => 2,
        _ => 1,
    };
    let rsi = pps.div_ceil(ppb);
    let aec = Aec {
        bps: sample_bits,
        block: ppb as usize,
        rsi: rsi as usize,
        preprocess: options & NN_OPTION != 0,
    };
    let pps = pps as usize;
    let padded_line = (rsi as usize).saturating_mul(ppb as usize);
    let padded = padded_line != pps;
    let samples = if padded {
        let scanlines = size.div_ceil(pixel).div_ceil(pps);
        scanlines
            .checked_mul(padded_line)
            .ok_or_else(|| corrupt(NAME, "size overflow"))?
    } else {
        size.div_ceil(pixel)
    };
    let buf_len = samples
        .checked_mul(pixel)
        .ok_or_else(|| corrupt(NAME, "size overflow"))?;
    if buf_len > size.saturating_mul(2).saturating_add(1 << 16) {
        return Err(Error::Limit {
            what: "szip padded scanlines",
            requested: buf_len as u64,
            limit: size as u64 * 2,
        });
    }
    let values = aec.decode(stream, samples)?;
    let msb = options & MSB_OPTION != 0;
    let mut buf = Vec::with_capacity(buf_len);
    for v in values {
        let b = v.to_le_bytes();
        let b = b.get(..pixel).unwrap_or_default();
        if msb {
            buf.extend(b.iter().rev());
        } else {
            buf.extend_from_slice(b);
        }
    }
    if padded {
        let line = pps * pixel;
        let mut out = Vec::with_capacity(size);
        for l in buf.chunks(padded_line * pixel) {
            out.extend_from_slice(l.get(..line).unwrap_or(l));
        }
        buf = out;
    }
    buf.truncate(size);
    if buf.len() < size {
        return Err(corrupt(
            NAME,
            "AEC stream decoded to fewer bytes than the chunk size",
        ));
    }
    if interleave {
        buf = crate::shuffle::unshuffle(&buf, (bpp / 8) as usize);
    }
    Ok(buf)
}

/// Zero-block count meaning "to the end of the segment or reference sample interval".
const ROS: usize = 5;

/// A CCSDS 121.0 adaptive entropy decoder with libaec's conventions (no RSI padding,
/// unsigned samples).
struct Aec {
    /// Bits per sample (1–32).
    bps: u32,
    /// Samples per block.
    block: usize,
    /// Blocks per reference sample interval.
    rsi: usize,
    /// Unit-delay predictor preprocessing with a reference sample per interval.
    preprocess: bool,
}

/// Reads the bit stream most significant bit first through a 64-bit accumulator.
struct BitReader<'a> {
    data: &'a [u8],
    next: usize,
    /// The low `nbits` bits are unread (higher bits are stale).
    acc: u64,
    nbits: u32,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        BitReader {
            data,
            next: 0,
            acc: 0,
            nbits: 0,
        }
    }

    fn refill(&mut self) {
        while self.nbits <= 48 {
            let Some(&b) = self.data.get(self.next) else {
                break;
            };
            self.acc = (self.acc << 8) | u64::from(b);
            self.nbits += 8;
            self.next += 1;
        }
    }

    /// The next `n` (≤ 32) bits.
    fn bits(&mut self, n: u32) -> Result<u32> {
        if n == 0 {
            return Ok(0);
        }
        if self.nbits < n {
            self.refill();
            if self.nbits < n {
                return Err(corrupt(NAME, "AEC stream is truncated"));
            }
        }
        self.nbits -= n;
        Ok(((self.acc >> self.nbits) & ((1u64 << n) - 1)) as u32)
    }

    /// A fundamental sequence: the number of 0 bits before the next 1 bit.
    fn fs(&mut self) -> Result<usize> {
        let mut count = 0usize;
        loop {
            if self.nbits == 0 {
                self.refill();
                if self.nbits == 0 {
                    return Err(corrupt(NAME, "AEC stream is truncated"));
                }
            }
            let valid = self.acc & ((1u64 << self.nbits) - 1);
            if valid == 0 {
                count += self.nbits as usize;
                self.nbits = 0;
                continue;
            }
            let zeros = valid.leading_zeros() - (64 - self.nbits);
            count += zeros as usize;
            self.nbits -= zeros + 1;
            return Ok(count);
        }
    }
}

impl Aec {
    /// Decodes `nsamples` samples (after undoing the preprocessor, if any).
    fn decode(&self, stream: &[u8], nsamples: usize) -> Result<Vec<u32>> {
        let id_len = match self.bps {
            17.. => 5,
            9..=16 => 4,
            _ => 3,
        };
        let max_id = (1u32 << id_len) - 1;
        let j = self.block;
        let rsi_len = self
            .rsi
            .checked_mul(j)
            .ok_or_else(|| corrupt(NAME, "RSI too large"))?;
        let mut r = BitReader::new(stream);
        let mut out = Vec::with_capacity(nsamples);
        let mut buf: Vec<u32> = Vec::with_capacity(rsi_len.min(nsamples));
        while out.len() < nsamples {
            buf.clear();
            while buf.len() < rsi_len && out.len() + buf.len() < nsamples {
                let with_ref = self.preprocess && buf.is_empty();
                let id = r.bits(id_len)?;
                if id == 0 {
                    let second_extension = r.bits(1)? == 1;
                    if with_ref {
                        buf.push(r.bits(self.bps)?);
                    }
                    if second_extension {
                        let mut i = usize::from(with_ref);
                        while i < j {
                            let m = r.fs()?;
                            let (sum, start) = se_pair(m)
                                .ok_or_else(|| corrupt(NAME, "bad second-extension code"))?;
                            let d1 = m - start;
                            if i % 2 == 0 {
                                buf.push((sum - d1) as u32);
                                i += 1;
                            }
                            buf.push(d1 as u32);
                            i += 1;
                        }
                    } else {
                        let mut zero_blocks = r.fs()?.saturating_add(1);
                        if zero_blocks == ROS {
                            let b = buf.len() / j;
                            zero_blocks = self.rsi.saturating_sub(b).min(64 - b % 64);
                        } else if zero_blocks > ROS {
                            zero_blocks -= 1;
                        }
                        let n =
                            (zero_blocks.saturating_mul(j)).saturating_sub(usize::from(with_ref));
                        if buf.len() + n > rsi_len {
                            return Err(corrupt(
                                NAME,
                                "zero run past the reference sample interval",
                            ));
                        }
                        buf.resize(buf.len() + n, 0);
                    }
                } else if id == max_id {
                    for _ in 0..j {
                        buf.push(r.bits(self.bps)?);
                    }
                } else {
                    let k = id - 1;
                    if with_ref {
                        buf.push(r.bits(self.bps)?);
                    }
                    let first = buf.len();
                    for _ in usize::from(with_ref)..j {
                        let fs = r.fs()?;
                        buf.push((fs as u32).wrapping_shl(k));
                    }
                    for v in buf.iter_mut().skip(first) {
                        *v = v.wrapping_add(r.bits(k)?);
                    }
                }
            }
            if buf.is_empty() {
                break;
            }
            self.postprocess(&buf, &mut out);
        }
        out.truncate(nsamples);
        Ok(out)
    }

    /// Undoes the unit-delay predictor and mapping over one reference sample interval.
    fn postprocess(&self, coded: &[u32], out: &mut Vec<u32>) {
        if !self.preprocess {
            out.extend_from_slice(coded);
            return;
        }
        let xmax: i64 = (1i64 << self.bps) - 1;
        let med = xmax / 2 + 1;
        let Some((&first, rest)) = coded.split_first() else {
            return;
        };
        let mut x = i64::from(first);
        out.push(first);
        for &d in rest {
            let d = i64::from(d);
            let half = (d + 1) >> 1;
            let room = if x < med { x } else { xmax - x };
            if half <= room {
                if d & 1 == 1 {
                    x -= half;
                } else {
                    x += half;
                }
            } else if x < med {
                x = d;
            } else {
                x = xmax - d;
            }
            out.push((x & xmax) as u32);
        }
    }
}

/// For second-extension code `m`: the pair sum and the first code of that sum.
fn se_pair(m: usize) -> Option<(usize, usize)> {
    let mut start = 0usize;
    for sum in 0..13usize {
        if m < start + sum + 1 {
            return Some((sum, start));
        }
        start += sum + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_parameters() {
        let input = [8, 0, 0, 0, 1, 2, 3];
        assert!(Szip.decode(&input, &[141, 32, 8], 8).is_err());
        assert!(Szip.decode(&input, &[141, 0, 8, 16], 8).is_err());
        assert!(Szip.decode(&input, &[141, 32, 0, 16], 8).is_err());
        assert!(Szip.decode(&input, &[141, 32, 40, 16], 8).is_err());
        assert!(Szip.decode(&input, &[141, 10, 8, 16], 8).is_err());
        assert!(Szip
            .decode(&[255, 255, 255, 255], &[141, 32, 8, 32], 8)
            .is_err());
    }
}
