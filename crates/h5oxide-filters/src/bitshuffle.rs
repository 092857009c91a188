//! Bitshuffle filter, HDF5 registered filter id **32008** (from the `bitshuffle` project,
//! <https://github.com/kiyo-masui/bitshuffle>; also in hdf5plugin).
//!
//! `cd_values`: `[0]` major and `[1]` minor version of the plugin that wrote the data,
//! `[2]` element size in bytes, `[3]` block size in elements (0 = default: 8192 bytes /
//! element size, rounded down to a multiple of 8, at least 128), `[4]` compression
//! (0 none, 2 LZ4, 3 Zstd; absent = none), `[5]` zstd level (encoding only).
//!
//! Bit transposition: the data is cut into blocks of `block` elements (a multiple of 8); a
//! final partial block is rounded down to a multiple of 8 elements and the last `n % 8`
//! elements are stored verbatim at the end. Within a block of `m` elements of `s` bytes, the
//! encoded block holds `8 * s` bit rows of `m / 8` bytes: row `8 * b + k` holds bit `k` of byte
//! `b` of every element, element `i` at bit `i % 8` of byte `i / 8`.
//!
//! With compression, the encoded chunk starts with an 8-byte big-endian decoded size and a
//! 4-byte big-endian block size *in bytes*; each transposed block is then stored as a 4-byte
//! big-endian compressed size and an LZ4 block or zstd frame, and the `n % 8` leftover
//! elements follow raw. Without compression there is no header.
//!
//! Known incompatibilities: a decoded size that is not a multiple of the element size is
//! rejected (the reference filter rejects it too).

use crate::{bytes, cd, check_claimed, corrupt, Error, Filter, Result};

/// The bitshuffle filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bitshuffle;

const NAME: &str = "filter bitshuffle";

/// Default block size (in elements) for an element size, as the bitshuffle library picks it.
pub fn default_block_size(elem_size: usize) -> usize {
    (8192 / elem_size.max(1) / 8 * 8).max(128)
}

/// Transposes an 8×8 bit matrix held in a `u64` (byte `r`, bit `c`) ↔ (byte `c`, bit `r`).
fn transpose8(mut x: u64) -> u64 {
    let t = (x ^ (x >> 7)) & 0x00AA_00AA_00AA_00AA;
    x ^= t ^ (t << 7);
    let t = (x ^ (x >> 14)) & 0x0000_CCCC_0000_CCCC;
    x ^= t ^ (t << 14);
    let t = (x ^ (x >> 28)) & 0x0000_0000_F0F0_F0F0;
    x ^ t ^ (t << 28)
}

/// Bit-transposes `m` elements (`m % 8 == 0`) of `s` bytes from `input` into `out`
/// (both `m * s` bytes long).
pub fn transpose_block(input: &[u8], out: &mut [u8], m: usize, s: usize) {
    let rowlen = m / 8;
    for b in 0..s {
        for g in 0..rowlen {
            let mut x = [0u8; 8];
            for (t, xt) in x.iter_mut().enumerate() {
                *xt = input.get((8 * g + t) * s + b).copied().unwrap_or(0);
            }
            let y = transpose8(u64::from_le_bytes(x)).to_le_bytes();
            for (k, yk) in y.iter().enumerate() {
                if let Some(o) = out.get_mut((8 * b + k) * rowlen + g) {
                    *o = *yk;
                }
            }
        }
    }
}

/// Undoes [`transpose_block`].
///
/// Two passes: the `8 * s` bit rows become `s` byte planes (plane `b` holds byte `b` of every
/// element), 64 or 128 elements at a time with in-register bit and byte transposes; then the
/// planes are interleaved by [`crate::shuffle::unshuffle_into`].
pub fn untranspose_block(input: &[u8], out: &mut [u8], m: usize, s: usize) {
    untranspose_block_with(input, out, m, s, &mut Vec::new());
}

/// [`untranspose_block`] with a reused buffer for the byte planes.
pub(crate) fn untranspose_block_with(
    input: &[u8],
    out: &mut [u8],
    m: usize,
    s: usize,
    planes: &mut Vec<u8>,
) {
    let rowlen = m / 8;
    let (Some(input), Some(out)) = (input.get(..m * s), out.get_mut(..m * s)) else {
        return;
    };
    if rowlen == 0 || s == 0 {
        return;
    }
    if s == 1 {
        bits_to_plane(input, out);
        return;
    }
    // every byte is written below: a buffer of the right size is reused as it is
    planes.resize(m * s, 0);
    for (eight, plane) in input
        .chunks_exact(8 * rowlen)
        .zip(planes.chunks_exact_mut(m))
    {
        bits_to_plane(eight, plane);
    }
    crate::shuffle::unshuffle_into(planes, out, s);
}

/// Eight bit rows (`rows`: row `k`, bit `k` of one byte of every element, `plane.len() / 8`
/// bytes each, one after the other) to one byte plane: `plane[e]` gets bit `k` from bit
/// `e % 8` of row `k`'s byte `e / 8`.
fn bits_to_plane(rows: &[u8], plane: &mut [u8]) {
    let rowlen = plane.len() / 8;
    if rowlen == 0 || rows.len() < 8 * rowlen {
        return;
    }
    let rows: [&[u8]; 8] =
        std::array::from_fn(|k| rows.get(k * rowlen..(k + 1) * rowlen).unwrap_or_default());
    let done = bits_to_plane_fast(&rows, plane);
    bits_to_plane_words(&rows, plane, done);
}

/// The SSE2 part of [`bits_to_plane`]: returns how many bytes of each row it did.
#[cfg(target_arch = "x86_64")]
fn bits_to_plane_fast(rows: &[&[u8]], plane: &mut [u8]) -> usize {
    sse2::bits_to_plane(rows, plane)
}

/// No vectorised path off x86_64: [`bits_to_plane_words`] does it all.
#[cfg(not(target_arch = "x86_64"))]
fn bits_to_plane_fast(_rows: &[&[u8]], _plane: &mut [u8]) -> usize {
    0
}

/// The 8×8 bit transposes with SSE2 on two `u64` lanes at once (the same steps as
/// [`bits_to_plane_words`]), through `safe_arch`'s safe wrappers of `core::arch`.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use safe_arch::{
        load_unaligned_m128i as load, m128i, set_splat_i64_m128i as splat,
        shl_imm_u64_m128i as shl, shr_imm_u64_m128i as shr, store_unaligned_m128i as store,
        unpack_high_i64_m128i as hi64, unpack_low_i64_m128i as lo64,
    };

    /// Swaps the fields `w[i] >> SH & m` and `w[j] & m` in both lanes.
    #[inline(always)]
    fn swap<const SH: i32>(w: &mut [m128i; 8], i: usize, j: usize, m: m128i) {
        let t = (shr::<SH>(w[i]) ^ w[j]) & m;
        w[j] ^= t;
        w[i] ^= shl::<SH>(t);
    }

    /// 128 elements (16 bytes of every row) at a time; returns the row bytes done.
    pub(super) fn bits_to_plane(rows: &[&[u8]], plane: &mut [u8]) -> usize {
        let Ok(rows): Result<&[&[u8]; 8], _> = rows.try_into() else {
            return 0;
        };
        let rowlen = plane.len() / 8;
        let whole = rowlen / 16;
        let m1 = splat(0x5555_5555_5555_5555);
        let m2 = splat(0x3333_3333_3333_3333);
        let m4 = splat(0x0F0F_0F0F_0F0F_0F0F);
        let m8 = splat(0x00FF_00FF_00FF_00FF);
        let m16 = splat(0x0000_FFFF_0000_FFFF);
        let m32 = splat(0x0000_0000_FFFF_FFFF);
        for (j, dst) in plane.chunks_exact_mut(128).take(whole).enumerate() {
            let mut w = [m128i::default(); 8];
            for (w, r) in w.iter_mut().zip(rows) {
                let Some(b) = r.get(16 * j..16 * j + 16).and_then(|b| b.try_into().ok()) else {
                    return 16 * j;
                };
                *w = load(b);
            }
            for k in [0, 2, 4, 6] {
                swap::<1>(&mut w, k, k + 1, m1);
            }
            for k in [0, 1, 4, 5] {
                swap::<2>(&mut w, k, k + 2, m2);
            }
            for k in [0, 1, 2, 3] {
                swap::<4>(&mut w, k, k + 4, m4);
            }
            for k in [0, 2, 4, 6] {
                swap::<8>(&mut w, k, k + 1, m8);
            }
            for k in [0, 1, 4, 5] {
                swap::<16>(&mut w, k, k + 2, m16);
            }
            for k in [0, 1, 2, 3] {
                swap::<32>(&mut w, k, k + 4, m32);
            }
            // lane 0 of w[g] is bytes 8g.. of the first 64 elements, lane 1 of the next 64
            let (first, second) = dst.split_at_mut(64);
            for (g, (a, b)) in first
                .chunks_exact_mut(16)
                .zip(second.chunks_exact_mut(16))
                .enumerate()
            {
                if let (Ok(a), Ok(b)) = (a.try_into(), b.try_into()) {
                    store(a, lo64(w[2 * g], w[2 * g + 1]));
                    store(b, hi64(w[2 * g], w[2 * g + 1]));
                }
            }
        }
        16 * whole
    }
}

/// Swaps the fields `w[i] >> sh & m` and `w[j] & m`.
#[inline(always)]
fn swap_fields(w: &mut [u64; 8], i: usize, j: usize, sh: u32, m: u64) {
    let t = ((w[i] >> sh) ^ w[j]) & m;
    w[j] ^= t;
    w[i] ^= t << sh;
}

/// [`bits_to_plane`] from byte `from` of every row (the part the SSE2 path left), with the
/// transposes on `u64` words: `plane[e]` gets bit `k` from bit `e % 8` of `rows[k][e / 8]`.
fn bits_to_plane_words(rows: &[&[u8]], plane: &mut [u8], from: usize) {
    let rowlen = plane.len() / 8;
    let Ok(rows): std::result::Result<&[&[u8]; 8], _> = rows.try_into() else {
        return;
    };
    let word = |r: &[u8], j: usize| {
        let mut b = [0u8; 8];
        if let Some(s) = r.get(8 * j..8 * j + 8) {
            b.copy_from_slice(s);
        }
        u64::from_le_bytes(b)
    };
    let whole = rowlen / 8;
    let first = from.div_ceil(8);
    for (j, dst) in plane
        .chunks_exact_mut(64)
        .enumerate()
        .take(whole)
        .skip(first)
    {
        // w[k] byte g: bit row k of elements 8 (8j + g) ..+ 8.
        let mut w: [u64; 8] = std::array::from_fn(|k| word(rows[k], j));
        // Bit transpose in every byte lane: w[t] byte g bit k = old w[k] byte g bit t.
        for k in [0, 2, 4, 6] {
            swap_fields(&mut w, k, k + 1, 1, 0x5555_5555_5555_5555);
        }
        for k in [0, 1, 4, 5] {
            swap_fields(&mut w, k, k + 2, 2, 0x3333_3333_3333_3333);
        }
        for k in [0, 1, 2, 3] {
            swap_fields(&mut w, k, k + 4, 4, 0x0F0F_0F0F_0F0F_0F0F);
        }
        // Byte transpose: w[g] byte t = element 8 (8j + g) + t.
        for k in [0, 2, 4, 6] {
            swap_fields(&mut w, k, k + 1, 8, 0x00FF_00FF_00FF_00FF);
        }
        for k in [0, 1, 4, 5] {
            swap_fields(&mut w, k, k + 2, 16, 0x0000_FFFF_0000_FFFF);
        }
        for k in [0, 1, 2, 3] {
            swap_fields(&mut w, k, k + 4, 32, 0x0000_0000_FFFF_FFFF);
        }
        for (o, x) in dst.chunks_exact_mut(8).zip(w) {
            o.copy_from_slice(&x.to_le_bytes());
        }
    }
    for g in (whole * 8).max(from)..rowlen {
        let mut x = 0u64;
        for (k, row) in rows.iter().enumerate() {
            x |= u64::from(row.get(g).copied().unwrap_or(0)) << (8 * k);
        }
        if let Some(o) = plane.get_mut(8 * g..8 * g + 8) {
            o.copy_from_slice(&transpose8(x).to_le_bytes());
        }
    }
}

/// Block sizes (in elements) the bitshuffle blocking produces for `n` elements.
fn block_sizes(n: usize, block: usize) -> impl Iterator<Item = usize> {
    let full = n / block;
    let last = n % block / 8 * 8;
    std::iter::repeat_n(block, full).chain((last > 0).then_some(last))
}

#[derive(Clone, Copy)]
enum Codec {
    None,
    Lz4,
    Zstd,
}

struct Params {
    elem: usize,
    block: usize,
    codec: Codec,
}

fn params(cd_values: &[u32]) -> Result<Params> {
    let elem = cd(cd_values, 2, NAME)? as usize;
    if elem == 0 {
        return Err(corrupt(NAME, "element size 0"));
    }
    let block = match cd_values.get(3) {
        Some(&b) if b > 0 => b as usize,
        _ => default_block_size(elem),
    };
    if block % 8 != 0 {
        return Err(corrupt(
            NAME,
            format!("block size {block} is not a multiple of 8"),
        ));
    }
    let codec = match cd_values.get(4).copied().unwrap_or(0) {
        0 => Codec::None,
        2 => Codec::Lz4,
        3 => Codec::Zstd,
        c => return Err(Error::unsupported(format!("bitshuffle compression {c}"))),
    };
    Ok(Params { elem, block, codec })
}

/// Undoes the bit transposition of an uncompressed chunk (`out` as long as `input`).
fn untranspose_all(input: &[u8], out: &mut [u8], p: &Params) -> Result<()> {
    let s = p.elem;
    if !input.len().is_multiple_of(s) || out.len() != input.len() {
        return Err(corrupt(
            NAME,
            "chunk size is not a multiple of the element size",
        ));
    }
    let n = input.len() / s;
    let mut pos = 0;
    let mut planes = Vec::new();
    for m in block_sizes(n, p.block) {
        let len = m * s;
        let src = input
            .get(pos..pos + len)
            .ok_or_else(|| corrupt(NAME, "truncated block"))?;
        let dst = out
            .get_mut(pos..pos + len)
            .ok_or_else(|| corrupt(NAME, "truncated block"))?;
        untranspose_block_with(src, dst, m, s, &mut planes);
        pos += len;
    }
    if let (Some(dst), Some(src)) = (out.get_mut(pos..), input.get(pos..)) {
        dst.copy_from_slice(src);
    }
    Ok(())
}

/// Decodes a compressed chunk (header, then LZ4 or zstd blocks) into `out`, whose length is
/// the decoded size the header claims (checked by the caller).
fn decode_compressed(input: &[u8], out: &mut [u8], p: &Params) -> Result<()> {
    let s = p.elem;
    let total = out.len();
    let block_bytes =
        bytes::be32(input, 8).ok_or_else(|| corrupt(NAME, "truncated header"))? as usize;
    if !total.is_multiple_of(s) {
        return Err(corrupt(
            NAME,
            "decoded size is not a multiple of the element size",
        ));
    }
    let block = block_bytes / s;
    if block == 0 || !block.is_multiple_of(8) {
        return Err(corrupt(NAME, format!("bad block size {block_bytes} bytes")));
    }
    let n = total / s;
    let mut tmp = vec![0u8; block.min(n) * s];
    let mut planes = Vec::new();
    let (mut pos, mut opos) = (12usize, 0usize);
    for m in block_sizes(n, block) {
        let len = m * s;
        let csize = bytes::be32(input, pos)
            .ok_or_else(|| corrupt(NAME, "truncated block header"))? as usize;
        pos += 4;
        let src = pos
            .checked_add(csize)
            .and_then(|end| input.get(pos..end))
            .ok_or_else(|| corrupt(NAME, "truncated block"))?;
        let t = tmp
            .get_mut(..len)
            .ok_or_else(|| corrupt(NAME, "block too large"))?;
        match p.codec {
            Codec::Lz4 => crate::lz4::block_exact(src, t, NAME)?,
            _ => crate::zstd::decompress_exact(src, t, NAME)?,
        }
        let dst = out
            .get_mut(opos..opos + len)
            .ok_or_else(|| corrupt(NAME, "block past the end"))?;
        untranspose_block_with(t, dst, m, s, &mut planes);
        pos += csize;
        opos += len;
    }
    let rest = total - opos;
    let src = input
        .get(pos..pos + rest)
        .ok_or_else(|| corrupt(NAME, "truncated leftover elements"))?;
    if let Some(dst) = out.get_mut(opos..) {
        dst.copy_from_slice(src);
    }
    Ok(())
}

impl Filter for Bitshuffle {
    fn id(&self) -> u16 {
        32008
    }
    fn name(&self) -> &str {
        "bitshuffle"
    }
    fn decode(&self, input: &[u8], cd_values: &[u32], size_hint: usize) -> Result<Vec<u8>> {
        let p = params(cd_values)?;
        if let Codec::None = p.codec {
            let mut out = vec![0u8; input.len()];
            untranspose_all(input, &mut out, &p)?;
            return Ok(out);
        }
        let total = bytes::be64(input, 0).ok_or_else(|| corrupt(NAME, "truncated header"))?;
        let total = check_claimed("bitshuffle decoded size", total, size_hint)?;
        let mut out = vec![0u8; total];
        decode_compressed(input, &mut out, &p)?;
        Ok(out)
    }

    fn decode_to_slice(&self, input: &[u8], cd_values: &[u32], out: &mut [u8]) -> bool {
        let Ok(p) = params(cd_values) else {
            return false;
        };
        if let Codec::None = p.codec {
            return input.len() == out.len() && untranspose_all(input, out, &p).is_ok();
        }
        bytes::be64(input, 0) == Some(out.len() as u64) && decode_compressed(input, out, &p).is_ok()
    }

    fn encode(&self, input: &[u8], cd_values: &[u32]) -> Result<Vec<u8>> {
        let p = params(cd_values)?;
        let s = p.elem;
        if !input.len().is_multiple_of(s) {
            return Err(Error::Invalid(
                "bitshuffle: data size is not a multiple of the element size".into(),
            ));
        }
        let n = input.len() / s;
        let mut out = Vec::with_capacity(input.len() + 16);
        if !matches!(p.codec, Codec::None) {
            out.extend_from_slice(&(input.len() as u64).to_be_bytes());
            let block_bytes = p
                .block
                .checked_mul(s)
                .and_then(|b| u32::try_from(b).ok())
                .ok_or_else(|| Error::Invalid("bitshuffle: block size too large".into()))?;
            out.extend_from_slice(&block_bytes.to_be_bytes());
        }
        let mut pos = 0;
        let level = cd_values
            .get(5)
            .map_or(3, |&l| i32::try_from(l).unwrap_or(3));
        for m in block_sizes(n, p.block) {
            let len = m * s;
            let mut t = vec![0u8; len];
            transpose_block(&input[pos..pos + len], &mut t, m, s);
            match p.codec {
                Codec::None => out.extend_from_slice(&t),
                Codec::Lz4 | Codec::Zstd => {
                    let c = match p.codec {
                        Codec::Lz4 => crate::lz4::block_compress(&t),
                        _ => crate::zstd::compress(&t, level)?,
                    };
                    out.extend_from_slice(&(c.len() as u32).to_be_bytes());
                    out.extend_from_slice(&c);
                }
            }
            pos += len;
        }
        out.extend_from_slice(&input[pos..]);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(input: &[u8], m: usize, s: usize) -> Vec<u8> {
        let mut out = vec![0u8; m * s];
        for i in 0..m {
            for b in 0..s {
                for k in 0..8 {
                    let bit = input[i * s + b] >> k & 1;
                    out[(8 * b + k) * (m / 8) + i / 8] |= bit << (i % 8);
                }
            }
        }
        out
    }

    #[test]
    fn transpose_matches_definition() {
        let data: Vec<u8> = (0..48 * 3u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 9) as u8)
            .collect();
        let mut t = vec![0u8; data.len()];
        transpose_block(&data, &mut t, 48, 3);
        assert_eq!(t, naive(&data, 48, 3));
        let mut back = vec![0u8; data.len()];
        untranspose_block(&t, &mut back, 48, 3);
        assert_eq!(back, data);
    }

    #[test]
    fn untranspose_matches_definition_for_all_shapes() {
        // whole 64-element groups, a partial group, element sizes with and without a fast
        // unshuffle
        for m in [8usize, 56, 64, 72, 128, 136, 200, 264, 1024, 2048] {
            for s in [1usize, 2, 3, 4, 8, 16] {
                let data: Vec<u8> = (0..(m * s) as u32)
                    .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
                    .collect();
                let mut back = vec![0u8; data.len()];
                untranspose_block(&naive(&data, m, s), &mut back, m, s);
                assert_eq!(back, data, "m {m} s {s}");
            }
        }
    }

    #[test]
    fn slice_path_matches_decode() {
        let data: Vec<u8> = (0..10_003u32 * 4).map(|i| (i / 40) as u8).collect();
        for codec in [0u32, 2, 3] {
            let cdv = [0, 3, 4, 0, codec];
            let z = Bitshuffle.encode(&data, &cdv).unwrap();
            let mut out = vec![0u8; data.len()];
            assert!(Bitshuffle.decode_to_slice(&z, &cdv, &mut out), "{codec}");
            assert_eq!(out, data);
            assert!(!Bitshuffle.decode_to_slice(&z, &cdv, &mut out[4..]));
        }
    }

    #[test]
    fn round_trip_all_codecs() {
        let data: Vec<u8> = (0..10_003u32 * 4).map(|i| (i / 40) as u8).collect();
        for codec in [0u32, 2, 3] {
            for block in [0u32, 64, 1024] {
                let cdv = [0, 3, 4, block, codec];
                let z = Bitshuffle.encode(&data, &cdv).unwrap();
                assert_eq!(
                    Bitshuffle.decode(&z, &cdv, data.len()).unwrap(),
                    data,
                    "{codec} {block}"
                );
                for cut in [0, 3, 12, z.len() / 2] {
                    let _ = Bitshuffle.decode(&z[..cut], &cdv, data.len());
                }
            }
        }
        assert!(Bitshuffle.decode(&[0; 12], &[0, 3, 4, 0, 7], 12).is_err());
        assert!(Bitshuffle.decode(&[0; 12], &[0, 3, 0, 0, 0], 12).is_err());
    }
}
