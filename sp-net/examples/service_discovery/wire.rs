//! The bodies on the wire: the survey, the answers, and service names.

use super::SURVEY_BODY;

/// Whether a survey body is the discovery query (a trailing NUL, as C peers often send
/// `strlen + 1` bytes, is accepted).
pub(crate) fn is_query(body: &[u8]) -> bool {
    let body = body.strip_suffix(b"\0").unwrap_or(body);
    body == SURVEY_BODY.as_bytes()
}

/// Parses a survey response `name|address`. `None` for anything else (not UTF-8, no `|`,
/// an empty part); a trailing NUL is tolerated.
pub(crate) fn parse_answer(body: &[u8]) -> Option<(String, String)> {
    let body = body.strip_suffix(b"\0").unwrap_or(body);
    let text = std::str::from_utf8(body).ok()?;
    let (name, address) = text.split_once('|')?;
    let (name, address) = (name.trim(), address.trim());
    if name.is_empty() || address.is_empty() {
        return None;
    }
    Some((name.to_owned(), address.to_owned()))
}

/// The site of a service name `service@site`, if it has one.
pub(crate) fn site_of(name: &str) -> Option<&str> {
    name.rsplit_once('@').map(|(_, site)| site)
}

/// `host:port` of a `tcp://host:port` address (what the transport reports as the peer).
pub(crate) fn host_port(address: &str) -> &str {
    address.strip_prefix("tcp://").unwrap_or(address)
}
