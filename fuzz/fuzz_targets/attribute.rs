//! Fuzz target `attribute`: references of variable-length elements point into the input.
//! Body and input layout: `h5oxide_fuzz::targets::attribute`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = h5oxide_fuzz::attribute(data);
});
