//! Fuzz target `whole_file`: any byte sequence as a whole file, opened in memory and walked
//! entirely (every link, attribute and dataset value), as `h5oxide dump --canonical` does.
//! Body: `h5oxide_fuzz::targets::whole_file`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = h5oxide_fuzz::whole_file(data);
});
