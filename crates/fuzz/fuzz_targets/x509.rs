#![no_main]
//! See `evergreen_core::fuzzing::x509`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| evergreen_core::fuzzing::x509(data));
