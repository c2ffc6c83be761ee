//! `nanomsg-peer`: a libnanomsg socket driven by the command language of
//! `conformance::peer`. Links libnanomsg only (see build.rs).

// Calling a C library needs unsafe code; it is confined to this binary (and nng-peer),
// where every call passes pointers to live Rust buffers for the duration of the call.
#![allow(unsafe_code)]

#[cfg(nanomsg_missing)]
fn main() {
    conformance::peer::missing_library("nanomsg", "libnanomsg-dev");
}

#[cfg(not(nanomsg_missing))]
fn main() {
    let mut peer = ffi::Nanomsg::default();
    conformance::peer::serve(&mut peer);
}

#[cfg(not(nanomsg_missing))]
mod ffi {
    use std::ffi::{c_char, c_int, c_void, CStr, CString};

    use conformance::peer::{Backend, PeerError, PeerOption};
    use sp_proto::SocketType;

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
        fn nn_freemsg(msg: *mut c_void) -> c_int;
        fn nn_errno() -> c_int;
        fn nn_device(s1: c_int, s2: c_int) -> c_int;
        fn nn_strerror(errnum: c_int) -> *const c_char;
        // Only libnanomsg has nn_symbol (NNG's compatibility layer does not), so linking
        // and calling it proves which library this is.
        fn nn_symbol(i: c_int, value: *mut c_int) -> *const c_char;
        // From libc: which shared object a function was loaded from.
        fn dladdr(addr: *const c_void, info: *mut DlInfo) -> c_int;
    }

    #[repr(C)]
    struct DlInfo {
        fname: *const c_char,
        fbase: *mut c_void,
        sname: *const c_char,
        saddr: *mut c_void,
    }

    const AF_SP: c_int = 1;
    const AF_SP_RAW: c_int = 2;
    const NN_SNDPRIO: c_int = 8;
    const NN_MSG: usize = usize::MAX;
    const NN_SOL_SOCKET: c_int = 0;
    const NN_SNDTIMEO: c_int = 4;
    const NN_RCVTIMEO: c_int = 5;
    const NN_RECONNECT_IVL: c_int = 6;
    const NN_RCVMAXSIZE: c_int = 16;
    const NN_REQ: c_int = 48;
    const NN_SUB: c_int = 33;
    const NN_SURVEYOR: c_int = 98;
    const NN_HAUSNUMERO: c_int = 156_384_712;

    /// Portable names of the error numbers nanomsg returns on Linux.
    fn errno_name(e: c_int) -> String {
        let name = match e {
            11 => "EAGAIN",
            9 => "EBADF",
            22 => "EINVAL",
            110 => "ETIMEDOUT",
            95 => "ENOTSUP",
            93 => "EPROTONOSUPPORT",
            98 => "EADDRINUSE",
            99 => "EADDRNOTAVAIL",
            111 => "ECONNREFUSED",
            92 => "ENOPROTOOPT",
            90 => "EMSGSIZE",
            4 => "EINTR",
            x if x == NN_HAUSNUMERO + 53 => "ETERM",
            x if x == NN_HAUSNUMERO + 54 => "EFSM",
            other => return format!("E{other}"),
        };
        name.to_owned()
    }

    fn last_error() -> PeerError {
        // SAFETY: nn_errno has no preconditions; nn_strerror returns a static string.
        let (e, text) = unsafe {
            let e = nn_errno();
            (
                e,
                CStr::from_ptr(nn_strerror(e))
                    .to_string_lossy()
                    .into_owned(),
            )
        };
        PeerError::new(errno_name(e), text)
    }

    fn check(rc: c_int) -> Result<c_int, PeerError> {
        if rc < 0 {
            Err(last_error())
        } else {
            Ok(rc)
        }
    }

    fn c_string(s: &str) -> Result<CString, PeerError> {
        CString::new(s).map_err(|_| PeerError::new("EINVAL", "NUL byte in argument"))
    }

    /// Up to two libnanomsg sockets (slots 0 and 1).
    #[derive(Default)]
    pub(crate) struct Nanomsg {
        sockets: [Option<c_int>; 2],
        current: usize,
        device: bool,
    }

    impl Nanomsg {
        fn socket(&self) -> Result<c_int, PeerError> {
            self.sockets[self.current]
                .ok_or_else(|| PeerError::new("EBADF", "no socket: send `open` first"))
        }

        fn set_raw(&self, level: c_int, option: c_int, value: &[u8]) -> Result<(), PeerError> {
            let s = self.socket()?;
            // SAFETY: `value` is valid for `value.len()` bytes during the call.
            check(unsafe { nn_setsockopt(s, level, option, value.as_ptr().cast(), value.len()) })?;
            Ok(())
        }

        fn set_int(&self, level: c_int, option: c_int, value: c_int) -> Result<(), PeerError> {
            self.set_raw(level, option, &value.to_ne_bytes())
        }
    }

    impl Backend for Nanomsg {
        fn describe(&self) -> Result<String, PeerError> {
            // The library's ABI version, from its own symbol table.
            let mut version = [None; 3];
            for i in 0.. {
                let mut value: c_int = 0;
                // SAFETY: nn_symbol writes one int and returns a static string or NULL.
                let name = unsafe { nn_symbol(i, &mut value) };
                if name.is_null() {
                    break;
                }
                // SAFETY: non-NULL results are NUL-terminated static strings.
                let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
                let slot = match name.as_ref() {
                    "NN_VERSION_CURRENT" => 0,
                    "NN_VERSION_REVISION" => 1,
                    "NN_VERSION_AGE" => 2,
                    _ => continue,
                };
                version[slot] = Some(value);
            }
            let [Some(cur), Some(rev), Some(age)] = version else {
                return Err(PeerError::new(
                    "ENOTNANOMSG",
                    "nn_symbol does not list NN_VERSION_*: this is not libnanomsg",
                ));
            };
            let mut info = DlInfo {
                fname: std::ptr::null(),
                fbase: std::ptr::null_mut(),
                sname: std::ptr::null(),
                saddr: std::ptr::null_mut(),
            };
            // SAFETY: dladdr fills `info` for an address inside a loaded object.
            let found = unsafe { dladdr(nn_socket as *const c_void, &mut info) };
            let file = if found != 0 && !info.fname.is_null() {
                // SAFETY: dli_fname is a NUL-terminated string owned by the loader.
                unsafe { CStr::from_ptr(info.fname) }
                    .to_string_lossy()
                    .into_owned()
            } else {
                "unknown".to_owned()
            };
            let file = std::fs::canonicalize(&file)
                .map(|p| p.display().to_string())
                .unwrap_or(file);
            Ok(format!("nanomsg abi-{cur}.{rev}.{age} {file}"))
        }

        fn open(&mut self, socket_type: SocketType, raw: bool) -> Result<(), PeerError> {
            if socket_type == SocketType::Pair1 {
                return Err(PeerError::new("ENOTSUP", "libnanomsg has no PAIR v1"));
            }
            self.close()?;
            let protocol = c_int::from(socket_type.wire_id());
            // SAFETY: plain integer arguments.
            let s = check(unsafe { nn_socket(if raw { AF_SP_RAW } else { AF_SP }, protocol) })?;
            self.sockets[self.current] = Some(s);
            Ok(())
        }

        fn select(&mut self, slot: usize) -> Result<(), PeerError> {
            if slot > 1 {
                return Err(PeerError::new("EINVAL", "slots are 0 and 1"));
            }
            self.current = slot;
            Ok(())
        }

        fn device(&mut self) -> Result<(), PeerError> {
            let (Some(a), Some(b)) = (self.sockets[0], self.sockets[1]) else {
                return Err(PeerError::new(
                    "EBADF",
                    "a device needs sockets in slots 0 and 1",
                ));
            };
            self.device = true;
            // nn_device blocks until the library terminates: it runs on its own thread
            // until the process exits.
            std::thread::spawn(move || {
                // SAFETY: plain integer arguments; the sockets stay open (a peer with a
                // device never closes them, see close_all).
                let rc = unsafe { nn_device(a, b) };
                if rc < 0 {
                    eprintln!("nn_device ended: {:?}", last_error());
                }
            });
            Ok(())
        }

        fn listen(&mut self, url: &str) -> Result<(), PeerError> {
            let s = self.socket()?;
            let url = c_string(url)?;
            // SAFETY: `url` is a NUL-terminated string alive for the call.
            check(unsafe { nn_bind(s, url.as_ptr()) })?;
            Ok(())
        }

        fn dial(&mut self, url: &str) -> Result<(), PeerError> {
            let s = self.socket()?;
            let url = c_string(url)?;
            // SAFETY: as for nn_bind.
            check(unsafe { nn_connect(s, url.as_ptr()) })?;
            Ok(())
        }

        fn set_option(&mut self, option: &PeerOption) -> Result<(), PeerError> {
            match option {
                PeerOption::RecvTimeout(ms) => self.set_int(NN_SOL_SOCKET, NN_RCVTIMEO, *ms),
                PeerOption::SendTimeout(ms) => self.set_int(NN_SOL_SOCKET, NN_SNDTIMEO, *ms),
                PeerOption::ReconnectInterval(ms) => {
                    self.set_int(NN_SOL_SOCKET, NN_RECONNECT_IVL, *ms)
                }
                PeerOption::SurveyDeadline(ms) => self.set_int(NN_SURVEYOR, 1, *ms),
                PeerOption::ResendInterval(ms) => self.set_int(NN_REQ, 1, *ms),
                PeerOption::RecvMaxSize(n) => {
                    let n = c_int::try_from(*n)
                        .map_err(|_| PeerError::new("EINVAL", "size does not fit an int"))?;
                    self.set_int(NN_SOL_SOCKET, NN_RCVMAXSIZE, n)
                }
                PeerOption::Subscribe(topic) => self.set_raw(NN_SUB, 1, topic),
                PeerOption::Unsubscribe(topic) => self.set_raw(NN_SUB, 2, topic),
                PeerOption::SendPriority(p) => self.set_int(NN_SOL_SOCKET, NN_SNDPRIO, *p),
                PeerOption::TlsCertKeyFile(_) | PeerOption::TlsCaFile(_) => {
                    Err(PeerError::new("ENOTSUP", "libnanomsg has no TLS transport"))
                }
            }
        }

        fn send(&mut self, body: &[u8]) -> Result<(), PeerError> {
            let s = self.socket()?;
            // SAFETY: `body` is valid for its length during the call.
            check(unsafe { nn_send(s, body.as_ptr().cast(), body.len(), 0) })?;
            Ok(())
        }

        fn recv(&mut self) -> Result<Vec<u8>, PeerError> {
            let s = self.socket()?;
            let mut msg: *mut c_void = std::ptr::null_mut();
            // SAFETY: with NN_MSG, nn_recv stores a library-allocated buffer pointer in
            // `msg` and returns its length.
            let len =
                check(unsafe { nn_recv(s, (&mut msg as *mut *mut c_void).cast(), NN_MSG, 0) })?;
            let len = usize::try_from(len).unwrap_or(0);
            let body = if len == 0 || msg.is_null() {
                Vec::new()
            } else {
                // SAFETY: `msg` points to `len` initialised bytes owned by nanomsg.
                unsafe { std::slice::from_raw_parts(msg.cast::<u8>(), len) }.to_vec()
            };
            if !msg.is_null() {
                // SAFETY: `msg` came from nn_recv with NN_MSG and is freed once.
                unsafe { nn_freemsg(msg) };
            }
            Ok(body)
        }

        fn close(&mut self) -> Result<(), PeerError> {
            if let Some(s) = self.sockets[self.current].take() {
                // SAFETY: `s` is a socket this peer opened and has not closed.
                check(unsafe { nn_close(s) })?;
            }
            Ok(())
        }

        fn close_all(&mut self) {
            // A device thread may still use the sockets: leave them to the process exit.
            if self.device {
                return;
            }
            for slot in [1, 0] {
                self.current = slot;
                let _ = self.close();
            }
        }
    }
}
