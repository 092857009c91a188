//! szip filter, HDF5 filter id **4** (not implemented yet).

use crate::{Error, Filter, Result};

/// The szip filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Szip;

impl Filter for Szip {
    fn id(&self) -> u16 {
        4
    }
    fn name(&self) -> &str {
        "szip"
    }
    fn decode(&self, _input: &[u8], _cd_values: &[u32], _size_hint: usize) -> Result<Vec<u8>> {
        Err(Error::unsupported("filter 4 (szip)"))
    }
}
