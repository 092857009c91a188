//! bzip2 filter, HDF5 filter id **307** (not implemented yet).

use crate::{Error, Filter, Result};

/// The bzip2 filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bzip2;

impl Filter for Bzip2 {
    fn id(&self) -> u16 {
        307
    }
    fn name(&self) -> &str {
        "bzip2"
    }
    fn decode(&self, _input: &[u8], _cd_values: &[u32], _size_hint: usize) -> Result<Vec<u8>> {
        Err(Error::unsupported("filter 307 (bzip2)"))
    }
}
