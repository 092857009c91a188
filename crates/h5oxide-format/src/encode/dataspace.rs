//! Dataspace message 0x01 (spec §IV.A.2.b).
//!
//! Scalar and simple dataspaces are written as version 1 (what libhdf5 writes by default), with
//! the maximum dimensions always present (unlimited as the undefined address). A null
//! dataspace needs version 2. [`encode_v2`] writes version 2 for every kind (the "latest"
//! profile): no reserved bytes, and an explicit dataspace type.

use super::{Put, UNDEF};
use crate::messages::dataspace::Dataspace;
use crate::{Error, Result};

/// Encodes the body of a Dataspace message.
pub fn encode(space: &Dataspace) -> Result<Vec<u8>> {
    let mut b = Vec::new();
    match space {
        Dataspace::Scalar => {
            b.u8(1);
            b.u8(0);
            b.u8(0);
            b.zeros(5);
        }
        Dataspace::Null => {
            b.u8(2);
            b.u8(0);
            b.u8(0);
            b.u8(2); // type: null
        }
        Dataspace::Simple { dims, max } => {
            if dims.is_empty() || dims.len() > 32 || max.len() != dims.len() {
                return Err(Error::Invalid(format!(
                    "dataspace: rank {} with {} maximum dimensions (rank must be 1..=32)",
                    dims.len(),
                    max.len()
                )));
            }
            b.u8(1);
            b.u8(dims.len() as u8);
            b.u8(1); // maximum dimensions present
            b.zeros(5);
            for d in dims {
                b.u64(*d);
            }
            for m in max {
                b.u64(m.unwrap_or(UNDEF));
            }
        }
    }
    Ok(b)
}

/// Encodes the body of a version-2 Dataspace message (maximum dimensions always present for a
/// simple dataspace, unlimited as all ones).
pub fn encode_v2(space: &Dataspace) -> Result<Vec<u8>> {
    let mut b = Vec::new();
    match space {
        Dataspace::Scalar => {
            b.u8(2);
            b.u8(0);
            b.u8(0);
            b.u8(0); // type: scalar
        }
        Dataspace::Null => {
            b.u8(2);
            b.u8(0);
            b.u8(0);
            b.u8(2); // type: null
        }
        Dataspace::Simple { dims, max } => {
            if dims.is_empty() || dims.len() > 32 || max.len() != dims.len() {
                return Err(Error::Invalid(format!(
                    "dataspace: rank {} with {} maximum dimensions (rank must be 1..=32)",
                    dims.len(),
                    max.len()
                )));
            }
            b.u8(2);
            b.u8(dims.len() as u8);
            b.u8(1); // maximum dimensions present
            b.u8(1); // type: simple
            for d in dims {
                b.u64(*d);
            }
            for m in max {
                b.u64(m.unwrap_or(UNDEF));
            }
        }
    }
    Ok(b)
}
