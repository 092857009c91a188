//! The HDF5 filter pipeline (spec §IV.A.2.l "Filter Pipeline Message") and its codecs.
//!
//! Each filter lives in its own module named after it, documenting its id and `cd_values`.
//! A [`Registry`] maps filter ids to [`Filter`] implementations; [`Registry::default`] holds
//! every built-in filter, and users can [`Registry::register`] their own.
//!
//! # Filters
//!
//! | id | module | decode | encode |
//! |---:|---|---|---|
//! | 1 | [`deflate`] | yes (libdeflate, zlib-rs fallback) | yes |
//! | 2 | [`shuffle`] | yes | yes |
//! | 3 | [`fletcher32`] | yes (checksum verified) | yes |
//! | 4 | [`szip`] | yes (own CCSDS 121.0 decoder) | yes (split-sample/uncompressed blocks) |
//! | 5 | [`nbit`] | yes | yes |
//! | 6 | [`scaleoffset`] | yes (integer, float D-scale) | yes |
//! | 307 | [`bzip2`] | yes | yes |
//! | 32000 | [`lzf`] | yes | yes |
//! | 32001 | [`blosc`] | yes (blosclz, lz4, snappy, zlib, zstd) | yes (lz4, snappy, zlib, zstd) |
//! | 32004 | [`lz4`] | yes | yes |
//! | 32008 | [`bitshuffle`] | yes (none, lz4, zstd) | yes |
//! | 32015 | [`zstd`] | yes | yes |
//! | 32026 | [`blosc2`] | yes (no delta filter, dictionaries, user codecs) | no |
//!
//! # Running a pipeline
//!
//! To read a chunk, call [`Filter::decode`] for each filter of the dataset's pipeline in
//! *reverse* order, skipping filter `i` when bit `i` of the chunk's filter mask is set, and pass
//! every stage the chunk's decoded byte size (`chunk dims × element size`) as `size_hint`.
//! Every filter takes what it needs from its own `cd_values` (libhdf5's `set_local` stores the
//! element size, datatype description, chunk element count, ... there), so no stage needs the
//! dataset's datatype. Two outputs are worth knowing about:
//! - [`nbit`] returns bytes in the *file* datatype with every bit outside the significant
//!   `precision`/`offset` range set to 0; the normal datatype conversion (precision, offset,
//!   sign extension) then produces memory values, exactly as after libhdf5's filter.
//! - [`scaleoffset`] returns elements in the dataset's byte order (from its `cd_values`).
//!
//! An unknown filter id has no entry in the registry; a known filter given a variant it does
//! not implement returns [`Error::Unsupported`]; bad data returns [`Error::Corrupt`]
//! (structure `"filter <name>"`, address 0: the caller knows the chunk address), a fletcher32
//! mismatch [`Error::Checksum`], and a stream that would decode past the size bound
//! [`Error::Limit`].
//!
//! Every decoder bounds its output by [`output_limit`] of the `size_hint` it is given, so a
//! hostile chunk cannot make it allocate more than about twice the expected chunk size
//! (plus 1 MiB of slack, at most 4 GiB).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::HashMap;
use std::sync::Arc;

pub use h5oxide_format::{Error, Result};

pub mod bitshuffle;
pub mod blosc;
pub mod blosc2;
pub mod bzip2;
pub mod deflate;
pub mod fletcher32;
pub mod lz4;
pub mod lzf;
pub mod nbit;
pub mod scaleoffset;
pub mod shuffle;
pub mod szip;
pub mod zstd;

/// One codec of the filter pipeline.
pub trait Filter: Send + Sync {
    /// The HDF5 filter id (1 deflate, 2 shuffle, ... 32000 lzf, ...).
    fn id(&self) -> u16;

    /// A human-readable name.
    fn name(&self) -> &str;

    /// Undoes this filter on read. `cd_values` are the client data values stored in the pipeline
    /// message; `size_hint` is the expected decoded size (the chunk's byte size), which
    /// implementations use to preallocate and to bound their output.
    fn decode(&self, input: &[u8], cd_values: &[u32], size_hint: usize) -> Result<Vec<u8>>;

    /// Undoes this filter straight into `out`, for data that decodes to exactly `out.len()`
    /// bytes: the fast path of the chunk reader, which decodes into the destination (or a
    /// reused buffer) without allocating.
    ///
    /// Returns `true` when `out` now holds the decoded data. `false` means "not handled here"
    /// (no such path for this filter, a decoded size other than `out.len()`, or data this path
    /// rejects): `out`'s content is then unspecified and the caller must use [`Filter::decode`],
    /// which gives the authoritative result or error. The default handles nothing.
    fn decode_to_slice(&self, input: &[u8], cd_values: &[u32], out: &mut [u8]) -> bool {
        let _ = (input, cd_values, out);
        false
    }

    /// Applies this filter on write. Filters that cannot encode return [`Error::Unsupported`].
    fn encode(&self, input: &[u8], cd_values: &[u32]) -> Result<Vec<u8>> {
        let _ = (input, cd_values);
        Err(Error::unsupported(format!(
            "encoding with filter {} ({})",
            self.id(),
            self.name()
        )))
    }
}

/// Filters by id.
#[derive(Clone)]
pub struct Registry {
    filters: HashMap<u16, Arc<dyn Filter>>,
}

impl Registry {
    /// An empty registry.
    pub fn empty() -> Self {
        Registry {
            filters: HashMap::new(),
        }
    }

    /// Adds (or replaces) a filter.
    pub fn register(&mut self, filter: Arc<dyn Filter>) {
        self.filters.insert(filter.id(), filter);
    }

    /// The filter with this id, if registered.
    pub fn get(&self, id: u16) -> Option<&Arc<dyn Filter>> {
        self.filters.get(&id)
    }

    /// The ids of all registered filters, sorted.
    pub fn ids(&self) -> Vec<u16> {
        let mut ids: Vec<u16> = self.filters.keys().copied().collect();
        ids.sort_unstable();
        ids
    }
}

impl Default for Registry {
    /// Every built-in filter.
    fn default() -> Self {
        let mut r = Registry::empty();
        r.register(Arc::new(deflate::Deflate));
        r.register(Arc::new(shuffle::Shuffle));
        r.register(Arc::new(fletcher32::Fletcher32));
        r.register(Arc::new(szip::Szip));
        r.register(Arc::new(nbit::Nbit));
        r.register(Arc::new(scaleoffset::ScaleOffset));
        r.register(Arc::new(lzf::Lzf));
        r.register(Arc::new(blosc::Blosc));
        r.register(Arc::new(lz4::Lz4));
        r.register(Arc::new(bitshuffle::Bitshuffle));
        r.register(Arc::new(zstd::Zstd));
        r.register(Arc::new(bzip2::Bzip2));
        r.register(Arc::new(blosc2::Blosc2));
        r
    }
}

/// Largest decoded buffer any filter produces, whatever the size hint (4 GiB; HDF5 chunks are
/// limited to 32-bit sizes).
pub const MAX_DECODED: u64 = 4 << 30;

/// The most bytes a decoder may produce for a given `size_hint`:
/// `2 * size_hint + 1 MiB`, capped at [`MAX_DECODED`].
///
/// The slack covers intermediate pipeline stages that are a little larger than the chunk
/// (e.g. the data under a fletcher32 checksum) and callers passing a rough hint.
pub fn output_limit(size_hint: usize) -> usize {
    let hint = u64::try_from(size_hint).unwrap_or(u64::MAX);
    let lim = hint
        .saturating_mul(2)
        .saturating_add(1 << 20)
        .min(MAX_DECODED);
    usize::try_from(lim).unwrap_or(usize::MAX)
}

/// Checks a decoded size claimed by a stream header against [`output_limit`].
pub(crate) fn check_claimed(what: &'static str, claimed: u64, size_hint: usize) -> Result<usize> {
    let limit = output_limit(size_hint) as u64;
    if claimed > limit {
        return Err(Error::Limit {
            what,
            requested: claimed,
            limit,
        });
    }
    usize::try_from(claimed).map_err(|_| Error::Limit {
        what,
        requested: claimed,
        limit,
    })
}

/// `Error::Corrupt` for filter `name`.
pub(crate) fn corrupt(structure: &'static str, reason: impl Into<String>) -> Error {
    Error::corrupt(structure, 0, reason)
}

/// `Error::Limit` for an output that grew past [`output_limit`].
pub(crate) fn too_big(what: &'static str, requested: usize, size_hint: usize) -> Error {
    Error::Limit {
        what,
        requested: requested as u64,
        limit: output_limit(size_hint) as u64,
    }
}

/// Reads a `u32` cd_value, or fails with a corrupt error naming the filter.
pub(crate) fn cd(cd_values: &[u32], i: usize, structure: &'static str) -> Result<u32> {
    cd_values.get(i).copied().ok_or_else(|| {
        corrupt(
            structure,
            format!("missing cd_values[{i}] (have {})", cd_values.len()),
        )
    })
}

/// Reads a decoder to its end, failing with [`Error::Limit`] past [`output_limit`].
pub(crate) fn read_bounded(
    mut reader: impl std::io::Read,
    size_hint: usize,
    structure: &'static str,
    what: &'static str,
) -> Result<Vec<u8>> {
    let limit = output_limit(size_hint);
    let mut out = Vec::with_capacity(size_hint.min(limit));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut reader, cap), &mut out)
        .map_err(|e| corrupt(structure, format!("{what}: {e}")))?;
    if out.len() > limit {
        return Err(too_big(what, out.len(), size_hint));
    }
    Ok(out)
}

/// Big-endian integer readers over untrusted input.
pub(crate) mod bytes {
    /// `input[at..at+N]` as an array, if in bounds.
    pub fn array<const N: usize>(input: &[u8], at: usize) -> Option<[u8; N]> {
        let end = at.checked_add(N)?;
        input.get(at..end)?.try_into().ok()
    }
    /// Big-endian u32 at `at`.
    pub fn be32(input: &[u8], at: usize) -> Option<u32> {
        array::<4>(input, at).map(u32::from_be_bytes)
    }
    /// Big-endian u64 at `at`.
    pub fn be64(input: &[u8], at: usize) -> Option<u64> {
        array::<8>(input, at).map(u64::from_be_bytes)
    }
    /// Little-endian u32 at `at`.
    #[allow(dead_code)]
    pub fn le32(input: &[u8], at: usize) -> Option<u32> {
        array::<4>(input, at).map(u32::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_registry_has_all_builtins() {
        let r = Registry::default();
        assert_eq!(
            r.ids(),
            vec![1, 2, 3, 4, 5, 6, 307, 32000, 32001, 32004, 32008, 32015, 32026]
        );
        for id in r.ids() {
            let f = r.get(id).expect("registered");
            assert_eq!(f.id(), id);
            assert!(!f.name().is_empty());
        }
    }

    #[test]
    fn decode_to_slice_agrees_with_decode() {
        let data: Vec<u8> = (0..40_000u32)
            .map(|i| ((i / 13) ^ (i.wrapping_mul(2654435761) >> 29)) as u8)
            .collect();
        let r = Registry::default();
        // (id, cd_values) of encodable filters, with the values libhdf5 / the plugins store
        let cases: [(u16, Vec<u32>); 8] = [
            (1, vec![4]),
            (2, vec![4]),
            (2, vec![8]),
            (32000, vec![4, 261, data.len() as u32]),
            (32001, vec![2, 2, 4, data.len() as u32, 5, 1, 1]),
            (32004, vec![0]),
            (32008, vec![0, 4, 4, 0, 2]),
            (32015, vec![3]),
        ];
        for (id, cdv) in cases {
            let f = r.get(id).expect("registered");
            let z = f.encode(&data, &cdv).expect("encodes");
            let want = f.decode(&z, &cdv, data.len()).expect("decodes");
            assert_eq!(want, data, "filter {id}");
            let mut out = vec![0u8; data.len()];
            assert!(f.decode_to_slice(&z, &cdv, &mut out), "filter {id}");
            assert_eq!(out, data, "filter {id}");
            // a destination of another size is never "done"
            let mut short = vec![0u8; data.len() - 4];
            assert!(
                !f.decode_to_slice(&z, &cdv, &mut short),
                "filter {id} short"
            );
            let mut long = vec![0u8; data.len() + 4];
            assert!(!f.decode_to_slice(&z, &cdv, &mut long), "filter {id} long");
            // garbage is not decoded here either
            if id != 2 {
                assert!(
                    !f.decode_to_slice(&z[..z.len() / 2], &cdv, &mut out),
                    "filter {id}"
                );
            }
        }
    }

    #[test]
    fn limit_is_bounded() {
        assert_eq!(output_limit(0), 1 << 20);
        assert_eq!(
            output_limit(usize::MAX) as u64,
            MAX_DECODED.min(usize::MAX as u64)
        );
    }
}
