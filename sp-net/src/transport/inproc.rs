//! inproc: in-process pipes. No bytes are framed or copied beyond joining a protocol
//! header to its body; each direction is a bounded channel of message payloads, so a slow
//! receiver back-pressures the sender exactly as a socket buffer would.
//!
//! Names are bound per address space: the [`Network::namespace`] of the socket's
//! network, so an `inproc://` dialer finds only listeners of sockets on the same network
//! (all of the real network's; one simulated host's). The table of bound names is one
//! for the process, keyed by namespace; the [`Network`] docs say why it is not owned by
//! the network value.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, LazyLock, Mutex};

use bytes::Bytes;
use sp_proto::wire::{FrameError, MaxRecvSize};
use sp_proto::{Message, SocketType};
use tokio::sync::{mpsc, oneshot};

pub(crate) use super::inproc_queue::QueueReceiver;
use super::inproc_queue::{queue, QueueSender};

use crate::pipe::{MsgRead, MsgWrite, PipeEnd};
use crate::transport::{BoxFuture, Network};

/// Messages buffered per direction of an inproc pipe.
const CHANNEL_DEPTH: usize = 1024;

/// A connection request from a dialer to a listener.
pub(crate) struct Offer {
    /// The dialer's socket type.
    pub(crate) dialer_type: SocketType,
    /// Payloads from the dialer.
    pub(crate) from_dialer: QueueReceiver,
    /// Payloads to the dialer.
    pub(crate) to_dialer: QueueSender,
    /// The listener's answer: its own type.
    pub(crate) reply: oneshot::Sender<SocketType>,
}

/// Bound names by (network namespace, name).
type Registry = HashMap<(usize, String), (u64, mpsc::UnboundedSender<Offer>)>;
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
static LISTENERS: LazyLock<Mutex<Registry>> = LazyLock::new(Default::default);

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    LISTENERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A bound inproc name; unbinds on drop.
pub(crate) struct InprocListener {
    key: (usize, String),
    id: u64,
    offers: mpsc::UnboundedReceiver<Offer>,
    // Keeps the network (and so its namespace in `key`, by default its address) alive
    // while the name is bound, so that no later network can reuse the namespace and
    // reach this listener.
    _network: Arc<dyn Network>,
}

impl InprocListener {
    /// Binds `name` in the address space of `network`; fails with `AddrInUse` if another
    /// listener has it.
    pub(crate) fn bind(network: &Arc<dyn Network>, name: &str) -> io::Result<Self> {
        let key = (network.namespace(), name.to_owned());
        let mut reg = registry();
        if reg.get(&key).is_some_and(|(_, tx)| !tx.is_closed()) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("inproc://{name} is already bound"),
            ));
        }
        let (tx, offers) = mpsc::unbounded_channel();
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        reg.insert(key.clone(), (id, tx));
        Ok(Self {
            key,
            id,
            offers,
            _network: network.clone(),
        })
    }

    /// The next connection request.
    pub(crate) async fn accept(&mut self) -> Option<Offer> {
        self.offers.recv().await
    }
}

impl Drop for InprocListener {
    fn drop(&mut self) {
        let mut reg = registry();
        if reg.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            reg.remove(&self.key);
        }
    }
}

/// The dialer's half of an established inproc pipe.
pub(crate) struct Dialed {
    pub(crate) reader: QueueReceiver,
    pub(crate) writer: InprocWriter,
    pub(crate) listener_type: SocketType,
}

/// Connects to the listener bound at `name` in the address space `namespace`:
/// `ConnectionRefused` if there is none (the dialer retries with backoff, as NNG does).
pub(crate) async fn connect(namespace: usize, name: &str, ours: SocketType) -> io::Result<Dialed> {
    let tx = registry()
        .get(&(namespace, name.to_owned()))
        .map(|(_, tx)| tx.clone())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("no listener at inproc://{name}"),
            )
        })?;
    let (to_listener, from_dialer) = queue(CHANNEL_DEPTH);
    let (to_dialer, from_listener) = queue(CHANNEL_DEPTH);
    let (reply, answer) = oneshot::channel();
    tx.send(Offer {
        dialer_type: ours,
        from_dialer,
        to_dialer,
        reply,
    })
    .map_err(|_| io::Error::new(io::ErrorKind::ConnectionRefused, "inproc listener closed"))?;
    let listener_type = answer
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::ConnectionRefused, "inproc listener closed"))?;
    Ok(Dialed {
        reader: from_listener,
        writer: InprocWriter(Some(to_listener)),
        listener_type,
    })
}

/// Receiving half of an inproc pipe. The socket's maximum receive size applies here too
/// (NNG ignores it on inproc; we keep one rule for every transport).
pub(crate) struct InprocReader {
    rx: QueueReceiver,
    max: MaxRecvSize,
}

impl InprocReader {
    pub(crate) fn new(rx: QueueReceiver, max: MaxRecvSize) -> Self {
        Self { rx, max }
    }

    fn check(&self, b: &Bytes) -> Result<(), PipeEnd> {
        match self.max {
            MaxRecvSize::Limited(max) if b.len() as u64 > max => {
                Err(PipeEnd::Frame(FrameError::Oversize {
                    len: b.len() as u64,
                    max,
                }))
            }
            _ => Ok(()),
        }
    }
}

impl MsgRead for InprocReader {
    fn read<'a>(&'a mut self, out: &'a mut Vec<Bytes>) -> BoxFuture<'a, Result<(), PipeEnd>> {
        Box::pin(async move {
            let from = out.len();
            self.rx.recv_all(out).await.map_err(|_| PipeEnd::Eof)?;
            // Messages before an oversize one are delivered; it and the rest are not.
            for i in from..out.len() {
                if let Err(e) = self.check(&out[i]) {
                    out.truncate(i);
                    return Err(e);
                }
            }
            Ok(())
        })
    }
}

/// Sending half of an inproc pipe.
pub(crate) struct InprocWriter(pub(crate) Option<QueueSender>);

impl MsgWrite for InprocWriter {
    fn write<'a>(
        &'a mut self,
        batch: &'a mut VecDeque<Message>,
    ) -> BoxFuture<'a, Result<(), PipeEnd>> {
        Box::pin(async move {
            let tx = self.0.as_mut().ok_or(PipeEnd::Eof)?;
            tx.send_all(batch).await.map_err(|_| PipeEnd::Eof)
        })
    }

    fn close(&mut self) -> BoxFuture<'_, ()> {
        self.0 = None;
        Box::pin(async {})
    }
}
