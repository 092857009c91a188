//! The canonical JSON description of a file (`../shared/tools/CANONICAL.md`), which the
//! conformance tests compare with what h5py/libhdf5 report for the same file.

pub mod compare;
pub mod dtype;
pub mod json;
pub mod walk;

pub use json::Json;
pub use walk::{dump, dump_bytes, dump_file};
