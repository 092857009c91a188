//! Datatypes, element values, selections and raw-data digests in the canonical form
//! (`shared/tools/CANONICAL.md` §6 "Datatypes" and §8 "Data: values and digests").
//!
//! The datatypes come from the Datatype message (spec §IV.A.2.d, [`h5oxide_format::datatype`]),
//! the values from [`h5oxide_format::value`].

use std::collections::BTreeMap;

use h5oxide_format::datatype::{
    ByteOrder, CharSet, Datatype, MantissaNorm, ReferenceKind, StringPad,
};
use h5oxide_format::value::{decode_integer, to_little_endian, vax_permutation, Selection, Value};
use h5oxide_format::UNDEF;
use sha2::{Digest, Sha256};

use super::json::Json;

/// Selections list their coordinates only up to this many points (`POINT_LIST_LIMIT`).
pub const POINT_LIST_LIMIT: u64 = 1000;

fn obj(pairs: Vec<(&str, Json)>) -> Json {
    Json::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn int(v: impl Into<i128>) -> Json {
    Json::Int(v.into())
}

fn s(v: &str) -> Json {
    Json::Str(v.to_string())
}

/// A name (link, attribute, member) as text: UTF-8, invalid bytes written as `\xNN` (Python's
/// `backslashreplace`).
pub fn name_text(b: &[u8]) -> String {
    let mut out = String::new();
    let mut rest = b;
    loop {
        match std::str::from_utf8(rest) {
            Ok(t) => {
                out.push_str(t);
                return out;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                let n = e.error_len().unwrap_or(bad.len()).min(bad.len());
                for byte in bad.iter().take(n) {
                    out.push_str(&format!("\\x{byte:02x}"));
                }
                rest = bad.get(n..).unwrap_or(&[]);
            }
        }
    }
}

/// Exact bytes as TEXT (§3): a string when valid UTF-8, else `{"hex": ...}`.
pub fn text_or_hex(b: &[u8]) -> Json {
    match std::str::from_utf8(b) {
        Ok(t) => s(t),
        Err(_) => obj(vec![("hex", Json::Str(hex(b)))]),
    }
}

/// Lowercase hex of bytes.
pub fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(b.len() * 2);
    for &x in b {
        out.push(D[(x >> 4) as usize] as char);
        out.push(D[(x & 15) as usize] as char);
    }
    out
}

fn order(o: ByteOrder) -> Json {
    s(match o {
        ByteOrder::LittleEndian => "le",
        ByteOrder::BigEndian => "be",
        ByteOrder::Vax => "vax",
    })
}

fn cset(c: CharSet) -> Json {
    s(match c {
        CharSet::Ascii => "ascii",
        CharSet::Utf8 => "utf8",
    })
}

fn strpad(p: StringPad) -> Json {
    s(match p {
        StringPad::NullTerm => "nullterm",
        StringPad::NullPad => "nullpad",
        StringPad::SpacePad => "spacepad",
    })
}

/// True when the canonical form treats the type as having variable-length parts (§6): a
/// variable-length string or sequence, a revised reference, or a container of one. Its `size`
/// is then `null`.
pub fn is_variable(dt: &Datatype) -> bool {
    dt.has_variable_parts()
}

/// True when the type's data digest is `sha256` over the stored bytes (§8): fixed-size and free
/// of region and revised references. Otherwise the digest is `json_sha256`.
pub fn raw_hashable(dt: &Datatype) -> bool {
    match dt {
        Datatype::Reference { kind, .. } => *kind == ReferenceKind::Object,
        Datatype::VarLenSequence { .. } | Datatype::VarLenString { .. } => false,
        Datatype::Compound { members, .. } => members.iter().all(|m| raw_hashable(&m.dtype)),
        Datatype::Array { base, .. }
        | Datatype::Enum { base, .. }
        | Datatype::Complex { base, .. } => raw_hashable(base),
        _ => true,
    }
}

/// Atoms per element (§8 LEAF_LIMIT rule): a compound counts its members recursively (at least
/// 1), an array multiplies by its element count, everything else counts 1.
pub fn leaves(dt: &Datatype) -> u64 {
    match dt {
        Datatype::Compound { members, .. } => {
            let n = members
                .iter()
                .fold(0u64, |a, m| a.saturating_add(leaves(&m.dtype)));
            n.max(1)
        }
        Datatype::Array { base, .. } => dt.array_len().saturating_mul(leaves(base)),
        _ => 1,
    }
}

/// True when h5py (and so the oracle) cannot read values of this type: revised references, and
/// variable-length sequences of region references. The expected document then has `read_error`.
pub fn unreadable_by_oracle(dt: &Datatype) -> bool {
    fn walk(dt: &Datatype, in_vlen: bool) -> bool {
        match dt {
            Datatype::Reference { kind, .. } => {
                kind.is_revised() || (in_vlen && *kind == ReferenceKind::Region)
            }
            Datatype::VarLenSequence { base, .. } => walk(base, true),
            Datatype::Compound { members, .. } => members.iter().any(|m| walk(&m.dtype, in_vlen)),
            Datatype::Array { base, .. }
            | Datatype::Enum { base, .. }
            | Datatype::Complex { base, .. } => walk(base, in_vlen),
            _ => false,
        }
    }
    walk(dt, false)
}

/// The type to decode values with so that they match the oracle: h5py 3.16 reads the elements of
/// a variable-length sequence whose base is a big-endian number (integer, float, bitfield, enum,
/// complex) in native (little-endian) order without swapping them, so the expected values are
/// the byte-swapped readings. The returned type marks those bases little-endian; any other type
/// is returned unchanged. (Observed: `hdf5-1.14/tcomplex_be.h5`, and vlen of `>i2`, `>f4` and
/// enum-of-`>i2` written by h5py; vlen of compounds with big-endian members read correctly.)
pub fn oracle_read_type(dt: &Datatype) -> std::borrow::Cow<'_, Datatype> {
    use std::borrow::Cow;
    fn has_quirk(dt: &Datatype) -> bool {
        match dt {
            Datatype::VarLenSequence { base, .. } => swap_base(base).is_some() || has_quirk(base),
            Datatype::Compound { members, .. } => members.iter().any(|m| has_quirk(&m.dtype)),
            Datatype::Array { base, .. } => has_quirk(base),
            _ => false,
        }
    }
    /// The base with its big-endian order replaced, when it is a big-endian number.
    fn swap_base(base: &Datatype) -> Option<Datatype> {
        let mut b = base.clone();
        let order = match &mut b {
            Datatype::FixedPoint(f) | Datatype::Bitfield(f) => &mut f.order,
            Datatype::Float(f) => &mut f.order,
            Datatype::Enum { base, .. } => return swap_base(base).map(|nb| replace_base(&b, nb)),
            Datatype::Complex { base, .. } => {
                return swap_base(base).map(|nb| replace_base(&b, nb))
            }
            _ => return None,
        };
        if *order != ByteOrder::BigEndian {
            return None;
        }
        *order = ByteOrder::LittleEndian;
        Some(b)
    }
    fn replace_base(dt: &Datatype, nb: Datatype) -> Datatype {
        let mut d = dt.clone();
        if let Datatype::Enum { base, .. } | Datatype::Complex { base, .. } = &mut d {
            **base = nb;
        }
        d
    }
    fn fix(dt: &Datatype) -> Datatype {
        match dt {
            Datatype::VarLenSequence { size, base } => {
                let nb = swap_base(base).unwrap_or_else(|| fix(base));
                Datatype::VarLenSequence {
                    size: *size,
                    base: Box::new(nb),
                }
            }
            Datatype::Compound { size, members } => Datatype::Compound {
                size: *size,
                members: members
                    .iter()
                    .map(|m| h5oxide_format::datatype::CompoundMember {
                        name: m.name.clone(),
                        offset: m.offset,
                        dtype: fix(&m.dtype),
                    })
                    .collect(),
            },
            Datatype::Array { size, dims, base } => Datatype::Array {
                size: *size,
                dims: dims.clone(),
                base: Box::new(fix(base)),
            },
            other => other.clone(),
        }
    }
    if has_quirk(dt) {
        Cow::Owned(fix(dt))
    } else {
        Cow::Borrowed(dt)
    }
}

/// The canonical `dtype` description (§6).
pub fn dtype_json(dt: &Datatype) -> Json {
    match dt {
        Datatype::FixedPoint(f) => obj(vec![
            ("class", s("integer")),
            ("size", int(f.size)),
            ("order", order(f.order)),
            ("signed", Json::Bool(f.signed)),
            ("precision", int(f.precision)),
            ("offset", int(f.bit_offset)),
        ]),
        Datatype::Bitfield(f) => obj(vec![
            ("class", s("bitfield")),
            ("size", int(f.size)),
            ("order", order(f.order)),
            ("precision", int(f.precision)),
            ("offset", int(f.bit_offset)),
        ]),
        Datatype::Float(f) => obj(vec![
            ("class", s("float")),
            ("size", int(f.size)),
            ("order", order(f.order)),
            ("precision", int(f.precision)),
            ("offset", int(f.bit_offset)),
            ("sign_pos", int(f.sign_location)),
            ("exp_pos", int(f.exponent_location)),
            ("exp_size", int(f.exponent_size)),
            ("mant_pos", int(f.mantissa_location)),
            ("mant_size", int(f.mantissa_size)),
            ("exp_bias", int(f.exponent_bias)),
            (
                "norm",
                s(match f.norm {
                    MantissaNorm::Implied => "implied",
                    MantissaNorm::MsbSet => "msbset",
                    MantissaNorm::None => "none",
                }),
            ),
        ]),
        Datatype::Time { size, order: o, .. } => obj(vec![
            ("class", s("time")),
            ("size", int(*size)),
            ("order", order(*o)),
        ]),
        Datatype::String { size, pad, cset: c } => obj(vec![
            ("class", s("string")),
            ("variable", Json::Bool(false)),
            ("size", int(*size)),
            ("cset", cset(*c)),
            ("strpad", strpad(*pad)),
        ]),
        Datatype::VarLenString { pad, cset: c, .. } => obj(vec![
            ("class", s("string")),
            ("variable", Json::Bool(true)),
            ("size", Json::Null),
            ("cset", cset(*c)),
            ("strpad", strpad(*pad)),
        ]),
        Datatype::Opaque { size, tag } => obj(vec![
            ("class", s("opaque")),
            ("size", int(*size)),
            ("tag", Json::Str(name_text(tag))),
        ]),
        Datatype::Compound { size, members } => {
            let var = is_variable(dt);
            let members = members
                .iter()
                .map(|m| {
                    obj(vec![
                        ("name", Json::Str(name_text(&m.name))),
                        ("offset", if var { Json::Null } else { int(m.offset) }),
                        ("dtype", dtype_json(&m.dtype)),
                    ])
                })
                .collect();
            obj(vec![
                ("class", s("compound")),
                ("size", if var { Json::Null } else { int(*size) }),
                ("members", Json::Array(members)),
            ])
        }
        Datatype::Enum {
            size,
            base,
            members,
        } => {
            let mut ms: Vec<(Value, String)> = members
                .iter()
                .map(|m| {
                    let v = match &**base {
                        Datatype::FixedPoint(f) => {
                            let le = to_little_endian(f.order, &m.value);
                            decode_integer(
                                &le,
                                f.bit_offset as usize,
                                f.precision as usize,
                                f.signed,
                            )
                        }
                        _ => Value::Int(0),
                    };
                    (v, name_text(&m.name))
                })
                .collect();
            ms.sort_by(|a, b| {
                cmp_int_value(&a.0, &b.0).then_with(|| a.1.as_bytes().cmp(b.1.as_bytes()))
            });
            let members = ms
                .into_iter()
                .map(|(v, n)| obj(vec![("name", Json::Str(n)), ("value", scalar_json(&v))]))
                .collect();
            obj(vec![
                ("class", s("enum")),
                ("size", int(*size)),
                ("base", dtype_json(base)),
                ("members", Json::Array(members)),
            ])
        }
        Datatype::VarLenSequence { base, .. } => obj(vec![
            ("class", s("vlen")),
            ("size", Json::Null),
            ("base", dtype_json(base)),
        ]),
        Datatype::Array { size, dims, base } => obj(vec![
            ("class", s("array")),
            (
                "size",
                if is_variable(base) {
                    Json::Null
                } else {
                    int(*size)
                },
            ),
            ("dims", Json::Array(dims.iter().map(|&d| int(d)).collect())),
            ("base", dtype_json(base)),
        ]),
        Datatype::Reference { kind, .. } => {
            // libhdf5 reports the memory sizes of hobj_ref_t / hdset_reg_ref_t, whatever the
            // file's size of offsets.
            let (k, sz) = match kind {
                ReferenceKind::Object => ("object", int(8)),
                ReferenceKind::Region => ("region", int(12)),
                _ => ("new", Json::Null),
            };
            obj(vec![("class", s("reference")), ("ref", s(k)), ("size", sz)])
        }
        Datatype::Complex { size, base } => obj(vec![
            ("class", s("complex")),
            ("size", int(*size)),
            ("base", dtype_json(base)),
        ]),
    }
}

/// Orders two integer values (Int or decimal BigInt) numerically.
fn cmp_int_value(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    fn parts(v: &Value) -> (bool, String) {
        match v {
            Value::Int(i) => (*i < 0, i.unsigned_abs().to_string()),
            Value::BigInt(t) => match t.strip_prefix('-') {
                Some(d) => (true, d.to_string()),
                None => (false, t.clone()),
            },
            _ => (false, String::new()),
        }
    }
    let ((na, da), (nb, db)) = (parts(a), parts(b));
    match (na, nb) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => da.len().cmp(&db.len()).then_with(|| da.cmp(&db)),
        (true, true) => db.len().cmp(&da.len()).then_with(|| db.cmp(&da)),
    }
}

fn float_json(x: f64) -> Json {
    if x.is_nan() {
        s("NaN")
    } else if x.is_infinite() {
        s(if x > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        Json::Float(x)
    }
}

fn scalar_json(v: &Value) -> Json {
    match v {
        Value::Int(i) => Json::Int(*i),
        Value::BigInt(t) => Json::BigInt(t.clone()),
        _ => Json::Null,
    }
}

fn dim_json(d: u64) -> Json {
    if d == UNDEF {
        Json::Null
    } else {
        int(d)
    }
}

/// A selection as SEL (§8): `type`, `npoints`, `regular` for a regular hyperslab, and `points`
/// when `with_points` and there are at most [`POINT_LIST_LIMIT`] points.
pub fn selection_json(sel: &Selection, with_points: bool) -> Json {
    let mut m = BTreeMap::new();
    let ty = match sel {
        Selection::None => "none",
        Selection::All => "all",
        Selection::Points { .. } => "points",
        Selection::Regular { .. } | Selection::Blocks { .. } => "hyperslabs",
    };
    m.insert("type".to_string(), s(ty));
    if let Some(r) = sel.regular() {
        let lists = r
            .iter()
            .map(|v| Json::Array(v.iter().map(|&d| dim_json(d)).collect()))
            .collect();
        m.insert("regular".to_string(), Json::Array(lists));
    }
    let npoints = sel.npoints().filter(|&n| n < 1 << 63);
    m.insert("npoints".to_string(), npoints.map_or(Json::Null, int));
    if with_points
        && matches!(ty, "points" | "hyperslabs")
        && npoints.is_some_and(|n| n <= POINT_LIST_LIMIT)
    {
        if let Some(pts) = sel.points(POINT_LIST_LIMIT) {
            let pts = pts
                .into_iter()
                .map(|p| Json::Array(p.into_iter().map(int).collect()))
                .collect();
            m.insert("points".to_string(), Json::Array(pts));
        }
    }
    Json::Object(m)
}

/// Nests a flat row-major list by `dims` (an empty `dims` gives the single element).
pub fn nest(flat: Vec<Json>, dims: &[u64]) -> Json {
    fn go(it: &mut std::vec::IntoIter<Json>, dims: &[u64]) -> Json {
        match dims.split_first() {
            None => it.next().unwrap_or(Json::Null),
            Some((&n, rest)) => {
                let mut v = Vec::with_capacity((n as usize).min(it.len()));
                for _ in 0..n {
                    v.push(go(it, rest));
                }
                Json::Array(v)
            }
        }
    }
    if dims.is_empty() {
        return flat.into_iter().next().unwrap_or(Json::Null);
    }
    go(&mut flat.into_iter(), dims)
}

/// An element value as canonical JSON (§8). `resolve_ref` turns an object header address into
/// the canonical path string (or `"<unreachable>"` / `"<invalid>"`; a region reference whose
/// target resolves to `"<invalid>"` becomes `{"target": "<invalid>"}`, as in the oracle).
/// Revised references, which the oracle cannot read, become `null`.
pub fn value_json(v: &Value, resolve_ref: &mut dyn FnMut(u64) -> Json) -> Json {
    match v {
        Value::Int(i) => Json::Int(*i),
        Value::BigInt(t) => Json::BigInt(t.clone()),
        Value::Float(x) => float_json(*x),
        Value::Complex(re, im) => Json::Array(vec![float_json(*re), float_json(*im)]),
        Value::String(b) => text_or_hex(b),
        Value::Opaque(b) => Json::Str(hex(b)),
        Value::Compound(ms) => {
            let mut m = BTreeMap::new();
            for (name, v) in ms {
                m.insert(name_text(name), value_json(v, resolve_ref));
            }
            Json::Object(m)
        }
        Value::Array { dims, elems } => {
            let flat = elems.iter().map(|e| value_json(e, resolve_ref)).collect();
            let dims: Vec<u64> = dims.iter().map(|&d| d as u64).collect();
            nest(flat, &dims)
        }
        Value::VarLen(items) => {
            Json::Array(items.iter().map(|e| value_json(e, resolve_ref)).collect())
        }
        Value::ObjectRef(None) | Value::RegionRef(None) | Value::RevisedRef(_) => Json::Null,
        Value::ObjectRef(Some(a)) => resolve_ref(*a),
        Value::InvalidRegionRef => obj(vec![("target", s("<invalid>"))]),
        Value::RegionRef(Some(r)) => {
            let target = resolve_ref(r.target);
            if target == s("<invalid>") {
                return obj(vec![("target", target)]);
            }
            obj(vec![
                ("target", target),
                ("selection", selection_json(&r.selection, true)),
            ])
        }
    }
}

/// Appends one element's bytes to `out` normalized for the `sha256` digest (§8): every integer,
/// float, bitfield, enum, time and complex part converted to little-endian (VAX floats: 16-bit
/// words reversed), every object reference reduced to its `offset_size`-byte address
/// zero-extended to the reference size; strings, opaque data and compound padding are kept.
/// `element` must hold `dt.size()` bytes (missing bytes are taken as zeros).
pub fn sha256_normalize(dt: &Datatype, element: &[u8], offset_size: u8, out: &mut Vec<u8>) {
    if let Datatype::Reference {
        kind: ReferenceKind::Object,
        size,
    } = dt
    {
        // An element of its own: libhdf5 reads it as an 8-byte hobj_ref_t.
        let n = (offset_size as usize).min(*size as usize).min(8);
        let mut addr = [0u8; 8];
        for (d, s) in addr.iter_mut().zip(element.iter().take(n)) {
            *d = *s;
        }
        out.extend_from_slice(&addr);
        return;
    }
    let start = out.len();
    let size = dt.size() as usize;
    out.extend_from_slice(element.get(..size).unwrap_or(element));
    out.resize(start + size, 0);
    if let Some(buf) = out.get_mut(start..) {
        normalize_in_place(dt, buf, offset_size);
    }
}

fn normalize_in_place(dt: &Datatype, buf: &mut [u8], offset_size: u8) {
    let size = (dt.size() as usize).min(buf.len());
    let Some(buf) = buf.get_mut(..size) else {
        return;
    };
    match dt {
        Datatype::FixedPoint(f) | Datatype::Bitfield(f) => reorder(f.order, buf),
        Datatype::Float(f) => reorder(f.order, buf),
        Datatype::Time { order, .. } => reorder(*order, buf),
        Datatype::Enum { base, .. } => normalize_in_place(base, buf, offset_size),
        Datatype::Complex { base, .. } => {
            let h = base.size() as usize;
            let (a, b) = buf.split_at_mut(h.min(size));
            normalize_in_place(base, a, offset_size);
            normalize_in_place(base, b, offset_size);
        }
        Datatype::Compound { members, .. } => {
            for m in members {
                if let Some(part) = buf.get_mut(m.offset as usize..) {
                    normalize_in_place(&m.dtype, part, offset_size);
                }
            }
        }
        Datatype::Array { base, .. } => {
            let bs = base.size() as usize;
            if bs > 0 {
                for chunk in buf.chunks_mut(bs) {
                    normalize_in_place(base, chunk, offset_size);
                }
            }
        }
        Datatype::Reference {
            kind: ReferenceKind::Object,
            ..
        } => {
            for b in buf.iter_mut().skip(offset_size as usize) {
                *b = 0;
            }
        }
        _ => {}
    }
}

fn reorder(order: ByteOrder, buf: &mut [u8]) {
    if buf.len() <= 1 {
        return;
    }
    match order {
        ByteOrder::LittleEndian => {}
        ByteOrder::BigEndian => buf.reverse(),
        ByteOrder::Vax => {
            let src = buf.to_vec();
            for (dst, &i) in buf.iter_mut().zip(vax_permutation(src.len()).iter()) {
                if let Some(&b) = src.get(i) {
                    *dst = b;
                }
            }
        }
    }
}

/// True when normalization leaves the bytes unchanged (all atoms little-endian, no object
/// references), so a digest can hash the stored bytes directly.
pub fn normalization_is_identity(dt: &Datatype) -> bool {
    match dt {
        Datatype::FixedPoint(f) | Datatype::Bitfield(f) => {
            f.order == ByteOrder::LittleEndian || f.size <= 1
        }
        Datatype::Float(f) => f.order == ByteOrder::LittleEndian || f.size <= 1,
        Datatype::Time { order, size, .. } => *order == ByteOrder::LittleEndian || *size <= 1,
        Datatype::Reference { .. } => false,
        Datatype::Compound { members, .. } => {
            members.iter().all(|m| normalization_is_identity(&m.dtype))
        }
        Datatype::Array { base, .. }
        | Datatype::Enum { base, .. }
        | Datatype::Complex { base, .. } => normalization_is_identity(base),
        _ => true,
    }
}

/// The `sha256` digest (lowercase hex) of `n` elements of `dt` stored contiguously in `data`
/// (§8). Fails when `data` holds fewer than `n × size` bytes.
pub fn raw_sha256(dt: &Datatype, data: &[u8], n: u64, offset_size: u8) -> Option<String> {
    let size = dt.size() as u64;
    let total = usize::try_from(n.checked_mul(size)?).ok()?;
    let data = data.get(..total)?;
    let mut h = Sha256::new();
    if normalization_is_identity(dt) {
        h.update(data);
    } else if size > 0 {
        let mut buf = Vec::with_capacity((64 << 10).min(total));
        for chunk in data.chunks(size as usize) {
            sha256_normalize(dt, chunk, offset_size, &mut buf);
            if buf.len() >= 64 << 10 {
                h.update(&buf);
                buf.clear();
            }
        }
        h.update(&buf);
    }
    Some(hex(&h.finalize()))
}

#[cfg(test)]
mod tests;
