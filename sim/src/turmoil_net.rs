//! The real `sp-net` sockets over turmoil's simulated TCP.
//!
//! [`TurmoilNetwork`] implements `sp-net`'s transport seam ([`sp_net::transport::Network`]),
//! so a socket made with [`Socket::with_config`](sp_net::Socket::with_config) inside a
//! turmoil host runs its real driver (dialer backoff, handshake, pipes, protocol timers on
//! `tokio::time`) over simulated TCP, in turmoil's virtual time, reproducibly from
//! turmoil's seed.
//!
//! # Limits of turmoil 0.7 and how this module handles them
//!
//! * Only `tcp://` (and what runs over it: `tls+tcp://`, `ws://`) is simulated. turmoil
//!   has no Unix sockets, so `ipc://` is refused with [`io::ErrorKind::Unsupported`].
//!   `inproc://` names are bound per network namespace (see below), so they join only
//!   sockets sharing one [`TurmoilNetwork`]; they are not simulated (no latency, loss or
//!   partitions).
//! * turmoil does not retransmit TCP segments. A segment dropped by a partition leaves
//!   the connection stalled forever (later segments wait for the lost one), where a real
//!   stack would retransmit it after the repair or, after its retransmissions time out
//!   (about 15 minutes on Linux), reset. The first outcome, a silent partition that TCP
//!   rides out, is turmoil's `hold`/`release` (segments are kept and delivered late, at
//!   the release): the scenario layer's `partition` uses it. The second is
//!   [`Fabric::reset_between`] (reads fail with `ConnectionReset`, writes with
//!   `BrokenPipe`), the scenario layer's `reset`; [`Fabric::partition`] cuts the link in
//!   turmoil *and* resets the connections crossing it, for tests of what sp-net does
//!   once a pipe is gone. One-way partitions have no faithful model and are not offered.
//! * Listeners bind only the wildcard (`tcp://*:port`, `tcp://0.0.0.0:port`,
//!   `tcp://[::]:port`) or a loopback address of the network's IP version; anything else
//!   fails with `AddrNotAvailable` (turmoil would panic on a family mismatch).
//!
//! # Crashes
//!
//! turmoil crashes a host by dropping its tokio runtime, and each simulated connection
//! the host's tasks own tells its peer as it is dropped (a FIN, or a RST when it holds
//! unread data), with a latency drawn from the simulation's seeded generator. tokio's
//! current-thread runtime shuts its tasks down shard by shard, a task's shard being its
//! id modulo 4, and task ids count up across the process: left to the runtime, the
//! connections would close (and draw their latencies) in an order that depends on how
//! many tasks the process spawned before, so the same seed would give another run after
//! other runs in the same process. A simulator that crashes hosts therefore marks the
//! host with [`Fabric::crashing`] just before `Sim::crash`, and its host software holds
//! a [`CrashGuard`] for as long as it runs: connection ends the crash drops are kept
//! until the guard goes (after every task of the host's runtime, since turmoil drops
//! the host's `LocalSet` after its runtime) and are closed then in the order of their
//! addresses. [`Fabric::crashed`] after `Sim::crash` tells whether that happened.
//!
//! # Namespaces
//!
//! Every [`TurmoilNetwork`] is its own address space for `ws://` port sharing and
//! `inproc://` names: create one
//! per host incarnation (inside the host's factory closure) and give it to every socket of
//! that host, so that `ws://` listeners of one host share a port and never those of two
//! hosts (turmoil hosts have separate port spaces) or of two simulations, and likewise
//! for `inproc://` names.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};

use sp_net::transport::{BoxFuture, Conn, Listener, Network};
use sp_net::url::HostPort;
use sp_net::Url;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use turmoil::IpVersion;

/// Connections of one simulation, so that a partition can reset the ones crossing it.
/// Shared by the [`TurmoilNetwork`]s of all hosts of one simulation.
#[derive(Default)]
pub struct Fabric {
    conns: Mutex<Vec<Weak<ConnState>>>,
    /// The host being crashed, with the connection ends its crash dropped so far: closed
    /// in the order of their addresses by the host's [`CrashGuard`].
    crashing: Mutex<Option<Crash>>,
}

/// A host being crashed: while `Sim::crash` runs, only that host's software is dropped,
/// so every connection end dropped meanwhile is one of its own (loopback ones included).
struct Crash {
    ip: IpAddr,
    parked: Parked,
}

/// Connection ends of a crashing host, by (local, peer) address.
type Parked = BTreeMap<(SocketAddr, SocketAddr), turmoil::net::TcpStream>;

impl std::fmt::Debug for Fabric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fabric")
            .field("conns", &self.live().len())
            .finish()
    }
}

impl Fabric {
    /// A fabric with no connections.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn register(&self, state: &Arc<ConnState>) {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        conns.retain(|w| w.strong_count() > 0);
        conns.push(Arc::downgrade(state));
    }

    fn live(&self) -> Vec<Arc<ConnState>> {
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// Resets every live connection between addresses `a` and `b` (either direction), as
    /// a TCP stack does when its retransmissions time out. Returns how many connection
    /// ends were reset.
    pub fn reset_between(&self, a: IpAddr, b: IpAddr) -> usize {
        let mut n = 0;
        for c in self.live() {
            let (l, p) = (c.local.ip(), c.peer.ip());
            if (l == a && p == b) || (l == b && p == a) {
                c.reset();
                n += 1;
            }
        }
        n
    }

    /// Partitions hosts `a` and `b` (by name) and resets the connections between them.
    /// Call from inside the simulation (a host or client future); from outside, use
    /// `Sim::partition` and [`reset_between`](Self::reset_between) with `Sim::lookup`.
    pub fn partition(&self, a: &str, b: &str) -> usize {
        turmoil::partition(a, b);
        self.reset_between(turmoil::lookup(a), turmoil::lookup(b))
    }

    /// Repairs the link between hosts `a` and `b` (inside the simulation).
    pub fn repair(&self, a: &str, b: &str) {
        turmoil::repair(a, b);
    }

    /// Live connection ends (both ends of a connection count).
    pub fn connection_count(&self) -> usize {
        self.live().iter().filter(|c| !c.is_reset()).count()
    }

    fn crash(&self) -> std::sync::MutexGuard<'_, Option<Crash>> {
        self.crashing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks host `ip` as about to crash: call from outside the simulation right before
    /// `Sim::crash`, so that the connection ends the crash drops close in the order of
    /// their addresses, when the host's [`CrashGuard`] goes, and not in the order tokio
    /// shuts the host's tasks down (see the [module docs](self)). One host at a time:
    /// end each crash with [`crashed`](Self::crashed) before the next.
    pub fn crashing(&self, ip: IpAddr) {
        *self.crash() = Some(Crash {
            ip,
            parked: Parked::new(),
        });
    }

    /// Ends the crash of host `ip` begun with [`crashing`](Self::crashing): call right
    /// after `Sim::crash`. Returns how many of its connection ends were left unclosed
    /// because the host had no [`CrashGuard`] (0 when its software held one); those are
    /// dropped here, outside the simulation, where they tell their peers nothing.
    pub fn crashed(&self, ip: IpAddr) -> usize {
        self.end_crash(ip).map_or(0, |c| c.parked.len())
    }

    /// Takes the crash of host `ip` (if that host is the one crashing), ending it.
    fn end_crash(&self, ip: IpAddr) -> Option<Crash> {
        let mut c = self.crash();
        match c.take() {
            Some(crash) if crash.ip == ip => Some(crash),
            other => {
                *c = other;
                None
            }
        }
    }

    /// A guard for the software of host `ip` to hold while it runs (create it inside
    /// the host, first thing): when a crash drops it, it closes the connection ends
    /// the crash dropped, in the order of their addresses.
    pub fn crash_guard(self: &Arc<Self>, ip: IpAddr) -> CrashGuard {
        CrashGuard {
            fabric: self.clone(),
            ip,
        }
    }

    /// Keeps `stream` if a host is crashing, else gives it back to be dropped now.
    fn park(
        &self,
        key: (SocketAddr, SocketAddr),
        stream: turmoil::net::TcpStream,
    ) -> Option<turmoil::net::TcpStream> {
        match &mut *self.crash() {
            Some(crash) => {
                crash.parked.insert(key, stream);
                None
            }
            None => Some(stream),
        }
    }
}

/// Held by a host's software; closes the connection ends its crash dropped, in the order
/// of their addresses ([`Fabric::crash_guard`]).
pub struct CrashGuard {
    fabric: Arc<Fabric>,
    ip: IpAddr,
}

impl std::fmt::Debug for CrashGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrashGuard").field("ip", &self.ip).finish()
    }
}

impl Drop for CrashGuard {
    fn drop(&mut self) {
        // Taken out (and the crash ended) before any is dropped, so that a connection
        // end dropped after the guard closes at once.
        let crash = self.fabric.end_crash(self.ip);
        for (_, stream) in crash.into_iter().flat_map(|c| c.parked) {
            drop(stream);
        }
    }
}

struct ConnState {
    local: SocketAddr,
    peer: SocketAddr,
    reset: AtomicBool,
    wakers: Mutex<[Option<Waker>; 2]>,
}

impl ConnState {
    fn reset(&self) {
        self.reset.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|e| e.into_inner()));
        wakers.into_iter().flatten().for_each(Waker::wake);
    }

    fn is_reset(&self) -> bool {
        self.reset.load(Ordering::SeqCst)
    }

    /// Registers the task for side `i` (0 read, 1 write); `Err` once reset.
    fn check(&self, i: usize, cx: &Context<'_>, kind: io::ErrorKind) -> io::Result<()> {
        let mut w = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_reset() {
            return Err(io::Error::new(kind, "connection reset by a partition"));
        }
        match &mut w[i] {
            Some(old) if old.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Ok(())
    }
}

/// A simulated TCP connection that a [`Fabric`] can reset.
struct SimStream {
    /// `None` only once dropped.
    inner: Option<turmoil::net::TcpStream>,
    state: Arc<ConnState>,
    fabric: Arc<Fabric>,
}

impl SimStream {
    fn inner(&mut self) -> io::Result<Pin<&mut turmoil::net::TcpStream>> {
        self.inner
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        if let Some(s) = self.inner.take() {
            // Dropped now unless its host is crashing (see the module docs).
            drop(self.fabric.park((self.state.local, self.state.peer), s));
        }
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.state.check(0, cx, io::ErrorKind::ConnectionReset)?;
        self.inner()?.poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.state.check(1, cx, io::ErrorKind::BrokenPipe)?;
        self.inner()?.poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.state.check(1, cx, io::ErrorKind::BrokenPipe)?;
        self.inner()?.poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.state.is_reset() {
            return Poll::Ready(Ok(()));
        }
        self.inner()?.poll_shutdown(cx)
    }
}

fn wrap(fabric: &Arc<Fabric>, stream: turmoil::net::TcpStream) -> io::Result<Conn> {
    let local = stream.local_addr()?;
    let peer = stream.peer_addr()?;
    let state = Arc::new(ConnState {
        local,
        peer,
        reset: AtomicBool::new(false),
        wakers: Mutex::new([None, None]),
    });
    fabric.register(&state);
    Ok(Conn::new(
        Box::new(SimStream {
            inner: Some(stream),
            state,
            fabric: fabric.clone(),
        }),
        peer.to_string(),
    ))
}

/// `sp-net`'s network seam over turmoil's simulated TCP (see the [module docs](self)).
pub struct TurmoilNetwork {
    fabric: Arc<Fabric>,
    ip_version: IpVersion,
    namespace: usize,
}

impl std::fmt::Debug for TurmoilNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurmoilNetwork")
            .field("ip_version", &self.ip_version)
            .field("namespace", &self.namespace)
            .finish()
    }
}

static NEXT_NAMESPACE: AtomicUsize = AtomicUsize::new(1);

impl TurmoilNetwork {
    /// A network for one host incarnation of an IPv4 simulation (turmoil's default).
    pub fn new(fabric: &Arc<Fabric>) -> Arc<Self> {
        Self::with_ip_version(fabric, IpVersion::V4)
    }

    /// A network for one host incarnation of a simulation built with `ip_version`.
    pub fn with_ip_version(fabric: &Arc<Fabric>, ip_version: IpVersion) -> Arc<Self> {
        // The top bit keeps these apart from address-based namespaces (user-space
        // pointers never have it set) and from the real network's 0.
        let id = NEXT_NAMESPACE.fetch_add(1, Ordering::Relaxed);
        Arc::new(Self {
            fabric: fabric.clone(),
            ip_version,
            namespace: id | (1 << (usize::BITS - 1)),
        })
    }

    fn bind_ip(&self, addr: &HostPort) -> io::Result<IpAddr> {
        let v6 = matches!(self.ip_version, IpVersion::V6);
        let unavailable = |why: &str| {
            io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!(
                    "cannot bind {} under turmoil: {why}",
                    addr.socket_addr_string()
                ),
            )
        };
        let ip = if addr.is_wildcard() {
            if v6 {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            }
        } else if addr.host.eq_ignore_ascii_case("localhost") {
            if v6 {
                IpAddr::V6(Ipv6Addr::LOCALHOST)
            } else {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            }
        } else {
            let ip: IpAddr = addr
                .host
                .parse()
                .map_err(|_| unavailable("listeners bind * or a loopback address"))?;
            if !ip.is_unspecified() && !ip.is_loopback() {
                return Err(unavailable("listeners bind * or a loopback address"));
            }
            ip
        };
        if ip.is_ipv6() != v6 {
            return Err(unavailable("address family differs from the simulation's"));
        }
        Ok(ip)
    }
}

fn unsupported(url: &Url) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("transport {} is not simulated by turmoil", url.scheme()),
    )
}

struct SimListener {
    listener: turmoil::net::TcpListener,
    url: Url,
    fabric: Arc<Fabric>,
}

impl Listener for SimListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<Conn>> {
        Box::pin(async move {
            let (s, _) = self.listener.accept().await?;
            wrap(&self.fabric, s)
        })
    }

    fn local_url(&self) -> Url {
        self.url.clone()
    }
}

impl Network for TurmoilNetwork {
    fn namespace(&self) -> usize {
        self.namespace
    }

    fn connect(&self, url: &Url) -> BoxFuture<'static, io::Result<Conn>> {
        let url = url.clone();
        let fabric = self.fabric.clone();
        Box::pin(async move {
            let Url::Tcp { addr, .. } = &url else {
                return Err(unsupported(&url));
            };
            if addr.is_wildcard() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot connect to the wildcard address",
                ));
            }
            let host = addr.host.as_str();
            let stream = turmoil::net::TcpStream::connect((host, addr.port)).await?;
            wrap(&fabric, stream)
        })
    }

    fn bind(&self, url: &Url) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        let url = url.clone();
        let fabric = self.fabric.clone();
        let ip = match &url {
            Url::Tcp { addr, .. } => self.bind_ip(addr),
            _ => Err(unsupported(&url)),
        };
        Box::pin(async move {
            let ip = ip?;
            let port = url.port().unwrap_or(0);
            let listener = turmoil::net::TcpListener::bind((ip, port)).await?;
            let port = listener.local_addr()?.port();
            Ok(Box::new(SimListener {
                listener,
                url: url.with_port(port),
                fabric,
            }) as Box<dyn Listener>)
        })
    }
}
