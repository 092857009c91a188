//! Global heap collections (`GCOL`), spec §III.E.
//!
//! A collection is: signature `GCOL`, version 1, three reserved bytes, the collection size
//! ("Size of Lengths" bytes, header included), then objects: heap object index (2), reference
//! count (2), reserved (4), object size (L), and the object data padded to a multiple of eight
//! bytes. Index 0 marks the free space at the end (and may be omitted when too small to hold an
//! object header). A global heap ID is a collection address followed by a 4-byte object index.
//!
//! libhdf5 2.0 refuses collections smaller than 4096 bytes; the spec does not require that size,
//! so small collections are read here.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::cursor::{to_usize, Cursor, UNDEF};
use crate::{Ctx, Error, Result};

const STRUCTURE: &str = "global heap collection";

/// A global heap ID: the address of a collection and the index of an object in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlobalHeapId {
    /// Address of the collection (0 or [`UNDEF`] for "no object").
    pub collection: u64,
    /// Index of the object within the collection.
    pub index: u32,
}

impl GlobalHeapId {
    /// Reads a heap ID (Size of Offsets bytes of address, then 4 bytes of index).
    pub fn parse(c: &mut Cursor<'_>) -> Result<GlobalHeapId> {
        let collection = c.offset()?;
        let index = c.u32()?;
        Ok(GlobalHeapId { collection, index })
    }

    /// True when the ID refers to no object (collection address 0 or undefined).
    pub fn is_null(&self) -> bool {
        self.collection == 0 || self.collection == UNDEF
    }
}

/// One global heap collection, read whole.
#[derive(Debug, Clone)]
pub struct GlobalHeapCollection {
    addr: u64,
    data: Vec<u8>,
    /// `(start, len)` of object `i` in `data`, indexed by object index.
    objects: Vec<Option<(usize, usize)>>,
}

impl GlobalHeapCollection {
    /// Reads the collection at `addr`.
    pub fn read(ctx: &Ctx<'_>, addr: u64) -> Result<GlobalHeapCollection> {
        let header_len = 8 + ctx.sizes.length as u64;
        let head = ctx.read(addr, header_len, STRUCTURE)?;
        let mut c = ctx.cursor(&head, addr, STRUCTURE);
        c.signature(b"GCOL")?;
        let version = c.u8()?;
        if version != 1 {
            return Err(Error::UnsupportedVersion {
                structure: STRUCTURE,
                version: version as u32,
            });
        }
        c.skip(3)?;
        let size = c.length()?;
        if size < header_len {
            return Err(c.corrupt(format!("collection size {size} smaller than its header")));
        }
        let data = ctx.read(addr, size, STRUCTURE)?;
        Self::parse(data.into_owned(), addr, ctx.sizes)
    }

    /// Decodes a collection from its bytes (`data` starts at the signature and holds the whole
    /// collection).
    pub fn parse(data: Vec<u8>, addr: u64, sizes: crate::Sizes) -> Result<GlobalHeapCollection> {
        let mut objects: Vec<Option<(usize, usize)>> = Vec::new();
        {
            let mut c = Cursor::new(&data, addr, STRUCTURE, sizes);
            c.signature(b"GCOL")?;
            let version = c.u8()?;
            if version != 1 {
                return Err(Error::UnsupportedVersion {
                    structure: STRUCTURE,
                    version: version as u32,
                });
            }
            c.skip(3)?;
            let size = c.length()?;
            let size = to_usize(size, STRUCTURE, addr)?;
            if size > data.len() {
                return Err(c.truncated(size - c.pos()));
            }
            let obj_header = 8 + sizes.length as usize;
            while size.saturating_sub(c.pos()) >= obj_header {
                let index = c.u16()?;
                if index == 0 {
                    break; // free space
                }
                c.skip(2 + 4)?; // reference count, reserved
                let len = to_usize(c.length()?, STRUCTURE, addr)?;
                let start = c.pos();
                let end = start
                    .checked_add(len)
                    .filter(|&e| e <= size)
                    .ok_or_else(|| {
                        c.corrupt(format!(
                            "object {index} of {len} bytes runs past the collection end"
                        ))
                    })?;
                let slot = index as usize;
                if objects.len() <= slot {
                    objects.resize(slot + 1, None);
                }
                if let Some(s) = objects.get_mut(slot) {
                    *s = Some((start, len));
                }
                let padded = end.saturating_add(7) / 8 * 8;
                c.seek(padded.min(size))?;
            }
        }
        Ok(GlobalHeapCollection {
            addr,
            data,
            objects,
        })
    }

    /// Address of the collection.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// Size of the collection in bytes, header included.
    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// The data of object `index`.
    pub fn object(&self, index: u32) -> Result<&[u8]> {
        let found = usize::try_from(index)
            .ok()
            .and_then(|i| self.objects.get(i))
            .copied()
            .flatten();
        let (start, len) = found.ok_or_else(|| {
            Error::corrupt(
                STRUCTURE,
                self.addr,
                format!("no object with index {index} in the collection"),
            )
        })?;
        self.data
            .get(start..start.saturating_add(len))
            .ok_or_else(|| Error::corrupt(STRUCTURE, self.addr, "object outside the collection"))
    }

    /// Indices of the objects present.
    pub fn indices(&self) -> impl Iterator<Item = u32> + '_ {
        self.objects
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.map(|_| i as u32))
    }
}

/// Reads object `index` of the collection at `addr` (reads the whole collection; use
/// [`GlobalHeapCache`] when fetching many objects).
pub fn read_object(ctx: &Ctx<'_>, addr: u64, index: u32) -> Result<Vec<u8>> {
    Ok(GlobalHeapCollection::read(ctx, addr)?
        .object(index)?
        .to_vec())
}

/// Collections read so far, so that decoding many variable-length elements reads each collection
/// once. Holds at most a bounded number of bytes; older collections are dropped when full. When
/// the context carries a [`SharedGlobalHeapCache`], collections come from (and go to) it.
#[derive(Debug, Default)]
pub struct GlobalHeapCache {
    collections: HashMap<u64, Arc<GlobalHeapCollection>>,
    bytes: usize,
}

/// Most bytes of collections a [`GlobalHeapCache`] or a [`SharedGlobalHeapCache`] keeps.
const CACHE_BYTES: usize = 64 << 20;

impl GlobalHeapCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The collection at `addr`, read on first use.
    pub fn collection(&mut self, ctx: &Ctx<'_>, addr: u64) -> Result<&GlobalHeapCollection> {
        if !self.collections.contains_key(&addr) {
            let col = match ctx.gheap {
                Some(shared) => shared.get_or_read(ctx, addr)?,
                None => Arc::new(GlobalHeapCollection::read(ctx, addr)?),
            };
            if self.bytes.saturating_add(col.size()) > CACHE_BYTES {
                self.collections.clear();
                self.bytes = 0;
            }
            self.bytes = self.bytes.saturating_add(col.size());
            self.collections.insert(addr, col);
        }
        self.collections
            .get(&addr)
            .map(|c| &**c)
            .ok_or_else(|| Error::corrupt(STRUCTURE, addr, "collection vanished from cache"))
    }

    /// The bytes of the object `id` names.
    pub fn object(&mut self, ctx: &Ctx<'_>, id: GlobalHeapId) -> Result<Cow<'_, [u8]>> {
        if id.is_null() {
            return Err(Error::corrupt(
                STRUCTURE,
                id.collection,
                "null global heap ID",
            ));
        }
        Ok(Cow::Borrowed(
            self.collection(ctx, id.collection)?.object(id.index)?,
        ))
    }
}

/// Collections shared by all the readers of one file (threads included), so that reading many
/// small variable-length values one at a time (attributes, single elements) reads and parses
/// each collection once. Bounded like [`GlobalHeapCache`]; the owner must drop it when the file
/// changes.
#[derive(Debug, Default)]
pub struct SharedGlobalHeapCache {
    inner: RwLock<(HashMap<u64, Arc<GlobalHeapCollection>>, usize)>,
}

impl SharedGlobalHeapCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The collection at `addr`, read on first use.
    pub fn get_or_read(&self, ctx: &Ctx<'_>, addr: u64) -> Result<Arc<GlobalHeapCollection>> {
        if let Ok(g) = self.inner.read() {
            if let Some(c) = g.0.get(&addr) {
                return Ok(c.clone());
            }
        }
        let col = Arc::new(GlobalHeapCollection::read(ctx, addr)?);
        if let Ok(mut g) = self.inner.write() {
            if g.1.saturating_add(col.size()) > CACHE_BYTES {
                g.0.clear();
                g.1 = 0;
            }
            g.1 = g.1.saturating_add(col.size());
            g.0.insert(addr, col.clone());
        }
        Ok(col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sizes;

    /// A collection at address 0 with objects 1 = "hello" and 2 = 8 bytes, then free space.
    pub(crate) fn sample(pad_to: usize) -> Vec<u8> {
        let mut v = b"GCOL\x01\0\0\0".to_vec();
        v.extend_from_slice(&0u64.to_le_bytes()); // size, patched below
        for (i, obj) in [(1u16, &b"hello"[..]), (2u16, &[1, 2, 3, 4, 5, 6, 7, 8][..])] {
            v.extend_from_slice(&i.to_le_bytes());
            v.extend_from_slice(&1u16.to_le_bytes());
            v.extend_from_slice(&[0; 4]);
            v.extend_from_slice(&(obj.len() as u64).to_le_bytes());
            v.extend_from_slice(obj);
            while !v.len().is_multiple_of(8) {
                v.push(0);
            }
        }
        // free space object
        v.extend_from_slice(&[0; 16]);
        while v.len() < pad_to {
            v.push(0);
        }
        let n = v.len() as u64;
        v[8..16].copy_from_slice(&n.to_le_bytes());
        v
    }

    #[test]
    fn reads_objects() {
        let file = sample(4096);
        let ctx = Ctx::new(&file, Sizes::default());
        let col = GlobalHeapCollection::read(&ctx, 0).unwrap();
        assert_eq!(col.object(1).unwrap(), b"hello");
        assert_eq!(col.object(2).unwrap(), &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(col.object(3).is_err());
        assert_eq!(col.indices().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(read_object(&ctx, 0, 1).unwrap(), b"hello");
        let mut cache = GlobalHeapCache::new();
        assert!(cache
            .object(
                &ctx,
                GlobalHeapId {
                    collection: 0,
                    index: 2
                }
            )
            .is_err());
        let mut shifted = vec![0u8; 8];
        shifted.extend_from_slice(&file);
        let ctx = Ctx::new(&shifted, Sizes::default());
        let id = GlobalHeapId {
            collection: 8,
            index: 2,
        };
        assert_eq!(&*cache.object(&ctx, id).unwrap(), &[1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn small_collection_and_corruption() {
        let file = sample(0);
        let ctx = Ctx::new(&file, Sizes::default());
        assert_eq!(read_object(&ctx, 0, 1).unwrap(), b"hello");
        // object length running past the end
        let mut bad = sample(0);
        bad[24..32].copy_from_slice(&1000u64.to_le_bytes());
        let ctx = Ctx::new(&bad, Sizes::default());
        assert!(GlobalHeapCollection::read(&ctx, 0).is_err());
        // collection size larger than the file
        let mut bad = sample(0);
        bad[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        let ctx = Ctx::new(&bad, Sizes::default());
        assert!(GlobalHeapCollection::read(&ctx, 0).is_err());
    }
}
