//! TEMPORARY STUB (replaced by the groups branch).
use crate::{Ctx, Error, Result};
/// Local heap.
pub struct LocalHeap {
    data: Vec<u8>,
}
impl LocalHeap {
    /// Read.
    pub fn read(ctx: &Ctx<'_>, addr: u64) -> Result<LocalHeap> {
        let h = ctx.read(addr, 8 + 2 * ctx.sizes.length as u64 + ctx.sizes.offset as u64, "local heap")?;
        let mut c = ctx.cursor(&h, addr, "local heap");
        c.signature(b"HEAP")?;
        c.skip(4)?;
        let size = c.length()?;
        let _free = c.length()?;
        let a = c.offset()?;
        Ok(LocalHeap { data: ctx.read(a, size, "local heap data")?.into_owned() })
    }
    /// String at.
    pub fn string_at(&self, off: u64) -> Result<&[u8]> {
        let s = self.data.get(off as usize..).ok_or_else(|| Error::corrupt("local heap", 0, "offset"))?;
        Ok(s.split(|&b| b == 0).next().unwrap_or(&[]))
    }
}
