//! Waiting in a blocking send or receive, so that a caught signal can end the wait.
//!
//! A send or receive that cannot complete at once polls sp-net's send or receive future
//! on the calling thread, which sleeps in `poll(2)` on its own eventfd (a doorbell, one
//! per thread) that the future's waker rings. A signal caught during `poll(2)` ends the
//! call with `EINTR`, as libnanomsg's blocked calls end (they wait in `poll(2)` too,
//! which Linux never restarts, whether the handler has `SA_RESTART` or not); dropping the
//! future then sends or takes nothing. `NN_SNDTIMEO`/`NN_RCVTIMEO` are `poll(2)`'s
//! timeout here, and `nn_close`/`nn_term` end the future itself (the socket closes).
//!
//! A signal that comes after the call started but before it sleeps is not seen
//! (libnanomsg, which also waits in a plain `poll(2)`, has the same window).

use std::cell::RefCell;
use std::ffi::c_int;
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use sp_net::Error;

use crate::fds::EventFd;

/// What a caught signal does to a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signals {
    /// Ends it with `EINTR` (the C caller's own blocking calls).
    End,
    /// Is ignored (this library's own threads: `nn_device`'s forwarders).
    Ignore,
}

/// A thread's doorbell: an eventfd raised by the waker of the future it waits for.
struct Doorbell {
    event: Mutex<EventFd>,
    fd: RawFd,
}

impl Doorbell {
    fn new() -> Result<Self, c_int> {
        let event = EventFd::new()?;
        let fd = event.raw();
        Ok(Self {
            event: Mutex::new(event),
            fd,
        })
    }

    fn set(&self, on: bool) {
        self.event.lock().unwrap_or_else(|p| p.into_inner()).set(on);
    }
}

impl Wake for Doorbell {
    fn wake(self: Arc<Self>) {
        self.set(true);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.set(true);
    }
}

thread_local! {
    static DOORBELL: RefCell<Option<Arc<Doorbell>>> = const { RefCell::new(None) };
}

/// The calling thread's doorbell, made on its first wait. A waker that outlives the wait
/// keeps the eventfd open (it may ring later: the next wait on this thread then looks
/// once more for nothing).
fn doorbell() -> Result<Arc<Doorbell>, c_int> {
    DOORBELL
        .try_with(|cell| {
            let mut slot = cell.borrow_mut();
            if let Some(d) = slot.as_ref() {
                return Ok(d.clone());
            }
            let d = Arc::new(Doorbell::new()?);
            *slot = Some(d.clone());
            Ok(d)
        })
        .unwrap_or(Err(libc::EBADF))
}

/// `poll(2)`'s timeout for the time left until `deadline`, rounded up to a millisecond
/// (so the wait never ends early); `None` once it has passed.
fn millis_left(deadline: Instant) -> Option<c_int> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return None;
    }
    let ms = left.as_nanos().div_ceil(1_000_000);
    Some(c_int::try_from(ms).unwrap_or(c_int::MAX))
}

fn os_error(errno: c_int) -> Error {
    Error::Io(io::Error::from_raw_os_error(errno))
}

/// Polls `work` until it completes, sleeping in `poll(2)` between polls: at most
/// `timeout()` (`None`: forever; then [`Error::TimedOut`]), and, with [`Signals::End`],
/// until a caught signal (an I/O error `EINTR`). Dropping `work` on either must be safe:
/// sp-net's send and receive futures take and send nothing then.
///
/// The first poll needs no doorbell: work that completes at once (a message was ready)
/// costs no system call, no clock reading and no look at the timeout.
pub(crate) fn block_on<T>(
    work: impl Future<Output = Result<T, Error>>,
    timeout: impl FnOnce() -> Option<Duration>,
    signals: Signals,
) -> Result<T, Error> {
    let mut work = pin!(work);
    if let Poll::Ready(r) = work.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        return r;
    }
    let deadline = timeout().and_then(|d| Instant::now().checked_add(d));
    let bell = doorbell().map_err(os_error)?;
    let waker = Waker::from(bell.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        // Polled with the doorbell's waker before every sleep (the first time to replace
        // the no-op waker): the future sees the change that rang, or registers the waker
        // again, so a change between this poll and `poll(2)` rings the bell.
        if let Poll::Ready(r) = work.as_mut().poll(&mut cx) {
            return r;
        }
        let ms = match deadline {
            None => -1,
            Some(d) => millis_left(d).ok_or(Error::TimedOut)?,
        };
        let mut set = [libc::pollfd {
            fd: bell.fd,
            events: libc::POLLIN,
            revents: 0,
        }];
        match crate::poll::sys_poll(&mut set, ms) {
            // Rung (or timed out): lower the bell before looking again.
            Ok(_) => bell.set(false),
            Err(libc::EINTR) if signals == Signals::End => return Err(os_error(libc::EINTR)),
            Err(libc::EINTR) => {}
            Err(e) => return Err(os_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A future that completes once another thread calls [`Flag::set`].
    #[derive(Default)]
    struct Flag {
        done: AtomicBool,
        waker: Mutex<Option<Waker>>,
    }

    impl Flag {
        fn set(&self) {
            self.done.store(true, Ordering::SeqCst);
            if let Some(w) = self.waker.lock().unwrap().take() {
                w.wake();
            }
        }

        async fn wait(&self) -> Result<(), Error> {
            std::future::poll_fn(|cx| {
                *self.waker.lock().unwrap() = Some(cx.waker().clone());
                if self.done.load(Ordering::SeqCst) {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Pending
                }
            })
            .await
        }
    }

    #[test]
    fn a_wake_from_another_thread_ends_the_wait() {
        let flag = Arc::new(Flag::default());
        let setter = {
            let flag = flag.clone();
            std::thread::spawn(move || flag.set())
        };
        let r = block_on(flag.wait(), || None, Signals::End);
        assert!(r.is_ok(), "{r:?}");
        setter.join().unwrap();
        // The doorbell may still be rung by a late wake: the next wait looks once more
        // and then times out as it should.
        let r = block_on(
            Flag::default().wait(),
            || Some(Duration::ZERO),
            Signals::End,
        );
        assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
    }

    #[test]
    fn work_never_woken_times_out_no_earlier_than_asked() {
        let t0 = Instant::now();
        let timeout = Duration::from_millis(30);
        let r = block_on(Flag::default().wait(), || Some(timeout), Signals::End);
        assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
        assert!(t0.elapsed() >= timeout);
    }

    #[test]
    fn work_done_at_once_needs_no_timeout() {
        let r = block_on(
            async { Ok(7) },
            || unreachable!("read the timeout"),
            Signals::End,
        );
        assert_eq!(r.unwrap(), 7);
    }

    #[test]
    fn poll_timeouts_count_down_to_the_deadline() {
        let ms = millis_left(Instant::now() + Duration::from_secs(10)).unwrap();
        assert!((9_000..=10_000).contains(&ms), "{ms}");
        assert_eq!(millis_left(Instant::now()), None);
    }
}
