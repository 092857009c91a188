//! Fuzz target `link_messages`; input layout: `h5oxide_fuzz::targets::link_messages`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = h5oxide_fuzz::link_messages(data);
});
