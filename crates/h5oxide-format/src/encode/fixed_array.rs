//! Fixed-array chunk index (spec §VII Appendix C "Fixed Array"; layout v4 index type 3;
//! FORMAT-MAP §2.17), and the chunk entries shared with the extensible array.
//!
//! - Header `FAHD`: version 0, client id (0 unfiltered chunks, 1 filtered), entry size, page
//!   bits, number of entries (L), data block address, checksum.
//! - Data block `FADB`: version 0, client id, header address, then the entries and a checksum;
//!   or, when there are more than 2^page-bits entries, a page-initialised bitmap (most
//!   significant bit first) and the checksum, followed back to back by the pages (entries and a
//!   checksum each, the last one partial). Every page is written and marked initialised.
//!
//! Entry *i* is the chunk numbered *i* row-major over the grid of the maximum dimensions: its
//! address (undefined when not allocated), and for filtered chunks its stored size (in
//! [`super::layout::filtered_size_width`] bytes) and filter mask.

use super::{Put, UNDEF};
use crate::{Error, Result};

/// One allocated chunk of an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkEntry {
    /// Address of the stored chunk.
    pub address: u64,
    /// Stored (filtered) size in bytes.
    pub size: u64,
    /// Filter mask: bit *i* set when filter *i* was skipped.
    pub filter_mask: u32,
}

/// Size of one array entry: the address, plus the size and mask when `size_width` is given
/// (filtered chunks).
pub fn entry_size(size_width: Option<usize>) -> usize {
    8 + size_width.map_or(0, |w| w + 4)
}

/// Appends the encoding of one array entry (unallocated: undefined address, size 0, mask 0).
pub fn put_entry(b: &mut Vec<u8>, e: Option<&ChunkEntry>, size_width: Option<usize>) {
    b.u64(e.map_or(UNDEF, |e| e.address));
    if let Some(w) = size_width {
        b.extend_from_slice(&e.map_or(0, |e| e.size).to_le_bytes()[..w]);
        b.u32(e.map_or(0, |e| e.filter_mask));
    }
}

/// Encoded size of the fixed array header.
pub const HEADER_SIZE: usize = 4 + 1 + 1 + 1 + 1 + 8 + 8 + 4;

/// Encodes a fixed array of `entries` (one per chunk of the maximum grid) whose header is
/// placed at `base`, the data block (and its pages) right after; `size_width` is given for
/// filtered chunks. Returns the bytes to write at `base`.
pub fn encode(
    entries: &[Option<ChunkEntry>],
    size_width: Option<usize>,
    page_bits: u8,
    base: u64,
) -> Result<Vec<u8>> {
    if page_bits >= 32 || size_width.is_some_and(|w| !(1..=8).contains(&w)) {
        return Err(Error::Invalid(format!(
            "fixed array: page bits {page_bits}, size width {size_width:?}"
        )));
    }
    let es = entry_size(size_width);
    let client = u8::from(size_width.is_some());
    let n = entries.len() as u64;
    let dblk = base + HEADER_SIZE as u64;
    let mut out = Vec::with_capacity(HEADER_SIZE + 32 + entries.len() * (es + 1));
    out.extend_from_slice(b"FAHD");
    out.u8(0);
    out.u8(client);
    out.u8(es as u8);
    out.u8(page_bits);
    out.u64(n);
    out.u64(dblk);
    let sum = crate::checksum::lookup3(&out, 0);
    out.u32(sum);

    let mut d = Vec::new();
    d.extend_from_slice(b"FADB");
    d.u8(0);
    d.u8(client);
    d.u64(base);
    let page = 1usize << page_bits;
    let paged = entries.len() > page;
    if paged {
        let npages = entries.len().div_ceil(page);
        let mut bitmap = vec![0u8; npages.div_ceil(8)];
        for p in 0..npages {
            if let Some(byte) = bitmap.get_mut(p / 8) {
                *byte |= 0x80 >> (p % 8);
            }
        }
        d.extend_from_slice(&bitmap);
    } else {
        for e in entries {
            put_entry(&mut d, e.as_ref(), size_width);
        }
    }
    let sum = crate::checksum::lookup3(&d, 0);
    d.u32(sum);
    out.extend_from_slice(&d);
    if paged {
        for chunk in entries.chunks(page) {
            let mut pg = Vec::with_capacity(chunk.len() * es + 4);
            for e in chunk {
                put_entry(&mut pg, e.as_ref(), size_width);
            }
            let sum = crate::checksum::lookup3(&pg, 0);
            pg.u32(sum);
            out.extend_from_slice(&pg);
        }
    }
    Ok(out)
}
