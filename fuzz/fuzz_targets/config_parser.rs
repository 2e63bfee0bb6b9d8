//! libFuzzer target: the config parser (and the seccomp compiler).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    runoci_fuzz::config_parser(data);
});
