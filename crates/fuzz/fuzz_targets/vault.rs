#![no_main]
//! See `evergreen_core::fuzzing::vault`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| evergreen_core::fuzzing::vault(data));
