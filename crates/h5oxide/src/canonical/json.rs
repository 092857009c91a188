//! A JSON value and the exact serializer CANONICAL.md §1 prescribes.

use std::collections::BTreeMap;

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
