//! nbit filter, HDF5 filter id **5** (not implemented yet).

use crate::{Error, Filter, Result};

/// The nbit filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nbit;

impl Filter for Nbit {
    fn id(&self) -> u16 {
        5
    }
    fn name(&self) -> &str {
        "nbit"
    }
    fn decode(&self, _input: &[u8], _cd_values: &[u32], _size_hint: usize) -> Result<Vec<u8>> {
        Err(Error::unsupported("filter 5 (nbit)"))
    }
}
