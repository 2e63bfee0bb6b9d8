//! Container ids: what may name a directory under the state root.

use crate::error::{Error, Result};

/// `[A-Za-z0-9][A-Za-z0-9_.+-]{0,1023}`: no `/`, no `..`, no NUL, nothing
/// that could leave the state root or confuse a shell.
pub fn validate(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-'));
    if !ok {
        return Err(Error::new(format!(
            "invalid container id {id:?}: use 1 to 1024 characters from [A-Za-z0-9_.+-], starting with a letter or digit"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_that_could_leave_the_state_root_are_refused() {
        for bad in [
            "",
            "..",
            ".",
            "a/b",
            "../x",
            "a\0b",
            "-x",
            "a b",
            &"x".repeat(1025),
        ] {
            assert!(super::validate(bad).is_err(), "{bad:?} must be refused");
        }
        for good in ["a", "demo-1", "x.y_z+1", &"a".repeat(1024)] {
            assert!(super::validate(good).is_ok(), "{good:?} must be accepted");
        }
    }
}
