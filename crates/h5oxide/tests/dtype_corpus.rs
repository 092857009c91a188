//! Datatype decoding, element decoding and the canonical dtype/value/sha256 forms, checked
//! against the oracle's `.canon.json` for every contiguous dataset of the shared corpus listed in
//! `tests/data/dtype_fixtures.jsonl` (regenerate with `tests/data/gen_dtype_fixtures.py`).
//!
//! The shared folder is `$H5OXIDE_SHARED`, else the first `shared/` with `corpus/MANIFEST.tsv`
//! in an ancestor of the workspace. The test fails when it cannot be found.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use h5oxide::canonical::dtype::{
    dtype_json, oracle_read_type, raw_hashable, raw_sha256, value_json,
};
use h5oxide::canonical::json::Json;
use h5oxide_format::datatype::Datatype;
use h5oxide_format::value::Decoder;
use h5oxide_format::{Ctx, Sizes};

// ---- a small JSON reader for the fixtures and expectations ----

struct P<'a> {
    b: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && (self.b[self.i] as char).is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn value(&mut self) -> Json {
        self.ws();
        match self.b[self.i] {
            b'{' => {
                self.i += 1;
                let mut m = BTreeMap::new();
                loop {
                    self.ws();
                    if self.b[self.i] == b'}' {
                        self.i += 1;
                        return Json::Object(m);
                    }
                    if self.b[self.i] == b',' {
                        self.i += 1;
                        continue;
                    }
                    let Json::Str(k) = self.value() else {
                        panic!("key")
                    };
                    self.ws();
                    assert_eq!(self.b[self.i], b':');
                    self.i += 1;
                    let v = self.value();
                    m.insert(k, v);
                }
            }
            b'[' => {
                self.i += 1;
                let mut v = Vec::new();
                loop {
                    self.ws();
                    if self.b[self.i] == b']' {
                        self.i += 1;
                        return Json::Array(v);
                    }
                    if self.b[self.i] == b',' {
                        self.i += 1;
                        continue;
                    }
                    v.push(self.value());
                }
            }
            b'"' => {
                self.i += 1;
                let mut out: Vec<u8> = Vec::new();
                loop {
                    let c = self.b[self.i];
                    self.i += 1;
                    match c {
                        b'"' => return Json::Str(String::from_utf8(out).unwrap()),
                        b'\\' => {
                            let e = self.b[self.i];
                            self.i += 1;
                            match e {
                                b'n' => out.push(b'\n'),
                                b't' => out.push(b'\t'),
                                b'r' => out.push(b'\r'),
                                b'b' => out.push(8),
                                b'f' => out.push(12),
                                b'u' => {
                                    let h =
                                        std::str::from_utf8(&self.b[self.i..self.i + 4]).unwrap();
                                    self.i += 4;
                                    let mut cp = u32::from_str_radix(h, 16).unwrap();
                                    if (0xd800..0xdc00).contains(&cp) {
                                        let h2 =
                                            std::str::from_utf8(&self.b[self.i + 2..self.i + 6])
                                                .unwrap();
                                        self.i += 6;
                                        cp = 0x10000
                                            + ((cp - 0xd800) << 10)
                                            + (u32::from_str_radix(h2, 16).unwrap() - 0xdc00);
                                    }
                                    let mut buf = [0; 4];
                                    out.extend_from_slice(
                                        char::from_u32(cp)
                                            .unwrap()
                                            .encode_utf8(&mut buf)
                                            .as_bytes(),
                                    );
                                }
                                x => out.push(x),
                            }
                        }
                        x => out.push(x),
                    }
                }
            }
            b't' => {
                self.i += 4;
                Json::Bool(true)
            }
            b'f' => {
                self.i += 5;
                Json::Bool(false)
            }
            b'n' => {
                self.i += 4;
                Json::Null
            }
            _ => {
                let s = self.i;
                while self.i < self.b.len() && b"+-0123456789.eE".contains(&self.b[self.i]) {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.b[s..self.i]).unwrap();
                if t.contains(['.', 'e', 'E']) {
                    Json::Float(t.parse().unwrap())
                } else if let Ok(i) = t.parse::<i128>() {
                    Json::Int(i)
                } else {
                    Json::BigInt(t.to_string())
                }
            }
        }
    }
}

fn parse(s: &str) -> Json {
    P {
        b: s.as_bytes(),
        i: 0,
    }
    .value()
}

fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Int(x), Json::Int(y)) => x == y,
        (Json::Int(x), Json::Float(y)) | (Json::Float(y), Json::Int(x)) => *x as f64 == *y,
        (Json::Float(x), Json::Float(y)) => x == y,
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn get<'a>(j: &'a Json, k: &str) -> Option<&'a Json> {
    match j {
        Json::Object(m) => m.get(k),
        _ => None,
    }
}

fn shared_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("H5OXIDE_SHARED") {
        return Some(PathBuf::from(p));
    }
    let mut d: Option<&Path> = Some(Path::new(env!("CARGO_MANIFEST_DIR")));
    while let Some(p) = d {
        let c = p.join("shared");
        if c.join("corpus/MANIFEST.tsv").exists() {
            return Some(c);
        }
        d = p.parent();
    }
    None
}

/// Elements where the oracle's value is wrong and ours is right.
const KNOWN_ORACLE_DIVERGENCES: &[&str] = &[];

fn short(j: &Json) -> String {
    let s = format!("{j:?}");
    s.chars().take(300).collect()
}

#[test]
fn corpus_datatypes_and_values() {
    let shared = shared_dir()
        .expect("shared corpus not found (set H5OXIDE_SHARED): nothing would be checked");
    // H5OXIDE_DTYPE_FIXTURES: another fixture file (e.g. made by gen_dtype_fixtures.py over a
    // scratch `shared` folder of freshly generated files).
    let other = std::env::var("H5OXIDE_DTYPE_FIXTURES")
        .ok()
        .map(|p| std::fs::read_to_string(p).unwrap());
    let fixtures = other
        .as_deref()
        .unwrap_or(include_str!("data/dtype_fixtures.jsonl"));
    let checked = check(&shared.join("corpus"), fixtures);
    assert!(checked > 1000 || other.is_some());
}

/// Region references to every kind of selection (points with duplicates, regular and irregular
/// hyperslabs, unions that are and are not regular), vlen sequences of big-endian numbers,
/// half floats and long doubles, written by h5py with libver earliest and latest
/// (`tests/data/extra/x/`, expectations by the oracle).
#[test]
fn generated_datatypes_and_values() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/extra");
    let checked = check(&dir, include_str!("data/extra_fixtures.jsonl"));
    assert!(checked >= 16);
}

/// Checks every fixture record against the `.canon.json` beside its file under `corpus`;
/// returns the number of datatypes checked and panics listing the failures.
fn check(corpus: &Path, fixtures: &str) -> usize {
    let mut files: HashMap<String, (Vec<u8>, Json)> = HashMap::new();
    let (mut checked_dtype, mut checked_values, mut checked_sha) = (0, 0, 0);
    let mut failures = Vec::new();
    let mut ref_maps: HashMap<String, Json> = HashMap::new();
    for line in fixtures.lines() {
        let rec = parse(line);
        let Some(Json::Str(file)) = get(&rec, "file") else {
            continue;
        };
        if let Some(refs) = get(&rec, "refs") {
            ref_maps.insert(file.clone(), refs.clone());
            continue;
        }
        let Some(Json::Str(path)) = get(&rec, "path") else {
            continue;
        };
        if !files.contains_key(file) {
            let bytes = std::fs::read(corpus.join(file)).unwrap_or_default();
            let canon = std::fs::read_to_string(corpus.join(format!("{file}.canon.json")))
                .unwrap_or_default();
            let canon = if canon.is_empty() {
                Json::Null
            } else {
                parse(&canon)
            };
            files.insert(file.clone(), (bytes, canon));
        }
        let (bytes, canon) = &files[file];
        if bytes.is_empty() {
            continue;
        }
        // expected dataset object
        let mut obj = get(canon, "root");
        for part in path.split('/').filter(|p| !p.is_empty()) {
            obj = obj.and_then(|o| get(o, "links")).and_then(|l| get(l, part));
        }
        let attr = match get(&rec, "attr") {
            Some(Json::Str(a)) => Some(a.clone()),
            _ => None,
        };
        if let Some(a) = &attr {
            obj = obj.and_then(|o| get(o, "attrs")).and_then(|m| get(m, a));
        }
        let Some(expected) = obj else { continue };
        let Some(Json::Array(sz)) = get(&rec, "sizes") else {
            continue;
        };
        let sizes = match (&sz[0], &sz[1]) {
            (Json::Int(o), Json::Int(l)) => Sizes {
                offset: *o as u8,
                length: *l as u8,
            },
            _ => continue,
        };
        let Some(Json::Str(hexs)) = get(&rec, "dtype") else {
            continue;
        };
        let msg: Vec<u8> = (0..hexs.len() / 2)
            .map(|i| u8::from_str_radix(&hexs[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let where_ = match &attr {
            Some(a) => format!("{file}:{path}@{a}"),
            None => format!("{file}:{path}"),
        };
        if KNOWN_ORACLE_DIVERGENCES.contains(&where_.as_str()) {
            continue;
        }
        let dt = match Datatype::from_bytes(&msg, 0, sizes) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{where_}: parse: {e}"));
                continue;
            }
        };
        checked_dtype += 1;
        let dj = dtype_json(&dt);
        if let Some(ed) = get(expected, "dtype") {
            if !same(&dj, ed) {
                failures.push(format!(
                    "{where_}: dtype\n  got      {}\n  expected {}",
                    short(&dj),
                    short(ed)
                ));
                continue;
            }
        }
        let (Some(Json::Int(off)), Some(Json::Int(nbytes)), Some(Json::Int(nelem))) =
            (get(&rec, "offset"), get(&rec, "nbytes"), get(&rec, "nelem"))
        else {
            continue;
        };
        let data =
            &bytes[(*off as usize).min(bytes.len())..((*off + *nbytes) as usize).min(bytes.len())];
        if let Some(Json::Str(sha)) = get(expected, "sha256") {
            if raw_hashable(&dt) {
                let got = raw_sha256(&dt, data, *nelem as u64, sizes.offset);
                checked_sha += 1;
                if got.as_deref() != Some(sha.as_str()) {
                    failures.push(format!("{where_}: sha256 {got:?} != {sha}"));
                }
            } else {
                failures.push(format!(
                    "{where_}: expected sha256 but type is not raw-hashable"
                ));
            }
        }
        let Some(ev) = get(expected, "value") else {
            continue;
        };
        let refs = ref_maps.get(file.as_str());
        let mut resolve = |a: u64| -> Json {
            match refs.and_then(|r| get(r, &a.to_string())) {
                Some(p) => p.clone(),
                None => Json::Str("<unreachable>".into()),
            }
        };
        let ctx = Ctx::new(bytes, sizes);
        let mut dec = Decoder::new(ctx);
        let read_type = oracle_read_type(&dt);
        let vals = match dec.decode_many(&read_type, data, *nelem as usize) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{where_}: decode: {e}"));
                continue;
            }
        };
        let flat: Vec<Json> = vals.iter().map(|v| value_json(v, &mut resolve)).collect();
        let shape: Vec<u64> = match get(expected, "shape") {
            Some(Json::Array(s)) => s
                .iter()
                .map(|d| if let Json::Int(i) = d { *i as u64 } else { 0 })
                .collect(),
            _ => vec![],
        };
        let got = h5oxide::canonical::dtype::nest(flat, &shape);
        checked_values += 1;
        if !same(&got, ev) {
            failures.push(format!(
                "{where_}: value\n  got      {}\n  expected {}",
                short(&got),
                short(ev)
            ));
        }
    }
    eprintln!("checked {checked_dtype} dtypes, {checked_sha} sha256, {checked_values} values; {} failures", failures.len());
    for f in &failures {
        eprintln!("{f}");
    }
    assert!(failures.is_empty(), "{} failures", failures.len());
    checked_dtype
}

/// Mutated datatype messages and random element bytes never panic (decoding may fail).
#[test]
fn mutated_messages_do_not_panic() {
    let fixtures = include_str!("data/dtype_fixtures.jsonl");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    // a small file image: some random bytes plus a global heap collection at 64
    let mut image: Vec<u8> = (0..64).map(|_| rnd() as u8).collect();
    image.extend_from_slice(b"GCOL\x01\0\0\0");
    image.extend_from_slice(&4096u64.to_le_bytes());
    image.extend((0..4080).map(|_| rnd() as u8));
    let mut msgs = Vec::new();
    for line in fixtures.lines().step_by(7) {
        let rec = parse(line);
        if let Some(Json::Str(h)) = get(&rec, "dtype") {
            msgs.push(
                (0..h.len() / 2)
                    .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
                    .collect::<Vec<u8>>(),
            );
        }
    }
    let mut parsed = 0;
    for msg in &msgs {
        for round in 0..40 {
            let mut m = msg.clone();
            for _ in 0..1 + round % 4 {
                let i = (rnd() as usize) % m.len().max(1);
                if let Some(b) = m.get_mut(i) {
                    *b = match rnd() % 3 {
                        0 => rnd() as u8,
                        1 => *b ^ (1 << (rnd() % 8)),
                        _ => 0xff,
                    };
                }
            }
            let Ok(dt) = Datatype::from_bytes(&m, 0, Sizes::default()) else {
                continue;
            };
            parsed += 1;
            let _ = dtype_json(&dt);
            let size = (dt.size() as usize).min(4096);
            let data: Vec<u8> = (0..size * 3)
                .map(|_| if rnd() % 4 == 0 { 64 } else { rnd() as u8 })
                .collect();
            let mut dec = Decoder::new(Ctx::new(&image, Sizes::default()));
            if let Ok(vals) = dec.decode_many(&dt, &data, 3) {
                for v in &vals {
                    let _ = value_json(v, &mut |_| Json::Null);
                }
            }
            let _ = raw_sha256(&dt, &data, 3, 8);
        }
    }
    assert!(parsed > 100);
}
