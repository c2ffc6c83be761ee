//! `nanomsg-perf`: nanomsg's perf tools (see `conformance::perf`) over libnanomsg, for
//! side-by-side runs with `sp-perf`. Links libnanomsg only (see build.rs).

use std::process::ExitCode;

#[cfg(nanomsg_missing)]
fn main() -> ExitCode {
    conformance::peer::missing_library("nanomsg", "libnanomsg-dev");
}

#[cfg(not(nanomsg_missing))]
fn main() -> ExitCode {
    conformance::perf::tool_main::<socket::NnSocket>()
}

// libnanomsg's declarations, shared with nanomsg-peer; this binary uses part of them.
#[cfg(not(nanomsg_missing))]
#[allow(dead_code)]
#[path = "../ffi/nanomsg.rs"]
mod nn;

#[cfg(not(nanomsg_missing))]
mod socket {
    use std::ffi::{c_int, CString};
    use std::time::Duration;

    use conformance::perf::{PerfKind, PerfSocket};

    use crate::nn::{self, Errno};

    fn check<T>(what: &str, r: Result<T, Errno>) -> Result<T, String> {
        r.map_err(|e| format!("{what}: {}", nn::strerror(e)))
    }

    fn c_url(url: &str) -> Result<CString, String> {
        CString::new(url).map_err(|_| format!("{url:?} contains NUL"))
    }

    /// A libnanomsg socket.
    pub(crate) struct NnSocket(c_int);

    impl NnSocket {
        fn set(&mut self, level: c_int, option: c_int, value: &[u8]) -> Result<(), String> {
            check(
                "nn_setsockopt",
                nn::setsockopt(self.0, level, option, value),
            )
        }
    }

    impl PerfSocket for NnSocket {
        fn open(kind: PerfKind) -> Result<Self, String> {
            let proto = match kind {
                PerfKind::Pair => nn::NN_PAIR,
                PerfKind::Push => nn::NN_PUSH,
                PerfKind::Pull => nn::NN_PULL,
                PerfKind::Sub => nn::NN_SUB,
                PerfKind::Req => nn::NN_REQ,
                PerfKind::RepServer => nn::NN_REP,
                PerfKind::Pub => nn::NN_PUB,
                PerfKind::Surveyor => nn::NN_SURVEYOR,
                PerfKind::Respondent => nn::NN_RESPONDENT,
            };
            let domain = if kind == PerfKind::RepServer {
                nn::AF_SP_RAW
            } else {
                nn::AF_SP
            };
            check("nn_socket", nn::socket(domain, proto)).map(Self)
        }

        fn set_nodelay(&mut self) -> Result<(), String> {
            self.set(nn::NN_TCP, nn::NN_TCP_NODELAY, &c_int::to_ne_bytes(1))
        }

        fn set_timeout(&mut self, limit: Duration) -> Result<(), String> {
            let ms = c_int::try_from(limit.as_millis()).unwrap_or(c_int::MAX);
            self.set(nn::NN_SOL_SOCKET, nn::NN_SNDTIMEO, &ms.to_ne_bytes())?;
            self.set(nn::NN_SOL_SOCKET, nn::NN_RCVTIMEO, &ms.to_ne_bytes())
        }

        fn subscribe(&mut self, topic: &[u8]) -> Result<(), String> {
            self.set(nn::NN_SUB, nn::NN_SUB_SUBSCRIBE, topic)
        }

        fn set_pipe_queue(&mut self, _messages: usize) -> Result<(), String> {
            // No per-pipe message queue to size: PUB writes into the kernel's buffer
            // (see `PUB_PIPE_QUEUE`).
            Ok(())
        }

        fn set_survey_deadline(&mut self, limit: Duration) -> Result<(), String> {
            let ms = c_int::try_from(limit.as_millis()).unwrap_or(c_int::MAX);
            self.set(nn::NN_SURVEYOR, nn::NN_SURVEYOR_DEADLINE, &ms.to_ne_bytes())
        }

        fn serve_replies(&mut self, _clients: usize) -> Result<(), String> {
            // nn_device with -1 as the second socket is nanomsg's loopback device.
            check("nn_device", nn::device(self.0, -1))
        }

        fn library() -> String {
            match (nn::abi_version(), nn::sp_rs_version()) {
                (Some(abi), Some(ours)) => {
                    format!("{ours}, libnanomsg ABI {abi} ({})", nn::library_file())
                }
                (Some(abi), None) => format!("libnanomsg ABI {abi} ({})", nn::library_file()),
                (None, _) => format!("not libnanomsg ({})", nn::library_file()),
            }
        }

        fn bind(&mut self, url: &str) -> Result<(), String> {
            check("nn_bind", nn::bind(self.0, &c_url(url)?))
        }

        fn connect(&mut self, url: &str) -> Result<(), String> {
            check("nn_connect", nn::connect(self.0, &c_url(url)?))
        }

        fn send(&mut self, buf: &[u8]) -> Result<(), String> {
            check("nn_send", nn::send(self.0, buf))
        }

        fn recv(&mut self, buf: &mut [u8]) -> Result<usize, String> {
            check("nn_recv", nn::recv(self.0, buf))
        }

        fn close(self) {
            let _ = nn::close(self.0);
        }
    }
}
