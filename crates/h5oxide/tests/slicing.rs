//! Slicing and concurrent reads against files written by real h5py (generated inside the test
//! with the project's `.venv`, which `scripts/setup` creates).
//!
//! The datasets hold `arange`, so the expected value of every element is its linear index.

use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::{s, ArrayD, IxDyn};

fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let p = root.join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run ./scripts/setup (it installs h5py)",
        p.display()
    );
    p
}

fn make_file(dir: &Path) -> PathBuf {
    let path = dir.join("slicing.h5");
    let script = r#"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("contig", data=np.arange(100 * 37, dtype="<f8").reshape(100, 37))
    f.create_dataset("chunked", data=np.arange(100 * 37, dtype=">i4").reshape(100, 37),
                     chunks=(7, 5), compression="gzip", shuffle=True)
    f.create_dataset("cube", data=np.arange(6 * 7 * 8, dtype="<i2").reshape(6, 7, 8), chunks=(4, 3, 5))
    f.create_dataset("partial", shape=(20, 20), dtype="<i4", chunks=(6, 6), fillvalue=-7)
    f["partial"][0:6, 0:6] = np.arange(36).reshape(6, 6)
"#;
    let st = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(&path)
        .status()
        .expect("run python");
    assert!(st.success(), "h5py failed to write the test file");
    path
}

fn expected(shape: &[usize]) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|i| i as f64).collect()).unwrap()
}

#[test]
fn slices_match_ndarray_semantics() {
    let dir = tempdir();
    let f = h5oxide::File::open(make_file(&dir)).unwrap();
    for name in ["contig", "chunked"] {
        let ds = f.dataset(name).unwrap();
        let full = ds.read::<f64>().unwrap();
        assert_eq!(full, expected(&[100, 37]), "{name}: whole read");
        let cases: Vec<(ArrayD<f64>, ArrayD<f64>)> = vec![
            (
                ds.read_slice::<f64, _>(s![0, ..]).unwrap(),
                full.slice(s![0, ..]).to_owned().into_dyn(),
            ),
            (
                ds.read_slice::<f64, _>(s![.., 3]).unwrap(),
                full.slice(s![.., 3]).to_owned().into_dyn(),
            ),
            (
                ds.read_slice::<f64, _>(s![10..53;3, 2..30;4]).unwrap(),
                full.slice(s![10..53;3, 2..30;4]).to_owned().into_dyn(),
            ),
            (
                ds.read_slice::<f64, _>(s![-5.., ..;-2]).unwrap(),
                full.slice(s![-5.., ..;-2]).to_owned().into_dyn(),
            ),
            (
                ds.read_slice::<f64, _>(s![99, 36]).unwrap(),
                full.slice(s![99, 36]).to_owned().into_dyn(),
            ),
            (
                ds.read_slice::<f64, _>(s![5..5, ..]).unwrap(),
                full.slice(s![5..5, ..]).to_owned().into_dyn(),
            ),
            (
                ds.read_slice::<f64, _>(s![3..9, ndarray::NewAxis, 1..4])
                    .unwrap(),
                full.slice(s![3..9, ndarray::NewAxis, 1..4])
                    .to_owned()
                    .into_dyn(),
            ),
        ];
        for (i, (got, want)) in cases.iter().enumerate() {
            assert_eq!(got, want, "{name}: case {i}");
        }
        let hs = h5oxide::Hyperslab {
            start: vec![1, 2],
            stride: vec![10, 7],
            count: vec![5, 4],
            block: vec![3, 2],
        };
        let got = ds.read_hyperslab::<f64>(&hs).unwrap();
        assert_eq!(got.shape(), &[15, 8]);
        for (idx, v) in got.indexed_iter() {
            let r = 1 + (idx[0] / 3) * 10 + idx[0] % 3;
            let c = 2 + (idx[1] / 2) * 7 + idx[1] % 2;
            assert_eq!(*v, (r * 37 + c) as f64, "{name}: hyperslab at {idx:?}");
        }
        assert!(
            ds.read_slice::<f64, _>(s![100, ..]).is_err(),
            "{name}: out-of-range index must fail"
        );
    }
    let cube = f.dataset("cube").unwrap();
    let full = cube.read::<i16>().unwrap();
    assert_eq!(
        cube.read_slice::<i16, _>(s![1..5, 2, 3..8;2]).unwrap(),
        full.slice(s![1..5, 2, 3..8;2]).to_owned().into_dyn()
    );
    let partial = f.dataset("partial").unwrap();
    let p = partial.read_slice::<i32, _>(s![4..8, 4..8]).unwrap();
    assert_eq!(p[[0, 0]], 28, "allocated chunk value");
    assert_eq!(p[[3, 3]], -7, "unallocated chunk reads as the fill value");
    let mut buf = vec![0i32; 400];
    partial.read_into(&mut buf).unwrap();
    assert_eq!((buf[0], buf[399]), (0, -7));
}

#[test]
fn eight_threads_read_one_file() {
    let dir = tempdir();
    let f = h5oxide::File::open(make_file(&dir)).unwrap();
    let ds = f.dataset("chunked").unwrap();
    std::thread::scope(|sc| {
        for t in 0..8usize {
            let ds = ds.clone();
            sc.spawn(move || {
                for rep in 0..20usize {
                    let r0 = (t * 11 + rep) % 90;
                    let a = ds.read_slice::<i64, _>(s![r0..r0 + 10, ..]).unwrap();
                    for ((i, j), v) in a
                        .into_dimensionality::<ndarray::Ix2>()
                        .unwrap()
                        .indexed_iter()
                    {
                        assert_eq!(*v as usize, (r0 + i) * 37 + j);
                    }
                }
            });
        }
    });
}

fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "h5oxide-slicing-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn fancy_selection_on_ten_million_elements() {
    let dir = tempdir();
    let path = dir.join("fancy.h5");
    let script = r#"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("big", data=np.arange(10_000_000, dtype="<i4"), chunks=(65536,), compression="gzip", compression_opts=1)
    f.create_dataset("flat", data=np.arange(10_000_000, dtype="<i4"))
    f.create_dataset("grid", data=np.arange(50 * 60, dtype="<f4").reshape(50, 60), chunks=(8, 16))
"#;
    let st = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(&path)
        .status()
        .expect("run python");
    assert!(st.success());
    let f = h5oxide::File::open(&path).unwrap();
    // 100,000 pseudo-random indices (a fixed LCG), unsorted and with repeats.
    let mut x: u64 = 12345;
    let idx: Vec<u64> = (0..100_000)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % 10_000_000
        })
        .collect();
    for name in ["big", "flat"] {
        let ds = f.dataset(name).unwrap();
        let got = ds
            .read_fancy::<i64>(&[h5oxide::select::AxisIndex::List(idx.clone())])
            .unwrap();
        assert_eq!(got.len(), idx.len());
        for (g, &i) in got.iter().zip(&idx) {
            assert_eq!(*g as u64, i, "{name}");
        }
    }
    // Sorted indices, read as the stored type (straight into the result).
    let mut sorted = idx.clone();
    sorted.sort_unstable();
    for name in ["big", "flat"] {
        let got = f
            .dataset(name)
            .unwrap()
            .read_fancy::<i32>(&[h5oxide::select::AxisIndex::List(sorted.clone())])
            .unwrap();
        for (g, &i) in got.iter().zip(&sorted) {
            assert_eq!(*g as u64, i, "{name} sorted");
        }
    }
    let grid = f.dataset("grid").unwrap();
    let mask: Vec<bool> = (0..60).map(|j| j % 7 == 3).collect();
    let rows = vec![49u64, 0, 17, 17, 3];
    let got = grid
        .read_fancy::<f64>(&[
            h5oxide::select::AxisIndex::List(rows.clone()),
            h5oxide::select::AxisIndex::Mask(mask.clone()),
        ])
        .unwrap();
    let cols: Vec<u64> = (0..60).filter(|j| j % 7 == 3).collect();
    assert_eq!(got.shape(), &[rows.len(), cols.len()]);
    for (i, &r) in rows.iter().enumerate() {
        for (j, &c) in cols.iter().enumerate() {
            assert_eq!(got[[i, j]], (r * 60 + c) as f64);
        }
    }
}

#[test]
fn mmap_zero_copy_view() {
    let dir = tempdir();
    let path = make_file(&dir);
    let f = h5oxide::OpenOptions::new().mmap(true).open(&path).unwrap();
    let ds = f.dataset("contig").unwrap();
    let view = ds.view::<f64>().unwrap();
    assert_eq!(view, expected(&[100, 37]).view());
    // Same values through the copying path, and refusals where a view is impossible.
    assert_eq!(ds.read::<f64>().unwrap(), view.to_owned());
    assert!(ds.view::<f32>().is_err(), "wrong type");
    assert!(
        f.dataset("chunked").unwrap().view::<i32>().is_err(),
        "chunked"
    );
    let plain = h5oxide::File::open(&path).unwrap();
    assert!(
        plain.dataset("contig").unwrap().view::<f64>().is_err(),
        "not mapped"
    );
}
