//! Fuzz target `superblock`: The superblock search and decoder.
//! Body and input layout: `h5oxide_fuzz::targets::superblock`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = h5oxide_fuzz::superblock(data);
});
