//! Devices (wire-facts §14, §18): raw REP + raw REQ forwarders between a cooked REQ and a
//! cooked REP. Backtraces grow by one pipe id per hop, replies find their way back, the
//! hop limit counts across devices, and priorities and resends still work through them.

mod common;

use common::{answer_all, first_id};
use std::time::Duration;

use bytes::Bytes;
use sp_proto::device::{Device, DeviceError};
use sp_proto::proto::{Rep, Req};
use sp_proto::testing::{NodeId, TestNet};
use sp_proto::wire::backtrace::{id_header, push_word};
use sp_proto::{Config, DropReason, Event, Instant, PipeInfo, Priority, Protocol, SocketType};

/// One device: a raw REP facing the requesters and a raw REQ facing the repliers.
struct Hop {
    dev: Device,
    xrep: NodeId,
    xreq: NodeId,
}

impl Hop {
    fn new(net: &mut TestNet, seed: u64) -> Self {
        Self {
            dev: Device::new(SocketType::Rep, SocketType::Req).unwrap(),
            xrep: net.add(Rep::new(Config::raw(seed))),
            xreq: net.add(Req::new(Config::raw(seed + 1))),
        }
    }
}

/// Pumps every device and runs the network until nothing moves.
fn settle(net: &mut TestNet, hops: &mut [Hop]) {
    for _ in 0..10_000 {
        let mut moved = 0;
        for hop in hops.iter_mut() {
            let now = net.now();
            let (a, b) = net.proto_pair_mut(hop.xrep, hop.xreq);
            moved += hop.dev.pump(now, a, b).unwrap();
        }
        let delivered = net.run();
        if moved == 0 && delivered == 0 {
            return;
        }
    }
    panic!("devices did not settle");
}

/// REQ -> n devices in a row -> REP.
fn chain(n: usize) -> (TestNet, NodeId, NodeId, Vec<Hop>) {
    let mut net = TestNet::new();
    let req = net.add(Req::new(Config::cooked(1)));
    let mut hops = Vec::new();
    let mut upstream = req;
    for i in 0..n {
        let hop = Hop::new(&mut net, 100 + 2 * i as u64);
        net.connect(upstream, hop.xrep).unwrap();
        upstream = hop.xreq;
        hops.push(hop);
    }
    let rep = net.add(Rep::new(Config::cooked(2)));
    net.connect(upstream, rep).unwrap();
    (net, req, rep, hops)
}

fn cat(a: &[u8], b: &[u8]) -> Bytes {
    let mut v = a.to_vec();
    v.extend_from_slice(b);
    Bytes::from(v)
}

#[test]
fn one_hop_has_the_rfc_backtrace_shape_and_replies_return() {
    let (mut net, req, rep, mut hops) = chain(1);
    net.send(req, "Hello").unwrap();
    settle(&mut net, &mut hops);
    assert_eq!(net.recv(rep).unwrap().body, "Hello");
    net.send(rep, "World").unwrap();
    settle(&mut net, &mut hops);
    assert_eq!(net.recv(req).unwrap().body, "World");

    // Frames: REQ->xrep, xreq->REP, REP->xreq, xrep->REQ.
    let hop = &hops[0];
    let peer_word = net.pipes(hop.xrep)[0].get();
    assert_eq!(
        peer_word & 0x8000_0000,
        0,
        "pushed pipe ids have bit 31 clear"
    );
    let id = id_header(first_id(1));
    let stacked = push_word(peer_word, &id); // [0|pipe] [1|id], like 00 00 01 2b 80 00 03 37
    let t: Vec<(NodeId, NodeId, Bytes)> = net
        .trace()
        .iter()
        .map(|e| (e.from, e.to, e.payload.clone()))
        .collect();
    assert_eq!(
        t,
        [
            (req, hop.xrep, cat(&id, b"Hello")),
            (hop.xreq, rep, cat(&stacked, b"Hello")),
            (rep, hop.xreq, cat(&stacked, b"World")),
            (hop.xrep, req, cat(&id, b"World")),
        ]
    );
    assert_eq!(hops[0].dev.forwarded(), 2);
}

#[test]
fn hop_limit_counts_across_devices() {
    // Seven devices: the REP sees 8 words (7 pipe ids + the request id) and answers.
    let (mut net, req, rep, mut hops) = chain(7);
    net.send(req, "deep").unwrap();
    settle(&mut net, &mut hops);
    assert_eq!(answer_all(&mut net, rep), 1);
    settle(&mut net, &mut hops);
    assert_eq!(net.recv(req).unwrap().body, "re:deep");
    let to_rep = net.trace().iter().find(|e| e.to == rep).unwrap();
    assert_eq!(to_rep.payload.len(), 8 * 4 + 4);

    // Eight devices: 9 words reach the REP, which drops the request.
    let (mut net, req, rep, mut hops) = chain(8);
    net.send(req, "too deep").unwrap();
    settle(&mut net, &mut hops);
    assert_eq!(answer_all(&mut net, rep), 0);
    assert_eq!(net.proto(rep).stats().dropped(DropReason::TtlExceeded), 1);

    // Nine devices: the ninth device's raw REP already sees 9 words and drops it.
    let (mut net, req, rep, mut hops) = chain(9);
    net.send(req, "deeper").unwrap();
    settle(&mut net, &mut hops);
    let last = hops.last().unwrap().xrep;
    assert_eq!(net.proto(last).stats().dropped(DropReason::TtlExceeded), 1);
    assert_eq!(net.proto(rep).stats().msgs_in, 0);
}

#[test]
fn priorities_and_resends_work_through_devices() {
    let mut net = TestNet::new();
    let req = net.add(Req::new(Config::cooked(3)));
    let rep = net.add(Rep::new(Config::cooked(4)));
    let mut hops = vec![Hop::new(&mut net, 10), Hop::new(&mut net, 20)];
    let mut to_hop = Vec::new();
    for (i, hop) in hops.iter().enumerate() {
        let info = PipeInfo {
            send_priority: Priority::new(i as u8 + 1).unwrap(),
            ..PipeInfo::default()
        };
        let (p, _) = net
            .connect_with(req, info, hop.xrep, PipeInfo::default())
            .unwrap();
        to_hop.push(p);
        net.connect(hop.xreq, rep).unwrap();
    }
    let (near, far) = (hops[0].xrep, hops[1].xrep);

    // Resend timer: the REP ignores the first copy; the resend takes the same path.
    net.send(req, "job").unwrap();
    settle(&mut net, &mut hops);
    assert_eq!(net.recv(rep).unwrap().body, "job");
    net.advance(Duration::from_secs(60));
    settle(&mut net, &mut hops);
    assert_eq!(net.proto(req).stats().resends, 1);
    assert_eq!(answer_all(&mut net, rep), 1, "the resent copy arrives");
    settle(&mut net, &mut hops);
    assert_eq!(net.recv(req).unwrap().body, "re:job");
    assert_eq!(net.proto(far).stats().msgs_in, 0, "priority 1 path only");

    // Losing the priority-1 path resends at once through the priority-2 device.
    net.send(req, "job2").unwrap();
    settle(&mut net, &mut hops);
    net.disconnect(req, to_hop[0]);
    settle(&mut net, &mut hops);
    assert_eq!(
        net.take_events(req).last(),
        Some(&Event::RequestResent { pipe: to_hop[1] })
    );
    assert_eq!(answer_all(&mut net, rep), 2, "both copies reached the REP");
    settle(&mut net, &mut hops);
    assert_eq!(net.recv(req).unwrap().body, "re:job2");
    assert_eq!(
        net.proto(near).stats().dropped(DropReason::PipeGone),
        1,
        "the reply to the first copy had no way back"
    );
}

#[test]
fn device_holds_one_message_while_the_target_is_busy() {
    let mut net = TestNet::new();
    let req = net.add(Req::new(Config::cooked(5)));
    let rep = net.add(Rep::new(Config::cooked(6)));
    let mut hops = vec![Hop::new(&mut net, 30)];
    net.connect(req, hops[0].xrep).unwrap();
    net.send(req, "waits").unwrap();
    settle(&mut net, &mut hops);
    assert_eq!(hops[0].dev.held(), 1, "raw REQ has no pipe yet");
    assert_eq!(hops[0].dev.forwarded(), 0);
    net.connect(hops[0].xreq, rep).unwrap();
    settle(&mut net, &mut hops);
    assert_eq!(hops[0].dev.held(), 0);
    assert_eq!(answer_all(&mut net, rep), 1);
    settle(&mut net, &mut hops);
    assert_eq!(net.recv(req).unwrap().body, "re:waits");
}

#[test]
fn device_checks_its_sockets() {
    let now = Instant::ZERO;
    let mut dev = Device::new(SocketType::Rep, SocketType::Req).unwrap();
    let mut xrep = Rep::new(Config::raw(1));
    let mut xreq = Req::new(Config::raw(2));
    let mut cooked = Req::new(Config::cooked(3));
    assert_eq!(
        dev.pump(now, &mut xrep, &mut cooked),
        Err(DeviceError::NotRaw(SocketType::Req))
    );
    assert_eq!(
        dev.pump(now, &mut xreq, &mut xrep),
        Err(DeviceError::WrongSocket {
            expected: SocketType::Rep,
            got: SocketType::Req
        })
    );
    assert_eq!(dev.pump(now, &mut xrep, &mut xreq), Ok(0));
    assert_eq!(
        dev.pump_reflector(now, &mut xrep),
        Err(DeviceError::NotSelfPeer(SocketType::Rep))
    );
}

#[test]
fn bus_reflector_rebroadcasts_to_everyone_but_the_sender() {
    use sp_proto::proto::Bus;
    let mut net = TestNet::new();
    let hub = net.add(Bus::new(Config::raw(100)));
    let leaves: Vec<_> = (0..3)
        .map(|i| net.add(Bus::new(Config::cooked(i + 1))))
        .collect();
    for &l in &leaves {
        net.connect(hub, l).unwrap();
    }
    let mut reflector = Device::reflector(SocketType::Bus).unwrap();
    net.send(leaves[0], "from leaf 0").unwrap();
    let now = net.now();
    let moved = reflector.pump_reflector(now, net.proto_mut(hub)).unwrap();
    net.run();
    assert_eq!(moved, 1);
    assert!(
        net.recv_all(leaves[0]).is_empty(),
        "never echoed to its sender"
    );
    for &l in &leaves[1..] {
        assert_eq!(net.recv_all(l), ["from leaf 0"]);
    }
    assert_eq!(reflector.forwarded(), 1);
    // A reflector is only for self-peered protocols.
    assert!(Device::reflector(SocketType::Req).is_err());
}
