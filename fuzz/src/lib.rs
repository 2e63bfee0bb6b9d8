//! The fuzz targets' bodies, shared by the libFuzzer targets
//! (`fuzz_targets/`) and the stable-Rust driver (`src/bin/driver.rs`).
//!
//! Each returns a short "outcome" string (the kind of result, without the
//! input's own bytes) that the stable driver uses as a poor man's coverage
//! signal: an input that produces an outcome not seen before joins the
//! corpus.

/// The config parser: `runoci::spec::parse` on the bytes (as UTF-8, lossily,
/// so invalid UTF-8 still reaches the JSON parser), then, when the config
/// has `linux.seccomp`, the seccomp parser and compiler (not loaded).
pub fn config_parser(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    match runoci::spec::parse(&text, "fuzz") {
        Ok(spec) => {
            let seccomp = spec.linux.as_ref().and_then(|l| l.seccomp.as_ref());
            match seccomp.map(runoci::seccomp::parse) {
                None => "ok".into(),
                Some(Err(e)) => format!("ok/seccomp-parse:{}", shape(&e.to_string())),
                Some(Ok(s)) => match runoci::seccomp::build(&s) {
                    Ok(_) => "ok/seccomp-ok".into(),
                    Err(e) => format!("ok/seccomp-build:{}", shape(&e.to_string())),
                },
            }
        }
        Err(e) => format!("err:{}", shape(&e.to_string())),
    }
}

/// The monitor protocol decoder: `decode_request` on the bytes; a request
/// that decodes must encode and decode back to itself. Replies and events
/// go through their decoders too (the client reads those).
pub fn proto_decode(data: &[u8]) -> String {
    use runoci_proto::{decode_event, decode_reply, decode_request, encode_request};
    let _ = decode_reply(data);
    let _ = decode_event(data);
    match decode_request(data) {
        Ok(req) => {
            let again = decode_request(&encode_request(&req))
                .unwrap_or_else(|e| panic!("{req:?} encodes to a line that does not decode: {e}"));
            assert_eq!(again, req, "request does not round-trip");
            format!("ok:{}", req.name())
        }
        Err(e) => format!("err:{}", shape(&e.to_string())),
    }
}

/// The first three words of an error message, up to its first quote and
/// without digits: the kind of error and the field it is about, not the
/// input's text (which messages quote, or echo further on).
fn shape(msg: &str) -> String {
    let head: String = msg
        .chars()
        .take_while(|c| !matches!(c, '"' | '`' | '\\'))
        .filter(|c| !c.is_ascii_digit())
        .collect();
    head.split_whitespace()
        .take(3)
        .filter(|w| {
            w.chars()
                .all(|c| c.is_ascii_alphabetic() || ".[]:_-()".contains(c))
        })
        .collect::<Vec<_>>()
        .join(" ")
}
