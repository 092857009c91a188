//! zstd filter, HDF5 filter id **32015** (not implemented yet).

use crate::{Error, Filter, Result};

/// The zstd filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Zstd;

impl Filter for Zstd {
    fn id(&self) -> u16 {
        32015
    }
    fn name(&self) -> &str {
        "zstd"
    }
    fn decode(&self, _input: &[u8], _cd_values: &[u32], _size_hint: usize) -> Result<Vec<u8>> {
        Err(Error::unsupported("filter 32015 (zstd)"))
    }
}
