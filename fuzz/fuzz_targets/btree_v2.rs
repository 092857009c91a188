//! Fuzz target `btree_v2`; input layout: `h5oxide_fuzz::targets::btree_v2`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = h5oxide_fuzz::btree_v2(data);
});
