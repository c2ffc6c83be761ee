//! The addresses `nn_bind` and `nn_connect` take, under `NN_IPV4ONLY`, as nanomsg reads
//! them.
//!
//! With `NN_IPV4ONLY` at 1 (the default), a TCP-based address (`tcp://`, `ws://`, and
//! sp-rs's `wss://` and `tls+tcp://`) may only be IPv4: an IPv6 literal is `ENODEV` for
//! `nn_bind` and `EINVAL` for `nn_connect`, and names resolve to IPv4 addresses only.
//! At 0 both families are allowed, and a wildcard listener (`tcp://*:port`) binds the
//! IPv6 wildcard, which takes IPv4 connections too (dual stack, as nanomsg's does). The
//! explicit families of sp-rs's `tcp4://`/`tcp6://` forms are kept as written.

use std::ffi::c_int;

use sp_net::url::{Family, HostPort, Url};
use sp_net::Error;

use crate::errno::errno_of;

/// The URL for `addr`, with its family restricted as `NN_IPV4ONLY` says.
pub(crate) fn endpoint_url(addr: &str, ipv4only: bool, bind: bool) -> Result<Url, c_int> {
    let mut url = Url::parse(addr).map_err(|e| errno_of(&Error::Url(e)))?;
    if let Some(hp) = host_port(&mut url) {
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

fn host_port(url: &mut Url) -> Option<&mut HostPort> {
    match url {
        Url::Tcp { addr, .. } | Url::TlsTcp { addr } | Url::Ws { addr, .. } => Some(addr),
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
    fn families_and_hosts_follow_ipv4only() {
        // (address, NN_IPV4ONLY, bind) -> the family and host handed to sp-net.
        let cases = [
            ("tcp://localhost:1", true, false, Family::V4, "localhost"),
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
