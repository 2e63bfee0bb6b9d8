//! `linux.netDevices` (runtime-spec 1.3, config-linux "Network Devices"):
//! host interfaces moved into the container's new network namespace.
//!
//! From the parent, once the init is cloned into its namespaces and before
//! it goes on (`container::spawn`): each device's permanent addresses of
//! global scope are read, the device is moved and renamed in one
//! `RTM_NEWLINK` (`IFLA_NET_NS_FD` + `IFLA_IFNAME`), then, from a thread
//! that entered the container's network namespace, the addresses are added
//! back (the move drops them) and the device is set up.
//!
//! Nothing moves the device back: the spec says the runtime MUST NOT move
//! it out before the namespace is deleted. When the last process of the
//! namespace is gone the kernel returns physical devices to the initial
//! namespace (under their container name) and destroys virtual ones
//! (dummy, veth, macvlan...), as network_namespaces(7) describes.

use crate::error::{Error, Result};
use crate::spec::Linux;
use crate::sys::netlink::{Address, Route};
use nix::sched::CloneFlags;
use std::os::fd::{AsFd, OwnedFd};

const FIELD: &str = "linux.netDevices";

/// Refuses, at load, a device the host does not have.
pub fn check_host(linux: &Linux) -> Result<()> {
    let Some(devices) = linux.net_devices.as_ref().filter(|d| !d.is_empty()) else {
        return Ok(());
    };
    let mut route = Route::open().map_err(|e| Error::new(format!("{FIELD}: netlink: {e}")))?;
    for host in devices.keys() {
        route.link_index(host).map_err(|e| {
            Error::new(format!(
                "{FIELD}.{host:?}: no such network device on the host ({e})"
            ))
        })?;
    }
    Ok(())
}

/// Moves the devices of `linux.netDevices` into the network namespace of
/// process `pid` (the container's init, not yet running the program).
pub fn move_into(linux: &Linux, pid: i32) -> Result<()> {
    let Some(devices) = linux.net_devices.as_ref().filter(|d| !d.is_empty()) else {
        return Ok(());
    };
    // Opened by the parent of an un-reaped child: the pid cannot be
    // recycled under us, so this is the container's namespace.
    let ns_path = format!("/proc/{pid}/ns/net");
    let netns: OwnedFd = std::fs::File::open(&ns_path)
        .map_err(|e| Error::new(format!("{FIELD}: open {ns_path}: {e}")))?
        .into();
    let mut host = Route::open().map_err(|e| Error::new(format!("{FIELD}: netlink: {e}")))?;
    let mut moved = Vec::new();
    for (host_name, device) in devices {
        let path = format!("{FIELD}.{host_name:?}");
        let fail = |what: &str, e: std::io::Error| Error::new(format!("{path}: {what}: {e}"));
        let index = host
            .link_index(host_name)
            .map_err(|e| fail("find the host device", e))?;
        let addresses: Vec<Address> = host
            .addresses(index)
            .map_err(|e| fail("list its addresses", e))?
            .into_iter()
            .filter(Address::is_permanent_global)
            .collect();
        let name = device.name.as_deref();
        host.move_to_netns(index, netns.as_fd(), name)
            .map_err(|e| {
                fail(
                    &format!(
                        "move into the container's network namespace as {:?}",
                        name.unwrap_or(host_name)
                    ),
                    e,
                )
            })?;
        moved.push((path, index, addresses));
    }
    configure_inside(&netns, &moved)
}

/// Adds the addresses back and sets the devices up, from a thread that
/// entered the container's network namespace (a netlink socket talks to
/// the namespace it was created in). The thread, and with it the changed
/// namespace, ends here: this process stays in its own.
fn configure_inside(netns: &OwnedFd, moved: &[(String, i32, Vec<Address>)]) -> Result<()> {
    std::thread::scope(|s| {
        s.spawn(|| -> Result<()> {
            nix::sched::setns(netns, CloneFlags::CLONE_NEWNET).map_err(|e| {
                Error::new(format!(
                    "{FIELD}: enter the container's network namespace: {e}"
                ))
            })?;
            let mut route =
                Route::open().map_err(|e| Error::new(format!("{FIELD}: netlink: {e}")))?;
            // The kernel keeps a moved device's index unless the target
            // namespace has it taken; a fresh namespace has only lo, whose
            // index no host device other than lo has.
            for (path, index, addresses) in moved {
                for a in addresses {
                    route.add_address(*index, a).map_err(|e| {
                        Error::new(format!("{path}: add address {}: {e}", a.display()))
                    })?;
                }
                route
                    .set_up(*index)
                    .map_err(|e| Error::new(format!("{path}: set the device up: {e}")))?;
            }
            Ok(())
        })
        .join()
        .unwrap_or_else(|_| Err(Error::new(format!("{FIELD}: the netlink thread panicked"))))
    })
}
