//! `nng-perf`: nanomsg's perf tools (see `conformance::perf`) over NNG 1.x, for
//! side-by-side runs with `sp-perf`. Links libnng only (see build.rs).

use std::process::ExitCode;

#[cfg(nng_missing)]
fn main() -> ExitCode {
    conformance::peer::missing_library("nng", "libnng-dev");
}

#[cfg(not(nng_missing))]
fn main() -> ExitCode {
    conformance::perf::tool_main::<socket::NngSocket>()
}

// libnng's declarations, shared with nng-peer; this binary uses part of them.
#[cfg(not(nng_missing))]
#[allow(dead_code)]
#[path = "../ffi/nng.rs"]
mod nng;

#[cfg(not(nng_missing))]
mod socket {
    use std::ffi::CString;
    use std::time::Duration;

    use conformance::perf::{PerfKind, PerfSocket};
    use sp_proto::SocketType;

    use crate::nng::{self, Errno, Handle};

    fn check<T>(what: &str, r: Result<T, Errno>) -> Result<T, String> {
        r.map_err(|e| format!("{what}: {}", nng::strerror(e)))
    }

    fn c_url(url: &str) -> Result<CString, String> {
        CString::new(url).map_err(|_| format!("{url:?} contains NUL"))
    }

    /// An NNG socket.
    pub(crate) struct NngSocket(Handle);

    impl PerfSocket for NngSocket {
        fn open(kind: PerfKind) -> Result<Self, String> {
            let socket_type = match kind {
                PerfKind::Pair => SocketType::Pair0,
                PerfKind::Push => SocketType::Push,
                PerfKind::Pull => SocketType::Pull,
                PerfKind::Sub => SocketType::Sub,
                PerfKind::Req => SocketType::Req,
                PerfKind::RepServer => SocketType::Rep,
                PerfKind::Pub => SocketType::Pub,
                PerfKind::Surveyor => SocketType::Surveyor,
                PerfKind::Respondent => SocketType::Respondent,
            };
            check("open", nng::open(socket_type, false)).map(Self)
        }

        fn set_nodelay(&mut self) -> Result<(), String> {
            check(
                "nng_socket_set_bool",
                nng::set_bool(self.0, c"tcp-nodelay", true),
            )
        }

        fn set_timeout(&mut self, limit: Duration) -> Result<(), String> {
            let ms = i32::try_from(limit.as_millis()).unwrap_or(i32::MAX);
            for name in [c"send-timeout", c"recv-timeout"] {
                check("nng_socket_set_ms", nng::set_ms(self.0, name, ms))?;
            }
            Ok(())
        }

        fn subscribe(&mut self, topic: &[u8]) -> Result<(), String> {
            check(
                "nng_socket_set",
                nng::set_bytes(self.0, c"sub:subscribe", topic),
            )
        }

        fn set_pipe_queue(&mut self, messages: usize) -> Result<(), String> {
            let n = i32::try_from(messages).unwrap_or(i32::MAX);
            check(
                "nng_socket_set",
                nng::set_bytes(self.0, c"send-buffer", &n.to_ne_bytes()),
            )
        }

        fn set_survey_deadline(&mut self, limit: Duration) -> Result<(), String> {
            let ms = i32::try_from(limit.as_millis()).unwrap_or(i32::MAX);
            check(
                "nng_socket_set_ms",
                nng::set_ms(self.0, c"surveyor:survey-time", ms),
            )
        }

        fn serve_replies(&mut self, clients: usize) -> Result<(), String> {
            let servers = (0..clients.max(1))
                .map(|_| {
                    let ctx = check("nng_ctx_open", nng::ctx_open(self.0))?;
                    std::thread::Builder::new()
                        .stack_size(64 << 10)
                        .spawn(move || nng::ctx_echo(ctx))
                        .map_err(|e| format!("cannot start a thread: {e}"))
                })
                .collect::<Result<Vec<_>, String>>()?;
            for s in servers {
                let r = s
                    .join()
                    .map_err(|_| "a context thread panicked".to_owned())?;
                check("nng_ctx_recv/send", r)?;
            }
            Ok(())
        }

        fn library() -> String {
            format!("NNG {} ({})", nng::version(), nng::library_file())
        }

        fn bind(&mut self, url: &str) -> Result<(), String> {
            check("nng_listen", nng::listen(self.0, &c_url(url)?))
        }

        fn connect(&mut self, url: &str) -> Result<(), String> {
            check(
                "nng_dial",
                nng::dial(self.0, &c_url(url)?, nng::NNG_FLAG_NONBLOCK),
            )
        }

        fn send(&mut self, buf: &[u8]) -> Result<(), String> {
            check("nng_send", nng::send(self.0, buf))
        }

        fn recv(&mut self, buf: &mut [u8]) -> Result<usize, String> {
            check("nng_recv", nng::recv(self.0, buf))
        }

        fn close(self) {
            let _ = nng::close(self.0);
        }
    }
}
