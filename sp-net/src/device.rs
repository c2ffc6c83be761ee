//! Devices: forwarders between two raw sockets (nanomsg's `nn_device`, NNG's
//! `nng_device`), and the single-socket reflector for BUS.
//!
//! Headers pass through unchanged: the raw sockets themselves push and pop backtrace
//! entries and check TTLs (see `sp_proto::device` for the sans-IO equivalent).

use sp_proto::SocketType;
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::socket::Socket;

/// Why a device could not start.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// Both sockets must be raw.
    #[error("devices need raw sockets ({0} is cooked)")]
    NotRaw(SocketType),
    /// The two sockets must be each other's peers (REP/REQ, PUB/SUB, BUS/BUS...).
    #[error("{a} and {b} cannot form a device (they must be each other's peer types)")]
    Mismatch {
        /// First socket's type.
        a: SocketType,
        /// Second socket's type.
        b: SocketType,
    },
    /// A reflector needs a protocol that is its own peer (BUS, PAIR).
    #[error("{0} cannot reflect into itself")]
    NotSelfPeer(SocketType),
}

async fn pump(from: Socket, to: Socket) -> Error {
    loop {
        let msg = match from.recv().await {
            Ok(m) => m,
            Err(e) => return e,
        };
        match to.send(msg).await {
            Ok(()) => {}
            // A header the target cannot route (reply to a vanished requester): the raw
            // socket already counted it; keep forwarding.
            Err(Error::BadHeader) => {}
            Err(e) => return e,
        }
    }
}

/// A running device. Dropping the handle leaves it running; [`stop`](Self::stop) ends
/// it, and it ends by itself when either socket closes.
#[derive(Debug)]
pub struct Device {
    tasks: Vec<JoinHandle<Error>>,
}

impl Device {
    /// Stops forwarding.
    pub fn stop(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }

    /// Waits until the device ends (a socket closed) and returns why.
    pub async fn join(self) -> Error {
        let mut last = Error::Closed;
        for t in self.tasks {
            if let Ok(e) = t.await {
                last = e;
            }
        }
        last
    }
}

/// Forwards between two raw sockets whose types are each other's peers, in every
/// direction the types allow. The forwarding tasks run on the sockets' runtime, so this
/// may be called from any thread.
pub fn device(a: &Socket, b: &Socket) -> Result<Device, DeviceError> {
    let (ta, tb) = (a.socket_type(), b.socket_type());
    for (s, t) in [(a, ta), (b, tb)] {
        if !s.is_raw() {
            return Err(DeviceError::NotRaw(t));
        }
    }
    if ta.peer() != tb {
        return Err(DeviceError::Mismatch { a: ta, b: tb });
    }
    let mut tasks = Vec::new();
    if ta.can_recv() && tb.can_send() {
        tasks.push(a.runtime().spawn(pump(a.clone(), b.clone())));
    }
    if tb.can_recv() && ta.can_send() {
        tasks.push(a.runtime().spawn(pump(b.clone(), a.clone())));
    }
    Ok(Device { tasks })
}

/// Sends everything a raw socket receives back out of it (a BUS hub: raw BUS leaves out
/// the pipe each message came from).
pub fn reflector(s: &Socket) -> Result<Device, DeviceError> {
    let t = s.socket_type();
    if !s.is_raw() {
        return Err(DeviceError::NotRaw(t));
    }
    if t.peer() != t {
        return Err(DeviceError::NotSelfPeer(t));
    }
    Ok(Device {
        tasks: vec![s.runtime().spawn(pump(s.clone(), s.clone()))],
    })
}
