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
//! The entropy decoder is the pure-Rust `rust-aec` crate.
//!
//! References: CCSDS 121.0-B-3 "Lossless Data Compression"; libaec
//! (<https://gitlab.dkrz.de/k202009/libaec>); HDF5 User Guide, "Szip compression".
//! Known incompatibilities: `rust-aec` only accepts 8, 16, 32 or 64 pixels per block (what
//! libaec supports too); other even block sizes the original szip allowed give
//! [`Error::Unsupported`]. Encoding is not implemented.

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
    if ![8, 16, 32, 64].contains(&ppb) {
        return Err(Error::unsupported(format!(
            "szip with {ppb} pixels per block"
        )));
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
    let mut flags = rust_aec::AecFlags::empty();
    if options & MSB_OPTION != 0 {
        flags |= rust_aec::AecFlags::MSB;
    }
    if options & NN_OPTION != 0 {
        flags |= rust_aec::AecFlags::DATA_PREPROCESS;
    }
    let params = rust_aec::AecParams::new(sample_bits as u8, ppb, rsi, flags);
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
    let mut buf = vec![0u8; buf_len];
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rust_aec::decode_into(stream, params, samples, &mut buf)
    }));
    match res {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(corrupt(NAME, format!("AEC stream: {e}"))),
        Err(_) => return Err(corrupt(NAME, "AEC decoder failed on malformed stream")),
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
