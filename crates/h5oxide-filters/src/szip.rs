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
//! used by szip and are not implemented. Encoding uses only the split-sample and uncompressed
//! options (valid CCSDS, somewhat larger output than libaec's).

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

    fn encode(&self, input: &[u8], cd_values: &[u32]) -> Result<Vec<u8>> {
        let options = cd(cd_values, 0, NAME)?;
        let ppb = cd(cd_values, 1, NAME)?;
        let bpp = cd(cd_values, 2, NAME)?;
        let pps = cd(cd_values, 3, NAME)?;
        encode_stream(input, options, ppb, bpp, pps)
    }
}

/// Appends bits most significant first.
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    nbits: u32,
}

impl BitWriter {
    /// Appends the low `n` (≤ 32) bits of `v`.
    fn put(&mut self, v: u64, n: u32) {
        if n == 0 {
            return;
        }
        self.acc = (self.acc << n) | (v & ((1u64 << n) - 1));
        self.nbits += n;
        while self.nbits >= 8 {
            self.nbits -= 8;
            self.out.push((self.acc >> self.nbits) as u8);
        }
    }
    /// A fundamental sequence for `v`: `v` zeros then a one.
    fn fs(&mut self, v: u64) {
        let mut left = v;
        while left >= 32 {
            self.put(0, 32);
            left -= 32;
        }
        self.put(1, left as u32 + 1);
    }
    fn finish(mut self) -> Vec<u8> {
        if self.nbits > 0 {
            let pad = 8 - self.nbits;
            self.put(0, pad);
        }
        self.out
    }
}

/// Encodes `input` as an szip chunk (4-byte size + AEC stream). Each block uses the
/// split-sample option (fundamental sequences + `k` low bits) or is stored uncompressed,
/// whichever is shorter; the low-entropy options are not used. `cd_values` must be the ones
/// libhdf5's `set_local` stores for the dataset (pixels per scanline from the chunk shape).
pub fn encode_stream(input: &[u8], options: u32, ppb: u32, bpp: u32, pps: u32) -> Result<Vec<u8>> {
    let size = u32::try_from(input.len())
        .map_err(|_| Error::Invalid("szip: chunk larger than 4 GiB".into()))?;
    if ppb == 0 || pps == 0 || !ppb.is_multiple_of(2) || ppb > 64 {
        return Err(Error::Invalid(format!(
            "szip: bad pixels per block {ppb} / scanline {pps}"
        )));
    }
    let interleave = bpp == 32 || bpp == 64;
    let sample_bits = if interleave { 8 } else { bpp };
    if !(1..=32).contains(&sample_bits) {
        return Err(Error::Invalid(format!("szip: bad bits per pixel {bpp}")));
    }
    let pixel = match sample_bits {
        17.. => 4usize,
        9..=16 => 2,
        _ => 1,
    };
    let data = if interleave {
        crate::shuffle::shuffle(input, (bpp / 8) as usize)
    } else {
        input.to_vec()
    };
    let msb = options & MSB_OPTION != 0;
    let mask = if sample_bits == 32 {
        u32::MAX
    } else {
        (1u32 << sample_bits) - 1
    };
    let mut samples: Vec<u32> = data
        .chunks(pixel)
        .map(|c| {
            let mut b = [0u8; 4];
            for (i, x) in c.iter().enumerate() {
                let at = if msb { pixel - 1 - i } else { i };
                if let Some(slot) = b.get_mut(at) {
                    *slot = *x;
                }
            }
            u32::from_le_bytes(b) & mask
        })
        .collect();
    let preprocess = options & NN_OPTION != 0;
    let j = ppb as usize;
    let rsi = pps.div_ceil(ppb) as usize;
    let line = pps as usize;
    let padded_line = rsi * j;
    if padded_line != line {
        // Pad every scanline to whole blocks with its last pixel (zeros without preprocessing).
        let mut padded = Vec::with_capacity(samples.len().div_ceil(line) * padded_line);
        for l in samples.chunks(line) {
            padded.extend_from_slice(l);
            let fill = if preprocess {
                l.last().copied().unwrap_or(0)
            } else {
                0
            };
            padded.resize(padded.len() + padded_line - l.len(), fill);
        }
        samples = padded;
    }
    // Complete the last block by repeating the last sample (the decoder stops at `size`).
    let last = samples.last().copied().unwrap_or(0);
    samples.resize(samples.len().div_ceil(j) * j, last);
    let id_len = match sample_bits {
        17.. => 5u32,
        9..=16 => 4,
        _ => 3,
    };
    let max_id = (1u32 << id_len) - 1;
    let xmax = i64::from(mask);
    let mut w = BitWriter {
        out: size.to_le_bytes().to_vec(),
        acc: 0,
        nbits: 0,
    };
    for interval in samples.chunks(rsi * j) {
        // Mapped prediction residuals (or raw samples), the first one being the reference.
        let coded: Vec<u32> = if preprocess {
            let mut prev = i64::from(interval.first().copied().unwrap_or(0));
            let mut v = vec![prev as u32];
            for &x in interval.iter().skip(1) {
                let x = i64::from(x);
                let delta = x - prev;
                let theta = prev.min(xmax - prev);
                let d = if (0..=theta).contains(&delta) {
                    2 * delta
                } else if (-theta..0).contains(&delta) {
                    2 * -delta - 1
                } else {
                    theta + delta.abs()
                };
                v.push(d as u32);
                prev = x;
            }
            v
        } else {
            interval.to_vec()
        };
        for (b, block) in coded.chunks(j).enumerate() {
            let with_ref = preprocess && b == 0;
            let body = if with_ref {
                block.get(1..).unwrap_or_default()
            } else {
                block
            };
            let uncompressed_bits = (j as u64) * u64::from(sample_bits);
            let mut best: Option<(u32, u64)> = None;
            for k in 0..=(max_id - 2).min(sample_bits) {
                // Keep fundamental sequences short (decoders read them from a 64-bit window).
                if body.iter().any(|&d| d >> k > 32) {
                    continue;
                }
                let bits: u64 = body
                    .iter()
                    .map(|&d| u64::from(d >> k) + 1 + u64::from(k))
                    .sum();
                if best.is_none_or(|(_, c)| bits < c) {
                    best = Some((k, bits));
                }
            }
            match best {
                Some((k, bits)) if bits < uncompressed_bits => {
                    w.put(u64::from(k + 1), id_len);
                    if with_ref {
                        w.put(u64::from(block.first().copied().unwrap_or(0)), sample_bits);
                    }
                    for &d in body {
                        w.fs(u64::from(d >> k));
                    }
                    for &d in body {
                        w.put(u64::from(d), k);
                    }
                }
                _ => {
                    w.put(u64::from(max_id), id_len);
                    for &d in block {
                        w.put(u64::from(d), sample_bits);
                    }
                }
            }
        }
    }
    Ok(w.finish())
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
    fn encode_round_trip() {
        let smooth: Vec<u16> = (0..3001u32)
            .map(|i| (2000.0 + 900.0 * (f64::from(i) / 40.0).sin()) as u16)
            .collect();
        let bytes: Vec<u8> = smooth.iter().flat_map(|v| v.to_le_bytes()).collect();
        let be: Vec<u8> = smooth.iter().flat_map(|v| v.to_be_bytes()).collect();
        let f64s: Vec<u8> = (0..999)
            .flat_map(|i| (f64::from(i) * 0.1).cos().to_le_bytes())
            .collect();
        let cases: [(&[u8], [u32; 4]); 6] = [
            (&bytes, [141, 16, 16, 3001]),
            (&bytes, [141, 8, 16, 100]),
            (&bytes, [137, 32, 16, 50]),
            (&be, [177, 16, 16, 1000]),
            (&f64s, [141, 32, 64, 999]),
            (&bytes[..1], [141, 8, 8, 1]),
        ];
        for (data, cd) in cases {
            let z = Szip.encode(data, &cd).unwrap();
            assert_eq!(Szip.decode(&z, &cd, data.len()).unwrap(), data, "{cd:?}");
        }
    }

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
