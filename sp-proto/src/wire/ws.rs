//! The WebSocket mapping, as data and small pure functions.
//!
//! The HTTP upgrade itself is done by the driver (sp-net) on a WebSocket crate; what is
//! SP-specific lives here:
//! - The subprotocol token is `<name>.sp.nanomsg.org`. A client (dialer) offers exactly
//!   one token, the name of the socket type it expects the *server* to be (its peer's
//!   name); a server accepts only its own name and echoes the client's spelling.
//! - A mismatch is refused with HTTP 400 before upgrading (what every implementation does,
//!   rather than the draft RFC's close code 1002).
//! - One SP message (protocol header and body, no length prefix) is one binary WebSocket
//!   message; fragmented messages must be reassembled; text messages are refused.

use crate::socket_type::SocketType;
use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;

/// Suffix of every SP WebSocket subprotocol token.
pub const SUBPROTOCOL_SUFFIX: &str = ".sp.nanomsg.org";

/// HTTP status used to refuse a mismatched or missing subprotocol.
pub const REJECT_STATUS: u16 = 400;

/// Frame size at which we fragment outgoing messages (NNG's default; NNG refuses single
/// frames over 1 MiB by default, so large messages must be fragmented for it).
pub const DEFAULT_SEND_FRAGMENT: usize = 64 * 1024;

/// The subprotocol token naming socket type `t`.
pub fn subprotocol(t: SocketType) -> String {
    format!("{}{SUBPROTOCOL_SUFFIX}", t.name())
}

/// The single token a dialing socket of type `ours` offers (its peer's name).
pub fn dialer_offer(ours: SocketType) -> String {
    subprotocol(ours.peer())
}

/// Parses a subprotocol token (case-insensitive) into the socket type it names.
pub fn parse_subprotocol(token: &str) -> Option<SocketType> {
    let token = token.trim();
    let split = token.len().checked_sub(SUBPROTOCOL_SUFFIX.len())?;
    if !token.is_char_boundary(split) || !token[split..].eq_ignore_ascii_case(SUBPROTOCOL_SUFFIX) {
        return None;
    }
    let name = &token[..split];
    SocketType::ALL
        .into_iter()
        .find(|t| t.name().eq_ignore_ascii_case(name))
}

/// Why a WebSocket upgrade was refused by the SP layer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WsSubprotocolError {
    /// The client sent no `Sec-WebSocket-Protocol` header.
    #[error("no SP subprotocol offered (expected {expected})")]
    Missing {
        /// The token we would accept.
        expected: String,
    },
    /// The client offered a list or a token that is not an SP subprotocol.
    #[error("unrecognised SP subprotocol {offered:?} (expected {expected})")]
    Unrecognised {
        /// What was offered.
        offered: String,
        /// The token we would accept.
        expected: String,
    },
    /// The client offered an SP subprotocol for another socket type.
    #[error("incompatible socket type: client wants {offered:?}, this socket is {expected}")]
    Incompatible {
        /// What was offered.
        offered: String,
        /// The token we would accept.
        expected: String,
    },
}

/// Server side: checks the client's `Sec-WebSocket-Protocol` value for a listening socket
/// of type `ours`; on success returns the token to echo (the client's spelling).
pub fn server_accept(
    ours: SocketType,
    offered: Option<&str>,
) -> Result<String, WsSubprotocolError> {
    let expected = subprotocol(ours);
    let Some(offered) = offered else {
        return Err(WsSubprotocolError::Missing { expected });
    };
    let token = offered.trim();
    match parse_subprotocol(token) {
        Some(t) if t == ours => Ok(token.to_owned()),
        Some(_) => Err(WsSubprotocolError::Incompatible {
            offered: token.to_owned(),
            expected,
        }),
        None => Err(WsSubprotocolError::Unrecognised {
            offered: token.to_owned(),
            expected,
        }),
    }
}

/// Client side: checks the subprotocol the server echoed in its 101 response. A missing
/// echo is tolerated (nanomsg servers are correct but nanomsg-era proxies strip it); a
/// different token is refused.
pub fn client_check(ours: SocketType, echoed: Option<&str>) -> Result<(), WsSubprotocolError> {
    let expected = dialer_offer(ours);
    match echoed {
        None => Ok(()),
        Some(e) if e.trim().eq_ignore_ascii_case(&expected) => Ok(()),
        Some(e) => Err(WsSubprotocolError::Incompatible {
            offered: e.trim().to_owned(),
            expected,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_offers() {
        assert_eq!(dialer_offer(SocketType::Req), "rep.sp.nanomsg.org");
        assert_eq!(dialer_offer(SocketType::Sub), "pub.sp.nanomsg.org");
        assert_eq!(dialer_offer(SocketType::Pair1), "pair1.sp.nanomsg.org");
        assert_eq!(dialer_offer(SocketType::Bus), "bus.sp.nanomsg.org");
        for t in SocketType::ALL {
            assert_eq!(parse_subprotocol(&subprotocol(t)), Some(t));
        }
        assert_eq!(
            parse_subprotocol("REP.SP.NANOMSG.ORG"),
            Some(SocketType::Rep)
        );
        assert_eq!(parse_subprotocol("rep"), None);
        assert_eq!(parse_subprotocol("é.sp.nanomsg.org"), None);
    }

    #[test]
    fn server_checks() {
        assert_eq!(
            server_accept(SocketType::Rep, Some("REP.sp.nanomsg.org")).unwrap(),
            "REP.sp.nanomsg.org"
        );
        assert!(matches!(
            server_accept(SocketType::Rep, Some("req.sp.nanomsg.org")),
            Err(WsSubprotocolError::Incompatible { .. })
        ));
        assert!(matches!(
            server_accept(SocketType::Rep, None),
            Err(WsSubprotocolError::Missing { .. })
        ));
        assert!(matches!(
            server_accept(SocketType::Rep, Some("rep.sp.nanomsg.org, x")),
            Err(WsSubprotocolError::Unrecognised { .. })
        ));
        assert!(client_check(SocketType::Req, Some("rep.sp.nanomsg.org")).is_ok());
        assert!(client_check(SocketType::Req, None).is_ok());
        assert!(client_check(SocketType::Req, Some("pub.sp.nanomsg.org")).is_err());
    }
}
