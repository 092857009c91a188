use super::*;
use h5oxide_format::datatype::{CompoundMember, EnumMember, FixedPoint, FloatingPoint};
use h5oxide_format::value::RegionRef;

fn int_t(size: u32, order: ByteOrder, signed: bool) -> Datatype {
    Datatype::FixedPoint(FixedPoint {
        size,
        order,
        signed,
        lo_pad: false,
        hi_pad: false,
        bit_offset: 0,
        precision: (size * 8) as u16,
    })
}

fn key<'a>(j: &'a Json, k: &str) -> &'a Json {
    match j {
        Json::Object(m) => &m[k],
        _ => panic!("not an object"),
    }
}

#[test]
fn dtype_descriptions() {
    let j = dtype_json(&int_t(2, ByteOrder::BigEndian, true));
    assert_eq!(key(&j, "class"), &s("integer"));
    assert_eq!(key(&j, "order"), &s("be"));
    assert_eq!(key(&j, "signed"), &Json::Bool(true));
    assert_eq!(key(&j, "precision"), &Json::Int(16));

    let vs = Datatype::VarLenString {
        size: 16,
        pad: StringPad::NullTerm,
        cset: CharSet::Utf8,
        base: Box::new(Datatype::String {
            size: 1,
            pad: StringPad::NullTerm,
            cset: CharSet::Utf8,
        }),
    };
    let c = Datatype::Compound {
        size: 24,
        members: vec![
            CompoundMember {
                name: b"a".to_vec(),
                offset: 0,
                dtype: int_t(4, ByteOrder::LittleEndian, true),
            },
            CompoundMember {
                name: b"s".to_vec(),
                offset: 8,
                dtype: vs,
            },
        ],
    };
    let j = dtype_json(&c);
    assert_eq!(key(&j, "size"), &Json::Null);
    let Json::Array(ms) = key(&j, "members") else {
        panic!()
    };
    assert_eq!(key(&ms[0], "offset"), &Json::Null);
    assert!(!raw_hashable(&c));
    assert_eq!(leaves(&c), 2);

    // enum members sorted by value, then name
    let e = Datatype::Enum {
        size: 1,
        base: Box::new(int_t(1, ByteOrder::LittleEndian, true)),
        members: vec![
            EnumMember {
                name: b"B".to_vec(),
                value: vec![1],
            },
            EnumMember {
                name: b"NEG".to_vec(),
                value: vec![0xff],
            },
            EnumMember {
                name: b"A".to_vec(),
                value: vec![1],
            },
        ],
    };
    let j = dtype_json(&e);
    let Json::Array(ms) = key(&j, "members") else {
        panic!()
    };
    let names: Vec<&Json> = ms.iter().map(|m| key(m, "name")).collect();
    assert_eq!(names, vec![&s("NEG"), &s("A"), &s("B")]);
    assert_eq!(key(&ms[0], "value"), &Json::Int(-1));

    let r = Datatype::Reference {
        size: 4,
        kind: ReferenceKind::Object,
    };
    assert_eq!(key(&dtype_json(&r), "size"), &Json::Int(8));
    let r = Datatype::Reference {
        size: 18,
        kind: ReferenceKind::Object2,
    };
    assert_eq!(key(&dtype_json(&r), "ref"), &s("new"));
    assert!(unreadable_by_oracle(&r));
}

#[test]
fn values() {
    let mut resolve = |a: u64| Json::Str(format!("/obj{a}"));
    let v = Value::Array {
        dims: vec![2, 2],
        elems: vec![
            Value::Int(1),
            Value::Float(f64::NAN),
            Value::Float(1.5),
            Value::BigInt("340282366920938463463374607431768211455".into()),
        ],
    };
    assert_eq!(
        value_json(&v, &mut resolve),
        Json::Array(vec![
            Json::Array(vec![Json::Int(1), s("NaN")]),
            Json::Array(vec![
                Json::Float(1.5),
                Json::BigInt("340282366920938463463374607431768211455".into())
            ]),
        ])
    );
    assert_eq!(
        value_json(&Value::String(vec![0xff, 0x41]), &mut resolve),
        obj(vec![("hex", s("ff41"))])
    );
    assert_eq!(
        value_json(&Value::Opaque(vec![0xab, 0x01]), &mut resolve),
        s("ab01")
    );
    assert_eq!(
        value_json(&Value::ObjectRef(Some(800)), &mut resolve),
        s("/obj800")
    );
    assert_eq!(
        value_json(&Value::ObjectRef(None), &mut resolve),
        Json::Null
    );
    let r = Value::RegionRef(Some(RegionRef {
        target: 7,
        selection: Selection::Regular {
            start: vec![2],
            stride: vec![1],
            count: vec![1],
            block: vec![3],
        },
    }));
    let j = value_json(&r, &mut resolve);
    let sel = key(&j, "selection");
    assert_eq!(key(sel, "type"), &s("hyperslabs"));
    assert_eq!(key(sel, "npoints"), &Json::Int(3));
    assert_eq!(
        key(sel, "points"),
        &Json::Array((2..5).map(|i| Json::Array(vec![Json::Int(i)])).collect())
    );
    let all = selection_json(&Selection::All, true);
    assert_eq!(all, obj(vec![("type", s("all")), ("npoints", Json::Null)]));
    let none = selection_json(&Selection::None, true);
    assert_eq!(
        none,
        obj(vec![("type", s("none")), ("npoints", Json::Int(0))])
    );
    assert_eq!(name_text(b"a\xffb"), "a\\xffb");
    assert_eq!(nest(vec![], &[0, 3]), Json::Array(vec![]));
}

#[test]
fn sha256_normalization() {
    let mut out = Vec::new();
    sha256_normalize(
        &int_t(4, ByteOrder::BigEndian, false),
        &[1, 2, 3, 4],
        8,
        &mut out,
    );
    assert_eq!(out, vec![4, 3, 2, 1]);
    out.clear();
    let vax = Datatype::Float(FloatingPoint {
        size: 8,
        order: ByteOrder::Vax,
        lo_pad: false,
        hi_pad: false,
        internal_pad: false,
        norm: MantissaNorm::Implied,
        sign_location: 63,
        bit_offset: 0,
        precision: 64,
        exponent_location: 55,
        exponent_size: 8,
        mantissa_location: 0,
        mantissa_size: 55,
        exponent_bias: 129,
    });
    sha256_normalize(&vax, &[1, 2, 3, 4, 5, 6, 7, 8], 8, &mut out);
    assert_eq!(out, vec![7, 8, 5, 6, 3, 4, 1, 2]);
    out.clear();
    // object reference in a file with 4-byte offsets: 8-byte address
    sha256_normalize(
        &Datatype::Reference {
            size: 4,
            kind: ReferenceKind::Object,
        },
        &[1, 2, 3, 4],
        4,
        &mut out,
    );
    assert_eq!(out, vec![1, 2, 3, 4, 0, 0, 0, 0]);
    // compound: padding kept, members swapped in place
    let c = Datatype::Compound {
        size: 4,
        members: vec![CompoundMember {
            name: b"x".to_vec(),
            offset: 2,
            dtype: int_t(2, ByteOrder::BigEndian, false),
        }],
    };
    out.clear();
    sha256_normalize(&c, &[9, 9, 1, 2], 8, &mut out);
    assert_eq!(out, vec![9, 9, 2, 1]);
    assert_eq!(
        raw_sha256(&c, &[], 0, 8).unwrap(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert!(raw_sha256(&c, &[1, 2], 1, 8).is_none());
}
