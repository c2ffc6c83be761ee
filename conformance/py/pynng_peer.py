"""One pynng socket (the NNG release bundled in the pynng wheel) for
conformance/tests/pynng.rs.

Usage: pynng_peer.py PROTOCOL listen|dial URL

PROTOCOL is req, rep or pair1. A listener prints `port N` (the port it bound, for a
URL with port 0) before anything else. Then, for each body of BODIES:
  req, pair1: send the body, receive, and check the answer is b"re:" + body;
  rep:        receive a request and answer b"re:" + request.
Prints `done` and exits 0 when every exchange passed; any failure raises (exit 1).
"""

import sys

import pynng
from pynng.options import _getopt_int

BODIES = [b"", b"m1", b"m2-" + b"x" * 70000]
TIMEOUT_MS = 10000


def main():
    protocol, role, url = sys.argv[1:4]
    kind = {"req": pynng.Req0, "rep": pynng.Rep0, "pair1": pynng.Pair1}[protocol]
    with kind(recv_timeout=TIMEOUT_MS, send_timeout=TIMEOUT_MS) as s:
        if role == "listen":
            listener = s.listen(url)
            # NNG's bound-port option (pynng 0.9.0's local_address.port comes back in
            # network byte order).
            print("port", _getopt_int(listener, "tcp-bound-port"), flush=True)
        else:
            s.dial(url, block=False)
        for body in BODIES:
            if protocol == "rep":
                # recv_msg: pynng 0.9.0's recv() fails on an empty message.
                request = s.recv_msg().bytes
                s.send(b"re:" + request)
            else:
                s.send(body)
                answer = s.recv_msg().bytes
                if answer != b"re:" + body:
                    raise SystemExit(f"sent {body[:16]!r}, got {answer[:16]!r}")
        print("done", flush=True)


if __name__ == "__main__":
    main()
