//! `nng-perf`: nanomsg's perf tools (see `conformance::perf`) over NNG 1.x, for
//! side-by-side runs with `sp-perf`. Links libnng only (see build.rs).

// Calling a C library needs unsafe code; it is confined to the C-linking binaries, where
// every call passes pointers to live Rust buffers for the duration of the call.
#![allow(unsafe_code)]

use std::process::ExitCode;

#[cfg(nng_missing)]
fn main() -> ExitCode {
    conformance::peer::missing_library("nng", "libnng-dev");
}

#[cfg(not(nng_missing))]
fn main() -> ExitCode {
    conformance::perf::tool_main::<ffi::NngSocket>()
}

#[cfg(not(nng_missing))]
mod ffi {
    use std::ffi::{c_char, c_int, c_void, CStr, CString};
    use std::time::Duration;

    use conformance::perf::{PerfKind, PerfSocket};

    /// `nng_socket`, `nng_dialer` and `nng_listener` are structs holding one u32 id.
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub(crate) struct Handle {
        id: u32,
    }

    // Hand-written declarations of the parts of <nng/nng.h> (NNG 1.x) we use.
    extern "C" {
        fn nng_strerror(err: c_int) -> *const c_char;
        fn nng_close(s: Handle) -> c_int;
        fn nng_listen(s: Handle, url: *const c_char, l: *mut Handle, flags: c_int) -> c_int;
        fn nng_dial(s: Handle, url: *const c_char, d: *mut Handle, flags: c_int) -> c_int;
        fn nng_send(s: Handle, data: *mut c_void, size: usize, flags: c_int) -> c_int;
        fn nng_recv(s: Handle, data: *mut c_void, size: *mut usize, flags: c_int) -> c_int;
        fn nng_socket_set_bool(s: Handle, name: *const c_char, v: bool) -> c_int;
        fn nng_socket_set_ms(s: Handle, name: *const c_char, v: i32) -> c_int;
        fn nng_socket_set(s: Handle, name: *const c_char, v: *const c_void, sz: usize) -> c_int;
        fn nng_pair0_open(s: *mut Handle) -> c_int;
        fn nng_push0_open(s: *mut Handle) -> c_int;
        fn nng_pull0_open(s: *mut Handle) -> c_int;
        fn nng_sub0_open(s: *mut Handle) -> c_int;
    }

    /// Dial in the background (retrying) instead of failing when no one listens yet.
    const NNG_FLAG_NONBLOCK: c_int = 2;

    fn check(what: &str, rc: c_int) -> Result<(), String> {
        if rc == 0 {
            Ok(())
        } else {
            // SAFETY: nng_strerror returns a static NUL-terminated string.
            let text = unsafe { CStr::from_ptr(nng_strerror(rc)) };
            Err(format!("{what}: {}", text.to_string_lossy()))
        }
    }

    fn c_url(url: &str) -> Result<CString, String> {
        CString::new(url).map_err(|_| format!("{url:?} contains NUL"))
    }

    /// An NNG socket.
    pub(crate) struct NngSocket(Handle);

    impl PerfSocket for NngSocket {
        fn open(kind: PerfKind) -> Result<Self, String> {
            let open = match kind {
                PerfKind::Pair => nng_pair0_open,
                PerfKind::Push => nng_push0_open,
                PerfKind::Pull => nng_pull0_open,
                PerfKind::Sub => nng_sub0_open,
            };
            let mut h = Handle { id: 0 };
            // SAFETY: h is a live out-parameter.
            check("open", unsafe { open(&mut h) })?;
            Ok(Self(h))
        }

        fn set_nodelay(&mut self) -> Result<(), String> {
            // SAFETY: the option name is a NUL-terminated literal.
            let rc = unsafe { nng_socket_set_bool(self.0, c"tcp-nodelay".as_ptr(), true) };
            check("nng_socket_set_bool", rc)
        }

        fn set_timeout(&mut self, limit: Duration) -> Result<(), String> {
            let ms = i32::try_from(limit.as_millis()).unwrap_or(i32::MAX);
            for name in [c"send-timeout", c"recv-timeout"] {
                // SAFETY: the option name is a NUL-terminated literal.
                let rc = unsafe { nng_socket_set_ms(self.0, name.as_ptr(), ms) };
                check("nng_socket_set_ms", rc)?;
            }
            Ok(())
        }

        fn subscribe(&mut self, topic: &[u8]) -> Result<(), String> {
            // SAFETY: the option name is a NUL-terminated literal; nng copies the topic,
            // live for the call.
            let rc = unsafe {
                nng_socket_set(
                    self.0,
                    c"sub:subscribe".as_ptr(),
                    topic.as_ptr().cast(),
                    topic.len(),
                )
            };
            check("nng_socket_set", rc)
        }

        fn bind(&mut self, url: &str) -> Result<(), String> {
            let url = c_url(url)?;
            // SAFETY: url is live; a null listener out-pointer is allowed.
            check("nng_listen", unsafe {
                nng_listen(self.0, url.as_ptr(), std::ptr::null_mut(), 0)
            })
        }

        fn connect(&mut self, url: &str) -> Result<(), String> {
            let url = c_url(url)?;
            // SAFETY: url is live; a null dialer out-pointer is allowed.
            check("nng_dial", unsafe {
                nng_dial(
                    self.0,
                    url.as_ptr(),
                    std::ptr::null_mut(),
                    NNG_FLAG_NONBLOCK,
                )
            })
        }

        fn send(&mut self, buf: &[u8]) -> Result<(), String> {
            // SAFETY: without NNG_FLAG_ALLOC nng copies the buffer and never writes to it.
            let rc = unsafe { nng_send(self.0, buf.as_ptr() as *mut c_void, buf.len(), 0) };
            check("nng_send", rc)
        }

        fn recv(&mut self, buf: &mut [u8]) -> Result<usize, String> {
            let mut size = buf.len();
            // SAFETY: buf is live and writable for `size` bytes during the call.
            let rc = unsafe { nng_recv(self.0, buf.as_mut_ptr().cast(), &mut size, 0) };
            check("nng_recv", rc).map(|()| size)
        }

        fn close(self) {
            // SAFETY: closes the socket this value owns.
            unsafe { nng_close(self.0) };
        }
    }
}
