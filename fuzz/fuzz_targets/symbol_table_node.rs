//! Fuzz target `symbol_table_node`; input layout: `h5oxide_fuzz::targets::symbol_table_node`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = h5oxide_fuzz::symbol_table_node(data);
});
