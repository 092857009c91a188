//! Interoperability of the writer's "latest" profile (`Profile::Latest`, h5py's
//! `libver="latest"`): files written by `h5oxide::write` are read back by libhdf5 through real
//! h5py (a Python subprocess asserting exact values, and the structures libhdf5 reports through
//! the oracle `h5canon.py`: storage of links and attributes, chunk index), by `h5dump` (must
//! exit 0), and by h5oxide's own reader.
//!
//! Python is `$H5OXIDE_PYTHON`, else the workspace's `.venv/bin/python` (`scripts/setup` creates
//! it). A missing Python, h5py or h5dump fails the tests: they are never skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use h5oxide::format::datatype::CharSet;
use h5oxide::write::{DatasetOptions, FileWriter, Profile, Value, WriteOptions};
use h5oxide::Error;
use ndarray::{Array, Array1, Array2, Array3};

mod interop;

use interop::{canonical_matches_oracle, h5dump, python};

/// A fresh output path for this test binary.
fn out_path(name: &str) -> PathBuf {
    interop::out_path("write_latest", name)
}

type R = Result<(), Box<dyn std::error::Error>>;

/// Runs `code` with h5py imported, `f` open read-only on `path`, and numpy as `np`; fails the
/// test with Python's output unless it exits 0.
fn h5py_check(path: &Path, code: &str) {
    let py = python();
    let canon = interop::shared_dir().join("tools/h5canon.py");
    let script = format!(
        "import sys, json, subprocess\nimport h5py\nimport numpy as np\n\
         def canon():\n    return json.loads(subprocess.check_output([sys.executable, sys.argv[2], sys.argv[1]]))\n\
         f = h5py.File(sys.argv[1], 'r')\n{code}\nf.close()\nprint('ok')\n"
    );
    let out = Command::new(&py)
        .arg("-c")
        .arg(&script)
        .arg(path)
        .arg(canon)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); run scripts/setup or set H5OXIDE_PYTHON to a Python with h5py",
                py.display()
            )
        });
    assert!(
        out.status.success(),
        "h5py check of {} failed:\n{}\n--- script:\n{script}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn latest(name: &str) -> Result<(PathBuf, FileWriter), Error> {
    let p = out_path(name);
    let f = FileWriter::create_with(&p, WriteOptions::latest())?;
    assert_eq!(f.profile(), Profile::Latest);
    Ok((p, f))
}

/// The superblock (version 3, consistency flags 0) and the root group's version-2 object
/// header, from the raw bytes.
fn assert_superblock_v3(p: &Path) {
    let b = std::fs::read(p).expect("read file");
    assert_eq!(&b[..8], b"\x89HDF\r\n\x1a\n");
    assert_eq!(b[8], 3, "superblock version");
    assert_eq!(b[11], 0, "file consistency flags");
    let mut root = [0u8; 8];
    root.copy_from_slice(&b[36..44]);
    let root = u64::from_le_bytes(root) as usize;
    assert_eq!(
        &b[root..root + 4],
        b"OHDR",
        "root object header (version 2)"
    );
}

#[test]
fn groups_with_0_5_9_1000_links() -> R {
    let (p, mut f) = latest("links.h5")?;
    f.create_group("g0")?;
    let g5 = f.create_group("g5")?;
    for i in 0..5 {
        g5.create_dataset(&format!("d{i}"), i * 10)?;
    }
    let g9 = f.create_group("g9")?;
    for i in 0..9 {
        g9.create_group(&format!("sub{i}"))?;
    }
    let big = f.create_group("g1000")?;
    for i in 0..1000 {
        big.create_dataset(&format!("item_{i:04}"), [i as u16, 7])?;
    }
    f.set_attr("root_attr", 1.5f64)?;
    f.close()?;
    assert_superblock_v3(&p);

    h5py_check(
        &p,
        r#"
assert list(f['g0']) == []
assert list(f['g5']) == ['d%d' % i for i in range(5)]
assert [int(f['g5/d%d' % i][()]) for i in range(5)] == [0, 10, 20, 30, 40]
assert list(f['g9']) == ['sub%d' % i for i in range(9)]
assert all(isinstance(f['g9/sub%d' % i], h5py.Group) for i in range(9))
names = list(f['g1000'])
assert names == ['item_%04d' % i for i in range(1000)], names[:5]
for i in (0, 1, 499, 998, 999):
    assert f['g1000/item_%04d' % i][()].tolist() == [i, 7]
assert f.attrs['root_attr'] == 1.5
c = canon()
assert c['superblock']['version'] == 3, c['superblock']
r = c['root']
assert r['ohdr_version'] == 2
assert r['links']['g0']['storage'] == 'compact'
assert r['links']['g5']['storage'] == 'compact'
assert r['links']['g9']['storage'] == 'dense', r['links']['g9']['storage']
assert r['links']['g1000']['storage'] == 'dense'
"#,
    );
    h5dump(&p, &["-H"]);
    canonical_matches_oracle(&p);

    let file = h5oxide::File::open(&p)?;
    assert_eq!(file.group("g0")?.member_names()?, Vec::<String>::new());
    assert_eq!(file.group("g9")?.len()?, 9);
    let names = file.group("g1000")?.member_names()?;
    let want: Vec<String> = (0..1000).map(|i| format!("item_{i:04}")).collect();
    assert_eq!(names, want);
    let d = file.dataset("g1000/item_0777")?;
    assert_eq!(d.read::<u16>()?.into_raw_vec_and_offset().0, vec![777, 7]);
    Ok(())
}

#[test]
fn track_order_links_and_attributes() -> R {
    let p = out_path("track_order.h5");
    let mut f = FileWriter::create_with(&p, WriteOptions::latest().track_order(true))?;
    // Creation order differs from name order.
    for name in ["zeta", "alpha", "mid"] {
        f.create_group(name)?;
    }
    f.set_attr("b_attr", 1i32)?;
    f.set_attr("a_attr", 2i32)?;
    let g = f.create_group("dense")?;
    g.set_track_order(true);
    let names: Vec<String> = (0..20).map(|i| format!("n{}", 19 - i)).collect();
    for n in &names {
        g.create_group(n)?;
    }
    for i in 0..12 {
        g.set_attr(&format!("attr{}", 11 - i), i as i64)?;
    }
    let d = f.create_dataset("data", [1.0f32, 2.0])?;
    d.set_track_order(true);
    d.set_attr("second", 2u8)?;
    d.set_attr("first", 1u8)?;
    f.close()?;

    h5py_check(
        &p,
        r#"
assert list(f) == ['zeta', 'alpha', 'mid', 'dense', 'data'], list(f)
assert list(f.attrs) == ['b_attr', 'a_attr'], list(f.attrs)
g = f['dense']
assert list(g) == ['n%d' % (19 - i) for i in range(20)], list(g)
assert list(g.attrs) == ['attr%d' % (11 - i) for i in range(12)], list(g.attrs)
assert [int(g.attrs['attr%d' % (11 - i)]) for i in range(12)] == list(range(12))
assert list(f['data'].attrs) == ['second', 'first']
c = canon()
r = c['root']
assert r['link_order'] == ['zeta', 'alpha', 'mid', 'dense', 'data']
assert r['attr_order'] == ['b_attr', 'a_attr']
gd = r['links']['dense']
assert gd['storage'] == 'dense' and gd['attr_storage'] == 'dense'
assert gd['link_order'] == ['n%d' % (19 - i) for i in range(20)]
assert gd['attr_order'] == ['attr%d' % (11 - i) for i in range(12)]
"#,
    );
    h5dump(&p, &[]);
    canonical_matches_oracle(&p);
    let file = h5oxide::File::open(&p)?;
    assert_eq!(file.group("dense")?.len()?, 20);
    assert_eq!(file.group("dense")?.attr("attr3")?.read_scalar::<i64>()?, 8);
    Ok(())
}

/// `track_order` in the compatible profile (h5py's default `libver`): the tracked root, groups
/// and datasets get version-2 headers (as libhdf5 writes them), untracked ones stay old-style;
/// RwFile keeps the order when it creates such a file and adds links and attributes later.
#[test]
fn track_order_in_the_compatible_profile() -> R {
    let p = out_path("track_order_compat.h5");
    let mut f = FileWriter::create_with(&p, WriteOptions::new().track_order(true))?;
    for name in ["zeta", "alpha"] {
        f.create_group(name)?;
    }
    f.set_attr("b", 1i32)?;
    f.set_attr("a", 2i32)?;
    let g = f.create_group("alpha/inner")?;
    g.set_attr("y", 1i32)?;
    let t = f.create_group("tracked")?;
    t.set_track_order(true);
    t.create_group("z")?;
    t.create_group("y")?;
    let d = f.create_dataset_with("d", [1i32, 2], DatasetOptions::new().track_order(true))?;
    for i in 0..10 {
        d.set_attr(&format!("a{}", 9 - i), i)?;
    }
    f.close()?;
    h5py_check(
        &p,
        r#"
assert f.id.get_create_plist().get_version()[0] == 0
assert list(f) == ['zeta', 'alpha', 'tracked', 'd'], list(f)
assert list(f.attrs) == ['b', 'a']
assert list(f['tracked']) == ['z', 'y']
assert list(f['d'].attrs) == ['a%d' % (9 - i) for i in range(10)]
assert int(f['d'].attrs['a3']) == 6
assert f['alpha/inner'].attrs['y'] == 1
"#,
    );
    h5dump(&p, &[]);

    let p = out_path("track_order_rw.h5");
    let mut w = h5oxide::RwFile::create_with(&p, WriteOptions::new().track_order(true))?;
    let root = w.root_addr();
    w.create_group("/z")?;
    w.create_group("/y")?;
    for i in 0..9 {
        w.set_attr(root, &format!("r{}", 9 - i), i)?;
    }
    let d = w.create_dataset(
        "/d",
        Value::from_slice(&[1u8, 2], &[2])?,
        &DatasetOptions::new().track_order(true),
    )?;
    for i in 0..12 {
        w.set_attr(d, &format!("x{:02}", 11 - i), i)?;
    }
    w.close()?;
    let mut w = h5oxide::RwFile::open(&p)?;
    w.create_group("/a")?;
    let d = w.resolve("/d")?;
    w.set_attr(d, "0late", 1i32)?;
    w.close()?;
    h5py_check(
        &p,
        r#"
assert list(f) == ['z', 'y', 'd', 'a'], list(f)
assert list(f.attrs) == ['r%d' % (9 - i) for i in range(9)], list(f.attrs)
assert list(f['d'].attrs) == ['x%02d' % (11 - i) for i in range(12)] + ['0late']
assert f['d'][()].tolist() == [1, 2]
"#,
    );
    h5dump(&p, &[]);
    Ok(())
}

/// Null-dataspace values (h5py's `Empty`): attributes from FileWriter in both profiles and from
/// RwFile, and RwFile's null datasets (contiguous, size 0, never allocated).
#[test]
fn null_dataspace_attributes_and_datasets() -> R {
    use h5oxide::format::encode::datatype as dt;
    for (name, o) in [
        ("null_compat.h5", WriteOptions::new()),
        ("null_latest.h5", WriteOptions::latest()),
    ] {
        let p = out_path(name);
        let mut f = FileWriter::create_with(&p, o)?;
        f.set_attr("e", Value::null(dt::f32_le()))?;
        f.set_attr("s", Value::null(dt::vlen_string(CharSet::Utf8)))?;
        f.close()?;
        h5py_check(
            &p,
            "assert f.attrs['e'] == h5py.Empty('f4')\n\
             assert f.attrs['s'] == h5py.Empty(h5py.string_dtype())",
        );
    }
    let p = out_path("null_rw.h5");
    let mut w = h5oxide::RwFile::create(&p)?;
    let d = w.create_dataset_null("/ed", dt::int_le(4, true), &DatasetOptions::new())?;
    w.set_attr(d, "x", Value::null(dt::int_le(8, true)))?;
    w.set_attr(w.root_addr(), "e", Value::null(dt::f64_le()))?;
    assert!(w.dataset_spec(d).is_err(), "no elements to write");
    w.close()?;
    h5py_check(
        &p,
        r#"
d = f['ed']
assert d.shape is None and d[()] == h5py.Empty('i4')
assert d.id.get_storage_size() == 0 and d.id.get_offset() is None
assert d.attrs['x'] == h5py.Empty('i8') and f.attrs['e'] == h5py.Empty('f8')
"#,
    );
    h5dump(&p, &[]);
    Ok(())
}

/// RwFile commits named datatypes and makes datasets refer to them (shared Datatype message,
/// reference count of the type's header raised per user), as h5py's `f[name] = dtype` and
/// `create_dataset(..., dtype=f[name])` do.
#[test]
fn committed_datatypes() -> R {
    use h5oxide::format::encode::datatype as dt;
    let p = out_path("committed_rw.h5");
    let mut w = h5oxide::RwFile::create(&p)?;
    let t = w.commit_datatype("/T", &dt::int_le(4, true))?;
    w.set_attr(t, "unit", "m")?;
    let d = w.create_dataset(
        "/c",
        Value::from_slice(&[1i32, 2, 3], &[3])?,
        &DatasetOptions::new(),
    )?;
    w.share_committed_datatype(d, t)?;
    let f = w.create_dataset(
        "/f",
        Value::from_slice(&[1.0f64], &[1])?,
        &DatasetOptions::new(),
    )?;
    assert!(w.share_committed_datatype(f, t).is_err(), "types differ");
    assert!(w.share_committed_datatype(d, t).is_err(), "already shared");
    assert!(
        w.share_committed_datatype(d, f).is_err(),
        "not a committed type"
    );
    assert!(
        w.commit_datatype("/T", &dt::f64_le()).is_err(),
        "name exists"
    );
    w.close()?;
    let mut w = h5oxide::RwFile::open(&p)?;
    let d2 = w.create_dataset(
        "/c2",
        Value::from_slice(&[7i32], &[1])?,
        &DatasetOptions::new(),
    )?;
    let t = w.resolve("/T")?;
    w.share_committed_datatype(d2, t)?;
    // attributes whose type is the committed one: in a version-1 header (attribute message
    // version 2), and compact then dense in a tracked version-2 header (version 3)
    let root = w.root_addr();
    w.set_attr_committed(root, "ta", 5i32, t)?;
    w.set_attr_committed(root, "tb", 6i32, t)?;
    w.delete_attr(root, "tb")?;
    assert!(
        w.set_attr_committed(root, "bad", 1.5f64, t).is_err(),
        "types differ"
    );
    let g = w.create_group_tracked("/g")?;
    for i in 0..10 {
        w.set_attr_committed(g, &format!("x{i}"), i, t)?;
    }
    w.close()?;
    let mut w = h5oxide::RwFile::open(&p)?;
    let g = w.resolve("/g")?;
    let t = w.resolve("/T")?;
    w.delete_attr(g, "x0")?;
    // replaced in place (keeps its creation order): one user less, one more
    w.set_attr_committed(g, "x1", 11i32, t)?;
    w.set_attr(g, "plain", 1i32)?;
    w.close()?;
    h5py_check(
        &p,
        r#"
assert type(f['T']).__name__ == 'Datatype' and f['T'].dtype == np.int32
assert f['T'].attrs['unit'] == 'm'
assert f['c'].id.get_type().committed() and f['c2'].id.get_type().committed()
assert not f['f'].id.get_type().committed()
assert f['c'][()].tolist() == [1, 2, 3] and f['c2'][()].tolist() == [7]
assert h5py.h5o.get_info(f['T'].id).rc == 3 + 1 + 9
assert f.attrs['ta'] == 5 and 'tb' not in f.attrs
assert f.attrs.get_id('ta').get_type().committed()
g = f['g']
assert list(g.attrs) == ['x%d' % i for i in range(1, 10)] + ['plain'], list(g.attrs)
assert int(g.attrs['x1']) == 11 and int(g.attrs['x9']) == 9
assert g.attrs.get_id('x5').get_type().committed()
"#,
    );
    let out = h5dump(&p, &[]);
    assert!(out.contains("DATATYPE  \"/T\""), "{out}");
    Ok(())
}

#[test]
fn soft_and_external_links() -> R {
    let (p, mut f) = latest("links_soft_ext.h5")?;
    f.create_dataset("target", [1i32, 2, 3])?;
    f.root().create_soft_link("soft", "/target")?;
    f.root().create_soft_link("dangling", "/nowhere")?;
    f.root()
        .create_external_link("ext", "other.h5", "/some/path")?;
    let g = f.create_group("many")?;
    for i in 0..12 {
        g.create_soft_link(&format!("s{i:02}"), "/target")?;
    }
    g.create_external_link("e", "x.h5", "/y")?;
    f.close()?;

    h5py_check(
        &p,
        r#"
assert f['soft'][()].tolist() == [1, 2, 3]
l = f.get('soft', getlink=True)
assert isinstance(l, h5py.SoftLink) and l.path == '/target'
assert f.get('dangling', getlink=True).path == '/nowhere'
e = f.get('ext', getlink=True)
assert isinstance(e, h5py.ExternalLink) and e.filename == 'other.h5' and e.path == '/some/path'
g = f['many']
assert sorted(g.keys()) == ['e'] + ['s%02d' % i for i in range(12)]
assert g.get('s05', getlink=True).path == '/target'
assert g['s11'][()].tolist() == [1, 2, 3]
assert g.get('e', getlink=True).filename == 'x.h5'
assert canon()['root']['links']['many']['storage'] == 'dense'
"#,
    );
    h5dump(&p, &["-H"]);
    canonical_matches_oracle(&p);
    let file = h5oxide::File::open(&p)?;
    assert_eq!(file.group("many")?.len()?, 13);
    assert_eq!(
        file.dataset("soft")?
            .read::<i32>()?
            .into_raw_vec_and_offset()
            .0,
        vec![1, 2, 3]
    );
    Ok(())
}

#[test]
fn attributes_0_8_9_100_and_large() -> R {
    let (p, mut f) = latest("attrs.h5")?;
    f.create_group("a0")?;
    let g = f.create_group("a8")?;
    for i in 0..8 {
        g.set_attr(&format!("k{i}"), i as f64)?;
    }
    let g = f.create_group("a9")?;
    for i in 0..9 {
        g.set_attr(&format!("k{i}"), format!("value {i}"))?;
    }
    let g = f.create_group("a100")?;
    for i in 0..100 {
        g.set_attr(&format!("attribute number {i}"), [i, -i])?;
    }
    // Over the 4 KiB managed-object limit (a huge heap object) but under 64 KiB.
    g.set_attr("medium", Array1::from_iter(0..2000i32))?;
    let big = f.create_group("big")?;
    big.set_attr("large", Array1::from_iter((0..20000).map(f64::from)))?;
    big.set_attr("small", 3u8)?;
    // Eight attributes of 56 KB stay compact: one 450 KB header chunk (4-byte size field).
    let eight = f.create_group("eight_large")?;
    for i in 0..8 {
        eight.set_attr(
            &format!("L{i}"),
            Array1::from_iter((0..7000).map(|k| f64::from(k + i))),
        )?;
    }
    f.set_attr("ünïcode", "ok")?;
    f.close()?;

    h5py_check(
        &p,
        r#"
assert len(f['a0'].attrs) == 0
assert sorted(f['a8'].attrs) == ['k%d' % i for i in range(8)]
assert all(f['a8'].attrs['k%d' % i] == i for i in range(8))
a9 = f['a9'].attrs
assert sorted(a9) == ['k%d' % i for i in range(9)]
for i in range(9):
    v = a9['k%d' % i]
    v = v.decode() if isinstance(v, bytes) else v
    assert v == 'value %d' % i, v
a100 = f['a100'].attrs
assert len(a100) == 101
for i in (0, 1, 50, 99):
    assert a100['attribute number %d' % i].tolist() == [i, -i]
assert np.array_equal(a100['medium'], np.arange(2000, dtype='i4'))
large = f['big'].attrs['large']
assert large.shape == (20000,) and np.array_equal(large, np.arange(20000, dtype='f8'))
assert f['big'].attrs['small'] == 3
assert f.attrs['ünïcode'] == 'ok'
r = canon()['root']
assert r['attr_storage'] == 'compact'
assert r['links']['a8']['attr_storage'] == 'compact'
assert r['links']['a9']['attr_storage'] == 'dense'
assert r['links']['a100']['attr_storage'] == 'dense'
assert r['links']['big']['attr_storage'] == 'dense'
assert r['links']['eight_large']['attr_storage'] == 'compact'
e = f['eight_large'].attrs
assert all(np.array_equal(e['L%d' % i], np.arange(7000, dtype='f8') + i) for i in range(8))
"#,
    );
    h5dump(&p, &["-H"]);
    canonical_matches_oracle(&p);
    let file = h5oxide::File::open(&p)?;
    let g = file.group("a100")?;
    assert_eq!(g.attrs()?.len(), 101);
    let a = g.attr("attribute number 42")?;
    assert_eq!(a.read::<i32>()?.into_raw_vec_and_offset().0, vec![42, -42]);
    let large = file.group("big")?.attr("large")?.read::<f64>()?;
    assert_eq!(large.len(), 20000);
    assert_eq!(large[[19999]], 19999.0);
    Ok(())
}

#[test]
fn large_attribute_in_compatible_profile_is_a_typed_error() -> R {
    let p = out_path("compat_large_attr.h5");
    let mut f = FileWriter::create(&p)?;
    f.set_attr("large", Array1::from_iter((0..20000).map(f64::from)))?;
    match f.close() {
        Err(Error::Unsupported { feature }) => {
            assert!(
                feature.contains("object header message is too large"),
                "{feature}"
            )
        }
        other => panic!("expected an unsupported-feature error, got {other:?}"),
    }
    Ok(())
}

#[test]
fn datasets_contiguous_compact_and_every_chunk_index() -> R {
    let (p, mut f) = latest("datasets.h5")?;
    let a = Array2::from_shape_fn((30, 40), |(i, j)| (i * 40 + j) as i32);
    f.create_dataset("contiguous", &a)?;
    f.create_dataset_with(
        "compact",
        [1u8, 2, 3, 4],
        DatasetOptions::new().compact(true),
    )?;
    f.create_dataset("scalar", 42i64)?;
    // Single chunk: shape = maxshape = chunk.
    f.create_dataset_with("single", &a, DatasetOptions::new().chunks(&[30, 40]))?;
    f.create_dataset_with(
        "single_gzip",
        &a,
        DatasetOptions::new()
            .chunks(&[30, 40])
            .deflate(6)
            .shuffle(true),
    )?;
    // Fixed array: fixed maxshape, several chunks (edge chunks included).
    f.create_dataset_with("fa", &a, DatasetOptions::new().chunks(&[7, 9]))?;
    f.create_dataset_with(
        "fa_filtered",
        &a,
        DatasetOptions::new()
            .chunks(&[7, 9])
            .maxshape(&[Some(60), Some(80)])
            .deflate(4)
            .shuffle(true)
            .fletcher32(true),
    )?;
    // Paged fixed array: more than 1024 chunks.
    let long = Array1::from_iter(0..3000u32);
    f.create_dataset_with("fa_paged", &long, DatasetOptions::new().chunks(&[2]))?;
    f.create_dataset_with(
        "fa_paged_gzip",
        &long,
        DatasetOptions::new().chunks(&[2]).deflate(1),
    )?;
    // Extensible array: one unlimited dimension, many chunks.
    f.create_dataset_with(
        "ea",
        &long,
        DatasetOptions::new().chunks(&[1]).maxshape(&[None]),
    )?;
    f.create_dataset_with(
        "ea_2d",
        &a,
        DatasetOptions::new()
            .chunks(&[4, 7])
            .maxshape(&[Some(35), None])
            .deflate(5)
            .fletcher32(true),
    )?;
    // v2 B-tree: two unlimited dimensions, enough chunks for an internal level.
    let b3 = Array3::from_shape_fn((20, 30, 4), |(i, j, k)| (i * 1000 + j * 10 + k) as f64);
    f.create_dataset_with(
        "bt2",
        &b3,
        DatasetOptions::new()
            .chunks(&[1, 1, 4])
            .maxshape(&[None, None, Some(4)]),
    )?;
    f.create_dataset_with(
        "bt2_filtered",
        &b3,
        DatasetOptions::new()
            .chunks(&[2, 3, 2])
            .maxshape(&[None, None, None])
            .shuffle(true)
            .deflate(9),
    )?;
    f.create_dataset_with(
        "empty_ea",
        Array1::<f32>::zeros(0),
        DatasetOptions::new().chunks(&[8]).maxshape(&[None]),
    )?;
    f.close()?;
    assert_superblock_v3(&p);

    h5py_check(
        &p,
        r#"
a = np.arange(1200, dtype='i4').reshape(30, 40)
long = np.arange(3000, dtype='u4')
b3 = np.fromfunction(lambda i, j, k: i * 1000 + j * 10 + k, (20, 30, 4))
assert np.array_equal(f['contiguous'][()], a)
assert f['compact'][()].tolist() == [1, 2, 3, 4]
assert f['scalar'][()] == 42
for name in ('single', 'single_gzip', 'fa', 'fa_filtered', 'ea_2d'):
    assert np.array_equal(f[name][()], a), name
for name in ('fa_paged', 'fa_paged_gzip', 'ea'):
    assert np.array_equal(f[name][()], long), name
for name in ('bt2', 'bt2_filtered'):
    assert np.array_equal(f[name][()], b3), name
assert f['empty_ea'].shape == (0,) and f['empty_ea'].maxshape == (None,)
assert f['single_gzip'].compression == 'gzip' and f['single_gzip'].compression_opts == 6
assert f['single_gzip'].shuffle
d = f['fa_filtered']
assert d.chunks == (7, 9) and d.maxshape == (60, 80)
assert d.compression == 'gzip' and d.shuffle and d.fletcher32
assert f['ea'].maxshape == (None,) and f['ea'].chunks == (1,)
assert f['ea_2d'].maxshape == (35, None) and f['ea_2d'].fletcher32
assert f['bt2'].maxshape == (None, None, 4)
assert f['bt2_filtered'].maxshape == (None, None, None) and f['bt2_filtered'].compression_opts == 9
assert f['bt2'].id.get_num_chunks() == 600
assert f['fa_paged'].id.get_num_chunks() == 1500
info = f['fa_filtered'].id.get_chunk_info(0)
assert info.chunk_offset == (0, 0) and info.filter_mask == 0 and 0 < info.size
r = canon()['root']['links']
want = {'contiguous': (None, 'contiguous'), 'compact': (None, 'compact'),
        'single': ('single', 'chunked'), 'single_gzip': ('single', 'chunked'),
        'fa': ('fixed_array', 'chunked'), 'fa_filtered': ('fixed_array', 'chunked'),
        'fa_paged': ('fixed_array', 'chunked'), 'fa_paged_gzip': ('fixed_array', 'chunked'),
        'ea': ('extensible_array', 'chunked'), 'ea_2d': ('extensible_array', 'chunked'),
        'bt2': ('btree_v2', 'chunked'), 'bt2_filtered': ('btree_v2', 'chunked'),
        'empty_ea': ('extensible_array', 'chunked')}
for name, (index, layout) in want.items():
    assert (r[name]['chunk_index'], r[name]['layout']) == (index, layout), (name, r[name]['chunk_index'])
    assert r[name]['ohdr_version'] == 2
assert r['ea']['num_chunks'] == 3000
assert r['fa_filtered']['filters'] == [{'id': 2, 'flags': 1, 'params': [4]}, {'id': 1, 'flags': 1, 'params': [4]}, {'id': 3, 'flags': 0, 'params': []}]
"#,
    );
    h5dump(&p, &[]);
    canonical_matches_oracle(&p);

    let file = h5oxide::File::open(&p)?;
    for name in ["single", "single_gzip", "fa", "fa_filtered", "ea_2d"] {
        assert_eq!(
            file.dataset(name)?.read::<i32>()?,
            a.clone().into_dyn(),
            "{name}"
        );
    }
    for name in ["fa_paged", "fa_paged_gzip", "ea"] {
        assert_eq!(
            file.dataset(name)?.read::<u32>()?,
            long.clone().into_dyn(),
            "{name}"
        );
    }
    for name in ["bt2", "bt2_filtered"] {
        assert_eq!(
            file.dataset(name)?.read::<f64>()?,
            b3.clone().into_dyn(),
            "{name}"
        );
    }
    Ok(())
}

#[test]
fn libhdf5_can_modify_latest_files() -> R {
    // libhdf5 opens the files for writing and changes dense groups, dense attributes and
    // resizable datasets: the heaps, B-trees and chunk indexes must be consistent enough for
    // its insert, delete and resize paths, not only for reading.
    let (p, mut f) = latest("modify.h5")?;
    let g = f.create_group("many")?;
    for i in 0..300 {
        g.create_group(&format!("m{i:03}"))?;
        g.set_attr(&format!("a{i:03}"), i)?;
    }
    g.set_attr("big", Array1::from_iter((0..20000).map(f64::from)))?;
    let t = f.create_group("tracked")?;
    t.set_track_order(true);
    for i in 0..1000 {
        t.create_soft_link(&format!("s{}", 999 - i), "/many")?;
    }
    for i in 0..100 {
        t.set_attr(&format!("t{}", 99 - i), i)?;
    }
    let a = Array2::from_shape_fn((30, 40), |(i, j)| (i * 40 + j) as i32);
    f.create_dataset_with(
        "ea",
        &a,
        DatasetOptions::new()
            .chunks(&[4, 7])
            .maxshape(&[None, Some(40)]),
    )?;
    f.create_dataset_with(
        "bt2",
        &a,
        DatasetOptions::new()
            .chunks(&[4, 7])
            .maxshape(&[None, None])
            .deflate(3),
    )?;
    f.close()?;

    h5py_check(
        &p,
        r#"
t = f['tracked']
assert list(t) == ['s%d' % (999 - i) for i in range(1000)]
assert list(t.attrs) == ['t%d' % (99 - i) for i in range(100)]
assert [int(t.attrs['t%d' % (99 - i)]) for i in range(100)] == list(range(100))
f.close()
f = h5py.File(sys.argv[1], 'r+')
g = f['many']
for i in range(0, 300, 2):
    del g['m%03d' % i]
    del g.attrs['a%03d' % i]
for i in range(100):
    g.create_group('new%d' % i)
    g.attrs['new%d' % i] = np.arange(i % 5)
del g.attrs['big']
g.attrs['big2'] = np.ones(10000)
del f['tracked']['s500']
f['tracked'].create_group('last')
f['tracked'].attrs['last'] = 1
d = f['ea']
d.resize((50, 40))
d[30:] = -1
d = f['bt2']
d.resize((31, 45))
d[30, :] = 5
d[:, 40:] = 6
f.close()
f = h5py.File(sys.argv[1], 'r')
g = f['many']
assert sorted(g) == sorted(['m%03d' % i for i in range(1, 300, 2)] + ['new%d' % i for i in range(100)])
assert len(g.attrs) == 251 and g.attrs['a299'] == 299 and g.attrs['big2'].shape == (10000,)
t = f['tracked']
assert list(t)[-1] == 'last' and 's500' not in t and len(t) == 1000
assert list(t.attrs)[-1] == 'last'
a = np.arange(1200, dtype='i4').reshape(30, 40)
assert np.array_equal(f['ea'][:30], a) and (f['ea'][30:] == -1).all()
b = f['bt2'][()]
assert np.array_equal(b[:30, :40], a) and (b[30, :40] == 5).all() and (b[:, 40:] == 6).all()
"#,
    );
    h5dump(&p, &["-H"]);
    // h5oxide reads what libhdf5 made of it.
    let file = h5oxide::File::open(&p)?;
    assert_eq!(file.group("many")?.len()?, 250);
    assert_eq!(file.group("tracked")?.len()?, 1000);
    assert_eq!(file.dataset("bt2")?.read::<i32>()?.shape(), &[31, 45]);
    Ok(())
}

#[test]
fn dense_group_beyond_the_root_direct_blocks() -> R {
    // 50 000 soft links take about 1 MiB of link messages: more than the 512 KiB the root
    // indirect block's direct rows hold, so the heap needs child indirect blocks.
    let (p, mut f) = latest("links_50000.h5")?;
    f.create_dataset("x", 1u8)?;
    let g = f.create_group("huge_group")?;
    for i in 0..50_000 {
        g.create_soft_link(&format!("link{i:05}"), &format!("/x/{i}"))?;
    }
    f.close()?;
    h5py_check(
        &p,
        r#"
g = f['huge_group']
names = list(g)
assert names == ['link%05d' % i for i in range(50000)], names[:3]
for i in (0, 1, 12345, 49999):
    assert g.get('link%05d' % i, getlink=True).path == '/x/%d' % i
"#,
    );
    h5dump(&p, &["-H"]);
    let file = h5oxide::File::open(&p)?;
    assert_eq!(file.group("huge_group")?.len()?, 50_000);
    Ok(())
}

#[test]
fn extensible_array_with_paged_data_blocks() -> R {
    // More than 131 060 chunks: the data blocks of super blocks 13 and later are paged.
    let (p, mut f) = latest("ea_paged.h5")?;
    let n = 140_000usize;
    let v = Array1::from_iter((0..n).map(|i| (i % 251) as u8));
    f.create_dataset_with(
        "ea",
        &v,
        DatasetOptions::new().chunks(&[1]).maxshape(&[None]),
    )?;
    f.close()?;
    h5py_check(
        &p,
        r#"
d = f['ea']
assert d.shape == (140000,) and d.maxshape == (None,) and d.chunks == (1,)
assert np.array_equal(d[()], (np.arange(140000) % 251).astype('u1'))
assert d.id.get_num_chunks() == 140000
assert d.id.get_chunk_info_by_coord((139999,)).size == 1
"#,
    );
    h5dump(&p, &["-H"]);
    let file = h5oxide::File::open(&p)?;
    assert_eq!(file.dataset("ea")?.read::<u8>()?, v.into_dyn());
    Ok(())
}

#[test]
fn same_content_as_h5py_latest_dumps_identically() -> R {
    // The file h5py writes with libver=("v110", "v110") — "latest" as of HDF5 1.10, which the
    // h5dump 1.10 here can read (HDF5 2.0 "latest" writes layout v5) — and the same content
    // must dump identically
    // (h5dump -p shows types, shapes, layouts, filters, fill values, storage sizes and data).
    let ours = out_path("same_ours.h5");
    let theirs = out_path("same_h5py.h5");
    let a = Array2::from_shape_fn((30, 40), |(i, j)| (i * 40 + j) as i32);
    let (_, mut f) = latest("same_ours.h5")?;
    f.create_dataset("contiguous", &a)?;
    f.create_dataset_with(
        "single_gzip",
        &a,
        DatasetOptions::new()
            .chunks(&[30, 40])
            .deflate(6)
            .shuffle(true),
    )?;
    f.create_dataset_with(
        "fa_filtered",
        &a,
        DatasetOptions::new()
            .chunks(&[7, 9])
            .maxshape(&[Some(60), Some(80)])
            .deflate(4)
            .shuffle(true)
            .fletcher32(true),
    )?;
    f.create_dataset_with(
        "ea_2d",
        &a,
        DatasetOptions::new()
            .chunks(&[4, 7])
            .maxshape(&[Some(35), None])
            .deflate(5)
            .fletcher32(true),
    )?;
    f.create_dataset_with(
        "bt2",
        &a,
        DatasetOptions::new()
            .chunks(&[8, 8])
            .maxshape(&[None, None]),
    )?;
    f.create_dataset_with(
        "fv",
        [0f32, 1.0, 2.0, 3.0, 4.0],
        DatasetOptions::new().fill_value(2.5f32)?,
    )?;
    let g = f.create_group("g")?;
    g.set_attr("x", 1.5f64)?;
    g.set_attr("s", "str")?;
    for i in 0..10 {
        g.create_group(&format!("sub{i}"))?;
    }
    f.close()?;
    let py = python();
    let out = Command::new(&py)
        .arg("-c")
        .arg(
            "import sys, h5py, numpy as np\n\
             a = np.arange(1200, dtype='<i4').reshape(30, 40)\n\
             with h5py.File(sys.argv[1], 'w', libver=('v110', 'v110')) as f:\n\
             \x20   f.create_dataset('contiguous', data=a)\n\
             \x20   f.create_dataset('single_gzip', data=a, chunks=(30, 40), compression='gzip', compression_opts=6, shuffle=True)\n\
             \x20   f.create_dataset('fa_filtered', data=a, chunks=(7, 9), maxshape=(60, 80), compression='gzip', compression_opts=4, shuffle=True, fletcher32=True)\n\
             \x20   f.create_dataset('ea_2d', data=a, chunks=(4, 7), maxshape=(35, None), compression='gzip', compression_opts=5, fletcher32=True)\n\
             \x20   f.create_dataset('bt2', data=a, chunks=(8, 8), maxshape=(None, None))\n\
             \x20   f.create_dataset('fv', data=np.arange(5, dtype='<f4'), fillvalue=2.5)\n\
             \x20   g = f.create_group('g')\n\
             \x20   g.attrs['x'] = 1.5\n\
             \x20   g.attrs['s'] = 'str'\n\
             \x20   for i in range(10):\n\
             \x20       g.create_group('sub%d' % i)\n",
        )
        .arg(&theirs)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let norm = |s: String| -> String {
        s.lines()
            // Compressed sizes differ with the deflate implementation (libdeflate vs zlib).
            .filter(|l| {
                !l.contains("HDF5 \"")
                    && !l.trim_start().starts_with("OFFSET")
                    && !l.ends_with("COMPRESSION)")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (mine, h5py) = (norm(h5dump(&ours, &["-p"])), norm(h5dump(&theirs, &["-p"])));
    if mine != h5py {
        let diff: Vec<String> = mine
            .lines()
            .zip(h5py.lines())
            .filter(|(a, b)| a != b)
            .take(20)
            .map(|(a, b)| format!("ours:  {a}\nh5py:  {b}"))
            .collect();
        panic!("h5dump -p differs:\n{}", diff.join("\n"));
    }
    Ok(())
}

#[test]
fn soft_links_in_the_compatible_profile() -> R {
    // Old-style groups store soft links as symbol table entries of cache type 2; external
    // links need new-style groups.
    let p = out_path("compat_soft.h5");
    let mut f = FileWriter::create(&p)?;
    f.create_dataset("target", [4i16, 5])?;
    f.root().create_soft_link("soft", "/target")?;
    let g = f.create_group("g")?;
    for i in 0..20 {
        g.create_soft_link(&format!("s{i:02}"), &format!("../t{i}"))?;
    }
    g.create_dataset("d", 1u8)?;
    f.close()?;
    h5py_check(
        &p,
        r#"
assert f['soft'][()].tolist() == [4, 5]
assert f.get('soft', getlink=True).path == '/target'
g = f['g']
assert list(g) == ['d'] + ['s%02d' % i for i in range(20)]
assert all(g.get('s%02d' % i, getlink=True).path == '../t%d' % i for i in range(20))
c = canon()
assert c['superblock']['version'] == 0 and c['root']['links']['g']['storage'] == 'symbol_table'
"#,
    );
    h5dump(&p, &[]);
    canonical_matches_oracle(&p);
    let file = h5oxide::File::open(&p)?;
    assert_eq!(file.group("g")?.len()?, 21);
    assert_eq!(
        file.dataset("soft")?
            .read::<i16>()?
            .into_raw_vec_and_offset()
            .0,
        vec![4, 5]
    );

    let p = out_path("compat_ext.h5");
    let mut f = FileWriter::create(&p)?;
    f.root().create_external_link("e", "other.h5", "/x")?;
    match f.close() {
        Err(Error::Unsupported { feature }) => assert!(feature.contains("external"), "{feature}"),
        other => panic!("expected an unsupported-feature error, got {other:?}"),
    }
    Ok(())
}

#[test]
fn strings_fill_values_and_chunked_vlen_in_latest() -> R {
    // Everything the compatible profile writes also works in the latest one: variable-length
    // strings (global heap) in datasets, chunked datasets and dense attributes, fill values.
    let (p, mut f) = latest("strings.h5")?;
    f.create_dataset(
        "vlen",
        Value::vlen_strings(&["a", "bb", "ccc", "dddd"], &[2, 2], CharSet::Utf8)?,
    )?;
    f.create_dataset_with(
        "vlen_chunked",
        Value::vlen_strings(&["x", "yy", "zzz", "ü"], &[4], CharSet::Utf8)?,
        DatasetOptions::new().chunks(&[2]).maxshape(&[None]),
    )?;
    f.create_dataset_with(
        "filled",
        Array1::from_iter((0..10).map(|i| i as f32)),
        DatasetOptions::new()
            .chunks(&[4])
            .maxshape(&[Some(20)])
            .fill_value(-1.0f32)?,
    )?;
    f.create_dataset_with(
        "compact_fill",
        [7i16, 8],
        DatasetOptions::new().compact(true).fill_value(3i16)?,
    )?;
    let g = f.create_group("g")?;
    for i in 0..12 {
        g.set_attr(&format!("s{i}"), format!("string number {i}"))?;
    }
    f.close()?;
    h5py_check(
        &p,
        r#"
assert [x.decode() for x in f['vlen'][()].ravel()] == ['a', 'bb', 'ccc', 'dddd']
assert [x.decode() for x in f['vlen_chunked'][()]] == ['x', 'yy', 'zzz', 'ü']
d = f['filled']
assert d.fillvalue == -1.0 and d[()].tolist() == list(range(10))
assert f['compact_fill'].fillvalue == 3 and f['compact_fill'][()].tolist() == [7, 8]
assert all(f['g'].attrs['s%d' % i] == 'string number %d' % i for i in range(12))
r = canon()['root']['links']
assert r['filled']['fill'] == {'status': 'user', 'alloc_time': 'incr', 'fill_time': 'ifset', 'value': -1.0}
assert r['vlen_chunked']['chunk_index'] == 'extensible_array'
f.close()
f = h5py.File(sys.argv[1], 'r+')
f['filled'].resize((20,))
f.close()
f = h5py.File(sys.argv[1], 'r')
assert f['filled'][()].tolist() == list(range(10)) + [-1.0] * 10
"#,
    );
    h5dump(&p, &[]);
    let file = h5oxide::File::open(&p)?;
    assert_eq!(
        file.dataset("vlen_chunked")?.read_strings()?,
        vec!["x", "yy", "zzz", "ü"]
    );
    assert_eq!(
        file.group("g")?.attr("s11")?.read_string()?,
        "string number 11"
    );
    Ok(())
}

#[test]
fn oversized_fixed_array_is_a_typed_error() -> R {
    // A fixed maximum shape of 10^9 one-element chunks would need a billion index entries.
    let (_, mut f) = latest("fa_too_big.h5")?;
    f.create_dataset_with(
        "d",
        [1u8, 2, 3],
        DatasetOptions::new()
            .chunks(&[1])
            .maxshape(&[Some(1_000_000_000)]),
    )?;
    match f.close() {
        Err(Error::Unsupported { feature }) => {
            assert!(feature.contains("fixed-array"), "{feature}")
        }
        other => panic!("expected an unsupported-feature error, got {other:?}"),
    }
    Ok(())
}

#[test]
fn empty_latest_file() -> R {
    let (p, f) = latest("empty.h5")?;
    f.close()?;
    assert_superblock_v3(&p);
    h5py_check(
        &p,
        r#"
assert len(f) == 0 and len(f.attrs) == 0
assert f.id.get_create_plist().get_userblock() == 0
r = canon()['root']
assert r['storage'] == 'compact' and r['ohdr_version'] == 2
"#,
    );
    h5dump(&p, &[]);
    canonical_matches_oracle(&p);
    assert!(h5oxide::File::open(&p)?.root()?.is_empty()?);
    Ok(())
}

#[test]
fn compatible_profile_is_unchanged_by_default() -> R {
    // The default and an explicit Compatible profile write the same bytes, with a version-0
    // superblock.
    let p1 = out_path("compat_default.h5");
    let p2 = out_path("compat_explicit.h5");
    for (p, opts) in [
        (&p1, None),
        (&p2, Some(WriteOptions::new().profile(Profile::Compatible))),
    ] {
        let mut f = match opts {
            None => FileWriter::create(p)?,
            Some(o) => FileWriter::create_with(p, o)?,
        };
        f.create_group("g")?.set_attr("a", 1i32)?;
        f.create_dataset_with(
            "d",
            Array::from_iter(0..100i64),
            DatasetOptions::new().chunks(&[10]),
        )?;
        f.close()?;
    }
    let (b1, b2) = (std::fs::read(&p1)?, std::fs::read(&p2)?);
    assert_eq!(b1, b2);
    assert_eq!(b1[8], 0, "superblock version 0");
    Ok(())
}
