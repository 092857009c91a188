//! Extensible-array chunk index (spec §VII Appendix C "Extensible Array"; layout v4 index
//! type 4; FORMAT-MAP §2.17), for datasets with exactly one unlimited dimension.
//!
//! Written with libhdf5's creation parameters ([`libhdf5_params`]: 32 bits of elements, 4
//! elements in the index block, 4 data-block pointers minimum per super block, 16 elements
//! minimum per data block, 2^10-element pages):
//! - header `EAHD`: version, client id, element size, the parameters, six statistics (super
//!   blocks and their bytes, data blocks and their bytes, the highest index set + 1, the
//!   elements realised), the index block address, checksum;
//! - index block `EAIB`: version, client, header address, the first elements, the addresses of
//!   the data blocks of the first `2·log2(min pointers)` super blocks, then the super block
//!   addresses, checksum;
//! - super block `EASB` *s* (for the later super blocks): version, client, header address,
//!   block offset, its `2^⌊s/2⌋` data-block addresses, checksum;
//! - data block `EADB`: version, client, header address, block offset, `16·2^⌈s/2⌉` elements,
//!   checksum.
//!
//! Only the blocks that hold elements below the highest index set are written; unused slots are
//! undefined addresses. Data blocks of more than 2^10 elements (super blocks 13 and later,
//! beyond about 131 000 elements) are paged: the block holds no elements, its pages (elements
//! and a checksum each) follow it, and its super block carries page-initialised bits (one bit
//! string, most significant bit first, numbered data block × pages per block + page, in
//! data blocks × ⌈pages / 8⌉ bytes); every page of a written data block is written.
//!
//! The block offset of a data block addressed by the index block is, as libhdf5 writes it, its super block's first element plus the data block's number *in the
//! whole index block* times its size (not the offset the spec describes; readers ignore it).

use super::fixed_array::{entry_size, put_entry, ChunkEntry};
use super::{Put, UNDEF};
use crate::messages::layout::ExtensibleArrayParams;
use crate::{Error, Result};

/// libhdf5's creation parameters of the extensible-array chunk index.
pub fn libhdf5_params() -> ExtensibleArrayParams {
    ExtensibleArrayParams {
        max_elements_bits: 32,
        index_block_elements: 4,
        min_data_block_pointers: 4,
        min_data_block_elements: 16,
        page_bits: 10,
    }
}

/// Encoded size of the header.
pub const HEADER_SIZE: usize = 4 + 1 + 1 + 6 + 6 * 8 + 8 + 4;

fn log2(v: u64) -> u32 {
    63 - v.max(1).leading_zeros()
}

struct Super {
    ndblks: u64,
    dblk_nelmts: u64,
    start_idx: u64,
}

/// Encodes an extensible array holding `entries` (element *i* = chunk *i* of the swizzled
/// grid) whose header is placed at `base`, its blocks right after; `size_width` is given for
/// filtered chunks. Returns the bytes to write at `base`.
pub fn encode(
    entries: &[Option<ChunkEntry>],
    size_width: Option<usize>,
    p: &ExtensibleArrayParams,
    base: u64,
) -> Result<Vec<u8>> {
    let dmin = u64::from(p.min_data_block_elements);
    let minptrs = u64::from(p.min_data_block_pointers);
    if !dmin.is_power_of_two()
        || !minptrs.is_power_of_two()
        || log2(dmin) > u32::from(p.max_elements_bits)
        || p.max_elements_bits > 64
        || size_width.is_some_and(|w| !(1..=8).contains(&w))
    {
        return Err(Error::Invalid("extensible array parameters".into()));
    }
    let es = entry_size(size_width);
    let client = u8::from(size_width.is_some());
    let arr_off = (p.max_elements_bits as usize).div_ceil(8);
    let ibe = u64::from(p.index_block_elements);
    let page = 1u64 << p.page_bits;
    // Elements up to the last set one.
    let n = entries
        .iter()
        .rposition(Option::is_some)
        .map_or(0, |i| i + 1) as u64;
    if n > (1u64 << p.max_elements_bits.min(63)) {
        return Err(Error::unsupported(format!(
            "an extensible array of {n} elements"
        )));
    }
    let nsb = 1 + u32::from(p.max_elements_bits) - log2(dmin);
    let mut sbs = Vec::with_capacity(nsb as usize);
    let mut start = 0u64;
    for s in 0..nsb {
        let ndblks = 1u64 << (s / 2);
        let dblk_nelmts = dmin << s.div_ceil(2);
        sbs.push(Super {
            ndblks,
            dblk_nelmts,
            start_idx: start,
        });
        start = start.saturating_add(ndblks.saturating_mul(dblk_nelmts));
    }
    let iblk_nsb = 2 * log2(minptrs) as usize;
    let n_iblk_dblks = 2 * (minptrs - 1);
    let n_sblk_addrs = (nsb as usize).saturating_sub(iblk_nsb);
    let iblk_size =
        4 + 1 + 1 + 8 + ibe as usize * es + (n_iblk_dblks as usize + n_sblk_addrs) * 8 + 4;
    let dblk_size = |nel: u64| 4 + 1 + 1 + 8 + arr_off + nel as usize * es + 4;
    // Pages per data block of a super block (0: its data blocks are not paged).
    let npages = |sb: &Super| {
        if sb.dblk_nelmts > page {
            sb.dblk_nelmts / page
        } else {
            0
        }
    };
    let bitmap_len = |sb: &Super| npages(sb).div_ceil(8) as usize;
    let sblk_size =
        |sb: &Super| 4 + 1 + 1 + 8 + arr_off + sb.ndblks as usize * (bitmap_len(sb) + 8) + 4;

    let iblk_addr = base + HEADER_SIZE as u64;
    let mut pos = iblk_addr + iblk_size as u64;
    let mut blocks: Vec<u8> = Vec::new();
    let mut iblk_dblks = vec![UNDEF; n_iblk_dblks as usize];
    let mut iblk_sblks = vec![UNDEF; n_sblk_addrs];
    let (mut nsblks_made, mut sblk_bytes, mut ndblks_made, mut dblk_bytes) =
        (0u64, 0u64, 0u64, 0u64);
    let mut realised = ibe;
    let mut global_dblk = 0u64;
    for (s, sb) in sbs.iter().enumerate() {
        if ibe + sb.start_idx >= n {
            break;
        }
        let in_iblk = s < iblk_nsb;
        let mut sb_addrs = Vec::new();
        let sb_pos = pos;
        let mut sb_bytes = Vec::new();
        if !in_iblk {
            pos += sblk_size(sb) as u64;
        }
        for k in 0..sb.ndblks {
            let first = ibe + sb.start_idx + k * sb.dblk_nelmts;
            if first >= n {
                if in_iblk {
                    global_dblk += 1;
                }
                sb_addrs.push(UNDEF);
                continue;
            }
            let paged = npages(sb) > 0;
            if paged && in_iblk {
                return Err(Error::unsupported(
                    "paged extensible array data blocks addressed by the index block",
                ));
            }
            let block_off = if in_iblk {
                sb.start_idx + global_dblk * sb.dblk_nelmts
            } else {
                sb.start_idx + k * sb.dblk_nelmts
            };
            let mut d = Vec::with_capacity(dblk_size(sb.dblk_nelmts));
            d.extend_from_slice(b"EADB");
            d.u8(0);
            d.u8(client);
            d.u64(base);
            d.extend_from_slice(&block_off.to_le_bytes()[..arr_off]);
            if !paged {
                for i in first..first + sb.dblk_nelmts {
                    let e = entries.get(i as usize).and_then(Option::as_ref);
                    put_entry(&mut d, e, size_width);
                }
            }
            let sum = crate::checksum::lookup3(&d, 0);
            d.u32(sum);
            if paged {
                // Every page is written (and marked initialised in the super block).
                for pg in 0..npages(sb) {
                    let mut b = Vec::with_capacity(page as usize * es + 4);
                    let start = first + pg * page;
                    for i in start..start + page {
                        let e = entries.get(i as usize).and_then(Option::as_ref);
                        put_entry(&mut b, e, size_width);
                    }
                    let sum = crate::checksum::lookup3(&b, 0);
                    b.u32(sum);
                    d.extend_from_slice(&b);
                }
            }
            let addr = pos;
            pos += d.len() as u64;
            ndblks_made += 1;
            dblk_bytes += d.len() as u64;
            realised += sb.dblk_nelmts;
            sb_bytes.extend_from_slice(&d);
            if in_iblk {
                if let Some(slot) = iblk_dblks.get_mut(global_dblk as usize) {
                    *slot = addr;
                }
                global_dblk += 1;
            } else {
                sb_addrs.push(addr);
            }
        }
        if !in_iblk {
            let mut h = Vec::with_capacity(sblk_size(sb));
            h.extend_from_slice(b"EASB");
            h.u8(0);
            h.u8(client);
            h.u64(base);
            h.extend_from_slice(&sb.start_idx.to_le_bytes()[..arr_off]);
            if npages(sb) > 0 {
                // Page-initialised bits, most significant first, numbered data block ×
                // pages + page: set for the pages of the data blocks written.
                let np = npages(sb);
                let mut bits = vec![0u8; sb.ndblks as usize * bitmap_len(sb)];
                for (k, a) in sb_addrs.iter().enumerate() {
                    if *a == UNDEF {
                        continue;
                    }
                    for pg in 0..np {
                        let i = k as u64 * np + pg;
                        if let Some(byte) = bits.get_mut((i / 8) as usize) {
                            *byte |= 0x80 >> (i % 8);
                        }
                    }
                }
                h.extend_from_slice(&bits);
            }
            for a in &sb_addrs {
                h.u64(*a);
            }
            let sum = crate::checksum::lookup3(&h, 0);
            h.u32(sum);
            if let Some(slot) = iblk_sblks.get_mut(s - iblk_nsb) {
                *slot = sb_pos;
            }
            nsblks_made += 1;
            sblk_bytes += h.len() as u64;
            blocks.extend_from_slice(&h);
        }
        blocks.extend_from_slice(&sb_bytes);
    }

    let mut out = Vec::with_capacity(HEADER_SIZE + iblk_size + blocks.len());
    out.extend_from_slice(b"EAHD");
    out.u8(0);
    out.u8(client);
    out.u8(es as u8);
    out.u8(p.max_elements_bits);
    out.u8(p.index_block_elements);
    out.u8(p.min_data_block_elements);
    out.u8(p.min_data_block_pointers);
    out.u8(p.page_bits);
    out.u64(nsblks_made);
    out.u64(sblk_bytes);
    out.u64(ndblks_made);
    out.u64(dblk_bytes);
    out.u64(n);
    out.u64(realised);
    out.u64(iblk_addr);
    let sum = crate::checksum::lookup3(&out, 0);
    out.u32(sum);

    let mut ib = Vec::with_capacity(iblk_size);
    ib.extend_from_slice(b"EAIB");
    ib.u8(0);
    ib.u8(client);
    ib.u64(base);
    for i in 0..ibe {
        put_entry(
            &mut ib,
            entries.get(i as usize).and_then(Option::as_ref),
            size_width,
        );
    }
    for a in &iblk_dblks {
        ib.u64(*a);
    }
    for a in &iblk_sblks {
        ib.u64(*a);
    }
    let sum = crate::checksum::lookup3(&ib, 0);
    ib.u32(sum);
    out.extend_from_slice(&ib);
    out.extend_from_slice(&blocks);
    if out.len() as u64 != pos - base {
        return Err(Error::Invalid("extensible array layout".into()));
    }
    Ok(out)
}
