//! `nn_setsockopt` / `nn_getsockopt`: nanomsg's option numbers, levels, defaults and
//! checks, mapped onto sp-net's `SocketOptions` and sp-proto's protocol options.

use std::ffi::c_int;
use std::time::Duration;

use sp_net::{Priority, SocketOptions};

use crate::fds::Way;
use crate::table::Entry;

/// Option level of the generic socket options.
pub const NN_SOL_SOCKET: c_int = 0;
/// Linger on close, ms (-1: forever).
pub const NN_LINGER: c_int = 1;
/// Send buffer size, bytes.
pub const NN_SNDBUF: c_int = 2;
/// Receive buffer size, bytes.
pub const NN_RCVBUF: c_int = 3;
/// Send timeout, ms (-1: forever).
pub const NN_SNDTIMEO: c_int = 4;
/// Receive timeout, ms (-1: forever).
pub const NN_RCVTIMEO: c_int = 5;
/// First reconnect interval, ms.
pub const NN_RECONNECT_IVL: c_int = 6;
/// Reconnect interval cap, ms (0: no backoff).
pub const NN_RECONNECT_IVL_MAX: c_int = 7;
/// Send priority of new endpoints, 1..=16.
pub const NN_SNDPRIO: c_int = 8;
/// Receive priority of new endpoints, 1..=16.
pub const NN_RCVPRIO: c_int = 9;
/// File descriptor readable while a send would not wait (read only).
pub const NN_SNDFD: c_int = 10;
/// File descriptor readable while a receive would not wait (read only).
pub const NN_RCVFD: c_int = 11;
/// The domain given to `nn_socket` (read only).
pub const NN_DOMAIN: c_int = 12;
/// The protocol given to `nn_socket` (read only).
pub const NN_PROTOCOL: c_int = 13;
/// IPv4 only (1, default) or IPv4 and IPv6 (0).
pub const NN_IPV4ONLY: c_int = 14;
/// The socket's name (a string of at most 63 bytes).
pub const NN_SOCKET_NAME: c_int = 15;
/// Largest message accepted from a peer, bytes (-1: unlimited).
pub const NN_RCVMAXSIZE: c_int = 16;
/// Most hops a message may make, 1..=255.
pub const NN_MAXTTL: c_int = 17;

/// Protocol numbers (the option levels of the protocol options).
pub const NN_SUB: c_int = 33;
/// REQ protocol number.
pub const NN_REQ: c_int = 48;
/// SURVEYOR protocol number.
pub const NN_SURVEYOR: c_int = 98;
/// SUB: add a topic (level `NN_SUB`).
pub const NN_SUB_SUBSCRIBE: c_int = 1;
/// SUB: remove a topic (level `NN_SUB`).
pub const NN_SUB_UNSUBSCRIBE: c_int = 2;
/// REQ: resend interval, ms (level `NN_REQ`).
pub const NN_REQ_RESEND_IVL: c_int = 1;
/// SURVEYOR: survey deadline, ms (level `NN_SURVEYOR`).
pub const NN_SURVEYOR_DEADLINE: c_int = 1;

/// Option level of the TCP transport.
pub const NN_TCP: c_int = -3;
/// TCP: disable Nagle's algorithm (0 or 1; nanomsg's default 0).
pub const NN_TCP_NODELAY: c_int = 1;
/// Option level of the WebSocket transport.
pub const NN_WS: c_int = -4;
/// WebSocket: frame type of sent messages (1 text, 2 binary, the default).
pub const NN_WS_MSG_TYPE: c_int = 1;

/// Longest socket name (nanomsg keeps 64 bytes with the NUL).
const MAX_NAME: usize = 63;

/// The option values of one socket, as nanomsg reports them.
#[derive(Clone, Debug)]
pub(crate) struct NnOptions {
    linger: c_int,
    sndbuf: c_int,
    rcvbuf: c_int,
    sndtimeo: c_int,
    rcvtimeo: c_int,
    reconnect_ivl: c_int,
    reconnect_ivl_max: c_int,
    sndprio: c_int,
    rcvprio: c_int,
    ipv4only: c_int,
    rcvmaxsize: c_int,
    maxttl: c_int,
    name: Vec<u8>,
    resend_ivl: c_int,
    deadline: c_int,
    /// `NN_TCP_NODELAY`, and whether it was set (until then sp-net's default applies).
    tcp_nodelay: Option<c_int>,
    ws_msg_type: c_int,
}

impl NnOptions {
    /// nanomsg 1.1.5's defaults for the socket numbered `s`.
    pub(crate) fn new(s: c_int) -> Self {
        Self {
            linger: 0,
            sndbuf: 128 * 1024,
            rcvbuf: 128 * 1024,
            sndtimeo: -1,
            rcvtimeo: -1,
            reconnect_ivl: 100,
            reconnect_ivl_max: 0,
            sndprio: 8,
            rcvprio: 8,
            ipv4only: 1,
            rcvmaxsize: 1024 * 1024,
            maxttl: 8,
            name: s.to_string().into_bytes(),
            resend_ivl: 60_000,
            deadline: 1000,
            tcp_nodelay: None,
            ws_msg_type: 2,
        }
    }

    /// Whether `NN_IPV4ONLY` is on (see `addr.rs`).
    pub(crate) fn ipv4only(&self) -> bool {
        self.ipv4only != 0
    }

    /// The `NN_SNDPRIO` value.
    pub(crate) fn sndprio(&self) -> c_int {
        self.sndprio
    }

    /// `NN_SNDTIMEO`: how long a blocking send waits (`None`: forever).
    pub(crate) fn send_timeout(&self) -> Option<Duration> {
        ms_or_forever(self.sndtimeo)
    }

    /// `NN_RCVTIMEO`: how long a blocking receive waits (`None`: forever).
    pub(crate) fn recv_timeout(&self) -> Option<Duration> {
        ms_or_forever(self.rcvtimeo)
    }

    /// sp-net's options for these values (starting from `base` for what nanomsg lacks).
    pub(crate) fn socket_options(&self, mut base: SocketOptions) -> SocketOptions {
        base.linger = ms_or_forever(self.linger).unwrap_or(Duration::from_secs(86_400 * 365));
        // This library waits itself (`wait.rs`), with `send_timeout`/`recv_timeout`.
        base.send_timeout = None;
        base.recv_timeout = None;
        base.reconnect_min = ms(self.reconnect_ivl);
        base.reconnect_max = if self.reconnect_ivl_max == 0 {
            ms(self.reconnect_ivl)
        } else {
            ms(self.reconnect_ivl_max.max(self.reconnect_ivl))
        };
        base.send_queue = queue_len(self.sndbuf);
        base.send_priority = prio(self.sndprio);
        base.recv_priority = prio(self.rcvprio);
        if let Some(v) = self.tcp_nodelay {
            base.tcp.nodelay = v != 0;
        }
        base.max_recv_size = sp_proto::wire::MaxRecvSize::from_nanomsg(i64::from(self.rcvmaxsize))
            .unwrap_or_default();
        base
    }
}

/// The bytes of `NN_SNDBUF` or `NN_RCVBUF` as sp-net's queue length, which counts
/// messages: one per KiB, at least one, so that nanomsg's default of 128 KiB gives
/// sp-net's default of 128 messages.
fn queue_len(bytes: c_int) -> usize {
    (usize::try_from(bytes).unwrap_or(0) / 1024).max(1)
}

fn ms(v: c_int) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

fn ms_or_forever(v: c_int) -> Option<Duration> {
    (v >= 0).then(|| ms(v))
}

fn prio(v: c_int) -> Priority {
    u8::try_from(v)
        .ok()
        .and_then(Priority::new)
        .unwrap_or_default()
}

/// A value `nn_getsockopt` returns.
pub(crate) enum Value {
    /// An `int` option.
    Int(c_int),
    /// A string option (no NUL).
    Str(Vec<u8>),
}

/// `nn_setsockopt` after the pointer checks: `val` is the caller's bytes.
pub(crate) fn set(e: &Entry, level: c_int, option: c_int, val: &[u8]) -> Result<(), c_int> {
    if level == NN_SOL_SOCKET {
        return set_socket(e, option, val);
    }
    if level == NN_TCP || level == NN_WS {
        return set_transport(e, level, option, val);
    }
    if level != e.protocol {
        return Err(libc::ENOPROTOOPT);
    }
    match (level, option) {
        (NN_SUB, NN_SUB_SUBSCRIBE) => e
            .sock
            .with_protocol(|p| p.subscribe(val).map(|_| ()).map_err(|_| libc::EINVAL)),
        (NN_SUB, NN_SUB_UNSUBSCRIBE) => e
            .sock
            .with_protocol(|p| p.unsubscribe(val).map_err(|_| libc::EINVAL)),
        (NN_REQ, NN_REQ_RESEND_IVL) => {
            let v = int(val)?;
            update_protocol(e, |po| {
                po.set_resend_interval((v > 0).then(|| ms(v)));
                Ok(())
            })?;
            e.options().resend_ivl = v;
            Ok(())
        }
        (NN_SURVEYOR, NN_SURVEYOR_DEADLINE) => {
            let v = int(val)?;
            update_protocol(e, |po| {
                po.set_survey_deadline(ms(v)).map_err(|_| libc::EINVAL)
            })?;
            e.options().deadline = v;
            Ok(())
        }
        _ => Err(libc::ENOPROTOOPT),
    }
}

/// Changes the socket's protocol options with `f`; nothing changes if `f` fails.
fn update_protocol(
    e: &Entry,
    f: impl FnOnce(&mut sp_proto::Options) -> Result<(), c_int>,
) -> Result<(), c_int> {
    let mut po = e.sock.as_async().protocol_options();
    f(&mut po)?;
    e.sock.as_async().set_protocol_options(po);
    Ok(())
}

fn int(val: &[u8]) -> Result<c_int, c_int> {
    <[u8; 4]>::try_from(val)
        .map(c_int::from_ne_bytes)
        .map_err(|_| libc::EINVAL)
}

fn set_socket(e: &Entry, option: c_int, val: &[u8]) -> Result<(), c_int> {
    if option == NN_SOCKET_NAME {
        if val.len() > MAX_NAME {
            return Err(libc::EINVAL);
        }
        // nanomsg keeps the name as a C string: it ends at the first NUL.
        let end = val.iter().position(|&b| b == 0).unwrap_or(val.len());
        e.options().name = val[..end].to_vec();
        return Ok(());
    }
    let v = int(val)?;
    let mut o = e.options().clone();
    match option {
        NN_LINGER => o.linger = v,
        NN_SNDBUF | NN_RCVBUF if v <= 0 => return Err(libc::EINVAL),
        NN_SNDBUF => o.sndbuf = v,
        NN_RCVBUF => {
            update_protocol(e, |po| {
                po.set_recv_queue(queue_len(v)).map_err(|_| libc::EINVAL)
            })?;
            o.rcvbuf = v;
        }
        NN_SNDTIMEO => o.sndtimeo = v,
        NN_RCVTIMEO => o.rcvtimeo = v,
        NN_RECONNECT_IVL | NN_RECONNECT_IVL_MAX if v < 0 => return Err(libc::EINVAL),
        NN_RECONNECT_IVL => o.reconnect_ivl = v,
        NN_RECONNECT_IVL_MAX => o.reconnect_ivl_max = v,
        NN_SNDPRIO | NN_RCVPRIO if !(1..=16).contains(&v) => return Err(libc::EINVAL),
        NN_SNDPRIO => o.sndprio = v,
        NN_RCVPRIO => o.rcvprio = v,
        NN_IPV4ONLY if !(0..=1).contains(&v) => return Err(libc::EINVAL),
        NN_IPV4ONLY => o.ipv4only = v,
        NN_RCVMAXSIZE if v < -1 => return Err(libc::EINVAL),
        NN_RCVMAXSIZE => o.rcvmaxsize = v,
        NN_MAXTTL => {
            let ttl = u32::try_from(v).map_err(|_| libc::EINVAL)?;
            update_protocol(e, |po| po.set_max_ttl(ttl).map_err(|_| libc::EINVAL))?;
            o.maxttl = v;
        }
        _ => return Err(libc::ENOPROTOOPT),
    }
    e.sock.set_options(o.socket_options(e.sock.options()));
    *e.options() = o;
    Ok(())
}

fn set_transport(e: &Entry, level: c_int, option: c_int, val: &[u8]) -> Result<(), c_int> {
    let mut o = e.options().clone();
    match (level, option) {
        (NN_TCP, NN_TCP_NODELAY) => match int(val)? {
            v @ (0 | 1) => o.tcp_nodelay = Some(v),
            _ => return Err(libc::EINVAL),
        },
        (NN_WS, NN_WS_MSG_TYPE) => match int(val)? {
            v @ (1 | 2) => o.ws_msg_type = v,
            _ => return Err(libc::EINVAL),
        },
        _ => return Err(libc::ENOPROTOOPT),
    }
    e.sock.set_options(o.socket_options(e.sock.options()));
    *e.options() = o;
    Ok(())
}

/// `nn_getsockopt`'s value for (`level`, `option`).
pub(crate) fn get(e: &Entry, level: c_int, option: c_int) -> Result<Value, c_int> {
    let o = e.options().clone();
    let v = match (level, option) {
        (NN_SOL_SOCKET, NN_SOCKET_NAME) => return Ok(Value::Str(o.name)),
        (NN_SOL_SOCKET, NN_LINGER) => o.linger,
        (NN_SOL_SOCKET, NN_SNDBUF) => o.sndbuf,
        (NN_SOL_SOCKET, NN_RCVBUF) => o.rcvbuf,
        (NN_SOL_SOCKET, NN_SNDTIMEO) => o.sndtimeo,
        (NN_SOL_SOCKET, NN_RCVTIMEO) => o.rcvtimeo,
        (NN_SOL_SOCKET, NN_RECONNECT_IVL) => o.reconnect_ivl,
        (NN_SOL_SOCKET, NN_RECONNECT_IVL_MAX) => o.reconnect_ivl_max,
        (NN_SOL_SOCKET, NN_SNDPRIO) => o.sndprio,
        (NN_SOL_SOCKET, NN_RCVPRIO) => o.rcvprio,
        (NN_SOL_SOCKET, NN_IPV4ONLY) => o.ipv4only,
        (NN_SOL_SOCKET, NN_RCVMAXSIZE) => o.rcvmaxsize,
        (NN_SOL_SOCKET, NN_MAXTTL) => o.maxttl,
        (NN_SOL_SOCKET, NN_SNDFD) => e.fds.fd(e.sock.as_async(), Way::Send)?,
        (NN_SOL_SOCKET, NN_RCVFD) => e.fds.fd(e.sock.as_async(), Way::Recv)?,
        (NN_SOL_SOCKET, NN_DOMAIN) => e.domain,
        (NN_SOL_SOCKET, NN_PROTOCOL) => e.protocol,
        (NN_TCP, NN_TCP_NODELAY) => o.tcp_nodelay.unwrap_or(0),
        (NN_WS, NN_WS_MSG_TYPE) => o.ws_msg_type,
        (NN_REQ, NN_REQ_RESEND_IVL) if e.protocol == NN_REQ => o.resend_ivl,
        (NN_SURVEYOR, NN_SURVEYOR_DEADLINE) if e.protocol == NN_SURVEYOR => o.deadline,
        _ => return Err(libc::ENOPROTOOPT),
    };
    Ok(Value::Int(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_bytes_become_one_queued_message_per_kib() {
        assert_eq!(queue_len(128 * 1024), 128);
        assert_eq!(queue_len(4096), 4);
        assert_eq!(queue_len(1), 1);
        assert_eq!(
            queue_len(c_int::MAX),
            usize::try_from(c_int::MAX).unwrap() / 1024
        );
    }
}
