//! h5oxide: HDF5 in pure Rust.
//!
//! Open a file, address objects by path, iterate members, read attributes and datasets as typed
//! [`ndarray`] arrays:
//!
//! ```no_run
//! let f = h5oxide::File::open("myfile.h5")?;
//! let g = f.group("experiment1")?;
//! let date = g.attr("date")?.read_string()?;
//! let a = g.dataset("array1")?.read::<f64>()?;
//! println!("{date}: {:?}", a.shape());
//! # Ok::<(), h5oxide::Error>(())
//! ```
#![warn(missing_docs)]

pub mod attribute;
mod buffer;
pub mod canonical;
pub mod chunk_iter;
pub mod chunked;
pub mod dataset;
pub mod file;
pub mod group;
pub mod object;
mod read;
pub mod rw;
pub mod select;
pub mod storage;
mod strings;
pub mod types;
pub mod vds;
pub mod write;

pub use attribute::Attribute;
pub use dataset::Dataset;
pub use file::{File, OpenOptions};
pub use group::{Group, Link, LinkKind};
pub use h5oxide_format as format;
pub use h5oxide_format::{Error, Limits, Result};
pub use object::{Object, ObjectKind};
pub use rw::RwFile;
pub use select::Hyperslab;
pub use types::{dtype_name, H5Type};
pub use write::FileWriter;
