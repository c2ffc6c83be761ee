//! `nn_poll` over sp-net's sockets.
//!
//! sp-net has no readiness query yet, so readiness is found by trying: `NN_POLLIN` is a
//! non-blocking receive whose message is stashed for the next `nn_recv`; `NN_POLLOUT` is
//! "the socket type can send, and it never blocks (PUB, BUS, SURVEYOR) or has a
//! connected peer". Rounds repeat with a sleep growing from 1 ms to 10 ms until something
//! is ready or the timeout passes.

use std::ffi::c_int;
use std::time::{Duration, Instant};

use sp_net::SocketType;

use crate::{ffi, table};

/// `NN_POLLIN`.
pub const NN_POLLIN: i16 = 1;
/// `NN_POLLOUT`.
pub const NN_POLLOUT: i16 = 2;

fn writable(e: &table::Entry) -> bool {
    let sock = e.sock.as_async();
    let ty = sock.socket_type();
    ty.can_send()
        && (matches!(ty, SocketType::Pub | SocketType::Bus | SocketType::Surveyor)
            || sock.pipe_count() > 0)
}

/// One round over `fds`: sets each `revents`, returns how many are ready.
fn round(fds: &mut [NnPollfd]) -> Result<c_int, c_int> {
    let mut ready = 0;
    for p in fds.iter_mut() {
        let e = table::get(p.fd)?;
        p.revents = 0;
        if p.events & NN_POLLIN != 0 && e.readable()? {
            p.revents |= NN_POLLIN;
        }
        if p.events & NN_POLLOUT != 0 && writable(&e) {
            p.revents |= NN_POLLOUT;
        }
        if p.revents != 0 {
            ready += 1;
        }
    }
    Ok(ready)
}

/// Polls until something is ready or `timeout_ms` (-1: forever) passes.
pub(crate) fn poll(fds: &mut [NnPollfd], timeout_ms: c_int) -> Result<c_int, c_int> {
    let deadline = u64::try_from(timeout_ms)
        .ok()
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    let mut nap = Duration::from_millis(1);
    loop {
        let ready = round(fds)?;
        if ready > 0 {
            return Ok(ready);
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Ok(0);
        }
        let sleep = deadline.map_or(nap, |d| nap.min(d - now));
        std::thread::sleep(sleep);
        nap = (nap * 2).min(Duration::from_millis(10));
    }
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
/// (`NN_POLLIN`) or send (`NN_POLLOUT`); returns how many entries have `revents` set,
/// 0 on timeout, or -1 with `EBADF`, `ETERM`, `EFAULT`. See docs/c-api.md for how
/// readiness is found here (by polling, with a short sleep between rounds).
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
