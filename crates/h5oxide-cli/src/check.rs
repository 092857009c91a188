//! `h5oxide check FILE`: reads everything in a file and reports what cannot be read.
//!
//! Every group is listed (each link followed once: hard links by address, so cycles and
//! shared objects are visited once; soft links resolved; external and user-defined links
//! only reported), every attribute's values are decoded (variable-length data resolved in
//! the global heap), and every dataset is read piece by piece ([`h5oxide::Dataset::chunk_iter`]:
//! chunk indexes walked, every chunk decoded through its filters and checksums, one piece in
//! memory at a time), its variable-length elements and references decoded too. Each problem
//! is printed as `PATH: error`; the last line sums up what was checked.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use h5oxide::{LinkKind, Object};

/// What was checked and what failed.
#[derive(Default)]
struct Report {
    groups: u64,
    datasets: u64,
    datatypes: u64,
    attributes: u64,
    links: u64,
    bytes: u64,
    problems: Vec<String>,
}

impl Report {
    fn problem(&mut self, path: &str, what: impl std::fmt::Display) {
        self.problems.push(format!("{path}: {what}"));
    }
}

/// Checks the file at `path`, printing problems and a summary; the exit code is 0 when
/// everything was read, 1 when something was not, 2 when the file cannot be opened.
pub fn check(path: &Path) -> i32 {
    let f = match h5oxide::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("h5oxide check: {}: {e}", path.display());
            return 2;
        }
    };
    let mut r = Report::default();
    match f.root() {
        Ok(root) => {
            let mut seen = HashSet::new();
            seen.insert(root.addr());
            check_object(&Object::Group(root), "/", &mut r, &mut seen);
        }
        Err(e) => r.problem("/", e),
    }
    let mut out = std::io::stdout().lock();
    for p in &r.problems {
        let _ = writeln!(out, "{p}");
    }
    let _ = writeln!(
        out,
        "{}: {} groups, {} datasets ({} bytes read), {} named datatypes, {} attributes, {} \
         links checked; {} problem{}",
        path.display(),
        r.groups,
        r.datasets,
        r.bytes,
        r.datatypes,
        r.attributes,
        r.links,
        r.problems.len(),
        if r.problems.len() == 1 { "" } else { "s" }
    );
    i32::from(!r.problems.is_empty())
}

fn check_object(obj: &Object, path: &str, r: &mut Report, seen: &mut HashSet<u64>) {
    match obj.attrs() {
        Ok(attrs) => {
            for a in attrs {
                r.attributes += 1;
                let n = match a.space() {
                    h5oxide::format::messages::dataspace::Dataspace::Null => 0,
                    _ => a.shape().iter().product::<usize>(),
                };
                if let Err(e) =
                    h5oxide::format::value::decode_all(a.dtype(), a.raw(), n, &a.file_inner().ctx())
                {
                    r.problem(&format!("{path} (attribute {:?})", a.name()), e);
                }
            }
        }
        Err(e) => r.problem(&format!("{path} (attributes)"), e),
    }
    match obj {
        Object::Datatype(_) => r.datatypes += 1,
        Object::Dataset(d) => {
            r.datasets += 1;
            check_dataset(d, path, r);
        }
        Object::Group(g) => {
            r.groups += 1;
            let links = match g.links() {
                Ok(l) => l,
                Err(e) => {
                    r.problem(path, e);
                    return;
                }
            };
            for l in links {
                r.links += 1;
                let child = if path == "/" {
                    format!("/{}", l.name)
                } else {
                    format!("{path}/{}", l.name)
                };
                match &l.kind {
                    LinkKind::Hard(addr) => {
                        if !seen.insert(*addr) {
                            continue;
                        }
                        match g.get(&l.name) {
                            Ok(o) => check_object(&o, &child, r, seen),
                            Err(e) => r.problem(&child, e),
                        }
                    }
                    LinkKind::Soft(_) => match g.get(&l.name) {
                        Ok(o) => {
                            if seen.insert(o.addr()) {
                                check_object(&o, &child, r, seen);
                            }
                        }
                        // a dangling soft link is allowed, as in libhdf5
                        Err(h5oxide::Error::NotFound(_)) => {}
                        Err(e) => r.problem(&child, e),
                    },
                    LinkKind::External { .. } | LinkKind::UserDefined(_) => {}
                }
            }
        }
    }
}

/// Reads what a dataset stores: every stored chunk (decoded through its filters), or the
/// contiguous, compact or external data piece by piece. Unallocated storage holds only the
/// fill value and is not read (a sparse dataset may span far more elements than the file
/// holds); a virtual dataset's sources are other datasets, checked where they are.
fn check_dataset(d: &h5oxide::Dataset, path: &str, r: &mut Report) {
    use h5oxide::format::messages::layout::DataLayout;
    let dtype = d.dtype().clone();
    let size = dtype.size() as usize;
    let decode = dtype.has_variable_parts()
        || matches!(dtype, h5oxide::format::datatype::Datatype::Reference { .. });
    let ctx = d.file_inner().ctx();
    let values = |bytes: &[u8], r: &mut Report| -> bool {
        r.bytes += bytes.len() as u64;
        if decode && size > 0 {
            if let Err(e) =
                h5oxide::format::value::decode_all(&dtype, bytes, bytes.len() / size, &ctx)
            {
                r.problem(path, e);
                return false;
            }
        }
        true
    };
    match &d.info().layout {
        DataLayout::Chunked(_) => match d.stored_chunks() {
            Ok(chunks) => {
                for c in &chunks {
                    match d.decode_stored_chunk(c) {
                        Ok(bytes) => {
                            if !values(&bytes, r) {
                                break;
                            }
                        }
                        Err(e) => {
                            r.problem(&format!("{path} (chunk at {:?})", c.offset), e);
                            break;
                        }
                    }
                }
            }
            Err(e) => r.problem(path, e),
        },
        DataLayout::Virtual { .. } => {}
        DataLayout::Contiguous { .. }
            if d.data_offset().is_none() && d.info().external.is_none() => {}
        _ => {
            for piece in d.chunk_iter() {
                match piece {
                    Ok((_, bytes)) => {
                        if !values(&bytes, r) {
                            break;
                        }
                    }
                    Err(e) => {
                        r.problem(path, e);
                        break;
                    }
                }
            }
        }
    }
}
