//! Sans-IO wire codecs: the SP connection header, stream framing for TCP/TLS and IPC, the
//! WebSocket HTTP upgrade, subprotocol rules and frames, and the protocol headers carried inside messages
//! (backtraces for REQ/REP and SURVEY, the PAIR v1 hop word).
//!
//! Each codec is independent of the protocols and of any I/O; all of them accept bytes in
//! arbitrary chunks and return typed errors instead of panicking on peer input.

pub mod backtrace;
pub mod frame;
pub mod handshake;
pub mod hop;
pub mod ws;
pub mod ws_frame;
pub mod ws_http;

pub use backtrace::{Backtrace, BacktraceError, ID_FLAG};
pub use frame::{FrameDecoder, FrameError, FrameFormat, MaxRecvSize};
pub use handshake::{encode_header, parse_header, Handshake, HeaderError, HEADER_LEN};
pub use hop::{HopError, HopHeader};
