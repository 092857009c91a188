//! TEMPORARY STUB (replaced by the groups branch).
use crate::{Ctx, Error, Result};
/// Resolve.
pub fn resolve(_ctx: &Ctx<'_>, _kind: u16, _body: &[u8], _addr: u64) -> Result<Vec<u8>> {
    Err(Error::unsupported("shared messages"))
}
