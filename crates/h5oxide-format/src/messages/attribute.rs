//! Attribute message 0x0C (spec §IV.A.2.m), versions 1–3.
//!
//! Version 1 pads the name, datatype and dataspace to multiples of 8 (the stored sizes exclude the
//! padding); versions 2 and 3 do not pad, and version 3 adds the name's character set. The datatype
//! and dataspace may be shared-message stubs (flags bits 0 and 1); they are kept raw here and
//! decoded by the caller, who can resolve stubs.

use crate::cursor::Cursor;
use crate::{Error, Result};

/// A decoded attribute message with its datatype and dataspace still encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeMessage {
    /// Message version (1–3).
    pub version: u8,
    /// Attribute name (without the NUL).
    pub name: Vec<u8>,
    /// Name character set (0 ASCII, 1 UTF-8).
    pub cset: u8,
    /// True if `datatype` is a shared-message stub.
    pub datatype_shared: bool,
    /// True if `dataspace` is a shared-message stub.
    pub dataspace_shared: bool,
    /// Datatype message body.
    pub datatype: Vec<u8>,
    /// File address of the datatype body (for errors).
    pub datatype_addr: u64,
    /// Dataspace message body.
    pub dataspace: Vec<u8>,
    /// File address of the dataspace body.
    pub dataspace_addr: u64,
    /// The raw data (element bytes; variable-length elements are heap references).
    pub data: Vec<u8>,
}

fn pad8(n: usize) -> usize {
    n.div_ceil(8).saturating_mul(8)
}

impl AttributeMessage {
    /// Decodes the message body.
    pub fn decode(c: &mut Cursor<'_>) -> Result<Self> {
        let version = c.u8()?;
        if !(1..=3).contains(&version) {
            return Err(Error::UnsupportedVersion {
                structure: "attribute message",
                version: version as u32,
            });
        }
        let flags = c.u8()?;
        let name_size = c.u16()? as usize;
        let dt_size = c.u16()? as usize;
        let ds_size = c.u16()? as usize;
        let cset = if version == 3 { c.u8()? } else { 0 };
        let pad = |n: usize| if version == 1 { pad8(n) } else { n };
        let name_field = c.bytes(pad(name_size))?;
        let name_raw = name_field.get(..name_size).unwrap_or(name_field);
        let name = match name_raw.iter().position(|&b| b == 0) {
            Some(p) => name_raw.get(..p).unwrap_or(&[]).to_vec(),
            None => name_raw.to_vec(),
        };
        let datatype_addr = c.addr();
        let dt_field = c.bytes(pad(dt_size))?;
        let datatype = dt_field.get(..dt_size).unwrap_or(dt_field).to_vec();
        let dataspace_addr = c.addr();
        let ds_field = c.bytes(pad(ds_size))?;
        let dataspace = ds_field.get(..ds_size).unwrap_or(ds_field).to_vec();
        let data = c.rest().to_vec();
        Ok(AttributeMessage {
            version,
            name,
            cset,
            datatype_shared: version >= 2 && flags & 1 != 0,
            dataspace_shared: version >= 2 && flags & 2 != 0,
            datatype,
            datatype_addr,
            dataspace,
            dataspace_addr,
            data,
        })
    }
}
