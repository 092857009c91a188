//! Fuzz target `filter_pipeline`: The Filter Pipeline message.
//! Body and input layout: `h5oxide_fuzz::targets::filter_pipeline`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = h5oxide_fuzz::filter_pipeline(data);
});
