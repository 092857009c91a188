//! A JSON value and the exact serializer CANONICAL.md §1 prescribes.
//!
//! * [`Json::write`] / [`Json::to_canonical_string`] print a value byte for byte as the oracle
//!   (`h5canon.py`, i.e. Python `json.dumps(v, separators=(",", ":"), ensure_ascii=False,
//!   sort_keys=True)`) does: no whitespace, keys in UTF-8 byte order, raw non-ASCII text,
//!   floats as Python `repr(float)`, non-finite floats as the strings `"NaN"`, `"Infinity"`,
//!   `"-Infinity"`.
//! * [`Json::parse`] reads any JSON text (integers stay exact at any size).
//! * [`Json::text`] encodes stored bytes as CANONICAL's TEXT (string or `{"hex": ...}`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A JSON value as the canonical form needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer of any size that fits i128.
    Int(i128),
    /// An integer too wide for i128, as decimal text.
    BigInt(String),
    /// A float (non-finite values are written as strings).
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    Array(Vec<Json>),
    /// An object; keys sort by UTF-8 byte order, as the canonical form requires.
    Object(BTreeMap<String, Json>),
}

impl Json {
    /// Appends the canonical serialization of `self` (CANONICAL.md §1) to `out`,
    /// without a trailing newline.
    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(true) => out.push_str("true"),
            Json::Bool(false) => out.push_str("false"),
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::BigInt(s) => out.push_str(s),
            Json::Float(f) => write_float(*f, out),
            Json::Str(s) => write_str(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    /// The canonical serialization of `self`, without a trailing newline (the form
    /// `json_sha256` digests). A whole document is this plus `"\n"`, see
    /// [`Json::to_document_string`].
    pub fn to_canonical_string(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }

    /// The canonical serialization followed by the single `\n` that ends a document.
    pub fn to_document_string(&self) -> String {
        let mut s = self.to_canonical_string();
        s.push('\n');
        s
    }

    /// CANONICAL's TEXT: a string when `bytes` are valid UTF-8, else
    /// `{"hex": "<lowercase hex of bytes>"}`.
    pub fn text(bytes: &[u8]) -> Json {
        match std::str::from_utf8(bytes) {
            Ok(s) => Json::Str(s.to_owned()),
            Err(_) => {
                let mut map = BTreeMap::new();
                map.insert("hex".to_owned(), Json::Str(hex(bytes)));
                Json::Object(map)
            }
        }
    }

    /// An object from `(key, value)` pairs (later duplicates win).
    pub fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The value under `key` when `self` is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(map) => map.get(key),
            _ => None,
        }
    }

    /// The string when `self` is a [`Json::Str`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Python truthiness of the value (`null`, `false`, `0`, `0.0`, `""`, `[]`, `{}` are
    /// false), as `h5canon_compare.py` applies it to the `ok` key.
    pub fn is_truthy(&self) -> bool {
        match self {
            Json::Null => false,
            Json::Bool(b) => *b,
            Json::Int(i) => *i != 0,
            Json::BigInt(s) => !s.trim_start_matches(['-', '+', '0']).is_empty(),
            Json::Float(f) => *f != 0.0,
            Json::Str(s) => !s.is_empty(),
            Json::Array(a) => !a.is_empty(),
            Json::Object(o) => !o.is_empty(),
        }
    }

    /// Parses one JSON value (surrounding whitespace allowed). Integers are kept exact
    /// ([`Json::Int`], or [`Json::BigInt`] beyond i128); numbers with a fraction or an
    /// exponent become [`Json::Float`] (correctly rounded). Like Python's `json`, the bare
    /// literals `NaN`, `Infinity` and `-Infinity` are accepted as floats. Duplicate object
    /// keys keep the last value. Lone UTF-16 surrogates in `\u` escapes become U+FFFD.
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            pos: 0,
            depth: 0,
        };
        p.ws();
        let v = p.value()?;
        p.ws();
        if p.pos != p.s.len() {
            return Err(p.err("trailing characters after the JSON value"));
        }
        Ok(v)
    }
}

impl std::fmt::Display for Json {
    /// The canonical serialization (no trailing newline).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_canonical_string())
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends `f` as Python's `repr(float)` would print it, or, for non-finite values, the
/// JSON strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
pub fn write_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("\"NaN\"");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
        return;
    }
    out.push_str(&python_repr(f));
}

/// Python's `repr(f)` of a finite float: shortest round-trip digits; exponent form
/// (`1e-05`, `1.5e+300`) iff the decimal exponent is < -4 or >= 16; otherwise positional
/// with at least one digit after the point (`1.0`, `0.0001`, `1234.5`).
pub fn python_repr(f: f64) -> String {
    debug_assert!(f.is_finite());
    let mut buf = ryu::Buffer::new();
    let printed = buf.format_finite(f.abs());
    let (digits, exp10) = shortest_digits(printed);
    let mut s = String::with_capacity(digits.len() + 8);
    if f.is_sign_negative() {
        s.push('-');
    }
    if digits.is_empty() {
        s.push_str("0.0");
        return s;
    }
    // value = 0.d1d2d3... * 10^(exp10 + 1) = d1.d2d3... * 10^exp10
    if !(-4..16).contains(&exp10) {
        s.push_str(&digits[..1]);
        if digits.len() > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        let _ = write!(
            s,
            "e{}{:02}",
            if exp10 < 0 { '-' } else { '+' },
            exp10.unsigned_abs()
        );
    } else if exp10 >= 0 {
        let int_len = exp10 as usize + 1;
        if digits.len() <= int_len {
            s.push_str(&digits);
            s.push_str(&"0".repeat(int_len - digits.len()));
            s.push_str(".0");
        } else {
            s.push_str(&digits[..int_len]);
            s.push('.');
            s.push_str(&digits[int_len..]);
        }
    } else {
        s.push_str("0.");
        s.push_str(&"0".repeat((-exp10 - 1) as usize));
        s.push_str(&digits);
    }
    s
}

/// Splits ryu's output (any of `123.45`, `1e-7`, `1.5e300`, `0.001`) into significant
/// digits without leading/trailing zeros and the decimal exponent of the first digit.
/// Zero gives empty digits.
fn shortest_digits(printed: &str) -> (String, i32) {
    let (mant, exp) = match printed.find(['e', 'E']) {
        Some(i) => (
            &printed[..i],
            printed[i + 1..].parse::<i32>().expect("ryu exponent"),
        ),
        None => (printed, 0),
    };
    let point = mant.find('.').unwrap_or(mant.len());
    let all: String = mant.chars().filter(|c| *c != '.').collect();
    let lead = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_start_matches('0').trim_end_matches('0').to_owned();
    // position of the first significant digit relative to the point
    let exp10 = point as i32 - 1 - lead as i32 + exp;
    (digits, exp10)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

/// Nesting deeper than this is rejected (Python's recursion limit is about the same, so no
/// oracle document is deeper).
const MAX_DEPTH: usize = 1000;

impl Parser<'_> {
    fn err(&self, msg: &str) -> String {
        format!("JSON parse error at byte {}: {msg}", self.pos)
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.pos..].starts_with(lit.as_bytes()) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        match self.s.get(self.pos) {
            None => Err(self.err("unexpected end of input")),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') if self.eat("true") => Ok(Json::Bool(true)),
            Some(b'f') if self.eat("false") => Ok(Json::Bool(false)),
            Some(b'n') if self.eat("null") => Ok(Json::Null),
            Some(b'N') if self.eat("NaN") => Ok(Json::Float(f64::NAN)),
            Some(b'I') if self.eat("Infinity") => Ok(Json::Float(f64::INFINITY)),
            Some(b'-') if self.eat("-Infinity") => Ok(Json::Float(f64::NEG_INFINITY)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Json, String> {
        self.enter()?;
        self.pos += 1;
        let mut map = BTreeMap::new();
        self.ws();
        if self.eat("}") {
            self.depth -= 1;
            return Ok(Json::Object(map));
        }
        loop {
            self.ws();
            if self.s.get(self.pos) != Some(&b'"') {
                return Err(self.err("expected an object key"));
            }
            let k = self.string()?;
            self.ws();
            if !self.eat(":") {
                return Err(self.err("expected ':'"));
            }
            self.ws();
            let v = self.value()?;
            map.insert(k, v);
            self.ws();
            if self.eat(",") {
                continue;
            }
            if self.eat("}") {
                self.depth -= 1;
                return Ok(Json::Object(map));
            }
            return Err(self.err("expected ',' or '}'"));
        }
    }

    fn array(&mut self) -> Result<Json, String> {
        self.enter()?;
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat("]") {
            self.depth -= 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value()?);
            self.ws();
            if self.eat(",") {
                continue;
            }
            if self.eat("]") {
                self.depth -= 1;
                return Ok(Json::Array(items));
            }
            return Err(self.err("expected ',' or ']'"));
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self
            .s
            .get(self.pos..self.pos + 4)
            .and_then(|b| std::str::from_utf8(b).ok())
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
            .ok_or_else(|| self.err("bad \\u escape"))?;
        let v = u32::from_str_radix(h, 16).map_err(|_| self.err("bad \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(&b) = self.s.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // the input is a &str and we only stop at ASCII bytes: a valid UTF-8 slice
            out.push_str(std::str::from_utf8(&self.s[start..self.pos]).expect("utf-8 slice"));
            match self.s.get(self.pos) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = *self
                        .s
                        .get(self.pos)
                        .ok_or_else(|| self.err("unterminated escape"))?;
                    self.pos += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi)
                                && self.s[self.pos..].starts_with(b"\\u")
                            {
                                let save = self.pos;
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                } else {
                                    self.pos = save;
                                    0xFFFD
                                }
                            } else {
                                hi
                            };
                            out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                        }
                        _ => return Err(self.err("unknown escape")),
                    }
                }
                Some(_) => return Err(self.err("control character in string")),
            }
        }
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.pos;
        self.eat("-");
        let int_start = self.pos;
        while matches!(self.s.get(self.pos), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let int_digits = self.pos - int_start;
        if int_digits == 0 || (int_digits > 1 && self.s[int_start] == b'0') {
            return Err(self.err("malformed number"));
        }
        let mut is_float = false;
        if self.s.get(self.pos) == Some(&b'.') {
            is_float = true;
            self.pos += 1;
            let d = self.pos;
            while matches!(self.s.get(self.pos), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
            if self.pos == d {
                return Err(self.err("malformed number"));
            }
        }
        if let Some(b'e' | b'E') = self.s.get(self.pos) {
            is_float = true;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.s.get(self.pos) {
                self.pos += 1;
            }
            let d = self.pos;
            while matches!(self.s.get(self.pos), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
            if self.pos == d {
                return Err(self.err("malformed number"));
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).expect("ascii");
        if is_float {
            text.parse::<f64>()
                .map(Json::Float)
                .map_err(|_| self.err("malformed number"))
        } else {
            Ok(match text.parse::<i128>() {
                Ok(i) => Json::Int(i),
                Err(_) => Json::BigInt(text.to_owned()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(v: &Json) -> String {
        v.to_canonical_string()
    }

    /// (value, Python 3.11 `repr(value)`), checked with `.venv/bin/python`.
    const REPRS: &[(f64, &str)] = &[
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.0, "1.0"),
        (-1.0, "-1.0"),
        (0.1, "0.1"),
        (0.5, "0.5"),
        (1.5, "1.5"),
        (100.0, "100.0"),
        (123.456, "123.456"),
        (0.0001, "0.0001"),
        (0.00012345, "0.00012345"),
        (0.00001, "1e-05"),
        (0.000012345, "1.2345e-05"),
        (1e-7, "1e-07"),
        (1e-100, "1e-100"),
        (1e15, "1000000000000000.0"),
        (1.5e15, "1500000000000000.0"),
        (9999999999999998.0, "9999999999999998.0"),
        (1e16, "1e+16"),
        (1.2345e16, "1.2345e+16"),
        (1e17, "1e+17"),
        (1e22, "1e+22"),
        (1e23, "1e+23"),
        (1.5e300, "1.5e+300"),
        (-1.5e300, "-1.5e+300"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (5e-324, "5e-324"),
        (2.2250738585072014e-308, "2.2250738585072014e-308"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1.0 / 3.0, "0.3333333333333333"),
        (2.0 / 3.0, "0.6666666666666666"),
        (std::f64::consts::PI, "3.141592653589793"),
        (std::f64::consts::E, "2.718281828459045"),
        (123456789.0, "123456789.0"),
        (123456789012345678.0, "1.2345678901234568e+17"),
        (9007199254740993.0, "9007199254740992.0"),
        (4294967295.0, "4294967295.0"),
        (65504.0, "65504.0"),
        (6.103515625e-05, "6.103515625e-05"),
        (5.960464477539063e-08, "5.960464477539063e-08"),
        (3.4028234663852886e38, "3.4028234663852886e+38"),
        (1.1754943508222875e-38, "1.1754943508222875e-38"),
        (1.401298464324817e-45, "1.401298464324817e-45"),
        (0.30000001192092896, "0.30000001192092896"),
        (1e-5 * 3.0, "3.0000000000000004e-05"),
        (12.0, "12.0"),
        (-273.15, "-273.15"),
        (1e-4, "0.0001"),
        (9.999e-5, "9.999e-05"),
        (0.001, "0.001"),
        (1e100, "1e+100"),
        (1.0000000000000002, "1.0000000000000002"),
        (0.9999999999999999, "0.9999999999999999"),
        (100000000000000.02, "100000000000000.02"),
        (1234567890123456.8, "1234567890123456.8"),
    ];

    #[test]
    fn float_repr_matches_python() {
        for &(v, want) in REPRS {
            assert_eq!(canon(&Json::Float(v)), want, "repr of {v:e}");
            // and the text parses back to the same bits
            match Json::parse(want).unwrap() {
                Json::Float(back) => assert_eq!(back.to_bits(), v.to_bits(), "{want}"),
                other => panic!("{want} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn float_repr_round_trips_and_has_python_shape() {
        // a deterministic spread of bit patterns over the whole finite range
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if !v.is_finite() {
                continue;
            }
            let s = python_repr(v);
            assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{s}");
            assert!(s.contains('.') || s.contains('e'), "{s}");
            if let Some(i) = s.find('e') {
                let e: i32 = s[i + 1..].parse().unwrap();
                assert!(!(-4..16).contains(&e), "{s}");
                assert!(matches!(&s[i + 1..i + 2], "+" | "-"), "{s}");
                assert!(s.len() - i - 2 >= 2, "{s}");
            }
        }
    }

    #[test]
    fn non_finite_floats_are_strings() {
        assert_eq!(canon(&Json::Float(f64::NAN)), "\"NaN\"");
        assert_eq!(canon(&Json::Float(f64::INFINITY)), "\"Infinity\"");
        assert_eq!(canon(&Json::Float(f64::NEG_INFINITY)), "\"-Infinity\"");
    }

    #[test]
    fn strings_escape_like_python() {
        let s = "a\"b\\c\u{8}\u{c}\n\r\t\u{0}\u{1f}\u{7f}é€😀/";
        assert_eq!(
            canon(&Json::Str(s.into())),
            "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0000\\u001f\u{7f}é€😀/\""
        );
        assert_eq!(canon(&Json::Str("\u{1b}".into())), "\"\\u001b\"");
    }

    #[test]
    fn objects_sort_keys_by_utf8_bytes_and_have_no_whitespace() {
        let v = Json::object([
            ("b", Json::Int(1)),
            (
                "a",
                Json::Array(vec![Json::Null, Json::Bool(true), Json::Bool(false)]),
            ),
            ("é", Json::Int(-5)),
            ("Z", Json::Object(BTreeMap::new())),
            ("a b", Json::Array(vec![])),
        ]);
        assert_eq!(
            canon(&v),
            "{\"Z\":{},\"a\":[null,true,false],\"a b\":[],\"b\":1,\"é\":-5}"
        );
        assert_eq!(v.to_document_string(), format!("{}\n", canon(&v)));
    }

    #[test]
    fn big_integers_are_exact() {
        assert_eq!(canon(&Json::Int(u64::MAX as i128)), "18446744073709551615");
        assert_eq!(canon(&Json::Int(i128::MIN)), i128::MIN.to_string());
        let big = "-1234567890123456789012345678901234567890123";
        assert_eq!(Json::parse(big).unwrap(), Json::BigInt(big.into()));
        assert_eq!(
            Json::parse("18446744073709551615").unwrap(),
            Json::Int(18446744073709551615)
        );
        assert_eq!(canon(&Json::parse(big).unwrap()), big);
    }

    #[test]
    fn text_is_string_or_hex() {
        assert_eq!(Json::text("héllo".as_bytes()), Json::Str("héllo".into()));
        assert_eq!(
            canon(&Json::text(&[0xff, 0x00, 0x41])),
            "{\"hex\":\"ff0041\"}"
        );
        assert_eq!(Json::text(b""), Json::Str(String::new()));
    }

    #[test]
    fn parse_round_trips_canonical_text() {
        let text =
            "{\"a\":[1,-2,3.5,1e-05,1e+16,-0.0,null,true,false,\"x\\u00e9\\ud83d\\ude00\\n\"],\
                    \"b\":{\"c\":{}},\"d\":\"é\",\"e\":[]}";
        let v = Json::parse(text).unwrap();
        let arr = match v.get("a") {
            Some(Json::Array(a)) => a,
            other => panic!("{other:?}"),
        };
        assert_eq!(arr[0], Json::Int(1));
        assert_eq!(arr[2], Json::Float(3.5));
        assert_eq!(arr[3], Json::Float(1e-5));
        assert!(matches!(arr[5], Json::Float(z) if z == 0.0 && z.is_sign_negative()));
        assert_eq!(arr[9], Json::Str("xé😀\n".into()));
        assert_eq!(
            canon(&v),
            "{\"a\":[1,-2,3.5,1e-05,1e+16,-0.0,null,true,false,\"xé😀\\n\"],\
             \"b\":{\"c\":{}},\"d\":\"é\",\"e\":[]}"
        );
        // whitespace between tokens, as Python's default json.dumps writes it
        let spaced = Json::parse(" { \"k\" : [ 1 , 2.0 ] ,\n \"j\" : NaN } ").unwrap();
        assert_eq!(
            spaced.get("k"),
            Some(&Json::Array(vec![Json::Int(1), Json::Float(2.0)]))
        );
        assert!(matches!(spaced.get("j"), Some(Json::Float(f)) if f.is_nan()));
    }

    #[test]
    fn parse_rejects_malformed_input() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\"}",
            "01",
            "1.",
            "1e",
            "-",
            "\"abc",
            "\"\\x\"",
            "tru",
            "[1] 2",
            "{\"a\":1,}",
            "\"\u{1}\"",
            "+1",
            ".5",
        ] {
            assert!(Json::parse(bad).is_err(), "accepted {bad:?}");
        }
        let deep = "[".repeat(1001);
        assert!(Json::parse(&deep).is_err());
        let ok = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        let v = Json::parse(&ok).unwrap();
        assert_eq!(v.to_canonical_string(), ok);
    }
}
