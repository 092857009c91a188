//! The HDF5 filter pipeline (spec §IV.A.2.l "Filter Pipeline Message") and its codecs.
//!
//! Each filter lives in its own module named after it, documenting its id and `cd_values`.
//! A [`Registry`] maps filter ids to [`Filter`] implementations; [`Registry::default`] holds
//! every built-in filter, and users can [`Registry::register`] their own.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::HashMap;
use std::sync::Arc;

pub use h5oxide_format::{Error, Result};

/// One codec of the filter pipeline.
pub trait Filter: Send + Sync {
    /// The HDF5 filter id (1 deflate, 2 shuffle, ... 32000 lzf, ...).
    fn id(&self) -> u16;

    /// A human-readable name.
    fn name(&self) -> &str;

    /// Undoes this filter on read. `cd_values` are the client data values stored in the pipeline
    /// message; `size_hint` is the expected decoded size (the chunk's byte size), which
    /// implementations use to preallocate and to bound their output.
    fn decode(&self, input: &[u8], cd_values: &[u32], size_hint: usize) -> Result<Vec<u8>>;

    /// Applies this filter on write. Filters that cannot encode return [`Error::Unsupported`].
    fn encode(&self, input: &[u8], cd_values: &[u32]) -> Result<Vec<u8>> {
        let _ = (input, cd_values);
        Err(Error::unsupported(format!(
            "encoding with filter {} ({})",
            self.id(),
            self.name()
        )))
    }
}

/// Filters by id.
#[derive(Clone)]
pub struct Registry {
    filters: HashMap<u16, Arc<dyn Filter>>,
}

impl Registry {
    /// An empty registry.
    pub fn empty() -> Self {
        Registry {
            filters: HashMap::new(),
        }
    }

    /// Adds (or replaces) a filter.
    pub fn register(&mut self, filter: Arc<dyn Filter>) {
        self.filters.insert(filter.id(), filter);
    }

    /// The filter with this id, if registered.
    pub fn get(&self, id: u16) -> Option<&Arc<dyn Filter>> {
        self.filters.get(&id)
    }
}

impl Default for Registry {
    /// Every built-in filter.
    fn default() -> Self {
        let r = Registry::empty();
        r
    }
}
