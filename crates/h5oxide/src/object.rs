//! Any object reachable by a path: group, dataset or committed datatype, and the attribute
//! access they share.

use std::sync::Arc;

use h5oxide_format::object_header::{msg, ObjectHeader};
use h5oxide_format::Result;

use crate::attribute::Attribute;
use crate::file::{is_group, FileInner};
use crate::{Dataset, Group};

/// What kind of object an object header describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A group.
    Group,
    /// A dataset.
    Dataset,
    /// A committed (named) datatype.
    Datatype,
}

/// Classifies an object header (FORMAT-MAP §1: group if 0x11/0x02, dataset if layout, committed
/// datatype if only a datatype).
pub fn kind_of(oh: &ObjectHeader) -> Option<ObjectKind> {
    if is_group(oh) {
        Some(ObjectKind::Group)
    } else if oh.has(msg::LAYOUT) || (oh.has(msg::DATASPACE) && oh.has(msg::DATATYPE)) {
        Some(ObjectKind::Dataset)
    } else if oh.has(msg::DATATYPE) {
        Some(ObjectKind::Datatype)
    } else {
        None
    }
}

/// An object reached by path.
#[derive(Debug, Clone)]
pub enum Object {
    /// A group.
    Group(Group),
    /// A dataset.
    Dataset(Dataset),
    /// A committed datatype.
    Datatype(NamedDatatype),
}

impl Object {
    /// Opens the object whose header is at `addr`.
    pub(crate) fn open(file: Arc<FileInner>, addr: u64, name: String) -> Result<Object> {
        let oh = file.header(addr)?;
        match kind_of(&oh) {
            Some(ObjectKind::Group) => Ok(Object::Group(Group::open(file, addr, name)?)),
            Some(ObjectKind::Dataset) => Ok(Object::Dataset(Dataset::open(file, addr, name)?)),
            Some(ObjectKind::Datatype) => Ok(Object::Datatype(NamedDatatype { file, addr, name })),
            None => Err(h5oxide_format::Error::unsupported(format!(
                "object at address {addr:#x} is neither a group, a dataset nor a datatype"
            ))),
        }
    }

    /// Opens the object whose header is at `addr` in `file` (e.g. the target of an object
    /// reference), naming it `name`.
    pub fn at(file: &Arc<FileInner>, addr: u64, name: String) -> Result<Object> {
        Object::open(file.clone(), addr, name)
    }

    /// The object's path as opened.
    pub fn name(&self) -> &str {
        match self {
            Object::Group(g) => g.name(),
            Object::Dataset(d) => d.name(),
            Object::Datatype(t) => &t.name,
        }
    }

    /// Address of the object's header (its identity in the file).
    pub fn addr(&self) -> u64 {
        match self {
            Object::Group(g) => g.addr(),
            Object::Dataset(d) => d.addr(),
            Object::Datatype(t) => t.addr,
        }
    }

    /// The object's kind.
    pub fn kind(&self) -> ObjectKind {
        match self {
            Object::Group(_) => ObjectKind::Group,
            Object::Dataset(_) => ObjectKind::Dataset,
            Object::Datatype(_) => ObjectKind::Datatype,
        }
    }

    /// The object's attributes.
    pub fn attrs(&self) -> Result<Vec<Attribute>> {
        match self {
            Object::Group(g) => g.attrs(),
            Object::Dataset(d) => d.attrs(),
            Object::Datatype(t) => crate::attribute::attributes_of(&t.file, t.addr),
        }
    }
}

/// A committed (named) datatype.
#[derive(Debug, Clone)]
pub struct NamedDatatype {
    pub(crate) file: Arc<FileInner>,
    pub(crate) addr: u64,
    pub(crate) name: String,
}

impl NamedDatatype {
    /// The datatype.
    pub fn dtype(&self) -> Result<h5oxide_format::datatype::Datatype> {
        let oh = self.file.header(self.addr)?;
        let m = oh
            .find(msg::DATATYPE)
            .ok_or_else(|| h5oxide_format::Error::NotFound("datatype message".into()))?;
        h5oxide_format::datatype::Datatype::from_bytes(&m.data, m.addr, self.file.sb.sizes)
    }

    /// Address of the object header.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// The datatype's path as opened.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file the datatype belongs to.
    pub fn file_inner(&self) -> &Arc<FileInner> {
        &self.file
    }
}

/// Joins a parent path and a member name.
pub(crate) fn join(parent: &str, name: &str) -> String {
    if name.starts_with('/') {
        name.to_string()
    } else if parent.ends_with('/') {
        format!("{parent}{name}")
    } else {
        format!("{parent}/{name}")
    }
}
