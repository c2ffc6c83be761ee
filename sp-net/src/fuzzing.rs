//! Entry points for the fuzz targets in `fuzz/`: the WebSocket upgrade parsing, which is
//! private to the crate, run the way the `ws://` transport runs it. Not a stable API.

use sp_proto::wire::ws::{client_check, server_accept};
use sp_proto::SocketType;

use crate::transport::ws_http::{self, Reject};

/// What the server side of a `ws://` listener of type `ours` serving `/` makes of
/// `input` (what a client sent): `None` while the head is incomplete, otherwise the
/// bytes it would answer with (a `101` or a refusal).
pub fn ws_upgrade_server(ours: SocketType, input: &[u8]) -> Option<Vec<u8>> {
    let end = match ws_http::find_head_end(input) {
        Ok(Some(end)) => end,
        Ok(None) => return None,
        Err(e) => return Some(Reject::from_http(&e).to_bytes()),
    };
    let h = match ws_http::parse_request(&input[..end]) {
        Ok(h) => h,
        Err(e) => return Some(Reject::from_http(&e).to_bytes()),
    };
    match ws_http::target_path(&h.start[1]) {
        Some(path) if path == "/" => {}
        Some(path) => return Some(Reject::not_found(&path).to_bytes()),
        None => return Some(Reject::not_found("?").to_bytes()),
    }
    let checked = ws_http::check_request(&h).and_then(|up| {
        server_accept(ours, up.subprotocol.as_deref())
            .map(|echo| (up.key, echo))
            .map_err(|e| Reject::from_subprotocol(&e))
    });
    Some(match checked {
        Ok((key, echo)) => ws_http::accept_response(&key, &echo),
        Err(r) => r.to_bytes(),
    })
}

/// What the client side of a `ws://` dialer of type `ours`, having sent `key`, makes of
/// the server's answer `input`: `None` while the head is incomplete, `Some(Ok(()))` for
/// an accepted upgrade, `Some(Err(why))` for a refused one.
pub fn ws_upgrade_client(ours: SocketType, key: &str, input: &[u8]) -> Option<Result<(), String>> {
    let end = match ws_http::find_head_end(input) {
        Ok(Some(end)) => end,
        Ok(None) => return None,
        Err(e) => return Some(Err(e.to_string())),
    };
    let checked = ws_http::parse_response(&input[..end])
        .map_err(|e| e.to_string())
        .and_then(|(code, h)| ws_http::check_response(code, &h, key).map_err(|e| e.to_string()))
        .and_then(|echoed| client_check(ours, echoed.as_deref()).map_err(|e| e.to_string()));
    Some(checked)
}

/// `Sec-WebSocket-Accept` for `key` (to build well-formed answers in seeds).
pub fn ws_accept_key(key: &str) -> String {
    ws_http::accept_key(key)
}
