//! TEMPORARY STUB (replaced by the groups branch).
/// Link target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTarget {
    /// Hard link.
    Hard(u64),
    /// Soft link.
    Soft(Vec<u8>),
    /// External link.
    External {
        /// File.
        file: Vec<u8>,
        /// Path.
        path: Vec<u8>,
    },
    /// User-defined.
    UserDefined {
        /// Class.
        class: u8,
        /// Data.
        data: Vec<u8>,
    },
}
/// Link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Name.
    pub name: Vec<u8>,
    /// Creation order.
    pub creation_order: Option<u64>,
    /// Target.
    pub target: LinkTarget,
}
