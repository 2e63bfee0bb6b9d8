//! Values of `linux.resources` as the strings v1 and v2 control files take,
//! and the v1 → v2 conversions, done as runc does them so that a config
//! written for one version means the same on the other.

/// cgroup v2's `max`, spelled as the kernel spells it.
pub const MAX: &str = "max";

/// The default CFS period, which cgroup v2 writes next to the quota.
pub const DEFAULT_CPU_PERIOD: u64 = 100_000;

/// v1 `cpu.shares` [2, 262144] → v2 `cpu.weight` [1, 10000]; 0 = unset.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262_142
}

/// v1 `blkio.weight` [10, 1000] → v2 `io.weight` [1, 10000]; 0 = unset.
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (u64::from(weight).saturating_sub(10) * 9999) / 990
}

/// v1's memory+swap limit (`memory.swap`) → v2's swap-only
/// `memory.swap.max` = swap - limit. 0 means "unset" in and out (nothing is
/// written); -1 means unlimited. As in runc, an unlimited memory with swap
/// unset makes swap unlimited too.
pub fn swap_to_v2(swap: i64, limit: i64) -> Result<i64, String> {
    if limit == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if limit == 0 || limit == -1 {
        return Err(format!(
            "a swap limit ({swap}) needs a memory limit on cgroup v2"
        ));
    }
    if swap < limit {
        return Err(format!(
            "memory+swap limit {swap} is below the memory limit {limit}"
        ));
    }
    Ok(swap - limit)
}

/// A byte or count limit where -1 is unlimited: v2 writes `max`.
pub fn limit_to_v2(limit: i64) -> String {
    if limit == -1 {
        MAX.to_string()
    } else {
        limit.to_string()
    }
}

/// `pids.max` (same on v1 and v2), as runtime-spec 1.3 defines
/// `pids.limit`: -1 is `max`, 0 is a limit of zero (the kernel takes it,
/// the spec says runtimes should too; runc 1.1 left 0 unset). Validation
/// refuses anything below -1.
pub fn pids_max(limit: i64) -> String {
    if limit < 0 {
        MAX.to_string()
    } else {
        limit.to_string()
    }
}

/// v2 `cpu.max` = "$QUOTA $PERIOD" from the v1 pair `cfs_quota_us` /
/// `cfs_period_us`: a quota of -1 (or none) is `max`, a missing period is
/// the default 100000. `None` when neither is set (nothing to write).
pub fn cpu_max(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    if quota.is_none() && period.is_none() {
        return None;
    }
    let quota = match quota {
        Some(q) if q > 0 => q.to_string(),
        _ => MAX.to_string(),
    };
    Some(format!("{quota} {}", period.unwrap_or(DEFAULT_CPU_PERIOD)))
}

/// A v1 per-device line: `MAJ:MIN VALUE` (weights and throttles alike).
pub fn device_value(major: i64, minor: i64, value: impl std::fmt::Display) -> String {
    format!("{major}:{minor} {value}")
}

/// A v2 `io.max` line: `MAJ:MIN KEY=VALUE` with KEY one of rbps, wbps,
/// riops, wiops.
pub fn io_max(major: i64, minor: i64, key: &str, rate: u64) -> String {
    format!("{major}:{minor} {key}={rate}")
}

/// The hugetlb limit file for a page size like `2MB`: v1 `limit_in_bytes`,
/// v2 `max`.
pub fn hugetlb_file(page_size: &str, v2: bool) -> String {
    if v2 {
        format!("hugetlb.{page_size}.max")
    } else {
        format!("hugetlb.{page_size}.limit_in_bytes")
    }
}

/// The hugetlb reservation limit file for a page size (kernel 5.7+):
/// v1 `rsvd.limit_in_bytes`, v2 `rsvd.max`. runtime-spec 1.3 says
/// `hugepageLimits` limits reservations where the kernel has them; runc
/// 1.2 writes the same limit here when the file exists.
pub fn hugetlb_rsvd_file(page_size: &str, v2: bool) -> String {
    if v2 {
        format!("hugetlb.{page_size}.rsvd.max")
    } else {
        format!("hugetlb.{page_size}.rsvd.limit_in_bytes")
    }
}

/// An `rdma.max` line (same on v1 and v2); `None` when no limit is given.
pub fn rdma_max(
    device: &str,
    hca_handles: Option<u32>,
    hca_objects: Option<u32>,
) -> Option<String> {
    let mut line = device.to_string();
    if let Some(handles) = hca_handles {
        line.push_str(&format!(" hca_handle={handles}"));
    }
    if let Some(objects) = hca_objects {
        line.push_str(&format!(" hca_object={objects}"));
    }
    (hca_handles.is_some() || hca_objects.is_some()).then_some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_to_weight_matches_runc() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(512), 20);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }

    #[test]
    fn blkio_weight_to_io_weight_matches_runc() {
        assert_eq!(blkio_weight_to_io_weight(0), 0);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }

    #[test]
    fn swap_is_swap_minus_limit_on_v2() {
        assert_eq!(swap_to_v2(0, 0), Ok(0));
        assert_eq!(swap_to_v2(0, 1000), Ok(0));
        assert_eq!(swap_to_v2(0, -1), Ok(-1));
        assert_eq!(swap_to_v2(-1, 1000), Ok(-1));
        assert_eq!(swap_to_v2(3000, 1000), Ok(2000));
        assert_eq!(swap_to_v2(1000, 1000), Ok(0));
        assert!(swap_to_v2(500, 1000).unwrap_err().contains("below"));
        assert!(swap_to_v2(500, -1)
            .unwrap_err()
            .contains("needs a memory limit"));
        assert!(swap_to_v2(500, 0).is_err());
    }

    #[test]
    fn limits_and_pids() {
        assert_eq!(limit_to_v2(-1), "max");
        assert_eq!(limit_to_v2(4096), "4096");
        assert_eq!(pids_max(-1), "max");
        assert_eq!(pids_max(0), "0");
        assert_eq!(pids_max(32), "32");
    }

    #[test]
    fn cpu_max_strings() {
        assert_eq!(cpu_max(None, None), None);
        assert_eq!(cpu_max(Some(-1), None).as_deref(), Some("max 100000"));
        assert_eq!(cpu_max(None, Some(50_000)).as_deref(), Some("max 50000"));
        assert_eq!(cpu_max(Some(20_000), None).as_deref(), Some("20000 100000"));
        assert_eq!(
            cpu_max(Some(20_000), Some(50_000)).as_deref(),
            Some("20000 50000")
        );
    }

    #[test]
    fn device_and_file_strings() {
        assert_eq!(device_value(8, 0, 500), "8:0 500");
        assert_eq!(io_max(8, 16, "rbps", 1_048_576), "8:16 rbps=1048576");
        assert_eq!(hugetlb_file("2MB", false), "hugetlb.2MB.limit_in_bytes");
        assert_eq!(hugetlb_file("1GB", true), "hugetlb.1GB.max");
        assert_eq!(
            hugetlb_rsvd_file("2MB", false),
            "hugetlb.2MB.rsvd.limit_in_bytes"
        );
        assert_eq!(hugetlb_rsvd_file("2MB", true), "hugetlb.2MB.rsvd.max");
        assert_eq!(
            rdma_max("mlx4_0", Some(2), Some(2000)).as_deref(),
            Some("mlx4_0 hca_handle=2 hca_object=2000")
        );
        assert_eq!(
            rdma_max("mlx4_0", None, Some(7)).as_deref(),
            Some("mlx4_0 hca_object=7")
        );
        assert_eq!(rdma_max("mlx4_0", None, None), None);
    }
}
