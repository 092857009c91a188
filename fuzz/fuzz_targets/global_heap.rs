//! Fuzz target `global_heap`; input layout: `h5oxide_fuzz::targets::global_heap`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = h5oxide_fuzz::global_heap(data);
});
