//! The addresses `nn_bind` and `nn_connect` take, checked as nanomsg 1.1.5 checks them
//! and restricted as `NN_IPV4ONLY` says.
//!
//! Checks (the errno libnanomsg gives):
//! - `wss://` and `tls+tcp://` need TLS settings the C API has no way to give, so they are
//!   `EPROTONOSUPPORT`, as in nanomsg, which lacks them.
//! - A TCP or WebSocket port of 0 is `EINVAL` (nanomsg takes ports 1 to 65535 only).
//! - `nn_bind` takes a host that is `*` or an IP literal; anything else (a name such as
//!   `localhost`, an interface name, an empty host) is `ENODEV`, as nanomsg resolves no
//!   names when binding.
//! - `nn_connect` refuses the wildcard (`*` or an empty host) with `EINVAL`; its
//!   `iface;` local-address prefix must be `*` or an IP literal, else `ENODEV`.
//!
//! With `NN_IPV4ONLY` at 1 (the default), a TCP-based address (`tcp://`, `ws://`) may
//! only be IPv4: an IPv6 literal is `ENODEV` for `nn_bind` and `EINVAL` for
//! `nn_connect`, and names resolve to IPv4 addresses only. At 0 both families are
//! allowed, and a wildcard listener (`tcp://*:port`) binds the IPv6 wildcard, which takes
//! IPv4 connections too (dual stack, as nanomsg's does). The explicit families of sp-rs's
//! `tcp4://`/`tcp6://` forms are kept as written.

use std::ffi::c_int;
use std::net::IpAddr;

use sp_net::url::{Family, HostPort, Url};
use sp_net::Error;

use crate::errno::errno_of;

/// The URL for `addr`, checked as nanomsg checks it, with its family restricted as
/// `NN_IPV4ONLY` says.
pub(crate) fn endpoint_url(addr: &str, ipv4only: bool, bind: bool) -> Result<Url, c_int> {
    let mut url = Url::parse(addr).map_err(|e| errno_of(&Error::Url(e)))?;
    if matches!(url, Url::TlsTcp { .. } | Url::Ws { tls: true, .. }) {
        return Err(libc::EPROTONOSUPPORT);
    }
    if let Url::Tcp {
        local: Some(iface), ..
    } = &url
    {
        if iface != "*" && literal(iface, ipv4only).is_none() {
            return Err(libc::ENODEV);
        }
    }
    if let Some(hp) = host_port(&mut url) {
        if hp.port == 0 {
            return Err(libc::EINVAL);
        }
        if bind && hp.host != "*" && literal(&hp.host, false).is_none() {
            return Err(libc::ENODEV);
        }
        if !bind && hp.is_wildcard() {
            return Err(libc::EINVAL);
        }
        if hp.family == Family::Any {
            if ipv4only {
                if hp.host.contains(':') {
                    return Err(if bind { libc::ENODEV } else { libc::EINVAL });
                }
                hp.family = Family::V4;
            } else if bind && hp.is_wildcard() {
                hp.host = "::".to_owned();
            }
        }
    }
    Ok(url)
}

/// `host` as an IP literal (IPv6 with or without brackets; IPv4 only if `ipv4only`).
fn literal(host: &str, ipv4only: bool) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>()
        .ok()
        .filter(|ip| !ipv4only || ip.is_ipv4())
}

fn host_port(url: &mut Url) -> Option<&mut HostPort> {
    match url {
        Url::Tcp { addr, .. } | Url::Ws { addr, .. } => Some(addr),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4only_refuses_ipv6_literals() {
        assert_eq!(endpoint_url("tcp://[::1]:1", true, true), Err(libc::ENODEV));
        assert_eq!(endpoint_url("ws://[::1]:1", true, false), Err(libc::EINVAL));
        assert_eq!(
            endpoint_url("foo://x", true, true),
            Err(libc::EPROTONOSUPPORT)
        );
        assert!(endpoint_url("ipc:///tmp/x", true, true).is_ok());
    }

    #[test]
    fn addresses_are_checked_as_nanomsg_checks_them() {
        // (address, bind, errno): what libnanomsg 1.1.5 answers (NN_IPV4ONLY at 1).
        let refused = [
            ("tls+tcp://127.0.0.1:1", true, libc::EPROTONOSUPPORT),
            ("wss://127.0.0.1:1/", false, libc::EPROTONOSUPPORT),
            ("tcp://127.0.0.1:0", true, libc::EINVAL),
            ("tcp://127.0.0.1:0", false, libc::EINVAL),
            ("ws://127.0.0.1:0/", true, libc::EINVAL),
            ("tcp://localhost:1", true, libc::ENODEV),
            ("tcp://eth0:1", true, libc::ENODEV),
            ("tcp://:1", true, libc::ENODEV),
            ("ws://localhost:1/", true, libc::ENODEV),
            ("tcp://*:1", false, libc::EINVAL),
            ("tcp://:1", false, libc::EINVAL),
            ("ws://*:1/", false, libc::EINVAL),
            ("tcp://eth0;127.0.0.1:1", false, libc::ENODEV),
            ("tcp://[::1];127.0.0.1:1", false, libc::ENODEV),
        ];
        for (addr, bind, errno) in refused {
            assert_eq!(endpoint_url(addr, true, bind).err(), Some(errno), "{addr}");
        }
        for (addr, bind) in [
            ("tcp://*:1", true),
            ("tcp://127.0.0.1:1", true),
            ("tcp://localhost:1", false),
            ("tcp://127.0.0.1;127.0.0.1:1", false),
            ("tcp://*;127.0.0.1:1", false),
            ("ws://127.0.0.1:1/x", true),
        ] {
            assert!(endpoint_url(addr, true, bind).is_ok(), "{addr}");
        }
        // Without NN_IPV4ONLY an IPv6 local address is a literal too.
        assert!(endpoint_url("tcp://[::1];[::1]:1", false, false).is_ok());
    }

    #[test]
    fn families_and_hosts_follow_ipv4only() {
        // (address, NN_IPV4ONLY, bind) -> the family and host handed to sp-net.
        let cases = [
            ("tcp://localhost:1", true, false, Family::V4, "localhost"),
            ("tcp://127.0.0.1:1", true, true, Family::V4, "127.0.0.1"),
            ("tcp://[::1]:1", false, true, Family::Any, "::1"),
            // A wildcard listener: dual stack without NN_IPV4ONLY, IPv4 with it.
            ("tcp://*:1", false, true, Family::Any, "::"),
            ("tcp://*:1", true, true, Family::V4, "*"),
            // Explicit families pass as written.
            ("tcp6://[::1]:1", true, true, Family::V6, "::1"),
        ];
        for (addr, ipv4only, bind, family, host) in cases {
            let mut url = endpoint_url(addr, ipv4only, bind).unwrap();
            let hp = host_port(&mut url).unwrap();
            assert_eq!((hp.family, hp.host.as_str()), (family, host), "{addr}");
        }
    }
}
