//! TEMPORARY STUB (replaced by the chunks branch).
use h5oxide_format::{Error, Result};
/// Reads a chunked dataset.
pub(crate) fn read_all(_file: &crate::file::FileInner, _info: &crate::dataset::DatasetInfo, _out: &mut [u8]) -> Result<()> {
    Err(Error::unsupported("chunked storage"))
}
