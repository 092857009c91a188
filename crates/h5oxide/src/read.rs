//! Reading a dataset's stored bytes: compact, contiguous, external and chunked layouts, with fill
//! values for unallocated storage (spec §IV.A.2.i, §IV.A.2.h, §IV.A.2.f).

use std::path::{Path, PathBuf};

use h5oxide_format::messages::external_files::ExternalFileList;
use h5oxide_format::messages::layout::DataLayout;
use h5oxide_format::{Error, Result, UNDEF};

use crate::dataset::DatasetInfo;
use crate::file::FileInner;

/// Fills `out` with repetitions of one element's fill bytes.
pub(crate) fn fill(out: &mut [u8], fill: &[u8]) {
    if fill.iter().all(|&b| b == 0) {
        out.fill(0);
    } else if !fill.is_empty() {
        for c in out.chunks_mut(fill.len()) {
            let n = c.len();
            c.copy_from_slice(fill.get(..n).unwrap_or(&[]));
        }
    }
}

/// Reads the whole dataset into `out` (exactly its byte size).
pub(crate) fn read_all(file: &FileInner, info: &DatasetInfo, out: &mut [u8]) -> Result<()> {
    if out.is_empty() {
        // Nothing to read; in particular no fill element (whose size the file chooses) is made.
        return Ok(());
    }
    match &info.layout {
        DataLayout::Compact { data } => {
            let src = data.get(..out.len()).ok_or_else(|| {
                Error::corrupt(
                    "compact layout",
                    0,
                    format!("{} bytes stored for {} needed", data.len(), out.len()),
                )
            })?;
            out.copy_from_slice(src);
            Ok(())
        }
        DataLayout::Contiguous { address, .. } => {
            if let Some(efl) = &info.external {
                return read_external(file, efl, out);
            }
            if *address == UNDEF {
                fill(out, &info.fill_bytes());
                return Ok(());
            }
            file.src_read_into(*address, out)
        }
        DataLayout::Chunked(c) => {
            let dims = info.space.dims();
            let max = max_dims(info);
            crate::chunked::read_chunked(
                &file.ctx(),
                c,
                info.pipeline.as_ref(),
                &file.registry,
                dims,
                &max,
                info.dtype.size() as usize,
                &info.fill_bytes(),
                &crate::chunked::Hyperslab::all(dims),
                out,
            )
        }
        DataLayout::Virtual { .. } => crate::vds::read_virtual(
            file,
            info,
            &crate::chunked::Hyperslab::all(info.space.dims()),
            out,
        ),
    }
}

/// Reads `out.len()` bytes starting `offset` bytes into the stored data of a non-chunked
/// dataset (compact, contiguous, external; unallocated storage reads as the fill value). Used by
/// the block-by-block iteration ([`crate::chunk_iter`]) so each block costs only its own read.
pub(crate) fn read_range(
    file: &FileInner,
    info: &DatasetInfo,
    offset: u64,
    out: &mut [u8],
) -> Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let total = info.num_bytes()?;
    let end = offset
        .checked_add(out.len() as u64)
        .filter(|&e| e <= total)
        .ok_or_else(|| Error::Invalid("byte range beyond the dataset".into()))?;
    match &info.layout {
        DataLayout::Compact { data } => {
            let src = usize::try_from(offset)
                .ok()
                .zip(usize::try_from(end).ok())
                .and_then(|(a, b)| data.get(a..b))
                .ok_or_else(|| {
                    Error::corrupt(
                        "compact layout",
                        0,
                        format!("{} bytes stored for {total} needed", data.len()),
                    )
                })?;
            out.copy_from_slice(src);
            Ok(())
        }
        DataLayout::Contiguous { address, .. } => {
            if let Some(efl) = &info.external {
                return read_external_at(file, efl, offset, out);
            }
            if *address == UNDEF {
                let fb = info.fill_bytes();
                // `offset` is a whole number of elements, so the pattern starts aligned.
                fill(out, &fb);
                return Ok(());
            }
            let at = address
                .checked_add(offset)
                .ok_or_else(|| Error::corrupt("contiguous layout", *address, "overflow"))?;
            file.src_read_into(at, out)
        }
        DataLayout::Chunked(_) => Err(Error::Invalid(
            "read_range is for non-chunked layouts".into(),
        )),
        DataLayout::Virtual { .. } => Err(Error::unsupported("virtual dataset layout")),
    }
}

impl FileInner {
    /// Reads raw data bytes (not metadata: checked against the data budget, not the metadata one).
    pub(crate) fn src_read(&self, addr: u64, len: usize) -> Result<std::borrow::Cow<'_, [u8]>> {
        use h5oxide_format::Source;
        if len as u64 > self.limits.max_data_bytes {
            return Err(Error::Limit {
                what: "raw data read",
                requested: len as u64,
                limit: self.limits.max_data_bytes,
            });
        }
        let size = self.src.size();
        if addr.checked_add(len as u64).is_none_or(|e| e > size) {
            return Err(Error::OutOfBounds {
                structure: "raw data",
                addr,
                len: len as u64,
                size,
            });
        }
        self.src.read(addr, len)
    }
}

impl FileInner {
    /// Number of addressable bytes of the file's storage.
    pub(crate) fn src_size(&self) -> u64 {
        use h5oxide_format::Source;
        self.src.size()
    }

    /// Reads raw data bytes straight into `out` (no intermediate buffer for file storage).
    pub(crate) fn src_read_into(&self, addr: u64, out: &mut [u8]) -> Result<()> {
        use h5oxide_format::Source;
        let size = self.src.size();
        if addr.checked_add(out.len() as u64).is_none_or(|e| e > size) {
            return Err(Error::OutOfBounds {
                structure: "raw data",
                addr,
                len: out.len() as u64,
                size,
            });
        }
        self.src.read_into(addr, out)
    }
}

/// Reads a contiguous byte stream spread over external files (slots in order; bytes past a
/// file's end read as zero, as libhdf5 does).
fn read_external(file: &FileInner, efl: &ExternalFileList, out: &mut [u8]) -> Result<()> {
    read_external_at(file, efl, 0, out)
}

/// [`read_external`] from `skip` bytes into the stream.
fn read_external_at(
    file: &FileInner,
    efl: &ExternalFileList,
    skip: u64,
    out: &mut [u8],
) -> Result<()> {
    let ctx = file.ctx();
    let heap = h5oxide_format::local_heap::LocalHeap::read(&ctx, efl.heap_address)?;
    let dir: PathBuf = file
        .path()
        .and_then(|p| p.parent())
        .map(|p| p.to_path_buf())
        .unwrap_or_default();
    // `pos`: bytes of `out` done; `stream`: where the current slot starts in the byte stream
    // (a slot of size u64::MAX runs to the end).
    let mut pos = 0usize;
    let mut stream = 0u64;
    for slot in &efl.slots {
        if pos >= out.len() {
            break;
        }
        let slot_end = stream.saturating_add(slot.size);
        let cur = skip.saturating_add(pos as u64);
        if cur >= slot_end {
            stream = slot_end;
            continue;
        }
        let within = cur.saturating_sub(stream);
        let want = (out.len() - pos) as u64;
        let n = (slot.size - within).min(want) as usize;
        let name = heap.string_at(slot.name_offset)?;
        let name = String::from_utf8_lossy(name).into_owned();
        // Relative names: next to the file first, then (as libhdf5 resolves them) the working
        // directory.
        let mut path = dir.join(&name);
        if !path.exists() && Path::new(&name).exists() {
            path = PathBuf::from(&name);
        }
        let dst = out.get_mut(pos..pos + n).unwrap_or(&mut []);
        dst.fill(0);
        let f = std::fs::File::open(&path)
            .map_err(|e| Error::Io(format!("external file {}: {e}", path.display())))?;
        let flen = f.metadata()?.len();
        let at = slot.offset.saturating_add(within);
        if at < flen {
            let avail = usize::try_from(flen - at).unwrap_or(usize::MAX).min(n);
            read_at(&f, dst.get_mut(..avail).unwrap_or(&mut []), at)?;
        }
        pos += n;
        stream = slot_end;
    }
    Ok(())
}

#[cfg(unix)]
fn read_at(f: &std::fs::File, buf: &mut [u8], off: u64) -> Result<()> {
    use std::os::unix::fs::FileExt;
    f.read_exact_at(buf, off).map_err(Error::from)
}

#[cfg(not(unix))]
fn read_at(f: &std::fs::File, buf: &mut [u8], off: u64) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = f;
    f.seek(SeekFrom::Start(off))?;
    f.read_exact(buf).map_err(Error::from)
}

/// Maximum dimensions of a dataset (`None` = unlimited; current dims for scalar/null).
pub(crate) fn max_dims(info: &DatasetInfo) -> Vec<Option<u64>> {
    match &info.space {
        h5oxide_format::messages::dataspace::Dataspace::Simple { max, .. } => max.clone(),
        _ => Vec::new(),
    }
}
