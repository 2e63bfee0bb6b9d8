//! libFuzzer target: the monitor socket protocol decoder.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    runoci_fuzz::proto_decode(data);
});
