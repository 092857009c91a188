//! Global heap collections, `GCOL` (spec §III.E), which hold variable-length data.
//!
//! A collection is at least 4096 bytes (libhdf5 rejects smaller ones). Objects are numbered
//! from 1; each has a 16-byte header (index, reference count, reserved, size) and data padded
//! to 8. The space after the last object is described by object 0 (free space) when it can
//! hold an object header. Reference counts are written as 0, as libhdf5 does for
//! variable-length data.

use super::{pad8, Put};
use crate::{Error, Result};

/// Smallest collection size libhdf5 accepts.
pub const MIN_COLLECTION_SIZE: usize = 4096;
/// Size of the collection header.
pub const HEADER_SIZE: usize = 16;
/// Size of one object header.
pub const OBJECT_HEADER_SIZE: usize = 16;
/// Largest object index.
pub const MAX_OBJECTS: usize = u16::MAX as usize;

/// A global heap collection being filled.
#[derive(Debug, Clone, Default)]
pub struct CollectionBuilder {
    objects: Vec<Vec<u8>>,
    used: usize,
}

impl CollectionBuilder {
    /// An empty collection.
    pub fn new() -> Self {
        CollectionBuilder {
            objects: Vec::new(),
            used: HEADER_SIZE,
        }
    }

    /// Bytes taken by the header and the objects so far.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// True when the collection holds no object.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Bytes an object of `len` bytes takes in a collection.
    pub fn object_size(len: usize) -> usize {
        OBJECT_HEADER_SIZE + pad8(len)
    }

    /// True when an object of `len` bytes fits into a collection of `capacity` bytes.
    pub fn fits(&self, len: usize, capacity: usize) -> bool {
        self.objects.len() < MAX_OBJECTS && self.used + Self::object_size(len) <= capacity
    }

    /// Adds an object and returns its index (1-based).
    pub fn add(&mut self, data: &[u8]) -> Result<u32> {
        if self.objects.len() >= MAX_OBJECTS {
            return Err(Error::Invalid("global heap collection is full".into()));
        }
        self.objects.push(data.to_vec());
        self.used += Self::object_size(data.len());
        Ok(self.objects.len() as u32)
    }

    /// Collection size needed for the current objects: at least [`MIN_COLLECTION_SIZE`].
    pub fn size(&self) -> usize {
        self.used.max(MIN_COLLECTION_SIZE)
    }

    /// Encodes the collection into exactly `capacity` bytes (at least [`Self::size`]).
    pub fn encode(&self, capacity: usize) -> Result<Vec<u8>> {
        if capacity < self.size() || capacity & 7 != 0 {
            return Err(Error::Invalid(format!(
                "global heap collection: capacity {capacity} for {} bytes",
                self.size()
            )));
        }
        let mut b = Vec::with_capacity(capacity);
        b.extend_from_slice(b"GCOL");
        b.u8(1);
        b.zeros(3);
        b.u64(capacity as u64);
        for (i, o) in self.objects.iter().enumerate() {
            b.u16(i as u16 + 1);
            b.u16(0); // reference count
            b.u32(0);
            b.u64(o.len() as u64);
            b.extend_from_slice(o);
            b.align8();
        }
        let free = capacity - b.len();
        if free >= OBJECT_HEADER_SIZE {
            b.u16(0);
            b.u16(0);
            b.u32(0);
            b.u64(free as u64);
        }
        b.zeros(capacity - b.len());
        Ok(b)
    }
}
