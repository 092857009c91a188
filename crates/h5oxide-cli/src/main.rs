//! The `h5oxide` command line tool.
//!
//! * `h5oxide ls [-r] PATH` — list the objects of a file.
//! * `h5oxide dump --canonical FILE` — print the canonical JSON description of a file
//!   (`../shared/tools/CANONICAL.md`) and exit 0 when it is `"ok": true`, 1 when the file
//!   was rejected (`"ok": false`). The corpus test (`tests/corpus.rs`) relies on this
//!   contract: any other exit status, a signal or a panic counts as a crash.

use clap::{Parser, Subcommand};
use h5oxide::canonical::json::Json;
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
    /// Describe a file.
    Dump {
        /// Print the canonical JSON form (CANONICAL.md); currently the only format.
        #[arg(long)]
        canonical: bool,
        /// The HDF5 file.
        file: PathBuf,
    },
}

/// The canonical JSON document of the file at `path` (with its trailing newline) and the
/// process exit code: 0 for an `"ok": true` document, 1 for `"ok": false`.
///
/// Placeholder until the reader exists: every file is reported as unsupported.
/// The integrator replaces this body with the real implementation.
fn dump_canonical(path: &Path) -> (String, i32) {
    let _ = path;
    let doc = Json::object([
        ("canon_version", Json::Int(1)),
        ("ok", Json::Bool(false)),
        ("error", Json::Str("unsupported: everything".into())),
    ]);
    (doc.to_document_string(), 1)
}

/// `ls` — placeholder until the reader exists.
fn list(path: &Path, recursive: bool) -> i32 {
    let _ = recursive;
    eprintln!("h5oxide ls: {}: not implemented yet", path.display());
    1
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Ls { recursive, path } => list(&path, recursive),
        Command::Dump { canonical, file } => {
            if !canonical {
                eprintln!("h5oxide dump: only --canonical is supported");
                2
            } else {
                let (text, code) = dump_canonical(&file);
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
