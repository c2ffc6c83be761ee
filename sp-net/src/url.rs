//! Endpoint addresses: the URL forms of nanomsg and NNG.
//!
//! | Scheme | Form | Notes |
//! |---|---|---|
//! | `tcp://` | `host:port`, `*:port`, `:port`, `[v6]:port`, `iface;host:port` | `tcp4://`, `tcp6://` force a family; `iface;` is nanomsg's local-interface prefix for dialers |
//! | `ipc://` | `/abs/path` or `rel/path` | `unix://` is an alias; `abstract://name` uses the Linux abstract namespace |
//! | `inproc://` | any name | in-process only |
//! | `ws://`, `wss://` | `host[:port][/path]` | default ports 80 / 443, default path `/` |
//! | `tls+tcp://` | `host:port` | TCP mapping inside TLS |

use std::fmt;
use std::path::PathBuf;

/// Which IP family a TCP-based endpoint may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Either (resolved order).
    Any,
    /// IPv4 only (`tcp4://`, `ws4://`, `tls+tcp4://`).
    V4,
    /// IPv6 only (`tcp6://`, `ws6://`, `tls+tcp6://`).
    V6,
}

/// A host and port, as written in a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// The host: a name, an IPv4 literal, an IPv6 literal without brackets, or `*` / empty
    /// for the wildcard address (listeners only).
    pub host: String,
    /// The port (0 asks the OS for one when listening).
    pub port: u16,
    /// Address family restriction.
    pub family: Family,
}

impl HostPort {
    /// Whether the host is the wildcard (`*` or empty).
    pub fn is_wildcard(&self) -> bool {
        self.host.is_empty() || self.host == "*"
    }

    /// `host:port` suitable for resolution (`[v6]:port`, wildcard mapped per family).
    pub fn socket_addr_string(&self) -> String {
        let host = if self.is_wildcard() {
            match self.family {
                Family::V6 => "::",
                _ => "0.0.0.0",
            }
        } else {
            self.host.as_str()
        };
        if host.contains(':') {
            format!("[{host}]:{}", self.port)
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// A parsed endpoint URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Url {
    /// `tcp://`: the SP TCP mapping.
    Tcp {
        /// Where to connect or listen.
        addr: HostPort,
        /// nanomsg's `iface;` prefix: the local interface a dialer binds to.
        local: Option<String>,
    },
    /// `tls+tcp://`: the TCP mapping inside TLS.
    TlsTcp {
        /// Where to connect or listen.
        addr: HostPort,
    },
    /// `ipc://` or `unix://`: a Unix domain socket path.
    Ipc(PathBuf),
    /// `abstract://`: a Linux abstract-namespace socket (the name, percent-decoded).
    Abstract(Vec<u8>),
    /// `inproc://`: an in-process endpoint.
    Inproc(String),
    /// `ws://` or `wss://`: the WebSocket mapping.
    Ws {
        /// Where to connect or listen.
        addr: HostPort,
        /// The request path (starts with `/`).
        path: String,
        /// `wss://`.
        tls: bool,
    },
}

/// Why a URL was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// No `scheme://` part.
    #[error("{0:?} is not a URL (expected scheme://address)")]
    NoScheme(String),
    /// A scheme we do not implement.
    #[error("unsupported transport {0:?} (use tcp, ipc, inproc, ws, wss or tls+tcp)")]
    UnknownScheme(String),
    /// The address part is empty.
    #[error("{0:?} has an empty address")]
    EmptyAddress(String),
    /// `host:port` without a port, or a port that is not a number below 65536.
    #[error("bad or missing port in {0:?}")]
    BadPort(String),
    /// An IPv6 literal with a missing `]`.
    #[error("unterminated IPv6 literal in {0:?}")]
    BadIpv6(String),
    /// A percent escape that is not two hex digits.
    #[error("bad percent-encoding in {0:?}")]
    BadEscape(String),
    /// The address is too long for nanomsg peers (128 bytes, `NN_SOCKADDR_MAX`) or for a
    /// Unix socket path (107 bytes).
    #[error("address {0:?} is too long")]
    TooLong(String),
}

/// Longest Unix socket path the kernel accepts (sun_path is 108 bytes with the NUL).
const MAX_UNIX_PATH: usize = 107;

impl Url {
    /// Parses a URL.
    pub fn parse(s: &str) -> Result<Self, UrlError> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| UrlError::NoScheme(s.to_owned()))?;
        let scheme_lc = scheme.to_ascii_lowercase();
        let family = |suffix: &str| match suffix {
            "4" => Some(Family::V4),
            "6" => Some(Family::V6),
            "" => Some(Family::Any),
            _ => None,
        };
        if let Some(f) = scheme_lc.strip_prefix("tls+tcp").and_then(family) {
            return Ok(Self::TlsTcp {
                addr: parse_host_port(s, rest, f)?,
            });
        }
        if let Some(f) = scheme_lc.strip_prefix("tcp").and_then(family) {
            let (local, addr) = match rest.split_once(';') {
                Some((iface, addr)) => (Some(iface.to_owned()), addr),
                None => (None, rest),
            };
            return Ok(Self::Tcp {
                addr: parse_host_port(s, addr, f)?,
                local,
            });
        }
        for (prefix, tls) in [("wss", true), ("ws", false)] {
            if let Some(f) = scheme_lc.strip_prefix(prefix).and_then(family) {
                let (authority, path) = match rest.find('/') {
                    Some(i) => (&rest[..i], rest[i..].to_owned()),
                    None => (rest, "/".to_owned()),
                };
                let default_port = if tls { 443 } else { 80 };
                let addr = parse_host_port_default(s, authority, f, default_port)?;
                return Ok(Self::Ws { addr, path, tls });
            }
        }
        match scheme_lc.as_str() {
            "ipc" | "unix" => {
                if rest.is_empty() {
                    return Err(UrlError::EmptyAddress(s.to_owned()));
                }
                if rest.len() > MAX_UNIX_PATH {
                    return Err(UrlError::TooLong(s.to_owned()));
                }
                Ok(Self::Ipc(PathBuf::from(rest)))
            }
            "abstract" => {
                let name = percent_decode(rest).ok_or_else(|| UrlError::BadEscape(s.to_owned()))?;
                if name.len() + 1 > MAX_UNIX_PATH {
                    return Err(UrlError::TooLong(s.to_owned()));
                }
                Ok(Self::Abstract(name))
            }
            "inproc" => {
                if rest.is_empty() {
                    return Err(UrlError::EmptyAddress(s.to_owned()));
                }
                Ok(Self::Inproc(rest.to_owned()))
            }
            _ => Err(UrlError::UnknownScheme(scheme.to_owned())),
        }
    }

    /// The scheme name as written canonically.
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Tcp { .. } => "tcp",
            Self::TlsTcp { .. } => "tls+tcp",
            Self::Ipc(_) => "ipc",
            Self::Abstract(_) => "abstract",
            Self::Inproc(_) => "inproc",
            Self::Ws { tls: false, .. } => "ws",
            Self::Ws { tls: true, .. } => "wss",
        }
    }

    /// The port of a network URL.
    pub fn port(&self) -> Option<u16> {
        match self {
            Self::Tcp { addr, .. } | Self::TlsTcp { addr } | Self::Ws { addr, .. } => {
                Some(addr.port)
            }
            _ => None,
        }
    }

    /// This URL with a different port (used to report the port a listener bound for
    /// port 0). Non-network URLs are returned unchanged.
    pub fn with_port(&self, port: u16) -> Self {
        let mut u = self.clone();
        match &mut u {
            Self::Tcp { addr, .. } | Self::TlsTcp { addr } | Self::Ws { addr, .. } => {
                addr.port = port
            }
            _ => {}
        }
        u
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hp = |a: &HostPort| {
            if a.host.contains(':') {
                format!("[{}]:{}", a.host, a.port)
            } else {
                format!("{}:{}", a.host, a.port)
            }
        };
        match self {
            Self::Tcp {
                addr,
                local: Some(l),
            } => write!(f, "tcp://{l};{}", hp(addr)),
            Self::Tcp { addr, local: None } => write!(f, "tcp://{}", hp(addr)),
            Self::TlsTcp { addr } => write!(f, "tls+tcp://{}", hp(addr)),
            Self::Ipc(p) => write!(f, "ipc://{}", p.display()),
            Self::Abstract(n) => write!(f, "abstract://{}", percent_encode(n)),
            Self::Inproc(n) => write!(f, "inproc://{n}"),
            Self::Ws { addr, path, tls } => write!(
                f,
                "{}://{}{path}",
                if *tls { "wss" } else { "ws" },
                hp(addr)
            ),
        }
    }
}

impl std::str::FromStr for Url {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, UrlError> {
        Self::parse(s)
    }
}

/// An address `listen` and `dial` accept: a string to parse (`&str`, `String`,
/// `&String`) or a [`Url`] already parsed (`Url`, `&Url`), such as the
/// [`Endpoint::url`](crate::Endpoint::url) of a listener:
///
/// ```no_run
/// # async fn f() -> Result<(), sp_net::Error> {
/// use sp_net::{Socket, SocketType};
/// let rep = Socket::new(SocketType::Rep);
/// let ep = rep.listen("tcp://127.0.0.1:0").await?;
/// let req = Socket::new(SocketType::Req);
/// req.dial(ep.url()).await?;
/// # Ok(()) }
/// ```
pub trait IntoUrl {
    /// The parsed URL, or why the string is not one.
    fn into_url(self) -> Result<Url, UrlError>;
}

impl IntoUrl for &str {
    fn into_url(self) -> Result<Url, UrlError> {
        Url::parse(self)
    }
}

impl IntoUrl for String {
    fn into_url(self) -> Result<Url, UrlError> {
        Url::parse(&self)
    }
}

impl IntoUrl for &String {
    fn into_url(self) -> Result<Url, UrlError> {
        Url::parse(self)
    }
}

impl IntoUrl for Url {
    fn into_url(self) -> Result<Url, UrlError> {
        Ok(self)
    }
}

impl IntoUrl for &Url {
    fn into_url(self) -> Result<Url, UrlError> {
        Ok(self.clone())
    }
}

fn parse_host_port(url: &str, s: &str, family: Family) -> Result<HostPort, UrlError> {
    let (host, port) = split_host(url, s)?;
    let port = port.ok_or_else(|| UrlError::BadPort(url.to_owned()))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| UrlError::BadPort(url.to_owned()))?;
    Ok(HostPort { host, port, family })
}

fn parse_host_port_default(
    url: &str,
    s: &str,
    family: Family,
    default: u16,
) -> Result<HostPort, UrlError> {
    let (host, port) = split_host(url, s)?;
    let port = match port {
        None => default,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| UrlError::BadPort(url.to_owned()))?,
    };
    Ok(HostPort { host, port, family })
}

/// Splits `host[:port]`, handling `[v6]` literals.
fn split_host<'a>(url: &str, s: &'a str) -> Result<(String, Option<&'a str>), UrlError> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| UrlError::BadIpv6(url.to_owned()))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| UrlError::BadPort(url.to_owned()))?,
            ),
        };
        return Ok((host.to_owned(), port));
    }
    match s.rsplit_once(':') {
        Some((host, port)) => Ok((host.to_owned(), Some(port))),
        None => Ok((s.to_owned(), None)),
    }
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

fn percent_encode(b: &[u8]) -> String {
    b.iter()
        .map(|&c| {
            if c.is_ascii_graphic() && c != b'%' {
                (c as char).to_string()
            } else {
                format!("%{c:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(host: &str, port: u16) -> HostPort {
        HostPort {
            host: host.into(),
            port,
            family: Family::Any,
        }
    }

    #[test]
    fn tcp_forms() {
        assert_eq!(
            Url::parse("tcp://127.0.0.1:5555").unwrap(),
            Url::Tcp {
                addr: hp("127.0.0.1", 5555),
                local: None
            }
        );
        let wild = Url::parse("tcp://*:80").unwrap();
        let Url::Tcp { addr, .. } = &wild else {
            panic!()
        };
        assert!(addr.is_wildcard());
        assert_eq!(addr.socket_addr_string(), "0.0.0.0:80");
        let Url::Tcp { addr, .. } = Url::parse("tcp://:0").unwrap() else {
            panic!()
        };
        assert!(addr.is_wildcard());
        assert_eq!(
            Url::parse("tcp://[::1]:7").unwrap(),
            Url::Tcp {
                addr: hp("::1", 7),
                local: None
            }
        );
        assert_eq!(
            Url::parse("tcp://eth0;10.0.0.1:9").unwrap(),
            Url::Tcp {
                addr: hp("10.0.0.1", 9),
                local: Some("eth0".into())
            }
        );
        let Url::Tcp { addr, .. } = Url::parse("tcp6://*:1").unwrap() else {
            panic!()
        };
        assert_eq!(
            (addr.family, addr.socket_addr_string()),
            (Family::V6, "[::]:1".to_owned())
        );
        assert_eq!(
            Url::parse("tcp://[::1]:7").unwrap().to_string(),
            "tcp://[::1]:7"
        );
    }

    #[test]
    fn other_schemes() {
        assert_eq!(
            Url::parse("ipc:///tmp/x.sock").unwrap(),
            Url::Ipc("/tmp/x.sock".into())
        );
        assert_eq!(Url::parse("unix://rel").unwrap(), Url::Ipc("rel".into()));
        assert_eq!(
            Url::parse("abstract://a%00b").unwrap(),
            Url::Abstract(b"a\0b".to_vec())
        );
        assert_eq!(Url::parse("inproc://q").unwrap(), Url::Inproc("q".into()));
        assert_eq!(
            Url::parse("ws://localhost:8080/sp").unwrap(),
            Url::Ws {
                addr: hp("localhost", 8080),
                path: "/sp".into(),
                tls: false
            }
        );
        assert_eq!(
            Url::parse("wss://h").unwrap(),
            Url::Ws {
                addr: hp("h", 443),
                path: "/".into(),
                tls: true
            }
        );
        assert_eq!(
            Url::parse("tls+tcp://h:1").unwrap(),
            Url::TlsTcp { addr: hp("h", 1) }
        );
        assert_eq!(
            Url::parse("ws://h:9/p").unwrap().with_port(10).to_string(),
            "ws://h:10/p"
        );
    }

    #[test]
    fn errors() {
        assert!(matches!(
            Url::parse("localhost:80"),
            Err(UrlError::NoScheme(_))
        ));
        assert!(matches!(
            Url::parse("udp://h:1"),
            Err(UrlError::UnknownScheme(_))
        ));
        assert!(matches!(Url::parse("tcp://h"), Err(UrlError::BadPort(_))));
        assert!(matches!(
            Url::parse("tcp://h:99999"),
            Err(UrlError::BadPort(_))
        ));
        assert!(matches!(
            Url::parse("tcp://[::1:80"),
            Err(UrlError::BadIpv6(_))
        ));
        assert!(matches!(
            Url::parse("ipc://"),
            Err(UrlError::EmptyAddress(_))
        ));
        assert!(matches!(
            Url::parse("inproc://"),
            Err(UrlError::EmptyAddress(_))
        ));
        assert!(matches!(
            Url::parse("abstract://%zz"),
            Err(UrlError::BadEscape(_))
        ));
        let long = format!("ipc:///{}", "x".repeat(200));
        assert!(matches!(Url::parse(&long), Err(UrlError::TooLong(_))));
    }
}
