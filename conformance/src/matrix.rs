//! The interoperability matrix: which cells exist and what each one checks.
//!
//! A cell is one protocol pair, with one side played by ours and the other by a C
//! library, one of them listening, over one transport. Ours is either our `sp-net`
//! socket or, in the C API cells, a C program on our `libnanomsg.so.5` (`nanomsg-peer`
//! run on sp-capi, see [`OurSide`]). Adding a transport is one more entry in
//! [`TRANSPORTS`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sp_net::SocketType;
use sp_proto::stats::DropReason;

use crate::harness::{Lib, Loader, PeerExes, Side};

/// A transport the matrix runs over.
#[derive(Debug)]
pub struct Transport {
    /// Column name (`tcp`, `ipc`).
    pub name: &'static str,
    /// A fresh address to listen on, given a number unique in this process and the C
    /// library of the cell (a TCP port 0 is resolved by whoever listens).
    pub url: fn(u64, Lib) -> String,
    /// The C libraries that speak it.
    pub libs: &'static [Lib],
    /// Whether both sides need TLS settings (`tls+tcp://`, see [`crate::tls`]).
    pub tls: bool,
}

fn tcp_url(_: u64, _: Lib) -> String {
    "tcp://127.0.0.1:0".to_owned()
}

fn ipc_url(n: u64, _: Lib) -> String {
    format!(
        "ipc://{}/sp-conformance-{}-{n}.ipc",
        std::env::temp_dir().display(),
        std::process::id()
    )
}

/// A path where NNG is in the cell (NNG and we route by path); none with libnanomsg,
/// whose `nn_bind` refuses a ws URL with a path (EINVAL: it serves every path).
fn ws_url(n: u64, lib: Lib) -> String {
    match lib {
        Lib::Nanomsg => "ws://127.0.0.1:0".to_owned(),
        Lib::Nng => format!("ws://127.0.0.1:0/sp-conformance-{n}"),
    }
}

/// A ws URL with no path at all, for NNG: NNG 1.5.2 dials it with an empty request target
/// (`GET  HTTP/1.1`), which a listener must read as `/` (spec/sp-websocket.md §2.1), and
/// listens on it at `/`, which our dialer must ask for.
fn ws_root_url(_: u64, _: Lib) -> String {
    "ws://127.0.0.1:0".to_owned()
}

fn tls_url(_: u64, _: Lib) -> String {
    "tls+tcp://127.0.0.1:0".to_owned()
}

fn wss_url(n: u64, _: Lib) -> String {
    format!("wss://127.0.0.1:0/sp-conformance-{n}")
}

/// Every transport of the matrix. A new row here adds its cells everywhere.
///
/// `ws-nopath` is `ws` with a path-less URL against NNG (with libnanomsg, `ws` is already
/// path-less). `tls+tcp` and `wss` run against NNG only: libnanomsg has no TLS transport. Debian's NNG 1.5.2
/// is built with TLS (mbedTLS), which [`crate::tls::peer_has_tls`] checks before the
/// cells count.
pub const TRANSPORTS: &[Transport] = &[
    Transport {
        name: "tcp",
        url: tcp_url,
        libs: &[Lib::Nanomsg, Lib::Nng],
        tls: false,
    },
    Transport {
        name: "ipc",
        url: ipc_url,
        libs: &[Lib::Nanomsg, Lib::Nng],
        tls: false,
    },
    Transport {
        name: "ws",
        url: ws_url,
        libs: &[Lib::Nanomsg, Lib::Nng],
        tls: false,
    },
    Transport {
        name: "ws-nopath",
        url: ws_root_url,
        libs: &[Lib::Nng],
        tls: false,
    },
    Transport {
        name: "tls+tcp",
        url: tls_url,
        libs: &[Lib::Nng],
        tls: true,
    },
    Transport {
        name: "wss",
        url: wss_url,
        libs: &[Lib::Nng],
        tls: true,
    },
];

/// A protocol pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pattern {
    /// PAIR v0 ↔ PAIR v0.
    Pair0,
    /// PAIR v1 ↔ PAIR v1 (NNG only).
    Pair1,
    /// REQ ↔ REP.
    ReqRep,
    /// PUSH → PULL.
    PushPull,
    /// PUB → SUB.
    PubSub,
    /// SURVEYOR ↔ RESPONDENT.
    Survey,
    /// BUS ↔ BUS.
    Bus,
}

impl Pattern {
    /// Every pattern.
    pub const ALL: [Self; 7] = [
        Self::Pair0,
        Self::Pair1,
        Self::ReqRep,
        Self::PushPull,
        Self::PubSub,
        Self::Survey,
        Self::Bus,
    ];

    /// The two socket types: the side that speaks first, then its peer.
    pub const fn sides(self) -> (SocketType, SocketType) {
        match self {
            Self::Pair0 => (SocketType::Pair0, SocketType::Pair0),
            Self::Pair1 => (SocketType::Pair1, SocketType::Pair1),
            Self::ReqRep => (SocketType::Req, SocketType::Rep),
            Self::PushPull => (SocketType::Push, SocketType::Pull),
            Self::PubSub => (SocketType::Pub, SocketType::Sub),
            Self::Survey => (SocketType::Surveyor, SocketType::Respondent),
            Self::Bus => (SocketType::Bus, SocketType::Bus),
        }
    }

    /// Whether both sides are the same type (then "ours first" is the only role).
    pub const fn symmetric(self) -> bool {
        matches!(self, Self::Pair0 | Self::Pair1 | Self::Bus)
    }

    /// Whether `lib` has this protocol.
    pub const fn supported_by(self, lib: Lib) -> bool {
        !matches!((self, lib), (Self::Pair1, Lib::Nanomsg))
    }

    /// Row name (`REQ/REP`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pair0 => "PAIR0",
            Self::Pair1 => "PAIR1",
            Self::ReqRep => "REQ/REP",
            Self::PushPull => "PUSH/PULL",
            Self::PubSub => "PUB/SUB",
            Self::Survey => "SURVEYOR/RESPONDENT",
            Self::Bus => "BUS",
        }
    }

    /// Bytes of SP header each message carries on the wire (backtrace or hop count).
    const fn header_len(self) -> usize {
        match self {
            Self::Pair1 | Self::ReqRep | Self::Survey => 4,
            _ => 0,
        }
    }

    /// The message sizes each cell sends: the largest makes the wire payload exactly
    /// 1 MiB, the default receive limit of nanomsg and of our sockets.
    pub fn sizes(self) -> [usize; 6] {
        [0, 1, 255, 4096, 65_537, MAX_RECV - self.header_len()]
    }
}

/// The default largest message (nanomsg's and ours), header included.
pub const MAX_RECV: usize = 1024 * 1024;

/// What plays our side of a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OurSide {
    /// Our `sp-net` socket, in the test process.
    SpNet,
    /// A C program on our `libnanomsg.so.5`: `nanomsg-peer` (written against `nn_*`) run
    /// with `LD_LIBRARY_PATH` on sp-capi, in a process of its own.
    CApi,
}

impl OurSide {
    /// Both.
    pub const ALL: [Self; 2] = [Self::SpNet, Self::CApi];

    /// The transports of the C API cells: the ones the issue asks for, kept few so that
    /// the run stays short (sp-net's cells cover every transport).
    const CAPI_TRANSPORTS: [&'static str; 2] = ["tcp", "ipc"];

    /// How a cell's description names this side (`ours`, `sp-capi`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::SpNet => "ours",
            Self::CApi => "sp-capi",
        }
    }

    /// Whether this side meets `lib` over `t`.
    pub fn runs_over(self, t: &Transport, lib: Lib) -> bool {
        t.libs.contains(&lib) && (self == Self::SpNet || Self::CAPI_TRANSPORTS.contains(&t.name))
    }

    /// Whether this side and `lib` both have `pattern` (the C API side is a libnanomsg
    /// program, so it has what libnanomsg has).
    pub const fn has(self, pattern: Pattern, lib: Lib) -> bool {
        pattern.supported_by(lib)
            && (matches!(self, Self::SpNet) || pattern.supported_by(Lib::Nanomsg))
    }
}

/// One cell of the matrix.
#[derive(Clone, Copy, Debug)]
pub struct Cell {
    /// What plays our side.
    pub ours: OurSide,
    /// The C library on the other side.
    pub lib: Lib,
    /// The protocol pair.
    pub pattern: Pattern,
    /// Whether our socket plays the first side (REQ, PUSH, PUB, SURVEYOR).
    pub ours_first: bool,
    /// Whether our socket listens (otherwise it dials).
    pub ours_listens: bool,
    /// The transport.
    pub transport: &'static Transport,
}

impl Cell {
    /// Our socket type in this cell.
    pub fn our_type(&self) -> SocketType {
        let (a, b) = self.pattern.sides();
        if self.ours_first {
            a
        } else {
            b
        }
    }

    /// A one-line description (`nng REQ/REP: ours=rep listens, tcp`; `sp-capi=rep` in
    /// the C API cells).
    pub fn describe(&self) -> String {
        format!(
            "{} {}: {}={} {}, {}",
            self.lib.name(),
            self.pattern.name(),
            self.ours.name(),
            self.our_type(),
            if self.ours_listens {
                "listens"
            } else {
                "dials"
            },
            self.transport.name
        )
    }
}

/// Every cell: for each of our sides, each pattern both it and a C library have, ours
/// on each side of the pattern, listening and dialing, over each transport both speak.
pub fn all_cells() -> Vec<Cell> {
    let mut cells = Vec::new();
    for (ours, lib) in OurSide::ALL
        .into_iter()
        .flat_map(|o| Lib::ALL.map(|l| (o, l)))
    {
        for pattern in Pattern::ALL {
            if !ours.has(pattern, lib) {
                continue;
            }
            let roles: &[bool] = if pattern.symmetric() {
                &[true]
            } else {
                &[true, false]
            };
            for &ours_first in roles {
                for transport in TRANSPORTS {
                    if !ours.runs_over(transport, lib) {
                        continue;
                    }
                    for ours_listens in [true, false] {
                        cells.push(Cell {
                            ours,
                            lib,
                            pattern,
                            ours_first,
                            ours_listens,
                            transport,
                        });
                    }
                }
            }
        }
    }
    cells
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// A fresh address on `transport` to listen on, for a test with `lib` on the other side.
pub fn fresh_url(transport: &Transport, lib: Lib) -> String {
    (transport.url)(UNIQUE.fetch_add(1, Ordering::Relaxed), lib)
}

/// A deterministic body of `size` bytes, different for each `(tag, i)`, starting with
/// `prefix` (cut to `size`).
pub fn body(tag: u8, i: usize, size: usize, prefix: &[u8]) -> Vec<u8> {
    let mut b: Vec<u8> = (0..size)
        .map(|j| (j.wrapping_mul(7) ^ i.wrapping_mul(13)).wrapping_add(usize::from(tag)) as u8)
        .collect();
    let n = prefix.len().min(size);
    b[..n].copy_from_slice(&prefix[..n]);
    b
}

/// Marks the probe messages used to find out when a lossy sender's peer is attached.
/// Starts with `a` so that SUB's `a` subscription lets it through.
const PROBE: &[u8] = b"a\xffprobe";

fn probe(n: u32) -> Vec<u8> {
    let mut p = PROBE.to_vec();
    p.extend_from_slice(&n.to_be_bytes());
    p
}

fn is_probe(b: &[u8]) -> bool {
    b.starts_with(PROBE)
}

/// How long one delivery attempt on a lossy protocol waits before sending again.
const ATTEMPT: Duration = Duration::from_millis(300);
/// Attempts before a lossy delivery counts as lost.
const ATTEMPTS: usize = 20;

fn short(b: &[u8]) -> String {
    let head = crate::hex::encode(&b[..b.len().min(12)]);
    format!("{} bytes [{head}..]", b.len())
}

fn expect_eq(what: &str, got: &[u8], want: &[u8]) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {}, want {}", short(got), short(want)))
    }
}

/// Delivers `m` from `tx` to `rx` on a protocol allowed to drop (PUB, BUS, SURVEYOR):
/// sends it again until `rx` receives it. While waiting, `rx` may see probes and
/// repeats of `prev` (an earlier attempt arriving late), and nothing else.
async fn deliver_lossy(
    tx: &mut Side,
    rx: &mut Side,
    m: &[u8],
    prev: Option<&[u8]>,
) -> Result<(), String> {
    for _ in 0..ATTEMPTS {
        tx.send(m).await?;
        while let Some(got) = rx.recv_within(ATTEMPT).await? {
            if got == m {
                return Ok(());
            }
            if is_probe(&got) || Some(&got[..]) == prev {
                continue;
            }
            return Err(format!(
                "{} received an unexpected {} while waiting for {}",
                rx.who(),
                short(&got),
                short(m)
            ));
        }
    }
    Err(format!(
        "{} never received {} from {} ({ATTEMPTS} attempts)",
        rx.who(),
        short(m),
        tx.who()
    ))
}

/// Sends all `msgs` from `tx` and then receives them all on `rx`, in order (lossless
/// protocols: PAIR, PUSH/PULL).
async fn stream_in_order(tx: &mut Side, rx: &mut Side, msgs: &[Vec<u8>]) -> Result<(), String> {
    for m in msgs {
        tx.send(m).await?;
    }
    for (i, m) in msgs.iter().enumerate() {
        let got = rx.recv().await?;
        expect_eq(
            &format!("message {i} from {} to {}", tx.who(), rx.who()),
            &got,
            m,
        )?;
    }
    Ok(())
}

/// The URL the dialer gets: the listener's bound address, spelled as the cell's URL was.
/// Our listener reports `ws://host:port/` for a path-less URL; the dialer gets it without
/// the `/`, as a user would write it (NNG then sends an empty request target).
fn dial_url(asked: &str, bound: &str) -> String {
    match asked.strip_prefix("ws://") {
        Some(rest) if !rest.contains('/') => bound.strip_suffix('/').unwrap_or(bound).to_owned(),
        _ => bound.to_owned(),
    }
}

/// Runs one cell: connect, then the exchange its pattern promises.
pub async fn run_cell(cell: &Cell, exes: &PeerExes) -> Result<(), String> {
    let (first, second) = cell.pattern.sides();
    let c_type = if cell.ours_first { second } else { first };
    let mut c = Side::c(cell.lib, c_type, exes).await?;
    let mut ours = match cell.ours {
        OurSide::SpNet => Side::ours(cell.our_type()),
        OurSide::CApi => {
            let dir = exes.capi_dir.clone().ok_or_else(|| {
                "no directory with our libnanomsg.so.5 (PeerExes::capi_dir)".to_owned()
            })?;
            match Side::c_on(Lib::Nanomsg, cell.our_type(), exes, &Loader::OurCapi(dir)).await {
                Ok(side) => side,
                Err(e) => {
                    c.close().await;
                    return Err(e);
                }
            }
        }
    };
    let url = (cell.transport.url)(UNIQUE.fetch_add(1, Ordering::Relaxed), cell.lib);
    let result = async {
        if cell.transport.tls {
            crate::tls::configure(&mut ours).await?;
            crate::tls::configure(&mut c).await?;
        }
        if cell.pattern == Pattern::PubSub {
            let sub = if cell.ours_first { &mut c } else { &mut ours };
            for topic in [&b"a"[..], b"bc"] {
                sub.subscribe(topic).await?;
            }
        }
        let (listener, dialer) = if cell.ours_listens {
            (&mut ours, &mut c)
        } else {
            (&mut c, &mut ours)
        };
        let bound = listener.listen(&url).await?;
        dialer.dial(&dial_url(&url, &bound)).await?;
        ours.wait_connected().await?;
        let (a, b) = if cell.ours_first {
            (&mut ours, &mut c)
        } else {
            (&mut c, &mut ours)
        };
        exchange(cell.pattern, a, b).await
    }
    .await;
    c.close().await;
    ours.close().await;
    if let Some(path) = url.strip_prefix("ipc://") {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// The exchange of `pattern` between the first side `a` and the second side `b`.
async fn exchange(pattern: Pattern, a: &mut Side, b: &mut Side) -> Result<(), String> {
    let sizes = pattern.sizes();
    match pattern {
        Pattern::Pair0 | Pattern::Pair1 => {
            let ab: Vec<_> = sizes
                .iter()
                .enumerate()
                .map(|(i, &s)| body(1, i, s, b""))
                .collect();
            let ba: Vec<_> = sizes
                .iter()
                .enumerate()
                .map(|(i, &s)| body(2, i, s, b""))
                .collect();
            stream_in_order(a, b, &ab).await?;
            stream_in_order(b, a, &ba).await
        }
        Pattern::PushPull => {
            let mut msgs: Vec<_> = sizes
                .iter()
                .enumerate()
                .map(|(i, &s)| body(3, i, s, b""))
                .collect();
            msgs.extend((0..100u32).map(|i| i.to_be_bytes().to_vec()));
            stream_in_order(a, b, &msgs).await
        }
        Pattern::ReqRep => {
            for (i, &s) in sizes.iter().enumerate() {
                let q = body(4, i, s, b"");
                let r = body(5, i, s, b"");
                a.send(&q).await?;
                expect_eq(&format!("request {i}"), &b.recv().await?, &q)?;
                b.send(&r).await?;
                expect_eq(&format!("reply {i}"), &a.recv().await?, &r)?;
            }
            Ok(())
        }
        Pattern::Survey => {
            // Long enough for a 1 MiB survey and response over ws in a debug build under the
            // matrix's load (the response must arrive before the deadline).
            a.set_survey_deadline(9000).await?;
            // A survey sent before the surveyor has its pipe goes nowhere: probe first.
            let mut n = 0;
            let mut synced = false;
            while !synced && n < 20 {
                a.send(&probe(n)).await?;
                n += 1;
                synced = b.recv_within(ATTEMPT).await?.is_some();
            }
            if !synced {
                return Err(format!("{} never received a survey", b.who()));
            }
            for (i, &s) in sizes.iter().enumerate() {
                let q = body(6, i, s, b"");
                let r = body(7, i, s, b"");
                a.send(&q).await?;
                let got = loop {
                    let got = b.recv().await?;
                    if !is_probe(&got) {
                        break got;
                    }
                };
                expect_eq(&format!("survey {i}"), &got, &q)?;
                b.send(&r).await?;
                expect_eq(&format!("response {i}"), &a.recv().await?, &r)?;
            }
            Ok(())
        }
        Pattern::PubSub => {
            deliver_lossy(a, b, &probe(0), None).await?;
            // The SUB side is subscribed to "a" and "bc".
            let prefixes: [&[u8]; 7] = [b"a", b"b", b"bc", b"x", b"bd", b"abc", b""];
            let mut prev: Option<Vec<u8>> = None;
            let mut k = 1;
            for (i, &s) in sizes.iter().enumerate() {
                for (j, prefix) in prefixes.iter().enumerate() {
                    if s < prefix.len() {
                        continue;
                    }
                    let m = body(8 + j as u8, i, s, prefix);
                    if m.starts_with(b"a") || m.starts_with(b"bc") {
                        deliver_lossy(a, b, &m, prev.as_deref()).await?;
                        prev = Some(m);
                    } else {
                        // Not subscribed: send it, then a probe, which must be the next
                        // thing to arrive.
                        a.send(&m).await?;
                        deliver_lossy(a, b, &probe(k), prev.as_deref())
                            .await
                            .map_err(|e| format!("after unsubscribed {}: {e}", short(&m)))?;
                        k += 1;
                    }
                }
            }
            // Our SUB counts what it filtered out. A C publisher may itself drop a message
            // while its pipe is busy, so only bounds can be checked.
            if let Side::Ours(s) = b {
                let filtered = s.stats().protocol.dropped(DropReason::Unsubscribed);
                let sent = k as u64 - 1;
                if filtered == 0 || filtered > sent {
                    return Err(format!(
                        "our SUB counted {filtered} unsubscribed messages; {sent} were sent"
                    ));
                }
            }
            Ok(())
        }
        Pattern::Bus => {
            deliver_lossy(a, b, &probe(0), None).await?;
            let mut prev: Option<Vec<u8>> = None;
            for (i, &s) in sizes.iter().enumerate() {
                let m = body(20, i, s, b"");
                deliver_lossy(a, b, &m, prev.as_deref()).await?;
                prev = Some(m);
            }
            deliver_lossy(b, a, &probe(1), None).await?;
            let mut prev: Option<Vec<u8>> = None;
            for (i, &s) in sizes.iter().enumerate() {
                let m = body(21, i, s, b"");
                deliver_lossy(b, a, &m, prev.as_deref()).await?;
                prev = Some(m);
            }
            Ok(())
        }
    }
}
