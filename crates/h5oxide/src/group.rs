//! Groups: members by name and by path, and link kinds.

use std::sync::Arc;

use h5oxide_format::messages::link::{Link as RawLink, LinkTarget};
use h5oxide_format::{Error, Result};

use crate::attribute::{attributes_of, Attribute};
use crate::file::{is_group, FileInner};
use crate::object::{join, Object};
use crate::Dataset;

/// What a link in a group points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkKind {
    /// A hard link to the object header at this address.
    Hard(u64),
    /// A soft link: a path, resolved when followed.
    Soft(String),
    /// A link to an object in another file.
    External {
        /// The file name as stored.
        file: String,
        /// The path in that file.
        path: String,
    },
    /// A user-defined link of this class (≥ 65), not followed.
    UserDefined(u8),
}

/// A named link in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The link name.
    pub name: String,
    /// Where it points.
    pub kind: LinkKind,
    /// Creation order, when the group tracks it.
    pub creation_order: Option<u64>,
}

impl Link {
    pub(crate) fn from_raw(l: &RawLink) -> Link {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let kind = match &l.target {
            LinkTarget::Hard(a) => LinkKind::Hard(*a),
            LinkTarget::Soft(t) => LinkKind::Soft(s(t)),
            LinkTarget::External { file, path } => LinkKind::External {
                file: s(file),
                path: s(path),
            },
            LinkTarget::UserDefined { class, .. } => LinkKind::UserDefined(*class),
        };
        Link {
            name: s(&l.name),
            kind,
            creation_order: l.creation_order,
        }
    }
}

/// A group: a container of links to other objects.
///
/// ```no_run
/// let f = h5oxide::File::open("data.h5")?;
/// let g = f.group("/experiment1")?;
/// for link in g.links()? {
///     println!("{} -> {:?}", link.name, link.kind);
/// }
/// # Ok::<(), h5oxide::Error>(())
/// ```
#[derive(Clone)]
pub struct Group {
    pub(crate) file: Arc<FileInner>,
    pub(crate) addr: u64,
    pub(crate) name: String,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<HDF5 group {:?}>", self.name)
    }
}

impl Group {
    pub(crate) fn open(file: Arc<FileInner>, addr: u64, name: String) -> Result<Group> {
        let oh = file.header(addr)?;
        if !is_group(&oh) {
            return Err(Error::Invalid(format!("{name} is not a group")));
        }
        Ok(Group { file, addr, name })
    }

    /// The group's path as opened (`/` for the root).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Address of the group's object header.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// The file the group belongs to.
    pub fn file_inner(&self) -> &Arc<FileInner> {
        &self.file
    }

    /// The group's links, in ascending name order.
    pub fn links(&self) -> Result<Vec<Link>> {
        let oh = self.file.header(self.addr)?;
        let gl = h5oxide_format::group::links(&self.file.ctx(), &oh)?;
        Ok(gl.links.iter().map(Link::from_raw).collect())
    }

    /// Names of the group's members, in ascending name order.
    pub fn member_names(&self) -> Result<Vec<String>> {
        Ok(self.links()?.into_iter().map(|l| l.name).collect())
    }

    /// Number of links in the group.
    pub fn len(&self) -> Result<usize> {
        Ok(self.links()?.len())
    }

    /// True if the group has no links.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// True if `path` names an object reachable from this group.
    pub fn contains(&self, path: &str) -> bool {
        self.file.resolve(self.addr, path, 0).is_ok()
    }

    /// The object at `path` (relative to this group, or absolute).
    pub fn get(&self, path: &str) -> Result<Object> {
        let (file, addr) = self.file.resolve(self.addr, path, 0)?;
        Object::open(file, addr, join(&self.name, path))
    }

    /// The group at `path`.
    pub fn group(&self, path: &str) -> Result<Group> {
        match self.get(path)? {
            Object::Group(g) => Ok(g),
            _ => Err(Error::Invalid(format!("{path} is not a group"))),
        }
    }

    /// The dataset at `path`.
    pub fn dataset(&self, path: &str) -> Result<Dataset> {
        match self.get(path)? {
            Object::Dataset(d) => Ok(d),
            _ => Err(Error::Invalid(format!("{path} is not a dataset"))),
        }
    }

    /// The group's attributes, in name order.
    pub fn attrs(&self) -> Result<Vec<Attribute>> {
        attributes_of(&self.file, self.addr)
    }

    /// The attribute called `name`.
    pub fn attr(&self, name: &str) -> Result<Attribute> {
        crate::attribute::attribute_of(&self.file, self.addr, name)
    }

    /// Every object below this group (depth-first, pre-order, by name), each once, with its path.
    pub fn walk(&self) -> Result<Vec<(String, Object)>> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        seen.insert(self.addr);
        self.walk_into(&mut out, &mut seen, 0)?;
        Ok(out)
    }

    fn walk_into(
        &self,
        out: &mut Vec<(String, Object)>,
        seen: &mut std::collections::HashSet<u64>,
        depth: u32,
    ) -> Result<()> {
        if depth > self.file.limits.max_depth {
            return Err(Error::Cycle {
                structure: "group tree",
                addr: self.addr,
            });
        }
        for l in self.links()? {
            if let LinkKind::Hard(a) = l.kind {
                if !seen.insert(a) {
                    continue;
                }
                let path = join(&self.name, &l.name);
                let obj = Object::open(self.file.clone(), a, path.clone())?;
                if let Object::Group(g) = &obj {
                    let g = g.clone();
                    out.push((path, obj));
                    g.walk_into(out, seen, depth + 1)?;
                } else {
                    out.push((path, obj));
                }
            }
        }
        Ok(())
    }
}
