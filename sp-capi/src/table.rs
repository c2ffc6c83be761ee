//! The socket table: the small integers nanomsg hands out, mapped to sp-net sockets.

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sp_net::{BlockingSocket, Endpoint, Error, Message};

use crate::fds::Fds;
use crate::options::NnOptions;
use crate::wait::{self, Signals};

/// Most sockets open at once (nanomsg's `NN_MAX_SOCKETS`).
pub(crate) const MAX_SOCKETS: usize = 512;

/// One open socket.
pub(crate) struct Entry {
    pub(crate) sock: BlockingSocket,
    /// `AF_SP` or `AF_SP_RAW`.
    pub(crate) domain: c_int,
    /// The protocol number given to `nn_socket`.
    pub(crate) protocol: c_int,
    /// Option values as nanomsg reports them.
    pub(crate) opts: Mutex<NnOptions>,
    /// Endpoints by the ids `nn_bind`/`nn_connect` returned.
    pub(crate) endpoints: Mutex<Endpoints>,
    /// `NN_SNDFD`/`NN_RCVFD`, made on first request.
    pub(crate) fds: Arc<Fds>,
}

/// What a send or receive that cannot complete at once does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Block {
    /// Fails with [`Error::WouldBlock`] (`NN_DONTWAIT`).
    Never,
    /// Waits (up to `NN_SNDTIMEO`/`NN_RCVTIMEO`) with `signals` ending or not ending the
    /// wait (see `wait.rs`).
    Wait(Signals),
}

impl Entry {
    /// Receives; then brings the descriptors up to date. A message that is ready is taken
    /// without a system call.
    pub(crate) fn recv(&self, block: Block) -> Result<Message, Error> {
        let sock = self.sock.as_async();
        let r = match block {
            Block::Never => sock.try_recv(),
            Block::Wait(signals) => {
                let timeout = || self.options().recv_timeout();
                wait::block_on(sock.recv(), timeout, signals)
            }
        };
        self.fds.refresh();
        r
    }

    /// Sends; then brings the descriptors up to date. A message the protocol takes at once
    /// is sent without a system call.
    pub(crate) fn send(&self, msg: Message, block: Block) -> Result<(), Error> {
        let sock = self.sock.as_async();
        let r = match block {
            Block::Never => sock.try_send(msg),
            Block::Wait(signals) => {
                let timeout = || self.options().send_timeout();
                wait::block_on(sock.send(msg), timeout, signals)
            }
        };
        self.fds.refresh();
        r
    }

    /// The option values, locked.
    pub(crate) fn options(&self) -> MutexGuard<'_, NnOptions> {
        self.opts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The endpoints of one socket.
#[derive(Default)]
pub(crate) struct Endpoints {
    /// The last id handed out (0 before the first).
    last: c_int,
    live: Vec<(c_int, Endpoint)>,
}

impl Endpoints {
    /// Keeps `ep` and returns its id: 1 for a socket's first endpoint, then counting up,
    /// as nanomsg numbers them.
    pub(crate) fn add(&mut self, ep: Endpoint) -> c_int {
        self.last = self.last.wrapping_add(1).max(1);
        let id = self.last;
        self.live.push((id, ep));
        id
    }

    /// Removes the endpoint `id`.
    pub(crate) fn remove(&mut self, id: c_int) -> Option<Endpoint> {
        let i = self.live.iter().position(|(e, _)| *e == id)?;
        Some(self.live.swap_remove(i).1)
    }
}

type Table = Vec<Option<Arc<Entry>>>;

static TABLE: Mutex<Table> = Mutex::new(Vec::new());
static TERMINATED: AtomicBool = AtomicBool::new(false);

fn table() -> MutexGuard<'static, Table> {
    TABLE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether `nn_term` has run.
pub(crate) fn terminated() -> bool {
    TERMINATED.load(Ordering::SeqCst)
}

/// Puts the entry `make` builds for its number in the lowest free slot, or `EMFILE`.
pub(crate) fn insert(make: impl FnOnce(c_int) -> Entry) -> Result<c_int, c_int> {
    let mut t = table();
    let slot = match t.iter().position(Option::is_none) {
        Some(i) => i,
        None if t.len() < MAX_SOCKETS => {
            t.push(None);
            t.len() - 1
        }
        None => return Err(libc::EMFILE),
    };
    let s = c_int::try_from(slot).map_err(|_| libc::EMFILE)?;
    t[slot] = Some(Arc::new(make(s)));
    Ok(s)
}

/// The socket `s`: `EBADF` if there is none, `ETERM` after `nn_term`.
pub(crate) fn get(s: c_int) -> Result<Arc<Entry>, c_int> {
    if terminated() {
        return Err(crate::errno::ETERM);
    }
    peek(s)
}

fn peek(s: c_int) -> Result<Arc<Entry>, c_int> {
    let t = table();
    usize::try_from(s)
        .ok()
        .and_then(|i| t.get(i))
        .and_then(Option::clone)
        .ok_or(libc::EBADF)
}

/// Takes the socket `s` out of the table (`nn_close` works after `nn_term` too).
pub(crate) fn remove(s: c_int) -> Result<Arc<Entry>, c_int> {
    let mut t = table();
    usize::try_from(s)
        .ok()
        .and_then(|i| t.get_mut(i))
        .and_then(Option::take)
        .ok_or(libc::EBADF)
}

/// `nn_term`: every socket's pending and later operations fail with `ETERM`. The sockets
/// stay in the table until `nn_close`.
pub(crate) fn terminate() {
    TERMINATED.store(true, Ordering::SeqCst);
    let all: Vec<Arc<Entry>> = table().iter().flatten().cloned().collect();
    for e in all {
        e.sock.close();
        // Both descriptors readable now (every call fails at once), as in nanomsg.
        e.fds.refresh();
    }
}
