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

/// Attribute message flag (versions 2 and 3): the datatype field is a shared message stub
/// (e.g. a reference to a committed datatype, [`super::shared::encode_committed`]).
pub const FLAG_DATATYPE_SHARED: u8 = 0x01;

/// Encodes a version-2 attribute message body: the fields of version 1 without padding, and
/// `flags` ([`FLAG_DATATYPE_SHARED`]). libhdf5 writes this version (in version-1 headers)
/// when the attribute's datatype is a committed datatype.
pub fn encode_v2(
    name: &str,
    flags: u8,
    datatype: &[u8],
    dataspace: &[u8],
    data: &[u8],
) -> Result<Vec<u8>> {
    check_name(name)?;
    let mut b = Vec::new();
    b.u8(2);
    b.u8(flags);
    b.u16(to_u16(name.len() + 1, "attribute name")?);
    b.u16(to_u16(datatype.len(), "attribute datatype")?);
    b.u16(to_u16(dataspace.len(), "attribute dataspace")?);
    b.extend_from_slice(name.as_bytes());
    b.u8(0);
    b.extend_from_slice(datatype);
    b.extend_from_slice(dataspace);
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
    encode_v3_flags(name, cset, 0, datatype, dataspace, data)
}

/// Encodes a version-3 attribute message body with `flags` ([`FLAG_DATATYPE_SHARED`]).
pub fn encode_v3_flags(
    name: &str,
    cset: CharSet,
    flags: u8,
    datatype: &[u8],
    dataspace: &[u8],
    data: &[u8],
) -> Result<Vec<u8>> {
    check_name(name)?;
    let mut b = Vec::new();
    b.u8(3);
    b.u8(flags);
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

/// The fields of an Attribute Info message 0x15 (spec §IV.A.2.v).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeInfo {
    /// Creation order tracked (flags bit 0): the maximum creation index is stored.
    pub track_order: bool,
    /// Creation order indexed (flags bit 1): the creation-order B-tree address is stored.
    pub index_order: bool,
    /// The next creation index (the number of attributes created).
    pub max_creation_index: u16,
    /// Fractal heap of dense attribute storage, or [`super::UNDEF`] (compact storage).
    pub heap: u64,
    /// Name-index v2 B-tree (type 8), or [`super::UNDEF`].
    pub name_index: u64,
    /// Creation-order v2 B-tree (type 9), or [`super::UNDEF`]; written when `index_order`.
    pub order_index: u64,
}

/// Encodes the body of an Attribute Info message (version 0).
pub fn encode_info(info: &AttributeInfo) -> Vec<u8> {
    let mut b = Vec::new();
    b.u8(0);
    b.u8(u8::from(info.track_order) | (u8::from(info.index_order) << 1));
    if info.track_order {
        b.u16(info.max_creation_index);
    }
    b.u64(info.heap);
    b.u64(info.name_index);
    if info.index_order {
        b.u64(info.order_index);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Sizes;
    use crate::messages::attribute::AttributeMessage;
    use crate::Ctx;

    #[test]
    fn version_2_with_a_committed_datatype() {
        // what libhdf5 writes for h5py's attrs.create('ta', 5, dtype=f['T']) (type at 0x320)
        let stub = super::super::shared::encode_committed(0x320);
        let space = [1u8, 0, 0, 0, 0, 0, 0, 0];
        let body = encode_v2(
            "ta",
            FLAG_DATATYPE_SHARED,
            &stub,
            &space,
            &5i32.to_le_bytes(),
        )
        .unwrap();
        let want: Vec<u8> = [
            &[2u8, 1, 3, 0, 10, 0, 8, 0][..],
            b"ta\0",
            &[2, 2, 0x20, 3, 0, 0, 0, 0, 0, 0],
            &space,
            &[5, 0, 0, 0],
        ]
        .concat();
        assert_eq!(body, want);
        let f: Vec<u8> = Vec::new();
        let ctx = Ctx::new(&f, Sizes::default());
        let m = AttributeMessage::decode(&mut ctx.cursor(&body, 0, "attribute")).unwrap();
        assert_eq!((m.version, m.name.as_slice()), (2, &b"ta"[..]));
        assert!(m.datatype_shared && !m.dataspace_shared);
        assert_eq!((m.datatype, m.dataspace), (stub.clone(), space.to_vec()));
        assert_eq!(m.data, 5i32.to_le_bytes());

        let body = encode_v3_flags(
            "ta",
            CharSet::Utf8,
            FLAG_DATATYPE_SHARED,
            &stub,
            &space,
            &[],
        )
        .unwrap();
        let m = AttributeMessage::decode(&mut ctx.cursor(&body, 0, "attribute")).unwrap();
        assert!(m.version == 3 && m.datatype_shared && m.cset == 1 && m.datatype == stub);
    }
}
