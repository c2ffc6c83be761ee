//! Entry points for the fuzz targets in `fuzz/`: the WebSocket upgrade decisions of
//! `sp_proto::wire::ws_http`, called exactly as the `ws://` transport calls them (with its
//! SHA-1). Not a stable API.

use sp_proto::wire::ws_http::{self, ServerUpgrade};
use sp_proto::SocketType;

use crate::transport::ws::sha1;

/// What the server side of a `ws://` listener of type `ours` serving `/` makes of
/// `input` (what a client sent): `None` while the head is incomplete, otherwise the
/// bytes it would answer with (a `101` or a refusal).
pub fn ws_upgrade_server(ours: SocketType, input: &[u8]) -> Option<Vec<u8>> {
    let route = |path: &str| (path == "/").then_some(ours);
    match ws_http::server_upgrade(input, route, sha1) {
        ServerUpgrade::Incomplete => None,
        ServerUpgrade::Accept { response, .. } => Some(response),
        ServerUpgrade::Refuse { reject, .. } => Some(reject.to_bytes()),
    }
}

/// What the client side of a `ws://` dialer of type `ours`, having sent `key`, makes of
/// the server's answer `input`: `None` while the head is incomplete, `Some(Ok(()))` for
/// an accepted upgrade, `Some(Err(why))` for a refused one.
pub fn ws_upgrade_client(ours: SocketType, key: &str, input: &[u8]) -> Option<Result<(), String>> {
    match ws_http::client_upgrade(input, ours, key, sha1) {
        Ok(None) => None,
        Ok(Some(_)) => Some(Ok(())),
        Err(e) => Some(Err(e.to_string())),
    }
}

/// `Sec-WebSocket-Accept` for `key` (to build well-formed answers in seeds).
pub fn ws_accept_key(key: &str) -> String {
    ws_http::accept_key(key, sha1)
}
