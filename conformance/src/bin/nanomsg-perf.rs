//! `nanomsg-perf`: nanomsg's perf tools (see `conformance::perf`) over libnanomsg, for
//! side-by-side runs with `sp-perf`. Links libnanomsg only (see build.rs).

// Calling a C library needs unsafe code; it is confined to the C-linking binaries, where
// every call passes pointers to live Rust buffers for the duration of the call.
#![allow(unsafe_code)]

use std::process::ExitCode;

#[cfg(nanomsg_missing)]
fn main() -> ExitCode {
    conformance::peer::missing_library("nanomsg", "libnanomsg-dev");
}

#[cfg(not(nanomsg_missing))]
fn main() -> ExitCode {
    conformance::perf::tool_main::<ffi::NnSocket>()
}

#[cfg(not(nanomsg_missing))]
mod ffi {
    use std::ffi::{c_char, c_int, c_void, CStr, CString};
    use std::time::Duration;

    use conformance::perf::{PerfKind, PerfSocket};

    // Hand-written declarations of the parts of <nanomsg/nn.h> we use (libnanomsg 1.x).
    extern "C" {
        fn nn_socket(domain: c_int, protocol: c_int) -> c_int;
        fn nn_close(s: c_int) -> c_int;
        fn nn_bind(s: c_int, addr: *const c_char) -> c_int;
        fn nn_connect(s: c_int, addr: *const c_char) -> c_int;
        fn nn_send(s: c_int, buf: *const c_void, len: usize, flags: c_int) -> c_int;
        fn nn_recv(s: c_int, buf: *mut c_void, len: usize, flags: c_int) -> c_int;
        fn nn_setsockopt(
            s: c_int,
            level: c_int,
            option: c_int,
            optval: *const c_void,
            optvallen: usize,
        ) -> c_int;
        fn nn_errno() -> c_int;
        fn nn_strerror(errnum: c_int) -> *const c_char;
    }

    const AF_SP: c_int = 1;
    const NN_PAIR: c_int = 16;
    const NN_PUSH: c_int = 80;
    const NN_PULL: c_int = 81;
    const NN_SUB: c_int = 33;
    const NN_SUB_SUBSCRIBE: c_int = 1;
    const NN_SOL_SOCKET: c_int = 0;
    const NN_SNDTIMEO: c_int = 4;
    const NN_RCVTIMEO: c_int = 5;
    const NN_TCP: c_int = -3;
    const NN_TCP_NODELAY: c_int = 1;

    fn last_error(what: &str) -> String {
        // SAFETY: nn_strerror returns a static NUL-terminated string.
        let text = unsafe { CStr::from_ptr(nn_strerror(nn_errno())) };
        format!("{what}: {}", text.to_string_lossy())
    }

    fn check(what: &str, rc: c_int) -> Result<c_int, String> {
        if rc < 0 {
            Err(last_error(what))
        } else {
            Ok(rc)
        }
    }

    fn c_url(url: &str) -> Result<CString, String> {
        CString::new(url).map_err(|_| format!("{url:?} contains NUL"))
    }

    /// A libnanomsg socket.
    pub(crate) struct NnSocket(c_int);

    impl NnSocket {
        fn set(&mut self, level: c_int, option: c_int, value: &[u8]) -> Result<(), String> {
            // SAFETY: the option value points to `value`, live for the call.
            let rc =
                unsafe { nn_setsockopt(self.0, level, option, value.as_ptr().cast(), value.len()) };
            check("nn_setsockopt", rc).map(drop)
        }
    }

    impl PerfSocket for NnSocket {
        fn open(kind: PerfKind) -> Result<Self, String> {
            let proto = match kind {
                PerfKind::Pair => NN_PAIR,
                PerfKind::Push => NN_PUSH,
                PerfKind::Pull => NN_PULL,
                PerfKind::Sub => NN_SUB,
            };
            // SAFETY: plain integer arguments.
            check("nn_socket", unsafe { nn_socket(AF_SP, proto) }).map(Self)
        }

        fn set_nodelay(&mut self) -> Result<(), String> {
            self.set(NN_TCP, NN_TCP_NODELAY, &c_int::to_ne_bytes(1))
        }

        fn set_timeout(&mut self, limit: Duration) -> Result<(), String> {
            let ms = c_int::try_from(limit.as_millis()).unwrap_or(c_int::MAX);
            self.set(NN_SOL_SOCKET, NN_SNDTIMEO, &ms.to_ne_bytes())?;
            self.set(NN_SOL_SOCKET, NN_RCVTIMEO, &ms.to_ne_bytes())
        }

        fn subscribe(&mut self, topic: &[u8]) -> Result<(), String> {
            self.set(NN_SUB, NN_SUB_SUBSCRIBE, topic)
        }

        fn bind(&mut self, url: &str) -> Result<(), String> {
            let url = c_url(url)?;
            // SAFETY: url is a live NUL-terminated string.
            check("nn_bind", unsafe { nn_bind(self.0, url.as_ptr()) }).map(drop)
        }

        fn connect(&mut self, url: &str) -> Result<(), String> {
            let url = c_url(url)?;
            // SAFETY: url is a live NUL-terminated string.
            check("nn_connect", unsafe { nn_connect(self.0, url.as_ptr()) }).map(drop)
        }

        fn send(&mut self, buf: &[u8]) -> Result<(), String> {
            // SAFETY: buf is live for the call; nanomsg copies it.
            let rc = unsafe { nn_send(self.0, buf.as_ptr().cast(), buf.len(), 0) };
            check("nn_send", rc).map(drop)
        }

        fn recv(&mut self, buf: &mut [u8]) -> Result<usize, String> {
            // SAFETY: buf is live and writable for its whole length during the call.
            let rc = unsafe { nn_recv(self.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
            check("nn_recv", rc).map(|n| n as usize)
        }

        fn close(self) {
            // SAFETY: closes the socket this value owns.
            unsafe { nn_close(self.0) };
        }
    }
}
