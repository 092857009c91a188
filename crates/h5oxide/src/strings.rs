//! Reading string elements (fixed-length and variable-length) as Rust `String`s.

use std::sync::Arc;

use h5oxide_format::datatype::{Datatype, StringPad};
use h5oxide_format::{Error, Result};

use crate::file::FileInner;

/// Strips fixed-string padding as h5py shows it (CANONICAL §8).
pub(crate) fn unpad(bytes: &[u8], pad: StringPad) -> &[u8] {
    match pad {
        StringPad::NullTerm => bytes.split(|&b| b == 0).next().unwrap_or(&[]),
        StringPad::NullPad => {
            let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
            bytes.get(..end).unwrap_or(&[])
        }
        StringPad::SpacePad => {
            let end = bytes.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1);
            let s = bytes.get(..end).unwrap_or(&[]);
            let end = s.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
            s.get(..end).unwrap_or(&[])
        }
    }
}

/// Decodes every element of a string datatype.
pub(crate) fn read_strings(
    file: &Arc<FileInner>,
    dtype: &Datatype,
    data: &[u8],
) -> Result<Vec<String>> {
    match dtype {
        Datatype::String { size, pad, .. } => {
            let size = *size as usize;
            if size == 0 {
                return Ok(Vec::new());
            }
            Ok(data
                .chunks_exact(size)
                .map(|c| String::from_utf8_lossy(unpad(c, *pad)).into_owned())
                .collect())
        }
        Datatype::VarLenString { .. } => {
            let ctx = file.ctx();
            let size = dtype.size() as usize;
            let mut out = Vec::new();
            // One decoder for all elements: its global heap cache reads and parses each
            // collection once, instead of once per string.
            let mut dec = h5oxide_format::value::Decoder::new(ctx);
            for c in data.chunks_exact(size.max(1)) {
                let v = dec.decode(dtype, c)?;
                match v {
                    h5oxide_format::value::Value::String(b) => {
                        out.push(String::from_utf8_lossy(&b).into_owned())
                    }
                    other => {
                        return Err(Error::Invalid(format!("unexpected string value {other:?}")))
                    }
                }
            }
            Ok(out)
        }
        _ => Err(Error::Invalid("not a string datatype".into())),
    }
}
