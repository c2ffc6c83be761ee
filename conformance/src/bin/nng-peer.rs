//! `nng-peer`: an NNG 1.x socket driven by the command language of `conformance::peer`.
//! Links libnng only (see build.rs).

// Calling a C library needs unsafe code; it is confined to this binary (and
// nanomsg-peer), where every call passes pointers to live Rust buffers for the call.
#![allow(unsafe_code)]

#[cfg(nng_missing)]
fn main() {
    conformance::peer::missing_library("nng", "libnng-dev");
}

#[cfg(not(nng_missing))]
fn main() {
    let mut peer = ffi::Nng::default();
    conformance::peer::serve(&mut peer);
}

#[cfg(not(nng_missing))]
mod ffi {
    use std::ffi::{c_char, c_int, c_void, CStr, CString};

    use conformance::peer::{Backend, PeerError, PeerOption};
    use sp_proto::SocketType;

    /// `nng_socket`, `nng_dialer` and `nng_listener` are structs holding one u32 id.
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub(crate) struct Handle {
        id: u32,
    }

    type Open = unsafe extern "C" fn(*mut Handle) -> c_int;

    // Hand-written declarations of the parts of <nng/nng.h> (NNG 1.x) we use.
    extern "C" {
        fn nng_version() -> *const c_char;
        fn nng_strerror(err: c_int) -> *const c_char;
        fn nng_close(s: Handle) -> c_int;
        fn nng_listen(s: Handle, url: *const c_char, l: *mut Handle, flags: c_int) -> c_int;
        fn nng_dial(s: Handle, url: *const c_char, d: *mut Handle, flags: c_int) -> c_int;
        fn nng_send(s: Handle, data: *mut c_void, size: usize, flags: c_int) -> c_int;
        fn nng_recv(s: Handle, data: *mut c_void, size: *mut usize, flags: c_int) -> c_int;
        fn nng_free(ptr: *mut c_void, size: usize);
        fn nng_socket_set(s: Handle, name: *const c_char, v: *const c_void, sz: usize) -> c_int;
        fn nng_socket_set_ms(s: Handle, name: *const c_char, ms: i32) -> c_int;
        fn nng_socket_set_size(s: Handle, name: *const c_char, size: usize) -> c_int;
        fn nng_pair0_open(s: *mut Handle) -> c_int;
        fn nng_pair1_open(s: *mut Handle) -> c_int;
        fn nng_req0_open(s: *mut Handle) -> c_int;
        fn nng_rep0_open(s: *mut Handle) -> c_int;
        fn nng_push0_open(s: *mut Handle) -> c_int;
        fn nng_pull0_open(s: *mut Handle) -> c_int;
        fn nng_pub0_open(s: *mut Handle) -> c_int;
        fn nng_sub0_open(s: *mut Handle) -> c_int;
        fn nng_surveyor0_open(s: *mut Handle) -> c_int;
        fn nng_respondent0_open(s: *mut Handle) -> c_int;
        fn nng_bus0_open(s: *mut Handle) -> c_int;
        fn nng_pair0_open_raw(s: *mut Handle) -> c_int;
        fn nng_pair1_open_raw(s: *mut Handle) -> c_int;
        fn nng_req0_open_raw(s: *mut Handle) -> c_int;
        fn nng_rep0_open_raw(s: *mut Handle) -> c_int;
        fn nng_push0_open_raw(s: *mut Handle) -> c_int;
        fn nng_pull0_open_raw(s: *mut Handle) -> c_int;
        fn nng_pub0_open_raw(s: *mut Handle) -> c_int;
        fn nng_sub0_open_raw(s: *mut Handle) -> c_int;
        fn nng_surveyor0_open_raw(s: *mut Handle) -> c_int;
        fn nng_respondent0_open_raw(s: *mut Handle) -> c_int;
        fn nng_bus0_open_raw(s: *mut Handle) -> c_int;
        fn nng_tls_config_alloc(cfg: *mut *mut c_void, mode: c_int) -> c_int;
        fn nng_tls_config_free(cfg: *mut c_void);
        fn nng_device(s1: Handle, s2: Handle) -> c_int;
        fn nng_listener_create(l: *mut Handle, s: Handle, url: *const c_char) -> c_int;
        fn nng_listener_set_string(l: Handle, name: *const c_char, v: *const c_char) -> c_int;
        fn nng_listener_start(l: Handle, flags: c_int) -> c_int;
        fn nng_dialer_create(d: *mut Handle, s: Handle, url: *const c_char) -> c_int;
        fn nng_dialer_set_string(d: Handle, name: *const c_char, v: *const c_char) -> c_int;
        fn nng_dialer_start(d: Handle, flags: c_int) -> c_int;
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

    const NNG_FLAG_ALLOC: c_int = 1;
    const NNG_FLAG_NONBLOCK: c_int = 2;

    /// Portable names for NNG's error numbers (nanomsg's names where they overlap).
    fn error_name(e: c_int) -> String {
        let name = match e {
            1 => "EINTR",
            2 => "ENOMEM",
            3 => "EINVAL",
            4 => "EBUSY",
            5 => "ETIMEDOUT",
            6 => "ECONNREFUSED",
            7 => "ECLOSED",
            8 => "EAGAIN",
            9 => "ENOTSUP",
            10 => "EADDRINUSE",
            11 => "EFSM", // NNG_ESTATE, which NNG's own nanomsg layer maps to EFSM
            12 => "ENOENT",
            13 => "EPROTO",
            15 => "EADDRINVAL",
            17 => "EMSGSIZE",
            20 => "ECANCELED",
            30 => "EBADTYPE",
            other => return format!("NNG{other}"),
        };
        name.to_owned()
    }

    fn check(rc: c_int) -> Result<(), PeerError> {
        if rc == 0 {
            return Ok(());
        }
        // SAFETY: nng_strerror returns a static string for any number.
        let text = unsafe { CStr::from_ptr(nng_strerror(rc)) }
            .to_string_lossy()
            .into_owned();
        Err(PeerError::new(error_name(rc), text))
    }

    fn c_string(s: &str) -> Result<CString, PeerError> {
        CString::new(s).map_err(|_| PeerError::new("EINVAL", "NUL byte in argument"))
    }

    /// Up to two NNG sockets (slots 0 and 1), and the TLS files for later endpoints.
    #[derive(Default)]
    pub(crate) struct Nng {
        sockets: [Option<Handle>; 2],
        current: usize,
        device: bool,
        cert_key_file: Option<String>,
        ca_file: Option<String>,
    }

    /// Sets string options on a listener or dialer about to start.
    type SetString = unsafe extern "C" fn(Handle, *const c_char, *const c_char) -> c_int;

    fn set_strings(h: Handle, set: SetString, pairs: &[(&str, &str)]) -> Result<(), PeerError> {
        for (name, value) in pairs {
            let (name, value) = (c_string(name)?, c_string(value)?);
            // SAFETY: both strings are NUL-terminated and alive for the call.
            check(unsafe { set(h, name.as_ptr(), value.as_ptr()) })?;
        }
        Ok(())
    }

    impl Nng {
        fn socket(&self) -> Result<Handle, PeerError> {
            self.sockets[self.current]
                .ok_or_else(|| PeerError::new("EBADF", "no socket: send `open` first"))
        }

        /// The TLS options a `tls+tcp://` endpoint gets: the certificate and key for a
        /// listener; the CA and the name `localhost` to verify for a dialer.
        fn tls_options(&self, listener: bool) -> Vec<(&str, &str)> {
            let mut v = Vec::new();
            if let Some(f) = &self.cert_key_file {
                if listener {
                    v.push(("tls-cert-key-file", f.as_str()));
                }
            }
            if let Some(f) = &self.ca_file {
                if !listener {
                    v.push(("tls-ca-file", f.as_str()));
                    v.push(("tls-server-name", "localhost"));
                }
            }
            v
        }

        fn set_ms(&self, name: &str, ms: i32) -> Result<(), PeerError> {
            let s = self.socket()?;
            let name = c_string(name)?;
            // SAFETY: `name` is NUL-terminated and alive for the call.
            check(unsafe { nng_socket_set_ms(s, name.as_ptr(), ms) })
        }

        fn set_bytes(&self, name: &str, value: &[u8]) -> Result<(), PeerError> {
            let s = self.socket()?;
            let name = c_string(name)?;
            // SAFETY: `name` and `value` are valid for the call.
            check(unsafe { nng_socket_set(s, name.as_ptr(), value.as_ptr().cast(), value.len()) })
        }
    }

    impl Backend for Nng {
        fn describe(&self) -> Result<String, PeerError> {
            // SAFETY: nng_version returns a static string.
            let version = unsafe { CStr::from_ptr(nng_version()) }
                .to_string_lossy()
                .into_owned();
            let mut info = DlInfo {
                fname: std::ptr::null(),
                fbase: std::ptr::null_mut(),
                sname: std::ptr::null(),
                saddr: std::ptr::null_mut(),
            };
            // SAFETY: dladdr fills `info` for an address inside a loaded object.
            let found = unsafe { dladdr(nng_version as *const c_void, &mut info) };
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
            Ok(format!("nng {version} {file}"))
        }

        fn open(&mut self, socket_type: SocketType, raw: bool) -> Result<(), PeerError> {
            self.close()?;
            let open: Open = if raw {
                match socket_type {
                    SocketType::Pair0 => nng_pair0_open_raw,
                    SocketType::Pair1 => nng_pair1_open_raw,
                    SocketType::Req => nng_req0_open_raw,
                    SocketType::Rep => nng_rep0_open_raw,
                    SocketType::Push => nng_push0_open_raw,
                    SocketType::Pull => nng_pull0_open_raw,
                    SocketType::Pub => nng_pub0_open_raw,
                    SocketType::Sub => nng_sub0_open_raw,
                    SocketType::Surveyor => nng_surveyor0_open_raw,
                    SocketType::Respondent => nng_respondent0_open_raw,
                    SocketType::Bus => nng_bus0_open_raw,
                }
            } else {
                match socket_type {
                    SocketType::Pair0 => nng_pair0_open,
                    SocketType::Pair1 => nng_pair1_open,
                    SocketType::Req => nng_req0_open,
                    SocketType::Rep => nng_rep0_open,
                    SocketType::Push => nng_push0_open,
                    SocketType::Pull => nng_pull0_open,
                    SocketType::Pub => nng_pub0_open,
                    SocketType::Sub => nng_sub0_open,
                    SocketType::Surveyor => nng_surveyor0_open,
                    SocketType::Respondent => nng_respondent0_open,
                    SocketType::Bus => nng_bus0_open,
                }
            };
            let mut s = Handle { id: 0 };
            // SAFETY: the open functions write one handle.
            check(unsafe { open(&mut s) })?;
            self.sockets[self.current] = Some(s);
            Ok(())
        }

        fn has_tls(&self) -> bool {
            let mut cfg: *mut c_void = std::ptr::null_mut();
            // SAFETY: writes one pointer; mode 0 is NNG_TLS_MODE_CLIENT.
            let rc = unsafe { nng_tls_config_alloc(&mut cfg, 0) };
            if rc == 0 && !cfg.is_null() {
                // SAFETY: `cfg` was just allocated and is released once.
                unsafe { nng_tls_config_free(cfg) };
            }
            rc == 0
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
            // nng_device blocks until a socket closes: it runs on its own thread until
            // the process exits.
            std::thread::spawn(move || {
                // SAFETY: the handles are plain ids of open sockets.
                let rc = unsafe { nng_device(a, b) };
                if rc != 0 {
                    eprintln!("nng_device ended: {:?}", check(rc));
                }
            });
            Ok(())
        }

        fn listen(&mut self, url: &str) -> Result<(), PeerError> {
            let s = self.socket()?;
            if url.starts_with("tls+") {
                let c_url = c_string(url)?;
                let mut l = Handle { id: 0 };
                // SAFETY: `c_url` is NUL-terminated; nng writes one handle.
                check(unsafe { nng_listener_create(&mut l, s, c_url.as_ptr()) })?;
                set_strings(l, nng_listener_set_string, &self.tls_options(true))?;
                // SAFETY: `l` is the listener just created.
                return check(unsafe { nng_listener_start(l, 0) });
            }
            let url = c_string(url)?;
            // SAFETY: `url` is NUL-terminated; a NULL listener pointer is allowed.
            check(unsafe { nng_listen(s, url.as_ptr(), std::ptr::null_mut(), 0) })
        }

        fn dial(&mut self, url: &str) -> Result<(), PeerError> {
            let s = self.socket()?;
            if url.starts_with("tls+") {
                let c_url = c_string(url)?;
                let mut d = Handle { id: 0 };
                // SAFETY: `c_url` is NUL-terminated; nng writes one handle.
                check(unsafe { nng_dialer_create(&mut d, s, c_url.as_ptr()) })?;
                set_strings(d, nng_dialer_set_string, &self.tls_options(false))?;
                // SAFETY: `d` is the dialer just created; NONBLOCK as below.
                return check(unsafe { nng_dialer_start(d, NNG_FLAG_NONBLOCK) });
            }
            let url = c_string(url)?;
            // SAFETY: as for nng_listen. NONBLOCK: connect in the background, like
            // nanomsg's nn_connect, and keep retrying.
            check(unsafe { nng_dial(s, url.as_ptr(), std::ptr::null_mut(), NNG_FLAG_NONBLOCK) })
        }

        fn set_option(&mut self, option: &PeerOption) -> Result<(), PeerError> {
            match option {
                PeerOption::RecvTimeout(ms) => self.set_ms("recv-timeout", *ms),
                PeerOption::SendTimeout(ms) => self.set_ms("send-timeout", *ms),
                PeerOption::SurveyDeadline(ms) => self.set_ms("surveyor:survey-time", *ms),
                PeerOption::ResendInterval(ms) => self.set_ms("req:resend-time", *ms),
                PeerOption::ReconnectInterval(ms) => self.set_ms("reconnect-time-min", *ms),
                PeerOption::RecvMaxSize(n) => {
                    // NNG: 0 means unlimited.
                    let n = usize::try_from(*n).unwrap_or(0);
                    let s = self.socket()?;
                    let name = c_string("recv-size-max")?;
                    // SAFETY: `name` is NUL-terminated and alive for the call.
                    check(unsafe { nng_socket_set_size(s, name.as_ptr(), n) })
                }
                PeerOption::Subscribe(topic) => self.set_bytes("sub:subscribe", topic),
                PeerOption::Unsubscribe(topic) => self.set_bytes("sub:unsubscribe", topic),
                PeerOption::SendPriority(_) => {
                    Err(PeerError::new("ENOTSUP", "NNG has no send priorities"))
                }
                PeerOption::TlsCertKeyFile(f) => {
                    self.cert_key_file = Some(f.clone());
                    Ok(())
                }
                PeerOption::TlsCaFile(f) => {
                    self.ca_file = Some(f.clone());
                    Ok(())
                }
            }
        }

        fn send(&mut self, body: &[u8]) -> Result<(), PeerError> {
            let s = self.socket()?;
            let mut copy = body.to_vec();
            // SAFETY: without NNG_FLAG_ALLOC, nng_send copies `size` bytes from `data`.
            check(unsafe { nng_send(s, copy.as_mut_ptr().cast(), copy.len(), 0) })
        }

        fn recv(&mut self) -> Result<Vec<u8>, PeerError> {
            let s = self.socket()?;
            let mut data: *mut c_void = std::ptr::null_mut();
            let mut size: usize = 0;
            // SAFETY: with NNG_FLAG_ALLOC, nng_recv stores a buffer it allocated in
            // `data` and its length in `size`.
            check(unsafe {
                nng_recv(
                    s,
                    (&mut data as *mut *mut c_void).cast(),
                    &mut size,
                    NNG_FLAG_ALLOC,
                )
            })?;
            let body = if size == 0 || data.is_null() {
                Vec::new()
            } else {
                // SAFETY: `data` points to `size` initialised bytes.
                unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size) }.to_vec()
            };
            if !data.is_null() {
                // SAFETY: freed once, with the size nng_recv reported.
                unsafe { nng_free(data, size) };
            }
            Ok(body)
        }

        fn close(&mut self) -> Result<(), PeerError> {
            if let Some(s) = self.sockets[self.current].take() {
                // SAFETY: `s` is a socket this peer opened and has not closed.
                check(unsafe { nng_close(s) })?;
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
