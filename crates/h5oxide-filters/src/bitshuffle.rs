//! bitshuffle filter, HDF5 filter id **32008** (not implemented yet).

use crate::{Error, Filter, Result};

/// The bitshuffle filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bitshuffle;

impl Filter for Bitshuffle {
    fn id(&self) -> u16 {
        32008
    }
    fn name(&self) -> &str {
        "bitshuffle"
    }
    fn decode(&self, _input: &[u8], _cd_values: &[u32], _size_hint: usize) -> Result<Vec<u8>> {
        Err(Error::unsupported("filter 32008 (bitshuffle)"))
    }
}
