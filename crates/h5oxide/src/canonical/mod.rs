//! The canonical JSON description of a file (`../shared/tools/CANONICAL.md`).

pub mod compare;
pub mod json;
