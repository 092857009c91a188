//! Fuzz target `value`: whole input is also the file image heap references point into.
//! Body and input layout: `h5oxide_fuzz::targets::value`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = h5oxide_fuzz::value(data);
});
