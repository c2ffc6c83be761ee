//! `nn_poll`: `poll(2)` on the sockets' `NN_RCVFD`/`NN_SNDFD` descriptors (see
//! `fds.rs`), as nanomsg does it. Polling takes nothing from a socket.

use std::ffi::c_int;

use crate::fds::Way;
use crate::{ffi, table};

/// `NN_POLLIN`.
pub const NN_POLLIN: i16 = 1;
/// `NN_POLLOUT`.
pub const NN_POLLOUT: i16 = 2;

/// A `poll(2)` set and, for each of its entries, the index of the `nn_pollfd` it
/// belongs to and the `NN_POLL*` bit it reports.
type PollSet = (Vec<libc::pollfd>, Vec<(usize, i16)>);

/// The `poll(2)` set for `fds`: one entry per way asked, with the index of its
/// `nn_pollfd` and the `NN_POLL*` bit it reports. `ENOPROTOOPT` for a way the socket
/// type lacks, `EBADF`/`ETERM` for a bad socket, as nanomsg.
fn pollset(fds: &[NnPollfd]) -> Result<PollSet, c_int> {
    let mut sys = Vec::with_capacity(fds.len() * 2);
    let mut map = Vec::with_capacity(fds.len() * 2);
    for (i, p) in fds.iter().enumerate() {
        let ways = [(NN_POLLIN, Way::Recv), (NN_POLLOUT, Way::Send)];
        for (bit, way) in ways {
            if p.events & bit == 0 {
                continue;
            }
            let e = table::get(p.fd)?;
            sys.push(libc::pollfd {
                fd: e.fds.fd(e.sock.as_async(), way)?,
                events: libc::POLLIN,
                revents: 0,
            });
            map.push((i, bit));
        }
    }
    Ok((sys, map))
}

/// `poll(2)` on `set` for up to `timeout_ms` (-1: forever): how many entries have
/// `revents`, or its errno (`EINTR` when a caught signal ended it: Linux never restarts
/// `poll(2)`, `SA_RESTART` or not).
pub(crate) fn sys_poll(set: &mut [libc::pollfd], timeout_ms: c_int) -> Result<c_int, c_int> {
    let n = libc::nfds_t::try_from(set.len()).map_err(|_| libc::EINVAL)?;
    // SAFETY: `set` is a live, exclusively borrowed array of `n` pollfds for the call.
    let rc = unsafe { libc::poll(set.as_mut_ptr(), n, timeout_ms) };
    if rc < 0 {
        return Err(crate::errno::get_errno());
    }
    Ok(rc)
}

/// Waits in `poll(2)` until a descriptor is readable or `timeout_ms` (-1: forever)
/// passes; sets each `revents` and returns how many are non-zero.
pub(crate) fn poll(fds: &mut [NnPollfd], timeout_ms: c_int) -> Result<c_int, c_int> {
    let (mut sys, map) = pollset(fds)?;
    sys_poll(&mut sys, timeout_ms)?;
    for p in fds.iter_mut() {
        p.revents = 0;
    }
    for (s, &(i, bit)) in sys.iter().zip(&map) {
        if s.revents & libc::POLLIN != 0 {
            fds[i].revents |= bit;
        }
    }
    let ready = fds.iter().filter(|p| p.revents != 0).count();
    c_int::try_from(ready).map_err(|_| libc::EINVAL)
}

/// `struct nn_pollfd`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NnPollfd {
    /// The socket.
    pub fd: c_int,
    /// `NN_POLLIN` and/or `NN_POLLOUT` wanted.
    pub events: i16,
    /// What is ready.
    pub revents: i16,
}

/// Waits up to `timeout` ms (-1: forever) until one of the sockets can receive
/// (`NN_POLLIN`) or send (`NN_POLLOUT`) without waiting; returns how many entries have
/// `revents` set, 0 on timeout, or -1 with `EBADF`, `ETERM`, `ENOPROTOOPT` (a way the
/// socket type lacks), `EINTR` (a signal), `EFAULT`. It blocks in `poll(2)` on the
/// sockets' `NN_RCVFD`/`NN_SNDFD` descriptors.
///
/// # Safety
/// `fds` is null or points to `nfds` readable and writable `nn_pollfd`s.
#[no_mangle]
pub unsafe extern "C" fn nn_poll(fds: *mut NnPollfd, nfds: c_int, timeout: c_int) -> c_int {
    ffi(-1, || {
        let n = usize::try_from(nfds).map_err(|_| libc::EINVAL)?;
        if n > 0 && fds.is_null() {
            return Err(libc::EFAULT);
        }
        // SAFETY: non-null with `n` readable elements (the caller's contract).
        let mut v: Vec<NnPollfd> = (0..n)
            .map(|i| unsafe { fds.add(i).read_unaligned() })
            .collect();
        let ready = poll(&mut v, timeout)?;
        for (i, p) in v.iter().enumerate() {
            // SAFETY: as above, `n` writable elements.
            unsafe { fds.add(i).write_unaligned(*p) };
        }
        Ok(ready)
    })
}
