//! LZ4 filter, HDF5 registered filter id **32004** (`H5Z_FILTER_LZ4`, from the HDFGroup
//! hdf5_plugins / hdf5plugin `LZ4`).
//!
//! Encoded layout (all integers big-endian):
//! 8 bytes total decoded size, 4 bytes block size (decoded bytes per block), then for each
//! block a 4-byte compressed size followed by that many bytes: an LZ4 *block* (no frame), or
//! the raw bytes when the compressed size equals the block's decoded size (the last block is
//! shorter: whatever remains of the total).
//!
//! `cd_values`: `[0]` = block size in bytes used when encoding (0 or absent: 1 GiB, i.e. one
//! block, as the reference plugin does). Decoding reads everything from the header.
//!
//! Blocks are decoded by our own safe decoder ([`decode_block`]; it is also the LZ4 decoder
//! of blosc and bitshuffle) and encoded with `lz4_flex`.
//!
//! Reference: <https://github.com/HDFGroup/hdf5_plugins/tree/master/LZ4>.
//! Known incompatibilities: none.

use crate::{bytes, check_claimed, corrupt, Error, Filter, Result};

/// The LZ4 filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lz4;

const NAME: &str = "filter lz4";

/// Decodes one LZ4 block into exactly `out.len()` bytes.
pub(crate) fn block_exact(input: &[u8], out: &mut [u8], structure: &'static str) -> Result<()> {
    let n = decode_block(input, out)
        .ok_or_else(|| corrupt(structure, "lz4 block: malformed or larger than expected"))?;
    if n != out.len() {
        return Err(corrupt(
            structure,
            format!("lz4 block decoded to {n} bytes, expected {}", out.len()),
        ));
    }
    Ok(())
}

/// Reads the extra length bytes after a 15 in a token nibble.
#[inline(always)]
fn more_len(src: &[u8], ip: &mut usize) -> Option<usize> {
    let mut n = 0usize;
    loop {
        let b = *src.get(*ip)?;
        *ip += 1;
        n += usize::from(b);
        if b != 255 {
            return Some(n);
        }
    }
}

/// Copies `out[from..from + 16]` to `out[to..to + 16]`, for `from + 16 <= to`.
#[inline(always)]
fn copy16(out: &mut [u8], from: usize, to: usize) -> Option<()> {
    let (head, tail) = out.split_at_mut(to);
    tail.get_mut(..16)?
        .copy_from_slice(head.get(from..from + 16)?);
    Some(())
}

/// For a match distance `d < 16`: the mask of its first `d` bytes, the multiplier that
/// repeats them through 16 bytes, and the whole-pattern step (`16 - 16 % d`).
const PATTERN: [(u128, u128, u8); 16] = {
    let mut t = [(0u128, 0u128, 0u8); 16];
    let mut d = 1;
    while d < 16 {
        let mut rep = 0u128;
        let mut j = 0;
        while j < 16 {
            rep |= 1u128 << (8 * j);
            j += d;
        }
        t[d] = ((1u128 << (8 * d)) - 1, rep, (16 - 16 % d) as u8);
        d += 1;
    }
    t
};

/// Decodes one LZ4 block (the LZ4 block format: sequences of a token, literal bytes, a
/// 16-bit little-endian match distance and a match; the last sequence has literals only) into
/// `out`; returns the decoded length, or `None` for data that is not a valid block or does not
/// fit in `out`.
///
/// Copies go 16 bytes at a time whenever `out` has room for the whole 16 bytes (the bytes past
/// the end of a copy are overwritten by the next sequences), a short-distance match repeats its
/// pattern from a `u128`, and only the last bytes of `out` are copied one by one. About 1.4–1.6
/// times `lz4_flex`'s safe decoder on byte-shuffled float data. Every access is checked (no
/// panics, no `unsafe`).
pub(crate) fn decode_block(src: &[u8], out: &mut [u8]) -> Option<usize> {
    let (mut ip, mut op) = (0usize, 0usize);
    let olen = out.len();
    loop {
        let token = *src.get(ip)?;
        ip += 1;
        let mut lit = usize::from(token >> 4);
        if lit == 15 {
            lit += more_len(src, &mut ip)?;
        }
        if lit <= 16 && ip + 16 <= src.len() && op + 16 <= olen {
            let s: &[u8; 16] = src.get(ip..ip + 16)?.try_into().ok()?;
            out.get_mut(op..op + 16)?.copy_from_slice(s);
        } else {
            out.get_mut(op..op.checked_add(lit)?)?
                .copy_from_slice(src.get(ip..ip.checked_add(lit)?)?);
        }
        ip += lit;
        op += lit;
        if ip >= src.len() {
            return (ip == src.len()).then_some(op);
        }
        let off = usize::from(u16::from_le_bytes(
            *src.get(ip..ip + 2)?.first_chunk::<2>()?,
        ));
        ip += 2;
        let mut ml = usize::from(token & 15);
        if ml == 15 {
            ml += more_len(src, &mut ip)?;
        }
        ml += 4;
        if off == 0 || off > op {
            return None;
        }
        let m = op - off;
        let end = op.checked_add(ml)?;
        if end > olen {
            return None;
        }
        if off >= 16 && ml <= 32 && op + 32 <= olen {
            // the common case: two 16-byte copies (the second may read what the first wrote)
            copy16(out, m, op)?;
            copy16(out, m + 16, op + 16)?;
            op = end;
            continue;
        }
        // 16-byte steps while a whole 16 bytes fit in `out`, then byte by byte
        let mut k = 0;
        if off >= 16 {
            while k < ml && op + k + 16 <= olen {
                copy16(out, m + k, op + k)?;
                k += 16;
            }
        } else if op + 16 <= olen {
            // short distance: the `off`-byte pattern repeated in a u128, 16 bytes at a time
            let head: [u8; 16] = out.get(m..m + 16)?.try_into().ok()?;
            let (mask, rep, step) = *PATTERN.get(off)?;
            let pat = ((u128::from_le_bytes(head) & mask).wrapping_mul(rep)).to_le_bytes();
            let step = usize::from(step);
            while k < ml && op + k + 16 <= olen {
                out.get_mut(op + k..op + k + 16)?.copy_from_slice(&pat);
                k += step;
            }
        }
        while k < ml {
            let b = *out.get(m + k)?;
            *out.get_mut(op + k)? = b;
            k += 1;
        }
        op = end;
    }
}

/// Decodes the framed LZ4 blocks of the filter (after the 12-byte header) into `out`.
fn decode_blocks(input: &[u8], out: &mut [u8], block: usize) -> Result<()> {
    let mut pos = 12usize;
    for dst in out.chunks_mut(block.max(1)) {
        let csize =
            bytes::be32(input, pos).ok_or_else(|| corrupt(NAME, "truncated block header"))?;
        let csize = usize::try_from(csize).unwrap_or(usize::MAX);
        pos += 4;
        let src = pos
            .checked_add(csize)
            .and_then(|end| input.get(pos..end))
            .ok_or_else(|| corrupt(NAME, "truncated block"))?;
        if csize == dst.len() {
            dst.copy_from_slice(src);
        } else {
            block_exact(src, dst, NAME)?;
        }
        pos += csize;
    }
    Ok(())
}

/// Compresses one LZ4 block.
pub(crate) fn block_compress(input: &[u8]) -> Vec<u8> {
    lz4_flex::block::compress(input)
}

impl Filter for Lz4 {
    fn id(&self) -> u16 {
        32004
    }
    fn name(&self) -> &str {
        "lz4"
    }
    fn decode(&self, input: &[u8], _cd_values: &[u32], size_hint: usize) -> Result<Vec<u8>> {
        let total = bytes::be64(input, 0).ok_or_else(|| corrupt(NAME, "truncated header"))?;
        let total = check_claimed("lz4 decoded size", total, size_hint)?;
        let block = bytes::be32(input, 8).ok_or_else(|| corrupt(NAME, "truncated header"))?;
        let block = usize::try_from(block).unwrap_or(usize::MAX).min(total);
        if block == 0 && total > 0 {
            return Err(corrupt(NAME, "zero block size"));
        }
        let mut out = vec![0u8; total];
        decode_blocks(input, &mut out, block)?;
        Ok(out)
    }
    fn decode_to_slice(&self, input: &[u8], _cd_values: &[u32], out: &mut [u8]) -> bool {
        let (Some(total), Some(block)) = (bytes::be64(input, 0), bytes::be32(input, 8)) else {
            return false;
        };
        if total != out.len() as u64 {
            return false;
        }
        let block = usize::try_from(block).unwrap_or(usize::MAX).min(out.len());
        if block == 0 && !out.is_empty() {
            return false;
        }
        decode_blocks(input, out, block).is_ok()
    }
    fn encode(&self, input: &[u8], cd_values: &[u32]) -> Result<Vec<u8>> {
        let block = match cd_values.first() {
            Some(&b) if b > 0 => b as usize,
            _ => 1 << 30,
        };
        let block = block.min(input.len()).max(1);
        let mut out = Vec::with_capacity(input.len() / 2 + 16);
        out.extend_from_slice(&(input.len() as u64).to_be_bytes());
        out.extend_from_slice(
            &u32::try_from(block)
                .map_err(|_| Error::Invalid("lz4 block size".into()))?
                .to_be_bytes(),
        );
        for src in input.chunks(block) {
            let c = block_compress(src);
            let body = if c.len() >= src.len() { src } else { &c[..] };
            out.extend_from_slice(&(body.len() as u32).to_be_bytes());
            out.extend_from_slice(body);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut data: Vec<u8> = (0..20_000u32).map(|i| (i / 13) as u8).collect();
        data.extend((0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 11) as u8));
        for bs in [0u32, 1000, 4096, 1 << 20] {
            let z = Lz4.encode(&data, &[bs]).unwrap();
            assert_eq!(Lz4.decode(&z, &[bs], data.len()).unwrap(), data);
            for cut in [0, 5, 12, 16, z.len() / 2, z.len() - 1] {
                assert!(Lz4.decode(&z[..cut], &[], data.len()).is_err());
            }
        }
        assert_eq!(
            Lz4.decode(&Lz4.encode(&[], &[]).unwrap(), &[], 0).unwrap(),
            Vec::<u8>::new()
        );
    }

    /// Pseudo-random bytes mixing runs, repeats at every short distance and noise.
    fn mixed(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut v: Vec<u8> = Vec::with_capacity(len);
        while v.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = (x >> 8) as usize % 40 + 1;
            let n = (x >> 20) as usize % 300;
            match x % 4 {
                0 => v.extend((0..n).map(|i| (x >> (i % 50)) as u8)),
                _ if v.len() >= d => {
                    for _ in 0..n {
                        let b = v[v.len() - d];
                        v.push(b);
                    }
                }
                _ => v.extend(std::iter::repeat_n((x >> 30) as u8, n)),
            }
        }
        v.truncate(len);
        v
    }

    #[test]
    fn block_decoder_matches_encoder() {
        for seed in 0..300u64 {
            let len = (seed as usize * 7919) % 70_000;
            let data = mixed(seed, len);
            let z = block_compress(&data);
            let mut out = vec![0u8; data.len()];
            assert_eq!(decode_block(&z, &mut out), Some(data.len()), "seed {seed}");
            assert_eq!(out, data, "seed {seed}");
            // too small a destination is an error, not a panic
            if !data.is_empty() {
                let mut short = vec![0u8; data.len() - 1];
                assert_eq!(decode_block(&z, &mut short), None, "seed {seed}");
            }
            // a larger one holds the data and reports its length
            let mut long = vec![0u8; data.len() + 40];
            assert_eq!(decode_block(&z, &mut long), Some(data.len()));
            assert_eq!(long[..data.len()], data[..]);
        }
    }

    #[test]
    fn block_decoder_known_vectors() {
        // "abc" + match (distance 3, length 4 + 5 = 9) + "xyz"
        let z = [0x35, b'a', b'b', b'c', 3, 0, 0x30, b'x', b'y', b'z'];
        let mut out = [0u8; 15];
        assert_eq!(decode_block(&z, &mut out), Some(15));
        assert_eq!(&out, b"abcabcabcabcxyz");
        // a run: "a" + match (distance 1, length 15 + 5 + 4 = 24, near the end of `out`)
        let z = [0x1F, b'a', 1, 0, 5, 0x10, b'b'];
        let mut out = [0u8; 26];
        assert_eq!(decode_block(&z, &mut out), Some(26));
        assert_eq!(&out[..25], &[b'a'; 25]);
        assert_eq!(out[25], b'b');
        // bad distances, truncations
        for bad in [
            &[0x10, b'a', 0, 0, 0x00][..],
            &[0x10, b'a', 2, 0, 0x00],
            &[0x10, b'a', 1],
            &[0x20, b'a'],
            &[0xF0, 255],
        ] {
            assert_eq!(decode_block(bad, &mut [0u8; 64]), None, "{bad:?}");
        }
    }

    #[test]
    fn block_decoder_agrees_with_lz4_flex_on_damaged_blocks() {
        let mut x = 12345u64;
        for seed in 0..40u64 {
            let z = block_compress(&mixed(seed, 20_000));
            for _ in 0..100 {
                let mut d = z.clone();
                for _ in 0..3 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let i = x as usize % d.len();
                    d[i] = (x >> 40) as u8;
                }
                let (mut a, mut b) = (vec![0u8; 20_000], vec![0u8; 20_000]);
                let ours = decode_block(&d, &mut a);
                let theirs = lz4_flex::block::decompress_into(&d, &mut b).ok();
                assert_eq!(ours, theirs);
                if let Some(n) = ours {
                    assert_eq!(a[..n], b[..n]);
                }
            }
        }
    }

    #[test]
    fn huge_claim_is_limited() {
        let mut z = u64::MAX.to_be_bytes().to_vec();
        z.extend_from_slice(&[0, 0, 0, 0]);
        assert!(matches!(Lz4.decode(&z, &[], 100), Err(Error::Limit { .. })));
        let mut z = 100u64.to_be_bytes().to_vec();
        z.extend_from_slice(&[0, 0, 0, 0]);
        assert!(Lz4.decode(&z, &[], 100).is_err());
    }
}
