//! Serialized dataspace selections (spec Appendix D, "Dataspace Selections"): the inverse of
//! [`Selection::parse`]. Virtual dataset mappings store two of them per mapping (§III.F).
//!
//! Versions are chosen as libhdf5 1.10 reads them:
//!
//! * none and all: version 1 (type, version, 4 reserved bytes, a length of 0);
//! * points: version 1 (32-bit coordinates) when every coordinate fits, else version 2 with an
//!   encode size of 8 (libhdf5 1.12 and later read it);
//! * a regular hyperslab: version 2 (regular flag set, 64-bit start, stride, count and block,
//!   "unlimited" as all ones; libhdf5 1.10 and later). Each dimension is normalised the way
//!   libhdf5 stores it: a contiguous pattern becomes one block, a single block has stride 1;
//! * an irregular hyperslab (a block list): version 1 (32-bit corners) when every corner fits,
//!   else version 3 with an encode size of 8.

use super::{to_u32, Put};
use crate::value::{normalize_dim, Selection};
use crate::{Error, Result, UNDEF};

/// Selection type values (Appendix D).
const SEL_NONE: u32 = 0;
const SEL_POINTS: u32 = 1;
const SEL_HYPERSLABS: u32 = 2;
const SEL_ALL: u32 = 3;

/// Encodes `sel` as a serialized selection.
pub fn encode(sel: &Selection) -> Result<Vec<u8>> {
    let mut b = Vec::new();
    match sel {
        Selection::None | Selection::All => {
            b.u32(if matches!(sel, Selection::None) {
                SEL_NONE
            } else {
                SEL_ALL
            });
            b.u32(1);
            b.u32(0); // reserved
            b.u32(0); // length of what follows
        }
        Selection::Points { rank, points } => {
            check_rank(*rank)?;
            if points.iter().any(|p| p.len() != *rank as usize) {
                return Err(Error::Invalid(
                    "point selection: a point of another rank".into(),
                ));
            }
            let narrow = points.iter().flatten().all(|&x| x <= u64::from(u32::MAX));
            let n = points.len();
            b.u32(SEL_POINTS);
            if narrow {
                b.u32(1);
                b.u32(0); // reserved
                let len = n
                    .checked_mul(*rank as usize * 4)
                    .and_then(|x| x.checked_add(8))
                    .ok_or_else(|| Error::Invalid("point selection too large".into()))?;
                b.u32(to_u32(len, "point selection")?);
                b.u32(*rank);
                b.u32(to_u32(n, "point selection")?);
                for &x in points.iter().flatten() {
                    b.u32(x as u32);
                }
            } else {
                b.u32(2);
                b.u8(8); // encode size
                b.u32(*rank);
                b.u64(n as u64);
                for &x in points.iter().flatten() {
                    b.u64(x);
                }
            }
        }
        Selection::Regular {
            start,
            stride,
            count,
            block,
        } => {
            let rank = start.len();
            if rank == 0 || [stride.len(), count.len(), block.len()] != [rank; 3] {
                return Err(Error::Invalid(
                    "regular hyperslab: start, stride, count and block need one value per \
                     dimension"
                        .into(),
                ));
            }
            check_rank(rank as u32)?;
            b.u32(SEL_HYPERSLABS);
            b.u32(2);
            b.u8(1); // flags: regular
            b.u32(to_u32(4 + rank * 32, "hyperslab selection")?);
            b.u32(rank as u32);
            for d in 0..rank {
                let (s, st, c, bl) = (start[d], stride[d], count[d], block[d]);
                let end = (c != UNDEF && bl != UNDEF).then(|| {
                    (c - 1)
                        .checked_mul(st)
                        .and_then(|x| x.checked_add(s))
                        .and_then(|x| x.checked_add(bl))
                });
                if st == 0
                    || c == 0
                    || bl == 0
                    || (c != UNDEF && c > 1 && bl != UNDEF && st < bl)
                    || end == Some(None)
                {
                    return Err(Error::Invalid(format!(
                        "regular hyperslab dimension {d}: start {s}, stride {st}, count {c}, \
                         block {bl} (blocks must not be empty, overlap or end past 2^64)"
                    )));
                }
                // as libhdf5 stores it: a contiguous pattern as one block, a single block with
                // stride 1 (the reader's normalisation)
                for v in normalize_dim(s, st, c, bl) {
                    b.u64(v);
                }
            }
        }
        Selection::Blocks { rank, blocks } => {
            check_rank(*rank)?;
            let r = *rank as usize;
            if blocks
                .iter()
                .any(|(s, e)| s.len() != r || e.len() != r || s.iter().zip(e).any(|(a, z)| a > z))
            {
                return Err(Error::Invalid(
                    "hyperslab block list: a block of another rank or ending before it starts"
                        .into(),
                ));
            }
            let narrow = blocks
                .iter()
                .flat_map(|(s, e)| s.iter().chain(e))
                .all(|&x| x <= u64::from(u32::MAX));
            let n = blocks.len();
            b.u32(SEL_HYPERSLABS);
            if narrow {
                b.u32(1);
                b.u32(0); // reserved
                let len = n
                    .checked_mul(r * 8)
                    .and_then(|x| x.checked_add(8))
                    .ok_or_else(|| Error::Invalid("hyperslab selection too large".into()))?;
                b.u32(to_u32(len, "hyperslab selection")?);
                b.u32(*rank);
                b.u32(to_u32(n, "hyperslab selection")?);
                for (s, e) in blocks {
                    for &x in s.iter().chain(e) {
                        b.u32(x as u32);
                    }
                }
            } else {
                b.u32(3);
                b.u8(0); // flags: irregular
                b.u8(8); // encode size
                b.u32(*rank);
                b.u64(n as u64);
                for (s, e) in blocks {
                    for &x in s.iter().chain(e) {
                        b.u64(x);
                    }
                }
            }
        }
    }
    Ok(b)
}

fn check_rank(rank: u32) -> Result<()> {
    if rank > 32 {
        return Err(Error::Invalid(format!("selection of rank {rank}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::{Cursor, Sizes};

    fn round_trip(sel: &Selection) -> Selection {
        let b = encode(sel).unwrap();
        let mut c = Cursor::new(&b, 0, "selection", Sizes::default());
        let back = Selection::parse(&mut c).unwrap();
        assert_eq!(c.remaining(), 0, "{sel:?}: trailing bytes");
        back
    }

    #[test]
    fn none_all_points_blocks_round_trip() {
        for sel in [
            Selection::None,
            Selection::All,
            Selection::Points {
                rank: 2,
                points: vec![vec![0, 1], vec![5, 3]],
            },
            Selection::Points {
                rank: 1,
                points: vec![vec![1 << 40]],
            },
            Selection::Blocks {
                rank: 2,
                blocks: vec![(vec![0, 0], vec![1, 3]), (vec![4, 0], vec![4, 0])],
            },
            Selection::Blocks {
                rank: 1,
                blocks: vec![(vec![0], vec![1 << 33])],
            },
        ] {
            assert_eq!(round_trip(&sel), sel);
        }
    }

    #[test]
    fn regular_hyperslabs_are_normalised_like_libhdf5() {
        let sel = Selection::Regular {
            start: vec![0, 2, 1],
            stride: vec![1, 4, 3],
            count: vec![3, 2, UNDEF],
            block: vec![1, 2, 1],
        };
        let back = round_trip(&sel);
        assert_eq!(
            back,
            Selection::Regular {
                start: vec![0, 2, 1],
                stride: vec![1, 4, 3],
                count: vec![1, 2, UNDEF],
                block: vec![3, 2, 1],
            }
        );
        // version 2, regular flag, 4 + 3 * 32 bytes of info
        let b = encode(&sel).unwrap();
        assert_eq!(&b[..13], &[2, 0, 0, 0, 2, 0, 0, 0, 1, 100, 0, 0, 0]);
    }

    #[test]
    fn overlapping_or_empty_hyperslabs_are_refused() {
        for (st, c, bl) in [(1, 3, 2), (0, 1, 1), (1, 0, 1), (1, 1, 0)] {
            let sel = Selection::Regular {
                start: vec![0],
                stride: vec![st],
                count: vec![c],
                block: vec![bl],
            };
            assert!(encode(&sel).is_err(), "{st} {c} {bl}");
        }
    }
}
