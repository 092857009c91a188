//! Zstandard filter, HDF5 registered filter id **32015** (`H5Z_FILTER_ZSTD`, from the
//! HDFGroup hdf5_plugins / hdf5plugin `Zstd`).
//!
//! The chunk is one plain zstd frame (RFC 8878).
//!
//! `cd_values`: `[0]` = compression level (encoding only; default 3).
//!
//! Uses the `zstd` crate (bundled C libzstd): about twice as fast as the pure-Rust `ruzstd`
//! decoder, and it builds offline from crates.io sources. Decoding first tries a one-shot decode
//! into `size_hint` bytes, then a streaming decode bounded by [`crate::output_limit`].
//!
//! Reference: <https://github.com/HDFGroup/hdf5_plugins/tree/master/ZSTD>.
//! Known incompatibilities: none (concatenated frames are decoded too).

use crate::{read_bounded, Error, Filter, Result};

/// The zstd filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Zstd;

const NAME: &str = "filter zstd";

/// Decodes zstd data whose decoded size is expected to be `size_hint`.
pub fn decompress(input: &[u8], size_hint: usize) -> Result<Vec<u8>> {
    if size_hint > 0 {
        if let Ok(out) = ::zstd::bulk::decompress(input, size_hint) {
            return Ok(out);
        }
    }
    let dec = ::zstd::stream::read::Decoder::with_buffer(input)
        .map_err(|e| crate::corrupt(NAME, format!("zstd: {e}")))?;
    read_bounded(dec, size_hint, NAME, "zstd frame")
}

thread_local! {
    /// One decompression context per thread, reused (creating one per block costs more than
    /// decoding a small block).
    static DCTX: std::cell::RefCell<Option<::zstd::bulk::Decompressor<'static>>> =
        std::cell::RefCell::new(::zstd::bulk::Decompressor::new().ok());
}

/// Decodes zstd data that must decode to exactly `out.len()` bytes.
pub(crate) fn decompress_exact(
    input: &[u8],
    out: &mut [u8],
    structure: &'static str,
) -> Result<()> {
    let n = DCTX
        .with(|d| match &mut *d.borrow_mut() {
            Some(d) => d.decompress_to_buffer(input, out),
            None => ::zstd::bulk::decompress_to_buffer(input, out),
        })
        .map_err(|e| crate::corrupt(structure, format!("zstd: {e}")))?;
    if n != out.len() {
        return Err(crate::corrupt(
            structure,
            format!("zstd block decoded to {n} bytes, expected {}", out.len()),
        ));
    }
    Ok(())
}

/// Compresses `input` as one zstd frame.
pub fn compress(input: &[u8], level: i32) -> Result<Vec<u8>> {
    ::zstd::bulk::compress(input, level)
        .map_err(|e| Error::Invalid(format!("zstd compression failed: {e}")))
}

impl Filter for Zstd {
    fn id(&self) -> u16 {
        32015
    }
    fn name(&self) -> &str {
        "zstd"
    }
    fn decode(&self, input: &[u8], _cd_values: &[u32], size_hint: usize) -> Result<Vec<u8>> {
        decompress(input, size_hint)
    }
    fn decode_to_slice(&self, input: &[u8], _cd_values: &[u32], out: &mut [u8]) -> bool {
        decompress_exact(input, out, NAME).is_ok()
    }
    fn encode(&self, input: &[u8], cd_values: &[u32]) -> Result<Vec<u8>> {
        let level = cd_values
            .first()
            .map_or(3, |&l| i32::try_from(l).unwrap_or(3).clamp(1, 22));
        compress(input, level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bounds() {
        let data: Vec<u8> = (0..50_000u32).map(|i| (i / 100) as u8).collect();
        let z = Zstd.encode(&data, &[5]).unwrap();
        assert_eq!(Zstd.decode(&z, &[], data.len()).unwrap(), data);
        assert_eq!(Zstd.decode(&z, &[], 7).unwrap(), data);
        let big = compress(&vec![0u8; 4 << 20], 3).unwrap();
        assert!(matches!(
            Zstd.decode(&big, &[], 10),
            Err(Error::Limit { .. })
        ));
        assert!(Zstd.decode(&z[..z.len() / 2], &[], data.len()).is_err());
        assert!(Zstd.decode(&[], &[], 0).is_err() || Zstd.decode(&[], &[], 0).unwrap().is_empty());
    }
}
