//! N-bit filter, HDF5 filter id **5** (`H5Z_FILTER_NBIT`).
//!
//! Packs only the significant bits (`precision` bits starting at bit `offset`) of every
//! integer or floating-point value, back to back, most significant bit first; compound and
//! array types are walked member by member, and members of other classes ("no-op" types) are
//! copied whole, 8 bits per byte, through the same bit stream. On decode every bit outside the
//! significant range is 0: the caller's datatype conversion (precision/offset/sign extension)
//! is what turns the result into memory values, exactly as with libhdf5.
//!
//! `cd_values` (filled in by libhdf5's `set_local` from the datatype):
//! `[0]` number of `cd_values`, `[1]` 1 when nothing needs packing (the chunk is stored as is),
//! `[2]` number of elements in a chunk, then a recursive datatype description starting with a
//! class code at `[3]` (its size is at `[4]`):
//! - atomic (1): size, byte order (0 little-, 1 big-endian), precision, offset;
//! - array (2): total size, then the base type's description;
//! - compound (3): size, number of members, then per member its byte offset followed by its
//!   description;
//! - no-op (4): size.
//!
//! Like libhdf5, after an array whose base type is itself an array or a compound, the
//! description is resumed at the start of that base type's description (libhdf5's encoder
//! and decoder both walk the parameters this way, so the same walk is needed to stay in step).
//!
//! References: HDF5 User Guide, "Using the N-bit Filter" (`H5Pset_nbit`); RFC
//! "HDF5 N-bit Filter" (The HDF Group, 2005).
//! Known incompatibilities: none known.

use crate::{cd, check_claimed, corrupt, Error, Filter, Result};

/// The n-bit filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nbit;

const NAME: &str = "filter nbit";
const ATOMIC: u32 = 1;
const ARRAY: u32 = 2;
const COMPOUND: u32 = 3;
const NOOP: u32 = 4;
const MAX_DEPTH: usize = 32;

/// A datatype as the n-bit filter sees it.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Atomic {
        size: usize,
        be: bool,
        precision: u32,
        offset: u32,
    },
    /// `count` repetitions of `base`, each `stride` bytes apart.
    Array {
        count: usize,
        stride: usize,
        base: Box<Node>,
    },
    Compound {
        members: Vec<(usize, Node)>,
    },
    Noop {
        size: usize,
    },
}

struct Params<'a> {
    cd: &'a [u32],
    idx: usize,
}

impl Params<'_> {
    fn next(&mut self) -> Result<u32> {
        let v = self.peek()?;
        self.idx += 1;
        Ok(v)
    }
    fn peek(&self) -> Result<u32> {
        cd(self.cd, self.idx, NAME)
    }

    fn atomic(&mut self) -> Result<Node> {
        let size = self.next()? as usize;
        let be = self.next()? == 1;
        let precision = self.next()?;
        let offset = self.next()?;
        let bits = (size as u64) * 8;
        if u64::from(precision) > bits || u64::from(precision) + u64::from(offset) > bits {
            return Err(corrupt(
                NAME,
                format!("invalid precision {precision} / offset {offset} for size {size}"),
            ));
        }
        Ok(Node::Atomic {
            size,
            be,
            precision,
            offset,
        })
    }

    /// An array description (cursor at its total size).
    fn array(&mut self, depth: usize) -> Result<Node> {
        if depth > MAX_DEPTH {
            return Err(corrupt(NAME, "datatype description nested too deeply"));
        }
        let total = self.next()? as usize;
        let class = self.next()?;
        match class {
            ATOMIC => {
                let size = self.peek()? as usize;
                let base = self.atomic()?;
                if size == 0 {
                    return Err(corrupt(NAME, "zero-sized array base type"));
                }
                Ok(Node::Array {
                    count: total / size,
                    stride: size,
                    base: Box::new(base),
                })
            }
            ARRAY | COMPOUND => {
                let base_size = self.peek()? as usize;
                if base_size == 0 {
                    return Err(corrupt(NAME, "zero-sized array base type"));
                }
                let begin = self.idx;
                let base = if class == ARRAY {
                    self.array(depth + 1)?
                } else {
                    self.compound(depth + 1)?
                };
                // libhdf5 resumes at the start of the base description (see module docs).
                self.idx = begin;
                Ok(Node::Array {
                    count: total / base_size,
                    stride: base_size,
                    base: Box::new(base),
                })
            }
            NOOP => {
                self.next()?;
                Ok(Node::Noop { size: total })
            }
            c => Err(corrupt(NAME, format!("unknown datatype class code {c}"))),
        }
    }

    /// A compound description (cursor at its size).
    fn compound(&mut self, depth: usize) -> Result<Node> {
        if depth > MAX_DEPTH {
            return Err(corrupt(NAME, "datatype description nested too deeply"));
        }
        let size = self.next()? as u64;
        let nmembers = self.next()?;
        let mut members = Vec::new();
        let mut used = 0u64;
        for _ in 0..nmembers {
            let offset = self.next()? as usize;
            let class = self.next()?;
            used += u64::from(self.peek()?);
            if used > size {
                return Err(corrupt(NAME, "compound members overflow the compound size"));
            }
            let node = match class {
                ATOMIC => self.atomic()?,
                ARRAY => self.array(depth + 1)?,
                COMPOUND => self.compound(depth + 1)?,
                NOOP => Node::Noop {
                    size: self.next()? as usize,
                },
                c => return Err(corrupt(NAME, format!("unknown datatype class code {c}"))),
            };
            members.push((offset, node));
        }
        Ok(Node::Compound { members })
    }
}

/// Reads bits most significant first.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn read(&mut self, bits: u32) -> Result<u64> {
        let mut v = 0u64;
        let mut left = bits;
        while left > 0 {
            let byte = *self
                .data
                .get(self.pos / 8)
                .ok_or_else(|| corrupt(NAME, "packed data is truncated"))?;
            let avail = 8 - (self.pos % 8) as u32;
            let take = avail.min(left);
            v = (v << take) | ((u64::from(byte) >> (avail - take)) & ((1u64 << take) - 1));
            left -= take;
            self.pos += take as usize;
        }
        Ok(v)
    }
}

fn slot(out: &mut [u8], at: usize, len: usize) -> Result<&mut [u8]> {
    at.checked_add(len)
        .and_then(|end| out.get_mut(at..end))
        .ok_or_else(|| corrupt(NAME, "member lies outside the element"))
}

fn decode_node(node: &Node, out: &mut [u8], at: usize, bits: &mut Bits<'_>) -> Result<()> {
    match node {
        Node::Atomic {
            size,
            be,
            precision,
            offset,
        } => {
            let dst = slot(out, at, *size)?;
            if *size <= 8 {
                let v = bits.read(*precision)?.checked_shl(*offset).unwrap_or(0);
                let le = v.to_le_bytes();
                write_le(dst, &le, *be);
            } else {
                // Wide types (e.g. long double): place bit by bit, most significant first.
                for b in (u64::from(*offset)..u64::from(*offset) + u64::from(*precision)).rev() {
                    let bit = bits.read(1)? as u8;
                    let byte = (b / 8) as usize;
                    let i = if *be { size - 1 - byte } else { byte };
                    if let Some(d) = dst.get_mut(i) {
                        *d |= bit << (b % 8);
                    }
                }
            }
        }
        Node::Array {
            count,
            stride,
            base,
        } => {
            for k in 0..*count {
                decode_node(base, out, at + k * stride, bits)?;
            }
        }
        Node::Compound { members } => {
            for (offset, m) in members {
                decode_node(
                    m,
                    out,
                    at.checked_add(*offset)
                        .ok_or_else(|| corrupt(NAME, "offset overflow"))?,
                    bits,
                )?;
            }
        }
        Node::Noop { size } => {
            let dst = slot(out, at, *size)?;
            for d in dst {
                *d = bits.read(8)? as u8;
            }
        }
    }
    Ok(())
}

/// Writes the low `dst.len()` bytes of a little-endian value in the requested order.
fn write_le(dst: &mut [u8], le: &[u8; 8], be: bool) {
    let n = dst.len();
    for (i, d) in dst.iter_mut().enumerate() {
        let src = if be { n - 1 - i } else { i };
        *d = le.get(src).copied().unwrap_or(0);
    }
}

/// Parses the datatype description of `cd_values` (from index 3).
fn parse(cd_values: &[u32]) -> Result<Node> {
    let mut p = Params {
        cd: cd_values,
        idx: 3,
    };
    match p.next()? {
        ATOMIC => p.atomic(),
        ARRAY => p.array(0),
        COMPOUND => p.compound(0),
        c => Err(corrupt(
            NAME,
            format!("unsupported top-level class code {c}"),
        )),
    }
}

impl Filter for Nbit {
    fn id(&self) -> u16 {
        5
    }
    fn name(&self) -> &str {
        "nbit"
    }
    fn decode(&self, input: &[u8], cd_values: &[u32], size_hint: usize) -> Result<Vec<u8>> {
        let n = cd(cd_values, 0, NAME)?;
        if n as usize != cd_values.len() {
            return Err(corrupt(
                NAME,
                format!(
                    "cd_values[0] = {n} but there are {} values",
                    cd_values.len()
                ),
            ));
        }
        if cd(cd_values, 1, NAME)? != 0 {
            return Ok(input.to_vec());
        }
        let nelmts = cd(cd_values, 2, NAME)? as u64;
        let size = cd(cd_values, 4, NAME)? as u64;
        let out_len = check_claimed("nbit chunk size", nelmts.saturating_mul(size), size_hint)?;
        let node = parse(cd_values)?;
        if size == 0 {
            return Err(corrupt(NAME, "zero element size"));
        }
        let size = size as usize;
        let mut out = vec![0u8; out_len];
        let mut bits = Bits {
            data: input,
            pos: 0,
        };
        for e in 0..nelmts as usize {
            decode_node(&node, &mut out, e * size, &mut bits)?;
        }
        Ok(out)
    }

    fn encode(&self, input: &[u8], cd_values: &[u32]) -> Result<Vec<u8>> {
        encode(input, cd_values)
    }
}

/// Appends bits most significant first.
struct BitSink {
    out: Vec<u8>,
    /// Bits used in the last byte (0..8); a new byte is started when it is 8.
    used: u32,
}

impl BitSink {
    fn put(&mut self, v: u64, bits: u32) {
        let mut left = bits;
        while left > 0 {
            if self.used == 8 {
                self.out.push(0);
                self.used = 0;
            }
            let take = (8 - self.used).min(left);
            let chunk = ((v >> (left - take)) & ((1u64 << take) - 1)) as u8;
            if let Some(last) = self.out.last_mut() {
                *last |= chunk << (8 - self.used - take);
            }
            self.used += take;
            left -= take;
        }
    }
}

fn encode_node(node: &Node, data: &[u8], at: usize, sink: &mut BitSink) -> Result<()> {
    let get = |len: usize| {
        at.checked_add(len)
            .and_then(|end| data.get(at..end))
            .ok_or_else(|| Error::Invalid("nbit: member lies outside the element".into()))
    };
    match node {
        Node::Atomic {
            size,
            be,
            precision,
            offset,
        } => {
            let src = get(*size)?;
            if *size <= 8 {
                let mut le = [0u8; 8];
                for (i, b) in src.iter().enumerate() {
                    let at = if *be { size - 1 - i } else { i };
                    if let Some(slot) = le.get_mut(at) {
                        *slot = *b;
                    }
                }
                let v = u64::from_le_bytes(le).checked_shr(*offset).unwrap_or(0);
                sink.put(v, *precision);
            } else {
                for b in (u64::from(*offset)..u64::from(*offset) + u64::from(*precision)).rev() {
                    let byte = (b / 8) as usize;
                    let i = if *be { size - 1 - byte } else { byte };
                    let bit = src.get(i).map_or(0, |x| (x >> (b % 8)) & 1);
                    sink.put(u64::from(bit), 1);
                }
            }
        }
        Node::Array {
            count,
            stride,
            base,
        } => {
            for k in 0..*count {
                encode_node(base, data, at + k * stride, sink)?;
            }
        }
        Node::Compound { members } => {
            for (offset, m) in members {
                let at = at
                    .checked_add(*offset)
                    .ok_or_else(|| Error::Invalid("nbit: offset overflow".into()))?;
                encode_node(m, data, at, sink)?;
            }
        }
        Node::Noop { size } => {
            for b in get(*size)? {
                sink.put(u64::from(*b), 8);
            }
        }
    }
    Ok(())
}

/// Packs a chunk. Like libhdf5, the output is one byte longer than the whole bytes of packed
/// bits (`floor(bits / 8) + 1`).
fn encode(input: &[u8], cd_values: &[u32]) -> Result<Vec<u8>> {
    let n = cd(cd_values, 0, NAME)?;
    if n as usize != cd_values.len() {
        return Err(corrupt(
            NAME,
            format!(
                "cd_values[0] = {n} but there are {} values",
                cd_values.len()
            ),
        ));
    }
    if cd(cd_values, 1, NAME)? != 0 {
        return Ok(input.to_vec());
    }
    let nelmts = cd(cd_values, 2, NAME)? as usize;
    let size = cd(cd_values, 4, NAME)? as usize;
    if size == 0 || nelmts.checked_mul(size) != Some(input.len()) {
        return Err(Error::Invalid(format!(
            "nbit: {} bytes is not {nelmts} elements of {size} bytes",
            input.len()
        )));
    }
    let node = parse(cd_values)?;
    let mut sink = BitSink {
        out: vec![0],
        used: 0,
    };
    for e in 0..nelmts {
        encode_node(&node, input, e * size, &mut sink)?;
    }
    if sink.used == 8 {
        sink.out.push(0);
    }
    Ok(sink.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_le_and_be() {
        // 4 values of a 2-byte type, precision 5 at offset 3: 0b10101, 0b00001, 0b11111, 0
        // packed: 10101 00001 11111 00000 → 1010 1000 0111 1110 0000 (+ pad)
        let packed = [0b1010_1000, 0b0111_1110, 0b0000_0000, 0];
        let cdv = [8, 0, 4, ATOMIC, 2, 0, 5, 3];
        let out = Nbit.decode(&packed, &cdv, 8).unwrap();
        let vals: Vec<u16> = out
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(vals, vec![0b10101 << 3, 1 << 3, 0b11111 << 3, 0]);
        let cdv = [8, 0, 4, ATOMIC, 2, 1, 5, 3];
        let out = Nbit.decode(&packed, &cdv, 8).unwrap();
        assert_eq!(&out[..2], &(0b10101u16 << 3).to_be_bytes());
        assert!(Nbit.decode(&packed[..1], &cdv, 8).is_err());
        assert!(Nbit
            .decode(&packed, &[8, 0, 4, ATOMIC, 2, 0, 15, 3], 8)
            .is_err());
        assert!(Nbit
            .decode(&packed, &[7, 0, 4, ATOMIC, 2, 0, 5, 3], 8)
            .is_err());
        assert_eq!(
            Nbit.decode(&packed, &[8, 1, 4, ATOMIC, 2, 0, 5, 3], 8)
                .unwrap(),
            packed
        );
    }

    #[test]
    fn compound_with_array_and_noop() {
        // struct { u8 a (4 bits @0); u8 b[2] (3 bits @1); opaque c[1] } size 4, one element.
        let cdv = vec![
            0, 0, 1, COMPOUND, 4, 3, // size 4, 3 members
            0, ATOMIC, 1, 0, 4, 0, // a
            1, ARRAY, 2, ATOMIC, 1, 0, 3, 1, // b
            3, NOOP, 1, // c
        ];
        let mut cdv = cdv;
        cdv[0] = cdv.len() as u32;
        // bits: a=1001, b0=101, b1=011, c=0xA5 → 1001 101 011 10100101 → 10011010 11101001 01
        let packed = [0b1001_1010, 0b1110_1001, 0b0100_0000];
        let out = Nbit.decode(&packed, &cdv, 4).unwrap();
        assert_eq!(out, vec![0b1001, 0b101 << 1, 0b011 << 1, 0xA5]);
    }

    #[test]
    fn encode_round_trip() {
        let cdv = vec![
            23, 0, 3, COMPOUND, 4, 3, 0, ATOMIC, 1, 0, 4, 0, 1, ARRAY, 2, ATOMIC, 1, 0, 3, 1, 3,
            NOOP, 1,
        ];
        let data = vec![
            0b1001,
            0b101 << 1,
            0b011 << 1,
            0xA5,
            3,
            2,
            4,
            0x11,
            15,
            14,
            0,
            0xff,
        ];
        let z = Nbit.encode(&data, &cdv).unwrap();
        assert_eq!(&z[..2], &[0b1001_1010, 0b1110_1001]);
        assert_eq!(Nbit.decode(&z, &cdv, data.len()).unwrap(), data);
        let cdv = [8, 0, 5, ATOMIC, 2, 1, 11, 2];
        let vals: Vec<u8> = [5u16, 2047, 0, 1000, 77]
            .iter()
            .flat_map(|v| (v << 2).to_be_bytes())
            .collect();
        let z = Nbit.encode(&vals, &cdv).unwrap();
        assert_eq!(z.len(), 55 / 8 + 1);
        assert_eq!(Nbit.decode(&z, &cdv, vals.len()).unwrap(), vals);
        assert!(Nbit.encode(&vals[..9], &cdv).is_err());
    }

    #[test]
    fn hostile_parameters() {
        for cdv in [
            vec![5, 0, 1, COMPOUND, 4],
            vec![6, 0, 1, ARRAY, 4, ARRAY],
            vec![9, 0, 1, ARRAY, 4, ARRAY, 0, ATOMIC, 1],
            vec![8, 0, u32::MAX, ATOMIC, u32::MAX, 0, 8, 0],
            vec![6, 0, 1, 9, 4, 0],
        ] {
            assert!(Nbit.decode(&[0; 16], &cdv, 16).is_err(), "{cdv:?}");
        }
        // Deep nesting is bounded.
        let mut cdv = vec![0, 0, 1, ARRAY];
        for _ in 0..100 {
            cdv.extend([4, ARRAY]);
        }
        let len = cdv.len() as u32;
        cdv[0] = len;
        assert!(Nbit.decode(&[0; 16], &cdv, 16).is_err());
    }
}
