//! Encoder tests: byte-exact against structures libhdf5 wrote (through h5py, default
//! properties), and round trips through this crate's decoders.

use super::*;
use crate::cursor::{Cursor, Sizes};
use crate::datatype::{CharSet, Datatype, StringPad};
use crate::messages::dataspace::Dataspace;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0xEE))
        .collect()
}

#[test]
fn datatypes_match_libhdf5() -> crate::Result<()> {
    assert_eq!(
        datatype::encode(&datatype::f64_le())?,
        hex("1120 3f00 0800 0000 0000 4000 340b 0034 ff03 0000")
    );
    assert_eq!(
        datatype::encode(&datatype::f32_le())?,
        hex("1120 1f00 0400 0000 0000 2000 1708 0017 7f00 0000")
    );
    assert_eq!(
        datatype::encode(&datatype::int_le(2, true))?,
        hex("1008 0000 0200 0000 0000 1000")
    );
    assert_eq!(
        datatype::encode(&datatype::int_le(4, false))?,
        hex("1000 0000 0400 0000 0000 2000")
    );
    assert_eq!(
        datatype::encode(&datatype::vlen_string(CharSet::Utf8))?,
        hex("1901 0100 1000 0000 1000 0000 0100 0000 0000 0800")
    );
    assert_eq!(
        datatype::encode(&datatype::h5py_bool())?,
        hex("1802 0000 0100 0000 1008 0000 0100 0000 0000 0800 4641 4c53
             4500 0000 5452 5545 0000 0000 0001")
    );
    let c = datatype::encode(&datatype::h5py_complex(datatype::f64_le()))?;
    assert_eq!(c.len(), 0x80);
    assert_eq!(&c[..8], &hex("1602 0000 1000 0000")[..]);
    assert_eq!(&c[8..16], b"r\0\0\0\0\0\0\0");
    assert_eq!(&c[68..72], b"i\0\0\0");
    assert_eq!(&c[76..80], &[8, 0, 0, 0]);
    Ok(())
}

#[test]
fn datatypes_round_trip() -> crate::Result<()> {
    let types = [
        datatype::f64_le(),
        datatype::f32_le(),
        datatype::int_le(1, true),
        datatype::int_le(8, false),
        datatype::vlen_string(CharSet::Ascii),
        datatype::fixed_string(7, StringPad::NullPad, CharSet::Ascii),
        datatype::fixed_string(3, StringPad::SpacePad, CharSet::Utf8),
        datatype::h5py_bool(),
        datatype::h5py_complex(datatype::f32_le()),
    ];
    for t in types {
        let bytes = datatype::encode(&t)?;
        let back = Datatype::from_bytes(&bytes, 0, Sizes::default())?;
        assert_eq!(back, t);
    }
    Ok(())
}

#[test]
fn dataspaces_round_trip() -> crate::Result<()> {
    let spaces = [
        Dataspace::Scalar,
        Dataspace::Null,
        Dataspace::Simple {
            dims: vec![2, 3],
            max: vec![Some(2), None],
        },
    ];
    for s in spaces {
        let bytes = dataspace::encode(&s)?;
        let mut c = Cursor::new(&bytes, 0, "dataspace", Sizes::default());
        assert_eq!(Dataspace::decode(&mut c)?, s);
    }
    assert_eq!(
        dataspace::encode(&Dataspace::Simple {
            dims: vec![3],
            max: vec![Some(3)]
        })?,
        hex("0101 0100 0000 0000 0300 0000 0000 0000 0300 0000 0000 0000")
    );
    Ok(())
}

#[test]
fn local_heap_matches_libhdf5() {
    let mut h = local_heap::LocalHeapBuilder::new();
    assert_eq!(h.add(b"experiment1").ok(), Some(8));
    let b = h.encode(0x2a8);
    assert_eq!(b.len(), 32 + 88);
    assert_eq!(
        &b[..72],
        &hex("4845 4150 0000 0000 5800 0000 0000 0000 1800 0000 0000 0000
              c802 0000 0000 0000 0000 0000 0000 0000 6578 7065 7269 6d65
              6e74 3100 0000 0000 0100 0000 0000 0000 4000 0000 0000 0000")[..]
    );
    assert!(b[72..].iter().all(|&x| x == 0));
    assert!(h.add(b"a\0b").is_err());
}

#[test]
fn object_header_v1_layout() -> crate::Result<()> {
    let m = object_header::Message::new(
        object_header::msg_type::SYMBOL_TABLE,
        0,
        symbol_table::encode_message(0x88, 0x2a8),
    );
    let b = object_header::encode_v1(std::slice::from_ref(&m), 1, 0)?;
    assert_eq!(
        b,
        hex("0100 0100 0100 0000 1800 0000 0000 0000 1100 1000 0000 0000
             8800 0000 0000 0000 a802 0000 0000 0000")
    );
    let b = object_header::encode_v1(&[m], 1, 64)?;
    assert_eq!(b.len(), 16 + 64);
    assert_eq!(&b[2..4], &[2, 0]);
    Ok(())
}

#[test]
fn global_heap_matches_libhdf5() -> crate::Result<()> {
    let mut c = global_heap::CollectionBuilder::new();
    assert_eq!(c.add(b"2018-01-01")?, 1);
    let b = c.encode(c.size())?;
    assert_eq!(b.len(), 4096);
    assert_eq!(
        &b[..64],
        &hex("4743 4f4c 0100 0000 0010 0000 0000 0000 0100 0000 0000 0000
              0a00 0000 0000 0000 3230 3138 2d30 312d 3031 0000 0000 0000
              0000 0000 0000 0000 d00f 0000 0000 0000")[..]
    );
    Ok(())
}

#[test]
fn btree_and_snod_sizes() -> crate::Result<()> {
    assert_eq!(btree_v1::GROUP_NODE_SIZE, 544);
    assert_eq!(symbol_table::SNOD_SIZE, 328);
    let n = btree_v1::GroupNode {
        level: 0,
        left: UNDEF,
        right: UNDEF,
        keys: vec![0, 8],
        children: vec![0x5e0],
    };
    let b = n.encode()?;
    assert_eq!(b.len(), 544);
    assert_eq!(
        &b[..48],
        &hex("5452 4545 0000 0100 ffff ffff ffff ffff ffff ffff ffff ffff
              0000 0000 0000 0000 e005 0000 0000 0000 0800 0000 0000 0000")[..]
    );
    let too_many = vec![symbol_table::SymbolTableEntry::default(); 9];
    assert!(symbol_table::encode_snod(&too_many).is_err());
    Ok(())
}

#[test]
fn chunked_layout_and_pipeline_match_libhdf5() -> crate::Result<()> {
    use filter_pipeline::FilterSpec;
    let p = filter_pipeline::encode_v1(&[
        FilterSpec {
            id: 2,
            name: "shuffle".into(),
            optional: true,
            cd_values: vec![4],
        },
        FilterSpec {
            id: 1,
            name: "deflate".into(),
            optional: true,
            cd_values: vec![4],
        },
    ])?;
    assert_eq!(
        p,
        hex("0102 0000 0000 0000 0200 0800 0100 0100 7368 7566 666c 6500
             0400 0000 0000 0000 0100 0800 0100 0100 6465 666c 6174 6500
             0400 0000 0000 0000")
    );
    assert_eq!(
        layout::encode_chunked(0x578, &[4], 4)?,
        hex("0302 0278 0500 0000 0000 0004 0000 0004 0000 00")
    );
    assert_eq!(btree_v1::chunk_node_size(1), 2096);
    Ok(())
}
