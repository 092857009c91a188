//! Deflate (gzip) filter, HDF5 filter id **1** (`H5Z_FILTER_DEFLATE`).
//!
//! The chunk is one zlib stream (RFC 1950 wrapper around RFC 1951 deflate data).
//!
//! `cd_values`: `[0]` = compression level 0–9 (used only when encoding; default 6 when absent).
//!
//! Decoding first tries [libdeflate](https://github.com/ebiggers/libdeflate) (through the
//! `libdeflater` crate) into a buffer of exactly `size_hint` bytes: libdeflate's one-shot inflate
//! is about three times faster than zlib's. When the hint is too small, zero, or libdeflate
//! rejects the stream (for instance because of trailing bytes after the zlib stream, which
//! libhdf5 tolerates), it falls back to a streaming inflater (`flate2` with the pure-Rust
//! `zlib-rs` backend) bounded by [`crate::output_limit`].
//!
//! Spec: HDF5 File Format Specification §IV.A.2.l (filter pipeline message), RFC 1950/1951.
//! Known incompatibilities: none; the adler32 trailer is verified.

use std::cell::RefCell;

use crate::{output_limit, Error, Filter, Result};

/// The deflate filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deflate;

const NAME: &str = "filter deflate";

thread_local! {
    static INFLATER: RefCell<libdeflater::Decompressor> = RefCell::new(libdeflater::Decompressor::new());
}

/// Inflates a zlib stream whose decoded size is expected to be `size_hint`.
pub fn inflate(input: &[u8], size_hint: usize) -> Result<Vec<u8>> {
    let limit = output_limit(size_hint);
    // A little slack covers stages whose output is slightly larger than the chunk (deflate
    // applied over a fletcher32 checksum) without falling back to the slower streaming path.
    let room = size_hint.saturating_add(64).min(limit);
    if size_hint > 0 {
        let mut out = vec![0u8; room];
        let fast = INFLATER.with(|d| d.borrow_mut().zlib_decompress(input, &mut out));
        if let Ok(n) = fast {
            out.truncate(n);
            return Ok(out);
        }
    }
    inflate_streaming(input, size_hint)
}

fn inflate_streaming(input: &[u8], size_hint: usize) -> Result<Vec<u8>> {
    crate::read_bounded(
        flate2::read::ZlibDecoder::new(input),
        size_hint,
        NAME,
        "zlib stream",
    )
}

/// Compresses `input` as a zlib stream at `level` (0–9; larger values are clamped).
pub fn deflate(input: &[u8], level: u32) -> Result<Vec<u8>> {
    let lvl = i32::try_from(level.min(9)).unwrap_or(6);
    let lvl = libdeflater::CompressionLvl::new(lvl)
        .map_err(|_| Error::unsupported(format!("deflate level {level}")))?;
    let mut c = libdeflater::Compressor::new(lvl);
    let mut out = vec![0u8; c.zlib_compress_bound(input.len())];
    let n = c
        .zlib_compress(input, &mut out)
        .map_err(|e| Error::Invalid(format!("deflate compression failed: {e}")))?;
    out.truncate(n);
    Ok(out)
}

impl Filter for Deflate {
    fn id(&self) -> u16 {
        1
    }
    fn name(&self) -> &str {
        "deflate"
    }
    fn decode(&self, input: &[u8], _cd_values: &[u32], size_hint: usize) -> Result<Vec<u8>> {
        inflate(input, size_hint)
    }
    fn decode_to_slice(&self, input: &[u8], _cd_values: &[u32], out: &mut [u8]) -> bool {
        INFLATER.with(|d| d.borrow_mut().zlib_decompress(input, out)) == Ok(out.len())
    }
    fn encode(&self, input: &[u8], cd_values: &[u32]) -> Result<Vec<u8>> {
        deflate(input, cd_values.first().copied().unwrap_or(6))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..10_000u32).flat_map(|i| (i / 7).to_le_bytes()).collect()
    }

    #[test]
    fn round_trip_all_levels() {
        let data = sample();
        for level in [0, 1, 6, 9, 42] {
            let z = Deflate.encode(&data, &[level]).unwrap();
            assert_eq!(Deflate.decode(&z, &[level], data.len()).unwrap(), data);
        }
    }

    #[test]
    fn wrong_hint_falls_back() {
        let data = sample();
        let z = deflate(&data, 6).unwrap();
        assert_eq!(Deflate.decode(&z, &[], 10).unwrap(), data);
        assert_eq!(Deflate.decode(&z, &[], 0).unwrap(), data);
        assert_eq!(Deflate.decode(&z, &[], data.len() * 3).unwrap(), data);
    }

    #[test]
    fn trailing_garbage_is_tolerated() {
        let data = sample();
        let mut z = deflate(&data, 6).unwrap();
        z.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(Deflate.decode(&z, &[], data.len()).unwrap(), data);
    }

    #[test]
    fn bomb_is_limited() {
        let data = vec![0u8; 8 << 20];
        let z = deflate(&data, 9).unwrap();
        let err = Deflate.decode(&z, &[], 1000).unwrap_err();
        assert!(matches!(err, Error::Limit { .. }), "{err:?}");
    }

    #[test]
    fn garbage_is_corrupt() {
        let data = sample();
        let z = deflate(&data, 6).unwrap();
        for cut in [0, 1, 2, 10, z.len() / 2, z.len() - 1] {
            let err = Deflate.decode(&z[..cut], &[], data.len()).unwrap_err();
            assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
        }
        assert!(Deflate.decode(&[0xff; 100], &[], 100).is_err());
    }
}
