//! Writing new HDF5 files.
//!
//! The file is built in memory — groups, datasets and attributes — and serialized when it is
//! closed ([`FileWriter::close`], or on drop, which cannot report errors). The output is the
//! "compatible" profile, the structures libhdf5 writes with default properties and h5py writes
//! by default (`libver="earliest"`), so every HDF5 reader can open it:
//! superblock version 0 (spec §II.A.1), version-1 object headers (§IV.A.1.a), old-style groups
//! with a symbol table, a v1 B-tree and a local heap (§III.A.1, §III.B–D), contiguous datasets
//! with Dataspace v1, Datatype v1, Fill Value v2 and Layout v3 messages (§IV.A.2), attributes
//! as version-1 Attribute messages, and variable-length strings in the global heap (§III.E).
//!
//! ```no_run
//! use h5oxide::write::FileWriter;
//! let mut f = FileWriter::create("myfile.h5")?;
//! let g = f.create_group("experiment1")?;
//! g.set_attr("date", "2018-01-01")?;
//! let a = ndarray::Array2::<f64>::zeros((1000, 1000));
//! g.create_dataset("array1", &a)?;
//! f.close()?;
//! # Ok::<(), h5oxide::Error>(())
//! ```

mod serialize;
mod value;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use h5oxide_format::{Error, Result};

pub use value::{H5Write, IntoValue, Value};

/// A new HDF5 file being written; its root group is reached through [`FileWriter::root`] or
/// the path-taking shortcuts.
pub struct FileWriter {
    path: PathBuf,
    file: Option<fs::File>,
    root: GroupWriter,
}

impl std::fmt::Debug for FileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWriter")
            .field("path", &self.path)
            .finish()
    }
}

impl FileWriter {
    /// Creates (or truncates) `path`, like h5py's mode `"w"`. Nothing but the empty file is
    /// written until [`FileWriter::close`].
    pub fn create(path: impl AsRef<Path>) -> Result<FileWriter> {
        let path = path.as_ref().to_path_buf();
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
        Ok(FileWriter {
            path,
            file: Some(file),
            root: GroupWriter::default(),
        })
    }

    /// The path the file is written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The root group.
    pub fn root(&mut self) -> &mut GroupWriter {
        &mut self.root
    }

    /// Creates a group at `path` (relative to the root; missing intermediate groups are
    /// created) and returns it.
    pub fn create_group(&mut self, path: &str) -> Result<&mut GroupWriter> {
        self.root.create_group(path)
    }

    /// Creates a dataset at `path` holding `data` and returns it.
    pub fn create_dataset(
        &mut self,
        path: &str,
        data: impl IntoValue,
    ) -> Result<&mut DatasetWriter> {
        self.root.create_dataset(path, data)
    }

    /// Creates a dataset at `path` holding `data`, stored as `options` say.
    pub fn create_dataset_with(
        &mut self,
        path: &str,
        data: impl IntoValue,
        options: DatasetOptions,
    ) -> Result<&mut DatasetWriter> {
        self.root.create_dataset_with(path, data, options)
    }

    /// Sets an attribute of the root group.
    pub fn set_attr(&mut self, name: &str, value: impl IntoValue) -> Result<()> {
        self.root.set_attr(name, value)
    }

    /// The group at `path`, to add to it.
    pub fn group_mut(&mut self, path: &str) -> Result<&mut GroupWriter> {
        self.root.group_mut(path)
    }

    /// Serializes the file and closes it.
    pub fn close(mut self) -> Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> Result<()> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        serialize::write_file(file, &self.root).map_err(|e| match e {
            Error::Io(m) => Error::Io(format!("{}: {m}", self.path.display())),
            e => e,
        })
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; call `close` to see them.
        let _ = self.finish();
    }
}

/// An object a group links to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Member {
    Group(GroupWriter),
    Dataset(DatasetWriter),
}

/// A group being written: members by name and attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupWriter {
    /// Members sorted by name bytes, the order of the symbol table.
    pub(crate) members: BTreeMap<String, Member>,
    pub(crate) attrs: Attrs,
}

/// Attributes in creation order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Attrs(pub(crate) Vec<(String, Value)>);

impl Attrs {
    fn set(&mut self, name: &str, value: impl IntoValue) -> Result<()> {
        if name.is_empty() || name.contains('\0') {
            return Err(Error::Invalid(format!(
                "attribute name {name:?}: must be non-empty and without NUL"
            )));
        }
        let value = value.into_value()?;
        if value.space == h5oxide_format::messages::dataspace::Dataspace::Null {
            return Err(Error::unsupported("writing null-dataspace attributes"));
        }
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_string(), value)),
        }
        Ok(())
    }
}

fn check_link_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name.contains('\0') {
        return Err(Error::Invalid(format!("invalid link name {name:?}")));
    }
    Ok(())
}

/// Splits a relative path into components, ignoring empty ones (`a//b`, leading `/`).
fn components(path: &str) -> Result<Vec<&str>> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for p in &parts {
        check_link_name(p)?;
    }
    Ok(parts)
}

impl GroupWriter {
    /// Creates a group at `path` (missing intermediate groups are created, as h5py does) and
    /// returns it. Fails when the name is taken.
    pub fn create_group(&mut self, path: &str) -> Result<&mut GroupWriter> {
        let (parent, name) = self.parent_for_new(path)?;
        match parent
            .members
            .entry(name.to_string())
            .or_insert(Member::Group(GroupWriter::default()))
        {
            Member::Group(g) => Ok(g),
            Member::Dataset(_) => Err(Error::Invalid(format!("{path}: not a group"))),
        }
    }

    /// Creates a dataset at `path` holding `data` (contiguous storage) and returns it.
    pub fn create_dataset(
        &mut self,
        path: &str,
        data: impl IntoValue,
    ) -> Result<&mut DatasetWriter> {
        self.create_dataset_with(path, data, DatasetOptions::default())
    }

    /// Creates a dataset at `path` holding `data`, stored as `options` say, and returns it.
    pub fn create_dataset_with(
        &mut self,
        path: &str,
        data: impl IntoValue,
        options: DatasetOptions,
    ) -> Result<&mut DatasetWriter> {
        let value = data.into_value()?;
        let fill = match options.fill_value {
            None => None,
            Some(f) => {
                let ok = f.dtype == value.dtype
                    && f.space == h5oxide_format::messages::dataspace::Dataspace::Scalar;
                match (&f.elements, ok) {
                    (value::Elements::Raw(raw), true) => Some(raw.clone()),
                    _ => {
                        return Err(Error::Invalid(format!(
                            "{path}: the fill value must be one element of the dataset's type"
                        )))
                    }
                }
            }
        };
        if options.compact && matches!(value.elements, value::Elements::VarLen(_)) {
            return Err(Error::unsupported(
                "compact storage of variable-length data",
            ));
        }
        let (parent, name) = self.parent_for_new(path)?;
        match parent
            .members
            .entry(name.to_string())
            .or_insert(Member::Dataset(DatasetWriter {
                value,
                attrs: Attrs::default(),
                compact: options.compact,
                fill,
            })) {
            Member::Dataset(d) => Ok(d),
            Member::Group(_) => Err(Error::Invalid(format!("{path}: not a dataset"))),
        }
    }

    /// Sets (creates or replaces) the attribute `name`.
    pub fn set_attr(&mut self, name: &str, value: impl IntoValue) -> Result<()> {
        self.attrs.set(name, value)
    }

    /// The existing group at `path`.
    pub fn group_mut(&mut self, path: &str) -> Result<&mut GroupWriter> {
        let mut g = self;
        for p in components(path)? {
            g = match g.members.get_mut(p) {
                Some(Member::Group(child)) => child,
                Some(Member::Dataset(_)) => {
                    return Err(Error::Invalid(format!("{path}: {p} is not a group")))
                }
                None => return Err(Error::NotFound(path.to_string())),
            };
        }
        Ok(g)
    }

    /// The existing dataset at `path`.
    pub fn dataset_mut(&mut self, path: &str) -> Result<&mut DatasetWriter> {
        let (parent, name) = match path.rsplit_once('/') {
            Some((dir, name)) => (self.group_mut(dir)?, name),
            None => (self, path),
        };
        match parent.members.get_mut(name) {
            Some(Member::Dataset(d)) => Ok(d),
            Some(Member::Group(_)) => Err(Error::Invalid(format!("{path}: not a dataset"))),
            None => Err(Error::NotFound(path.to_string())),
        }
    }

    /// Member names in symbol-table order.
    pub fn member_names(&self) -> Vec<&str> {
        self.members.keys().map(String::as_str).collect()
    }

    /// Walks to the parent of `path`, creating intermediate groups, and checks the last name
    /// is free.
    fn parent_for_new<'a>(&mut self, path: &'a str) -> Result<(&mut GroupWriter, &'a str)> {
        let parts = components(path)?;
        let Some((last, dirs)) = parts.split_last() else {
            return Err(Error::Invalid(format!("invalid path {path:?}")));
        };
        let mut g = self;
        for p in dirs {
            g = match g
                .members
                .entry(p.to_string())
                .or_insert(Member::Group(GroupWriter::default()))
            {
                Member::Group(child) => child,
                Member::Dataset(_) => {
                    return Err(Error::Invalid(format!("{path}: {p} is a dataset")))
                }
            };
        }
        if g.members.contains_key(*last) {
            return Err(Error::Invalid(format!("{path}: name already exists")));
        }
        Ok((g, last))
    }
}

/// A dataset being written: its value, storage and attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetWriter {
    pub(crate) value: Value,
    pub(crate) attrs: Attrs,
    /// Compact storage (the data inside the object header) instead of contiguous.
    pub(crate) compact: bool,
    /// A user fill value (one element, as stored).
    pub(crate) fill: Option<Vec<u8>>,
}

/// How a dataset is stored (the dataset creation properties the writer supports).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatasetOptions {
    compact: bool,
    fill_value: Option<Value>,
}

impl DatasetOptions {
    /// Contiguous storage, the library default fill value (zeros).
    pub fn new() -> Self {
        Self::default()
    }

    /// Compact storage: the raw data is kept in the object header (at most about 64 KiB,
    /// checked when the file is written); allocation time becomes "early", as libhdf5 does.
    pub fn compact(mut self, yes: bool) -> Self {
        self.compact = yes;
        self
    }

    /// A user fill value: one element of the dataset's type (h5py's `fillvalue=`).
    pub fn fill_value(mut self, value: impl IntoValue) -> Result<Self> {
        self.fill_value = Some(value.into_value()?);
        Ok(self)
    }
}

impl DatasetWriter {
    /// Sets (creates or replaces) the attribute `name`.
    pub fn set_attr(&mut self, name: &str, value: impl IntoValue) -> Result<()> {
        self.attrs.set(name, value)
    }

    /// The dataset's value.
    pub fn value(&self) -> &Value {
        &self.value
    }
}
