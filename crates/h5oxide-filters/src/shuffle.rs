//! Shuffle filter, HDF5 filter id **2** (`H5Z_FILTER_SHUFFLE`).
//!
//! Byte-transposes the chunk: with element size `s` and `n = len / s` whole elements, the
//! encoded buffer holds byte 0 of every element, then byte 1 of every element, and so on.
//! The trailing `len % s` bytes (a partial element) are stored unchanged at the end.
//!
//! `cd_values`: `[0]` = element size in bytes (libhdf5 fills it in from the datatype at
//! dataset creation). An element size of 0 or 1, or a chunk smaller than one element, leaves the
//! data unchanged, as libhdf5 does.
//!
//! Spec: HDF5 User Guide, "Using the Shuffle Filter" / `H5Pset_shuffle`.
//! Known incompatibilities: none.

use crate::{cd, Filter, Result};

/// The shuffle filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shuffle;

const NAME: &str = "filter shuffle";

/// Byte-shuffles `input` with element size `elem`.
pub fn shuffle(input: &[u8], elem: usize) -> Vec<u8> {
    if elem <= 1 || input.len() < elem {
        return input.to_vec();
    }
    let n = input.len() / elem;
    let mut out = vec![0u8; input.len()];
    let (body, tail) = out.split_at_mut(n * elem);
    for (b, plane) in body.chunks_exact_mut(n).enumerate() {
        for (dst, src) in plane.iter_mut().zip(input.iter().skip(b).step_by(elem)) {
            *dst = *src;
        }
    }
    tail.copy_from_slice(input.get(n * elem..).unwrap_or_default());
    out
}

/// Gathers byte `b` of each element from plane `b` (fixed element size `E`).
///
/// Works in blocks of [`UNSHUFFLE_BLOCK`] elements through fixed-size arrays, which the compiler
/// turns into vector shuffles without per-byte bounds checks; the remainder goes byte by byte.
fn unshuffle_fixed<const E: usize>(input: &[u8], body: &mut [u8], n: usize) {
    const BLK: usize = UNSHUFFLE_BLOCK;
    let planes: [&[u8]; E] =
        std::array::from_fn(|b| input.get(b * n..(b + 1) * n).unwrap_or_default());
    let mut done = 0usize;
    let mut blocks = body.chunks_exact_mut(E * BLK);
    for dst in &mut blocks {
        let mut t = [[0u8; BLK]; E];
        for (row, plane) in t.iter_mut().zip(&planes) {
            if let Some(src) = plane.get(done..done + BLK) {
                row.copy_from_slice(src);
            }
        }
        for (j, d) in dst.chunks_exact_mut(E).enumerate() {
            for (b, row) in t.iter().enumerate() {
                d[b] = row[j];
            }
        }
        done += BLK;
    }
    let rest = blocks.into_remainder();
    for (k, dst) in rest.chunks_exact_mut(E).enumerate() {
        for (d, plane) in dst.iter_mut().zip(&planes) {
            *d = plane.get(done + k).copied().unwrap_or(0);
        }
    }
}

/// Elements per block of [`unshuffle_fixed`].
const UNSHUFFLE_BLOCK: usize = 32;

/// Undoes [`shuffle`].
pub fn unshuffle(input: &[u8], elem: usize) -> Vec<u8> {
    if elem <= 1 || input.len() < elem {
        return input.to_vec();
    }
    let n = input.len() / elem;
    let mut out = vec![0u8; input.len()];
    let (body, tail) = out.split_at_mut(n * elem);
    let fixed = match elem {
        2 => Some(unshuffle_fixed::<2> as fn(&[u8], &mut [u8], usize)),
        4 => Some(unshuffle_fixed::<4> as fn(&[u8], &mut [u8], usize)),
        8 => Some(unshuffle_fixed::<8> as fn(&[u8], &mut [u8], usize)),
        16 => Some(unshuffle_fixed::<16> as fn(&[u8], &mut [u8], usize)),
        _ => None,
    };
    if let Some(f) = fixed {
        f(input, body, n);
        tail.copy_from_slice(input.get(n * elem..).unwrap_or_default());
        return out;
    }
    for (b, plane) in input.chunks_exact(n).take(elem).enumerate() {
        for (dst, src) in body.iter_mut().skip(b).step_by(elem).zip(plane) {
            *dst = *src;
        }
    }
    tail.copy_from_slice(input.get(n * elem..).unwrap_or_default());
    out
}

fn elem_size(cd_values: &[u32]) -> Result<usize> {
    Ok(usize::try_from(cd(cd_values, 0, NAME)?).unwrap_or(usize::MAX))
}

impl Filter for Shuffle {
    fn id(&self) -> u16 {
        2
    }
    fn name(&self) -> &str {
        "shuffle"
    }
    fn decode(&self, input: &[u8], cd_values: &[u32], _size_hint: usize) -> Result<Vec<u8>> {
        Ok(unshuffle(input, elem_size(cd_values)?))
    }
    fn encode(&self, input: &[u8], cd_values: &[u32]) -> Result<Vec<u8>> {
        Ok(shuffle(input, elem_size(cd_values)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_layout() {
        let data = [1, 2, 3, 4, 5, 6, 7, 8, 9u8];
        assert_eq!(shuffle(&data, 4), vec![1, 5, 2, 6, 3, 7, 4, 8, 9]);
        assert_eq!(unshuffle(&[1, 5, 2, 6, 3, 7, 4, 8, 9], 4), data.to_vec());
    }

    #[test]
    fn round_trip() {
        let data: Vec<u8> = (0..1001u32).map(|i| (i * 31 % 251) as u8).collect();
        for elem in [0u32, 1, 2, 3, 4, 8, 16, 1000, 1001, 5000, u32::MAX] {
            let s = Shuffle.encode(&data, &[elem]).unwrap();
            assert_eq!(s.len(), data.len());
            assert_eq!(Shuffle.decode(&s, &[elem], data.len()).unwrap(), data);
        }
    }

    #[test]
    fn unshuffle_blocks_and_remainder() {
        // sizes around the block length, for every specialised element size
        for elem in [2usize, 4, 8, 16] {
            for n in [0usize, 1, 31, 32, 33, 64, 100, 1000] {
                let data: Vec<u8> = (0..n * elem + 3).map(|i| (i * 7 % 253) as u8).collect();
                assert_eq!(
                    unshuffle(&shuffle(&data, elem), elem),
                    data,
                    "elem {elem} n {n}"
                );
            }
        }
    }

    #[test]
    fn missing_cd_values() {
        assert!(Shuffle.decode(&[1, 2], &[], 2).is_err());
    }
}
