//! In-place changes (`RwFile`, h5py's `r+`/`w`) read back by real h5py and `h5dump`, both on
//! files we create and on files h5py (libhdf5) wrote.

mod interop;

use h5oxide::write::{DatasetOptions, Value};
use h5oxide::{Hyperslab, RwFile};
use interop::{h5dump, h5py_check, out_path, python_run};

type R = Result<(), Box<dyn std::error::Error>>;

fn f64s(v: &[f64], shape: &[u64]) -> Value {
    Value::from_slice(v, shape).expect("value")
}

#[test]
fn create_and_fill_a_file() -> R {
    let p = out_path("rw_interop", "create.h5");
    let mut f = RwFile::create(&p)?;
    let g = f.create_group("/experiment1")?;
    f.set_attr(g, "date", "2018-01-01")?;
    let data: Vec<f64> = (0..1000 * 100).map(|i| i as f64 * 0.5).collect();
    let d = f.create_dataset(
        "/experiment1/array1",
        f64s(&data, &[1000, 100]),
        &DatasetOptions::new(),
    )?;
    f.set_attr(d, "units", "m")?;
    f.create_dataset(
        "/experiment1/gz",
        f64s(&data, &[1000, 100]),
        &DatasetOptions::new()
            .chunks(&[100, 10])
            .deflate(4)
            .shuffle(true),
    )?;
    f.create_dataset(
        "/small",
        Value::from_slice(&[1i32, 2, 3], &[3])?,
        &DatasetOptions::new().compact(true),
    )?;
    f.link_soft("/link_to_array", "/experiment1/array1")?;
    // Partial writes and a resizable dataset.
    let g2 = f.create_dataset(
        "/grow",
        Value::from_slice(&[0i64; 10], &[10])?,
        &DatasetOptions::new().chunks(&[4]).maxshape(&[None]),
    )?;
    f.resize(g2, &[25])?;
    let vals: Vec<i64> = (10..25).collect();
    f.write_raw(
        g2,
        &Hyperslab::new_box(&[10], &[15]),
        &vals
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>(),
    )?;
    // The reader sees everything before close.
    let r = f.reader()?;
    assert_eq!(r.dataset("/grow")?.shape(), vec![25]);
    assert_eq!(
        r.dataset("/experiment1/gz")?
            .read::<f64>()?
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        data
    );
    f.close()?;
    h5py_check(
        &p,
        "a = np.arange(100000, dtype='f8').reshape(1000, 100) * 0.5\n\
         assert f['experiment1'].attrs['date'] == '2018-01-01'\n\
         assert (f['experiment1/array1'][...] == a).all()\n\
         assert (f['experiment1/gz'][...] == a).all()\n\
         assert f['experiment1/gz'].compression == 'gzip' and f['experiment1/gz'].shuffle\n\
         assert f['experiment1/array1'].attrs['units'] == 'm'\n\
         assert list(f['small'][...]) == [1, 2, 3]\n\
         assert (f['link_to_array'][...] == a).all()\n\
         g = f['grow']\n\
         assert g.shape == (25,) and g.maxshape == (None,)\n\
         assert list(g[...]) == [0] * 10 + list(range(10, 25)), g[...]",
    );
    h5dump(&p, &["-H"]);
    Ok(())
}

#[test]
fn modify_a_file_h5py_wrote() -> R {
    let p = out_path("rw_interop", "h5py_written.h5");
    python_run(
        &p,
        "f = h5py.File(sys.argv[1], 'w')\n\
         f.attrs['title'] = 'before'\n\
         f.attrs['n'] = 3\n\
         g = f.create_group('g')\n\
         for i in range(20):\n    g.create_group('sub%02d' % i)\n\
         f.create_dataset('contig', data=np.arange(100, dtype='f4'))\n\
         f.create_dataset('chunked', data=np.arange(60, dtype='i4').reshape(6, 10), chunks=(2, 5), maxshape=(None, 10), compression='gzip')\n\
         f.create_dataset('fix', data=np.arange(12, dtype='u2'), chunks=(4,))\n\
         l = h5py.File(sys.argv[1] + '.latest.h5', 'w', libver='latest')\n\
         l.create_dataset('ea', data=np.arange(50, dtype='f8'), chunks=(8,), maxshape=(None,))\n\
         l.create_dataset('fa', data=np.arange(50, dtype='f8'), chunks=(8,))\n\
         l.create_group('c').attrs['x'] = 1\n\
         l.close()\n\
         f.close()",
    );
    let mut f = RwFile::open(&p)?;
    let root = f.root_addr();
    f.set_attr(root, "title", "after, and longer than before")?;
    f.delete_attr(root, "n")?;
    f.set_attr(root, "added", f64s(&[1.5, 2.5], &[2]))?;
    let c = f.resolve("/contig")?;
    f.write_raw(
        c,
        &Hyperslab::new_box(&[10], &[3]),
        &[-1f32, -2., -3.]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>(),
    )?;
    let ch = f.resolve("/chunked")?;
    f.resize(ch, &[8, 10])?;
    let row: Vec<u8> = (100..110i32).flat_map(|v| v.to_le_bytes()).collect();
    f.write_raw(ch, &Hyperslab::new_box(&[7, 0], &[1, 10]), &row)?;
    f.write_raw(
        ch,
        &Hyperslab::new_box(&[0, 3], &[1, 1]),
        &7777i32.to_le_bytes(),
    )?;
    f.create_group("/g/new")?;
    f.unlink("/g/sub03")?;
    f.move_link("/g/sub04", "/g/renamed")?;
    f.create_dataset(
        "/g/new/data",
        Value::from_slice(&[1u8, 2, 3], &[3])?,
        &DatasetOptions::new(),
    )?;
    let fix = f.resolve("/fix")?;
    f.write_raw(fix, &Hyperslab::all(&[12]), &[9u8; 24])?;
    f.close()?;
    h5py_check(
        &p,
        "assert f.attrs['title'] == 'after, and longer than before'\n\
         assert 'n' not in f.attrs\n\
         assert list(f.attrs['added']) == [1.5, 2.5]\n\
         c = f['contig'][...]\n\
         exp = np.arange(100, dtype='f4'); exp[10:13] = [-1, -2, -3]\n\
         assert (c == exp).all()\n\
         d = f['chunked']\n\
         assert d.shape == (8, 10), d.shape\n\
         exp = np.zeros((8, 10), 'i4'); exp[:6] = np.arange(60).reshape(6, 10); exp[7] = range(100, 110); exp[0, 3] = 7777\n\
         assert (d[...] == exp).all(), d[...]\n\
         names = sorted(f['g'].keys())\n\
         assert 'sub03' not in names and 'sub04' not in names and 'renamed' in names and 'new' in names, names\n\
         assert len(names) == 20\n\
         assert list(f['g/new/data'][...]) == [1, 2, 3]\n\
         assert (f['fix'][...] == 0x0909).all()",
    );
    h5dump(&p, &["-H"]);

    // libver='latest' file: extensible/fixed array chunk indexes, v2 headers.
    let pl = std::path::PathBuf::from(format!("{}.latest.h5", p.display()));
    let mut f = RwFile::open(&pl)?;
    let ea = f.resolve("/ea")?;
    f.resize(ea, &[60])?;
    let tail: Vec<u8> = (50..60).flat_map(|v| (v as f64).to_le_bytes()).collect();
    f.write_raw(ea, &Hyperslab::new_box(&[50], &[10]), &tail)?;
    let fa = f.resolve("/fa")?;
    f.write_raw(fa, &Hyperslab::new_box(&[0], &[1]), &(-5f64).to_le_bytes())?;
    let cg = f.resolve("/c")?;
    f.set_attr(cg, "y", Value::from_slice(&[2i32], &[])?)?;
    f.close()?;
    h5py_check(
        &pl,
        "assert (f['ea'][...] == np.arange(60)).all(), f['ea'][...]\n\
         exp = np.arange(50.); exp[0] = -5\n\
         assert (f['fa'][...] == exp).all()\n\
         assert f['c'].attrs['x'] == 1 and f['c'].attrs['y'] == 2",
    );
    h5dump(&pl, &["-H"]);
    Ok(())
}

#[test]
fn shrink_a_chunked_dataset_to_nothing() -> R {
    let p = out_path("rw_interop", "shrink_to_zero.h5");
    python_run(
        &p,
        "f = h5py.File(sys.argv[1], 'w')\n\
         f.create_dataset('d', data=np.arange(10, dtype='i4'), chunks=(4,), maxshape=(None,))\n\
         f.close()",
    );
    let mut f = RwFile::open(&p)?;
    let d = f.resolve("/d")?;
    f.resize(d, &[0])?;
    f.flush()?;
    f.resize(d, &[6])?;
    f.close()?;
    h5py_check(
        &p,
        "d = f['d']\n\
         assert d.shape == (6,), d.shape\n\
         assert d.id.get_num_chunks() == 0, d.id.get_num_chunks()\n\
         assert (d[...] == 0).all(), d[...]",
    );
    h5dump(&p, &["-H"]);
    Ok(())
}

#[test]
fn new_style_groups_grow_dense_and_shrink_compact() -> R {
    let p = out_path("rw_interop", "dense_links.h5");
    python_run(
        &p,
        "f = h5py.File(sys.argv[1], 'w', libver='latest')\n\
         g = f.create_group('small')\n\
         for i in range(5):\n    g.create_group('m%02d' % i)\n\
         d = f.create_group('big', track_order=True)\n\
         for i in range(40):\n    d['x%02d' % i] = i\n\
         f.close()",
    );
    let mut f = RwFile::open(&p)?;
    // compact -> dense (more than 8 links), with soft links among them
    for i in 5..30 {
        f.create_group(&format!("/small/m{i:02}"))?;
    }
    f.link_soft("/small/soft", "/big/x39")?;
    f.link_external("/small/ext", "other.h5", "/y")?;
    // dense: remove most links (back to compact below 6), add some
    for i in 0..38 {
        f.unlink(&format!("/big/x{i:02}"))?;
    }
    f.create_dataset(
        "/big/new",
        Value::from_slice(&[7i16], &[1])?,
        &DatasetOptions::new(),
    )?;
    f.close()?;
    h5py_check(
        &p,
        "s = f['small']\n\
         assert sorted(s.keys()) == sorted(['m%02d' % i for i in range(30)] + ['soft', 'ext']), list(s)\n\
         assert s['soft'][()] == 39\n\
         assert isinstance(s.get('ext', getlink=True), h5py.ExternalLink)\n\
         b = f['big']\n\
         assert list(b.keys()) == ['x38', 'x39', 'new'], list(b.keys())\n\
         assert b['new'][0] == 7",
    );
    h5dump(&p, &["-H"]);
    Ok(())
}

#[test]
fn attributes_go_dense_and_back_in_version_2_headers() -> R {
    let p = out_path("rw_interop", "dense_attrs.h5");
    python_run(
        &p,
        "f = h5py.File(sys.argv[1], 'w', libver='latest')\n\
         g = f.create_group('few')\n\
         for i in range(3):\n    g.attrs['a%02d' % i] = i\n\
         d = f.create_dataset('many', data=[1, 2], track_order=True)\n\
         for i in range(30):\n    d.attrs['b%02d' % i] = np.arange(i + 1)\n\
         f.close()",
    );
    let mut f = RwFile::open(&p)?;
    let few = f.resolve("/few")?;
    for i in 3..25 {
        f.set_attr(
            few,
            &format!("a{i:02}"),
            Value::from_slice(&[i as i64], &[])?,
        )?;
    }
    f.set_attr(
        few,
        "big",
        Value::from_slice(&vec![1.5f64; 20000], &[20000])?,
    )?;
    let many = f.resolve("/many")?;
    for i in 0..28 {
        f.delete_attr(many, &format!("b{i:02}"))?;
    }
    f.set_attr(many, "b29", "replaced")?;
    f.set_attr(many, "new", 3.5f64)?;
    f.close()?;
    h5py_check(
        &p,
        "g = f['few']\n\
         assert sorted(g.attrs) == sorted(['a%02d' % i for i in range(25)] + ['big']), list(g.attrs)\n\
         assert all(g.attrs['a%02d' % i] == i for i in range(25))\n\
         assert (g.attrs['big'] == 1.5).all() and g.attrs['big'].shape == (20000,)\n\
         d = f['many']\n\
         assert list(d.attrs) == ['b28', 'b29', 'new'], list(d.attrs)\n\
         assert list(d.attrs['b28']) == list(range(29)) and d.attrs['b29'] == 'replaced'\n\
         assert d.attrs['new'] == 3.5",
    );
    h5dump(&p, &["-H"]);
    Ok(())
}
