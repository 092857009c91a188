//! Opening files, and the shared state behind every handle of one file.
//!
//! A [`File`] is a cheap handle (an `Arc`) to its [`FileInner`]; groups, datasets and attributes
//! hold the same `Arc`, so they stay valid while any handle lives. All state is `Send + Sync`;
//! reads are positional, and the object-header cache is a read-mostly `RwLock` map.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use h5oxide_filters::Registry;
use h5oxide_format::messages::link::{Link, LinkTarget};
use h5oxide_format::object_header::{msg, ObjectHeader};
use h5oxide_format::shared::SharedMessageTable;
use h5oxide_format::superblock::Superblock;
use h5oxide_format::{Ctx, Error, Limits, Result, Source};

use crate::group::Group;
use crate::object::Object;
use crate::storage::{Based, FileStorage, MemStorage, MmapStorage};

/// How to open a file.
#[derive(Clone, Default)]
pub struct OpenOptions {
    limits: Limits,
    mmap: bool,
    registry: Option<Registry>,
    chunk_cache_bytes: Option<u64>,
}

/// Default budget of a file's decoded-chunk cache.
pub const DEFAULT_CHUNK_CACHE_BYTES: u64 = 64 << 20;

impl OpenOptions {
    /// Default options: positional reads, default limits, every built-in filter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resource limits for hostile files (raise them for trusted huge files).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Memory-map the file instead of reading it with `pread`.
    pub fn mmap(mut self, yes: bool) -> Self {
        self.mmap = yes;
        self
    }

    /// Byte budget of the file's cache of decoded chunks (default
    /// [`DEFAULT_CHUNK_CACHE_BYTES`]; 0 disables it). Small reads (rows, points) of chunked
    /// datasets decode each chunk once while it stays cached.
    pub fn chunk_cache_bytes(mut self, bytes: u64) -> Self {
        self.chunk_cache_bytes = Some(bytes);
        self
    }

    /// Use this filter registry (e.g. with user filters added).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Opens `path` read-only.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<File> {
        let path = path.as_ref();
        let storage: Box<dyn Source> = if self.mmap {
            Box::new(MmapStorage::open(path)?)
        } else {
            Box::new(FileStorage::open(path)?)
        };
        File::from_source(storage, Some(path.to_path_buf()), self)
    }

    /// Opens the HDF5 file whose bytes `source` gives (an object store, HTTP, any
    /// [`crate::storage`] backend or your own [`Source`]); wrap a high-latency source in a
    /// [`crate::storage::BlockCache`].
    pub fn open_source(&self, source: impl Source + 'static) -> Result<File> {
        File::from_source(Box::new(source), None, self)
    }

    /// Opens an HDF5 image held in memory.
    pub fn open_bytes(&self, bytes: impl Into<Arc<[u8]>>) -> Result<File> {
        File::from_source(Box::new(MemStorage::new(bytes)), None, self)
    }
}

/// State shared by every handle to one open file.
pub struct FileInner {
    pub(crate) src: Based,
    pub(crate) sb: Superblock,
    pub(crate) limits: Limits,
    pub(crate) path: Option<PathBuf>,
    pub(crate) registry: Registry,
    pub(crate) chunk_cache: crate::chunked::ChunkCache,
    headers: RwLock<HashMap<u64, Arc<ObjectHeader>>>,
    /// Global heap collections read so far (variable-length values).
    gheap: h5oxide_format::global_heap::SharedGlobalHeapCache,
    externals: Mutex<HashMap<PathBuf, Arc<FileInner>>>,
    sohm: OnceLock<Option<SharedMessageTable>>,
    options: OpenOptions,
}

impl std::fmt::Debug for FileInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileInner")
            .field("path", &self.path)
            .field("superblock", &self.sb)
            .finish()
    }
}

impl FileInner {
    /// The decoding context (source, sizes, limits).
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            src: &self.src,
            sizes: self.sb.sizes,
            limits: self.limits,
            group_leaf_k: if self.sb.version <= 1 {
                self.sb.group_leaf_node_k
            } else {
                0
            },
            gheap: Some(&self.gheap),
        }
    }

    /// The superblock.
    pub fn superblock(&self) -> &Superblock {
        &self.sb
    }

    /// The file's path, when opened from one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The shared object header message table (SOHM), from the superblock extension.
    ///
    /// A missing or unreadable table is `None`: messages stored there then fail to resolve,
    /// each with its own error, instead of the whole file failing to open.
    pub fn sohm(&self) -> Option<&SharedMessageTable> {
        self.sohm
            .get_or_init(|| {
                let ext = self.sb.extension_address;
                if ext == h5oxide_format::UNDEF {
                    return None;
                }
                let oh = ObjectHeader::read(&self.ctx(), ext).ok()?;
                SharedMessageTable::read(&self.ctx(), &oh).ok().flatten()
            })
            .as_ref()
    }

    /// The body of a message, with a shared-message stub resolved (committed or SOHM).
    pub fn message_body(&self, m: &h5oxide_format::object_header::Message) -> Result<Vec<u8>> {
        if m.is_shared() {
            h5oxide_format::shared::resolve(&self.ctx(), self.sohm(), m.kind, &m.data, m.addr)
        } else {
            Ok(m.data.clone())
        }
    }

    /// The object header at `addr`, cached.
    pub fn header(&self, addr: u64) -> Result<Arc<ObjectHeader>> {
        if let Ok(map) = self.headers.read() {
            if let Some(h) = map.get(&addr) {
                return Ok(h.clone());
            }
        }
        let h = Arc::new(ObjectHeader::read(&self.ctx(), addr)?);
        if let Ok(mut map) = self.headers.write() {
            if map.len() > 100_000 {
                map.clear();
            }
            map.insert(addr, h.clone());
        }
        Ok(h)
    }

    /// Opens (or reuses) the file an external link names, resolved relative to this file's
    /// directory first, then as given.
    pub(crate) fn external(&self, name: &str) -> Result<Arc<FileInner>> {
        let given = Path::new(name);
        let mut candidates = Vec::new();
        if let Some(dir) = self.path.as_deref().and_then(Path::parent) {
            candidates.push(dir.join(given));
        }
        candidates.push(given.to_path_buf());
        let found = candidates
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| Error::NotFound(format!("external link target file {name:?}")))?;
        let mut map = self
            .externals
            .lock()
            .map_err(|_| Error::Io("poisoned lock".into()))?;
        if let Some(f) = map.get(&found) {
            return Ok(f.clone());
        }
        let f = self.options.open(&found)?.inner;
        map.insert(found, f.clone());
        Ok(f)
    }

    /// Opens another file with this file's options (a fresh handle, not cached).
    pub(crate) fn open_other(&self, path: &Path) -> Result<Arc<FileInner>> {
        Ok(self.options.open(path)?.inner)
    }

    /// [`FileInner::resolve`] without an `Arc` of this file: the file is `None` while the path
    /// stays in this file, else the file an external link led to.
    pub(crate) fn resolve_borrowed(
        &self,
        start: u64,
        path: &str,
        depth: u32,
    ) -> Result<(Option<Arc<FileInner>>, u64)> {
        if depth > 40 {
            return Err(Error::Cycle {
                structure: "soft/external link chain",
                addr: start,
            });
        }
        let mut cur = if path.starts_with('/') {
            self.sb.root_object_header_address
        } else {
            start
        };
        let comps: Vec<&str> = path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        for (i, comp) in comps.iter().enumerate() {
            let oh = self.header(cur)?;
            if !is_group(&oh) {
                return Err(Error::NotFound(format!(
                    "{path}: {comp:?} is inside an object that is not a group"
                )));
            }
            let link = h5oxide_format::group::lookup(&self.ctx(), &oh, comp.as_bytes())?
                .ok_or_else(|| Error::NotFound(format!("{path}: no link named {comp:?}")))?;
            let rest = comps.get(i + 1..).unwrap_or(&[]).join("/");
            match &link.target {
                LinkTarget::Hard(a) => cur = *a,
                LinkTarget::Soft(t) => {
                    let t = String::from_utf8_lossy(t).into_owned();
                    let (f, a) = self.resolve_borrowed(cur, &t, depth + 1)?;
                    if let Some(f) = f {
                        let (f2, a2) = f.resolve(a, &rest, depth + 1)?;
                        return Ok((Some(f2), a2));
                    }
                    cur = a;
                }
                LinkTarget::External { file, path: p } => {
                    let f = self.external(&String::from_utf8_lossy(file))?;
                    let p = String::from_utf8_lossy(p).into_owned();
                    let root = f.sb.root_object_header_address;
                    let (f1, a1) = f.resolve(root, &p, depth + 1)?;
                    let (f2, a2) = f1.resolve(a1, &rest, depth + 1)?;
                    return Ok((Some(f2), a2));
                }
                LinkTarget::UserDefined { class, .. } => {
                    return Err(Error::unsupported(format!(
                        "following user-defined link class {class}"
                    )))
                }
            }
        }
        Ok((None, cur))
    }

    /// Follows `path` from the group at `start` (absolute paths start at the root), returning
    /// the file (external links may lead elsewhere) and object header address reached.
    pub(crate) fn resolve(
        self: &Arc<Self>,
        start: u64,
        path: &str,
        depth: u32,
    ) -> Result<(Arc<FileInner>, u64)> {
        if depth > 40 {
            return Err(Error::Cycle {
                structure: "soft/external link chain",
                addr: start,
            });
        }
        let mut file = self.clone();
        let mut cur = if path.starts_with('/') {
            self.sb.root_object_header_address
        } else {
            start
        };
        for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
            let oh = file.header(cur)?;
            if !is_group(&oh) {
                return Err(Error::NotFound(format!(
                    "{path}: {comp:?} is inside an object that is not a group"
                )));
            }
            let link = h5oxide_format::group::lookup(&file.ctx(), &oh, comp.as_bytes())?
                .ok_or_else(|| Error::NotFound(format!("{path}: no link named {comp:?}")))?;
            let (f, a) = file.follow(cur, &link, depth)?;
            file = f;
            cur = a;
        }
        Ok((file, cur))
    }

    /// The object a link (found in the group at `group_addr`) points to.
    pub(crate) fn follow(
        self: &Arc<Self>,
        group_addr: u64,
        link: &Link,
        depth: u32,
    ) -> Result<(Arc<FileInner>, u64)> {
        match &link.target {
            LinkTarget::Hard(a) => Ok((self.clone(), *a)),
            LinkTarget::Soft(t) => {
                let t = String::from_utf8_lossy(t).into_owned();
                self.resolve(group_addr, &t, depth + 1)
            }
            LinkTarget::External { file, path } => {
                let f = self.external(&String::from_utf8_lossy(file))?;
                let p = String::from_utf8_lossy(path).into_owned();
                let root = f.sb.root_object_header_address;
                f.resolve(root, &p, depth + 1)
            }
            LinkTarget::UserDefined { class, .. } => Err(Error::unsupported(format!(
                "following user-defined link class {class}"
            ))),
        }
    }
}

/// True when an object header describes a group.
pub(crate) fn is_group(oh: &ObjectHeader) -> bool {
    oh.has(msg::SYMBOL_TABLE) || oh.has(msg::LINK_INFO) || oh.has(msg::LINK)
}

/// An open HDF5 file.
///
/// ```no_run
/// let f = h5oxide::File::open("data.h5")?;
/// for name in f.root()?.member_names()? {
///     println!("{name}");
/// }
/// # Ok::<(), h5oxide::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct File {
    pub(crate) inner: Arc<FileInner>,
}

impl File {
    /// Opens `path` read-only with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<File> {
        OpenOptions::default().open(path)
    }

    /// Opens an HDF5 image held in memory.
    pub fn from_bytes(bytes: impl Into<Arc<[u8]>>) -> Result<File> {
        OpenOptions::default().open_bytes(bytes)
    }

    fn from_source(
        storage: Box<dyn Source>,
        path: Option<PathBuf>,
        opts: &OpenOptions,
    ) -> Result<File> {
        let sb = Superblock::find(storage.as_ref())?;
        if sb.version >= 3 && sb.consistency_flags & 0x05 != 0 {
            // libhdf5 refuses a normal open of a file still marked open for (SWMR) writing; we
            // read it like a SWMR reader would, which is what h5py's retry does.
        }
        let mut src = Based {
            inner: storage,
            base: sb.base_address,
            eoa: if sb.eof_address == h5oxide_format::UNDEF {
                u64::MAX
            } else {
                sb.eof_address
            },
            overlay: Vec::new(),
        };
        let phys = src.inner.size();
        if sb.eof_address != h5oxide_format::UNDEF
            && phys < sb.eof_address
            && sb.consistency_flags & 0x04 == 0
        {
            return Err(Error::corrupt(
                "superblock",
                0,
                format!(
                    "truncated file: end-of-file address {} but the file has {phys} bytes",
                    sb.eof_address
                ),
            ));
        }
        src.overlay = cache_image(&src, &sb, opts.limits)?;
        let registry = opts.registry.clone().unwrap_or_default();
        let inner = FileInner {
            src,
            sb,
            limits: opts.limits,
            path,
            registry,
            chunk_cache: crate::chunked::ChunkCache::new(
                opts.chunk_cache_bytes.unwrap_or(DEFAULT_CHUNK_CACHE_BYTES),
            ),
            headers: RwLock::new(HashMap::new()),
            gheap: Default::default(),
            externals: Mutex::new(HashMap::new()),
            sohm: OnceLock::new(),
            options: opts.clone(),
        };
        Ok(File {
            inner: Arc::new(inner),
        })
    }

    /// The root group.
    pub fn root(&self) -> Result<Group> {
        Group::open(
            self.inner.clone(),
            self.inner.sb.root_object_header_address,
            "/".into(),
        )
    }

    /// The object at `path` (from the root).
    pub fn get(&self, path: &str) -> Result<Object> {
        self.root()?.get(path)
    }

    /// The group at `path`.
    pub fn group(&self, path: &str) -> Result<Group> {
        self.root()?.group(path)
    }

    /// The dataset at `path`.
    pub fn dataset(&self, path: &str) -> Result<crate::Dataset> {
        self.root()?.dataset(path)
    }

    /// The superblock.
    pub fn superblock(&self) -> &Superblock {
        &self.inner.sb
    }

    /// Shared internals (for the canonical dump and advanced use).
    pub fn inner(&self) -> &Arc<FileInner> {
        &self.inner
    }
}

/// The entries of the metadata cache image the superblock extension points to (message 0x18),
/// if any; they replace the file's bytes at their addresses.
fn cache_image(
    src: &Based,
    sb: &Superblock,
    limits: h5oxide_format::source::Limits,
) -> Result<Vec<h5oxide_format::cache_image::ImageEntry>> {
    use h5oxide_format::cache_image::{decode_block, decode_message, MSG_CACHE_IMAGE};
    let ext = sb.extension_address;
    if ext == h5oxide_format::UNDEF {
        return Ok(Vec::new());
    }
    let ctx = Ctx {
        src,
        sizes: sb.sizes,
        limits,
        group_leaf_k: 0,
        gheap: None,
    };
    // An unreadable extension is reported by whatever needs it (shared messages), not here.
    let Ok(oh) = ObjectHeader::read(&ctx, ext) else {
        return Ok(Vec::new());
    };
    let Some(m) = oh.messages.iter().find(|m| m.kind == MSG_CACHE_IMAGE) else {
        return Ok(Vec::new());
    };
    let (addr, len) = decode_message(&m.data, m.addr, sb.sizes)?;
    if len > limits.max_metadata_bytes || len > src.size() {
        return Err(Error::corrupt(
            "metadata cache image",
            addr,
            format!("{len} bytes in a file of {}", src.size()),
        ));
    }
    let block = src.read(addr, len as usize)?;
    decode_block(&block, addr, sb.sizes)
}
