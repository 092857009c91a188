//! The canonical JSON description of a file (`../shared/tools/CANONICAL.md`).

pub mod dtype;
pub mod json;
