//! Writing new HDF5 files.
//!
//! The file is built in memory — groups, datasets and attributes — and serialized when it is
//! closed ([`FileWriter::close`], or on drop, which cannot report errors). Two output profiles
//! are chosen like h5py's `libver` ([`Profile`], [`WriteOptions`]). The default is the
//! "compatible" profile, the structures libhdf5 writes with default properties and h5py writes
//! by default (`libver="earliest"`), so every HDF5 reader can open it:
//! superblock version 0 (spec §II.A.1), version-1 object headers (§IV.A.1.a), old-style groups
//! with a symbol table, a v1 B-tree and a local heap (§III.A.1, §III.B–D; soft links are
//! entries caching their value, external links need the latest profile), contiguous datasets
//! with Dataspace v1, Datatype v1, Fill Value v2 and Layout v3 messages (§IV.A.2) — also
//! compact, or chunked with a v1 B-tree chunk index and the shuffle/deflate filters — attributes
//! as version-1 Attribute messages, and variable-length strings in the global heap (§III.E).
//!
//! The "latest" profile ([`Profile::Latest`], h5py's `libver="latest"`) writes what libhdf5
//! 1.10–1.14 write with the newest format bounds (HDF5 2.0 also moves filtered chunk indexes to
//! layout version 5, which HDF5 1.x cannot read; the latest profile stays at version 4): superblock version 3, version-2 object
//! headers, new-style groups (Link Info, Group Info and Link messages; hard, soft and external
//! links; more than 8 links in a fractal heap indexed by v2 B-trees), version-3 attributes
//! (more than 8, or one over 64 KiB, in dense storage), Dataspace v2, Fill Value v3, Filter
//! Pipeline v2, and Data Layout v4 chunk indexes chosen as libhdf5 does: single chunk, fixed
//! array, extensible array (one unlimited dimension) or v2 B-tree (several). Creation order can
//! be tracked and indexed (h5py's `track_order=True`).
//!
//! Design: the metadata is written at close, so allocation is a bump allocator over a file
//! that is laid out in one pass (children before the structures pointing to them, the
//! superblock last). The elements of a contiguous dataset of plain numbers given as a slice,
//! vector or standard-layout array are written when the dataset is created, straight from the
//! caller's memory, right after the superblock (as h5py writes them at creation); everything
//! else is kept until close. (Changing existing files, `r+`, is [`crate::rw::RwFile`].)
//!
//! ```no_run
//! use h5oxide::write::FileWriter;
//! let mut f = FileWriter::create("myfile.h5")?; // or create_with(path, WriteOptions::latest())
//! let g = f.create_group("experiment1")?;
//! g.set_attr("date", "2018-01-01")?;
//! let a = ndarray::Array2::<f64>::zeros((1000, 1000));
//! g.create_dataset("array1", &a)?;
//! f.close()?;
//! # Ok::<(), h5oxide::Error>(())
//! ```

mod serialize;
pub(crate) mod value;

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use h5oxide_format::datatype::Datatype;
use h5oxide_format::encode::filter_pipeline::FilterSpec;
use h5oxide_format::{Error, Result, UNDEF};

#[doc(hidden)]
pub use value::StoredView;
pub use value::{H5Write, HeapSlot, IntoValue, SlotKind, Value};

/// Which on-disk structures the writer produces, like h5py's `libver` bounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Profile {
    /// What libhdf5 writes with its default (earliest) bounds: readable by every HDF5 reader.
    #[default]
    Compatible,
    /// What libhdf5 writes with `libver="latest"`: needs HDF5 1.10 or later to read.
    Latest,
}

/// How a file is written: the profile and the root group's creation properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    profile: Profile,
    track_order: bool,
    userblock: u64,
}

impl WriteOptions {
    /// The defaults: the compatible profile, no creation-order tracking.
    pub fn new() -> Self {
        Self::default()
    }

    /// The latest profile (h5py's `libver="latest"`).
    pub fn latest() -> Self {
        Self::new().profile(Profile::Latest)
    }

    /// Chooses the profile.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Tracks and indexes the creation order of the root group's links and attributes (h5py's
    /// `File(..., track_order=True)`). In the compatible profile the root group becomes a
    /// new-style group with a version-2 header, as libhdf5 writes it.
    pub fn track_order(mut self, yes: bool) -> Self {
        self.track_order = yes;
        self
    }

    /// Reserves a user block of `size` bytes at the start of the file (h5py's
    /// `userblock_size`): zeros that other programs may overwrite. The superblock follows it
    /// and records it as the base address, to which every address in the file is relative
    /// (spec §II.A "Superblock", Base Address). `size` must be 0 (no user block) or a power of
    /// two of at least 512, as libhdf5 requires.
    pub fn userblock(mut self, size: u64) -> Self {
        self.userblock = size;
        self
    }
}

/// Gives a file written behind a user block of `size` bytes (left zero) its superblock's
/// base address `size`; the end-of-file address grows by `size` (the stored end of file is
/// absolute) and the checksum of a version 2/3 superblock is recomputed. Every other address is
/// relative to the base address — byte for byte what libhdf5 writes for the same file with a
/// user block.
fn patch_userblock(file: &mut fs::File, size: u64) -> Result<()> {
    let mut sb = [0u8; SUPERBLOCK_MAX];
    file.seek(SeekFrom::Start(size))?;
    file.read_exact(&mut sb)?;
    let version = sb[8];
    let (base_at, eof_at, checksum_at) = match version {
        0 => (24, 40, None),
        1 => (28, 44, None),
        _ => (12, 28, Some(44)),
    };
    let get = |b: &[u8], at: usize| {
        let mut v = [0u8; 8];
        v.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(v)
    };
    let eof = get(&sb, eof_at);
    sb[base_at..base_at + 8].copy_from_slice(&size.to_le_bytes());
    if eof != UNDEF {
        sb[eof_at..eof_at + 8].copy_from_slice(&(eof + size).to_le_bytes());
    }
    let len = match checksum_at {
        Some(c) => {
            let sum = h5oxide_format::checksum::lookup3(&sb[..c], 0);
            sb[c..c + 4].copy_from_slice(&sum.to_le_bytes());
            c + 4
        }
        None => eof_at + 8,
    };
    file.seek(SeekFrom::Start(size))?;
    file.write_all(&sb[..len])?;
    Ok(())
}

/// Bytes read back to patch a superblock for a user block: the base address, end-of-file
/// address and (version 2/3) checksum lie in the first 48 bytes of every version.
const SUPERBLOCK_MAX: usize = 48;

/// Where the elements of contiguous datasets go when the datasets are created: the region
/// after the superblock, before the metadata written at close. Shared by every group of one
/// [`FileWriter`].
#[derive(Clone)]
pub(crate) struct DataSink(Arc<Mutex<SinkState>>);

struct SinkState {
    /// `None` once the file has been closed.
    file: Option<fs::File>,
    /// The base address (user block size): file offset of relative address 0.
    base: u64,
    /// The end of the written data, relative to the base address.
    end: u64,
}

impl std::fmt::Debug for DataSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataSink")
    }
}

impl PartialEq for DataSink {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl DataSink {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, SinkState>> {
        self.0
            .lock()
            .map_err(|_| Error::Io("an earlier write to the file panicked".into()))
    }

    /// Writes `bytes` at the next 8-aligned address of the data region; returns the address.
    fn put(&self, bytes: &[u8]) -> Result<u64> {
        let mut st = self.lock()?;
        let addr = st.end.next_multiple_of(8);
        let at = st.base + addr;
        let file = st
            .file
            .as_mut()
            .ok_or_else(|| Error::Invalid("the file is closed".into()))?;
        file.seek(SeekFrom::Start(at))?;
        file.write_all(bytes)?;
        st.end = addr + bytes.len() as u64;
        Ok(addr)
    }
}

/// A new HDF5 file being written; its root group is reached through [`FileWriter::root`] or
/// the path-taking shortcuts.
pub struct FileWriter {
    path: PathBuf,
    /// The open file, shared with the groups for the data written at creation.
    sink: DataSink,
    root: GroupWriter,
    profile: Profile,
    userblock: u64,
}

impl std::fmt::Debug for FileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWriter")
            .field("path", &self.path)
            .finish()
    }
}

impl FileWriter {
    /// Creates (or truncates) `path`, like h5py's mode `"w"`. Until [`FileWriter::close`]
    /// only the elements of contiguous datasets of plain numbers are written (when each is
    /// created); the file is not valid HDF5 before it is closed.
    pub fn create(path: impl AsRef<Path>) -> Result<FileWriter> {
        Self::create_with(path, WriteOptions::default())
    }

    /// Creates (or truncates) `path` to be written as `options` say.
    pub fn create_with(path: impl AsRef<Path>, options: WriteOptions) -> Result<FileWriter> {
        let path = path.as_ref().to_path_buf();
        let ub = options.userblock;
        if ub != 0 && (ub < 512 || !ub.is_power_of_two()) {
            return Err(Error::Invalid(format!(
                "user block size {ub}: must be 0 or a power of two of at least 512"
            )));
        }
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
        let sink = DataSink(Arc::new(Mutex::new(SinkState {
            file: Some(file),
            base: ub,
            end: serialize::superblock_size(options.profile),
        })));
        Ok(FileWriter {
            path,
            root: GroupWriter {
                track_order: options.track_order,
                sink: Some(sink.clone()),
                ..GroupWriter::default()
            },
            sink,
            profile: options.profile,
            userblock: ub,
        })
    }

    /// The profile the file is written in.
    pub fn profile(&self) -> Profile {
        self.profile
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

    /// The dataset at `path`, to add attributes to it.
    pub fn dataset_mut(&mut self, path: &str) -> Result<&mut DatasetWriter> {
        self.root.dataset_mut(path)
    }

    /// Serializes the file and closes it.
    pub fn close(mut self) -> Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> Result<()> {
        let (file, start) = {
            let mut st = self.sink.lock()?;
            match st.file.take() {
                Some(f) => (f, st.end),
                None => return Ok(()),
            }
        };
        let with_path = |e| match e {
            Error::Io(m) => Error::Io(format!("{}: {m}", self.path.display())),
            e => e,
        };
        let mut file = serialize::write_file(file, &self.root, self.profile, self.userblock, start)
            .map_err(with_path)?;
        if self.userblock > 0 {
            patch_userblock(&mut file, self.userblock).map_err(with_path)?;
        }
        Ok(())
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
    /// A soft link to this path.
    SoftLink(String),
    /// An external link to an object path in another file.
    ExternalLink {
        file: String,
        path: String,
    },
}

/// A group being written: members by name and attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupWriter {
    /// Members sorted by name bytes, the order of the symbol table.
    pub(crate) members: BTreeMap<String, Member>,
    /// Creation index of each member.
    pub(crate) corder: BTreeMap<String, u64>,
    /// The next creation index.
    pub(crate) next_corder: u64,
    pub(crate) attrs: Attrs,
    /// Track and index the creation order of links and attributes.
    pub(crate) track_order: bool,
    /// The file of the [`FileWriter`] the group belongs to, for data written at creation.
    pub(crate) sink: Option<DataSink>,
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
        let g = parent.new_child();
        match parent.insert(name, Member::Group(g)) {
            Member::Group(g) => Ok(g),
            _ => Err(Error::Invalid(format!("{path}: not a group"))),
        }
    }

    /// Creates a soft link at `path` to `target` (an absolute or relative object path, not
    /// checked; h5py's `group[path] = h5py.SoftLink(target)`). In the compatible profile it is
    /// a symbol table entry caching the link value (cache type 2), as libhdf5 writes it.
    pub fn create_soft_link(&mut self, path: &str, target: &str) -> Result<()> {
        if target.is_empty() || target.contains('\0') {
            return Err(Error::Invalid(format!("soft link target {target:?}")));
        }
        let (parent, name) = self.parent_for_new(path)?;
        parent.insert(name, Member::SoftLink(target.to_string()));
        Ok(())
    }

    /// Creates an external link at `path` to the object `object_path` of the file `file`
    /// (h5py's `h5py.ExternalLink(file, object_path)`). Needs [`Profile::Latest`].
    pub fn create_external_link(
        &mut self,
        path: &str,
        file: &str,
        object_path: &str,
    ) -> Result<()> {
        for s in [file, object_path] {
            if s.is_empty() || s.contains('\0') {
                return Err(Error::Invalid(format!("external link value {s:?}")));
            }
        }
        let (parent, name) = self.parent_for_new(path)?;
        parent.insert(
            name,
            Member::ExternalLink {
                file: file.to_string(),
                path: object_path.to_string(),
            },
        );
        Ok(())
    }

    /// Tracks and indexes the creation order of this group's links and attributes (h5py's
    /// `create_group(..., track_order=True)`). The group is a new-style group with a
    /// version-2 header in either profile, as libhdf5 writes it.
    pub fn set_track_order(&mut self, yes: bool) {
        self.track_order = yes;
    }

    /// A new empty group to become a member of this one (writing to the same file).
    fn new_child(&self) -> GroupWriter {
        GroupWriter {
            sink: self.sink.clone(),
            ..GroupWriter::default()
        }
    }

    /// Adds (or returns the existing) member `name`, recording its creation index.
    fn insert(&mut self, name: &str, m: Member) -> &mut Member {
        if !self.members.contains_key(name) {
            self.corder.insert(name.to_string(), self.next_corder);
            self.next_corder += 1;
        }
        self.members.entry(name.to_string()).or_insert(m)
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
    ///
    /// Contiguous plain numbers given as a slice, vector or standard-layout array are written
    /// to the file now, straight from `data`; everything else is kept until the file is closed.
    pub fn create_dataset_with(
        &mut self,
        path: &str,
        data: impl IntoValue,
        options: DatasetOptions,
    ) -> Result<&mut DatasetWriter> {
        if !options.external.is_empty() {
            return Err(Error::unsupported(
                "external storage in the one-pass FileWriter (RwFile writes it)",
            ));
        }
        if let (Some(sink), false) = (&self.sink, options.compact) {
            if let Some(view) = data.stored_view() {
                let mut value = Value {
                    dtype: view.dtype,
                    space: value::space_for(&view.shape),
                    elements: value::Elements::Raw(Vec::new()),
                };
                let fill = fill_bytes(path, &value, &options)?;
                if chunking(path, &mut value, &options)?.is_none() {
                    let sink = sink.clone();
                    let (parent, name) = self.parent_for_new(path)?;
                    let len = view.bytes.len() as u64;
                    let addr = if len == 0 {
                        UNDEF
                    } else {
                        sink.put(view.bytes)?
                    };
                    let d = DatasetWriter {
                        value,
                        attrs: Attrs::default(),
                        compact: false,
                        fill,
                        chunked: None,
                        track_order: options.track_order,
                        stored: Some((addr, len)),
                    };
                    return match parent.insert(name, Member::Dataset(d)) {
                        Member::Dataset(d) => Ok(d),
                        _ => Err(Error::Invalid(format!("{path}: not a dataset"))),
                    };
                }
            }
        }
        let value = data.into_value()?;
        let fill = fill_bytes(path, &value, &options)?;
        if options.compact
            && matches!(
                value.elements,
                value::Elements::VarLen(_) | value::Elements::Mixed { .. }
            )
        {
            return Err(Error::unsupported(
                "compact storage of variable-length data",
            ));
        }
        let mut value = value;
        let chunked = chunking(path, &mut value, &options)?;
        let (parent, name) = self.parent_for_new(path)?;
        match parent.insert(
            name,
            Member::Dataset(DatasetWriter {
                value,
                attrs: Attrs::default(),
                compact: options.compact,
                fill,
                chunked,
                track_order: options.track_order,
                stored: None,
            }),
        ) {
            Member::Dataset(d) => Ok(d),
            _ => Err(Error::Invalid(format!("{path}: not a dataset"))),
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
                Some(_) => return Err(Error::Invalid(format!("{path}: {p} is not a group"))),
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
            Some(_) => Err(Error::Invalid(format!("{path}: not a dataset"))),
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
            let child = g.new_child();
            g = match g.insert(p, Member::Group(child)) {
                Member::Group(child) => child,
                _ => return Err(Error::Invalid(format!("{path}: {p} is not a group"))),
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
    /// Chunked storage.
    pub(crate) chunked: Option<Chunked>,
    /// Track and index the creation order of attributes.
    pub(crate) track_order: bool,
    /// Contiguous data already written when the dataset was created: its address and size
    /// (then `value` keeps no elements).
    pub(crate) stored: Option<(u64, u64)>,
}

/// Chunk dimensions and filter pipeline of a chunked dataset.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chunked {
    pub(crate) dims: Vec<u64>,
    pub(crate) filters: Vec<FilterSpec>,
}

/// The user fill value of `options` as stored, checked to be one element of `value`'s type.
fn fill_bytes(path: &str, value: &Value, options: &DatasetOptions) -> Result<Option<Vec<u8>>> {
    let Some(f) = &options.fill_value else {
        return Ok(None);
    };
    let ok =
        f.dtype == value.dtype && f.space == h5oxide_format::messages::dataspace::Dataspace::Scalar;
    match (&f.elements, ok) {
        (value::Elements::Raw(raw), true) => Ok(Some(raw.clone())),
        _ => Err(Error::Invalid(format!(
            "{path}: the fill value must be one element of the dataset's type"
        ))),
    }
}

/// Validates the storage options and applies the maximum shape to `value`'s dataspace;
/// returns the chunking, if any.
pub(crate) fn chunking(
    path: &str,
    value: &mut Value,
    o: &DatasetOptions,
) -> Result<Option<Chunked>> {
    let bad = |m: String| Err(Error::Invalid(format!("{path}: {m}")));
    let shape = value.shape().to_vec();
    if let Some(max) = &o.maxshape {
        if max.len() != shape.len() {
            return bad(format!("maxshape {max:?} for shape {shape:?}"));
        }
        if max
            .iter()
            .zip(&shape)
            .any(|(m, d)| m.is_some_and(|m| m < *d))
        {
            return bad(format!(
                "maxshape {max:?} is smaller than the shape {shape:?}"
            ));
        }
    }
    let resizable = o
        .maxshape
        .as_ref()
        .is_some_and(|m| m.iter().zip(&shape).any(|(m, d)| *m != Some(*d)));
    let wants_chunks = o.chunks.is_some()
        || resizable
        || o.shuffle
        || o.deflate.is_some()
        || o.lzf
        || o.fletcher32
        || o.scaleoffset.is_some()
        || !o.extra_filters.is_empty();
    if !wants_chunks {
        return Ok(None);
    }
    if o.compact {
        return bad("compact storage cannot be chunked, filtered or resizable".into());
    }
    if shape.is_empty() {
        return bad("a scalar dataset cannot be chunked".into());
    }
    let max: Vec<Option<u64>> = match &o.maxshape {
        Some(m) => m.clone(),
        None => shape.iter().map(|&d| Some(d)).collect(),
    };
    let elem = u64::from(value.dtype().size());
    let dims = match &o.chunks {
        Some(c) => c.clone(),
        None => guess_chunk(&shape, elem),
    };
    if dims.len() != shape.len() || dims.contains(&0) {
        return bad(format!("chunks {dims:?} for shape {shape:?}"));
    }
    if dims
        .iter()
        .zip(&max)
        .any(|(c, m)| m.is_some_and(|m| *c > m))
    {
        return bad(format!(
            "chunks {dims:?} exceed the fixed maximum dimensions {max:?}"
        ));
    }
    let chunk_bytes = dims
        .iter()
        .try_fold(elem, |a, &d| a.checked_mul(d))
        .filter(|&b| b < 1 << 32 && dims.iter().all(|&d| d < 1 << 32));
    if chunk_bytes.is_none() {
        return bad(format!("chunks {dims:?} exceed 4 GiB"));
    }
    let mut filters = Vec::new();
    let fill = match &o.fill_value {
        Some(Value {
            elements: value::Elements::Raw(raw),
            ..
        }) => Some(raw.as_slice()),
        _ => None,
    };
    if let Some((kind, factor)) = o.scaleoffset {
        filters.push(FilterSpec {
            id: 6,
            name: "scaleoffset".into(),
            optional: true,
            cd_values: set_local(path, 6, &[kind, factor], value.dtype(), &dims, fill)?,
        });
    }
    if o.shuffle {
        filters.push(FilterSpec {
            id: 2,
            name: "shuffle".into(),
            optional: true,
            cd_values: vec![elem as u32],
        });
    }
    if let Some(level) = o.deflate {
        if level > 9 {
            return bad(format!("deflate level {level} (0..=9)"));
        }
        filters.push(FilterSpec {
            id: 1,
            name: "deflate".into(),
            optional: true,
            cd_values: vec![level],
        });
    }
    if o.lzf {
        filters.push(FilterSpec {
            id: 32000,
            name: "lzf".into(),
            optional: true,
            cd_values: vec![4, 261, chunk_bytes.unwrap_or(0) as u32],
        });
    }
    for f in &o.extra_filters {
        filters.push(FilterSpec {
            cd_values: set_local(path, f.id, &f.cd_values, value.dtype(), &dims, fill)?,
            ..f.clone()
        });
    }
    if o.fletcher32 {
        filters.push(FilterSpec {
            id: 3,
            name: "fletcher32".into(),
            optional: false,
            cd_values: Vec::new(),
        });
    }
    value.space = h5oxide_format::messages::dataspace::Dataspace::Simple { dims: shape, max };
    Ok(Some(Chunked { dims, filters }))
}

/// The client data values a filter stores for a dataset, from the ones the user gave, as the
/// filter's `set_local` callback fills them in when libhdf5 creates the dataset:
///
/// * scale-offset (6): scale type and factor, then the chunk's element count, class (0
///   integer, 1 float), size, sign, byte order (0 little-endian), whether a fill value is
///   defined (always: the default one is) and the fill value's bytes packed four per value —
///   20 values;
/// * szip (4): the user's option mask (4 entropy coding, 32 nearest neighbour) with the bits
///   `H5Pset_szip` and `set_local` add — "allow K13" (1), raw data (128) and the byte order
///   (8 little-endian, 16 big-endian) —, pixels per block, bits per pixel (the precision, rounded up
///   to 32 or 64 above 24) and pixels per scanline (from the chunk's last dimension, at most
///   128 blocks);
/// * Blosc (32001): its filter and format versions (2, 2), the type size (1 when larger than
///   255) and the chunk size in bytes before the user's level, shuffle and compressor;
/// * Bitshuffle (32008): its version (0.4) and the element size before the user's block size
///   and compression.
///
/// Other filters keep the user's values.
fn set_local(
    path: &str,
    id: u16,
    user: &[u32],
    dtype: &Datatype,
    chunk: &[u64],
    fill: Option<&[u8]>,
) -> Result<Vec<u32>> {
    use h5oxide_format::datatype::ByteOrder;
    let elem = u64::from(dtype.size());
    let nelmts = chunk.iter().product::<u64>();
    let (order, precision, class, signed) = match dtype {
        Datatype::FixedPoint(f) => (f.order, u32::from(f.precision), 0, f.signed),
        Datatype::Float(f) => (f.order, u32::from(f.precision), 1, false),
        _ => (ByteOrder::LittleEndian, 8 * dtype.size(), 2, false),
    };
    let big = u32::from(order == ByteOrder::BigEndian);
    let bad = |m: String| Err(Error::Invalid(format!("{path}: {m}")));
    Ok(match id {
        6 => {
            if class == 2 {
                return bad(
                    "the scale-offset filter needs an integer or floating-point type".into(),
                );
            }
            let mut cd = vec![0u32; 20];
            cd[0] = user.first().copied().unwrap_or(2);
            cd[1] = user.get(1).copied().unwrap_or(0);
            cd[2] = u32::try_from(nelmts).unwrap_or(u32::MAX);
            cd[3] = class;
            cd[4] = elem as u32;
            cd[5] = u32::from(signed);
            cd[6] = big;
            cd[7] = 1; // fill value defined (the default one counts)
            let zeros = vec![0u8; elem as usize];
            let f = fill.unwrap_or(&zeros);
            for (k, four) in f.chunks(4).enumerate().take(12) {
                let mut b = [0u8; 4];
                b[..four.len()].copy_from_slice(four);
                cd[8 + k] = u32::from_le_bytes(b);
            }
            cd
        }
        4 => {
            let mask = user.first().copied().unwrap_or(0);
            let ppb = user.get(1).copied().unwrap_or(0);
            if ppb == 0 || ppb % 2 != 0 || ppb > 32 {
                return bad(format!(
                    "szip pixels per block {ppb} (an even number up to 32)"
                ));
            }
            if class == 2 {
                return bad("the szip filter needs an integer or floating-point type".into());
            }
            let bpp = match precision {
                p if p > 24 && p <= 32 => 32,
                p if p > 32 => 64,
                p => p,
            };
            let last = chunk.last().copied().unwrap_or(1);
            let ppb64 = u64::from(ppb);
            let scanline = if last < ppb64 {
                if nelmts < ppb64 {
                    return bad(format!(
                        "szip pixels per block {ppb} exceed the {nelmts} elements of a chunk"
                    ));
                }
                (ppb64 * 128).min(nelmts)
            } else if last <= 4096 {
                (ppb64 * 128).min(last)
            } else {
                ppb64 * 128
            };
            vec![
                mask | 1 | 128 | if big == 1 { 16 } else { 8 },
                ppb,
                bpp,
                scanline as u32,
            ]
        }
        32001 => {
            let typesize = if elem > 255 { 1 } else { elem as u32 };
            let chunk_bytes = nelmts.saturating_mul(elem).min(u64::from(u32::MAX)) as u32;
            let mut cd = vec![2, 2, typesize, chunk_bytes];
            cd.extend(user.iter().skip(4));
            cd
        }
        32008 => {
            let mut cd = vec![0, 4, elem as u32];
            cd.extend_from_slice(user);
            cd
        }
        _ => user.to_vec(),
    })
}

/// Chunk dimensions for a dataset of `shape` with `elem`-byte elements, chosen like h5py's
/// `guess_chunk`: a target between 8 KiB and 1 MiB growing with the dataset size, reached by
/// halving the dimensions in turn.
fn guess_chunk(shape: &[u64], elem: u64) -> Vec<u64> {
    let mut chunks: Vec<u64> = shape
        .iter()
        .map(|&d| if d == 0 { 1024 } else { d })
        .collect();
    let total = chunks.iter().fold(elem as f64, |a, &d| a * d as f64);
    let target =
        (16384.0 * 2f64.powf((total / (1024.0 * 1024.0)).log10())).clamp(8192.0, 1024.0 * 1024.0);
    let mut i = 0;
    loop {
        let n: f64 = chunks.iter().map(|&c| c as f64).product();
        let bytes = n * elem as f64;
        if (bytes < target || (bytes - target).abs() / target < 0.5) && bytes < 1024.0 * 1024.0 {
            break;
        }
        if n <= 1.0 {
            break;
        }
        let k = i % chunks.len();
        chunks[k] = chunks[k].div_ceil(2);
        i += 1;
    }
    chunks
}

/// How a dataset is stored (the dataset creation properties the writer supports).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatasetOptions {
    pub(crate) compact: bool,
    pub(crate) fill_value: Option<Value>,
    pub(crate) chunks: Option<Vec<u64>>,
    pub(crate) maxshape: Option<Vec<Option<u64>>>,
    pub(crate) shuffle: bool,
    pub(crate) scaleoffset: Option<(u32, u32)>,
    pub(crate) deflate: Option<u32>,
    pub(crate) lzf: bool,
    pub(crate) fletcher32: bool,
    pub(crate) extra_filters: Vec<FilterSpec>,
    pub(crate) track_order: bool,
    /// External files: name, offset in the file, bytes (`u64::MAX`: unlimited).
    pub(crate) external: Vec<(String, u64, u64)>,
}

impl DatasetOptions {
    /// Contiguous storage in external raw files (h5py's `external=`): `(file name, offset in
    /// that file, bytes)` in order, the dataset's bytes filling them one after the other
    /// (`u64::MAX` bytes: unlimited, last entry only). Names are stored as given and resolved,
    /// when the data is written, against the working directory, as libhdf5 does. Written by
    /// [`crate::RwFile`]; the one-pass [`FileWriter`] refuses it.
    pub fn external(mut self, files: &[(&str, u64, u64)]) -> Self {
        self.external = files
            .iter()
            .map(|&(n, o, s)| (n.to_string(), o, s))
            .collect();
        self
    }

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

    /// Tracks and indexes the creation order of the dataset's attributes (h5py's
    /// `create_dataset(..., track_order=True)`): the dataset gets a version-2 object header
    /// with an Attribute Info message, as libhdf5 writes it.
    pub fn track_order(mut self, yes: bool) -> Self {
        self.track_order = yes;
        self
    }

    /// Chunked storage with these chunk dimensions (h5py's `chunks=`).
    pub fn chunks(mut self, dims: &[u64]) -> Self {
        self.chunks = Some(dims.to_vec());
        self
    }

    /// Maximum dimensions, `None` for unlimited (h5py's `maxshape=`); needs chunked storage,
    /// chosen automatically when no chunk dimensions are given.
    pub fn maxshape(mut self, max: &[Option<u64>]) -> Self {
        self.maxshape = Some(max.to_vec());
        self
    }

    /// The deflate (gzip) filter at `level` 0–9 (h5py's `compression="gzip"`,
    /// `compression_opts=level`; h5py's default level is 4). Implies chunked storage.
    pub fn deflate(mut self, level: u32) -> Self {
        self.deflate = Some(level);
        self
    }

    /// The shuffle filter, applied before compression (h5py's `shuffle=True`). Implies
    /// chunked storage.
    pub fn shuffle(mut self, yes: bool) -> Self {
        self.shuffle = yes;
        self
    }

    /// The LZF filter (id 32000, h5py's `compression="lzf"`); h5dump needs the LZF plugin to
    /// read such data. Implies chunked storage.
    pub fn lzf(mut self, yes: bool) -> Self {
        self.lzf = yes;
        self
    }

    /// The Fletcher-32 checksum filter, last in the pipeline (h5py's `fletcher32=True`).
    /// Implies chunked storage.
    pub fn fletcher32(mut self, yes: bool) -> Self {
        self.fletcher32 = yes;
        self
    }

    /// The scale-offset filter (id 6), first in the pipeline (h5py's `scaleoffset=`):
    /// `scale_type` 0 for floating-point D-scale with `factor` decimal digits kept, 2 for
    /// integers with `factor` bits (0: as few as the chunk's values need). Implies chunked
    /// storage; the other parameters libhdf5's `set_local` stores (chunk elements, class, size,
    /// sign, byte order, fill value) are filled in from the dataset.
    pub fn scaleoffset(mut self, scale_type: u32, factor: u32) -> Self {
        self.scaleoffset = Some((scale_type, factor));
        self
    }

    /// Any other filter h5oxide-filters can encode, by id, name and client data values; it
    /// runs after shuffle and compression and before Fletcher-32. Implies chunked storage.
    pub fn filter(mut self, id: u16, name: &str, cd_values: &[u32]) -> Self {
        self.extra_filters.push(FilterSpec {
            id,
            name: name.to_string(),
            optional: true,
            cd_values: cd_values.to_vec(),
        });
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

    /// Tracks and indexes the creation order of this dataset's attributes (h5py's
    /// `create_dataset(..., track_order=True)`). The dataset gets a version-2 header in
    /// either profile, as libhdf5 writes it.
    pub fn set_track_order(&mut self, yes: bool) {
        self.track_order = yes;
    }

    /// The dataset's value; `None` when its elements went to the file when the dataset was
    /// created (contiguous plain numbers from a slice, vector or array).
    pub fn value(&self) -> Option<&Value> {
        self.stored.is_none().then_some(&self.value)
    }
}
