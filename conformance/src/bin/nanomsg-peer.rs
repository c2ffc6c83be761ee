//! `nanomsg-peer`: a libnanomsg socket driven by the command language of
//! `conformance::peer`. Links libnanomsg only (see build.rs).

#[cfg(nanomsg_missing)]
fn main() {
    conformance::peer::missing_library("nanomsg", "libnanomsg-dev");
}

#[cfg(not(nanomsg_missing))]
fn main() {
    let mut peer = backend::Nanomsg::default();
    conformance::peer::serve(&mut peer);
}

// libnanomsg's declarations, shared with nanomsg-perf; this binary uses part of them.
#[cfg(not(nanomsg_missing))]
#[allow(dead_code)]
#[path = "../ffi/nanomsg.rs"]
mod nn;

#[cfg(not(nanomsg_missing))]
mod backend {
    use std::ffi::{c_int, CString};

    use conformance::peer::{Backend, PeerError, PeerOption, Slots};
    use sp_proto::SocketType;

    use crate::nn::{self, Errno};

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
            x if x == nn::NN_HAUSNUMERO + 53 => "ETERM",
            x if x == nn::NN_HAUSNUMERO + 54 => "EFSM",
            other => return format!("E{other}"),
        };
        name.to_owned()
    }

    fn peer_error(e: Errno) -> PeerError {
        PeerError::new(errno_name(e), nn::strerror(e))
    }

    fn c_string(s: &str) -> Result<CString, PeerError> {
        CString::new(s).map_err(|_| PeerError::new("EINVAL", "NUL byte in argument"))
    }

    /// Up to two libnanomsg sockets (slots 0 and 1).
    #[derive(Default)]
    pub(crate) struct Nanomsg {
        slots: Slots<c_int>,
    }

    impl Nanomsg {
        fn socket(&self) -> Result<c_int, PeerError> {
            self.slots.socket()
        }

        fn set_raw(&self, level: c_int, option: c_int, value: &[u8]) -> Result<(), PeerError> {
            nn::setsockopt(self.socket()?, level, option, value).map_err(peer_error)
        }

        fn set_int(&self, level: c_int, option: c_int, value: c_int) -> Result<(), PeerError> {
            self.set_raw(level, option, &value.to_ne_bytes())
        }
    }

    impl Backend for Nanomsg {
        fn describe(&self) -> Result<String, PeerError> {
            // The library's ABI version, from its own symbol table.
            let Some(abi) = nn::abi_version() else {
                return Err(PeerError::new(
                    "ENOTNANOMSG",
                    "nn_symbol does not list NN_VERSION_*: this is not libnanomsg",
                ));
            };
            let file = nn::library_file();
            Ok(format!("nanomsg abi-{abi} {file}"))
        }

        fn sp_rs_version(&self) -> Option<String> {
            nn::sp_rs_version()
        }

        fn open(&mut self, socket_type: SocketType, raw: bool) -> Result<(), PeerError> {
            if socket_type == SocketType::Pair1 {
                return Err(PeerError::new("ENOTSUP", "libnanomsg has no PAIR v1"));
            }
            self.close()?;
            let protocol = c_int::from(socket_type.wire_id());
            let domain = if raw { nn::AF_SP_RAW } else { nn::AF_SP };
            let s = nn::socket(domain, protocol).map_err(peer_error)?;
            self.slots.set(s);
            Ok(())
        }

        fn select(&mut self, slot: usize) -> Result<(), PeerError> {
            self.slots.select(slot)
        }

        fn device(&mut self) -> Result<(), PeerError> {
            let (a, b) = self.slots.device()?;
            // nn_device blocks until the library terminates: it runs on its own thread
            // until the process exits. The sockets stay open (a peer with a device never
            // closes them, see close_all).
            std::thread::spawn(move || {
                if let Err(e) = nn::device(a, b) {
                    eprintln!("nn_device ended: {:?}", peer_error(e));
                }
            });
            Ok(())
        }

        fn reflect(&mut self) -> Result<(), PeerError> {
            let s = self.slots.reflector()?;
            // As `device`, with -1 for the second socket.
            std::thread::spawn(move || {
                if let Err(e) = nn::device(s, -1) {
                    eprintln!("nn_device ended: {:?}", peer_error(e));
                }
            });
            Ok(())
        }

        fn listen(&mut self, url: &str) -> Result<(), PeerError> {
            let s = self.socket()?;
            nn::bind(s, &c_string(url)?).map_err(peer_error)
        }

        fn dial(&mut self, url: &str) -> Result<(), PeerError> {
            let s = self.socket()?;
            nn::connect(s, &c_string(url)?).map_err(peer_error)
        }

        fn set_option(&mut self, option: &PeerOption) -> Result<(), PeerError> {
            use nn::{NN_RCVTIMEO, NN_SNDTIMEO, NN_SOL_SOCKET};
            match option {
                PeerOption::RecvTimeout(ms) => self.set_int(NN_SOL_SOCKET, NN_RCVTIMEO, *ms),
                PeerOption::SendTimeout(ms) => self.set_int(NN_SOL_SOCKET, NN_SNDTIMEO, *ms),
                PeerOption::ReconnectInterval(ms) => {
                    self.set_int(NN_SOL_SOCKET, nn::NN_RECONNECT_IVL, *ms)
                }
                PeerOption::SurveyDeadline(ms) => {
                    self.set_int(nn::NN_SURVEYOR, nn::NN_SURVEYOR_DEADLINE, *ms)
                }
                PeerOption::ResendInterval(ms) => {
                    self.set_int(nn::NN_REQ, nn::NN_REQ_RESEND_IVL, *ms)
                }
                PeerOption::RecvMaxSize(n) => {
                    let n = c_int::try_from(*n)
                        .map_err(|_| PeerError::new("EINVAL", "size does not fit an int"))?;
                    self.set_int(NN_SOL_SOCKET, nn::NN_RCVMAXSIZE, n)
                }
                PeerOption::Subscribe(topic) => {
                    self.set_raw(nn::NN_SUB, nn::NN_SUB_SUBSCRIBE, topic)
                }
                PeerOption::Unsubscribe(topic) => {
                    self.set_raw(nn::NN_SUB, nn::NN_SUB_UNSUBSCRIBE, topic)
                }
                PeerOption::SendPriority(p) => self.set_int(NN_SOL_SOCKET, nn::NN_SNDPRIO, *p),
                PeerOption::TlsCertKeyFile(_) | PeerOption::TlsCaFile(_) => {
                    Err(PeerError::new("ENOTSUP", "libnanomsg has no TLS transport"))
                }
            }
        }

        fn send(&mut self, body: &[u8]) -> Result<(), PeerError> {
            nn::send(self.socket()?, body).map_err(peer_error)
        }

        fn recv(&mut self) -> Result<Vec<u8>, PeerError> {
            nn::recv_msg(self.socket()?).map_err(peer_error)
        }

        fn close(&mut self) -> Result<(), PeerError> {
            if let Some(s) = self.slots.take() {
                nn::close(s).map_err(peer_error)?;
            }
            Ok(())
        }

        fn close_all(&mut self) {
            self.slots.close_all(|s| {
                let _ = nn::close(s);
            });
        }
    }
}
