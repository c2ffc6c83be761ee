//! `NN_SNDFD` and `NN_RCVFD`: for each socket, an eventfd that is readable exactly while
//! a send (a receive) would not wait, as nanomsg's are (level-triggered: readable for as
//! long as the condition holds, never to be read or written by the user).
//!
//! The descriptors are made on first request (`nn_getsockopt` or `nn_poll`). From then
//! on sp-net's change hook ([`sp_net::Socket::on_change`]) brings them up to date after
//! every change of the socket's state (messages, peers, room, timers, close), and every
//! call made through this library brings them up to date before it returns, so a
//! program that took the last message sees the descriptor unreadable at once.
//! `nn_close` closes them (raising both first, so that a thread blocked in `poll(2)` on
//! them wakes).

use std::ffi::c_int;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use sp_net::{ChangeWatch, Error, Readiness, ReadinessProbe, Socket};

/// Which way a descriptor reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Way {
    /// `NN_SNDFD`: a send would not wait.
    Send,
    /// `NN_RCVFD`: a receive would not wait.
    Recv,
}

/// One eventfd and whether it is raised (its counter non-zero). Also the doorbell a
/// blocked call sleeps on (`wait.rs`).
pub(crate) struct EventFd {
    file: File,
    raised: bool,
}

impl EventFd {
    /// A lowered eventfd, non-blocking and close-on-exec; the error of `eventfd` (`EMFILE`...).
    pub(crate) fn new() -> Result<Self, c_int> {
        // SAFETY: eventfd takes no pointers; it returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(crate::errno::get_errno());
        }
        // SAFETY: `fd` was just returned by eventfd, is open, and nothing else owns it.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self {
            file: File::from(owned),
            raised: false,
        })
    }

    /// Makes the descriptor readable (`on`) or not. Non-blocking: the counter is 0 or 1,
    /// far from the eventfd's limit, and is read only while it is 1.
    pub(crate) fn set(&mut self, on: bool) {
        if on == self.raised {
            return;
        }
        let r = if on {
            (&self.file).write(&1u64.to_ne_bytes()).map(drop)
        } else {
            (&self.file).read(&mut [0u8; 8]).map(drop)
        };
        if r.is_ok() {
            self.raised = on;
        }
    }

    /// The descriptor, for `poll(2)`: readable while raised.
    pub(crate) fn raw(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

#[derive(Default)]
struct State {
    send: Option<EventFd>,
    recv: Option<EventFd>,
    watch: Option<ChangeWatch>,
    closed: bool,
}

/// The descriptors of one socket.
pub(crate) struct Fds {
    probe: ReadinessProbe,
    can_send: bool,
    can_recv: bool,
    /// Set once the descriptors exist: calls then bring them up to date.
    made: AtomicBool,
    state: Mutex<State>,
}

/// A receive would not wait: a message is there, a survey's deadline passed (the
/// receive reports it), or the socket is closed (the receive fails at once).
fn recv_ready(r: &Readiness) -> bool {
    matches!(r.recv, Ok(()) | Err(Error::SurveyExpired | Error::Closed))
}

/// A send would not wait: the protocol takes a message now, or the socket is closed. A
/// raw socket's probe has no header to route by ([`Error::BadHeader`]): raw sockets
/// count as writable, as nanomsg's raw REP and RESPONDENT always are.
fn send_ready(r: &Readiness) -> bool {
    matches!(r.send, Ok(()) | Err(Error::BadHeader | Error::Closed))
}

impl Fds {
    /// The descriptors of `sock` (made on first request).
    pub(crate) fn new(sock: &Socket) -> Arc<Self> {
        let ty = sock.socket_type();
        Arc::new(Self {
            probe: sock.readiness_probe(),
            can_send: ty.can_send(),
            can_recv: ty.can_recv(),
            made: AtomicBool::new(false),
            state: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The descriptor for `way`, made (with its partner and the change hook) on first
    /// request. `ENOPROTOOPT` for a way the socket type lacks (as nanomsg), `EBADF` after
    /// close, or the error of `eventfd` (`EMFILE`...).
    pub(crate) fn fd(self: &Arc<Self>, sock: &Socket, way: Way) -> Result<RawFd, c_int> {
        let supported = match way {
            Way::Send => self.can_send,
            Way::Recv => self.can_recv,
        };
        if !supported {
            return Err(libc::ENOPROTOOPT);
        }
        let mut st = self.lock();
        if st.closed {
            return Err(libc::EBADF);
        }
        if st.watch.is_none() {
            st.send = self.can_send.then(EventFd::new).transpose()?;
            st.recv = self.can_recv.then(EventFd::new).transpose()?;
            self.update(&mut st);
            self.made.store(true, Ordering::SeqCst);
            let weak: Weak<Self> = Arc::downgrade(self);
            st.watch = Some(sock.on_change(move || {
                if let Some(fds) = weak.upgrade() {
                    fds.refresh();
                }
            }));
        }
        let fd = match way {
            Way::Send => st.send.as_ref(),
            Way::Recv => st.recv.as_ref(),
        };
        fd.map(EventFd::raw).ok_or(libc::EBADF)
    }

    /// Reads the readiness and raises or lowers the descriptors, under the lock: the last
    /// update to finish read the state last, so the descriptors never keep an old value.
    fn update(&self, st: &mut State) {
        if st.closed {
            return;
        }
        let r = self.probe.readiness();
        if let Some(f) = st.send.as_mut() {
            f.set(send_ready(&r));
        }
        if let Some(f) = st.recv.as_mut() {
            f.set(recv_ready(&r));
        }
    }

    /// Brings the descriptors up to date, if they exist.
    pub(crate) fn refresh(&self) {
        if self.made.load(Ordering::SeqCst) {
            self.update(&mut self.lock());
        }
    }

    /// `nn_close`: raises both descriptors (waking any `poll(2)` on them), closes them,
    /// and stops the hook.
    pub(crate) fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        for mut f in [st.send.take(), st.recv.take()].into_iter().flatten() {
            f.set(true);
        }
        st.watch = None;
    }
}
