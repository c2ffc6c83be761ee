//! `nn_get_statistic`: sp-net's counters under nanomsg's statistic numbers.

use std::ffi::c_int;

use crate::{ffi, table};

/// nanomsg's statistic numbers (`NN_STAT_*` in nn.h) this library reports.
mod stat {
    pub(crate) const ESTABLISHED_CONNECTIONS: i32 = 101;
    pub(crate) const ACCEPTED_CONNECTIONS: i32 = 102;
    pub(crate) const DROPPED_CONNECTIONS: i32 = 103;
    pub(crate) const BROKEN_CONNECTIONS: i32 = 104;
    pub(crate) const CONNECT_ERRORS: i32 = 105;
    pub(crate) const BIND_ERRORS: i32 = 106;
    pub(crate) const ACCEPT_ERRORS: i32 = 107;
    pub(crate) const CURRENT_CONNECTIONS: i32 = 201;
    pub(crate) const INPROGRESS_CONNECTIONS: i32 = 202;
    pub(crate) const CURRENT_EP_ERRORS: i32 = 203;
    pub(crate) const MESSAGES_SENT: i32 = 301;
    pub(crate) const MESSAGES_RECEIVED: i32 = 302;
    pub(crate) const BYTES_SENT: i32 = 303;
    pub(crate) const BYTES_RECEIVED: i32 = 304;
    pub(crate) const CURRENT_SND_PRIORITY: i32 = 401;
}

/// A statistic of socket `s` from sp-net's counters (see docs/c-api.md for what each
/// one counts here); `(uint64_t) -1` with `EINVAL` for an unknown statistic, `EBADF` for
/// an unknown socket.
#[no_mangle]
pub extern "C" fn nn_get_statistic(s: c_int, stat: c_int) -> u64 {
    ffi(u64::MAX, || {
        let e = table::get(s)?;
        let st = e.sock.stats();
        let (sock, proto) = (&st.socket, &st.protocol);
        Ok(match stat {
            stat::ESTABLISHED_CONNECTIONS => sock.connects,
            stat::ACCEPTED_CONNECTIONS => sock.accepts,
            // nanomsg counts as broken every connection that fails once made, its
            // handshake included; its "dropped" are connections cut by the socket's own
            // shutdown, which sp-net does not tell apart (counted as broken here).
            stat::BROKEN_CONNECTIONS => sock.pipes_removed + sock.handshake_failures,
            stat::DROPPED_CONNECTIONS => 0,
            stat::CONNECT_ERRORS => sock.connect_failures,
            stat::BIND_ERRORS | stat::ACCEPT_ERRORS | stat::INPROGRESS_CONNECTIONS => 0,
            stat::CURRENT_EP_ERRORS => 0,
            stat::CURRENT_CONNECTIONS => {
                u64::try_from(e.sock.as_async().pipe_count()).unwrap_or(u64::MAX)
            }
            stat::MESSAGES_SENT => proto.msgs_out,
            stat::MESSAGES_RECEIVED => proto.delivered,
            stat::BYTES_SENT => proto.bytes_out,
            stat::BYTES_RECEIVED => proto.bytes_in,
            stat::CURRENT_SND_PRIORITY => {
                let p = e.options().sndprio();
                u64::try_from(p).unwrap_or(0)
            }
            _ => return Err(libc::EINVAL),
        })
    })
}
