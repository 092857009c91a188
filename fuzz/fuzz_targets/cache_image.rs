//! Fuzz target `cache_image`; input layout: `h5oxide_fuzz::targets::cache_image`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = h5oxide_fuzz::cache_image(data);
});
