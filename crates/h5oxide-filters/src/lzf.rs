//! LZF filter, HDF5 registered filter id **32000** (`H5Z_FILTER_LZF`, from h5py / PyTables).
//!
//! The chunk is one LZF block (Marc Lehmann's liblzf format, no header):
//! a control byte `c < 32` is followed by `c + 1` literal bytes; otherwise `len = c >> 5`
//! (7 means "7 + next byte") and the back reference distance is
//! `((c & 0x1f) << 8 | next byte) + 1`, copying `len + 2` bytes (overlap allowed).
//!
//! `cd_values`: `[0]` = filter version, `[1]` = LZF version, `[2]` = uncompressed chunk size
//! in bytes (0 or absent: use `size_hint`). As in h5py, that size is only a first guess: output
//! up to [`crate::output_limit`] is accepted.
//!
//! When compression does not help, h5py's filter fails and libhdf5 stores the chunk unfiltered
//! with the filter's bit set in the chunk's filter mask, so the caller skips this filter. As a
//! safety net, an undecodable chunk whose length equals the expected size is returned as-is.
//!
//! Reference: <http://oldhome.schmorp.de/marc/liblzf.html>,
//! <https://github.com/h5py/h5py/tree/master/lzf>.

use crate::{check_claimed, corrupt, Error, Filter, Result};

/// The LZF filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lzf;

const NAME: &str = "filter lzf";

/// Decodes one LZF block that must produce exactly `expected` bytes.
pub fn decompress(input: &[u8], expected: usize) -> Result<Vec<u8>> {
    let out = decompress_bounded(input, expected, expected)?;
    if out.len() != expected {
        return Err(corrupt(
            NAME,
            format!(
                "LZF block decoded to {} bytes, expected {expected}",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// Decodes one LZF block of at most `max` bytes (`capacity` preallocated).
fn decompress_bounded(input: &[u8], capacity: usize, max: usize) -> Result<Vec<u8>> {
    let expected = max;
    let mut out: Vec<u8> = Vec::with_capacity(capacity.min(max));
    let mut i = 0usize;
    let byte = |i: usize| {
        input
            .get(i)
            .copied()
            .ok_or_else(|| corrupt(NAME, "truncated LZF block"))
    };
    while i < input.len() {
        let c = usize::from(byte(i)?);
        i += 1;
        if c < 32 {
            let lit = input
                .get(i..i + c + 1)
                .ok_or_else(|| corrupt(NAME, "truncated LZF literal run"))?;
            if out.len() + lit.len() > expected {
                return Err(Error::Limit {
                    what: "lzf output",
                    requested: (out.len() + lit.len()) as u64,
                    limit: expected as u64,
                });
            }
            out.extend_from_slice(lit);
            i += c + 1;
        } else {
            let mut len = c >> 5;
            if len == 7 {
                len += usize::from(byte(i)?);
                i += 1;
            }
            let dist = ((c & 0x1f) << 8 | usize::from(byte(i)?)) + 1;
            i += 1;
            let len = len + 2;
            let start = out.len().checked_sub(dist).ok_or_else(|| {
                corrupt(NAME, "LZF back reference before the start of the output")
            })?;
            if out.len() + len > expected {
                return Err(Error::Limit {
                    what: "lzf output",
                    requested: (out.len() + len) as u64,
                    limit: expected as u64,
                });
            }
            if dist >= len {
                out.extend_from_within(start..start + len);
            } else {
                for k in start..start + len {
                    let b = out.get(k).copied().unwrap_or(0);
                    out.push(b);
                }
            }
        }
    }
    Ok(out)
}

/// Decodes one LZF block into `out`, returning the number of bytes written; `None` when the
/// block is malformed or would not fit (the caller then decodes with [`Lzf`]'s checked path,
/// which reports why).
fn decompress_to_slice(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let (mut i, mut o) = (0usize, 0usize);
    while let Some(&c) = input.get(i) {
        let c = usize::from(c);
        i += 1;
        if c < 32 {
            let n = c + 1;
            out.get_mut(o..o + n)?.copy_from_slice(input.get(i..i + n)?);
            i += n;
            o += n;
        } else {
            let mut len = c >> 5;
            if len == 7 {
                len += usize::from(*input.get(i)?);
                i += 1;
            }
            let dist = ((c & 0x1f) << 8 | usize::from(*input.get(i)?)) + 1;
            i += 1;
            let len = len + 2;
            let start = o.checked_sub(dist)?;
            if o + len > out.len() {
                return None;
            }
            if dist >= len {
                out.copy_within(start..start + len, o);
            } else {
                // Overlapping: the copy repeats the last `dist` bytes.
                for k in o..o + len {
                    out[k] = out[k - dist];
                }
            }
            o += len;
        }
    }
    Some(o)
}

/// Encodes `input` as one LZF block (a simple greedy hash-based compressor).
pub fn compress(input: &[u8]) -> Vec<u8> {
    const HLOG: usize = 14;
    let mut table = vec![usize::MAX; 1 << HLOG];
    let mut out = Vec::with_capacity(input.len() + input.len() / 16 + 8);
    let mut lit: Vec<u8> = Vec::with_capacity(32);
    let flush = |out: &mut Vec<u8>, lit: &mut Vec<u8>| {
        for run in lit.chunks(32) {
            out.push((run.len() - 1) as u8);
            out.extend_from_slice(run);
        }
        lit.clear();
    };
    let mut i = 0;
    while i < input.len() {
        let mut matched = 0;
        let mut dist = 0;
        if let Some(k) = input.get(i..i + 3) {
            let h = ((usize::from(k[0]) << 16 | usize::from(k[1]) << 8 | usize::from(k[2]))
                .wrapping_mul(2654435761)
                >> 8)
                & ((1 << HLOG) - 1);
            let cand = table[h];
            table[h] = i;
            if cand != usize::MAX && i - cand <= 8192 {
                let max = (input.len() - i).min(264);
                let l = (0..max)
                    .take_while(|&n| input[cand + n] == input[i + n])
                    .count();
                if l >= 3 {
                    matched = l;
                    dist = i - cand - 1;
                }
            }
        }
        if matched == 0 {
            lit.push(input[i]);
            i += 1;
            continue;
        }
        flush(&mut out, &mut lit);
        let len = matched - 2;
        if len < 7 {
            out.push((len << 5 | dist >> 8) as u8);
        } else {
            out.push((7 << 5 | dist >> 8) as u8);
            out.push((len - 7) as u8);
        }
        out.push(dist as u8);
        i += matched;
    }
    flush(&mut out, &mut lit);
    out
}

impl Filter for Lzf {
    fn id(&self) -> u16 {
        32000
    }
    fn name(&self) -> &str {
        "lzf"
    }
    fn decode(&self, input: &[u8], cd_values: &[u32], size_hint: usize) -> Result<Vec<u8>> {
        let expected = match cd_values.get(2) {
            Some(&n) if n > 0 => check_claimed("lzf chunk size", u64::from(n), size_hint)?,
            _ => size_hint,
        };
        // Like h5py's filter, the stored size only sizes the first buffer: a stage whose output
        // is larger (lzf applied over a checksum) still decodes, bounded by the output limit.
        match decompress_bounded(input, expected, crate::output_limit(size_hint)) {
            Ok(out) => Ok(out),
            Err(_) if input.len() == expected => Ok(input.to_vec()),
            Err(e) => Err(e),
        }
    }
    fn decode_to_slice(&self, input: &[u8], _cd_values: &[u32], out: &mut [u8]) -> bool {
        decompress_to_slice(input, out) == Some(out.len())
    }
    fn encode(&self, input: &[u8], _cd_values: &[u32]) -> Result<Vec<u8>> {
        Ok(compress(input))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut data: Vec<u8> = (0..30_000u32).map(|i| (i / 9 % 251) as u8).collect();
        data.extend((0..3000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
        data.extend(std::iter::repeat_n(7u8, 1000));
        for d in [&data[..], &data[..1], &data[..0], &data[..5]] {
            let z = compress(d);
            assert_eq!(Lzf.decode(&z, &[1, 1, d.len() as u32], 0).unwrap(), d);
        }
    }

    #[test]
    fn stored_size_is_only_a_hint() {
        // lzf applied after a checksum: the block is 4 bytes longer than cd_values[2] says.
        let data: Vec<u8> = (0..5000u32).map(|i| (i / 7) as u8).collect();
        let z = compress(&data);
        assert_eq!(Lzf.decode(&z, &[4, 1, 4996], 4996).unwrap(), data);
    }

    #[test]
    fn slice_path_matches() {
        let mut data: Vec<u8> = (0..30_000u32).map(|i| (i / 9 % 251) as u8).collect();
        data.extend(std::iter::repeat_n(7u8, 1000));
        let z = compress(&data);
        let mut out = vec![0u8; data.len()];
        assert!(Lzf.decode_to_slice(&z, &[], &mut out));
        assert_eq!(out, data);
        // too small or too large a destination is not handled here
        assert!(!Lzf.decode_to_slice(&z, &[], &mut out[1..]));
        assert!(!Lzf.decode_to_slice(&z, &[], &mut vec![0u8; data.len() + 1]));
        assert!(!Lzf.decode_to_slice(&[(3 << 5), 1], &[], &mut [0u8; 5]));
    }

    #[test]
    fn hand_made_block() {
        // literal "ab", then copy 5 bytes from distance 2 → "abababa".
        let z = [1, b'a', b'b', (3 << 5), 1];
        assert_eq!(decompress(&z, 7).unwrap(), b"abababa");
        assert!(decompress(&z, 6).is_err());
        assert!(decompress(&[(3 << 5), 1], 5).is_err());
        assert!(Lzf.decode(&z, &[1, 1, u32::MAX], 10).is_err());
    }
}
