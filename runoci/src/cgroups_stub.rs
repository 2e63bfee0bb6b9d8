//! Placeholder until the cgroups module lands.
#![allow(dead_code)]
use crate::spec::{Cpu, Resources};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct CgroupError(pub String);
impl std::fmt::Display for CgroupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for CgroupError {}
impl From<CgroupError> for crate::error::Error {
    fn from(e: CgroupError) -> Self {
        crate::error::Error::new(e.0)
    }
}
pub enum Layout {
    V2 { root: PathBuf },
}
impl Layout {
    pub fn detect() -> std::io::Result<Layout> {
        Ok(Layout::V2 {
            root: "/sys/fs/cgroup".into(),
        })
    }
}
pub fn resolve_path(
    id: &str,
    _c: Option<&str>,
    _p: Option<&str>,
    _s: bool,
) -> Result<PathBuf, CgroupError> {
    Ok(PathBuf::from(id))
}
pub struct Cgroup;
impl Cgroup {
    pub fn create(_l: &Layout, _rel: &Path, _o: Option<(u32, u32)>) -> Result<Cgroup, CgroupError> {
        Ok(Cgroup)
    }
    pub fn apply(&self, _r: &Resources, _c: Option<&Cpu>) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn add_pid(&self, _pid: i32) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn destroy(&self) -> Result<(), CgroupError> {
        Ok(())
    }
}
