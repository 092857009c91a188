//! `h5oxide dump FILE`: the file's tree, types, dataspaces and values as text laid out like
//! `h5dump`'s default output (groups and attributes sorted by name, data with the index of the
//! first element of each line, floats as C's `%g`, strings quoted with non-printing bytes
//! escaped). Objects reached again through another hard link print as `HARDLINK`.
//!
//! Types h5dump shows in more detail than this (opaque tags, references' targets, bitfields)
//! are named; their values print as h5dump's fallbacks would not, so the output is for people,
//! the canonical JSON (`--canonical`) for programs.

use std::collections::HashMap;
use std::fmt::Write as _;

use h5oxide::format::datatype::{ByteOrder, CharSet, Datatype, ReferenceKind, StringPad};
use h5oxide::format::messages::dataspace::Dataspace;
use h5oxide::format::value::{Decoder, Value};
use h5oxide::{Attribute, Dataset, Group, LinkKind, Object};

/// Largest dataset whose values are printed (bytes); larger ones print a note instead.
const MAX_DATA_BYTES: u64 = 64 << 20;

/// What to print.
pub struct Options {
    /// Only the header: no `DATA` blocks.
    pub header_only: bool,
}

/// The dump of the file at `path` (named in the first line as given) and whether everything
/// could be read.
pub fn dump(path: &str, opts: &Options) -> (String, bool) {
    let mut d = Dumper {
        out: String::new(),
        opts,
        seen: HashMap::new(),
        paths: HashMap::new(),
        following: Vec::new(),
        ok: true,
    };
    let _ = writeln!(d.out, "HDF5 \"{path}\" {{");
    match h5oxide::File::open(path).and_then(|f| f.root()) {
        Ok(root) => {
            // where each object is, for committed datatypes named by the datasets using them
            if let Ok(all) = root.walk() {
                for (p, obj) in all {
                    let p = format!("/{}", p.trim_start_matches('/'));
                    d.paths.entry(obj.addr()).or_insert(p);
                }
            }
            d.group(&root, "/", "/", 0)
        }
        Err(e) => {
            let _ = writeln!(d.out, "h5oxide dump error: {e}");
            d.ok = false;
        }
    }
    d.out.push_str("}\n");
    (d.out, d.ok)
}

struct Dumper<'a> {
    out: String,
    opts: &'a Options,
    /// Object header address → the path it was first printed at.
    seen: HashMap<u64, String>,
    /// Object header address → a path of the object in the file.
    paths: HashMap<u64, String>,
    /// The external links being followed (file, path): one met again is not followed.
    following: Vec<(String, String)>,
    ok: bool,
}

/// Deepest nesting of groups (and followed external links) printed.
const MAX_DEPTH: usize = 64;

fn pad(level: usize) -> String {
    " ".repeat(3 * level)
}

impl Dumper<'_> {
    fn line(&mut self, level: usize, text: &str) {
        let _ = writeln!(self.out, "{}{text}", pad(level));
    }

    fn error(&mut self, level: usize, what: &str, e: &dyn std::fmt::Display) {
        self.ok = false;
        self.line(level, &format!("h5oxide dump error: {what}: {e}"));
    }

    fn group(&mut self, g: &Group, name: &str, path: &str, level: usize) {
        self.line(level, &format!("GROUP \"{name}\" {{"));
        if level > MAX_DEPTH {
            self.error(level + 1, path, &"groups nested too deep");
            self.line(level, "}");
            return;
        }
        self.seen.insert(g.addr(), path.to_string());
        self.attributes(g.attrs(), level + 1);
        let mut links = match g.links() {
            Ok(l) => l,
            Err(e) => {
                self.error(level + 1, "links", &e);
                Vec::new()
            }
        };
        links.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        for l in links {
            let child = if path == "/" {
                format!("/{}", l.name)
            } else {
                format!("{path}/{}", l.name)
            };
            let inner = level + 1;
            match &l.kind {
                LinkKind::Soft(target) => {
                    self.line(inner, &format!("SOFTLINK \"{}\" {{", l.name));
                    self.line(inner + 1, &format!("LINKTARGET \"{target}\""));
                    self.line(inner, "}");
                }
                LinkKind::External { file, path } => {
                    self.line(inner, &format!("EXTERNAL_LINK \"{}\" {{", l.name));
                    self.line(inner + 1, &format!("TARGETFILE \"{file}\""));
                    self.line(inner + 1, &format!("TARGETPATH \"{path}\""));
                    // h5dump follows the link and prints the target object inside; addresses
                    // of the other file must not match this file's
                    let key = (file.clone(), path.clone());
                    let follow = !self.following.contains(&key) && level < MAX_DEPTH;
                    if let (true, Ok(obj)) = (follow, g.get(&l.name)) {
                        self.following.push(key);
                        let seen = std::mem::take(&mut self.seen);
                        match obj {
                            Object::Group(t) => self.group(&t, path, path, inner + 2),
                            Object::Dataset(d) => self.dataset(&d, path, path, inner + 2),
                            Object::Datatype(_) => {}
                        }
                        self.seen = seen;
                        self.following.pop();
                    }
                    self.line(inner, "}");
                }
                LinkKind::Hard(addr) => {
                    if let Some(first) = self.seen.get(addr).cloned() {
                        let kind = match g.get(&l.name) {
                            Ok(Object::Group(_)) => "GROUP",
                            Ok(Object::Datatype(_)) => "DATATYPE",
                            _ => "DATASET",
                        };
                        self.line(inner, &format!("{kind} \"{}\" {{", l.name));
                        self.line(inner + 1, &format!("HARDLINK \"{first}\""));
                        self.line(inner, "}");
                        continue;
                    }
                    match g.get(&l.name) {
                        Ok(Object::Group(c)) => self.group(&c, &l.name, &child, inner),
                        Ok(Object::Dataset(d)) => self.dataset(&d, &l.name, &child, inner),
                        Ok(Object::Datatype(t)) => {
                            self.seen.insert(*addr, child.clone());
                            self.line(
                                inner,
                                &format!("DATATYPE \"{}\" {}", l.name, {
                                    match t.dtype() {
                                        Ok(dt) => type_text(&dt, inner),
                                        Err(e) => format!("<{e}>"),
                                    }
                                }),
                            );
                        }
                        Err(e) => self.error(inner, &l.name, &e),
                    }
                }
                _ => {
                    self.line(inner, &format!("USERDEFINED_LINK \"{}\" {{", l.name));
                    self.line(inner, "}");
                }
            }
        }
        self.line(level, "}");
    }

    fn attributes(&mut self, attrs: h5oxide::Result<Vec<Attribute>>, level: usize) {
        let mut attrs = match attrs {
            Ok(a) => a,
            Err(e) => {
                self.error(level, "attributes", &e);
                return;
            }
        };
        attrs.sort_by(|a, b| a.name().as_bytes().cmp(b.name().as_bytes()));
        for a in attrs {
            self.line(level, &format!("ATTRIBUTE \"{}\" {{", a.name()));
            let type_line = match a.committed_dtype().and_then(|t| self.paths.get(&t)) {
                Some(p) => format!("DATATYPE  \"{p}\""),
                None => format!("DATATYPE  {}", type_text(a.dtype(), level + 1)),
            };
            self.line(level + 1, &type_line);
            self.line(level + 1, &format!("DATASPACE  {}", space_text(a.space())));
            if !self.opts.header_only {
                let shape = a.shape();
                let n: usize = shape.iter().product();
                let ctx = a.file_inner().ctx();
                let values = Decoder::new(ctx).decode_many(a.dtype(), a.raw(), n);
                self.data(a.dtype(), a.space(), &shape, a.raw(), values, level + 1);
            }
            self.line(level, "}");
        }
    }

    fn dataset(&mut self, d: &Dataset, name: &str, path: &str, level: usize) {
        self.seen.insert(d.addr(), path.to_string());
        self.line(level, &format!("DATASET \"{name}\" {{"));
        let dt = d.dtype().clone();
        let space = d.info().space.clone();
        let named = d
            .info()
            .committed_dtype
            .and_then(|a| self.paths.get(&a).cloned());
        let type_line = match named {
            // a committed datatype is named by its path, as h5dump does
            Some(p) => format!("DATATYPE  \"{p}\""),
            None => format!("DATATYPE  {}", type_text(&dt, level + 1)),
        };
        self.line(level + 1, &type_line);
        self.line(level + 1, &format!("DATASPACE  {}", space_text(&space)));
        if !self.opts.header_only {
            match d.info().num_bytes() {
                Ok(n) if n <= MAX_DATA_BYTES => match d.read_raw() {
                    Ok(raw) => {
                        let shape = d.shape();
                        let count: usize = shape.iter().product();
                        let ctx = d.file_inner().ctx();
                        let values = Decoder::new(ctx).decode_many(&dt, &raw, count);
                        self.data(&dt, &space, &shape, &raw, values, level + 1);
                    }
                    Err(e) => self.error(level + 1, "data", &e),
                },
                Ok(n) => self.line(
                    level + 1,
                    &format!("DATA {{ {n} bytes: not printed (more than {MAX_DATA_BYTES}) }}"),
                ),
                Err(e) => self.error(level + 1, "data", &e),
            }
        }
        self.attributes(d.attrs(), level + 1);
        self.line(level, "}");
    }

    /// The `DATA { ... }` block: elements separated by ", ", a new line at each row of the
    /// last dimension (prefixed with the row's first index), lines wrapped before 80 columns.
    fn data(
        &mut self,
        dt: &Datatype,
        space: &Dataspace,
        shape: &[usize],
        raw: &[u8],
        values: h5oxide::Result<Vec<Value>>,
        level: usize,
    ) {
        if matches!(space, Dataspace::Null) {
            self.line(level, "DATA {");
            self.line(level, "}");
            return;
        }
        let values = match values {
            Ok(v) => v,
            Err(e) => return self.error(level, "data", &e),
        };
        self.line(level, "DATA {");
        let size = dt.size() as usize;
        let texts: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let bytes = raw.get(i * size..(i + 1) * size).unwrap_or(&[]);
                value_text(dt, v, bytes, level)
            })
            .collect();
        let row = shape.last().copied().unwrap_or(1).max(1);
        let index = |i: usize| -> String {
            if shape.is_empty() {
                return "(0)".into();
            }
            let mut rem = i;
            let mut idx = vec![0usize; shape.len()];
            for (d, n) in shape.iter().enumerate().rev() {
                let n = (*n).max(1);
                idx[d] = rem % n;
                rem /= n;
            }
            let parts: Vec<String> = idx.iter().map(usize::to_string).collect();
            format!("({})", parts.join(","))
        };
        let base = pad(level);
        let mut line = String::new();
        let mut multiline = false;
        for (i, t) in texts.iter().enumerate() {
            let last = i + 1 == texts.len();
            // a new line at each row, after a multi-line element (compounds), and before an
            // element that would take the line (with its comma) past 79 columns
            let wrap =
                i % row == 0 || multiline || t.contains('\n') || line.len() + t.len() + 1 > 77;
            if line.is_empty() {
                line = format!("{base}{}: ", index(i));
            } else if wrap {
                self.out.push_str(line.trim_end());
                self.out.push('\n');
                line = format!("{base}{}: ", index(i));
            }
            multiline = t.contains('\n');
            line.push_str(t);
            if !last {
                line.push_str(", ");
            }
        }
        if !line.is_empty() {
            self.out.push_str(line.trim_end());
            self.out.push('\n');
        }
        self.line(level, "}");
    }
}

/// h5dump's name of a datatype (multi-line blocks indented for `level`).
fn type_text(dt: &Datatype, level: usize) -> String {
    let order = |o: ByteOrder| match o {
        ByteOrder::LittleEndian => "LE",
        ByteOrder::BigEndian => "BE",
        ByteOrder::Vax => "VAX",
    };
    let inner = pad(level + 1);
    let close = pad(level);
    match dt {
        Datatype::FixedPoint(fp) => {
            let bits = fp.size * 8;
            if u32::from(fp.precision) == bits && fp.bit_offset == 0 {
                format!(
                    "H5T_STD_{}{}{}",
                    if fp.signed { "I" } else { "U" },
                    bits,
                    order(fp.order)
                )
            } else {
                format!("{}-bit integer", fp.precision)
            }
        }
        Datatype::Float(f) => match (f.size, f.exponent_size, f.mantissa_size) {
            // h5dump 1.10 has no name for half floats
            (2, 5, 10) => format!(
                "16-bit {}-endian floating-point 16-bit precision",
                if f.order == ByteOrder::BigEndian {
                    "big"
                } else {
                    "little"
                }
            ),
            (4, 8, 23) => format!("H5T_IEEE_F32{}", order(f.order)),
            (8, 11, 52) => format!("H5T_IEEE_F64{}", order(f.order)),
            _ => format!(
                "{}-bit {}-endian floating-point {}-bit precision",
                f.size * 8,
                if f.order == ByteOrder::BigEndian {
                    "big"
                } else {
                    "little"
                },
                f.precision
            ),
        },
        Datatype::String { size, pad: p, cset } => string_text(&size.to_string(), *p, *cset, level),
        Datatype::VarLenString { pad: p, cset, .. } => {
            string_text("H5T_VARIABLE", *p, *cset, level)
        }
        Datatype::Compound { members, .. } => {
            let mut s = String::from("H5T_COMPOUND {\n");
            for m in members {
                let _ = writeln!(
                    s,
                    "{inner}{} \"{}\";",
                    type_text(&m.dtype, level + 1),
                    String::from_utf8_lossy(&m.name)
                );
            }
            s.push_str(&close);
            s.push('}');
            s
        }
        Datatype::Enum { base, members, .. } => {
            let mut s = format!("H5T_ENUM {{\n{inner}{};\n", type_text(base, level + 1));
            let ctx_free = |v: &[u8]| -> String {
                let mut b = v.to_vec();
                if let Datatype::FixedPoint(fp) = &**base {
                    if fp.order == ByteOrder::BigEndian {
                        b.reverse();
                    }
                    let mut w = [0u8; 16];
                    for (i, x) in b.iter().take(16).enumerate() {
                        w[i] = *x;
                    }
                    let u = u128::from_le_bytes(w);
                    if fp.signed && !b.is_empty() && b[b.len() - 1] & 0x80 != 0 {
                        let shift = 128 - 8 * b.len().min(16) as u32;
                        return (((u << shift) as i128) >> shift).to_string();
                    }
                    return u.to_string();
                }
                String::from("?")
            };
            for m in members {
                let quoted = format!("\"{}\"", String::from_utf8_lossy(&m.name));
                let _ = writeln!(s, "{inner}{quoted:<18} {};", ctx_free(&m.value));
            }
            s.push_str(&close);
            s.push('}');
            s
        }
        Datatype::Array { dims, base, .. } => {
            let d: Vec<String> = dims.iter().map(|x| format!("[{x}]")).collect();
            format!("H5T_ARRAY {{ {} {} }}", d.join(""), type_text(base, level))
        }
        Datatype::VarLenSequence { base, .. } => {
            format!("H5T_VLEN {{ {}}}", type_text(base, level))
        }
        Datatype::Reference { kind, .. } => format!(
            "H5T_REFERENCE {{ {} }}",
            match kind {
                ReferenceKind::Object => "H5T_STD_REF_OBJECT",
                ReferenceKind::Region => "H5T_STD_REF_DSETREG",
                _ => "UNDEFINED",
            }
        ),
        Datatype::Opaque { tag, .. } => format!(
            "H5T_OPAQUE {{\n{inner}OPAQUE_TAG \"{}\";\n{close}}}",
            String::from_utf8_lossy(tag)
        ),
        Datatype::Bitfield(fp) => format!("H5T_STD_B{}{}", fp.size * 8, order(fp.order)),
        Datatype::Time { size, .. } => format!("H5T_TIME ({size} bytes)"),
        Datatype::Complex { base, .. } => format!("H5T_COMPLEX {{ {} }}", type_text(base, level)),
    }
}

fn string_text(size: &str, p: StringPad, cset: CharSet, level: usize) -> String {
    let inner = pad(level + 1);
    let pad_name = match p {
        StringPad::NullTerm => "H5T_STR_NULLTERM",
        StringPad::NullPad => "H5T_STR_NULLPAD",
        StringPad::SpacePad => "H5T_STR_SPACEPAD",
    };
    let cset = match cset {
        CharSet::Ascii => "H5T_CSET_ASCII",
        CharSet::Utf8 => "H5T_CSET_UTF8",
    };
    format!(
        "H5T_STRING {{\n{inner}STRSIZE {size};\n{inner}STRPAD {pad_name};\n{inner}CSET {cset};\n\
         {inner}CTYPE H5T_C_S1;\n{}}}",
        pad(level)
    )
}

fn space_text(s: &Dataspace) -> String {
    match s {
        Dataspace::Scalar => "SCALAR".into(),
        Dataspace::Null => "NULL".into(),
        Dataspace::Simple { dims, max } => {
            let d: Vec<String> = dims.iter().map(u64::to_string).collect();
            let m: Vec<String> = max
                .iter()
                .map(|m| m.map_or("H5S_UNLIMITED".into(), |v| v.to_string()))
                .collect();
            format!("SIMPLE {{ ( {} ) / ( {} ) }}", d.join(", "), m.join(", "))
        }
    }
}

/// C's `printf("%g")`: six significant digits, exponent form below 1e-4 or from 1e6, trailing
/// zeros removed.
fn fmt_g(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let e = format!("{x:.5e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..6).contains(&exp) {
        format!(
            "{}e{}{:02}",
            trim(mant),
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    } else {
        let decimals = (5 - exp).max(0) as usize;
        trim(&format!("{x:.decimals$}"))
    }
}

/// A string's bytes quoted as h5dump quotes them (`"`, `\` and non-printing bytes escaped).
fn quote(b: &[u8]) -> String {
    let mut s = String::from("\"");
    let text = String::from_utf8_lossy(b);
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(s, "\\{:03o}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

fn value_text(dt: &Datatype, v: &Value, bytes: &[u8], level: usize) -> String {
    match (dt, v) {
        (Datatype::String { pad: p, .. }, _) => {
            // h5dump prints a fixed-length string's whole field (padding NULs escaped) unless
            // it is NUL-terminated
            match p {
                StringPad::NullTerm => {
                    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                    quote(&bytes[..end])
                }
                _ => quote(bytes),
            }
        }
        (Datatype::Bitfield(fp), _) => {
            let mut b = bytes.to_vec();
            if fp.order == ByteOrder::LittleEndian {
                b.reverse();
            }
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            format!("0x{hex}")
        }
        (Datatype::Enum { members, .. }, Value::Int(_)) => {
            members.iter().find(|m| m.value == bytes).map_or_else(
                || value_plain(v),
                |m| String::from_utf8_lossy(&m.name).into_owned(),
            )
        }
        (Datatype::Compound { members, .. }, Value::Compound(vals)) => {
            let inner = pad(level + 2);
            let mut parts = Vec::new();
            for (m, (_, mv)) in members.iter().zip(vals) {
                let off = m.offset as usize;
                let sz = m.dtype.size() as usize;
                let mb = bytes.get(off..off + sz).unwrap_or(&[]);
                parts.push(format!(
                    "{inner}{}",
                    value_text(&m.dtype, mv, mb, level + 2)
                ));
            }
            format!("{{\n{}\n{}}}", parts.join(",\n"), pad(level + 1))
        }
        _ => value_plain(v),
    }
}

fn value_plain(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::BigInt(s) => s.clone(),
        Value::Float(f) => fmt_g(*f),
        Value::Complex(r, i) => format!("{}+{}i", fmt_g(*r), fmt_g(*i)),
        Value::String(b) => quote(b),
        Value::Opaque(b) => b
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
        Value::Compound(m) => {
            let parts: Vec<String> = m.iter().map(|(_, v)| value_plain(v)).collect();
            format!("{{ {} }}", parts.join(", "))
        }
        Value::Array { elems, .. } => {
            let parts: Vec<String> = elems.iter().map(value_plain).collect();
            format!("[ {} ]", parts.join(", "))
        }
        Value::VarLen(items) => {
            let parts: Vec<String> = items.iter().map(value_plain).collect();
            format!("({})", parts.join(", "))
        }
        Value::ObjectRef(Some(a)) => format!("OBJECT {a}"),
        Value::ObjectRef(None) | Value::RegionRef(None) => "NULL".into(),
        Value::RegionRef(Some(r)) => format!("DATASET {}", r.target),
        Value::InvalidRegionRef => "INVALID".into(),
        Value::RevisedRef(b) => format!("REFERENCE ({} bytes)", b.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_format_like_c() {
        for (x, want) in [
            (1.0 / 3.0, "0.333333"),
            (2.5, "2.5"),
            (1e20, "1e+20"),
            (-0.0, "-0"),
            (1e-7, "1e-07"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (0.0001, "0.0001"),
            (0.00012345678, "0.000123457"),
            (100.0, "100"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(fmt_g(x), want, "{x}");
        }
    }
}
