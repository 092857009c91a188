//! Fuzz target `object_header`: attributes: `[sizes][addr: u16][file image]`.
//! Body and input layout: `h5oxide_fuzz::targets::object_header`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = h5oxide_fuzz::object_header(data);
});
