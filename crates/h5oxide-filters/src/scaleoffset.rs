//! scaleoffset filter, HDF5 filter id **6** (not implemented yet).

use crate::{Error, Filter, Result};

/// The scaleoffset filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScaleOffset;

impl Filter for ScaleOffset {
    fn id(&self) -> u16 {
        6
    }
    fn name(&self) -> &str {
        "scaleoffset"
    }
    fn decode(&self, _input: &[u8], _cd_values: &[u32], _size_hint: usize) -> Result<Vec<u8>> {
        Err(Error::unsupported("filter 6 (scaleoffset)"))
    }
}
