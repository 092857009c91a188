//! Filter Pipeline message 0x0B (spec §IV.A.2.l), versions 1 and 2.
//!
//! * Version 1: version, #filters, 6 reserved bytes; per filter: id (2), name length (2, a multiple
//!   of 8 including the NUL padding), flags (2), #client values (2), name, values (4 each), and 4
//!   padding bytes when the number of values is odd.
//! * Version 2: version, #filters; per filter: id (2), name length (2) **only when id ≥ 256**,
//!   flags (2), #client values (2), name (exact length, no padding), values, no padding.
//!
//! See FORMAT-MAP §2.18. Flags bit 0 marks an optional filter.

use crate::cursor::Cursor;
use crate::{Error, Result};

/// Filter flag bit 0: the filter is optional.
pub const FILTER_FLAG_OPTIONAL: u16 = 0x0001;

/// Most filters a pipeline may hold (libhdf5's `H5Z_MAX_NFILTERS`).
pub const MAX_FILTERS: usize = 32;

/// One filter of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterDesc {
    /// Filter identification value (1 deflate, 2 shuffle, 3 fletcher32, ...).
    pub id: u16,
    /// The stored name without trailing NULs, if any.
    pub name: Option<Vec<u8>>,
    /// Flags (bit 0: optional).
    pub flags: u16,
    /// Client data values.
    pub cd_values: Vec<u32>,
}

impl FilterDesc {
    /// True when the filter is optional (flags bit 0).
    pub fn is_optional(&self) -> bool {
        self.flags & FILTER_FLAG_OPTIONAL != 0
    }

    /// The name as text (lossy), or an empty string.
    pub fn name_lossy(&self) -> String {
        self.name
            .as_deref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default()
    }
}

/// A decoded Filter Pipeline message: the filters in the order they are applied on write.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilterPipeline {
    /// Message version (1 or 2).
    pub version: u8,
    /// The filters, in write order.
    pub filters: Vec<FilterDesc>,
}

impl FilterPipeline {
    /// Decodes a Filter Pipeline message body.
    pub fn decode(c: &mut Cursor<'_>) -> Result<FilterPipeline> {
        let version = c.u8()?;
        if version != 1 && version != 2 {
            return Err(Error::UnsupportedVersion {
                structure: "filter pipeline message",
                version: version as u32,
            });
        }
        let n = c.u8()? as usize;
        if n > MAX_FILTERS {
            return Err(c.corrupt(format!("{n} filters in a pipeline")));
        }
        if version == 1 {
            c.skip(6)?;
        }
        let mut filters = Vec::with_capacity(n);
        for _ in 0..n {
            let id = c.u16()?;
            let name_len = if version == 1 || id >= 256 {
                c.u16()? as usize
            } else {
                0
            };
            let flags = c.u16()?;
            let nvalues = c.u16()? as usize;
            let name = if name_len > 0 {
                let raw = c.bytes(name_len)?;
                let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
                raw.get(..end).map(|s| s.to_vec())
            } else {
                None
            };
            if nvalues.saturating_mul(4) > c.remaining() {
                return Err(c.truncated(nvalues.saturating_mul(4)));
            }
            let mut cd_values = Vec::with_capacity(nvalues);
            for _ in 0..nvalues {
                cd_values.push(c.u32()?);
            }
            if version == 1 && nvalues % 2 == 1 {
                // Padding after an odd number of values; tolerate its absence at the very end.
                if c.remaining() >= 4 {
                    c.skip(4)?;
                }
            }
            filters.push(FilterDesc {
                id,
                name,
                flags,
                cd_values,
            });
        }
        Ok(FilterPipeline { version, filters })
    }

    /// True when the pipeline has no filters.
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Sizes;

    fn dec(b: &[u8]) -> Result<FilterPipeline> {
        FilterPipeline::decode(&mut Cursor::new(b, 0, "pipeline", Sizes::default()))
    }

    #[test]
    fn v1_with_names_and_padding() {
        let mut b = vec![1u8, 2, 0, 0, 0, 0, 0, 0];
        // shuffle, name "shuffle\0" (8), 1 value + pad
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&8u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(b"shuffle\0");
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        // deflate, no name, 1 value + pad
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&6u32.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        let p = dec(&b).unwrap();
        assert_eq!(p.filters.len(), 2);
        assert_eq!(p.filters[0].name.as_deref(), Some(&b"shuffle"[..]));
        assert!(p.filters[0].is_optional());
        assert_eq!(p.filters[0].cd_values, vec![4]);
        assert_eq!(p.filters[1].id, 1);
        assert_eq!(p.filters[1].cd_values, vec![6]);
        for n in 0..b.len() - 4 {
            assert!(dec(&b[..n]).is_err(), "{n}");
        }
    }

    #[test]
    fn v2_name_only_for_high_ids() {
        let mut b = vec![2u8, 2];
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&9u32.to_le_bytes());
        b.extend_from_slice(&32000u16.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&3u16.to_le_bytes());
        b.extend_from_slice(b"lzf\0");
        for v in [1u32, 2, 3] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let p = dec(&b).unwrap();
        assert_eq!(p.filters[0].cd_values, vec![9]);
        assert_eq!(p.filters[1].id, 32000);
        assert_eq!(p.filters[1].name.as_deref(), Some(&b"lzf"[..]));
        assert_eq!(p.filters[1].cd_values, vec![1, 2, 3]);
        assert_eq!(p.filters[1].flags, 1);
    }
}
