//! uids and gids: the one range check every id from outside goes through
//! (config.json, process.json, `exec --user`/`--additional-gids`).
//!
//! The kernel's ids are 32-bit, but `(uid_t)-1` (4294967295) means "leave
//! unchanged" to setresuid/setresgid/chown/setfsuid: a process asked to run
//! as uid 4294967295 would keep running as root. runc refuses every id
//! outside 0..=2147483647 (the positive range of a signed 32-bit id, which is
//! also what NFS, tar and many tools handle); we do the same.

use super::error::SpecError;
use super::types::IdMapping;

/// The largest uid or gid accepted.
pub const MAX_ID: u32 = i32::MAX as u32;

/// `value` as an id, or an error naming `field` and the value.
pub fn check_id(field: &str, value: u32) -> Result<(), SpecError> {
    if value > MAX_ID {
        return Err(out_of_range(field, u64::from(value)));
    }
    Ok(())
}

/// An id given as text (`exec --user 1000:1000`): decimal digits only, in
/// range. Errors name `field` and the text.
pub fn parse_id(field: &str, text: &str) -> Result<u32, SpecError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SpecError::invalid(
            field,
            format!("{text:?} is not a numeric id"),
        ));
    }
    match text.parse::<u64>() {
        Ok(value) if value <= u64::from(MAX_ID) => Ok(value as u32),
        Ok(value) => Err(out_of_range(field, value)),
        // More digits than a u64 holds.
        Err(_) => Err(SpecError::invalid(
            field,
            format!("{text} is out of range (0..={MAX_ID})"),
        )),
    }
}

/// One `uidMappings`/`gidMappings` entry at `path`: a non-empty range whose
/// container and host ids, first to last, all lie in 0..=MAX_ID.
pub fn check_mapping(path: &str, mapping: &IdMapping) -> Result<(), SpecError> {
    if mapping.size == 0 {
        return Err(SpecError::invalid(format!("{path}.size"), "0 maps no ids"));
    }
    for (field, start) in [
        ("containerID", mapping.container_id),
        ("hostID", mapping.host_id),
    ] {
        check_id(&format!("{path}.{field}"), start)?;
        // In u64: no overflow for any pair of u32s.
        let last = u64::from(start) + u64::from(mapping.size) - 1;
        if last > u64::from(MAX_ID) {
            return Err(SpecError::invalid(
                path,
                format!(
                    "{field} {start} + size {} reaches {last}, out of range (0..={MAX_ID})",
                    mapping.size
                ),
            ));
        }
    }
    Ok(())
}

fn out_of_range(field: &str, value: u64) -> SpecError {
    SpecError::invalid(field, format!("{value} is out of range (0..={MAX_ID})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_refused_outside_the_positive_signed_range() {
        for ok in [0, 1, 65534, MAX_ID] {
            assert!(check_id("f", ok).is_ok(), "{ok}");
        }
        for bad in [MAX_ID + 1, u32::MAX] {
            let err = check_id("process.user.uid", bad).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("process.user.uid: {bad} is out of range (0..=2147483647)")
            );
        }
    }

    #[test]
    fn parsed_ids_are_digits_in_range() {
        assert_eq!(parse_id("--user", "0").unwrap(), 0);
        assert_eq!(parse_id("--user", "2147483647").unwrap(), MAX_ID);
        for bad in [
            "",
            "-1",
            "+1",
            " 1",
            "1 ",
            "root",
            "2147483648",
            "4294967295",
            "4294967296",
            "99999999999999999999999",
        ] {
            assert!(parse_id("--user", bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn mappings_must_not_reach_past_the_range() {
        let m = |container_id, host_id, size| IdMapping {
            container_id,
            host_id,
            size,
        };
        assert!(check_mapping("m", &m(0, 100000, 65536)).is_ok());
        assert!(check_mapping("m", &m(0, 0, MAX_ID + 1)).is_ok());
        assert!(check_mapping("m", &m(MAX_ID, MAX_ID, 1)).is_ok());
        for bad in [
            m(0, 0, 0),
            m(0, 0, MAX_ID + 2),
            m(MAX_ID, 0, 2),
            m(0, MAX_ID, 2),
            m(u32::MAX, 0, 1),
            m(0, u32::MAX, u32::MAX),
        ] {
            assert!(check_mapping("m", &bad).is_err(), "{bad:?} was accepted");
        }
    }
}
