//! Attribute message 0x0C (spec §IV.A.2.m), versions 1 and 3.
//!
//! Version 1 (libhdf5's default, also for non-ASCII names written by h5py) pads the name,
//! datatype and dataspace each to a multiple of 8 while the size fields hold the unpadded
//! sizes; the name size includes the NUL terminator. Version 3 packs the fields and adds the
//! name's character set.

use super::{pad8, to_u16, Put};
use crate::datatype::CharSet;
use crate::{Error, Result};

/// Encodes a version-1 attribute message body from an encoded datatype and dataspace and the
/// raw data (`data` as stored: for variable-length types, the heap references).
pub fn encode_v1(name: &str, datatype: &[u8], dataspace: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    check_name(name)?;
    let mut b = Vec::new();
    b.u8(1);
    b.u8(0);
    b.u16(to_u16(name.len() + 1, "attribute name")?);
    b.u16(to_u16(datatype.len(), "attribute datatype")?);
    b.u16(to_u16(dataspace.len(), "attribute dataspace")?);
    b.extend_from_slice(name.as_bytes());
    b.u8(0);
    b.zeros(pad8(name.len() + 1) - name.len() - 1);
    b.extend_from_slice(datatype);
    b.zeros(pad8(datatype.len()) - datatype.len());
    b.extend_from_slice(dataspace);
    b.zeros(pad8(dataspace.len()) - dataspace.len());
    b.extend_from_slice(data);
    Ok(b)
}

/// Encodes a version-3 attribute message body, with the name's character set.
pub fn encode_v3(
    name: &str,
    cset: CharSet,
    datatype: &[u8],
    dataspace: &[u8],
    data: &[u8],
) -> Result<Vec<u8>> {
    check_name(name)?;
    let mut b = Vec::new();
    b.u8(3);
    b.u8(0); // flags: datatype and dataspace not shared
    b.u16(to_u16(name.len() + 1, "attribute name")?);
    b.u16(to_u16(datatype.len(), "attribute datatype")?);
    b.u16(to_u16(dataspace.len(), "attribute dataspace")?);
    b.u8(match cset {
        CharSet::Ascii => 0,
        CharSet::Utf8 => 1,
    });
    b.extend_from_slice(name.as_bytes());
    b.u8(0);
    b.extend_from_slice(datatype);
    b.extend_from_slice(dataspace);
    b.extend_from_slice(data);
    Ok(b)
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.as_bytes().contains(&0) {
        return Err(Error::Invalid(format!(
            "attribute name {name:?}: must be non-empty and without NUL"
        )));
    }
    Ok(())
}
