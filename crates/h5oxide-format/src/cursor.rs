//! A bounds-checked little-endian reader over one structure's bytes.
//!
//! Every HDF5 metadata integer is little-endian; addresses are "Size of Offsets" bytes wide and
//! lengths "Size of Lengths" bytes wide (spec §II.A), both carried in [`Sizes`]. Every read
//! returns `Result`: running off the end is [`Error::Truncated`], never a panic.

use crate::{Error, Result};

/// The undefined address (all bits set), normalised to `u64::MAX` whatever the offset size.
pub const UNDEF: u64 = u64::MAX;

/// Returns true when `addr` is the undefined address.
#[inline]
pub fn is_undef(addr: u64) -> bool {
    addr == UNDEF
}

/// Size of offsets and size of lengths of a file, from its superblock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// Bytes in a file address (2, 4 or 8).
    pub offset: u8,
    /// Bytes in a length field (2, 4 or 8).
    pub length: u8,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            offset: 8,
            length: 8,
        }
    }
}

/// A position in one structure's bytes.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    addr: u64,
    structure: &'static str,
    sizes: Sizes,
}

impl<'a> Cursor<'a> {
    /// A cursor over `data`, which was read from file address `addr`, decoding `structure`.
    pub fn new(data: &'a [u8], addr: u64, structure: &'static str, sizes: Sizes) -> Self {
        Cursor {
            data,
            pos: 0,
            addr,
            structure,
            sizes,
        }
    }

    /// Same bytes, another structure name for error messages.
    pub fn with_structure(mut self, structure: &'static str) -> Self {
        self.structure = structure;
        self
    }

    /// The file's sizes of offsets and lengths.
    pub fn sizes(&self) -> Sizes {
        self.sizes
    }

    /// Current position from the start of the buffer.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// File address of the current position.
    pub fn addr(&self) -> u64 {
        self.addr.wrapping_add(self.pos as u64)
    }

    /// File address of the start of the buffer.
    pub fn base_addr(&self) -> u64 {
        self.addr
    }

    /// The structure name used in errors.
    pub fn structure(&self) -> &'static str {
        self.structure
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// The whole underlying buffer.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The bytes not yet consumed.
    pub fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or(&[])
    }

    /// Moves to an absolute position within the buffer.
    pub fn seek(&mut self, pos: usize) -> Result<()> {
        if pos > self.data.len() {
            return Err(self.truncated(pos - self.pos.min(pos)));
        }
        self.pos = pos;
        Ok(())
    }

    /// An error saying `needed` more bytes were wanted here.
    pub fn truncated(&self, needed: usize) -> Error {
        Error::Truncated {
            structure: self.structure,
            addr: self.addr,
            needed: (self.pos as u64).saturating_add(needed as u64),
            available: self.data.len() as u64,
        }
    }

    /// An [`Error::Corrupt`] for this structure.
    pub fn corrupt(&self, reason: impl Into<String>) -> Error {
        Error::corrupt(self.structure, self.addr, reason)
    }

    /// Takes the next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.truncated(n))?;
        let s = self
            .data
            .get(self.pos..end)
            .ok_or_else(|| self.truncated(n))?;
        self.pos = end;
        Ok(s)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.bytes(n).map(|_| ())
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Reads a `u8`.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a little-endian `u16`.
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Reads an `n`-byte little-endian unsigned integer (`n` ≤ 8).
    pub fn uint(&mut self, n: usize) -> Result<u64> {
        if n > 8 {
            return Err(self.corrupt(format!("integer field of {n} bytes")));
        }
        let s = self.bytes(n)?;
        Ok(le_uint(s))
    }

    /// Reads a file address ("Size of Offsets" bytes); all-ones becomes [`UNDEF`].
    pub fn offset(&mut self) -> Result<u64> {
        let n = self.sizes.offset as usize;
        let v = self.uint(n)?;
        Ok(if n < 8 && v == (1u64 << (8 * n)) - 1 {
            UNDEF
        } else {
            v
        })
    }

    /// Reads a length ("Size of Lengths" bytes); all-ones becomes `u64::MAX`.
    pub fn length(&mut self) -> Result<u64> {
        let n = self.sizes.length as usize;
        let v = self.uint(n)?;
        Ok(if n < 8 && v == (1u64 << (8 * n)) - 1 {
            u64::MAX
        } else {
            v
        })
    }

    /// Checks a 4-byte signature.
    pub fn signature(&mut self, sig: &[u8; 4]) -> Result<()> {
        let s = self.bytes(4)?;
        if s != sig {
            return Err(Error::BadSignature {
                structure: self.structure,
                addr: self.addr,
            });
        }
        Ok(())
    }

    /// Reads a NUL-terminated string (the NUL is consumed, not returned).
    pub fn cstr(&mut self) -> Result<&'a [u8]> {
        let rest = self.rest();
        let n = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.corrupt("unterminated string"))?;
        let s = &rest[..n];
        self.pos += n + 1;
        Ok(s)
    }
}

/// Decodes a little-endian unsigned integer of up to 8 bytes.
pub fn le_uint(s: &[u8]) -> u64 {
    s.iter()
        .take(8)
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | b as u64)
}

/// Converts a length or count from the file to `usize`, failing on overflow.
pub fn to_usize(v: u64, structure: &'static str, addr: u64) -> Result<usize> {
    usize::try_from(v)
        .map_err(|_| Error::corrupt(structure, addr, format!("size {v} does not fit in memory")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_truncation() {
        let b = [1u8, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff, 0xff, 0xff];
        let mut c = Cursor::new(
            &b,
            0x10,
            "test",
            Sizes {
                offset: 4,
                length: 4,
            },
        );
        assert_eq!(c.u16().unwrap(), 0x0201);
        assert_eq!(c.offset().unwrap(), 0x06050403);
        assert_eq!(c.u16().unwrap(), 0x0807);
        assert_eq!(c.offset().unwrap(), UNDEF);
        assert!(matches!(c.u8(), Err(Error::Truncated { .. })));
    }
}
