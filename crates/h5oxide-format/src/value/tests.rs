use super::*;
use crate::datatype::{CharSet, CompoundMember};
use crate::Sizes;

fn fp(size: u32, order: ByteOrder, signed: bool, off: u16, prec: u16) -> Datatype {
    Datatype::FixedPoint(FixedPoint {
        size,
        order,
        signed,
        lo_pad: false,
        hi_pad: false,
        bit_offset: off,
        precision: prec,
    })
}

#[allow(clippy::too_many_arguments)]
fn fl(
    size: u32,
    order: ByteOrder,
    sign: u8,
    epos: u8,
    esz: u8,
    mpos: u8,
    msz: u8,
    bias: u32,
    norm: MantissaNorm,
) -> FloatingPoint {
    FloatingPoint {
        size,
        order,
        lo_pad: false,
        hi_pad: false,
        internal_pad: false,
        norm,
        sign_location: sign,
        bit_offset: 0,
        precision: (size * 8) as u16,
        exponent_location: epos,
        exponent_size: esz,
        mantissa_location: mpos,
        mantissa_size: msz,
        exponent_bias: bias,
    }
}

fn dec(t: &Datatype, b: &[u8]) -> Value {
    let empty: Vec<u8> = Vec::new();
    decode(t, b, &Ctx::new(&empty, Sizes::default())).unwrap()
}

#[test]
fn integers() {
    use ByteOrder::*;
    assert_eq!(
        dec(&fp(4, LittleEndian, true, 0, 32), &(-5i32).to_le_bytes()),
        Value::Int(-5)
    );
    assert_eq!(
        dec(&fp(4, BigEndian, false, 0, 32), &[0, 0, 1, 2]),
        Value::Int(258)
    );
    // n-bit: 5 bits at offset 3, signed
    assert_eq!(
        dec(&fp(2, LittleEndian, true, 3, 5), &[0b1111_1000, 0]),
        Value::Int(-1)
    );
    assert_eq!(
        dec(&fp(2, LittleEndian, true, 3, 5), &[0b0111_1000, 0xff]),
        Value::Int(15)
    );
    // 3-byte big-endian signed
    assert_eq!(
        dec(&fp(3, BigEndian, true, 0, 24), &[0xff, 0xff, 0xfe]),
        Value::Int(-2)
    );
    // 16-byte unsigned max is beyond i128
    assert_eq!(
        dec(&fp(16, LittleEndian, false, 0, 128), &[0xff; 16]),
        Value::BigInt(u128::MAX.to_string())
    );
    assert_eq!(
        dec(&fp(16, LittleEndian, true, 0, 128), &[0xff; 16]),
        Value::Int(-1)
    );
    // 1000-byte integers
    let mut b = vec![0u8; 1000];
    b[0] = 7;
    assert_eq!(
        dec(&fp(1000, LittleEndian, true, 0, 8000), &b),
        Value::Int(7)
    );
    let b = vec![0xffu8; 1000];
    assert_eq!(
        dec(&fp(1000, LittleEndian, true, 0, 8000), &b),
        Value::Int(-1)
    );
    let mut b = vec![0u8; 1000];
    b[20] = 1; // 2^160
    assert_eq!(
        dec(&fp(1000, LittleEndian, false, 0, 8000), &b),
        Value::BigInt("1461501637330902918203684832716283019655932542976".into())
    );
    let mut b = vec![0xffu8; 1000];
    b[20] = 0xff ^ 1;
    b[0] = 0;
    // -(2^160) in two's complement: ...fe ff.. 00 -> check sign
    let v = dec(&fp(1000, LittleEndian, true, 0, 8000), &b);
    assert!(
        matches!(v, Value::BigInt(ref s) if s.starts_with('-')),
        "{v:?}"
    );
}

#[test]
fn fast_path_matches_slow_path() {
    use ByteOrder::*;
    let empty: Vec<u8> = Vec::new();
    let mut d = Decoder::new(Ctx::new(&empty, Sizes::default()));
    let bytes: Vec<u8> = (0u8..48).map(|x| x.wrapping_mul(37)).collect();
    for t in [
        fp(2, BigEndian, true, 0, 16),
        fp(4, LittleEndian, true, 0, 32),
        fp(8, BigEndian, false, 0, 64),
        fp(3, LittleEndian, true, 0, 24),
    ] {
        let many = d.decode_many(&t, &bytes, 48 / t.size() as usize).unwrap();
        for (i, v) in many.iter().enumerate() {
            let s = t.size() as usize;
            assert_eq!(v, &d.decode(&t, &bytes[i * s..]).unwrap());
        }
    }
    assert!(d
        .decode_many(&fp(4, LittleEndian, true, 0, 32), &bytes, 13)
        .is_err());
}

#[test]
fn floats() {
    use ByteOrder::*;
    use MantissaNorm::*;
    let f64t = fl(8, LittleEndian, 63, 52, 11, 0, 52, 1023, Implied);
    for x in [0.0, -0.0, 1.5, -2.25e-310, 1e300, f64::MIN_POSITIVE] {
        assert_eq!(
            decode_float(&f64t, &x.to_le_bytes()).unwrap().to_bits(),
            x.to_bits()
        );
        assert_eq!(
            float_value(&f64t, &x.to_le_bytes()).unwrap().to_bits(),
            x.to_bits()
        );
    }
    assert!(decode_float(&f64t, &f64::NAN.to_le_bytes())
        .unwrap()
        .is_nan());
    assert_eq!(
        decode_float(&f64t, &f64::NEG_INFINITY.to_le_bytes()).unwrap(),
        f64::NEG_INFINITY
    );
    // half: 0x3c00 = 1.0, 0x0001 = 2^-24, 0x7bff = 65504
    let f16t = fl(2, LittleEndian, 15, 10, 5, 0, 10, 15, Implied);
    assert_eq!(float_value(&f16t, &0x3c00u16.to_le_bytes()).unwrap(), 1.0);
    assert_eq!(
        float_value(&f16t, &0x0001u16.to_le_bytes()).unwrap(),
        2f64.powi(-24)
    );
    assert_eq!(
        decode_float(&f16t, &0x7bffu16.to_le_bytes()).unwrap(),
        65504.0
    );
    // bfloat16 1.5 = 0x3fc0
    let bf = fl(2, LittleEndian, 15, 7, 8, 0, 7, 127, Implied);
    assert_eq!(float_value(&bf, &0x3fc0u16.to_le_bytes()).unwrap(), 1.5);
    // x87 80-bit in 16 bytes: 1.0 = exp 16383, mantissa 0x8000000000000000
    let x87 = FloatingPoint {
        precision: 80,
        ..fl(16, LittleEndian, 79, 64, 15, 0, 64, 16383, MsbSet)
    };
    let mut b = [0u8; 16];
    b[7] = 0x80;
    b[8] = 0xff;
    b[9] = 0x3f;
    assert_eq!(float_value(&x87, &b).unwrap(), 1.0);
    b[9] = 0xbf;
    b[8] = 0xff;
    assert_eq!(float_value(&x87, &b).unwrap(), -1.0);
    // x87 infinity
    b[8] = 0xff;
    b[9] = 0x7f;
    assert_eq!(float_value(&x87, &b).unwrap(), f64::INFINITY);
    // IEEE quad: 1/3 rounds to the f64 1/3
    let quad = fl(16, LittleEndian, 127, 112, 15, 0, 112, 16383, Implied);
    let third: u128 = (0x3ffdu128 << 112) | 0x5555_5555_5555_5555_5555_5555_5555u128;
    assert_eq!(float_value(&quad, &third.to_le_bytes()).unwrap(), 1.0 / 3.0);
    // quad overflow → inf, tiny → 0
    let big: u128 = 0x7ffe_u128 << 112;
    assert_eq!(
        float_value(&quad, &big.to_le_bytes()).unwrap(),
        f64::INFINITY
    );
    let tiny: u128 = 1u128 << 112;
    assert_eq!(float_value(&quad, &tiny.to_le_bytes()).unwrap(), 0.0);
    // big-endian f32
    let f32be = fl(4, BigEndian, 31, 23, 8, 0, 23, 127, Implied);
    assert_eq!(float_value(&f32be, &2.5f32.to_be_bytes()).unwrap(), 2.5);
}

#[test]
fn rounding_ties_to_even() {
    // 2^53 + 1 is a tie between 2^53 and 2^53 + 2 → 2^53
    assert_eq!(scale_to_f64((1u128 << 53) + 1, 0), 9007199254740992.0);
    // 2^53 + 3 → 2^53 + 4
    assert_eq!(scale_to_f64((1u128 << 53) + 3, 0), 9007199254740996.0);
    // subnormal boundary: 3 × 2^-1076 = 0.75 units → rounds to 1 unit
    assert_eq!(scale_to_f64(3, -1076), f64::from_bits(1));
    // exactly half a unit → even (0)
    assert_eq!(scale_to_f64(1, -1075), 0.0);
    assert_eq!(scale_to_f64(1, 1023), 2f64.powi(1023));
    assert_eq!(scale_to_f64(1, 1024), f64::INFINITY);
    assert_eq!(scale_to_f64(u128::MAX, -128), 1.0);
}

#[test]
fn vax_floats() {
    // VAX F-float 1.0: bias 129, implied; stored words swapped: bytes 80 40 00 00
    let vax = fl(
        4,
        ByteOrder::Vax,
        31,
        23,
        8,
        0,
        23,
        129,
        MantissaNorm::Implied,
    );
    assert_eq!(float_value(&vax, &[0x80, 0x40, 0, 0]).unwrap(), 1.0);
    assert_eq!(vax_permutation(8), vec![6, 7, 4, 5, 2, 3, 0, 1]);
    assert_eq!(vax_permutation(4), vec![2, 3, 0, 1]);
}

#[test]
fn strings_and_compounds() {
    assert_eq!(strip_string(StringPad::NullTerm, b"ab\0cd"), b"ab");
    assert_eq!(strip_string(StringPad::NullPad, b"ab\0c\0\0"), b"ab\0c");
    assert_eq!(strip_string(StringPad::SpacePad, b"ab  \0 "), b"ab  ");
    assert_eq!(strip_string(StringPad::SpacePad, b"ab \0\0"), b"ab ");
    let t = Datatype::Compound {
        size: 6,
        members: vec![
            CompoundMember {
                name: b"s".to_vec(),
                offset: 0,
                dtype: Datatype::String {
                    size: 4,
                    pad: StringPad::NullPad,
                    cset: CharSet::Ascii,
                },
            },
            CompoundMember {
                name: b"i".to_vec(),
                offset: 4,
                dtype: fp(2, ByteOrder::BigEndian, false, 0, 16),
            },
        ],
    };
    assert_eq!(
        dec(&t, b"hi\0\0\x01\x02"),
        Value::Compound(vec![
            (b"s".to_vec(), Value::String(b"hi".to_vec())),
            (b"i".to_vec(), Value::Int(258))
        ])
    );
}

/// A file image: a global heap collection at 0 holding `objs` (indices 1..).
fn heap_file(objs: &[&[u8]]) -> Vec<u8> {
    let mut v = b"GCOL\x01\0\0\0".to_vec();
    v.extend_from_slice(&0u64.to_le_bytes());
    for (i, obj) in objs.iter().enumerate() {
        v.extend_from_slice(&(i as u16 + 1).to_le_bytes());
        v.extend_from_slice(&[1, 0, 0, 0, 0, 0]);
        v.extend_from_slice(&(obj.len() as u64).to_le_bytes());
        v.extend_from_slice(obj);
        while !v.len().is_multiple_of(8) {
            v.push(0);
        }
    }
    v.extend_from_slice(&[0; 16]);
    let n = v.len() as u64;
    v[8..16].copy_from_slice(&n.to_le_bytes());
    v
}

fn vlen_elem(len: u32, addr: u64, index: u32) -> Vec<u8> {
    let mut e = len.to_le_bytes().to_vec();
    e.extend_from_slice(&addr.to_le_bytes());
    e.extend_from_slice(&index.to_le_bytes());
    e
}

#[test]
fn vlen_and_region_refs() {
    // region object: address 0x1234, hyperslab v1 with one block (2,2)-(7,7) in rank 2
    let mut reg = 0x1234u64.to_le_bytes().to_vec();
    for x in [2u32, 1, 0, 0, 2, 1, 2, 2, 7, 7] {
        reg.extend_from_slice(&x.to_le_bytes());
    }
    let file = heap_file(&[b"hello\0", &[1, 0, 2, 0, 3, 0], &reg]);
    let ctx = Ctx::new(&file, Sizes::default());
    let mut d = Decoder::new(ctx);
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
    // a collection address of 0 is an empty element
    assert_eq!(
        d.decode(&vs, &vlen_elem(6, 0, 1)).unwrap(),
        Value::String(Vec::new())
    );
    let seq = Datatype::VarLenSequence {
        size: 16,
        base: Box::new(fp(2, ByteOrder::LittleEndian, false, 0, 16)),
    };
    // the heap is at address 0, which means "null": place it elsewhere to test the sequence
    let mut file2 = vec![0u8; 8];
    file2.extend_from_slice(&file);
    let ctx2 = Ctx::new(&file2, Sizes::default());
    let mut d2 = Decoder::new(ctx2);
    assert_eq!(
        d2.decode(&vs, &vlen_elem(6, 8, 1)).unwrap(),
        Value::String(b"hello".to_vec())
    );
    assert_eq!(
        d2.decode(&seq, &vlen_elem(3, 8, 2)).unwrap(),
        Value::VarLen(vec![Value::Int(1), Value::Int(2), Value::Int(3)])
    );
    assert_eq!(
        d2.decode(&seq, &vlen_elem(3, 0, 2)).unwrap(),
        Value::VarLen(vec![])
    );
    assert!(d2.decode(&seq, &vlen_elem(4, 8, 2)).is_err());
    let rt = Datatype::Reference {
        size: 12,
        kind: ReferenceKind::Region,
    };
    let mut e = 8u64.to_le_bytes().to_vec();
    e.extend_from_slice(&3u32.to_le_bytes());
    let v = d2.decode(&rt, &e).unwrap();
    let Value::RegionRef(Some(r)) = v else {
        panic!("{v:?}")
    };
    assert_eq!(r.target, 0x1234);
    assert_eq!(r.selection.npoints(), Some(36));
    assert_eq!(
        r.selection.regular(),
        Some([vec![2, 2], vec![1, 1], vec![1, 1], vec![6, 6]])
    );
    assert_eq!(d2.decode(&rt, &[0; 12]).unwrap(), Value::RegionRef(None));
    let _ = d;
}

#[test]
fn selections() {
    let parse = |b: &[u8]| Selection::parse(&mut Cursor::new(b, 0, "sel", Sizes::default()));
    let mut b = Vec::new();
    // points v1: rank 2, 3 points
    for x in [1u32, 1, 0, 0, 2, 3, 0, 1, 5, 6, 2, 2] {
        b.extend_from_slice(&x.to_le_bytes());
    }
    let s = parse(&b).unwrap();
    assert_eq!(s.npoints(), Some(3));
    assert_eq!(
        s.points(1000).unwrap(),
        vec![vec![0, 1], vec![5, 6], vec![2, 2]]
    );
    assert_eq!(s.regular(), None);
    // hyperslab v2 regular: start 0, stride 2, count 2, block 1; dim 2 contiguous stride 3 count 2 block 3
    let mut b = 2u32.to_le_bytes().to_vec();
    b.extend_from_slice(&2u32.to_le_bytes());
    b.push(1);
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&2u32.to_le_bytes());
    for x in [0u64, 2, 2, 1, 1, 3, 2, 3] {
        b.extend_from_slice(&x.to_le_bytes());
    }
    let s = parse(&b).unwrap();
    assert_eq!(
        s.regular(),
        Some([vec![0, 1], vec![2, 1], vec![2, 1], vec![1, 6]])
    );
    assert_eq!(s.npoints(), Some(12));
    assert_eq!(s.points(1000).unwrap().len(), 12);
    assert_eq!(s.points(1000).unwrap()[0], vec![0, 1]);
    // irregular blocks (v3, width 2): two 1-D blocks [0..1] and [5..5]
    let mut b = 2u32.to_le_bytes().to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&[0, 2]);
    b.extend_from_slice(&1u32.to_le_bytes());
    for x in [2u16, 0, 1, 5, 5] {
        b.extend_from_slice(&x.to_le_bytes());
    }
    let s = parse(&b).unwrap();
    assert_eq!(s.regular(), None);
    assert_eq!(s.npoints(), Some(3));
    assert_eq!(s.points(1000).unwrap(), vec![vec![0], vec![1], vec![5]]);
    // huge counts are refused before allocating
    let mut b = 1u32.to_le_bytes().to_vec();
    for x in [1u32, 0, 0, 1, u32::MAX] {
        b.extend_from_slice(&x.to_le_bytes());
    }
    assert!(parse(&b).is_err());
}

#[test]
fn empty_hyperslab_dimension_selects_nothing_at_once() {
    // block 0 in the first dimension, a count near 2^62 in the second: no points, no loop.
    let sel = Selection::Regular {
        start: vec![0, 0],
        stride: vec![1, 1],
        count: vec![5, 1 << 62],
        block: vec![0, 1],
    };
    assert_eq!(sel.points(1000), Some(Vec::new()));
    assert_eq!(sel.npoints(), Some(0));
}

#[test]
fn rank_zero_selection_lists_are_bounded() {
    let s = Sizes {
        offset: 8,
        length: 8,
    };
    // hyperslab v3, flags 0, width 4, rank 0, 2^31 blocks: needs no bytes but must not loop.
    let mut b = vec![2, 0, 0, 0, 3, 0, 0, 0, 0, 4, 0, 0, 0, 0];
    b.extend_from_slice(&(1u32 << 31).to_le_bytes());
    let e = Selection::parse(&mut Cursor::new(&b, 0, "selection", s)).unwrap_err();
    assert_eq!(e.kind(), "corrupt");
    // points v2, width 4, rank 0, 2^31 points.
    let mut b = vec![1, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 0];
    b.extend_from_slice(&(1u32 << 31).to_le_bytes());
    let e = Selection::parse(&mut Cursor::new(&b, 0, "selection", s)).unwrap_err();
    assert_eq!(e.kind(), "corrupt");
    // one rank-0 point (a scalar's) still parses.
    let mut b = vec![1, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 0];
    b.extend_from_slice(&1u32.to_le_bytes());
    let sel = Selection::parse(&mut Cursor::new(&b, 0, "selection", s)).unwrap();
    assert!(matches!(sel, Selection::Points { rank: 0, ref points } if points.len() == 1));
}
