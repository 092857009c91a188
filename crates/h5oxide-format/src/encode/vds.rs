//! The mapping block of a virtual dataset (spec §III.F, "Global Heap Block for Virtual
//! Dataset"): the inverse of [`crate::vds::decode_mappings`].
//!
//! Written as version 0, what libhdf5 1.10–1.14 write and every libhdf5 since 1.10 reads:
//! version (1 byte), number of mappings (8 bytes), then per mapping the source file name and
//! source dataset name (NUL-terminated; `"."` names the virtual dataset's own file), the source
//! selection and the virtual selection ([`super::selection`]), and a Jenkins lookup3 checksum
//! of everything before it. The block is stored as one global heap object named by a version-4
//! Data Layout message of class 3 ([`super::layout::encode_virtual`]).

use super::{selection, Put};
use crate::checksum::lookup3;
use crate::vds::VdsMapping;
use crate::{Error, Result};

/// Encodes the mapping block of `mappings`, checksum included.
pub fn encode_mappings(mappings: &[VdsMapping]) -> Result<Vec<u8>> {
    let mut b = Vec::new();
    b.u8(0); // version
    b.u64(mappings.len() as u64);
    for (i, m) in mappings.iter().enumerate() {
        for (what, name) in [
            ("source file name", &m.file),
            ("source dataset name", &m.dataset),
        ] {
            if name.is_empty() || name.as_bytes().contains(&0) {
                return Err(Error::Invalid(format!(
                    "virtual dataset mapping {i}: {what} {name:?} is empty or holds a NUL"
                )));
            }
            b.extend_from_slice(name.as_bytes());
            b.u8(0);
        }
        b.extend_from_slice(&selection::encode(&m.source)?);
        b.extend_from_slice(&selection::encode(&m.virtual_sel)?);
    }
    let sum = lookup3(&b, 0);
    b.u32(sum);
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Selection;
    use crate::Sizes;

    #[test]
    fn mapping_blocks_round_trip() {
        let maps = vec![
            VdsMapping {
                file: "src.h5".into(),
                dataset: "/data".into(),
                source: Selection::All,
                virtual_sel: Selection::Regular {
                    start: vec![0, 0],
                    stride: vec![1, 1],
                    count: vec![1, 1],
                    block: vec![3, 4],
                },
            },
            VdsMapping {
                file: ".".into(),
                dataset: "x".into(),
                source: Selection::Points {
                    rank: 1,
                    points: vec![vec![2], vec![0]],
                },
                virtual_sel: Selection::Blocks {
                    rank: 2,
                    blocks: vec![(vec![3, 0], vec![3, 1])],
                },
            },
        ];
        let b = encode_mappings(&maps).unwrap();
        let back = crate::vds::decode_mappings(&b, 0, Sizes::default(), 100).unwrap();
        assert_eq!(back, maps);
        assert!(back[1].same_file());
    }

    #[test]
    fn names_must_be_c_strings() {
        let m = VdsMapping {
            file: "a\0b".into(),
            dataset: "x".into(),
            source: Selection::All,
            virtual_sel: Selection::All,
        };
        assert!(encode_mappings(&[m]).is_err());
    }
}
