//! The superblock (spec §II.A, versions 0–3) and the search for it past a user block.
//!
//! The signature is looked for at byte 0, 512, 1024, 2048, ... (spec §II.A "Format Signature").
//! Every address in the file is relative to the base address, except the End of File Address,
//! which libhdf5 writes as an absolute size (FORMAT-MAP §2.23).

use crate::checksum;
use crate::cursor::{Cursor, Sizes, UNDEF};
use crate::source::Source;
use crate::symbol_table::SymbolTableEntry;
use crate::{Error, Result};

/// The 8-byte HDF5 format signature.
pub const SIGNATURE: [u8; 8] = [0x89, b'H', b'D', b'F', b'\r', b'\n', 0x1a, b'\n'];

/// A decoded superblock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superblock {
    /// Superblock version (0–3).
    pub version: u8,
    /// Physical file offset of the signature (the user block size).
    pub signature_offset: u64,
    /// Sizes of offsets and lengths.
    pub sizes: Sizes,
    /// Group leaf node K (v0/v1), default 4.
    pub group_leaf_node_k: u16,
    /// Group internal node K (v0/v1), default 16.
    pub group_internal_node_k: u16,
    /// Indexed storage internal node K (v1), default 32.
    pub indexed_storage_internal_node_k: u16,
    /// File consistency flags (v0/v1: 4 bytes; v2/v3: 1 byte).
    pub consistency_flags: u32,
    /// Base address: physical offset that file addresses are relative to.
    pub base_address: u64,
    /// Superblock extension object header address (v2/v3) or [`UNDEF`].
    pub extension_address: u64,
    /// End-of-file address as stored.
    pub eof_address: u64,
    /// Driver information block address (v0/v1) or [`UNDEF`].
    pub driver_info_address: u64,
    /// Root group object header address.
    pub root_object_header_address: u64,
    /// Root group symbol table entry (v0/v1 only).
    pub root_symbol_table_entry: Option<SymbolTableEntry>,
}

impl Superblock {
    /// Finds the signature (at 0, 512, 1024, ...) in `src`, addressed physically from byte 0,
    /// and decodes the superblock there.
    pub fn find(src: &dyn Source) -> Result<Superblock> {
        let size = src.size();
        let mut off = 0u64;
        loop {
            if off.saturating_add(8) > size {
                return Err(Error::BadSignature {
                    structure: "superblock (no HDF5 signature found)",
                    addr: 0,
                });
            }
            let sig = src.read(off, 8)?;
            if sig.as_ref() == SIGNATURE {
                return Self::decode_at(src, off);
            }
            off = if off == 0 { 512 } else { off.saturating_mul(2) };
        }
    }

    /// Decodes the superblock whose signature is at physical offset `off`.
    pub fn decode_at(src: &dyn Source, off: u64) -> Result<Superblock> {
        let avail = src.size().saturating_sub(off).min(256) as usize;
        let buf = src.read(off, avail)?;
        let mut c = Cursor::new(&buf, off, "superblock", Sizes::default());
        c.skip(8)?;
        let version = c.u8()?;
        match version {
            0 | 1 => Self::decode_v0_v1(c, version, off),
            2 | 3 => Self::decode_v2_v3(c, version, off),
            v => Err(Error::UnsupportedVersion {
                structure: "superblock",
                version: v as u32,
            }),
        }
    }

    fn decode_v0_v1(mut c: Cursor<'_>, version: u8, off: u64) -> Result<Superblock> {
        let free_space_version = c.u8()?;
        let root_ste_version = c.u8()?;
        c.skip(1)?;
        let shared_header_version = c.u8()?;
        if free_space_version != 0 || root_ste_version != 0 || shared_header_version != 0 {
            return Err(
                c.corrupt("unknown free-space, symbol-table-entry or shared-header version")
            );
        }
        let sizes = read_sizes(&mut c)?;
        c.skip(1)?;
        let group_leaf_node_k = c.u16()?;
        let group_internal_node_k = c.u16()?;
        if group_leaf_node_k == 0 || group_internal_node_k == 0 {
            return Err(c.corrupt("group B-tree K of 0"));
        }
        let consistency_flags = c.u32()?;
        let mut indexed_storage_internal_node_k = 32;
        if version == 1 {
            indexed_storage_internal_node_k = c.u16()?;
            c.skip(2)?;
            if indexed_storage_internal_node_k == 0 {
                return Err(c.corrupt("indexed storage K of 0"));
            }
        }
        let mut c = Cursor::new(c.rest(), c.addr(), "superblock", sizes);
        let base_address = c.offset()?;
        let _free_space = c.offset()?;
        let eof_address = c.offset()?;
        let driver_info_address = c.offset()?;
        let entry = SymbolTableEntry::decode(&mut c)?;
        Ok(Superblock {
            version,
            signature_offset: off,
            sizes,
            group_leaf_node_k,
            group_internal_node_k,
            indexed_storage_internal_node_k,
            consistency_flags,
            base_address: fix_base(base_address, off),
            extension_address: UNDEF,
            eof_address,
            driver_info_address,
            root_object_header_address: entry.object_header_address,
            root_symbol_table_entry: Some(entry),
        })
    }

    fn decode_v2_v3(mut c: Cursor<'_>, version: u8, off: u64) -> Result<Superblock> {
        let sizes = read_sizes(&mut c)?;
        let consistency_flags = c.u8()? as u32;
        let mut c2 = Cursor::new(c.rest(), c.addr(), "superblock", sizes);
        let base_address = c2.offset()?;
        let extension_address = c2.offset()?;
        let eof_address = c2.offset()?;
        let root = c2.offset()?;
        let end = c.pos() + c2.pos();
        let whole = c
            .data()
            .get(..end + 4)
            .ok_or_else(|| c.truncated(c2.pos() + 4))?;
        checksum::verify(whole, "superblock", off)?;
        Ok(Superblock {
            version,
            signature_offset: off,
            sizes,
            group_leaf_node_k: 4,
            group_internal_node_k: 16,
            indexed_storage_internal_node_k: 32,
            consistency_flags,
            base_address: fix_base(base_address, off),
            extension_address,
            eof_address,
            driver_info_address: UNDEF,
            root_object_header_address: root,
            root_symbol_table_entry: None,
        })
    }
}

/// libhdf5 rebases a file whose stored base address differs from where the signature was found
/// (FORMAT-MAP §2.23); so do we.
fn fix_base(stored: u64, sig_off: u64) -> u64 {
    if stored == UNDEF || stored != sig_off {
        sig_off
    } else {
        stored
    }
}

fn read_sizes(c: &mut Cursor<'_>) -> Result<Sizes> {
    let offset = c.u8()?;
    let length = c.u8()?;
    for (what, v) in [("size of offsets", offset), ("size of lengths", length)] {
        if !matches!(v, 2 | 4 | 8) {
            return Err(c.corrupt(format!("{what} is {v}")));
        }
    }
    Ok(Sizes { offset, length })
}
