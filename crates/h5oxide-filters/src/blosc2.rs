//! blosc2 filter, HDF5 filter id **32026** (not implemented yet).

use crate::{Error, Filter, Result};

/// The blosc2 filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Blosc2;

impl Filter for Blosc2 {
    fn id(&self) -> u16 {
        32026
    }
    fn name(&self) -> &str {
        "blosc2"
    }
    fn decode(&self, _input: &[u8], _cd_values: &[u32], _size_hint: usize) -> Result<Vec<u8>> {
        Err(Error::unsupported("filter 32026 (blosc2)"))
    }
}
