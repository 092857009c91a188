//! Decodes real filtered chunks written by libhdf5 / hdf5plugin (see `gen_vectors.py`) and
//! compares them with what h5py read back.

use std::path::Path;

use h5oxide_filters::{Error, Registry};

struct Vector {
    name: String,
    pipeline: Vec<(u16, Vec<u32>)>,
    mask: u32,
}

fn vectors() -> Vec<Vector> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let tsv = std::fs::read_to_string(dir.join("vectors.tsv")).expect("vectors.tsv");
    tsv.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let pipeline = cols[1]
                .split('|')
                .map(|f| {
                    let (id, cd) = f.split_once(':').expect("id:cd");
                    let cd = cd
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|v| v.parse().expect("cd"))
                        .collect();
                    (id.parse().expect("id"), cd)
                })
                .collect();
            Vector {
                name: cols[0].to_string(),
                pipeline,
                mask: cols[2].parse().expect("mask"),
            }
        })
        .collect()
}

fn run(reg: &Registry, v: &Vector, raw: &[u8], size: usize) -> Result<Vec<u8>, Error> {
    let mut buf = raw.to_vec();
    for (i, (id, cd)) in v.pipeline.iter().enumerate().rev() {
        if v.mask & (1 << i) != 0 {
            continue;
        }
        let f = reg
            .get(*id)
            .ok_or_else(|| Error::unsupported(format!("filter {id}")))?;
        buf = f.decode(&buf, cd, size)?;
    }
    Ok(buf)
}

fn filter_ids(v: &Vector) -> String {
    v.pipeline
        .iter()
        .map(|(id, _)| id.to_string())
        .collect::<Vec<_>>()
        .join("+")
}

#[test]
fn real_chunks_decode() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let reg = Registry::default();
    let mut failures = Vec::new();
    let all = vectors();
    assert!(all.len() > 50);
    for v in &all {
        let raw = std::fs::read(dir.join(format!("{}.chunk", v.name))).expect("chunk");
        let expected = std::fs::read(dir.join(format!("{}.expected", v.name))).expect("expected");
        match run(&reg, v, &raw, expected.len()) {
            Ok(got) if got == expected => {}
            Ok(got) => failures.push(format!(
                "{} [{}]: wrong output ({} bytes, expected {}; first diff at {:?})",
                v.name,
                filter_ids(v),
                got.len(),
                expected.len(),
                got.iter().zip(&expected).position(|(a, b)| a != b)
            )),
            Err(e) => failures.push(format!("{} [{}]: {e}", v.name, filter_ids(v))),
        }
        // Corrupted and truncated inputs must fail cleanly (or decode to something), never panic.
        for cut in [0, 1, raw.len() / 2, raw.len().saturating_sub(1)] {
            let _ = run(&reg, v, &raw[..cut.min(raw.len())], expected.len());
        }
        let mut flipped = raw.clone();
        for i in (0..flipped.len()).step_by(7) {
            flipped[i] ^= 0x5a;
            let _ = run(&reg, v, &flipped, expected.len());
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}
