//! `process.oomScoreAdj`, written to /proc/self/oom_score_adj.

use crate::error::{Context, Result};
use crate::spec::Process;

pub fn apply(process: &Process) -> Result<()> {
    if let Some(adj) = process.oom_score_adj {
        crate::procfs::write("/proc/self/oom_score_adj", adj.to_string().as_bytes())
            .ctx("process.oomScoreAdj (lowering it needs CAP_SYS_RESOURCE)")?;
    }
    Ok(())
}
