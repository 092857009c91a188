//! Listing and lookup of an object's attributes (spec §IV.A.2.m Attribute message 0x0C,
//! §IV.A.2.v Attribute Info message 0x15, §III.A.2 B-tree types 8 and 9, §III.G).
//!
//! - **Compact**: Attribute messages in the object header (in storage order).
//! - **Dense**: Attribute Info names a fractal heap whose objects are whole attribute messages,
//!   a v2 B-tree of type 8 (heap ID 8, message flags 1, creation order 4, lookup3 hash of the
//!   name 4) and, when creation order is indexed, one of type 9 (heap ID 8, flags 1, order 4).
//!
//! An attribute message may itself be shared (message flag bit 1, or the flags byte of a dense
//! record): its body is then a stub, resolved through [`crate::shared`].

use std::cmp::Ordering;

use crate::btree_v2::{record_uint, BTreeV2};
use crate::checksum::lookup3;
use crate::cursor::UNDEF;
use crate::fractal_heap::FractalHeap;
use crate::messages::attribute::AttributeMessage;
use crate::messages::attribute_info::AttributeInfoMessage;
use crate::object_header::{body, msg, ObjectHeader, FLAG_SHARED};
use crate::shared::{self, SharedMessageTable};
use crate::source::Ctx;
use crate::{Error, Result};

/// How an object stores its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrStorage {
    /// Attribute messages in the object header.
    Compact,
    /// Fractal heap + v2 B-tree name index.
    Dense,
}

impl AttrStorage {
    /// The name used by the canonical JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            AttrStorage::Compact => "compact",
            AttrStorage::Dense => "dense",
        }
    }
}

/// One attribute with its creation order (when tracked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// The decoded attribute message.
    pub message: AttributeMessage,
    /// Creation order, when tracked.
    pub creation_order: Option<u64>,
}

/// All attributes of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attrs {
    /// Storage form.
    pub storage: AttrStorage,
    /// The attributes: compact ones in header order, dense ones in name-index (hash) order.
    pub attributes: Vec<Attr>,
    /// True when attribute creation order is tracked.
    pub creation_order_tracked: bool,
    /// Attribute names in creation order, when tracked.
    pub attr_order: Option<Vec<Vec<u8>>>,
}

fn attribute_info(ctx: &Ctx<'_>, oh: &ObjectHeader) -> Result<Option<AttributeInfoMessage>> {
    match oh.find(msg::ATTRIBUTE_INFO) {
        Some(m) => Ok(Some(AttributeInfoMessage::decode(&mut body(
            ctx,
            m,
            "attribute info message",
        ))?)),
        None => Ok(None),
    }
}

fn decode_attr(
    ctx: &Ctx<'_>,
    sohm: Option<&SharedMessageTable>,
    data: &[u8],
    addr: u64,
    is_shared: bool,
) -> Result<AttributeMessage> {
    if is_shared {
        let real = shared::resolve(ctx, sohm, msg::ATTRIBUTE, data, addr)?;
        AttributeMessage::decode(&mut ctx.cursor(&real, addr, "attribute message"))
    } else {
        AttributeMessage::decode(&mut ctx.cursor(data, addr, "attribute message"))
    }
}

/// Reads every attribute of the object whose header is `oh` (no SOHM table: shared attributes
/// stored in the SOHM heap fail).
pub fn attribute_messages(ctx: &Ctx<'_>, oh: &ObjectHeader) -> Result<Attrs> {
    attribute_messages_with(ctx, oh, None)
}

/// Reads every attribute of the object whose header is `oh`, resolving shared attribute messages
/// through `sohm`.
pub fn attribute_messages_with(
    ctx: &Ctx<'_>,
    oh: &ObjectHeader,
    sohm: Option<&SharedMessageTable>,
) -> Result<Attrs> {
    let ai = attribute_info(ctx, oh)?;
    let tracked = oh.tracks_attr_creation_order() || ai.is_some_and(|a| a.creation_order_tracked);
    let mut attributes = Vec::new();
    let mut order = None;
    let storage = match ai {
        Some(ai) if ai.is_dense() => {
            let mut heap = FractalHeap::open(ctx, ai.fractal_heap_address)?;
            if ai.name_index_address != UNDEF {
                let bt = open_index(ctx, ai.name_index_address, 8)?;
                bt.visit(ctx, &mut |r| {
                    let (m, corder) = dense_record(ctx, sohm, &mut heap, r)?;
                    attributes.push(Attr {
                        message: m,
                        creation_order: tracked.then_some(corder),
                    });
                    Ok(true)
                })?;
            }
            if let Some(a) = ai.creation_order_index_address.filter(|&a| a != UNDEF) {
                let bt = open_index(ctx, a, 9)?;
                let mut names = Vec::new();
                bt.visit(ctx, &mut |r| {
                    let (m, _) = dense_record(ctx, sohm, &mut heap, r)?;
                    names.push(m.name);
                    Ok(true)
                })?;
                order = Some(names);
            }
            AttrStorage::Dense
        }
        _ => {
            for m in oh.all(msg::ATTRIBUTE) {
                let a = decode_attr(ctx, sohm, &m.data, m.addr, m.is_shared())?;
                attributes.push(Attr {
                    message: a,
                    creation_order: m.creation_order.map(u64::from),
                });
            }
            AttrStorage::Compact
        }
    };
    if tracked && order.is_none() {
        let mut by: Vec<&Attr> = attributes.iter().collect();
        by.sort_by_key(|a| a.creation_order.unwrap_or(u64::MAX));
        order = Some(by.iter().map(|a| a.message.name.clone()).collect());
    }
    Ok(Attrs {
        storage,
        attributes,
        creation_order_tracked: tracked,
        attr_order: if tracked { order } else { None },
    })
}

fn open_index(ctx: &Ctx<'_>, addr: u64, want: u8) -> Result<BTreeV2> {
    let bt = BTreeV2::open(ctx, addr)?;
    if bt.header.btree_type != want {
        return Err(Error::corrupt(
            "attribute index",
            addr,
            format!(
                "v2 B-tree of type {}, expected {want}",
                bt.header.btree_type
            ),
        ));
    }
    Ok(bt)
}

/// Decodes the attribute of a type 8 or 9 record: (message, creation order).
fn dense_record(
    ctx: &Ctx<'_>,
    sohm: Option<&SharedMessageTable>,
    heap: &mut FractalHeap,
    r: &[u8],
) -> Result<(AttributeMessage, u64)> {
    let id = r.get(..8).unwrap_or(&[]);
    let flags = r.get(8).copied().unwrap_or(0);
    let corder = record_uint(r.get(9..13).unwrap_or(&[]));
    let obj = heap.get(ctx, id)?;
    let m = decode_attr(ctx, sohm, &obj, heap.header.addr, flags & FLAG_SHARED != 0)?;
    Ok((m, corder))
}

/// Looks up the attribute called `name` (hashed lookup in dense storage).
pub fn lookup(
    ctx: &Ctx<'_>,
    oh: &ObjectHeader,
    sohm: Option<&SharedMessageTable>,
    name: &[u8],
) -> Result<Option<AttributeMessage>> {
    match attribute_info(ctx, oh)? {
        Some(ai) if ai.is_dense() => {
            if ai.name_index_address == UNDEF {
                return Ok(None);
            }
            let mut heap = FractalHeap::open(ctx, ai.fractal_heap_address)?;
            let bt = open_index(ctx, ai.name_index_address, 8)?;
            let hash = lookup3(name, 0);
            let mut found = None;
            bt.find(ctx, &mut |r| {
                let h = record_uint(r.get(13..17).unwrap_or(&[])) as u32;
                match h.cmp(&hash) {
                    Ordering::Equal => {
                        let (m, _) = dense_record(ctx, sohm, &mut heap, r)?;
                        let ord = m.name.as_slice().cmp(name);
                        if ord == Ordering::Equal {
                            found = Some(m);
                        }
                        Ok(ord)
                    }
                    o => Ok(o),
                }
            })?;
            Ok(found)
        }
        _ => {
            for m in oh.all(msg::ATTRIBUTE) {
                let a = decode_attr(ctx, sohm, &m.data, m.addr, m.is_shared())?;
                if a.name == name {
                    return Ok(Some(a));
                }
            }
            Ok(None)
        }
    }
}
