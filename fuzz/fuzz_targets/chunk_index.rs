//! Fuzz target `chunk_index`; input layout: `h5oxide_fuzz::targets::chunk_index`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = h5oxide_fuzz::chunk_index(data);
});
