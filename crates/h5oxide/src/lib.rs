//! h5oxide: HDF5 in pure Rust.
//!
//! (API under construction.)
#![warn(missing_docs)]

pub mod canonical;
pub mod chunked;

pub use h5oxide_format::{Error, Result};
