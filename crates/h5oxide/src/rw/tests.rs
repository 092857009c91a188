//! Unit tests of the read-write engine; interop tests with h5py are in tests/rw_interop.rs.

use super::*;

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("h5oxide_rw_tests_{}", std::process::id()));
    fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

#[test]
fn a_header_that_cannot_grow_is_refused_before_anything_is_written() {
    let p = temp_file("tiny_header.h5");
    let mut f = RwFile::create(&p).expect("create");
    // A version-1 header whose first chunk (16 bytes: one NIL message) cannot hold the
    // 24-byte continuation message it would need to grow.
    let tiny = f.new_header(&[], 16).expect("header");
    f.link_hard_addr("/tiny", tiny).expect("link");
    f.flush().expect("a reference count change fits");
    let before = fs::read(&p).expect("read");

    // Group changes are written before headers at flush: they must not be either.
    f.create_group("/g").expect("group");
    f.set_attr(tiny, "a", 1i32).expect("in memory");
    let e = f.flush().expect_err("the header cannot grow");
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    let after = fs::read(&p).expect("read");
    // New objects are written at the end of the file at once; everything before is as it was
    // (superblock, root group's B-tree and heap, the tiny header).
    assert_eq!(after.get(..before.len()), Some(&before[..]));
    drop(f);
    let r = File::open(&p).expect("reopen");
    assert_eq!(
        r.root().expect("root").member_names().expect("names"),
        ["tiny"]
    );
    let _ = fs::remove_file(&p);
}
