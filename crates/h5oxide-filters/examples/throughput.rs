//! Rough decode throughput of each filter on synthetic data:
//! `cargo run --release -p h5oxide-filters --example throughput`.

use std::time::Instant;

use h5oxide_filters::Registry;

fn main() {
    let n: u32 = 4 << 20;
    let data: Vec<u8> = (0..n / 4)
        .flat_map(|i: u32| ((i as f32 * 0.001).sin() * 1000.0).to_le_bytes())
        .collect();
    let reg = Registry::default();
    let cases: &[(u16, &[u32])] = &[
        (1, &[6]),
        (2, &[4]),
        (3, &[]),
        (32000, &[4, 1, n]),
        (32004, &[0]),
        (32008, &[0, 3, 4, 0, 2]),
        (32008, &[0, 3, 4, 0, 0]),
        (32015, &[3]),
        (307, &[9]),
    ];
    for (id, cd) in cases {
        let f = reg.get(*id).expect("filter");
        let enc = f.encode(&data, cd).expect("encode");
        let t = Instant::now();
        let reps = 5;
        for _ in 0..reps {
            let out = f.decode(&enc, cd, data.len()).expect("decode");
            assert_eq!(out.len(), data.len());
        }
        let secs = t.elapsed().as_secs_f64() / reps as f64;
        println!(
            "{:>6} {:<12} {:>8.0} MB/s (ratio {:.2})",
            id,
            f.name(),
            n as f64 / secs / 1e6,
            enc.len() as f64 / n as f64
        );
    }
}
