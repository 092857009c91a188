//! Dataspace message 0x01 (spec §IV.A.2.b), versions 1 and 2.

use crate::cursor::Cursor;
use crate::{Error, Result};

/// The shape of a dataset or attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dataspace {
    /// A single element.
    Scalar,
    /// No elements at all.
    Null,
    /// An n-dimensional array.
    Simple {
        /// Current dimensions.
        dims: Vec<u64>,
        /// Maximum dimensions; `None` entries are unlimited.
        max: Vec<Option<u64>>,
    },
}

impl Dataspace {
    /// Decodes a dataspace message body.
    pub fn decode(c: &mut Cursor<'_>) -> Result<Dataspace> {
        let version = c.u8()?;
        let rank = c.u8()? as usize;
        let flags = c.u8()?;
        let kind = match version {
            1 => {
                c.skip(5)?;
                if rank == 0 {
                    0
                } else {
                    1
                }
            }
            2 => c.u8()?,
            v => {
                return Err(Error::UnsupportedVersion {
                    structure: "dataspace message",
                    version: v as u32,
                })
            }
        };
        if rank > 32 {
            return Err(c.corrupt(format!("rank {rank} exceeds 32")));
        }
        let mut dims = Vec::with_capacity(rank);
        for _ in 0..rank {
            dims.push(c.length()?);
        }
        let mut max = Vec::with_capacity(rank);
        if flags & 1 != 0 {
            for _ in 0..rank {
                let m = c.length()?;
                max.push(if m == u64::MAX { None } else { Some(m) });
            }
        } else {
            max.extend(dims.iter().map(|&d| Some(d)));
        }
        if version >= 2 && kind != 1 && rank != 0 {
            return Err(c.corrupt(format!(
                "invalid rank {rank} for a scalar or null dataspace"
            )));
        }
        match kind {
            0 => Ok(Dataspace::Scalar),
            // Version 1 has no type field: rank 0 means scalar. A version 2 simple dataspace of
            // rank 0 stays simple (one element, shape []), as libhdf5 reports it.
            1 if rank == 0 && version == 1 => Ok(Dataspace::Scalar),
            1 => Ok(Dataspace::Simple { dims, max }),
            2 => Ok(Dataspace::Null),
            k => Err(c.corrupt(format!("dataspace type {k}"))),
        }
    }

    /// Current dimensions (`[]` for scalar and null).
    pub fn dims(&self) -> &[u64] {
        match self {
            Dataspace::Simple { dims, .. } => dims,
            _ => &[],
        }
    }

    /// Number of elements (0 for null), or `None` on overflow.
    pub fn num_elements(&self) -> Option<u64> {
        match self {
            Dataspace::Scalar => Some(1),
            Dataspace::Null => Some(0),
            Dataspace::Simple { dims, .. } => dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d)),
        }
    }

    /// Rank (0 for scalar and null).
    pub fn rank(&self) -> usize {
        self.dims().len()
    }
}
