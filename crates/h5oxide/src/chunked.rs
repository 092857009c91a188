//! TEMPORARY STUB (replaced by the chunks branch).
use h5oxide_format::{Error, Result};
/// Reads a chunked dataset.
pub(crate) fn read_all(_file: &crate::file::FileInner, _info: &crate::dataset::DatasetInfo, _out: &mut [u8]) -> Result<()> {
    Err(Error::unsupported("chunked storage"))
}
/// Stub record.
pub struct ChunkRecord {
    /// Offset.
    pub offset: Vec<u64>,
    /// Mask.
    pub filter_mask: u32,
    /// Size.
    pub size: u64,
}
/// Stub.
pub(crate) fn chunk_info(_file: &crate::file::FileInner, _info: &crate::dataset::DatasetInfo) -> Result<Vec<ChunkRecord>> {
    Err(Error::unsupported("chunked storage"))
}
