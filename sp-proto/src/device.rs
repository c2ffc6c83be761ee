//! Devices (forwarders) between raw sockets (placeholder until the implementation lands).
