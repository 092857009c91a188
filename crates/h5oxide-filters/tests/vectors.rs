//! Decodes real filtered chunks written by libhdf5 / hdf5plugin (see `gen_vectors.py`) and
//! compares them with what h5py read back.

use std::path::Path;

use h5oxide_filters::{Error, Registry};

#[derive(Clone)]
struct Vector {
    name: String,
    pipeline: Vec<(u16, Vec<u32>)>,
    mask: u32,
}

/// `tests/data`, or `VECTORS_DIR` (e.g. a full corpus dump made with `FULL_DUMP=dir`).
fn data_dir() -> std::path::PathBuf {
    match std::env::var_os("VECTORS_DIR") {
        Some(d) => d.into(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data"),
    }
}

fn vectors() -> Vec<Vector> {
    let dir = data_dir();
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
    let dir = data_dir();
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
                "{} [{}]: wrong output ({} bytes, expected {}; differing bytes {:?})",
                v.name,
                filter_ids(v),
                got.len(),
                expected.len(),
                got.iter().zip(&expected).position(|(a, b)| a != b)
            )),
            Err(e) => failures.push(format!("{} [{}]: {e}", v.name, filter_ids(v))),
        }
        // Deterministic encoders must reproduce libhdf5's bytes exactly.
        if let [(id, cd)] = &v.pipeline[..] {
            let exact = matches!(id, 2 | 3 | 5) || (*id == 6 && cd.get(3) == Some(&0));
            if exact && v.mask == 0 {
                let f = reg.get(*id).expect("registered");
                // Scale-offset header bytes 13..21 are unused padding (old libraries left garbage).
                let same = |a: &[u8], b: &[u8]| {
                    a.len() == b.len()
                        && a.iter()
                            .zip(b)
                            .enumerate()
                            .all(|(i, (x, y))| x == y || (*id == 6 && (13..21).contains(&i)))
                };
                match f.encode(&expected, cd) {
                    Ok(enc) if same(&enc, &raw) => {}
                    Ok(enc) => failures.push(format!(
                        "{} [{id}]: encoder output differs ({} bytes, libhdf5 {}; differing bytes {:?})",
                        v.name,
                        enc.len(),
                        raw.len(),
                        enc.iter().zip(&raw).enumerate().filter(|(_, (a, b))| a != b).map(|(i, _)| i).collect::<Vec<_>>()
                    )),
                    Err(e) => failures.push(format!("{} [{id}]: encode failed: {e}", v.name)),
                }
            }
        }
        // Every encoder must round-trip the real data with the dataset's own cd_values.
        if let ([(id, cd)], 0) = (&v.pipeline[..], v.mask) {
            let Some(f) = reg.get(*id) else { continue };
            if let Ok(enc) = f.encode(&expected, cd) {
                let lossy = *id == 6 && cd.first() == Some(&0);
                match f.decode(&enc, cd, expected.len()) {
                    Ok(back) if back == expected || (lossy && back.len() == expected.len()) => {}
                    Ok(_) => failures.push(format!(
                        "{} [{id}]: encode/decode round trip differs",
                        v.name
                    )),
                    Err(e) => failures.push(format!(
                        "{} [{id}]: decoding our encoding failed: {e}",
                        v.name
                    )),
                }
            }
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
    mutations(&reg, &all, &dir);
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

/// Random byte and `cd_values` mutations of every vector (count from `MUTATION_ITERS`,
/// default 20): decoding must not panic and must stay within the output limit.
fn mutations(reg: &Registry, all: &[Vector], dir: &Path) {
    let iters: usize = std::env::var("MUTATION_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for v in all {
        let raw = std::fs::read(dir.join(format!("{}.chunk", v.name))).expect("chunk");
        let size = std::fs::metadata(dir.join(format!("{}.expected", v.name)))
            .expect("expected")
            .len() as usize;
        for _ in 0..iters {
            let mut data = raw.clone();
            let mut pipeline = v.pipeline.clone();
            for _ in 0..1 + next() % 4 {
                match next() % 4 {
                    0 if !data.is_empty() => {
                        let i = (next() as usize) % data.len();
                        data[i] ^= 1 << (next() % 8);
                    }
                    1 if !data.is_empty() => {
                        let i = (next() as usize) % data.len();
                        data[i] = next() as u8;
                    }
                    2 => data.truncate((next() as usize) % (data.len() + 1)),
                    _ => {
                        let p = (next() as usize) % pipeline.len();
                        if !pipeline[p].1.is_empty() {
                            let c = (next() as usize) % pipeline[p].1.len();
                            pipeline[p].1[c] = match next() % 3 {
                                0 => next() as u32,
                                1 => pipeline[p].1[c].wrapping_add(1),
                                _ => (next() % 64) as u32,
                            };
                        }
                    }
                }
            }
            let mutated = Vector {
                name: v.name.clone(),
                pipeline,
                mask: v.mask,
            };
            if let Ok(out) = run(reg, &mutated, &data, size) {
                assert!(
                    out.len() <= h5oxide_filters::output_limit(size).max(data.len()),
                    "{}",
                    v.name
                );
            }
        }
    }
}
