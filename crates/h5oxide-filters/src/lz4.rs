//! lz4 filter, HDF5 filter id **32004** (not implemented yet).

use crate::{Error, Filter, Result};

/// The lz4 filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lz4;

impl Filter for Lz4 {
    fn id(&self) -> u16 {
        32004
    }
    fn name(&self) -> &str {
        "lz4"
    }
    fn decode(&self, _input: &[u8], _cd_values: &[u32], _size_hint: usize) -> Result<Vec<u8>> {
        Err(Error::unsupported("filter 32004 (lz4)"))
    }
}
