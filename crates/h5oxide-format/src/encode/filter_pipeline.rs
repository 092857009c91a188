//! Filter Pipeline message 0x0B (spec §IV.A.2.l): version 1, what libhdf5 writes by default,
//! and version 2, written with `libver=latest` (no padding; names only for ids ≥ 256).
//!
//! Each filter: id, name length (name NUL-terminated and padded to 8), flags (bit 0:
//! optional), number of client data values, the name, the values, and 4 bytes of padding when
//! the number of values is odd.

use super::{pad8, to_u16, Put};
use crate::{Error, Result};

/// One filter of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSpec {
    /// Filter id (1 deflate, 2 shuffle, 3 fletcher32, ...).
    pub id: u16,
    /// Name stored with the filter (libhdf5 stores "deflate", "shuffle", ...).
    pub name: String,
    /// Optional filter: a chunk may skip it when it fails.
    pub optional: bool,
    /// Client data values.
    pub cd_values: Vec<u32>,
}

/// Encodes the body of a version-1 Filter Pipeline message.
pub fn encode_v1(filters: &[FilterSpec]) -> Result<Vec<u8>> {
    if filters.is_empty() || filters.len() > 32 {
        return Err(Error::Invalid(format!(
            "filter pipeline: {} filters (1..=32 allowed)",
            filters.len()
        )));
    }
    let mut b = Vec::new();
    b.u8(1);
    b.u8(filters.len() as u8);
    b.zeros(6);
    for f in filters {
        if f.name.as_bytes().contains(&0) {
            return Err(Error::Invalid("filter name contains NUL".into()));
        }
        let name_len = if f.name.is_empty() {
            0
        } else {
            pad8(f.name.len() + 1)
        };
        b.u16(f.id);
        b.u16(to_u16(name_len, "filter name")?);
        b.u16(u16::from(f.optional));
        b.u16(to_u16(f.cd_values.len(), "filter client data")?);
        b.extend_from_slice(f.name.as_bytes());
        b.zeros(name_len.saturating_sub(f.name.len()));
        for v in &f.cd_values {
            b.u32(*v);
        }
        if f.cd_values.len() % 2 == 1 {
            b.u32(0);
        }
    }
    Ok(b)
}

/// Encodes the body of a version-2 Filter Pipeline message: each filter is id, [name length
/// and NUL-terminated name, only for ids ≥ 256], flags, number of client data values, values.
pub fn encode_v2(filters: &[FilterSpec]) -> Result<Vec<u8>> {
    if filters.is_empty() || filters.len() > 32 {
        return Err(Error::Invalid(format!(
            "filter pipeline: {} filters (1..=32 allowed)",
            filters.len()
        )));
    }
    let mut b = Vec::new();
    b.u8(2);
    b.u8(filters.len() as u8);
    for f in filters {
        if f.name.as_bytes().contains(&0) {
            return Err(Error::Invalid("filter name contains NUL".into()));
        }
        b.u16(f.id);
        let named = f.id >= 256;
        if named {
            b.u16(to_u16(f.name.len() + 1, "filter name")?);
        }
        b.u16(u16::from(f.optional));
        b.u16(to_u16(f.cd_values.len(), "filter client data")?);
        if named {
            b.extend_from_slice(f.name.as_bytes());
            b.u8(0);
        }
        for v in &f.cd_values {
            b.u32(*v);
        }
    }
    Ok(b)
}
