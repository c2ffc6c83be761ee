//! `nn_device`: forwards between two raw sockets (or reflects one) until a socket fails.
//!
//! Each direction is a thread doing a blocking receive and send on sp-net's sockets; the
//! caller returns at the first direction that ends, with its error. A direction still
//! blocked in a receive at that moment ends when its socket closes or `nn_term` runs.

use std::ffi::c_int;
use std::sync::mpsc;
use std::sync::Arc;

use sp_net::Error;

use crate::errno::errno_of;
use crate::ffi;
use crate::table::{self, Block, Entry};
use crate::wait::Signals;

/// The forwarders' threads are this library's: a signal the process catches there does
/// not stop the device.
const FORWARD: Block = Block::Wait(Signals::Ignore);

fn pump(from: &Entry, to: &Entry) -> c_int {
    loop {
        let msg = match from.recv(FORWARD) {
            Ok(m) => m,
            Err(e) => return errno_of(&e),
        };
        match to.send(msg, FORWARD) {
            // A header the target cannot route (a reply for a requester that left): the
            // raw socket counted it; keep forwarding, as nanomsg does.
            Ok(()) | Err(Error::BadHeader) => {}
            Err(e) => return errno_of(&e),
        }
    }
}

/// Runs the device; returns the errno it ended with. `b` is `None` for a reflector.
pub(crate) fn run(a: Arc<Entry>, b: Option<Arc<Entry>>) -> c_int {
    let (ta, raw_a) = (a.sock.as_async().socket_type(), a.sock.as_async().is_raw());
    let pairs = match &b {
        None => {
            if !raw_a || ta.peer() != ta {
                return libc::EINVAL;
            }
            vec![(a.clone(), a.clone())]
        }
        Some(b) => {
            let tb = b.sock.as_async().socket_type();
            if !raw_a || !b.sock.as_async().is_raw() || ta.peer() != tb {
                return libc::EINVAL;
            }
            let mut v = Vec::new();
            if ta.can_recv() && tb.can_send() {
                v.push((a.clone(), b.clone()));
            }
            if tb.can_recv() && ta.can_send() {
                v.push((b.clone(), a.clone()));
            }
            v
        }
    };
    let (tx, rx) = mpsc::channel();
    for (from, to) in pairs {
        let tx = tx.clone();
        let spawned = std::thread::Builder::new()
            .name("nn_device".into())
            .spawn(move || {
                let _ = tx.send(pump(&from, &to));
            });
        if spawned.is_err() {
            return libc::ENOMEM;
        }
    }
    drop(tx);
    rx.recv().unwrap_or(libc::EBADF)
}

/// Forwards messages between raw sockets `s1` and `s2` (whose protocols must be each
/// other's peers) in every direction they allow, or, with one of them -1, reflects a raw
/// BUS or PAIR socket into itself. Blocks until a socket fails; returns -1 with that
/// errno (`EBADF` after `nn_close`, `ETERM` after `nn_term`), or `EINVAL` for sockets
/// that cannot form a device.
#[no_mangle]
pub extern "C" fn nn_device(s1: c_int, s2: c_int) -> c_int {
    ffi(-1, || {
        let (a, b) = match (s1, s2) {
            (-1, s) | (s, -1) => (table::get(s)?, None),
            (s1, s2) => (table::get(s1)?, Some(table::get(s2)?)),
        };
        Err(run(a, b))
    })
}
