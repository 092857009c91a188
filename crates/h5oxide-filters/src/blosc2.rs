//! Blosc2 filter, HDF5 registered filter id **32026** (`FILTER_BLOSC2`, from PyTables /
//! hdf5plugin `Blosc2`).
//!
//! Each HDF5 chunk holds a Blosc2 *contiguous frame* ("cframe", magic `b2frame`): a
//! msgpack-encoded header whose fixed layout gives the header size (big-endian `i32` at byte
//! 11) and the decoded size (big-endian `i64` at byte 30), then the frame's Blosc2 chunks
//! back to back, then an index and metalayers that this decoder does not need. A bare Blosc2
//! chunk (no frame) is accepted too.
//!
//! `cd_values`: `[0]` filter revision, `[1]` Blosc2 version, `[2]` type size, `[3]` chunk size
//! in bytes, `[4]` compression level, `[5]` filter (0 none, 1 shuffle, 2 bitshuffle),
//! `[6]` compressor, then optionally the chunk's rank and shape (for b2nd). Decoding needs none.
//!
//! Blosc2 chunk: the 16-byte Blosc header (see [`crate::blosc`]) extended to 32 bytes when
//! flag bits 0 and 2 are both set: bytes 16–21 hold a 6-slot filter pipeline (0 none,
//! 1 shuffle, 2 bitshuffle, 3 delta, 4 truncate precision), byte 22 a user codec id, bytes 24–29
//! filter metadata and byte 31 Blosc2 flags (bit 0 dictionary, bits 4–6 special chunk: 1 zeros,
//! 2 NaNs, 3 a repeated value stored after the header, 4 uninitialised). Streams are prefixed by
//! a signed `i32` size: 0 means all zeros, a negative size followed by a token byte with bit 0
//! set means the byte `-size` repeated, otherwise as in Blosc1. Blocks are split into `typesize`
//! streams unless flag bit 4 is set or the block is the last, short one.
//!
//! References: c-blosc2 `README_CHUNK_FORMAT.rst` and `README_CFRAME_FORMAT.rst`
//! (<https://github.com/Blosc/c-blosc2>).
//! Known incompatibilities: the delta filter, dictionaries, user-defined codecs and plugin
//! filters give [`Error::Unsupported`]; frames whose chunks are not stored in order (or that
//! reference special chunks only from their index) are not supported. Encoding is not
//! implemented.

use crate::blosc::{bit_unshuffle, Codec};
use crate::{bytes, check_claimed, corrupt, Error, Filter, Result};

/// The blosc2 filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Blosc2;

const NAME: &str = "filter blosc2";
const MAGIC: &[u8] = b"b2frame\0";

fn be_i32(input: &[u8], at: usize) -> Option<i32> {
    bytes::array::<4>(input, at).map(i32::from_be_bytes)
}

fn be_i64(input: &[u8], at: usize) -> Option<i64> {
    bytes::array::<8>(input, at).map(i64::from_be_bytes)
}

/// Decodes a cframe (or a bare chunk) into its data.
pub fn decompress(input: &[u8], size_hint: usize) -> Result<Vec<u8>> {
    if input.get(2..10) != Some(MAGIC) {
        let (out, _) = decode_chunk(input, size_hint)?;
        return Ok(out);
    }
    let header_size = be_i32(input, 11).ok_or_else(|| corrupt(NAME, "truncated frame header"))?;
    let nbytes = be_i64(input, 30).ok_or_else(|| corrupt(NAME, "truncated frame header"))?;
    let header_size =
        usize::try_from(header_size).map_err(|_| corrupt(NAME, "negative frame header size"))?;
    let nbytes = u64::try_from(nbytes).map_err(|_| corrupt(NAME, "negative frame size"))?;
    let nbytes = check_claimed("blosc2 frame decoded size", nbytes, size_hint)?;
    let mut out = Vec::with_capacity(nbytes);
    let mut pos = header_size;
    while out.len() < nbytes {
        let chunk = input
            .get(pos..)
            .ok_or_else(|| corrupt(NAME, "frame chunk past the end"))?;
        let (data, cbytes) = decode_chunk(chunk, nbytes - out.len())?;
        if data.is_empty() || cbytes == 0 {
            return Err(corrupt(NAME, "empty chunk in frame"));
        }
        if out.len() + data.len() > nbytes {
            return Err(corrupt(NAME, "frame chunks exceed the frame size"));
        }
        out.extend_from_slice(&data);
        pos = pos
            .checked_add(cbytes)
            .ok_or_else(|| corrupt(NAME, "chunk size overflow"))?;
    }
    Ok(out)
}

/// Decodes one Blosc2 (or Blosc1) chunk; returns its data and its compressed size.
fn decode_chunk(input: &[u8], size_hint: usize) -> Result<(Vec<u8>, usize)> {
    let head = bytes::array::<16>(input, 0)
        .ok_or_else(|| corrupt(NAME, "chunk shorter than its header"))?;
    let version = head[0];
    let flags = head[2];
    let typesize = usize::from(head[3]);
    let nbytes = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let blocksize = u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize;
    let cbytes = u32::from_le_bytes([head[12], head[13], head[14], head[15]]) as usize;
    let nbytes = check_claimed("blosc2 chunk decoded size", u64::from(nbytes), size_hint)?;
    let extended = flags & 0x05 == 0x05;
    let header_len = if extended { 32 } else { 16 };
    let ext = if extended {
        bytes::array::<16>(input, 16).ok_or_else(|| corrupt(NAME, "truncated extended header"))?
    } else {
        [0u8; 16]
    };
    let blosc2_flags = ext[15];
    let mut filters = [0u8; 6];
    if extended {
        filters.copy_from_slice(&ext[..6]);
    } else if flags & 0x01 != 0 {
        filters[5] = 1;
    } else if flags & 0x04 != 0 {
        filters[5] = 2;
    }
    let mut out = vec![0u8; nbytes];
    match (blosc2_flags >> 4) & 7 {
        0 => {}
        1 | 4 => return Ok((out, cbytes)),
        2 => {
            let nan: &[u8] = match typesize {
                4 => &[0, 0, 0xc0, 0x7f],
                8 => &[0, 0, 0, 0, 0, 0, 0xf8, 0x7f],
                _ => return Err(corrupt(NAME, "NaN run with a type size other than 4 or 8")),
            };
            for e in out.chunks_mut(typesize) {
                e.copy_from_slice(nan.get(..e.len()).unwrap_or_default());
            }
            return Ok((out, cbytes));
        }
        3 => {
            let v = input
                .get(header_len..header_len + typesize)
                .ok_or_else(|| corrupt(NAME, "truncated run value"))?;
            if v.is_empty() {
                return Err(corrupt(NAME, "run value with type size 0"));
            }
            for e in out.chunks_mut(typesize) {
                e.copy_from_slice(v.get(..e.len()).unwrap_or_default());
            }
            return Ok((out, cbytes));
        }
        s => return Err(Error::unsupported(format!("blosc2 special chunk type {s}"))),
    }
    if nbytes == 0 {
        return Ok((out, cbytes));
    }
    if flags & 0x02 != 0 {
        let src = input
            .get(header_len..header_len + nbytes)
            .ok_or_else(|| corrupt(NAME, "truncated uncompressed chunk"))?;
        out.copy_from_slice(src);
        return Ok((out, cbytes));
    }
    if blosc2_flags & 0x01 != 0 {
        return Err(Error::unsupported("blosc2 chunks with dictionaries"));
    }
    if blocksize == 0 {
        return Err(corrupt(NAME, "zero block size"));
    }
    let codec = match flags >> 5 {
        6 => {
            return Err(Error::unsupported(format!(
                "blosc2 user-defined codec {}",
                ext[6]
            )))
        }
        c => Codec::from_code(c),
    };
    let dont_split = flags & 0x10 != 0;
    let nblocks = nbytes.div_ceil(blocksize);
    let mut tmp = vec![0u8; blocksize.min(nbytes)];
    for (b, dst) in out.chunks_mut(blocksize).enumerate() {
        let start = bytes::le32(input, header_len + 4 * b)
            .ok_or_else(|| corrupt(NAME, "truncated block offsets"))?;
        let start = start as usize;
        if start < header_len + 4 * nblocks {
            return Err(corrupt(NAME, "block offset inside the header"));
        }
        let leftover = dst.len() < blocksize;
        let nstreams = if !dont_split && !leftover {
            typesize.max(1)
        } else {
            1
        };
        let t = tmp
            .get_mut(..dst.len())
            .ok_or_else(|| corrupt(NAME, "block too large"))?;
        decode_streams(input, start, t, nstreams, codec)?;
        // Filters run backwards, from the last slot to the first.
        let mut cur = t.to_vec();
        for f in filters.iter().rev() {
            match f {
                0 | 4 => {}
                1 => cur = crate::shuffle::unshuffle(&cur, typesize),
                2 => {
                    if cur.len() >= typesize {
                        let mut o = vec![0u8; cur.len()];
                        bit_unshuffle(&cur, &mut o, typesize, version);
                        cur = o;
                    }
                }
                3 => return Err(Error::unsupported("blosc2 delta filter")),
                f => return Err(Error::unsupported(format!("blosc2 filter {f}"))),
            }
        }
        dst.copy_from_slice(&cur);
    }
    Ok((out, cbytes))
}

fn decode_streams(
    input: &[u8],
    start: usize,
    dst: &mut [u8],
    nstreams: usize,
    codec: Codec,
) -> Result<()> {
    let neblock = dst.len() / nstreams;
    if neblock == 0 || neblock * nstreams != dst.len() {
        return Err(corrupt(NAME, "block is not a whole number of streams"));
    }
    let mut pos = start;
    for part in dst.chunks_mut(neblock) {
        let csize =
            bytes::le32(input, pos).ok_or_else(|| corrupt(NAME, "truncated stream header"))? as i32;
        pos += 4;
        if csize == 0 {
            part.fill(0);
            continue;
        }
        if csize < 0 {
            let token = *input
                .get(pos)
                .ok_or_else(|| corrupt(NAME, "truncated stream token"))?;
            pos += 1;
            if token & 1 == 0 || csize < -255 {
                return Err(corrupt(
                    NAME,
                    format!("unsupported stream token {token} / size {csize}"),
                ));
            }
            part.fill(csize.unsigned_abs() as u8);
            continue;
        }
        let csize = csize as usize;
        let src = pos
            .checked_add(csize)
            .and_then(|end| input.get(pos..end))
            .ok_or_else(|| corrupt(NAME, "truncated stream"))?;
        if csize == part.len() {
            part.copy_from_slice(src);
        } else {
            codec.decode_exact(src, part, NAME)?;
        }
        pos += csize;
    }
    Ok(())
}

impl Filter for Blosc2 {
    fn id(&self) -> u16 {
        32026
    }
    fn name(&self) -> &str {
        "blosc2"
    }
    fn decode(&self, input: &[u8], _cd_values: &[u32], size_hint: usize) -> Result<Vec<u8>> {
        decompress(input, size_hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk_header(
        flags: u8,
        typesize: u8,
        nbytes: u32,
        blocksize: u32,
        ext: [u8; 16],
    ) -> Vec<u8> {
        let mut h = vec![5, 1, flags, typesize];
        h.extend_from_slice(&nbytes.to_le_bytes());
        h.extend_from_slice(&blocksize.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&ext);
        h
    }

    #[test]
    fn special_chunks_and_stream_tokens() {
        let mut ext = [0u8; 16];
        ext[15] = 3 << 4;
        let mut c = chunk_header(0x05, 2, 6, 6, ext);
        c.extend_from_slice(&[7, 8]);
        assert_eq!(Blosc2.decode(&c, &[], 6).unwrap(), vec![7, 8, 7, 8, 7, 8]);
        ext[15] = 1 << 4;
        let c = chunk_header(0x05, 2, 6, 6, ext);
        assert_eq!(Blosc2.decode(&c, &[], 6).unwrap(), vec![0; 6]);
        // One block, not split (flag 0x10), stream = run of byte 9, no filters.
        let mut c = chunk_header(0x15, 1, 5, 5, [0; 16]);
        c.extend_from_slice(&36u32.to_le_bytes());
        c.extend_from_slice(&(-9i32).to_le_bytes());
        c.push(1);
        assert_eq!(Blosc2.decode(&c, &[], 5).unwrap(), vec![9; 5]);
        let mut bad = c.clone();
        bad[36] = 0;
        assert!(Blosc2.decode(&bad, &[], 5).is_err());
        assert!(Blosc2.decode(&c[..20], &[], 5).is_err());
    }
}
