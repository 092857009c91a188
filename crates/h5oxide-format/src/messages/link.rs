//! Link message 0x06 (spec §IV.A.2.g): one link of a new-style group (also the object stored in
//! a dense group's fractal heap).

use crate::cursor::Cursor;
use crate::{Error, Result};

/// Where a link points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTarget {
    /// Hard link: the object header address.
    Hard(u64),
    /// Soft link: the target path, unresolved.
    Soft(Vec<u8>),
    /// External link (type 64): file name and object path in that file.
    External {
        /// Name of the other file.
        file: Vec<u8>,
        /// Object path inside it.
        path: Vec<u8>,
    },
    /// User-defined link (type 65–255 other than external): class and opaque data.
    UserDefined {
        /// Link class.
        class: u8,
        /// Link data.
        data: Vec<u8>,
    },
}

/// A decoded link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Link name (no NUL).
    pub name: Vec<u8>,
    /// Name character set: 0 ASCII, 1 UTF-8.
    pub cset: u8,
    /// Creation order, when stored.
    pub creation_order: Option<u64>,
    /// Target.
    pub target: LinkTarget,
}

impl Link {
    /// Decodes a Link message body.
    pub fn decode(c: &mut Cursor<'_>) -> Result<Link> {
        let version = c.u8()?;
        if version != 1 {
            return Err(Error::UnsupportedVersion {
                structure: "link message",
                version: version as u32,
            });
        }
        let flags = c.u8()?;
        let link_type = if flags & 0x08 != 0 { c.u8()? } else { 0 };
        let creation_order = if flags & 0x04 != 0 {
            Some(c.u64()?)
        } else {
            None
        };
        let cset = if flags & 0x10 != 0 { c.u8()? } else { 0 };
        let width = 1usize << (flags & 0x03);
        let name_len = c.uint(width)?;
        if name_len == 0 {
            return Err(c.corrupt("link name of length 0"));
        }
        let name_len = usize::try_from(name_len)
            .ok()
            .filter(|&n| n <= c.remaining())
            .ok_or_else(|| c.truncated(c.remaining().saturating_add(1)))?;
        let name = c.bytes(name_len)?.to_vec();
        let target = match link_type {
            0 => LinkTarget::Hard(c.offset()?),
            1 => {
                let n = c.u16()? as usize;
                LinkTarget::Soft(c.bytes(n)?.to_vec())
            }
            2..=63 => return Err(c.corrupt(format!("reserved link type {link_type}"))),
            _ => {
                let n = c.u16()? as usize;
                let data = c.bytes(n)?;
                if link_type == 64 {
                    decode_external(data)
                        .ok_or_else(|| c.corrupt("malformed external link value"))?
                } else {
                    LinkTarget::UserDefined {
                        class: link_type,
                        data: data.to_vec(),
                    }
                }
            }
        };
        Ok(Link {
            name,
            cset,
            creation_order,
            target,
        })
    }
}

/// Decodes an external link value: a version/flags byte, then file name and object path, each
/// NUL-terminated (a missing final NUL is tolerated).
pub fn decode_external(data: &[u8]) -> Option<LinkTarget> {
    let (&vf, rest) = data.split_first()?;
    if vf >> 4 != 0 {
        return None;
    }
    let n = rest.iter().position(|&b| b == 0)?;
    let file = rest.get(..n)?.to_vec();
    let rest = rest.get(n + 1..)?;
    let m = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    let path = rest.get(..m)?.to_vec();
    Some(LinkTarget::External { file, path })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Sizes;

    #[test]
    fn kinds() {
        // hard, 1-byte name length, creation order
        let mut b = vec![1u8, 0x04];
        b.extend_from_slice(&7u64.to_le_bytes());
        b.push(3);
        b.extend_from_slice(b"abc");
        b.extend_from_slice(&0x1234u64.to_le_bytes());
        let l = Link::decode(&mut Cursor::new(&b, 0, "t", Sizes::default())).unwrap();
        assert_eq!(l.name, b"abc");
        assert_eq!(l.creation_order, Some(7));
        assert_eq!(l.target, LinkTarget::Hard(0x1234));
        // external
        let mut b = vec![1u8, 0x08, 64, 1, b'x', 9, 0, 0];
        b.extend_from_slice(b"f.h5\0/p\0");
        let l = Link::decode(&mut Cursor::new(&b, 0, "t", Sizes::default())).unwrap();
        assert_eq!(
            l.target,
            LinkTarget::External {
                file: b"f.h5".to_vec(),
                path: b"/p".to_vec()
            }
        );
        // truncated name
        let b = vec![1u8, 0, 200, b'a'];
        assert!(Link::decode(&mut Cursor::new(&b, 0, "t", Sizes::default())).is_err());
    }
}
