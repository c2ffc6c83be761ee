//! A tour of the sans-IO core: a PUSH with two PULL peers at different priorities, run on
//! the in-memory test network with virtual time, printing the frames on the wire.
//!
//! Run with `cargo run -p sp-proto --example tour`.

use sp_proto::proto::{Pull, Push};
use sp_proto::testing::TestNet;
use sp_proto::{wire, Config, PipeInfo, Priority, Protocol, SocketType};

fn main() {
    println!("SP connection headers:");
    for t in SocketType::ALL {
        println!(
            "  {:<10} {}",
            t.name(),
            sp_proto::fmt::hex(&wire::encode_header(t))
        );
    }

    let mut net = TestNet::new();
    let push = net.add(Push::new(Config::cooked(1)));
    let local = net.add(Pull::new(Config::cooked(2)));
    let remote = net.add(Pull::new(Config::cooked(3)));
    let hi = PipeInfo {
        send_priority: Priority::new(1).unwrap(),
        ..PipeInfo::default()
    };
    let lo = PipeInfo {
        send_priority: Priority::new(2).unwrap(),
        ..PipeInfo::default()
    };
    let (to_local, _) = net
        .connect_with(push, hi, local, PipeInfo::default())
        .unwrap();
    net.connect_with(push, lo, remote, PipeInfo::default())
        .unwrap();

    net.send(push, "job 1").unwrap();
    net.disconnect(push, to_local);
    net.send(push, "job 2").unwrap();
    println!("\nwire trace (node 0 = PUSH, 1 = local PULL at priority 1, 2 = remote at 2):");
    print!("{}", net.trace_text());
    println!(
        "local got {:?}, remote got {:?}",
        net.recv_all(local),
        net.recv_all(remote)
    );
    println!("PUSH stats: {:?}", net.proto(push).stats());
}
