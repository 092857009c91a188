//! TEMPORARY STUB (replaced by the groups branch).
use crate::messages::link::Link;
use crate::object_header::ObjectHeader;
use crate::{Ctx, Error, Result};
/// Storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupStorage {
    /// Old.
    SymbolTable,
    /// Compact.
    Compact,
    /// Dense.
    Dense,
}
/// Links.
#[derive(Debug, Clone)]
pub struct GroupLinks {
    /// Storage.
    pub storage: GroupStorage,
    /// Links in name order.
    pub links: Vec<Link>,
    /// Tracked.
    pub creation_order_tracked: bool,
}
/// Links of a group.
pub fn links(_ctx: &Ctx<'_>, _oh: &ObjectHeader) -> Result<GroupLinks> {
    Err(Error::unsupported("groups"))
}
/// Lookup.
pub fn lookup(_ctx: &Ctx<'_>, _oh: &ObjectHeader, _name: &[u8]) -> Result<Option<Link>> {
    Err(Error::unsupported("groups"))
}
