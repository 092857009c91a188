//! lzf filter, HDF5 filter id **32000** (not implemented yet).

use crate::{Error, Filter, Result};

/// The lzf filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lzf;

impl Filter for Lzf {
    fn id(&self) -> u16 {
        32000
    }
    fn name(&self) -> &str {
        "lzf"
    }
    fn decode(&self, _input: &[u8], _cd_values: &[u32], _size_hint: usize) -> Result<Vec<u8>> {
        Err(Error::unsupported("filter 32000 (lzf)"))
    }
}
