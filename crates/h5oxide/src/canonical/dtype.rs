//! TEMPORARY STUB (replaced by the dtype branch).
use h5oxide_format::datatype::Datatype;
use h5oxide_format::value::Value;

use super::json::Json;
/// Stub.
pub fn dtype_json(_d: &Datatype) -> Json {
    Json::Null
}
/// Stub.
pub fn value_json(_v: &Value, _r: &mut dyn FnMut(u64) -> Json) -> Json {
    Json::Null
}
/// Stub.
pub fn sha256_normalize(_d: &Datatype, b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b)
}
/// Stub.
pub fn is_raw_hashable(_d: &Datatype) -> bool {
    true
}
/// Stub.
pub fn leaves(_d: &Datatype) -> u64 {
    1
}
