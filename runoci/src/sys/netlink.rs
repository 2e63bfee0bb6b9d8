//! rtnetlink, as much as `linux.netDevices` needs: find a link by name,
//! list its addresses, move (and rename) it into another network
//! namespace, add addresses, bring it up. Messages are built and parsed as
//! bytes (native endian, 4-byte aligned, as `linux/netlink.h` lays them
//! out); no `unsafe` is needed. A socket talks to the kernel of the network
//! namespace it was created in, so the caller creates one per namespace.

use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

// linux/netlink.h
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_HDRLEN: usize = 16;
// linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
const RT_SCOPE_UNIVERSE: u8 = 0;
const IFF_UP: u32 = 0x1;
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;

/// One address of a link, as `RTM_GETADDR` reports it, with the
/// attributes needed to add it again elsewhere. The label is left out: it
/// carries the old device name, and the kernel defaults it to the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub family: u8,
    pub prefix_len: u8,
    pub scope: u8,
    /// `IFA_FLAGS` when present (it supersedes the 8-bit header field).
    pub flags: u32,
    pub address: Option<Vec<u8>>,
    pub local: Option<Vec<u8>>,
    pub broadcast: Option<Vec<u8>>,
}

impl Address {
    /// runtime-spec 1.3 "Network Devices": the addresses a moved device
    /// keeps are the permanent ones of global scope (RFC 3549 2.3.3.2).
    pub fn is_permanent_global(&self) -> bool {
        self.flags & IFA_F_PERMANENT != 0 && self.scope == RT_SCOPE_UNIVERSE
    }

    /// The address as text (IPv4 dotted, IPv6 colon-separated), for errors.
    pub fn display(&self) -> String {
        let bytes = self.local.as_ref().or(self.address.as_ref());
        let shown = match bytes.map(Vec::as_slice) {
            Some(&[a, b, c, d]) => std::net::Ipv4Addr::new(a, b, c, d).to_string(),
            Some(b) if b.len() == 16 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(b);
                std::net::Ipv6Addr::from(o).to_string()
            }
            _ => "?".to_string(),
        };
        format!("{shown}/{}", self.prefix_len)
    }
}

/// A NETLINK_ROUTE socket of the calling thread's network namespace.
pub struct Route {
    fd: OwnedFd,
    seq: u32,
}

impl Route {
    pub fn open() -> io::Result<Route> {
        let fd = socket::socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )?;
        Ok(Route { fd, seq: 0 })
    }

    /// The index of the link called `name`; `ENODEV` when there is none.
    pub fn link_index(&mut self, name: &str) -> io::Result<i32> {
        let mut body = ifinfomsg(0, 0, 0);
        attr(&mut body, IFLA_IFNAME, &c_string(name));
        let replies = self.request(RTM_GETLINK, NLM_F_REQUEST, &body)?;
        replies
            .iter()
            .find(|(typ, _)| *typ == RTM_NEWLINK)
            .and_then(|(_, p)| p.get(4..8))
            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))
    }

    /// Every address of link `index`, of any family.
    pub fn addresses(&mut self, index: i32) -> io::Result<Vec<Address>> {
        let body = vec![0u8; IFADDRMSG_LEN];
        let replies = self.request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &body)?;
        Ok(replies
            .iter()
            .filter(|(typ, _)| *typ == RTM_NEWADDR)
            .filter_map(|(_, p)| parse_address(p))
            .filter(|(i, _)| *i == index)
            .map(|(_, a)| a)
            .collect())
    }

    /// Moves link `index` into the network namespace `netns` and, with
    /// `name`, renames it there (one request: the kernel moves, then
    /// renames in the target; a `%d` in `name` is expanded there).
    pub fn move_to_netns(
        &mut self,
        index: i32,
        netns: BorrowedFd<'_>,
        name: Option<&str>,
    ) -> io::Result<()> {
        let mut body = ifinfomsg(index, 0, 0);
        attr(
            &mut body,
            IFLA_NET_NS_FD,
            &(netns.as_raw_fd() as u32).to_ne_bytes(),
        );
        if let Some(name) = name {
            attr(&mut body, IFLA_IFNAME, &c_string(name));
        }
        self.request(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &body)
            .map(drop)
    }

    /// Adds `a` to link `index`.
    pub fn add_address(&mut self, index: i32, a: &Address) -> io::Result<()> {
        let mut body = vec![a.family, a.prefix_len, a.flags as u8, a.scope];
        body.extend_from_slice(&(index as u32).to_ne_bytes());
        for (typ, value) in [
            (IFA_ADDRESS, &a.address),
            (IFA_LOCAL, &a.local),
            (IFA_BROADCAST, &a.broadcast),
        ] {
            if let Some(v) = value {
                attr(&mut body, typ, v);
            }
        }
        attr(&mut body, IFA_FLAGS, &a.flags.to_ne_bytes());
        let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        self.request(RTM_NEWADDR, flags, &body).map(drop)
    }

    /// Sets link `index` up.
    pub fn set_up(&mut self, index: i32) -> io::Result<()> {
        let body = ifinfomsg(index, IFF_UP, IFF_UP);
        self.request(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &body)
            .map(drop)
    }

    /// Sends one request and collects the replies (type, payload) up to
    /// the ack or the end of the dump; a kernel error is returned as such.
    fn request(&mut self, typ: u16, flags: u16, body: &[u8]) -> io::Result<Vec<(u16, Vec<u8>)>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut msg = Vec::with_capacity(NLMSG_HDRLEN + body.len());
        msg.extend_from_slice(&((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
        msg.extend_from_slice(&typ.to_ne_bytes());
        msg.extend_from_slice(&flags.to_ne_bytes());
        msg.extend_from_slice(&seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(body);
        // The kernel (port 0) is the socket's default peer.
        socket::send(self.fd.as_raw_fd(), &msg, MsgFlags::empty())?;
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = socket::recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
            let mut rest = &buf[..n];
            while rest.len() >= NLMSG_HDRLEN {
                let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                if len < NLMSG_HDRLEN || len > rest.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "netlink: truncated message",
                    ));
                }
                let rtyp = u16::from_ne_bytes([rest[4], rest[5]]);
                let rseq = u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]);
                let payload = &rest[NLMSG_HDRLEN..len];
                rest = &rest[align(len).min(rest.len())..];
                if rseq != seq {
                    continue;
                }
                match rtyp {
                    NLMSG_ERROR => {
                        let code = payload
                            .get(..4)
                            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                            .unwrap_or(-libc::EIO);
                        return match code {
                            0 => Ok(out),
                            e => Err(io::Error::from_raw_os_error(-e)),
                        };
                    }
                    NLMSG_DONE => return Ok(out),
                    _ => {
                        out.push((rtyp, payload.to_vec()));
                        if !dump {
                            return Ok(out);
                        }
                    }
                }
            }
        }
    }
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

fn ifinfomsg(index: i32, flags: u32, change: u32) -> Vec<u8> {
    let mut b = vec![0u8; 4]; // family AF_UNSPEC, pad, type
    b.extend_from_slice(&index.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&change.to_ne_bytes());
    debug_assert_eq!(b.len(), IFINFOMSG_LEN);
    b
}

fn c_string(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// Appends one rtattr, padded to 4 bytes.
fn attr(buf: &mut Vec<u8>, typ: u16, value: &[u8]) {
    buf.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&typ.to_ne_bytes());
    buf.extend_from_slice(value);
    buf.resize(align(buf.len()), 0);
}

/// An `RTM_NEWADDR` payload: the link index and the address.
fn parse_address(p: &[u8]) -> Option<(i32, Address)> {
    if p.len() < IFADDRMSG_LEN {
        return None;
    }
    let index = i32::from_ne_bytes([p[4], p[5], p[6], p[7]]);
    let mut a = Address {
        family: p[0],
        prefix_len: p[1],
        flags: u32::from(p[2]),
        scope: p[3],
        address: None,
        local: None,
        broadcast: None,
    };
    let mut rest = &p[IFADDRMSG_LEN..];
    while rest.len() >= 4 {
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let typ = u16::from_ne_bytes([rest[2], rest[3]]);
        if len < 4 || len > rest.len() {
            break;
        }
        let v = &rest[4..len];
        match typ {
            IFA_ADDRESS => a.address = Some(v.to_vec()),
            IFA_LOCAL => a.local = Some(v.to_vec()),
            IFA_BROADCAST => a.broadcast = Some(v.to_vec()),
            IFA_FLAGS if v.len() == 4 => a.flags = u32::from_ne_bytes([v[0], v[1], v[2], v[3]]),
            _ => {}
        }
        rest = &rest[align(len).min(rest.len())..];
    }
    Some((index, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_parsed_back() {
        let mut p = vec![2u8, 24, 0x80, 0];
        p.extend_from_slice(&7i32.to_ne_bytes());
        attr(&mut p, IFA_LOCAL, &[10, 0, 0, 1]);
        attr(&mut p, 3, b"dummy0\0"); // IFA_LABEL: skipped
        attr(&mut p, IFA_FLAGS, &0x80u32.to_ne_bytes());
        assert_eq!(p.len() % 4, 0);
        let (index, a) = parse_address(&p).expect("parsed");
        assert_eq!(index, 7);
        assert_eq!(a.local.as_deref(), Some(&[10u8, 0, 0, 1][..]));
        assert!(a.is_permanent_global());
        assert_eq!(a.display(), "10.0.0.1/24");
    }

    #[test]
    fn link_scope_or_dynamic_addresses_do_not_move() {
        let mut a = Address {
            family: 10,
            prefix_len: 64,
            scope: 253, // RT_SCOPE_LINK
            flags: IFA_F_PERMANENT,
            address: None,
            local: None,
            broadcast: None,
        };
        assert!(!a.is_permanent_global());
        a.scope = RT_SCOPE_UNIVERSE;
        a.flags = 0;
        assert!(!a.is_permanent_global());
    }
}
