//! blosc filter, HDF5 filter id **32001** (not implemented yet).

use crate::{Error, Filter, Result};

/// The blosc filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Blosc;

impl Filter for Blosc {
    fn id(&self) -> u16 {
        32001
    }
    fn name(&self) -> &str {
        "blosc"
    }
    fn decode(&self, _input: &[u8], _cd_values: &[u32], _size_hint: usize) -> Result<Vec<u8>> {
        Err(Error::unsupported("filter 32001 (blosc)"))
    }
}
