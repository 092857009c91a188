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
//! Uses `lz4_flex` (pure Rust, safe decoder).
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
    let n = lz4_flex::block::decompress_into(input, out)
        .map_err(|e| corrupt(structure, format!("lz4 block: {e}")))?;
    if n != out.len() {
        return Err(corrupt(
            structure,
            format!("lz4 block decoded to {n} bytes, expected {}", out.len()),
        ));
    }
    Ok(())
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
