//! Fill value messages: old 0x04 (spec §IV.A.2.e) and 0x05 versions 1–3 (§IV.A.2.f).

use crate::cursor::Cursor;
use crate::{Error, Result};

/// When storage space is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocTime {
    /// When the dataset is created.
    Early,
    /// When data is first written.
    Late,
    /// Chunk by chunk as written.
    Incremental,
}

/// When the fill value is written into newly allocated storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillTime {
    /// On allocation.
    Alloc,
    /// Never.
    Never,
    /// Only if the user set a value.
    IfSet,
}

/// Whether a fill value is defined, and by whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillStatus {
    /// No fill value is defined.
    Undefined,
    /// The library default (zero bytes).
    Default,
    /// A value set by the user.
    User,
}

/// A decoded fill value message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillValue {
    /// Allocation time (`None` when the message does not say, e.g. the old message).
    pub alloc_time: Option<AllocTime>,
    /// Fill write time.
    pub fill_time: FillTime,
    /// Status of the value.
    pub status: FillStatus,
    /// The value's bytes (in the dataset's file datatype), when the status is `User`.
    pub value: Option<Vec<u8>>,
}

fn alloc_time(v: u8, c: &Cursor<'_>) -> Result<Option<AllocTime>> {
    Ok(match v {
        0 => None,
        1 => Some(AllocTime::Early),
        2 => Some(AllocTime::Late),
        3 => Some(AllocTime::Incremental),
        _ => return Err(c.corrupt(format!("allocation time {v}"))),
    })
}

fn fill_time(v: u8, c: &Cursor<'_>) -> Result<FillTime> {
    Ok(match v {
        0 => FillTime::Alloc,
        1 => FillTime::Never,
        2 => FillTime::IfSet,
        _ => return Err(c.corrupt(format!("fill time {v}"))),
    })
}

impl FillValue {
    /// Decodes a Fill Value message (0x05).
    pub fn decode(c: &mut Cursor<'_>) -> Result<FillValue> {
        let version = c.u8()?;
        match version {
            1 | 2 => {
                let at = alloc_time(c.u8()?, c)?;
                let ft = fill_time(c.u8()?, c)?;
                let defined = c.u8()?;
                let mut value = None;
                if version == 1 || defined != 0 {
                    // In v1 the size is present even when undefined (lib tolerates a missing one).
                    if c.remaining() >= 4 {
                        let size = c.u32()? as usize;
                        if size > 0 {
                            value = Some(c.bytes(size)?.to_vec());
                        }
                    }
                }
                let status = match (defined, &value) {
                    (0, _) => FillStatus::Undefined,
                    (_, Some(_)) => FillStatus::User,
                    (_, None) => FillStatus::Default,
                };
                let value = if status == FillStatus::User {
                    value
                } else {
                    None
                };
                Ok(FillValue {
                    alloc_time: at,
                    fill_time: ft,
                    status,
                    value,
                })
            }
            3 => {
                let flags = c.u8()?;
                let at = alloc_time(flags & 0x03, c)?;
                let ft = fill_time((flags >> 2) & 0x03, c)?;
                if flags & 0x10 != 0 {
                    return Ok(FillValue {
                        alloc_time: at,
                        fill_time: ft,
                        status: FillStatus::Undefined,
                        value: None,
                    });
                }
                if flags & 0x20 != 0 {
                    let size = c.u32()? as usize;
                    if size == 0 {
                        return Ok(FillValue {
                            alloc_time: at,
                            fill_time: ft,
                            status: FillStatus::Default,
                            value: None,
                        });
                    }
                    let value = c.bytes(size)?.to_vec();
                    return Ok(FillValue {
                        alloc_time: at,
                        fill_time: ft,
                        status: FillStatus::User,
                        value: Some(value),
                    });
                }
                Ok(FillValue {
                    alloc_time: at,
                    fill_time: ft,
                    status: FillStatus::Default,
                    value: None,
                })
            }
            v => Err(Error::UnsupportedVersion {
                structure: "fill value message",
                version: v as u32,
            }),
        }
    }

    /// Decodes the old Fill Value message (0x04): a size and the value.
    pub fn decode_old(c: &mut Cursor<'_>) -> Result<FillValue> {
        let size = c.u32()? as usize;
        let value = if size > 0 {
            Some(c.bytes(size)?.to_vec())
        } else {
            None
        };
        let status = if value.is_some() {
            FillStatus::User
        } else {
            FillStatus::Default
        };
        Ok(FillValue {
            alloc_time: None,
            fill_time: FillTime::IfSet,
            status,
            value,
        })
    }
}
