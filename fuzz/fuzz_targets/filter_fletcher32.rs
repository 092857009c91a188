//! Fuzz target `filter_fletcher32`: the fletcher32 filter's `decode` (HDF5 filter id 3).
//! Body and input layout: `h5oxide_fuzz::targets::filter`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = h5oxide_fuzz::filter(3, data);
});
