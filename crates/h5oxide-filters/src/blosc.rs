//! Blosc filter, HDF5 registered filter id **32001** (`FILTER_BLOSC`, from PyTables /
//! hdf5plugin `Blosc`), decoding Blosc1 chunks.
//!
//! `cd_values`: `[0]` filter revision, `[1]` Blosc format version, `[2]` type size,
//! `[3]` chunk size in bytes, `[4]` compression level, `[5]` shuffle (0 none, 1 byte,
//! 2 bit), `[6]` compressor (0 blosclz, 1 lz4, 2 lz4hc, 3 snappy, 4 zlib, 5 zstd).
//! Decoding needs none of them: the Blosc header describes the chunk.
//!
//! Blosc1 chunk layout (integers little-endian): a 16-byte header — format version,
//! compressor format version, flags (bit 0 byte shuffle, bit 1 stored uncompressed ("memcpyed"),
//! bit 2 bit shuffle, bit 4 "don't split", bits 5–7 compressor: 0 blosclz, 1 lz4/lz4hc,
//! 2 snappy, 3 zlib, 4 zstd), type size, decoded size, block size, compressed size — then one
//! `u32` start offset per block, then the blocks. A block (the last one may be shorter) is
//! either one stream or, when split, `typesize` streams (one per byte plane); each stream is a
//! `u32` compressed size followed by the compressed bytes, or the raw bytes when that size equals
//! the stream's decoded size. Decoded blocks are then byte- or bit-unshuffled.
//!
//! blosclz, the FastLZ-derived default codec, is decoded by our own implementation
//! ([`blosclz_decompress`]); lz4 our block decoder ([`crate::lz4`]), snappy the `snap` crate,
//! zlib `libdeflater`, zstd the `zstd` crate.
//!
//! Reference: c-blosc `README_CHUNK_FORMAT.rst` (<https://github.com/Blosc/c-blosc>).
//! Encoding ([`compress`]) supports lz4, snappy, zlib and zstd; blosclz requests are stored
//! uncompressed.

use crate::{bytes, check_claimed, corrupt, Error, Filter, Result};

/// The blosc filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Blosc;

const NAME: &str = "filter blosc";

/// Decodes one blosclz stream into `out`, returning the number of bytes written.
pub fn blosclz_decompress(input: &[u8], out: &mut Vec<u8>, max: usize) -> Result<()> {
    const MAX_DISTANCE: usize = 8191;
    let err = |r: &str| corrupt(NAME, format!("blosclz: {r}"));
    let mut ip = 0usize;
    let byte = |ip: &mut usize| -> Result<usize> {
        let b = input
            .get(*ip)
            .copied()
            .ok_or_else(|| corrupt(NAME, "blosclz: truncated stream"))?;
        *ip += 1;
        Ok(usize::from(b))
    };
    if input.is_empty() {
        return Ok(());
    }
    let mut ctrl = byte(&mut ip)? & 31;
    loop {
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input
                .get(ip..ip + run)
                .ok_or_else(|| err("truncated literal"))?;
            if out.len() + run > max {
                return Err(err("output overflow"));
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut len = (ctrl >> 5) - 1;
            let ofs = (ctrl & 31) << 8;
            if len == 6 {
                loop {
                    let code = byte(&mut ip)?;
                    len += code;
                    if code != 255 {
                        break;
                    }
                }
            }
            let code = byte(&mut ip)?;
            len += 3;
            let dist = if code == 255 && ofs == 31 << 8 {
                let hi = byte(&mut ip)?;
                let lo = byte(&mut ip)?;
                (hi << 8 | lo) + MAX_DISTANCE + 1
            } else {
                ofs + code + 1
            };
            if out.len() + len > max {
                return Err(err("output overflow"));
            }
            let start = out
                .len()
                .checked_sub(dist)
                .ok_or_else(|| err("reference before the start of the output"))?;
            if dist >= len {
                out.extend_from_within(start..start + len);
            } else {
                for k in start..start + len {
                    let b = out.get(k).copied().unwrap_or(0);
                    out.push(b);
                }
            }
        }
        if ip >= input.len() {
            return Ok(());
        }
        ctrl = byte(&mut ip)?;
    }
}

/// Inner codecs of Blosc1/Blosc2 chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    BloscLz,
    Lz4,
    Snappy,
    Zlib,
    Zstd,
    Other(u8),
}

impl Codec {
    pub(crate) fn from_code(code: u8) -> Codec {
        match code {
            0 => Codec::BloscLz,
            1 => Codec::Lz4,
            2 => Codec::Snappy,
            3 => Codec::Zlib,
            4 => Codec::Zstd,
            c => Codec::Other(c),
        }
    }

    /// Decodes one stream into exactly `out.len()` bytes.
    pub(crate) fn decode_exact(
        self,
        src: &[u8],
        out: &mut [u8],
        structure: &'static str,
    ) -> Result<()> {
        match self {
            Codec::BloscLz => {
                let mut v = Vec::with_capacity(out.len());
                blosclz_decompress(src, &mut v, out.len())?;
                if v.len() != out.len() {
                    return Err(corrupt(
                        structure,
                        "blosclz stream decoded to the wrong size",
                    ));
                }
                out.copy_from_slice(&v);
                Ok(())
            }
            Codec::Lz4 => crate::lz4::block_exact(src, out, structure),
            Codec::Zlib => {
                let v = crate::deflate::inflate(src, out.len())?;
                if v.len() != out.len() {
                    return Err(corrupt(structure, "zlib stream decoded to the wrong size"));
                }
                out.copy_from_slice(&v);
                Ok(())
            }
            Codec::Zstd => crate::zstd::decompress_exact(src, out, structure),
            Codec::Snappy => {
                let n = snap::raw::decompress_len(src)
                    .map_err(|_| corrupt(structure, "bad snappy stream header"))?;
                if n != out.len() {
                    return Err(corrupt(
                        structure,
                        "snappy stream decodes to the wrong size",
                    ));
                }
                snap::raw::Decoder::new()
                    .decompress(src, out)
                    .map_err(|_| corrupt(structure, "bad snappy stream"))?;
                Ok(())
            }
            Codec::Other(c) => Err(Error::unsupported(format!("blosc codec {c}"))),
        }
    }
}

/// Undoes the bit shuffle Blosc applies to a block of `typesize`-byte elements.
pub(crate) fn bit_unshuffle(src: &[u8], dst: &mut [u8], typesize: usize, format_version: u8) {
    let n = src.len() / typesize.max(1);
    let whole = n / 8 * 8;
    if typesize == 0 || (format_version <= 2 && whole != n) {
        dst.copy_from_slice(src);
        return;
    }
    let len = whole * typesize;
    if let (Some(s), Some(d)) = (src.get(..len), dst.get_mut(..len)) {
        crate::bitshuffle::untranspose_block(s, d, whole, typesize);
    }
    if let (Some(s), Some(d)) = (src.get(len..), dst.get_mut(len..)) {
        d.copy_from_slice(s);
    }
}

/// Decodes the streams of one block (at `input[start..]`) into `dst`, one `dst.len() /
/// nstreams` part per stream. With `borrow_raw`, a stream stored uncompressed is not copied:
/// its part of `dst` is left as is and `raw[i]` gets its range in `input` (else `None`).
fn decode_block(
    input: &[u8],
    start: usize,
    dst: &mut [u8],
    nstreams: usize,
    codec: Codec,
    borrow_raw: bool,
    raw: &mut Vec<Option<std::ops::Range<usize>>>,
) -> Result<()> {
    raw.clear();
    let neblock = dst.len() / nstreams.max(1);
    if neblock * nstreams != dst.len() {
        return Err(corrupt(NAME, "block is not a whole number of streams"));
    }
    let mut pos = start;
    for part in dst.chunks_mut(neblock.max(1)) {
        let csize = bytes::le32(input, pos)
            .ok_or_else(|| corrupt(NAME, "truncated stream header"))? as usize;
        pos += 4;
        let end = pos
            .checked_add(csize)
            .filter(|&end| end <= input.len())
            .ok_or_else(|| corrupt(NAME, "truncated stream"))?;
        let src = input
            .get(pos..end)
            .ok_or_else(|| corrupt(NAME, "truncated stream"))?;
        if csize == part.len() {
            if borrow_raw {
                raw.push(Some(pos..end));
            } else {
                part.copy_from_slice(src);
                raw.push(None);
            }
        } else {
            codec.decode_exact(src, part, NAME)?;
            raw.push(None);
        }
        pos = end;
    }
    Ok(())
}

/// Stream `i` of a block decoded by [`decode_block`]: its stored bytes in `input` when it was
/// left there, else `part` (its decoded bytes).
fn stored_or<'a>(
    input: &'a [u8],
    raw: &[Option<std::ops::Range<usize>>],
    i: usize,
    part: &'a [u8],
) -> Result<&'a [u8]> {
    match raw.get(i).cloned().flatten() {
        Some(r) => input
            .get(r)
            .ok_or_else(|| corrupt(NAME, "truncated stream")),
        None => Ok(part),
    }
}

thread_local! {
    /// Per-thread block buffer, reused across chunks (a zeroed block-sized allocation per chunk
    /// showed up in profiles).
    static BLOCK: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Block buffers larger than this are freed after use rather than kept by the thread.
const BLOCK_KEEP: usize = 16 << 20;

/// Decodes a Blosc1 chunk.
pub fn decompress(input: &[u8], size_hint: usize) -> Result<Vec<u8>> {
    let head = bytes::array::<16>(input, 0)
        .ok_or_else(|| corrupt(NAME, "chunk shorter than the 16-byte header"))?;
    let nbytes = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let nbytes = check_claimed("blosc decoded size", u64::from(nbytes), size_hint)?;
    let mut out = vec![0u8; nbytes];
    decompress_into(input, &mut out)?;
    Ok(out)
}

/// Decodes a Blosc1 chunk into `out`, which must be exactly as long as the decoded size the
/// header records.
pub fn decompress_into(input: &[u8], out: &mut [u8]) -> Result<()> {
    let head = bytes::array::<16>(input, 0)
        .ok_or_else(|| corrupt(NAME, "chunk shorter than the 16-byte header"))?;
    let version = head[0];
    let flags = head[2];
    let typesize = usize::from(head[3]);
    let nbytes = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let blocksize = u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize;
    if u64::from(nbytes) != out.len() as u64 {
        return Err(corrupt(
            NAME,
            format!("chunk of {nbytes} bytes for {} expected", out.len()),
        ));
    }
    let nbytes = out.len();
    if nbytes == 0 {
        return Ok(());
    }
    if flags & 0x02 != 0 {
        let src = input
            .get(16..16 + nbytes)
            .ok_or_else(|| corrupt(NAME, "truncated uncompressed chunk"))?;
        out.copy_from_slice(src);
        return Ok(());
    }
    if blocksize == 0 {
        return Err(corrupt(NAME, "zero block size"));
    }
    let codec = Codec::from_code(flags >> 5);
    let byte_shuffle = flags & 0x01 != 0 && typesize > 1;
    let bit_shuffle = flags & 0x04 != 0;
    let dont_split = flags & 0x10 != 0;
    let nblocks = nbytes.div_ceil(blocksize);
    let mut raw = Vec::new();
    let mut decode = |tmp: &mut Vec<u8>| -> Result<()> {
        tmp.resize(blocksize.min(nbytes), 0);
        for (b, dst) in out.chunks_mut(blocksize).enumerate() {
            let start = bytes::le32(input, 16 + 4 * b)
                .ok_or_else(|| corrupt(NAME, "truncated block offsets"))?
                as usize;
            if start < 16 + 4 * nblocks {
                return Err(corrupt(NAME, "block offset inside the header"));
            }
            let leftover = dst.len() < blocksize;
            let split = !dont_split && !leftover && typesize > 1;
            if !byte_shuffle && !bit_shuffle {
                // no shuffle: the streams decode straight into the output
                let ok = split
                    && decode_block(input, start, dst, typesize, codec, false, &mut raw).is_ok();
                if !ok {
                    decode_block(input, start, dst, 1, codec, false, &mut raw)?;
                }
                continue;
            }
            let t = tmp
                .get_mut(..dst.len())
                .ok_or_else(|| corrupt(NAME, "block too large"))?;
            // stored (incompressible) streams are read in place when the unshuffle can take
            // them from there: byte planes, or the single stream of an unsplit block
            let mut ns = if split { typesize } else { 1 };
            let r = decode_block(input, start, t, ns, codec, byte_shuffle, &mut raw);
            if r.is_err() && split {
                ns = 1;
                decode_block(input, start, t, 1, codec, true, &mut raw)?;
            } else {
                r?;
            }
            let t = &*t;
            let stream = |i: usize, part| stored_or(input, &raw, i, part);
            if ns > 1 && byte_shuffle {
                let planes = t
                    .chunks_exact(t.len() / ns)
                    .enumerate()
                    .map(|(i, part)| stream(i, part))
                    .collect::<Result<Vec<&[u8]>>>()?;
                crate::shuffle::unshuffle_planes(&planes, dst);
                continue;
            }
            let data = if ns == 1 { stream(0, t)? } else { t };
            if byte_shuffle {
                crate::shuffle::unshuffle_into(data, dst, typesize);
            } else if dst.len() >= typesize {
                bit_unshuffle(data, dst, typesize, version);
            } else {
                dst.copy_from_slice(data);
            }
        }
        Ok(())
    };
    BLOCK.with(|cell| match cell.try_borrow_mut() {
        Ok(mut tmp) => {
            let r = decode(&mut tmp);
            if tmp.capacity() > BLOCK_KEEP {
                *tmp = Vec::new();
            }
            r
        }
        Err(_) => decode(&mut Vec::new()),
    })
}

impl Filter for Blosc {
    fn id(&self) -> u16 {
        32001
    }
    fn name(&self) -> &str {
        "blosc"
    }
    fn decode(&self, input: &[u8], _cd_values: &[u32], size_hint: usize) -> Result<Vec<u8>> {
        decompress(input, size_hint)
    }
    fn decode_to_slice(&self, input: &[u8], _cd_values: &[u32], out: &mut [u8]) -> bool {
        decompress_into(input, out).is_ok()
    }
    fn encode(&self, input: &[u8], cd_values: &[u32]) -> Result<Vec<u8>> {
        let typesize = cd_values.get(2).copied().unwrap_or(1).clamp(1, 255) as usize;
        let clevel = cd_values.get(4).copied().unwrap_or(5).min(9);
        let shuffle = cd_values.get(5).copied().unwrap_or(1);
        let compressor = cd_values.get(6).copied().unwrap_or(0);
        compress(input, typesize, clevel, shuffle, compressor)
    }
}

/// Encodes a Blosc1 chunk (format version 2).
///
/// `shuffle`: 0 none, 1 byte, 2 bit; `compressor`: 1 lz4, 2 lz4hc (written as lz4), 3 snappy,
/// 4 zlib, 5 zstd. blosclz (0) has no encoder here, and level 0 asks for no
/// compression: those chunks are stored uncompressed ("memcpyed"), which every Blosc reader
/// accepts. Blocks are split into byte streams exactly when c-blosc's forward-compatible rule
/// says so (type size ≤ 16, at least 128 elements per block, not the last short block), and
/// flag bit 4 records the choice, so old and new readers agree.
pub fn compress(
    input: &[u8],
    typesize: usize,
    clevel: u32,
    shuffle: u32,
    compressor: u32,
) -> Result<Vec<u8>> {
    let nbytes = u32::try_from(input.len())
        .ok()
        .filter(|&n| n <= i32::MAX as u32 - 16)
        .ok_or_else(|| Error::Invalid("blosc: buffer larger than 2 GiB".into()))?;
    let typesize = typesize.clamp(1, 255);
    let codec_code: u8 = match compressor {
        1 | 2 => 1,
        3 => 2,
        4 => 3,
        5 => 4,
        _ => 0,
    };
    let mut out = vec![2u8, 1, 0, typesize as u8];
    out.extend_from_slice(&nbytes.to_le_bytes());
    if clevel == 0 || codec_code == 0 || input.len() < 128 {
        out[2] = 0x02 | (codec_code << 5);
        out.extend_from_slice(&nbytes.to_le_bytes());
        out.extend_from_slice(&(nbytes + 16).to_le_bytes());
        out.extend_from_slice(input);
        return Ok(out);
    }
    let mut blocksize = input.len().min(64 << 10);
    if blocksize > typesize {
        blocksize = blocksize / typesize * typesize;
    }
    let mut flags = codec_code << 5;
    match shuffle {
        1 if typesize > 1 => flags |= 0x01,
        2 => flags |= 0x04,
        _ => {}
    }
    let split_rule = typesize <= 16 && blocksize / typesize >= 128;
    if !split_rule {
        flags |= 0x10;
    }
    out[2] = flags;
    out.extend_from_slice(&(blocksize as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    let nblocks = input.len().div_ceil(blocksize);
    let starts_at = out.len();
    out.resize(starts_at + 4 * nblocks, 0);
    for (b, block) in input.chunks(blocksize).enumerate() {
        let start = u32::try_from(out.len())
            .map_err(|_| Error::Invalid("blosc: chunk too large".into()))?;
        out[starts_at + 4 * b..starts_at + 4 * b + 4].copy_from_slice(&start.to_le_bytes());
        let shuffled = if flags & 0x01 != 0 {
            crate::shuffle::shuffle(block, typesize)
        } else if flags & 0x04 != 0
            && block.len() >= typesize
            && (block.len() / typesize).is_multiple_of(8)
        {
            let n = block.len() / typesize;
            let mut t = vec![0u8; block.len()];
            crate::bitshuffle::transpose_block(block, &mut t, n, typesize);
            t
        } else {
            block.to_vec()
        };
        let leftover = block.len() < blocksize;
        let nstreams = if split_rule && !leftover { typesize } else { 1 };
        for stream in shuffled.chunks(shuffled.len().div_ceil(nstreams).max(1)) {
            let c = match codec_code {
                1 => crate::lz4::block_compress(stream),
                2 => snap::raw::Encoder::new()
                    .compress_vec(stream)
                    .map_err(|e| Error::Invalid(format!("blosc snappy: {e}")))?,
                3 => crate::deflate::deflate(stream, clevel)?,
                _ => crate::zstd::compress(stream, clevel as i32)?,
            };
            let body = if c.is_empty() || c.len() >= stream.len() {
                stream
            } else {
                &c[..]
            };
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(body);
        }
    }
    let total =
        u32::try_from(out.len()).map_err(|_| Error::Invalid("blosc: chunk too large".into()))?;
    out[12..16].copy_from_slice(&total.to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blosclz_hand_made() {
        // literal "abc", then a match of len 3+1=4 at distance 3 ("abca"), then literal "z".
        let stream = [2, b'a', b'b', b'c', (2 << 5), 2, 0, b'z'];
        let mut out = Vec::new();
        blosclz_decompress(&stream, &mut out, 100).unwrap();
        assert_eq!(out, b"abcabcaz");
        let mut out = Vec::new();
        assert!(blosclz_decompress(&stream, &mut out, 5).is_err());
        let mut out = Vec::new();
        assert!(blosclz_decompress(&[0, b'a', (2 << 5), 9, 0, 1], &mut out, 100).is_err());
    }

    #[test]
    fn encode_round_trip() {
        let data: Vec<u8> = (0..70_000u32).flat_map(|i| (i / 3).to_le_bytes()).collect();
        for typesize in [1u32, 4, 24] {
            for shuffle in [0u32, 1, 2] {
                for compressor in [0u32, 1, 2, 3, 4, 5] {
                    for len in [0usize, 100, 1000, 4096 + 3, data.len()] {
                        let d = &data[..len];
                        let cd = [2, 2, typesize, len as u32, 5, shuffle, compressor];
                        let z = Blosc.encode(d, &cd).unwrap();
                        assert_eq!(
                            Blosc.decode(&z, &cd, len).unwrap(),
                            d,
                            "{typesize} {shuffle} {compressor} {len}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn stored_streams_are_read_in_place() {
        // float-like elements: two noisy low bytes (streams stored uncompressed), two constant
        // high bytes (compressed streams); whole split blocks and a short last block
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let data: Vec<u8> = (0..100_003u32)
            .flat_map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                [x as u8, (x >> 8) as u8, 0x41, 0xA0]
            })
            .collect();
        for shuffle in [0u32, 1, 2] {
            for compressor in [1u32, 3, 4, 5] {
                let cd = [2, 2, 4, data.len() as u32, 5, shuffle, compressor];
                let z = Blosc.encode(&data, &cd).unwrap();
                // snappy finds no 4-byte match in unshuffled noisy elements
                if compressor != 3 || shuffle != 0 {
                    assert!(z.len() < data.len(), "{shuffle} {compressor}");
                }
                assert_eq!(Blosc.decode(&z, &cd, data.len()).unwrap(), data);
                let mut out = vec![0u8; data.len()];
                assert!(Blosc.decode_to_slice(&z, &cd, &mut out));
                assert_eq!(out, data, "{shuffle} {compressor}");
                for cut in [z.len() - 1, z.len() / 2, 40] {
                    assert!(Blosc.decode(&z[..cut], &cd, data.len()).is_err());
                }
            }
        }
    }

    #[test]
    fn memcpyed_and_bad_headers() {
        let mut c = vec![2, 1, 0x02, 1, 5, 0, 0, 0, 5, 0, 0, 0, 21, 0, 0, 0];
        c.extend_from_slice(b"hello");
        assert_eq!(Blosc.decode(&c, &[], 5).unwrap(), b"hello");
        assert!(Blosc.decode(&c[..18], &[], 5).is_err());
        let mut huge = c.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Blosc.decode(&huge, &[], 5),
            Err(Error::Limit { .. })
        ));
        let mut zero_block = c.clone();
        zero_block[2] = 0;
        zero_block[8..12].copy_from_slice(&[0; 4]);
        assert!(Blosc.decode(&zero_block, &[], 5).is_err());
    }
}
