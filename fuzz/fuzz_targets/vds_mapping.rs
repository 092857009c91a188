//! Fuzz target `vds_mapping`: The mapping block of a virtual dataset.
//! Body and input layout: `h5oxide_fuzz::targets::vds_mapping`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = h5oxide_fuzz::vds_mapping(data);
});
