#![no_main]
//! See `evergreen_core::fuzzing::config`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| evergreen_core::fuzzing::config(data));
