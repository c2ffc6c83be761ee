//! `nng-peer`: an NNG 1.x socket driven by the command language of `conformance::peer`.
//! Links libnng only (see build.rs).

#[cfg(nng_missing)]
fn main() {
    conformance::peer::missing_library("nng", "libnng-dev");
}

#[cfg(not(nng_missing))]
fn main() {
    let mut peer = backend::Nng::default();
    conformance::peer::serve(&mut peer);
}

// libnng's declarations, shared with nng-perf; this binary uses part of them.
#[cfg(not(nng_missing))]
#[allow(dead_code)]
#[path = "../ffi/nng.rs"]
mod nng;

#[cfg(not(nng_missing))]
mod backend {
    use std::ffi::{c_int, CString};

    use conformance::peer::{Backend, PeerError, PeerOption, Slots};
    use sp_proto::SocketType;

    use crate::nng::{self, Errno, Handle};

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

    fn peer_error(e: Errno) -> PeerError {
        PeerError::new(error_name(e), nng::strerror(e))
    }

    fn c_string(s: &str) -> Result<CString, PeerError> {
        CString::new(s).map_err(|_| PeerError::new("EINVAL", "NUL byte in argument"))
    }

    /// Up to two NNG sockets (slots 0 and 1), and the TLS files for later endpoints.
    #[derive(Default)]
    pub(crate) struct Nng {
        slots: Slots<Handle>,
        /// The contexts of `ctx-open`, on the socket selected then.
        contexts: Vec<Handle>,
        cert_key_file: Option<String>,
        ca_file: Option<String>,
    }

    impl Nng {
        fn socket(&self) -> Result<Handle, PeerError> {
            self.slots.socket()
        }

        /// The TLS options a `tls+tcp://` endpoint gets: the certificate and key for a
        /// listener; the CA and the name `localhost` to verify for a dialer.
        fn tls_options(&self, listener: bool) -> Result<Vec<(CString, CString)>, PeerError> {
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
            v.into_iter()
                .map(|(name, value)| Ok((c_string(name)?, c_string(value)?)))
                .collect()
        }

        fn context(&self, i: usize) -> Result<Handle, PeerError> {
            self.contexts
                .get(i)
                .copied()
                .ok_or_else(|| PeerError::new("EBADF", format!("no context {i}: ctx-open first")))
        }

        fn set_ms(&self, name: &str, ms: i32) -> Result<(), PeerError> {
            nng::set_ms(self.socket()?, &c_string(name)?, ms).map_err(peer_error)
        }

        fn set_bytes(&self, name: &str, value: &[u8]) -> Result<(), PeerError> {
            nng::set_bytes(self.socket()?, &c_string(name)?, value).map_err(peer_error)
        }
    }

    /// `options` as the pairs of C strings NNG takes.
    fn borrowed(options: &[(CString, CString)]) -> Vec<(&std::ffi::CStr, &std::ffi::CStr)> {
        options
            .iter()
            .map(|(n, v)| (n.as_c_str(), v.as_c_str()))
            .collect()
    }

    impl Backend for Nng {
        fn describe(&self) -> Result<String, PeerError> {
            Ok(format!("nng {} {}", nng::version(), nng::library_file()))
        }

        fn open(&mut self, socket_type: SocketType, raw: bool) -> Result<(), PeerError> {
            self.close()?;
            let s = nng::open(socket_type, raw).map_err(peer_error)?;
            self.slots.set(s);
            Ok(())
        }

        fn open_poly(&mut self) -> Result<(), PeerError> {
            self.close()?;
            let s = nng::open_pair1_poly().map_err(peer_error)?;
            self.slots.set(s);
            Ok(())
        }

        fn has_tls(&self) -> bool {
            nng::has_tls()
        }

        fn select(&mut self, slot: usize) -> Result<(), PeerError> {
            self.slots.select(slot)
        }

        fn device(&mut self) -> Result<(), PeerError> {
            let (a, b) = self.slots.device()?;
            // nng_device blocks until a socket closes: it runs on its own thread until
            // the process exits.
            std::thread::spawn(move || {
                if let Err(e) = nng::device(a, b) {
                    eprintln!("nng_device ended: {:?}", Err::<(), _>(peer_error(e)));
                }
            });
            Ok(())
        }

        fn reflect(&mut self) -> Result<(), PeerError> {
            let s = self.slots.reflector()?;
            // As `device`, with no second socket.
            std::thread::spawn(move || {
                if let Err(e) = nng::device_reflector(s) {
                    eprintln!("nng_device ended: {:?}", Err::<(), _>(peer_error(e)));
                }
            });
            Ok(())
        }

        fn listen(&mut self, url: &str) -> Result<(), PeerError> {
            let s = self.socket()?;
            let c_url = c_string(url)?;
            if url.starts_with("tls+") || url.starts_with("wss:") {
                let options = self.tls_options(true)?;
                return nng::start_listener(s, &c_url, &borrowed(&options)).map_err(peer_error);
            }
            nng::listen(s, &c_url).map_err(peer_error)
        }

        fn dial(&mut self, url: &str) -> Result<(), PeerError> {
            let s = self.socket()?;
            let c_url = c_string(url)?;
            // NONBLOCK: connect in the background, like nanomsg's nn_connect, and keep
            // retrying.
            if url.starts_with("tls+") || url.starts_with("wss:") {
                let options = self.tls_options(false)?;
                return nng::start_dialer(s, &c_url, &borrowed(&options), nng::NNG_FLAG_NONBLOCK)
                    .map_err(peer_error);
            }
            nng::dial(s, &c_url, nng::NNG_FLAG_NONBLOCK).map_err(peer_error)
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
                    nng::set_size(self.socket()?, c"recv-size-max", n).map_err(peer_error)
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

        fn ctx_open(&mut self, n: usize) -> Result<(), PeerError> {
            for c in self.contexts.drain(..) {
                let _ = nng::ctx_close(c);
            }
            let s = self.socket()?;
            for _ in 0..n {
                self.contexts.push(nng::ctx_open(s).map_err(peer_error)?);
            }
            Ok(())
        }

        fn ctx_send(&mut self, i: usize, body: &[u8]) -> Result<(), PeerError> {
            let c = self.context(i)?;
            nng::ctx_send(c, body, conformance::peer::DEFAULT_TIMEOUT_MS).map_err(peer_error)
        }

        fn ctx_recv(&mut self, i: usize) -> Result<Vec<u8>, PeerError> {
            let c = self.context(i)?;
            nng::ctx_recv(c, conformance::peer::DEFAULT_TIMEOUT_MS).map_err(peer_error)
        }

        fn send(&mut self, body: &[u8]) -> Result<(), PeerError> {
            nng::send(self.socket()?, body).map_err(peer_error)
        }

        fn recv(&mut self) -> Result<Vec<u8>, PeerError> {
            nng::recv_alloc(self.socket()?).map_err(peer_error)
        }

        fn close(&mut self) -> Result<(), PeerError> {
            if let Some(s) = self.slots.take() {
                nng::close(s).map_err(peer_error)?;
            }
            Ok(())
        }

        fn close_all(&mut self) {
            self.slots.close_all(|s| {
                let _ = nng::close(s);
            });
        }
    }
}
