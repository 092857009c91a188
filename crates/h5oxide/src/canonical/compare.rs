//! Comparison of two canonical documents with exactly the rules of
//! `shared/tools/h5canon_compare.py` (CANONICAL.md §9):
//!
//! * expected `ok` false → the actual document must have `ok` false; nothing else is compared;
//!   expected `ok` true → the actual must have `ok` true, then everything is compared;
//! * objects key by key (keys in `ignore` are skipped everywhere); `error`, `read_error` and
//!   `chunk_error` compare by presence only; where the expected object has `read_error`, the
//!   keys `value`, `sha256`, `json_sha256`, `read_error` are not compared at all;
//! * lists element-wise (a length difference is reported once, elements are not compared);
//! * numbers by exact mathematical value (`1 == 1.0`, integers of any size), booleans never
//!   equal numbers, everything else by type and value.
//!
//! The Python script works on serialized documents, so a non-finite [`Json::Float`] compares
//! as the string it serializes to (`"NaN"`, `"Infinity"`, `"-Infinity"`).
//! Difference messages use the script's wording and paths (`/root/links/a/value[3]`);
//! values inside them are shown in canonical form, cut to 120 characters.

use super::json::Json;
use std::collections::BTreeSet;

const ERROR_KEYS: [&str; 3] = ["error", "read_error", "chunk_error"];
const DATA_KEYS: [&str; 4] = ["value", "sha256", "json_sha256", "read_error"];

/// Compares `expected` (the oracle's document) with `actual` and returns the first
/// difference as `"<path>: <what>"`, or `Ok(())` when they match.
pub fn compare(expected: &Json, actual: &Json, ignore: &[&str]) -> Result<(), String> {
    match differences(expected, actual, ignore, 1).into_iter().next() {
        None => Ok(()),
        Some(d) => Err(d),
    }
}

/// All differences (at most `limit`), in the order `h5canon_compare.py` reports them.
pub fn differences(expected: &Json, actual: &Json, ignore: &[&str], limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let ok = |d: &Json| d.get("ok").is_some_and(Json::is_truthy);
    if !ok(expected) {
        if ok(actual) {
            out.push("/ok: expected the file to be rejected (ok=false), got ok=true".to_owned());
        }
        return out;
    }
    if !ok(actual) {
        let err = match actual.get("error") {
            None => String::new(),
            Some(Json::Str(s)) => s.clone(),
            Some(other) => other.to_canonical_string(),
        };
        out.push(format!("/ok: expected ok=true, got ok=false ({err})"));
        return out;
    }
    let mut c = Cmp {
        ignore,
        out,
        limit: limit.max(1),
    };
    c.walk(expected, actual, &mut String::new());
    c.out
}

struct Cmp<'a> {
    ignore: &'a [&'a str],
    out: Vec<String>,
    limit: usize,
}

impl Cmp<'_> {
    fn walk(&mut self, exp: &Json, act: &Json, path: &mut String) {
        if self.out.len() >= self.limit {
            return;
        }
        match (exp, act) {
            (Json::Object(e), Json::Object(a)) => {
                let skip_data = e.contains_key("read_error");
                let keys: BTreeSet<&String> = e.keys().chain(a.keys()).collect();
                for k in keys {
                    if self.out.len() >= self.limit {
                        return;
                    }
                    if self.ignore.contains(&k.as_str()) {
                        continue;
                    }
                    if skip_data && DATA_KEYS.contains(&k.as_str()) {
                        continue;
                    }
                    let len = path.len();
                    path.push('/');
                    path.push_str(k);
                    match (e.get(k), a.get(k)) {
                        (None, _) => self.out.push(format!("{path}: unexpected key")),
                        (_, None) => self.out.push(format!("{path}: missing")),
                        _ if ERROR_KEYS.contains(&k.as_str()) => {}
                        (Some(ev), Some(av)) => self.walk(ev, av, path),
                    }
                    path.truncate(len);
                }
            }
            (Json::Array(e), Json::Array(a)) => {
                if e.len() != a.len() {
                    self.out
                        .push(format!("{path}: length {} != {}", e.len(), a.len()));
                    return;
                }
                for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    self.walk(ev, av, path);
                    path.truncate(len);
                }
            }
            _ => {
                if !same_scalar(exp, act) {
                    self.out.push(format!(
                        "{path}: expected {}, got {}",
                        short(exp),
                        short(act)
                    ));
                }
            }
        }
    }
}

fn short(v: &Json) -> String {
    let s = v.to_canonical_string();
    match s.char_indices().nth(120) {
        Some((i, _)) => s[..i].to_owned(),
        None => s,
    }
}

/// A number in exact form for comparisons.
enum Num {
    Int(i128),
    /// Normalized decimal text of an integer outside i128: optional `-`, no leading zeros.
    Big(String),
    Float(f64),
}

fn as_num(v: &Json) -> Option<Num> {
    match v {
        Json::Int(i) => Some(Num::Int(*i)),
        Json::BigInt(s) => Some(normalize_big(s)),
        Json::Float(f) if f.is_finite() => Some(Num::Float(*f)),
        _ => None,
    }
}

fn normalize_big(s: &str) -> Num {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Num::Int(0);
    }
    let text = if neg {
        format!("-{digits}")
    } else {
        digits.to_owned()
    };
    match text.parse::<i128>() {
        Ok(i) => Num::Int(i),
        Err(_) => Num::Big(text),
    }
}

/// The exact value of an integral float as a [`Num`] integer (`None` if not integral).
fn float_as_integer(f: f64) -> Option<Num> {
    if !f.is_finite() || f.fract() != 0.0 {
        return None;
    }
    const TWO_127: f64 = 170141183460469231731687303715884105728.0;
    if (-TWO_127..TWO_127).contains(&f) {
        return Some(Num::Int(f as i128));
    }
    // |f| >= 2^127: f = mantissa * 2^exp exactly, exp > 0
    let bits = f.abs().to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32 - 1075;
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    // little-endian base 1e9 limbs
    let mut limbs: Vec<u64> = vec![mantissa % 1_000_000_000, mantissa / 1_000_000_000];
    for _ in 0..exp {
        let mut carry = 0;
        for l in limbs.iter_mut() {
            let v = *l * 2 + carry;
            *l = v % 1_000_000_000;
            carry = v / 1_000_000_000;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    while limbs.len() > 1 && *limbs.last().unwrap() == 0 {
        limbs.pop();
    }
    let mut s = String::new();
    if f < 0.0 {
        s.push('-');
    }
    s.push_str(&limbs.last().unwrap().to_string());
    for l in limbs.iter().rev().skip(1) {
        s.push_str(&format!("{l:09}"));
    }
    Some(Num::Big(s))
}

fn num_eq(a: &Num, b: &Num) -> bool {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x == y,
        (Num::Big(x), Num::Big(y)) => x == y,
        (Num::Float(x), Num::Float(y)) => x == y,
        (Num::Int(_), Num::Big(_)) | (Num::Big(_), Num::Int(_)) => false,
        (Num::Float(f), other) | (other, Num::Float(f)) => match float_as_integer(*f) {
            Some(i) => num_eq(&i, other),
            None => false,
        },
    }
}

/// A non-finite float compares as the string it serializes to.
fn as_serialized(v: &Json) -> std::borrow::Cow<'_, Json> {
    match v {
        Json::Float(f) if f.is_nan() => std::borrow::Cow::Owned(Json::Str("NaN".into())),
        Json::Float(f) if f.is_infinite() => std::borrow::Cow::Owned(Json::Str(
            if *f > 0.0 { "Infinity" } else { "-Infinity" }.into(),
        )),
        _ => std::borrow::Cow::Borrowed(v),
    }
}

fn same_scalar(a: &Json, b: &Json) -> bool {
    let (a, b) = (as_serialized(a), as_serialized(b));
    let (a, b) = (a.as_ref(), b.as_ref());
    match (a, b) {
        (Json::Bool(x), Json::Bool(y)) => x == y,
        (Json::Bool(_), _) | (_, Json::Bool(_)) => false,
        _ => match (as_num(a), as_num(b)) {
            (Some(x), Some(y)) => num_eq(&x, &y),
            (Some(_), None) | (None, Some(_)) => false,
            (None, None) => a == b,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(s: &str) -> Json {
        Json::parse(s).unwrap()
    }

    fn doc(body: &str) -> Json {
        j(&format!("{{\"canon_version\":1,\"ok\":true,{body}}}"))
    }

    #[test]
    fn identical_documents_match() {
        let d = doc("\"root\":{\"a\":[1,2.5,\"x\",null,true],\"b\":{}}");
        assert_eq!(compare(&d, &d, &[]), Ok(()));
    }

    #[test]
    fn rejected_files_compare_only_ok() {
        let e = j("{\"canon_version\":1,\"ok\":false,\"error\":\"bad superblock\"}");
        let a = j("{\"ok\":false,\"error\":\"something else\",\"extra\":1}");
        assert_eq!(compare(&e, &a, &[]), Ok(()));
        let a = doc("\"root\":{}");
        assert_eq!(
            compare(&e, &a, &[]),
            Err("/ok: expected the file to be rejected (ok=false), got ok=true".into())
        );
        assert_eq!(
            compare(&a, &e, &[]),
            Err("/ok: expected ok=true, got ok=false (bad superblock)".into())
        );
        // a missing `ok` counts as false on both sides
        assert!(compare(&j("{}"), &j("{\"ok\":1}"), &[]).is_err());
    }

    fn compare_plain(e: &Json, a: &Json) -> Result<(), String> {
        compare(e, a, &[])
    }

    #[test]
    fn numbers_compare_by_exact_value() {
        let e = doc("\"v\":[1,1.0,18446744073709551615,1e+16,-0.0,0.5]");
        let a = doc("\"v\":[1.0,1,18446744073709551615,10000000000000000,0,0.5]");
        assert_eq!(compare_plain(&e, &a), Ok(()));
        // 2^64 as a float is not 2^64 - 1
        let a = doc("\"v\":[1,1,1.8446744073709552e+19,1e+16,0,0.5]");
        assert_eq!(
            compare_plain(&e, &a),
            Err("/v[2]: expected 18446744073709551615, got 1.8446744073709552e+19".into())
        );
        // integers beyond i128 against exactly representable floats
        let big = j("2854495385411919762116571938898990272765493248"); // 2^151
        assert_eq!(
            compare_plain(
                &doc(&format!("\"v\":{big}")),
                &doc("\"v\":2.85449538541192e+45")
            ),
            Ok(())
        );
        assert!(compare_plain(
            &doc("\"v\":2854495385411919762116571938898990272765493249"),
            &doc("\"v\":2.85449538541192e+45")
        )
        .is_err());
        assert!(compare_plain(&doc("\"v\":1"), &doc("\"v\":1.5")).is_err());
    }

    #[test]
    fn booleans_never_equal_numbers_and_types_matter() {
        assert!(compare_plain(&doc("\"v\":true"), &doc("\"v\":1")).is_err());
        assert!(compare_plain(&doc("\"v\":0"), &doc("\"v\":false")).is_err());
        assert!(compare_plain(&doc("\"v\":\"1\""), &doc("\"v\":1")).is_err());
        assert!(compare_plain(&doc("\"v\":null"), &doc("\"v\":0")).is_err());
        assert!(compare_plain(&doc("\"v\":[]"), &doc("\"v\":{}")).is_err());
        assert_eq!(
            compare_plain(&doc("\"v\":{\"a\":1}"), &doc("\"v\":[1]")),
            Err("/v: expected {\"a\":1}, got [1]".into())
        );
    }

    #[test]
    fn non_finite_floats_compare_as_their_strings() {
        let e = doc("\"v\":[\"NaN\",\"Infinity\",\"-Infinity\"]");
        let mut a = e.clone();
        if let Json::Object(m) = &mut a {
            m.insert(
                "v".into(),
                Json::Array(vec![
                    Json::Float(f64::NAN),
                    Json::Float(f64::INFINITY),
                    Json::Float(f64::NEG_INFINITY),
                ]),
            );
        }
        assert_eq!(compare_plain(&e, &a), Ok(()));
    }

    #[test]
    fn keys_missing_or_unexpected() {
        let e = doc("\"root\":{\"a\":1,\"c\":3}");
        let a = doc("\"root\":{\"a\":1,\"b\":2}");
        let d = differences(&e, &a, &[], 50);
        assert_eq!(d, vec!["/root/b: unexpected key", "/root/c: missing"]);
        assert_eq!(compare(&e, &a, &[]), Err("/root/b: unexpected key".into()));
        assert_eq!(compare(&e, &a, &["b", "c"]), Ok(()));
    }

    #[test]
    fn error_texts_are_not_compared_but_presence_is() {
        let e = doc("\"x\":{\"error\":\"A\",\"chunk_error\":\"B\"}");
        let a = doc("\"x\":{\"error\":\"other\",\"chunk_error\":7}");
        assert_eq!(compare_plain(&e, &a), Ok(()));
        let a = doc("\"x\":{\"error\":\"other\"}");
        assert_eq!(compare_plain(&e, &a), Err("/x/chunk_error: missing".into()));
    }

    #[test]
    fn read_error_in_expected_skips_data_keys() {
        let e = doc("\"d\":{\"read_error\":\"no plugin\",\"shape\":[2]}");
        let a = doc("\"d\":{\"value\":[1,2],\"sha256\":\"ab\",\"shape\":[2]}");
        assert_eq!(compare_plain(&e, &a), Ok(()));
        let a = doc("\"d\":{\"value\":[1,2],\"shape\":[3]}");
        assert_eq!(
            compare_plain(&e, &a),
            Err("/d/shape[0]: expected 2, got 3".into())
        );
        // but an actual read_error where the oracle read the data is a difference
        let e = doc("\"d\":{\"value\":[1,2]}");
        let a = doc("\"d\":{\"read_error\":\"unsupported\"}");
        assert_eq!(
            differences(&e, &a, &[], 10),
            vec!["/d/read_error: unexpected key", "/d/value: missing"]
        );
    }

    #[test]
    fn list_lengths_and_limits() {
        let e = doc("\"v\":[1,2,3]");
        let a = doc("\"v\":[1,2]");
        assert_eq!(compare_plain(&e, &a), Err("/v: length 3 != 2".into()));
        let e = doc("\"a\":[1,2,3],\"b\":[4,5,6]");
        let a = doc("\"a\":[0,0,0],\"b\":[0,0,0]");
        assert_eq!(differences(&e, &a, &[], 4).len(), 4);
        assert_eq!(differences(&e, &a, &[], 50).len(), 6);
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = format!("\"{}\"", "x".repeat(300));
        let d = compare_plain(&doc(&format!("\"v\":{long}")), &doc("\"v\":1")).unwrap_err();
        assert_eq!(d, format!("/v: expected \"{}, got 1", "x".repeat(119)));
    }
}
