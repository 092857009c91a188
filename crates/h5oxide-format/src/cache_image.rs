//! Metadata cache images: libhdf5's copy of its metadata cache, written at file close when the
//! file access properties ask for one (`H5Pset_mdc_image_config`).
//!
//! Not in the format specification (v4.0); described here from what libhdf5 writes (FORMAT-MAP
//! §2.2: message 0x18 in the superblock extension, flagged "fail if unknown"). The metadata in
//! the image (object headers, heaps, B-tree nodes, ...) *replaces* the file's copy at the same
//! address: the file's copy may never have been written (the corpus's
//! `hdf5/h5clear_mdc_image.h5` has zeros where its root object header is). A reader must apply
//! the image before it reads any metadata but the superblock and its extension.
//!
//! Message 0x18 (metadata cache image): version 0 (1 byte), then the image block's address
//! (size of offsets) and length (size of lengths).
//!
//! Image block: signature `MDCI`, version 0 (1 byte), flags (1 byte; bit 0 "adaptive resize
//! status follows" is not written by any libhdf5 release and is refused), the block's length
//! (size of lengths; equal to the message's), the number of entries (4 bytes, at least 1); then
//! per entry: type id, flags, ring, age (1 byte each), flush-dependency child count, dirty child
//! count, parent count (2 bytes each), LRU rank (4 bytes, signed), the entry's file address
//! (size of offsets) and length (size of lengths), one address per flush-dependency parent, and
//! the entry's bytes; the block ends with the Jenkins lookup3 checksum of all bytes before it.

use crate::checksum;
use crate::cursor::{is_undef, Cursor, Sizes};
use crate::{Error, Result};

/// Message type of the metadata cache image message (superblock extension only).
pub const MSG_CACHE_IMAGE: u16 = 0x18;

/// Where the cache image block is: `(address, length)` from a message 0x18 body.
pub fn decode_message(body: &[u8], addr: u64, sizes: Sizes) -> Result<(u64, u64)> {
    let mut c = Cursor::new(body, addr, "metadata cache image message", sizes);
    let version = c.u8()?;
    if version != 0 {
        return Err(Error::unsupported(format!(
            "metadata cache image message version {version}"
        )));
    }
    let block = c.offset()?;
    let len = c.length()?;
    if is_undef(block) || len == 0 {
        return Err(c.corrupt("undefined cache image block"));
    }
    Ok((block, len))
}

/// One metadata entry of a cache image: its file address and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEntry {
    /// File address (relative to the base address) the bytes stand for.
    pub addr: u64,
    /// The entry's on-disk image.
    pub bytes: Vec<u8>,
}

/// Decodes a cache image block (`block` holds all of it, read at `addr`): the entries sorted by
/// address. Entries must not overlap.
pub fn decode_block(block: &[u8], addr: u64, sizes: Sizes) -> Result<Vec<ImageEntry>> {
    const S: &str = "metadata cache image";
    checksum::verify(block, S, addr)?;
    let body = block.get(..block.len() - 4).unwrap_or_default();
    let mut c = Cursor::new(body, addr, S, sizes);
    c.signature(b"MDCI")?;
    let version = c.u8()?;
    if version != 0 {
        return Err(Error::unsupported(format!(
            "metadata cache image version {version}"
        )));
    }
    let flags = c.u8()?;
    if flags & 0x01 != 0 {
        return Err(Error::unsupported(
            "metadata cache image with adaptive resize status",
        ));
    }
    let len = c.length()?;
    if len != block.len() as u64 {
        return Err(c.corrupt(format!(
            "image length {len} but the block has {} bytes",
            block.len()
        )));
    }
    let count = c.u32()?;
    // An entry takes at least its fixed header and one byte.
    let min_entry = 14 + usize::from(sizes.offset) + usize::from(sizes.length) + 1;
    if count == 0 || count as usize > c.remaining() / min_entry {
        return Err(c.corrupt(format!("{count} entries in {} bytes", c.remaining())));
    }
    let mut entries = Vec::with_capacity(count as usize);
    for _ in 0..count {
        c.skip(4)?; // type id, flags, ring, age
        let _children = c.u16()?;
        let _dirty_children = c.u16()?;
        let parents = c.u16()?;
        c.skip(4)?; // LRU rank
        let at = c.offset()?;
        let size = c.length()?;
        if is_undef(at) || size == 0 {
            return Err(c.corrupt("entry with an undefined address or no bytes"));
        }
        c.skip(usize::from(parents) * usize::from(sizes.offset))?;
        let n = usize::try_from(size)
            .ok()
            .filter(|&n| n <= c.remaining())
            .ok_or_else(|| c.truncated(usize::try_from(size).unwrap_or(usize::MAX)))?;
        let bytes = c.bytes(n)?.to_vec();
        entries.push(ImageEntry { addr: at, bytes });
    }
    entries.sort_by_key(|e| e.addr);
    for w in entries.windows(2) {
        if let [a, b] = w {
            if a.addr.saturating_add(a.bytes.len() as u64) > b.addr {
                return Err(Error::corrupt(
                    S,
                    addr,
                    format!("entries at {:#x} and {:#x} overlap", a.addr, b.addr),
                ));
            }
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes() -> Sizes {
        Sizes {
            offset: 8,
            length: 8,
        }
    }

    fn block(entries: &[(u64, &[u8])], flags: u8) -> Vec<u8> {
        let mut b = b"MDCI".to_vec();
        b.push(0);
        b.push(flags);
        let len_at = b.len();
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for (addr, bytes) in entries {
            // type, flags, ring, age; no children; one flush-dependency parent; LRU rank -1
            b.extend_from_slice(&[1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff]);
            b.extend_from_slice(&addr.to_le_bytes());
            b.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            b.extend_from_slice(&96u64.to_le_bytes());
            b.extend_from_slice(bytes);
        }
        let total = b.len() as u64 + 4;
        b[len_at..len_at + 8].copy_from_slice(&total.to_le_bytes());
        let sum = checksum::lookup3(&b, 0);
        b.extend_from_slice(&sum.to_le_bytes());
        b
    }

    #[test]
    fn entries_sorted_and_checked() {
        let b = block(&[(800, b"second"), (200, b"first")], 0);
        let e = decode_block(&b, 4096, sizes()).unwrap();
        assert_eq!(
            e,
            vec![
                ImageEntry {
                    addr: 200,
                    bytes: b"first".to_vec()
                },
                ImageEntry {
                    addr: 800,
                    bytes: b"second".to_vec()
                }
            ]
        );
        // any flipped byte breaks the checksum
        for i in 0..b.len() {
            let mut bad = b.clone();
            bad[i] ^= 0x40;
            assert!(decode_block(&bad, 4096, sizes()).is_err(), "byte {i}");
        }
        for cut in 0..b.len() {
            assert!(decode_block(&b[..cut], 4096, sizes()).is_err());
        }
        let overlapping = block(&[(200, b"0123456789"), (205, b"x")], 0);
        assert!(decode_block(&overlapping, 0, sizes()).is_err());
        let resize = block(&[(200, b"x")], 1);
        assert!(matches!(
            decode_block(&resize, 0, sizes()),
            Err(Error::Unsupported { .. })
        ));
    }

    #[test]
    fn message() {
        let mut m = vec![0u8];
        m.extend_from_slice(&4096u64.to_le_bytes());
        m.extend_from_slice(&100u64.to_le_bytes());
        assert_eq!(decode_message(&m, 0, sizes()).unwrap(), (4096, 100));
        m[0] = 1;
        assert!(decode_message(&m, 0, sizes()).is_err());
        assert!(decode_message(&m[..5], 0, sizes()).is_err());
    }
}
