#![no_main]
//! See `evergreen_core::fuzzing::fleet`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| evergreen_core::fuzzing::fleet(data));
