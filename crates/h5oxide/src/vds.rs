//! Virtual datasets (Data Layout class 3): the extent libhdf5 reports and reading values.
//!
//! A virtual dataset (VDS) stores no data. Its layout names a global heap object holding the
//! mapping list ([`h5oxide_format::vds`]): each mapping pairs a selection of a *source* dataset
//! (in this file, `"."`, or another one) with a selection of the virtual dataset. Reading a
//! region of the VDS starts from the fill value and copies, mapping after mapping, the source
//! elements into the virtual positions: the k-th element of the source selection (in its
//! iteration order: row-major for hyperslabs and "all", stored order for point lists) goes to
//! the k-th element of the virtual selection. A source file or dataset that cannot be opened
//! leaves its region at the fill value, as libhdf5 does.
//!
//! **Source files** are looked up as libhdf5 does by default: an absolute name as given; then
//! in each folder of the `HDF5_VDS_PREFIX` environment variable (`:`-separated, `${ORIGIN}` =
//! the VDS file's folder); then in the folder of the VDS file; then as given (relative to the
//! working directory). Source files are opened once per read (and once per open, for the
//! extent), not kept. Sources that are themselves virtual are followed up to [`MAX_DEPTH`]
//! levels (cycles end there with an [`Error::Limit`]).
//!
//! **Unlimited mappings** (libhdf5's default "last available" view):
//!
//! * a virtual selection unlimited in one dimension whose source selection is unlimited too: the
//!   source selection is cut at the source's current extent; the virtual selection is cut to
//!   the same number of positions along its unlimited dimension;
//! * a virtual selection with an unlimited *count* whose file or dataset name holds `%b`
//!   (printf-style): block `j` of the virtual selection maps the source named with `%b` → `j`
//!   (`%%` → `%`), for `j` = 0, 1, … up to the first source that cannot be opened.
//!
//! The VDS extent in a dimension that some unlimited mapping spans is the largest end of the
//! cut virtual selections (and of the fixed mappings' selections); other dimensions keep the
//! stored extent.
//!
//! **Types**: when a source's datatype differs from the VDS's, integers and IEEE floats are
//! converted (byte order, size, sign, int ↔ float, saturating like libhdf5's default);
//! other differences are [`Error::Unsupported`].

use std::cell::Cell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use h5oxide_format::datatype::{ByteOrder, Datatype, FixedPoint, FloatingPoint};
use h5oxide_format::messages::dataspace::Dataspace;
use h5oxide_format::value::Selection;
use h5oxide_format::vds::VdsMapping;
use h5oxide_format::{Error, Result, UNDEF};

use crate::chunked::Hyperslab;
use crate::dataset::DatasetInfo;
use crate::file::FileInner;

/// How many virtual datasets deep a source may lead (a VDS whose source is a VDS, ...).
pub const MAX_DEPTH: u32 = 16;
/// Most mappings one VDS may have.
const MAX_MAPPINGS: u64 = 1 << 20;
/// Most coordinates an irregular hyperslab of a mapping may be expanded to.
const MAX_POINTS: u64 = 1 << 22;
/// Most sources a printf-named (`%b`) mapping is searched for.
const MAX_PRINTF_BLOCKS: u64 = 1 << 20;
/// Elements read from a source per batch on the point-by-point path.
const BATCH: usize = 1 << 20;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Counts nested VDS operations on this thread; the count drops again with the guard.
struct DepthGuard;

impl DepthGuard {
    fn enter() -> Result<DepthGuard> {
        DEPTH.with(|d| {
            let v = d.get();
            if v >= MAX_DEPTH {
                return Err(Error::Limit {
                    what: "nested virtual dataset sources",
                    requested: u64::from(v) + 1,
                    limit: u64::from(MAX_DEPTH),
                });
            }
            d.set(v + 1);
            Ok(DepthGuard)
        })
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

fn is_depth_error(e: &Error) -> bool {
    matches!(
        e,
        Error::Limit {
            what: "nested virtual dataset sources",
            ..
        }
    )
}

/// Reads and decodes the mapping list a class-3 layout names.
pub(crate) fn load_mappings(
    file: &FileInner,
    heap_address: u64,
    index: u32,
) -> Result<Vec<VdsMapping>> {
    let ctx = file.ctx();
    let data = h5oxide_format::global_heap::read_object(&ctx, heap_address, index)?;
    h5oxide_format::vds::decode_mappings(&data, heap_address, ctx.sizes, MAX_MAPPINGS)
}

// ---------------------------------------------------------------------------------------------
// names
// ---------------------------------------------------------------------------------------------

/// True when a name holds a `%b` pattern (`%%` is a literal `%`).
fn is_printf(name: &str) -> bool {
    let mut it = name.chars();
    while let Some(c) = it.next() {
        if c == '%' {
            if let Some('b') = it.next() {
                return true;
            }
        }
    }
    false
}

/// Expands `%b` to `block` and `%%` to `%` (other `%` sequences are kept as they are).
fn expand(name: &str, block: u64) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut it = name.chars().peekable();
    while let Some(c) = it.next() {
        if c == '%' {
            match it.peek() {
                Some('b') => {
                    it.next();
                    out.push_str(&block.to_string());
                    continue;
                }
                Some('%') => {
                    it.next();
                    out.push('%');
                    continue;
                }
                _ => {}
            }
        }
        out.push(c);
    }
    out
}

/// Where a source file named `name` is looked for, in order (see the module docs), with the
/// current `HDF5_VDS_PREFIX`.
pub fn source_candidates(vds_path: Option<&Path>, name: &str) -> Vec<PathBuf> {
    let prefix = std::env::var("HDF5_VDS_PREFIX").ok();
    candidates_with_prefix(vds_path, name, prefix.as_deref())
}

/// [`source_candidates`] with the prefix list given.
fn candidates_with_prefix(
    vds_path: Option<&Path>,
    name: &str,
    prefix: Option<&str>,
) -> Vec<PathBuf> {
    let given = Path::new(name);
    let dir = vds_path.and_then(Path::parent).map(Path::to_path_buf);
    let tail: &Path = if given.is_absolute() {
        given.file_name().map(Path::new).unwrap_or(given)
    } else {
        given
    };
    let mut v = Vec::new();
    if given.is_absolute() {
        v.push(given.to_path_buf());
    }
    if let Some(prefix) = prefix {
        for p in prefix.split(':').filter(|p| !p.is_empty()) {
            let p = match &dir {
                Some(d) => p.replace("${ORIGIN}", &d.to_string_lossy()),
                None => p.to_string(),
            };
            v.push(Path::new(&p).join(tail));
        }
    }
    if let Some(d) = &dir {
        v.push(d.join(tail));
    }
    if !given.is_absolute() {
        v.push(given.to_path_buf());
    }
    v
}

// ---------------------------------------------------------------------------------------------
// sources
// ---------------------------------------------------------------------------------------------

/// An open source dataset: its file (`None` = the VDS's own file) and description.
struct Src {
    file: Option<Arc<FileInner>>,
    info: DatasetInfo,
}

impl Src {
    fn file<'a>(&'a self, vds: &'a FileInner) -> &'a FileInner {
        self.file.as_deref().unwrap_or(vds)
    }
}

/// The source files opened during one operation.
struct Sources<'a> {
    vds: &'a FileInner,
    files: HashMap<String, Option<Arc<FileInner>>>,
}

impl<'a> Sources<'a> {
    fn new(vds: &'a FileInner) -> Self {
        Sources {
            vds,
            files: HashMap::new(),
        }
    }

    fn open_file(&mut self, name: &str) -> Option<Arc<FileInner>> {
        if let Some(f) = self.files.get(name) {
            return f.clone();
        }
        let f = source_candidates(self.vds.path(), name)
            .into_iter()
            .filter(|p| p.is_file())
            .find_map(|p| self.vds.open_other(&p).ok());
        self.files.insert(name.to_string(), f.clone());
        f
    }

    /// Opens a source dataset; `Ok(None)` when the file or dataset cannot be opened (the
    /// region then reads as the fill value). Only the nesting limit is an error.
    fn dataset(&mut self, file_name: &str, dset: &str) -> Result<Option<Src>> {
        let file = if file_name == "." {
            None
        } else {
            match self.open_file(file_name) {
                Some(f) => Some(f),
                None => return Ok(None),
            }
        };
        let fi: &FileInner = file.as_deref().unwrap_or(self.vds);
        let opened = fi
            .resolve_borrowed(fi.superblock().root_object_header_address, dset, 0)
            .and_then(|(f2, addr)| {
                let owner: &FileInner = f2.as_deref().unwrap_or(fi);
                let oh = owner.header(addr)?;
                let info = DatasetInfo::from_header(owner, &oh)?;
                Ok((f2, info))
            });
        match opened {
            Ok((f2, info)) => Ok(Some(Src {
                file: f2.or(file),
                info,
            })),
            Err(e) if is_depth_error(&e) => Err(e),
            Err(_) => Ok(None),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// finite selections
// ---------------------------------------------------------------------------------------------

/// One dimension of a finite hyperslab: the first `len` coordinates of the pattern `start`,
/// blocks of `block` every `stride` (the last block may be cut short).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dim {
    start: u64,
    stride: u64,
    block: u64,
    len: u64,
}

impl Dim {
    /// The `i`-th coordinate (`i < len`; no overflow, checked when the dimension was made).
    fn at(&self, i: u64) -> u64 {
        self.start
            .saturating_add((i / self.block).saturating_mul(self.stride))
            .saturating_add(i % self.block)
    }

    /// The index of coordinate `x`, if selected.
    fn index_of(&self, x: u64) -> Option<u64> {
        let off = x.checked_sub(self.start)?;
        let (q, r) = if self.stride == 0 || self.len <= self.block {
            (0, off)
        } else {
            (off / self.stride, off % self.stride)
        };
        let i = q.checked_mul(self.block)?.checked_add(r)?;
        (r < self.block && i < self.len).then_some(i)
    }

    /// `(start, stride, count, block)` when the pattern has no cut-short last block.
    fn regular(&self) -> Option<(u64, u64, u64, u64)> {
        if self.len <= self.block {
            Some((self.start, 1, 1, self.len))
        } else if self.len.is_multiple_of(self.block) {
            Some((self.start, self.stride, self.len / self.block, self.block))
        } else {
            None
        }
    }
}

/// A finite selection, as the coordinates it visits in order.
#[derive(Debug, Clone)]
enum Fin {
    /// The cartesian product of per-dimension patterns, visited row-major.
    Prod(Vec<Dim>),
    /// Explicit coordinates in visiting order.
    List(Vec<Vec<u64>>),
}

impl Fin {
    /// Number of elements; `None` when it overflows.
    fn len(&self) -> Option<u64> {
        match self {
            Fin::Prod(l) => l.iter().try_fold(1u64, |a, v| a.checked_mul(v.len)),
            Fin::List(p) => Some(p.len() as u64),
        }
    }

    /// The coordinates of the `k`-th element (`k < len`).
    fn coord(&self, mut k: u64, out: &mut [u64]) {
        match self {
            Fin::Prod(l) => {
                for (d, dim) in l.iter().enumerate().rev() {
                    let n = dim.len.max(1);
                    let i = k % n;
                    k /= n;
                    if let Some(o) = out.get_mut(d) {
                        *o = dim.at(i);
                    }
                }
            }
            Fin::List(p) => {
                if let Some(c) = p.get(k as usize) {
                    for (o, &x) in out.iter_mut().zip(c) {
                        *o = x;
                    }
                }
            }
        }
    }

    /// The same selection as a regular hyperslab, when it is one.
    fn as_hyperslab(&self) -> Option<Hyperslab> {
        let Fin::Prod(dims) = self else {
            return None;
        };
        let mut h = Hyperslab {
            start: vec![],
            stride: vec![],
            count: vec![],
            block: vec![],
        };
        for d in dims {
            let (s, st, c, b) = d.regular()?;
            h.start.push(s);
            h.stride.push(st);
            h.count.push(c);
            h.block.push(b);
        }
        Some(h)
    }
}

/// One dimension of a regular hyperslab, cut to the coordinates below `stop` and to at most
/// `take` of them. Counts and blocks may be [`UNDEF`] only when `stop` or `take` bounds them.
fn dim_pattern(
    start: u64,
    stride: u64,
    count: u64,
    block: u64,
    stop: u64,
    take: u64,
) -> Result<Dim> {
    let bad = |why: &str| Err(Error::Invalid(format!("virtual dataset selection: {why}")));
    if count == 0 || block == 0 || start >= stop || take == 0 {
        return Ok(Dim {
            start,
            stride: 1,
            block: 1,
            len: 0,
        });
    }
    if block == UNDEF && count != 1 {
        return bad("unlimited block with more than one block");
    }
    if count != 1 && stride < block {
        return bad("stride smaller than the block");
    }
    let block = if block == UNDEF { stop - start } else { block };
    let stride = if count == 1 { block } else { stride };
    // Blocks that start below `stop`, and the elements of the last one below `stop`.
    let starting = (stop - start - 1) / stride + 1;
    let blocks = if count == UNDEF {
        starting
    } else {
        starting.min(count)
    };
    let last_start = start + (blocks - 1) * stride; // < stop, so no overflow
    let last_len = block.min(stop - last_start);
    let total = (blocks - 1)
        .checked_mul(block)
        .and_then(|x| x.checked_add(last_len));
    let len = match total {
        Some(t) => t.min(take),
        None if take != u64::MAX => take,
        None => return bad("too many elements"),
    };
    if len == u64::MAX {
        return bad("unbounded");
    }
    Ok(Dim {
        start,
        stride,
        block,
        len,
    })
}

/// The dimension in which a selection is unlimited (count or block [`UNDEF`]).
fn unlimited_dim(sel: &Selection) -> Option<usize> {
    match sel {
        Selection::Regular { count, block, .. } => count
            .iter()
            .zip(block)
            .position(|(&c, &b)| c == UNDEF || b == UNDEF),
        _ => None,
    }
}

/// A cut of an unlimited dimension: `(dimension, stop before, at most this many)`.
type Cut = Option<(usize, u64, u64)>;

/// The finite form of a stored selection over a space of extent `extent`; an unlimited
/// dimension must be cut.
fn finite(sel: &Selection, extent: &[u64], cut: Cut) -> Result<Fin> {
    let rank = extent.len();
    let check_rank = |r: usize| {
        if r == rank {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "virtual dataset selection of rank {r} over a space of rank {rank}"
            )))
        }
    };
    match sel {
        Selection::None => Ok(Fin::List(Vec::new())),
        Selection::All => Ok(Fin::Prod(
            extent
                .iter()
                .map(|&n| dim_pattern(0, 1, 1, n, u64::MAX, u64::MAX))
                .collect::<Result<_>>()?,
        )),
        Selection::Points { rank: r, points } => {
            check_rank(*r as usize)?;
            Ok(Fin::List(points.clone()))
        }
        Selection::Blocks { rank: r, .. } => {
            check_rank(*r as usize)?;
            sel.points(MAX_POINTS).map(Fin::List).ok_or(Error::Limit {
                what: "virtual dataset selection coordinates",
                requested: sel.npoints().unwrap_or(u64::MAX),
                limit: MAX_POINTS,
            })
        }
        Selection::Regular {
            start,
            stride,
            count,
            block,
        } => {
            check_rank(start.len())?;
            let mut lists = Vec::with_capacity(rank);
            for d in 0..rank {
                let (s, st, c, b) = (start[d], stride[d], count[d], block[d]);
                let (stop, take) = match cut {
                    Some((u, stop, take)) if u == d => (stop, take),
                    _ => {
                        if c == UNDEF || b == UNDEF {
                            return Err(Error::unsupported(
                                "virtual dataset selection unlimited in more than one dimension",
                            ));
                        }
                        (u64::MAX, u64::MAX)
                    }
                };
                lists.push(dim_pattern(s, st, c, b, stop, take)?);
            }
            Ok(Fin::Prod(lists))
        }
    }
}

/// The largest coordinate + 1 per dimension of a finite selection (0 when empty).
fn upper_bounds(f: &Fin, rank: usize) -> Vec<u64> {
    let mut hi = vec![0u64; rank];
    match f {
        Fin::Prod(l) => {
            if l.iter().any(|v| v.len == 0) {
                return hi;
            }
            for (h, v) in hi.iter_mut().zip(l) {
                *h = v.at(v.len - 1).saturating_add(1);
            }
        }
        Fin::List(p) => {
            for c in p {
                for (h, &x) in hi.iter_mut().zip(c) {
                    *h = (*h).max(x.saturating_add(1));
                }
            }
        }
    }
    hi
}

/// The stored selection with the unlimited dimension `u` replaced by block `j`.
fn printf_block(sel: &Selection, u: usize, j: u64) -> Option<Selection> {
    let Selection::Regular {
        start,
        stride,
        count,
        block,
    } = sel
    else {
        return None;
    };
    let mut s = start.clone();
    let mut c = count.clone();
    s[u] = j.checked_mul(stride[u])?.checked_add(start[u])?;
    c[u] = 1;
    if block[u] == UNDEF {
        return None;
    }
    Some(Selection::Regular {
        start: s,
        stride: stride.clone(),
        count: c,
        block: block.clone(),
    })
}

fn dims_of(space: &Dataspace) -> Vec<u64> {
    space.dims().to_vec()
}

/// One mapping made concrete: finite virtual and source selections of equal length.
struct Concrete {
    virt: Fin,
    src: Fin,
    source: Src,
}

/// Makes the mappings concrete against the VDS extent `dims`, opening their sources.
/// `wanted(selection)` says whether a virtual selection matters to the caller (mappings it
/// rejects are not opened); `unlimited_only` skips the fixed mappings. Missing sources are
/// left out.
fn concretize(
    sources: &mut Sources<'_>,
    mappings: &[VdsMapping],
    dims: &[u64],
    unlimited_only: bool,
    wanted: &dyn Fn(&Selection) -> bool,
    mut each: impl FnMut(Concrete) -> Result<()>,
) -> Result<()> {
    for m in mappings {
        if !wanted(&m.virtual_sel) || (unlimited_only && unlimited_dim(&m.virtual_sel).is_none()) {
            continue;
        }
        match unlimited_dim(&m.virtual_sel) {
            None => {
                if unlimited_dim(&m.source).is_some() {
                    return Err(Error::unsupported(
                        "virtual dataset mapping with an unlimited source and a fixed virtual selection",
                    ));
                }
                let Some(src) = sources.dataset(&m.file, &m.dataset)? else {
                    continue;
                };
                let virt = finite(&m.virtual_sel, dims, None)?;
                let sfin = finite(&m.source, &dims_of(&src.info.space), None)?;
                each(Concrete {
                    virt,
                    src: sfin,
                    source: src,
                })?;
            }
            Some(u) if is_printf(&m.file) || is_printf(&m.dataset) => {
                if unlimited_dim(&m.source).is_some() {
                    return Err(Error::unsupported(
                        "printf-named virtual dataset mapping with an unlimited source selection",
                    ));
                }
                let mut j = 0u64;
                while let Some(vsel) = printf_block(&m.virtual_sel, u, j) {
                    if let Selection::Regular { start, .. } = &vsel {
                        if start
                            .get(u)
                            .is_none_or(|&s| s >= dims.get(u).copied().unwrap_or(0))
                        {
                            break;
                        }
                    }
                    let Some(src) = sources.dataset(&expand(&m.file, j), &expand(&m.dataset, j))?
                    else {
                        break;
                    };
                    if wanted(&vsel) {
                        let virt = finite(&vsel, dims, None)?;
                        let sfin = finite(&m.source, &dims_of(&src.info.space), None)?;
                        each(Concrete {
                            virt,
                            src: sfin,
                            source: src,
                        })?;
                    }
                    j += 1;
                    if j >= MAX_PRINTF_BLOCKS {
                        break;
                    }
                }
            }
            Some(u) => {
                let Some(us) = unlimited_dim(&m.source) else {
                    return Err(Error::unsupported(
                        "virtual dataset mapping with an unlimited virtual selection and a fixed source",
                    ));
                };
                let Some(src) = sources.dataset(&m.file, &m.dataset)? else {
                    continue;
                };
                let sdims = dims_of(&src.info.space);
                let stop = sdims.get(us).copied().unwrap_or(0);
                let mut sfin = finite(&m.source, &sdims, Some((us, stop, u64::MAX)))?;
                let n = match &sfin {
                    Fin::Prod(l) => l.get(us).map_or(0, |v| v.len),
                    Fin::List(_) => 0,
                };
                let vstop = dims.get(u).copied().unwrap_or(0);
                let virt = finite(&m.virtual_sel, dims, Some((u, vstop, n)))?;
                if let (Fin::Prod(vl), Fin::Prod(sl)) = (&virt, &mut sfin) {
                    let k = vl.get(u).map_or(0, |v| v.len);
                    if let Some(v) = sl.get_mut(us) {
                        v.len = v.len.min(k);
                    }
                }
                each(Concrete {
                    virt,
                    src: sfin,
                    source: src,
                })?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// extent
// ---------------------------------------------------------------------------------------------

/// The extent libhdf5 reports for a VDS (see the module docs): the stored dims, with every
/// dimension an unlimited mapping spans recomputed from the sources.
pub(crate) fn virtual_extent(
    file: &FileInner,
    mappings: &[VdsMapping],
    space: &Dataspace,
) -> Result<Vec<u64>> {
    let stored = dims_of(space);
    let rank = stored.len();
    let unlim: Vec<usize> = mappings
        .iter()
        .filter_map(|m| unlimited_dim(&m.virtual_sel))
        .collect();
    if unlim.is_empty() {
        return Ok(stored);
    }
    let _g = DepthGuard::enter()?;
    let mut sources = Sources::new(file);
    let mut new = stored.clone();
    for &u in &unlim {
        if let Some(x) = new.get_mut(u) {
            *x = 0;
        }
    }
    // With the unlimited dimensions unbounded, every cut is decided by the sources.
    let mut open_dims = stored.clone();
    for &u in &unlim {
        if let Some(x) = open_dims.get_mut(u) {
            *x = u64::MAX;
        }
    }
    for m in mappings {
        if unlimited_dim(&m.virtual_sel).is_none() {
            // Fixed mappings keep their whole selection inside the extent.
            if let Ok(f) = finite(&m.virtual_sel, &stored, None) {
                let hi = upper_bounds(&f, rank);
                for &u in &unlim {
                    if let (Some(x), Some(&h)) = (new.get_mut(u), hi.get(u)) {
                        *x = (*x).max(h);
                    }
                }
            }
        }
    }
    concretize(&mut sources, mappings, &open_dims, true, &|_| true, |c| {
        let hi = upper_bounds(&c.virt, rank);
        for &u in &unlim {
            if let (Some(x), Some(&h)) = (new.get_mut(u), hi.get(u)) {
                *x = (*x).max(h);
            }
        }
        Ok(())
    })?;
    Ok(new)
}

// ---------------------------------------------------------------------------------------------
// datatype conversion
// ---------------------------------------------------------------------------------------------

/// How a source element becomes a VDS element.
enum Conv {
    Copy,
    Int(FixedPoint, FixedPoint),
    FloatToFloat(FloatingPoint, FloatingPoint),
    IntToFloat(FixedPoint, FloatingPoint),
    FloatToInt(FloatingPoint, FixedPoint),
}

fn plain_int(fp: &FixedPoint) -> bool {
    fp.bit_offset == 0
        && u32::from(fp.precision) == 8 * fp.size
        && fp.size <= 16
        && fp.order != ByteOrder::Vax
}

fn ieee(fl: &FloatingPoint) -> bool {
    fl.order != ByteOrder::Vax
        && fl.bit_offset == 0
        && matches!(
            (
                fl.size,
                fl.exponent_size,
                fl.mantissa_size,
                fl.exponent_bias
            ),
            (4, 8, 23, 127) | (8, 11, 52, 1023)
        )
}

fn converter(src: &Datatype, dst: &Datatype) -> Result<Conv> {
    if src == dst {
        return Ok(Conv::Copy);
    }
    match (src, dst) {
        (Datatype::FixedPoint(a), Datatype::FixedPoint(b)) if plain_int(b) => {
            Ok(Conv::Int(a.clone(), b.clone()))
        }
        (Datatype::Float(a), Datatype::Float(b)) if ieee(b) => {
            Ok(Conv::FloatToFloat(a.clone(), b.clone()))
        }
        (Datatype::FixedPoint(a), Datatype::Float(b)) if ieee(b) => {
            Ok(Conv::IntToFloat(a.clone(), b.clone()))
        }
        (Datatype::Float(a), Datatype::FixedPoint(b)) if plain_int(b) => {
            Ok(Conv::FloatToInt(a.clone(), b.clone()))
        }
        _ => Err(Error::unsupported(format!(
            "virtual dataset source datatype conversion ({src:?} to {dst:?})"
        ))),
    }
}

fn put_int(fp: &FixedPoint, v: i128, out: &mut [u8]) {
    let bits = 8 * fp.size;
    let (lo, hi): (i128, i128) = if fp.signed {
        if bits >= 128 {
            (i128::MIN, i128::MAX)
        } else {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        }
    } else if bits >= 128 {
        (0, i128::MAX)
    } else {
        (0, (1i128 << bits) - 1)
    };
    let le = v.clamp(lo, hi).to_le_bytes();
    let n = (fp.size as usize).min(out.len()).min(16);
    for (o, &b) in out.iter_mut().zip(le.iter()).take(n) {
        *o = b;
    }
    if fp.order == ByteOrder::BigEndian {
        if let Some(s) = out.get_mut(..n) {
            s.reverse();
        }
    }
}

fn put_float(fl: &FloatingPoint, v: f64, out: &mut [u8]) {
    let mut b: Vec<u8> = if fl.size == 4 {
        (v as f32).to_le_bytes().to_vec()
    } else {
        v.to_le_bytes().to_vec()
    };
    if fl.order == ByteOrder::BigEndian {
        b.reverse();
    }
    for (o, x) in out.iter_mut().zip(b) {
        *o = x;
    }
}

impl Conv {
    fn apply(&self, src: &[u8], dst: &mut [u8]) {
        match self {
            Conv::Copy => {
                let n = src.len().min(dst.len());
                if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
                    d.copy_from_slice(s);
                }
            }
            Conv::Int(a, b) => put_int(b, crate::types::int_value(a, src), dst),
            Conv::FloatToFloat(a, b) => put_float(b, crate::types::float_value(a, src), dst),
            Conv::IntToFloat(a, b) => put_float(b, crate::types::int_value(a, src) as f64, dst),
            Conv::FloatToInt(a, b) => {
                let f = crate::types::float_value(a, src);
                let v = if f.is_nan() { 0 } else { f as i128 };
                put_int(b, v, dst)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// reading
// ---------------------------------------------------------------------------------------------

/// The index along dimension `d` of the request's output of coordinate `x`, if selected.
fn in_request(sel: &Hyperslab, d: usize, x: u64) -> Option<u64> {
    let s = sel.start[d];
    let st = sel.stride[d].max(1);
    let (c, b) = (sel.count[d], sel.block[d]);
    let off = x.checked_sub(s)?;
    if c == 1 {
        // One block: the stride does not matter (it may be smaller than the block).
        return (off < b).then_some(off);
    }
    let q = off / st;
    let r = off % st;
    (r < b && q < c).then(|| q * b + r)
}

/// Whether a stored virtual selection's bounding box meets the request's.
fn meets(sel: &Selection, req_lo: &[u64], req_hi: &[u64]) -> bool {
    let (lo, hi): (Vec<u64>, Vec<u64>) = match sel {
        Selection::None => return false,
        Selection::All => return true,
        Selection::Regular {
            start,
            stride,
            count,
            block,
        } => {
            let hi = start
                .iter()
                .zip(stride)
                .zip(count.iter().zip(block))
                .map(|((&s, &st), (&c, &b))| {
                    if c == UNDEF || b == UNDEF {
                        u64::MAX
                    } else {
                        (c.saturating_sub(1))
                            .saturating_mul(st)
                            .saturating_add(s)
                            .saturating_add(b.saturating_sub(1))
                    }
                })
                .collect();
            (start.clone(), hi)
        }
        Selection::Points { points, .. } => {
            let r = req_lo.len();
            let mut lo = vec![u64::MAX; r];
            let mut hi = vec![0u64; r];
            for p in points {
                for d in 0..r.min(p.len()) {
                    lo[d] = lo[d].min(p[d]);
                    hi[d] = hi[d].max(p[d]);
                }
            }
            (lo, hi)
        }
        Selection::Blocks { blocks, .. } => {
            let r = req_lo.len();
            let mut lo = vec![u64::MAX; r];
            let mut hi = vec![0u64; r];
            for (s, e) in blocks {
                for d in 0..r.min(s.len()).min(e.len()) {
                    lo[d] = lo[d].min(s[d]);
                    hi[d] = hi[d].max(e[d]);
                }
            }
            (lo, hi)
        }
    };
    lo.iter()
        .zip(&hi)
        .zip(req_lo.iter().zip(req_hi))
        .all(|((&a, &b), (&c, &d))| a <= d && c <= b)
}

/// Reads the elements of a VDS that `sel` selects into `out` (row-major over the selection's
/// shape, the VDS's datatype). `sel` has been validated against the extent.
pub(crate) fn read_virtual(
    file: &FileInner,
    info: &DatasetInfo,
    sel: &Hyperslab,
    out: &mut [u8],
) -> Result<()> {
    let mappings = &info
        .virtual_layout
        .as_ref()
        .ok_or_else(|| Error::Invalid("virtual dataset without its mappings".into()))?
        .mappings;
    let es = info.dtype.size() as usize;
    crate::read::fill(out, &info.fill_bytes());
    if out.is_empty() || es == 0 {
        return Ok(());
    }
    let dims = info.space.dims().to_vec();
    let rank = dims.len();
    let shape = sel
        .shape()
        .ok_or_else(|| Error::Invalid("selection size overflows".into()))?;
    if shape.contains(&0) {
        return Ok(());
    }
    // Bounding box of the request.
    let req_lo = sel.start.clone();
    let req_hi: Vec<u64> = (0..rank)
        .map(|d| {
            (sel.count[d] - 1)
                .saturating_mul(sel.stride[d])
                .saturating_add(sel.start[d])
                .saturating_add(sel.block[d] - 1)
        })
        .collect();
    let _g = DepthGuard::enter()?;
    let mut sources = Sources::new(file);
    let wanted = |s: &Selection| meets(s, &req_lo, &req_hi);
    concretize(&mut sources, mappings, &dims, false, &wanted, |c| {
        scatter(file, info, sel, &shape, &c, out)
    })
}

/// Copies one concrete mapping's source elements into the request's output.
fn scatter(
    vds: &FileInner,
    info: &DatasetInfo,
    sel: &Hyperslab,
    shape: &[u64],
    c: &Concrete,
    out: &mut [u8],
) -> Result<()> {
    let rank = shape.len();
    let es = info.dtype.size() as usize;
    let too_many = || Error::Limit {
        what: "virtual dataset mapping elements",
        requested: u64::MAX,
        limit: u64::MAX - 1,
    };
    let n = c.virt.len().ok_or_else(too_many)?;
    let ns = c.src.len().ok_or_else(too_many)?;
    if n != ns {
        return Err(Error::unsupported(format!(
            "virtual dataset mapping whose virtual selection ({n} elements) and source \
             selection ({ns} elements) differ in size"
        )));
    }
    if n == 0 {
        return Ok(());
    }
    let src_file = c.source.file(vds);
    let sinfo = &c.source.info;
    let ses = sinfo.dtype.size() as usize;
    let conv = converter(&sinfo.dtype, &info.dtype)?;
    let sdims = dims_of(&sinfo.space);
    let srank = sdims.len();

    // The (k, output index) pairs, k ascending, as per-dimension lists for a product.
    enum Pairs {
        Prod(Vec<Vec<(u64, u64)>>, Vec<u64>),
        List(Vec<(u64, u64)>),
    }
    let pairs = match &c.virt {
        Fin::Prod(dims_v) => {
            // Walk the request's coordinates per dimension (never more than the output holds)
            // and keep those the virtual pattern selects.
            let mut per = Vec::with_capacity(rank);
            for (d, dim) in dims_v.iter().enumerate() {
                let (s0, st, cnt, b) = (sel.start[d], sel.stride[d], sel.count[d], sel.block[d]);
                let mut v: Vec<(u64, u64)> = Vec::new();
                for q in 0..cnt {
                    for r in 0..b {
                        let x = s0.saturating_add(q.saturating_mul(st)).saturating_add(r);
                        if let Some(i) = dim.index_of(x) {
                            v.push((i, q * b + r));
                        }
                    }
                }
                if v.is_empty() {
                    return Ok(());
                }
                per.push(v);
            }
            let lens = dims_v.iter().map(|l| l.len).collect();
            Pairs::Prod(per, lens)
        }
        Fin::List(points) => {
            let mut v = Vec::new();
            'p: for (k, p) in points.iter().enumerate() {
                let mut o = 0u64;
                for (d, &n) in shape.iter().enumerate() {
                    let Some(i) = p.get(d).and_then(|&x| in_request(sel, d, x)) else {
                        continue 'p;
                    };
                    o = o * n + i;
                }
                v.push((k as u64, o));
            }
            Pairs::List(v)
        }
    };
    // Visits every (k, output index) pair in k order, as runs `(k, o, len)` consecutive in both.
    let for_each_run = |f: &mut dyn FnMut(u64, u64, u64) -> Result<()>| -> Result<()> {
        match &pairs {
            Pairs::List(v) => {
                for &(k, o) in v {
                    f(k, o, 1)?;
                }
                Ok(())
            }
            Pairs::Prod(_, _) if rank == 0 => f(0, 0, 1),
            Pairs::Prod(per, lens) => {
                let last = rank - 1;
                // Runs along the last dimension.
                let mut runs: Vec<(u64, u64, u64)> = Vec::new();
                for &(i, o) in &per[last] {
                    match runs.last_mut() {
                        Some((i0, o0, n)) if *i0 + *n == i && *o0 + *n == o => *n += 1,
                        _ => runs.push((i, o, 1)),
                    }
                }
                let mut idx = vec![0usize; last];
                loop {
                    let mut k = 0u64;
                    let mut o = 0u64;
                    for d in 0..last {
                        let (i, od) = per[d][idx[d]];
                        k = k * lens[d] + i;
                        o = o * shape[d] + od;
                    }
                    let (k, o) = (k * lens[last], o * shape[last]);
                    for &(i, od, n) in &runs {
                        f(k + i, o + od, n)?;
                    }
                    let mut d = last;
                    loop {
                        if d == 0 {
                            return Ok(());
                        }
                        d -= 1;
                        idx[d] += 1;
                        if idx[d] < per[d].len() {
                            break;
                        }
                        idx[d] = 0;
                    }
                }
            }
        }
    };
    let all_pairs = match &pairs {
        Pairs::List(v) => v.len() as u64 == n,
        Pairs::Prod(per, lens) => per.iter().zip(lens).all(|(p, &l)| p.len() as u64 == l),
    };
    // Writes `n` consecutive source elements `e` at output element `o`.
    let copy = matches!(conv, Conv::Copy) && es == ses;
    let mut put = |o: u64, e: &[u8], n: u64| {
        let at = o as usize * es;
        let Some(dst) = out.get_mut(at..at + n as usize * es) else {
            return;
        };
        if copy {
            if dst.len() == e.len() {
                dst.copy_from_slice(e);
            }
        } else {
            for (d, s) in dst.chunks_exact_mut(es).zip(e.chunks_exact(ses)) {
                conv.apply(s, d);
            }
        }
    };

    // Fast path: the whole source selection is one in-extent hyperslab, read at once.
    if all_pairs {
        if let Some(h) = c.src.as_hyperslab() {
            if h.validate(&sdims).is_ok() {
                let bytes = n
                    .checked_mul(ses as u64)
                    .filter(|&b| b <= vds.limits.max_data_bytes)
                    .ok_or(Error::Limit {
                        what: "virtual dataset source read",
                        requested: n.saturating_mul(ses as u64),
                        limit: vds.limits.max_data_bytes,
                    })?;
                let mut buf = vec![0u8; bytes as usize];
                crate::select::read_selection(src_file, sinfo, &h, &mut buf)?;
                return for_each_run(&mut |k, o, len| {
                    let at = k as usize * ses;
                    if let Some(e) = buf.get(at..at + len as usize * ses) {
                        put(o, e, len);
                    }
                    Ok(())
                });
            }
        }
    }

    // General path: batches of points, each read through the source's point reader.
    let mut coord = vec![0u64; srank];
    let mut lin: Vec<u64> = Vec::new();
    let mut outs: Vec<u64> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut flush = |lin: &mut Vec<u64>, outs: &mut Vec<u64>| -> Result<()> {
        if lin.is_empty() {
            return Ok(());
        }
        buf.clear();
        buf.resize(lin.len() * ses, 0);
        crate::select::read_points_linear(src_file, sinfo, lin, &mut buf)?;
        for (i, &o) in outs.iter().enumerate() {
            if let Some(e) = buf.get(i * ses..(i + 1) * ses) {
                put(o, e, 1);
            }
        }
        lin.clear();
        outs.clear();
        Ok(())
    };
    for_each_run(&mut |k0, o0, len| {
        for j in 0..len {
            c.src.coord(k0 + j, &mut coord);
            let mut l = 0u64;
            let mut inside = true;
            for d in 0..srank {
                if coord[d] >= sdims[d] {
                    inside = false; // outside the source's extent: stays the fill value
                    break;
                }
                l = l * sdims[d] + coord[d];
            }
            if inside {
                lin.push(l);
                outs.push(o0 + j);
            }
            if lin.len() >= BATCH {
                flush(&mut lin, &mut outs)?;
            }
        }
        Ok(())
    })?;
    flush(&mut lin, &mut outs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printf_names() {
        assert!(is_printf("f-%b.h5"));
        assert!(!is_printf("f-%%b.h5"));
        assert!(!is_printf("plain.h5"));
        assert_eq!(expand("f-%b_%b.h5", 12), "f-12_12.h5");
        assert_eq!(expand("100%%-%b", 3), "100%-3");
        assert_eq!(expand("odd%x%", 3), "odd%x%");
    }

    #[test]
    fn source_lookup_order() {
        let vds = Path::new("/data/run/vds.h5");
        assert_eq!(
            candidates_with_prefix(Some(vds), "src/a.h5", Some("/p1:${ORIGIN}/alt")),
            vec![
                PathBuf::from("/p1/src/a.h5"),
                PathBuf::from("/data/run/alt/src/a.h5"),
                PathBuf::from("/data/run/src/a.h5"),
                PathBuf::from("src/a.h5"),
            ]
        );
        assert_eq!(
            candidates_with_prefix(Some(vds), "/abs/b.h5", None),
            vec![PathBuf::from("/abs/b.h5"), PathBuf::from("/data/run/b.h5")]
        );
        assert_eq!(
            candidates_with_prefix(None, "c.h5", None),
            vec![PathBuf::from("c.h5")]
        );
    }

    #[test]
    fn dimension_patterns_and_cuts() {
        let coords = |d: Dim| (0..d.len).map(|i| d.at(i)).collect::<Vec<_>>();
        // Unlimited count, stride 4, block 2, cut before 11: 0 1 4 5 8 9.
        let d = dim_pattern(0, 4, UNDEF, 2, 11, u64::MAX).unwrap();
        assert_eq!(coords(d), vec![0, 1, 4, 5, 8, 9]);
        assert_eq!(d.regular(), Some((0, 4, 3, 2)));
        assert_eq!(d.index_of(5), Some(3));
        assert_eq!(d.index_of(6), None);
        assert_eq!(d.index_of(12), None);
        // Cut inside a block: the last block is short, not a regular hyperslab.
        let d = dim_pattern(0, 4, UNDEF, 2, 9, u64::MAX).unwrap();
        assert_eq!(coords(d), vec![0, 1, 4, 5, 8]);
        assert_eq!(d.regular(), None);
        assert_eq!(
            coords(dim_pattern(0, 4, UNDEF, 2, 11, 3).unwrap()),
            vec![0, 1, 4]
        );
        // Unlimited block, cut at the extent.
        assert_eq!(
            coords(dim_pattern(2, 1, 1, UNDEF, 6, u64::MAX).unwrap()),
            vec![2, 3, 4, 5]
        );
        assert_eq!(dim_pattern(7, 1, 1, UNDEF, 6, u64::MAX).unwrap().len, 0);
        // Hostile sizes: no overflow, no allocation.
        let d = dim_pattern(u64::MAX - 1, 3, 5, 1, u64::MAX, u64::MAX).unwrap();
        assert_eq!(d.len, 1);
        let d = dim_pattern(0, 1, 1, 1 << 62, u64::MAX, u64::MAX).unwrap();
        assert_eq!(d.len, 1 << 62);
        assert!(dim_pattern(0, 1, 1, UNDEF, u64::MAX, u64::MAX).is_err());
        assert!(dim_pattern(0, 1, 3, 2, u64::MAX, u64::MAX).is_err());
        assert!(dim_pattern(0, 1, 3, UNDEF, 10, u64::MAX).is_err());
    }
}
