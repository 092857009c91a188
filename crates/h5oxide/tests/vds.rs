//! Virtual datasets: partial reads of the corpus VDS files against the oracle's values
//! (`FILE.canon.json`, h5py + libhdf5), and files written by real h5py inside the test (nested
//! sources, a cycle, a source type that needs conversion, a missing source, a hostile mapping
//! block).

mod interop;

use std::path::{Path, PathBuf};

use h5oxide::canonical::json::Json;
use h5oxide::select::AxisIndex;
use h5oxide::{Error, File, Hyperslab};
use interop::{out_path, python_run, shared_dir};
use ndarray::{s, ArrayD, IxDyn, SliceInfoElem};

fn corpus(rel: &str) -> PathBuf {
    shared_dir().join("corpus").join(rel)
}

/// The oracle's inline value of dataset `name` (at the root) as a flat i64 list, and its shape.
fn oracle(path: &Path, name: &str) -> ArrayD<i64> {
    let text = std::fs::read_to_string(format!("{}.canon.json", path.display())).unwrap();
    let doc = Json::parse(&text).unwrap();
    let d = doc
        .get("root")
        .and_then(|r| r.get("links"))
        .and_then(|l| l.get(name))
        .unwrap();
    let shape: Vec<usize> = match d.get("shape") {
        Some(Json::Array(v)) => v
            .iter()
            .map(|x| match x {
                Json::Int(i) => *i as usize,
                _ => panic!("shape"),
            })
            .collect(),
        _ => panic!("no shape"),
    };
    let mut flat = Vec::new();
    fn walk(j: &Json, out: &mut Vec<i64>) {
        match j {
            Json::Array(v) => v.iter().for_each(|x| walk(x, out)),
            Json::Int(i) => out.push(*i as i64),
            other => panic!("unexpected value {other:?}"),
        }
    }
    walk(d.get("value").expect("inline value"), &mut flat);
    ArrayD::from_shape_vec(IxDyn(&shape), flat).unwrap()
}

fn check_slice<S>(path: &Path, name: &str, sl: S)
where
    S: AsRef<[SliceInfoElem]> + ndarray::SliceArg<IxDyn> + Copy,
{
    let want = oracle(path, name);
    let ds = File::open(path).unwrap().dataset(name).unwrap();
    let got = ds.read_slice::<i64, _>(sl).unwrap();
    assert_eq!(
        got,
        want.slice(sl).to_owned().into_dyn(),
        "{} {name}",
        path.display()
    );
}

#[test]
fn corpus_vds_whole_and_hyperslabs_match_the_oracle() {
    let one = corpus("hdf5/vds/1_vds.h5");
    let f = File::open(&one).unwrap();
    let ds = f.dataset("vds_dset").unwrap();
    assert!(ds.is_virtual());
    assert_eq!(ds.shape(), vec![5, 18, 8]);
    assert_eq!(ds.read::<i64>().unwrap(), oracle(&one, "vds_dset"));
    check_slice(&one, "vds_dset", s![1..4, 3..15;2, 2..7]);
    check_slice(&one, "vds_dset", s![4, .., 7]);
    check_slice(&one, "vds_dset", s![.., 1..3, ..;3]);
    // Through an explicit strided hyperslab: rows 1 and 3, blocks of 2 at stride 5.
    let h = Hyperslab {
        start: vec![1, 1, 0],
        stride: vec![2, 5, 1],
        count: vec![2, 3, 1],
        block: vec![1, 2, 8],
    };
    let got = ds.read_hyperslab::<i32>(&h).unwrap();
    let want = oracle(&one, "vds_dset");
    for (idx, &v) in got.indexed_iter() {
        let (a, b, c) = (idx[0], idx[1], idx[2]);
        let x = [1 + 2 * a, 1 + (b / 2) * 5 + b % 2, c];
        assert_eq!(i64::from(v), want[IxDyn(&x)], "at {idx:?}");
    }
    // Points and orthogonal indexing go through the same mappings.
    let pts = ds
        .read_points::<i32>(&[vec![0, 0, 0], vec![4, 17, 7], vec![2, 9, 3]])
        .unwrap();
    assert_eq!(
        pts.iter().map(|&v| i64::from(v)).collect::<Vec<_>>(),
        vec![
            want[IxDyn(&[0, 0, 0])],
            want[IxDyn(&[4, 17, 7])],
            want[IxDyn(&[2, 9, 3])]
        ]
    );
    let fancy = ds
        .read_fancy::<i64>(&[
            AxisIndex::List(vec![3, 0]),
            AxisIndex::List(vec![17, 2, 5]),
            AxisIndex::All,
        ])
        .unwrap();
    assert_eq!(fancy[[0, 1, 4]], want[IxDyn(&[3, 2, 4])]);
    // Block iteration covers every element once.
    let total: i64 = ds
        .chunk_iter_with(256)
        .typed::<i64>()
        .map(|r| r.unwrap().1.sum())
        .sum();
    assert_eq!(total, want.sum());

    for (rel, name) in [
        ("hdf5/vds/2_vds.h5", "vds_dset"),
        ("hdf5/vds/3_1_vds.h5", "vds_dset"),
        ("hdf5/vds/4_vds.h5", "vds_dset"),
        ("hdf5/vds/5_vds.h5", "vds_dset"),
        ("hdf5/vds/vds-eiger.h5", "VDS-Eiger"),
        ("generated/vds_virtual.h5", "vds"),
        ("generated/vds_virtual.h5", "vds_same_file_strided"),
    ] {
        let p = corpus(rel);
        let want = oracle(&p, name);
        let ds = File::open(&p).unwrap().dataset(name).unwrap();
        assert_eq!(ds.read::<i64>().unwrap(), want, "{rel}");
        if want.ndim() == 3 {
            check_slice(&p, name, s![1..;2, 1..3, ..]);
            check_slice(&p, name, s![-1, .., 1]);
        } else if want.ndim() == 2 {
            // Across mapped and unmapped (missing source: fill value) rows.
            check_slice(&p, name, s![2.., 3..8]);
        } else {
            check_slice(&p, name, s![1..17;3]);
        }
    }
}

#[test]
fn virtual_sources_list_the_mappings() {
    let f = File::open(corpus("generated/vds_virtual.h5")).unwrap();
    let ds = f.dataset("vds").unwrap();
    let maps = ds.virtual_sources().unwrap();
    assert_eq!(maps.len(), 4);
    assert_eq!(maps[0].file, "vds_source_0.h5");
    assert_eq!(maps[0].dataset, "data");
    assert_eq!(maps[3].file, "vds_source_missing.h5");
    assert_eq!(
        maps[3].virtual_sel.regular().unwrap(),
        [vec![3, 0], vec![1, 1], vec![1, 1], vec![1, 5]]
    );
    let strided = f.dataset("vds_same_file_strided").unwrap();
    assert!(strided.virtual_sources().unwrap()[0].same_file());
    assert!(f.dataset("src_local").unwrap().virtual_sources().is_none());
    assert!(!f.dataset("src_local").unwrap().is_virtual());
}

#[test]
fn h5py_written_vds_nested_converted_cyclic_and_hostile() {
    let dir = out_path("vds", "x").parent().unwrap().to_path_buf();
    let a = dir.join("vds_src.h5");
    python_run(
        &dir.join("vds_src.h5"),
        r#"
import os
d = os.path.dirname(sys.argv[1])
with h5py.File(sys.argv[1], "w") as f:
    f["i16be"] = np.arange(-6, 6, dtype=">i2").reshape(3, 4)
    f["f4"] = np.linspace(-1.5, 4.0, 12, dtype="<f4").reshape(3, 4)
    f["big"] = np.array([70000, -70000, 5, 6], dtype="<i4")
# Level 1: a VDS converting big-endian int16 to float64, float32 to int32, int32 to int16
# (libhdf5 clamps), and a row from a missing file.
lay = h5py.VirtualLayout(shape=(4, 4), dtype="<f8")
lay[0:3, :] = h5py.VirtualSource("vds_src.h5", "i16be", shape=(3, 4))
lay[3, :] = h5py.VirtualSource("nowhere.h5", "x", shape=(4,))
lay2 = h5py.VirtualLayout(shape=(3, 4), dtype="<i4")
lay2[:, :] = h5py.VirtualSource("vds_src.h5", "f4", shape=(3, 4))
lay3 = h5py.VirtualLayout(shape=(4,), dtype="<i2")
lay3[:] = h5py.VirtualSource("vds_src.h5", "big", shape=(4,))
with h5py.File(os.path.join(d, "vds_l1.h5"), "w") as f:
    f.create_virtual_dataset("conv", lay, fillvalue=-7)
    f.create_virtual_dataset("f2i", lay2)
    f.create_virtual_dataset("clamp", lay3)
# Level 2: a VDS whose source is the level-1 VDS, transposed into columns.
lay = h5py.VirtualLayout(shape=(4, 8), dtype="<f8")
for i in range(4):
    lay[i, 0:4] = h5py.VirtualSource("vds_l1.h5", "conv", shape=(4, 4))[i, :]
    lay[i, 4:8] = h5py.VirtualSource("vds_l1.h5", "conv", shape=(4, 4))[3 - i, :]
with h5py.File(os.path.join(d, "vds_l2.h5"), "w") as f:
    f.create_virtual_dataset("nested", lay, fillvalue=0)
# A cycle: a VDS whose source is itself.
lay = h5py.VirtualLayout(shape=(4,), dtype="<i4")
lay[:] = h5py.VirtualSource(".", "self", shape=(4,))
with h5py.File(os.path.join(d, "vds_cycle.h5"), "w") as f:
    f.create_virtual_dataset("self", lay, fillvalue=1)
with h5py.File(os.path.join(d, "vds_l1.h5"), "r") as f:
    print(f["conv"][()].tolist())
    print(f["f2i"][()].tolist())
    print(f["clamp"][()].tolist())
with h5py.File(os.path.join(d, "vds_l2.h5"), "r") as f:
    print(f["nested"][()].tolist())
"#,
    );
    let _ = a;
    let py = |code: &str, file: &str| -> String {
        python_run(
            &dir.join(file),
            &format!("f = h5py.File(sys.argv[1], 'r')\nprint({code})"),
        )
        .trim()
        .to_string()
    };
    let fmt_f = |v: &ArrayD<f64>| -> String {
        let rows: Vec<String> = v
            .outer_iter()
            .map(|r| {
                format!(
                    "[{}]",
                    r.iter()
                        .map(|x| format!("{x:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect();
        format!("[{}]", rows.join(", "))
    };
    let l1 = File::open(dir.join("vds_l1.h5")).unwrap();
    let conv = l1.dataset("conv").unwrap().read::<f64>().unwrap();
    assert_eq!(fmt_f(&conv), py("f['conv'][()].tolist()", "vds_l1.h5"));
    assert_eq!(conv[[3, 2]], -7.0, "missing source reads as the fill value");
    let f2i = l1.dataset("f2i").unwrap().read::<i32>().unwrap();
    assert_eq!(
        format!("{:?}", f2i.iter().collect::<Vec<_>>()).replace(' ', ""),
        py("f['f2i'][()].ravel().tolist()", "vds_l1.h5").replace(' ', "")
    );
    let clamp = l1.dataset("clamp").unwrap().read::<i16>().unwrap();
    assert_eq!(
        format!("{:?}", clamp.iter().collect::<Vec<_>>()).replace(' ', ""),
        py("f['clamp'][()].tolist()", "vds_l1.h5").replace(' ', "")
    );
    let l2 = File::open(dir.join("vds_l2.h5")).unwrap();
    let nested = l2.dataset("nested").unwrap();
    assert_eq!(
        fmt_f(&nested.read::<f64>().unwrap()),
        py("f['nested'][()].tolist()", "vds_l2.h5")
    );
    let part = nested.read_slice::<f64, _>(s![1..3, 2..7]).unwrap();
    assert_eq!(
        fmt_f(&part),
        py("f['nested'][1:3, 2:7].tolist()", "vds_l2.h5")
    );
    // A VDS that is its own source: a typed error, not a stack overflow.
    let cyc = File::open(dir.join("vds_cycle.h5")).unwrap();
    let e = cyc.dataset("self").unwrap().read::<i32>().unwrap_err();
    assert!(matches!(e, Error::Limit { .. }), "{e}");
    // The canonical dump of every file still works (and reports the cycle as a read error).
    for name in ["vds_l1.h5", "vds_l2.h5", "vds_cycle.h5"] {
        let (_, ok) = h5oxide::canonical::dump_bytes(std::fs::read(dir.join(name)).unwrap());
        assert!(ok, "{name}");
    }
    // Hostile bytes: flip every byte of the mapping block in turn; each open or read is a
    // typed error or a value, never a panic.
    let bytes = std::fs::read(dir.join("vds_l1.h5")).unwrap();
    let at = bytes
        .windows(4)
        .position(|w| w == b"GCOL")
        .expect("global heap");
    for k in (at + 16)..(at + 200).min(bytes.len()) {
        for v in [0u8, 0xff, bytes[k] ^ 0x10] {
            let mut b = bytes.clone();
            b[k] = v;
            if let Ok(f) = File::from_bytes(b) {
                if let Ok(ds) = f.dataset("conv") {
                    let _ = ds.read::<f64>();
                }
            }
        }
    }
}
