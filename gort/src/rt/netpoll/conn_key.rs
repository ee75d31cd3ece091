//! Which shard a connected socket belongs to: a hash of its two addresses, ordered so that both
//! ends of a connection agree (a NIC's symmetric receive-side hash does the same). Go has one
//! epoll instance and no such key; see the sharding deviation in the poller's module doc.

use std::hash::{Hash, Hasher};

/// An address in a form that orders and hashes: family, IP bytes, port.
type AddrKey = (u16, [u8; 16], u16);

/// A hash of a connected inet socket's two addresses, ordered so that both ends agree.
pub(super) fn conn_key(fd: i32) -> Option<u64> {
    let peer = addr_key(fd, libc::getpeername)?;
    let local = addr_key(fd, libc::getsockname)?;
    let mut h = std::hash::DefaultHasher::new();
    (peer.min(local), peer.max(local)).hash(&mut h);
    Some(h.finish())
}

fn addr_key(
    fd: i32,
    get: unsafe extern "C" fn(i32, *mut libc::sockaddr, *mut libc::socklen_t) -> i32,
) -> Option<AddrKey> {
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of_val(&ss) as libc::socklen_t;
    // SAFETY: `ss` is writable for `len` bytes; the call fails harmlessly on other fds.
    if unsafe {
        get(
            fd,
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    } != 0
    {
        return None;
    }
    let mut ip = [0u8; 16];
    match i32::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let a = unsafe { &*(&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            ip[..4].copy_from_slice(&a.sin_addr.s_addr.to_ne_bytes());
            Some((4, ip, a.sin_port))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let a =
                unsafe { &*(&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let v6 = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            // A dual-stack listener sees an IPv4 client as ::ffff:a.b.c.d: key it as the
            // client's end does.
            if let Some(v4) = v6.to_ipv4_mapped() {
                ip[..4].copy_from_slice(&v4.octets());
                return Some((4, ip, a.sin6_port));
            }
            Some((6, a.sin6_addr.s6_addr, a.sin6_port))
        }
        _ => None,
    }
}
