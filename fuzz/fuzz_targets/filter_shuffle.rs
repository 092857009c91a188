//! Fuzz target `filter_shuffle`: the shuffle filter's `decode` (HDF5 filter id 2).
//! Body and input layout: `h5oxide_fuzz::targets::filter`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = h5oxide_fuzz::filter(2, data);
});
