//! TEMPORARY STUB (replaced by the groups branch).
use crate::messages::attribute::AttributeMessage;
use crate::object_header::ObjectHeader;
use crate::{Ctx, Error, Result};
/// Storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeStorage {
    /// Compact.
    Compact,
    /// Dense.
    Dense,
}
/// Attributes.
#[derive(Debug, Clone)]
pub struct Attrs {
    /// Storage.
    pub storage: AttributeStorage,
    /// Messages.
    pub messages: Vec<AttributeMessage>,
}
/// Attribute messages.
pub fn attribute_messages(_ctx: &Ctx<'_>, _oh: &ObjectHeader) -> Result<Attrs> {
    Err(Error::unsupported("attributes"))
}
