//! The mapping list of a virtual dataset: "Global Heap Block for Virtual Dataset" (spec §III.F),
//! stored as one global heap object named by a class-3 Data Layout message.
//!
//! The block is: version (1 byte, 0 or 1), number of mappings ("Size of Lengths" bytes), then per
//! mapping
//!
//! * version 1 only: a flags byte — bit 0 the source file name is *shared* (instead of a string,
//!   a "Size of Lengths" index of an earlier mapping whose file name it repeats), bit 1 the same
//!   for the source dataset name, bit 2 the source file is the virtual dataset's own file (no
//!   file name field at all); bits 3–7 reserved;
//! * the source file name and the source dataset name (NUL-terminated, unless shared/omitted);
//! * the source selection and the virtual selection, each a serialized dataspace selection
//!   (Appendix D, decoded by [`Selection::parse`]);
//!
//! and finally a Jenkins lookup3 checksum of everything before it.
//!
//! A file name of `"."` means the virtual dataset's own file (libhdf5 writes that in version 0
//! blocks). Names may hold printf-like `%b` patterns (one source per block of an unlimited
//! virtual selection); they are kept as stored here and expanded by the reader.

use crate::cursor::Cursor;
use crate::value::Selection;
use crate::{Error, Result};

const STRUCTURE: &str = "virtual dataset mapping block";

/// Flags bit 0 (version 1): the source file name is an index of an earlier mapping.
pub const FLAG_SHARED_FILE: u8 = 0x01;
/// Flags bit 1 (version 1): the source dataset name is an index of an earlier mapping.
pub const FLAG_SHARED_DATASET: u8 = 0x02;
/// Flags bit 2 (version 1): the source is in the virtual dataset's own file.
pub const FLAG_SAME_FILE: u8 = 0x04;

/// One source → virtual mapping of a virtual dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct VdsMapping {
    /// Source file name as stored (`"."` = the virtual dataset's own file; may hold `%b`).
    pub file: String,
    /// Source dataset path as stored (may hold `%b`).
    pub dataset: String,
    /// Selection in the source dataset.
    pub source: Selection,
    /// Selection in the virtual dataset.
    pub virtual_sel: Selection,
}

impl VdsMapping {
    /// True when the source is the virtual dataset's own file.
    pub fn same_file(&self) -> bool {
        self.file == "."
    }
}

/// Decodes a whole mapping block (the global heap object's bytes, checksum included).
///
/// `addr` is used in error messages only. Counts are checked against the bytes present before
/// anything is allocated; the checksum is verified first.
pub fn decode_mappings(
    data: &[u8],
    addr: u64,
    sizes: crate::Sizes,
    max_mappings: u64,
) -> Result<Vec<VdsMapping>> {
    crate::checksum::verify(data, STRUCTURE, addr)?;
    let body = data.get(..data.len() - 4).unwrap_or(&[]);
    let mut c = Cursor::new(body, addr, STRUCTURE, sizes);
    let version = c.u8()?;
    if version > 1 {
        return Err(Error::UnsupportedVersion {
            structure: STRUCTURE,
            version: version as u32,
        });
    }
    let n = c.length()?;
    // Every mapping needs at least two selections of 16 bytes (type, version, 8 more bytes).
    let min_per_mapping = 32u64;
    if n > max_mappings {
        return Err(Error::Limit {
            what: "virtual dataset mappings",
            requested: n,
            limit: max_mappings,
        });
    }
    if n.saturating_mul(min_per_mapping) > c.remaining() as u64 {
        return Err(c.corrupt(format!(
            "{n} mappings cannot fit in {} bytes",
            c.remaining()
        )));
    }
    let mut out: Vec<VdsMapping> = Vec::with_capacity(n as usize);
    for i in 0..n {
        let flags = if version >= 1 { c.u8()? } else { 0 };
        if flags & !(FLAG_SHARED_FILE | FLAG_SHARED_DATASET | FLAG_SAME_FILE) != 0 {
            return Err(c.corrupt(format!("mapping {i}: unknown flags {flags:#04x}")));
        }
        let shared = |c: &mut Cursor<'_>, out: &[VdsMapping], what: &str| -> Result<usize> {
            let k = c.length()?;
            if k >= i {
                return Err(c.corrupt(format!(
                    "mapping {i}: shared {what} refers to mapping {k}, not an earlier one"
                )));
            }
            usize::try_from(k)
                .ok()
                .filter(|&k| k < out.len())
                .ok_or_else(|| c.corrupt(format!("mapping {i}: shared {what} index {k}")))
        };
        let file = if flags & FLAG_SAME_FILE != 0 {
            ".".to_string()
        } else if flags & FLAG_SHARED_FILE != 0 {
            let k = shared(&mut c, &out, "file name")?;
            out.get(k).map(|m| m.file.clone()).unwrap_or_default()
        } else {
            String::from_utf8_lossy(c.cstr()?).into_owned()
        };
        let dataset = if flags & FLAG_SHARED_DATASET != 0 {
            let k = shared(&mut c, &out, "dataset name")?;
            out.get(k).map(|m| m.dataset.clone()).unwrap_or_default()
        } else {
            String::from_utf8_lossy(c.cstr()?).into_owned()
        };
        let source = Selection::parse(&mut c)?;
        let virtual_sel = Selection::parse(&mut c)?;
        out.push(VdsMapping {
            file,
            dataset,
            source,
            virtual_sel,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::lookup3;
    use crate::UNDEF;

    fn sizes() -> crate::Sizes {
        crate::Sizes::default()
    }

    /// "All" selection, version 1.
    fn sel_all() -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&3u32.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&[0u8; 8]);
        v
    }

    /// Regular hyperslab, version 2 (8-byte values), one dimension.
    fn sel_regular(start: u64, stride: u64, count: u64, block: u64) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&2u32.to_le_bytes());
        v.extend_from_slice(&2u32.to_le_bytes());
        v.push(1); // regular
        v.extend_from_slice(&36u32.to_le_bytes()); // length
        v.extend_from_slice(&1u32.to_le_bytes()); // rank
        for x in [start, stride, count, block] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    }

    fn finish(mut body: Vec<u8>) -> Vec<u8> {
        let sum = lookup3(&body, 0);
        body.extend_from_slice(&sum.to_le_bytes());
        body
    }

    #[test]
    fn version0_two_mappings() {
        let mut b = vec![0u8];
        b.extend_from_slice(&2u64.to_le_bytes());
        b.extend_from_slice(b"a.h5\0/data\0");
        b.extend(sel_all());
        b.extend(sel_regular(0, 1, 1, 10));
        b.extend_from_slice(b".\0x\0");
        b.extend(sel_regular(0, 1, 1, u64::MAX));
        b.extend(sel_regular(10, 4, u64::MAX, 1));
        let m = decode_mappings(&finish(b), 0, sizes(), 1000).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].file, "a.h5");
        assert_eq!(m[0].dataset, "/data");
        assert_eq!(m[0].source, Selection::All);
        assert_eq!(m[0].virtual_sel.regular().unwrap()[3], vec![10]);
        assert!(m[1].same_file());
        assert_eq!(m[1].source.regular().unwrap()[3], vec![UNDEF]);
        assert_eq!(
            m[1].virtual_sel.regular().unwrap(),
            [vec![10], vec![4], vec![UNDEF], vec![1]]
        );
    }

    #[test]
    fn version1_shared_names_and_same_file() {
        let mut b = vec![1u8];
        b.extend_from_slice(&3u64.to_le_bytes());
        b.push(0);
        b.extend_from_slice(b"src.h5\0dset\0");
        b.extend(sel_all());
        b.extend(sel_regular(0, 1, 1, 5));
        b.push(FLAG_SHARED_FILE | FLAG_SHARED_DATASET);
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend(sel_all());
        b.extend(sel_regular(5, 1, 1, 5));
        b.push(FLAG_SAME_FILE | FLAG_SHARED_DATASET);
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend(sel_all());
        b.extend(sel_regular(10, 1, 1, 5));
        let m = decode_mappings(&finish(b), 0, sizes(), 1000).unwrap();
        assert_eq!(m[1].file, "src.h5");
        assert_eq!(m[1].dataset, "dset");
        assert_eq!(m[2].file, ".");
        assert_eq!(m[2].dataset, "dset");
    }

    #[test]
    fn hostile_blocks_are_errors() {
        // Bad checksum.
        let mut b = vec![0u8];
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(b"a\0b\0");
        b.extend(sel_all());
        b.extend(sel_all());
        let mut good = finish(b.clone());
        assert!(decode_mappings(&good, 0, sizes(), 10).is_ok());
        *good.last_mut().unwrap() ^= 1;
        assert!(matches!(
            decode_mappings(&good, 0, sizes(), 10),
            Err(Error::Checksum { .. })
        ));
        // Huge mapping count.
        let mut h = vec![0u8];
        h.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_mappings(&finish(h.clone()), 0, sizes(), u64::MAX).is_err());
        assert!(matches!(
            decode_mappings(&finish(h), 0, sizes(), 10),
            Err(Error::Limit { .. })
        ));
        // Every truncation of a valid block fails cleanly.
        for cut in 0..b.len() {
            let t = finish(b[..cut].to_vec());
            assert!(decode_mappings(&t, 0, sizes(), 10).is_err(), "cut {cut}");
        }
        // Too short for a checksum.
        assert!(decode_mappings(&[1, 2], 0, sizes(), 10).is_err());
        // Shared index pointing forward.
        let mut s = vec![1u8];
        s.extend_from_slice(&1u64.to_le_bytes());
        s.push(FLAG_SHARED_FILE);
        s.extend_from_slice(&0u64.to_le_bytes());
        s.extend_from_slice(b"d\0");
        s.extend(sel_all());
        s.extend(sel_all());
        assert!(decode_mappings(&finish(s), 0, sizes(), 10).is_err());
        // Unknown version.
        let mut v = vec![7u8];
        v.extend_from_slice(&0u64.to_le_bytes());
        assert!(matches!(
            decode_mappings(&finish(v), 0, sizes(), 10),
            Err(Error::UnsupportedVersion { .. })
        ));
    }
}
