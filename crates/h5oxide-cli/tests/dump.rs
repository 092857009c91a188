//! `h5oxide dump FILE` prints what `h5dump FILE` prints (Debian's `hdf5-tools`, which the test
//! script installs) for files of the common types: integers and IEEE floats of every size and
//! order (and the half floats h5dump 1.10 names by their bits), fixed and variable-length
//! strings, compounds, enums (h5py's booleans), variable-length sequences, bitfields, opaque
//! types, scalar / null / simple / unlimited dataspaces, attributes, nested groups, soft,
//! hard and external links (followed into the other file as h5dump does), and long rows
//! wrapped as h5dump wraps them. Every corpus file dumps without a crash.

mod common;

use common::shared_dir;
use std::path::Path;
use std::process::Command;

/// Files whose `h5dump` output h5oxide reproduces byte for byte, across the producers of the
/// corpus.
const SAME_AS_H5DUMP: &[&str] = &[
    "HDF5.jl/h5ex_t_vlen.h5",
    "HDF5.jl/h5ex_t_enum.h5",
    "generated/links_earliest.h5",
    "generated/superblock_sb1_istore_k.h5",
    "hdf5-json/bool_dset.h5",
    "hdf5-json/bitfield_dset.h5",
    "hdf5-json/types_attr.h5",
    "hdf5-json/committed_type.h5",
    "hdf5/binfp64.h5",
    "hdf5/tchar.h5",
    "hdf5/textlink.h5",
    "hdf5/topaque.h5",
    "hdf5/txtstr.h5",
    "hdf5/vds/a.h5",
    "jhdf/test_string_datasets_latest.hdf5",
    "pyfive/new_style_groups.hdf5",
];

fn run(cmd: &str, args: &[&str], dir: &Path) -> (String, bool) {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (the test script installs hdf5-tools)"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.success(),
    )
}

#[test]
fn dump_prints_what_h5dump_prints() {
    let Some(shared) = shared_dir() else {
        eprintln!("no shared corpus: skipped");
        return;
    };
    let corpus = shared.join("corpus");
    // The layout compared is h5dump 1.10's (Debian bookworm's hdf5-tools); another version
    // lays some types out differently: then only the object and attribute lines must agree.
    let (version, _) = run("h5dump", &["--version"], &corpus);
    let exact = version.contains("Version 1.10.");
    let skeleton = |text: &str| -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|l| {
                [
                    "GROUP ",
                    "DATASET ",
                    "ATTRIBUTE ",
                    "SOFTLINK ",
                    "EXTERNAL_LINK ",
                ]
                .iter()
                .any(|k| l.starts_with(k))
            })
            .map(String::from)
            .collect()
    };
    let mut differ = Vec::new();
    for f in SAME_AS_H5DUMP {
        let (want, ok) = run("h5dump", &[f], &corpus);
        assert!(ok, "h5dump {f} failed");
        let (got, ok) = run(env!("CARGO_BIN_EXE_h5oxide"), &["dump", f], &corpus);
        assert!(ok, "h5oxide dump {f} failed");
        let (got, want) = if exact {
            (got, want)
        } else {
            (skeleton(&got).join("\n"), skeleton(&want).join("\n"))
        };
        if got != want {
            let line = want
                .lines()
                .zip(got.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            differ.push(format!(
                "{f}: first difference at line {}:\n  h5dump:  {:?}\n  h5oxide: {:?}",
                line + 1,
                want.lines().nth(line),
                got.lines().nth(line)
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    // -H: the header without any DATA block
    let (got, ok) = run(
        env!("CARGO_BIN_EXE_h5oxide"),
        &["dump", "-H", "generated/links_earliest.h5"],
        &corpus,
    );
    let (want, _) = run("h5dump", &["-H", "generated/links_earliest.h5"], &corpus);
    assert!(ok && !got.contains("DATA {"), "{got}");
    if exact {
        assert_eq!(got, want);
    }
}

#[test]
fn every_corpus_file_dumps_without_a_crash() {
    let Some(shared) = shared_dir() else {
        eprintln!("no shared corpus: skipped");
        return;
    };
    let corpus = shared.join("corpus");
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("manifest");
    let mut n = 0;
    for line in manifest.lines().skip(1) {
        let Some(f) = line.split('\t').next() else {
            continue;
        };
        let out = Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 2097152 2>/dev/null; exec timeout 60 \"$0\" dump -H \"$1\"")
            .arg(env!("CARGO_BIN_EXE_h5oxide"))
            .arg(f)
            .current_dir(&corpus)
            .output()
            .expect("run h5oxide dump");
        // 0: everything read, 1: something could not be read (said in the output)
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{f}: h5oxide dump -H exited with {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        n += 1;
    }
    assert!(n > 800, "{n} files");
}
