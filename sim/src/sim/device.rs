//! Devices: a host's process forwarding between two of its raw sockets with sp-proto's
//! [`Device`], pumped whenever either socket is drained.

use sp_proto::device::Device;
use sp_proto::{Protocol, SocketType};

use super::Sim;
use crate::def::HostDef;
use crate::trace::What;
use crate::SimError;

/// A host's running device: the indices of its two sockets and the forwarder.
pub(super) struct HostDevice {
    a: usize,
    b: usize,
    device: Device,
    refused_seen: u64,
}

impl HostDevice {
    /// The device `def` declares, checked against its sockets: both exist, are raw and are
    /// peers of one protocol family. `None` when the host runs no device.
    pub(super) fn build(def: &HostDef) -> Result<Option<Self>, SimError> {
        let Some(d) = &def.device else {
            return Ok(None);
        };
        let find = |name: &str| -> Result<(usize, SocketType), SimError> {
            let i = def
                .sockets
                .iter()
                .position(|s| s.name == name)
                .ok_or_else(|| {
                    SimError::Config(format!("{}: device socket {name:?} not found", def.name))
                })?;
            let s = &def.sockets[i];
            if !s.raw {
                return Err(SimError::Config(format!(
                    "{}: device socket {name:?} is not raw",
                    def.name
                )));
            }
            Ok((i, s.socket_type()?))
        };
        let (a, ta) = find(&d.a)?;
        let (b, tb) = find(&d.b)?;
        if a == b {
            return Err(SimError::Config(format!(
                "{}: a device needs two different sockets",
                def.name
            )));
        }
        let device = Device::new(ta, tb)
            .map_err(|e| SimError::Config(format!("{}: device: {e}", def.name)))?;
        Ok(Some(Self {
            a,
            b,
            device,
            refused_seen: 0,
        }))
    }

    /// The other socket of the device, when socket `s` is one of its two.
    pub(super) fn partner(&self, s: usize) -> Option<usize> {
        if s == self.a {
            Some(self.b)
        } else if s == self.b {
            Some(self.a)
        } else {
            None
        }
    }
}

impl Sim {
    /// The device of host `h` moves what socket `s` (drained, one of its two) and its
    /// partner have ready; returns whether anything moved. When the partner still has
    /// outputs to drain it is marked and pumps once drained (the drain rule: no input
    /// before the outputs are taken). Messages a socket refuses are counted as drops
    /// with reason `device_refused`.
    pub(super) fn pump_device(&mut self, h: usize, s: usize, other: usize) -> bool {
        let now = self.now;
        let host = &mut self.hosts[h];
        let Some(dev) = host.device.as_mut() else {
            return false;
        };
        if !host.sockets[other].proto.is_drained() {
            self.dirty.insert((h, other));
            return false;
        }
        let (lo, hi) = host.sockets.split_at_mut(dev.b.max(dev.a));
        let (a, b) = if dev.a < dev.b {
            (&mut lo[dev.a], &mut hi[0])
        } else {
            (&mut hi[0], &mut lo[dev.b])
        };
        // Cannot fail: `build` checked both sockets' types and raw mode.
        let moved = dev
            .device
            .pump(now, &mut a.proto, &mut b.proto)
            .unwrap_or(0);
        let refused = dev.device.refused() - dev.refused_seen;
        dev.refused_seen = dev.device.refused();
        if refused > 0 {
            self.note(
                h,
                Some(s),
                What::Drop {
                    reason: "device_refused".into(),
                    count: refused,
                },
            );
        }
        if moved > 0 {
            self.dirty.insert((h, other));
        }
        moved > 0
    }
}
