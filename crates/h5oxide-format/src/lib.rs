//! Decoders for the on-disk structures of the HDF5 file format.
//!
//! Implements the *HDF5 File Format Specification* version 4.0 (HDF5 2.0). This crate performs no
//! I/O and contains no `unsafe`: structures that span the file are walked through the [`Source`]
//! trait, and every size or count read from a file is checked against the bytes that remain and
//! a [`Limits`] budget before anything is allocated.
//!
//! One module per structure, named after the spec:
//! - [`superblock`] (§II.A), [`object_header`] (§IV.A) and its messages in [`messages`]
//! - [`datatype`] (§IV.A.2.d) and [`value`] (element decoding)
//! - [`btree_v1`] (§III.A.1), [`btree_v2`] (§III.A.2), [`local_heap`] (§III.D),
//!   [`global_heap`] (§III.E), [`fractal_heap`] (§III.G), [`symbol_table`] (§III.B/C)
//! - [`group`] (link iteration over all three group storages), [`attributes`]
//! - [`chunk_index`] (§VII Appendix C)
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attributes;
pub mod btree_v1;
pub mod btree_v2;
pub mod cache_image;
pub mod checksum;
pub mod chunk_index;
pub mod cursor;
pub mod datatype;
pub mod encode;
pub mod error;
pub mod fractal_heap;
pub mod global_heap;
pub mod group;
pub mod local_heap;
pub mod messages;
pub mod object_header;
pub mod shared;
pub mod source;
pub mod superblock;
pub mod symbol_table;
pub mod value;
pub mod vds;

pub use cursor::{Cursor, Sizes, UNDEF};
pub use error::{Error, Result};
pub use source::{Ctx, Limits, Source, WalkGuard};
