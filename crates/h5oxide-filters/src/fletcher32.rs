//! Fletcher32 checksum filter, HDF5 filter id **3** (`H5Z_FILTER_FLETCHER32`).
//!
//! The encoded chunk is the data followed by a 4-byte Fletcher-32 checksum of the data.
//! The checksum treats the data as big-endian 16-bit words (an odd trailing byte counts as the
//! high byte of a final word), keeps two running sums folded modulo 65535 with end-around
//! carry (so a non-zero sum that is a multiple of 65535 reads as `0xffff`, not 0), and is
//! `sum2 << 16 | sum1`. libhdf5 stores it little-endian.
//!
//! `cd_values`: none.
//!
//! On read this accepts, like libhdf5, the checksum with the bytes of each 16-bit half swapped
//! (libhdf5 before 1.6.3 computed that on little-endian machines). It also accepts the checksum
//! stored big-endian, as some writers do. A mismatch is [`Error::Checksum`].
//!
//! Spec: HDF5 User Guide, "Fletcher32 checksum" (`H5Pset_fletcher32`);
//! J. Fletcher, "An Arithmetic Checksum for Serial Transmissions", IEEE Trans. Comm. 1982.

use crate::{corrupt, Error, Filter, Result};

/// The fletcher32 filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fletcher32;

/// Folds a sum modulo 65535 with end-around carry, keeping non-zero values non-zero.
fn fold(x: u64) -> u64 {
    if x == 0 {
        0
    } else {
        (x - 1) % 65535 + 1
    }
}

/// The HDF5 Fletcher-32 checksum of `data`.
pub fn checksum(data: &[u8]) -> u32 {
    let (mut s1, mut s2) = (0u64, 0u64);
    // Blocks of 2^16 words keep the partial sums far below u64::MAX; every block but the last
    // has an even length, so only the last can end in an odd byte.
    for block in data.chunks(1 << 17) {
        let mut words = block.chunks_exact(2);
        for w in &mut words {
            if let [a, b] = w {
                s1 += u64::from(*a) << 8 | u64::from(*b);
                s2 += s1;
            }
        }
        if let [last] = words.remainder() {
            s1 += u64::from(*last) << 8;
            s2 += s1;
        }
        s1 = fold(s1);
        s2 = fold(s2);
    }
    let (s1, s2) = (fold(s1), fold(s2));
    ((s2 as u32) << 16) | s1 as u32
}

/// The checksum libhdf5 before 1.6.3 produced on little-endian machines.
fn pre_163(sum: u32) -> u32 {
    let b = sum.to_le_bytes();
    u32::from_le_bytes([b[1], b[0], b[3], b[2]])
}

impl Filter for Fletcher32 {
    fn id(&self) -> u16 {
        3
    }
    fn name(&self) -> &str {
        "fletcher32"
    }
    fn decode(&self, input: &[u8], _cd_values: &[u32], _size_hint: usize) -> Result<Vec<u8>> {
        let split = input.len().checked_sub(4).ok_or_else(|| {
            corrupt(
                "filter fletcher32",
                "chunk shorter than its 4-byte checksum",
            )
        })?;
        let (data, tail) = input.split_at(split);
        let tail: [u8; 4] = tail
            .try_into()
            .map_err(|_| corrupt("filter fletcher32", "bad tail"))?;
        let stored = u32::from_le_bytes(tail);
        let computed = checksum(data);
        let ok = [computed, pre_163(computed)]
            .iter()
            .any(|&c| c == stored || c == u32::from_be_bytes(tail));
        if !ok {
            return Err(Error::Checksum {
                structure: "filter fletcher32",
                addr: 0,
                stored,
                computed,
            });
        }
        Ok(data.to_vec())
    }
    fn encode(&self, input: &[u8], _cd_values: &[u32]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(input.len() + 4);
        out.extend_from_slice(input);
        out.extend_from_slice(&checksum(input).to_le_bytes());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Straightforward reference: sums folded after every word.
    fn reference(data: &[u8]) -> u32 {
        let (mut a, mut b) = (0u32, 0u32);
        let mut i = 0;
        while i < data.len() {
            let hi = u32::from(data[i]) << 8;
            let lo = data.get(i + 1).map_or(0, |&x| u32::from(x));
            a += hi | lo;
            a = (a & 0xffff) + (a >> 16);
            b += a;
            b = (b & 0xffff) + (b >> 16);
            i += 2;
        }
        (b << 16) | a
    }

    #[test]
    fn matches_reference() {
        for len in [0usize, 1, 2, 3, 7, 360, 720, 721, 100_000, 300_001] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 300) as u8 | 0x80).collect();
            assert_eq!(checksum(&data), reference(&data), "len {len}");
            let ff = vec![0xffu8; len];
            assert_eq!(checksum(&ff), reference(&ff), "ff len {len}");
        }
    }

    #[test]
    fn known_value() {
        // "abcde" as big-endian words 0x6162 0x6364 0x6500.
        let s1 = (0x6162u32 + 0x6364 + 0x6500) % 65535;
        let s2 = (0x6162u32 * 3 + 0x6364 * 2 + 0x6500) % 65535;
        assert_eq!(checksum(b"abcde"), (s2 << 16) | s1);
    }

    #[test]
    fn round_trip_and_mismatch() {
        let data: Vec<u8> = (0..999u32).map(|i| i as u8).collect();
        let enc = Fletcher32.encode(&data, &[]).unwrap();
        assert_eq!(Fletcher32.decode(&enc, &[], 0).unwrap(), data);
        let mut bad = enc.clone();
        bad[3] ^= 1;
        assert!(matches!(
            Fletcher32.decode(&bad, &[], 0),
            Err(Error::Checksum { .. })
        ));
        // Pre-1.6.3 pair-swapped form.
        let mut old = data.clone();
        old.extend_from_slice(&pre_163(checksum(&data)).to_le_bytes());
        assert_eq!(Fletcher32.decode(&old, &[], 0).unwrap(), data);
        assert!(Fletcher32.decode(&[1, 2, 3], &[], 0).is_err());
        assert_eq!(
            Fletcher32.decode(&[0, 0, 0, 0], &[], 0).unwrap(),
            Vec::<u8>::new()
        );
    }
}
