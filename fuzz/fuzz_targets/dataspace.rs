//! Fuzz target `dataspace`: The Dataspace message.
//! Body and input layout: `h5oxide_fuzz::targets::dataspace`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = h5oxide_fuzz::dataspace(data);
});
