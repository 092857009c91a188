//! The `h5oxide` command line tool.
//!
//! * `h5oxide ls [-r] PATH` — list the objects of a file.
//! * `h5oxide check FILE` — read everything in a file and report what cannot be read
//!   (exit 0: all read, 1: problems, 2: not an HDF5 file we can open); see [`check`].
//! * `h5oxide dump [-H] FILE` — the file as text laid out like `h5dump`'s (see [`dump`]).
//! * `h5oxide dump --canonical FILE` — print the canonical JSON description of a file
//!   (`../shared/tools/CANONICAL.md`) and exit 0 when it is `"ok": true`, 1 when the file
//!   was rejected (`"ok": false`). The corpus test (`tests/corpus.rs`) relies on this
//!   contract: any other exit status, a signal or a panic counts as a crash.

mod check;
mod dump;

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// h5oxide: HDF5 in pure Rust.
#[derive(Parser)]
#[command(name = "h5oxide", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the objects of a file.
    Ls {
        /// Recurse into groups.
        #[arg(short, long)]
        recursive: bool,
        /// The HDF5 file (optionally `FILE/path/in/file`).
        path: PathBuf,
    },
    /// Read everything in a file (every link, attribute and dataset value) and report what
    /// cannot be read.
    Check {
        /// The HDF5 file.
        file: PathBuf,
    },
    /// Describe a file: its tree, types and values as text laid out like h5dump's, or the
    /// canonical JSON.
    Dump {
        /// Print the canonical JSON form (CANONICAL.md) instead.
        #[arg(long)]
        canonical: bool,
        /// Print only the header: no data (like `h5dump -H`).
        #[arg(short = 'H', long)]
        header: bool,
        /// The HDF5 file.
        file: PathBuf,
    },
}

/// The canonical JSON document of the file at `path` (with its trailing newline) and the
/// process exit code: 0 for an `"ok": true` document, 1 for `"ok": false`.
fn dump_canonical(path: &Path) -> (String, i32) {
    let (doc, ok) = h5oxide::canonical::dump(path);
    (doc.to_document_string(), if ok { 0 } else { 1 })
}

/// Splits `FILE/path/in/file` into the longest existing file prefix and the path inside it.
fn split_path(arg: &Path) -> (PathBuf, String) {
    let mut file = arg.to_path_buf();
    let mut inner: Vec<String> = Vec::new();
    while !file.is_file() {
        match (
            file.file_name().map(|n| n.to_string_lossy().into_owned()),
            file.parent(),
        ) {
            (Some(name), Some(parent)) if !parent.as_os_str().is_empty() => {
                inner.push(name);
                file = parent.to_path_buf();
            }
            _ => return (arg.to_path_buf(), "/".into()),
        }
    }
    inner.reverse();
    (file, format!("/{}", inner.join("/")))
}

/// A one-line description of an object, h5ls style.
fn describe(obj: &h5oxide::Object) -> String {
    match obj {
        h5oxide::Object::Group(_) => "Group".into(),
        h5oxide::Object::Datatype(_) => "Type".into(),
        h5oxide::Object::Dataset(d) => {
            let shape = match &d.info().space {
                h5oxide::format::messages::dataspace::Dataspace::Null => "NULL".to_string(),
                h5oxide::format::messages::dataspace::Dataspace::Scalar => "SCALAR".to_string(),
                h5oxide::format::messages::dataspace::Dataspace::Simple { dims, max } => {
                    let parts: Vec<String> = dims
                        .iter()
                        .zip(max)
                        .map(|(d, m)| match m {
                            Some(m) if m == d => d.to_string(),
                            Some(m) => format!("{d}/{m}"),
                            None => format!("{d}/Inf"),
                        })
                        .collect();
                    format!("{{{}}}", parts.join(", "))
                }
            };
            format!("Dataset {shape} {}", h5oxide::dtype_name(d.dtype()))
        }
    }
}

/// `ls`: list a group's members (recursively with `-r`), or describe one object.
fn list(path: &Path, recursive: bool) -> i32 {
    let (file, inner) = split_path(path);
    let f = match h5oxide::File::open(&file) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("h5oxide ls: {}: {e}", file.display());
            return 1;
        }
    };
    let obj = match f.get(&inner) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("h5oxide ls: {}{inner}: {e}", file.display());
            return 1;
        }
    };
    let mut out = std::io::stdout().lock();
    let mut status = 0;
    let h5oxide::Object::Group(g) = &obj else {
        let _ = writeln!(out, "{:<30} {}", inner, describe(&obj));
        return 0;
    };
    let prefix = if inner == "/" {
        String::new()
    } else {
        inner.clone()
    };
    if recursive {
        match g.walk() {
            Ok(items) => {
                for (p, o) in items {
                    let rel = p
                        .strip_prefix(&prefix)
                        .unwrap_or(&p)
                        .trim_start_matches('/')
                        .to_string();
                    let _ = writeln!(out, "{:<30} {}", rel, describe(&o));
                }
            }
            Err(e) => {
                eprintln!("h5oxide ls: {e}");
                status = 1;
            }
        }
    } else {
        match g.links() {
            Ok(links) => {
                for l in links {
                    let what = match &l.kind {
                        h5oxide::LinkKind::Hard(_) => match g.get(&l.name) {
                            Ok(o) => describe(&o),
                            Err(e) => format!("error: {e}"),
                        },
                        h5oxide::LinkKind::Soft(t) => format!("Soft Link {{{t}}}"),
                        h5oxide::LinkKind::External { file, path } => {
                            format!("External Link {{{file}/{path}}}")
                        }
                        h5oxide::LinkKind::UserDefined(c) => format!("User-defined link class {c}"),
                    };
                    let _ = writeln!(out, "{:<30} {}", l.name, what);
                }
            }
            Err(e) => {
                eprintln!("h5oxide ls: {e}");
                status = 1;
            }
        }
    }
    status
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Ls { recursive, path } => list(&path, recursive),
        Command::Check { file } => check::check(&file),
        Command::Dump {
            canonical,
            header,
            file,
        } => {
            let (text, code) = if canonical {
                dump_canonical(&file)
            } else {
                let opts = dump::Options {
                    header_only: header,
                };
                let (text, ok) = dump::dump(&file.to_string_lossy(), &opts);
                (text, if ok { 0 } else { 1 })
            };
            {
                let mut out = std::io::stdout().lock();
                if out
                    .write_all(text.as_bytes())
                    .and_then(|_| out.flush())
                    .is_err()
                {
                    // e.g. a closed pipe: nothing useful left to do
                    return ExitCode::from(2);
                }
                code
            }
        }
    };
    ExitCode::from(code as u8)
}
