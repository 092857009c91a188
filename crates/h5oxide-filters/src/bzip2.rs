//! Bzip2 filter, HDF5 registered filter id **307** (`H5Z_FILTER_BZIP2`, from PyTables /
//! HDFGroup hdf5_plugins / hdf5plugin `BZip2`).
//!
//! The chunk is one plain bzip2 stream.
//!
//! `cd_values`: `[0]` = block size 1–9 (×100 kB; encoding only, default 9).
//!
//! Uses the `bzip2` crate with its default pure-Rust `libbz2-rs-sys` backend (no C toolchain).
//!
//! Reference: <https://github.com/HDFGroup/hdf5_plugins/tree/master/BZIP2>.
//! Known incompatibilities: none.

use std::io::Write;

use crate::{read_bounded, Error, Filter, Result};

/// The bzip2 filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bzip2;

const NAME: &str = "filter bzip2";

impl Filter for Bzip2 {
    fn id(&self) -> u16 {
        307
    }
    fn name(&self) -> &str {
        "bzip2"
    }
    fn decode(&self, input: &[u8], _cd_values: &[u32], size_hint: usize) -> Result<Vec<u8>> {
        read_bounded(
            ::bzip2::read::BzDecoder::new(input),
            size_hint,
            NAME,
            "bzip2 stream",
        )
    }
    fn encode(&self, input: &[u8], cd_values: &[u32]) -> Result<Vec<u8>> {
        let level = cd_values.first().map_or(9, |&l| l.clamp(1, 9));
        let mut enc = ::bzip2::write::BzEncoder::new(Vec::new(), ::bzip2::Compression::new(level));
        enc.write_all(input)
            .map_err(|e| Error::Invalid(format!("bzip2 compression failed: {e}")))?;
        enc.finish()
            .map_err(|e| Error::Invalid(format!("bzip2 compression failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bounds() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i / 50) as u8).collect();
        let z = Bzip2.encode(&data, &[9]).unwrap();
        assert_eq!(Bzip2.decode(&z, &[], data.len()).unwrap(), data);
        let big = Bzip2.encode(&vec![0u8; 3 << 20], &[1]).unwrap();
        assert!(matches!(
            Bzip2.decode(&big, &[], 10),
            Err(Error::Limit { .. })
        ));
        assert!(Bzip2.decode(&z[..z.len() / 2], &[], data.len()).is_err());
    }
}
