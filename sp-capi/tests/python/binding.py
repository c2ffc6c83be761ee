"""The Python `nanomsg` binding (PyPI `nanomsg` 1.0) running on whichever
libnanomsg.so.5 the loader finds: REQ/REP and PUB/SUB over tcp and ipc, a SURVEY
service discovery (a surveyor with SURVEYOR_DEADLINE, respondents, recv until the
deadline's error), and a socket's RCVFD in select(). Run by sp-capi/tests/python_binding.rs
on our library and on the real one.

Usage: binding.py WRAPPER PORT, where WRAPPER is the binding's backend: `cpy` (its C
extension, linked against libnanomsg.so.5) or `ctypes` (which loads libnanomsg.so). The
last line printed is `binding ok (wrapper=..., lib=PATH)`, PATH being the libnanomsg the
process mapped."""

import errno
import os
import select
import sys
import time

import nanomsg_wrappers

nanomsg_wrappers.set_wrapper_choice(sys.argv[1])
import nanomsg  # noqa: E402  (the wrapper is chosen before the import)
from nanomsg import (  # noqa: E402
    PAIR, PUB, SUB, REQ, REP, SURVEYOR, RESPONDENT, SOL_SOCKET, RCVTIMEO,
    SUB_SUBSCRIBE, SURVEYOR_DEADLINE, NanoMsgAPIError, Socket)

PORT = int(sys.argv[2])
IPC = "ipc:///tmp/sp-capi-py-%d-%%s.ipc" % os.getpid()
# The ctypes backend (written for Python 2) passes addresses to C as they are, so on
# Python 3 they must be bytes; the C extension takes str.
ADDR = (lambda a: a.encode()) if sys.argv[1] == "ctypes" else (lambda a: a)


def check(cond, what):
    if not cond:
        sys.exit("check failed: " + what)


def timeout(sock, ms):
    sock.set_int_option(SOL_SOCKET, RCVTIMEO, ms)


def req_rep(addr):
    with Socket(REP) as rep, Socket(REQ) as req:
        rep.bind(addr)
        req.connect(addr)
        timeout(rep, 5000)
        timeout(req, 5000)
        for i in range(3):
            req.send(b"ping %d" % i)
            check(rep.recv() == b"ping %d" % i, "request %d on %r" % (i, addr))
            rep.send(b"pong %d" % i)
            check(req.recv() == b"pong %d" % i, "reply %d on %r" % (i, addr))


def pub_sub(addr):
    with Socket(PUB) as pub, Socket(SUB) as sub:
        pub.bind(addr)
        sub.connect(addr)
        sub.set_string_option(SUB, SUB_SUBSCRIBE, b"news.")
        timeout(sub, 100)
        # A subscriber sees only what is published after it is connected: publish
        # until one arrives (bounded), then check the filter on what follows.
        for _ in range(100):
            pub.send(b"news.hello")
            try:
                check(sub.recv() == b"news.hello", "first message on %r" % (addr,))
                break
            except NanoMsgAPIError as e:
                check(e.errno == errno.ETIMEDOUT, "recv error %r" % e)
        else:
            sys.exit("no message reached the subscriber on %r" % (addr,))
        timeout(sub, 5000)
        pub.send(b"sports.ignored")
        pub.send(b"news.last")
        got = sub.recv()
        while got == b"news.hello":  # late copies of the probe
            got = sub.recv()
        check(got == b"news.last", "filtered message on %r: %r" % (addr, got))


def service_discovery(addr):
    """The classic SURVEY service discovery: who is out there?"""
    deadline_ms = 500
    surveyor = Socket(SURVEYOR)
    surveyor.set_int_option(SURVEYOR, SURVEYOR_DEADLINE, deadline_ms)
    check(surveyor.get_int_option(SURVEYOR, SURVEYOR_DEADLINE) == deadline_ms,
          "deadline read back")
    surveyor.bind(addr)
    names = ["alpha", "beta", "gamma"]
    respondents = []
    for name in names:
        r = Socket(RESPONDENT)
        timeout(r, 5000)
        r.connect(addr)
        respondents.append((name, r))
    # Survey until every respondent is connected and answers (bounded).
    for _ in range(20):
        surveyor.send(b"who is there?")
        answers = []
        for name, r in respondents:
            try:
                timeout(r, 200)
                check(r.recv() == b"who is there?", "survey text")
                r.send(name.encode())
            except NanoMsgAPIError as e:
                check(e.errno == errno.ETIMEDOUT, "respondent error %r" % e)
        start = time.monotonic()
        while True:
            try:
                answers.append(surveyor.recv().decode())
            except NanoMsgAPIError as e:
                # The deadline ends the survey with ETIMEDOUT.
                check(e.errno == errno.ETIMEDOUT, "surveyor error %r" % e)
                break
        elapsed = time.monotonic() - start
        check(elapsed < 5.0, "the deadline ended the survey (%.2f s)" % elapsed)
        if sorted(answers) == names:
            break
    else:
        sys.exit("the survey never found every respondent: %r" % answers)
    # After the deadline's error, a receive without a new survey is EFSM.
    try:
        surveyor.recv()
        sys.exit("recv after the deadline succeeded")
    except NanoMsgAPIError as e:
        check(e.errno == nanomsg.EFSM, "recv after the deadline: %r" % e)
    for _, r in respondents:
        r.close()
    surveyor.close()


def recv_fd_in_select(addr):
    """NN_RCVFD in select(), as an event loop uses it."""
    with Socket(PAIR) as a, Socket(PAIR) as b:
        a.bind(addr)
        b.connect(addr)
        fd = a.recv_fd
        r, _, _ = select.select([fd], [], [], 0)
        check(r == [], "nothing to receive yet")
        b.send(b"selected")
        r, _, _ = select.select([fd], [], [], 5)
        check(r == [fd], "RCVFD readable once a message is there")
        check(a.recv(flags=nanomsg.DONTWAIT) == b"selected", "the message")
        r, _, _ = select.select([fd], [], [], 0)
        check(r == [], "RCVFD not readable once the message is taken")


def loaded_library():
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "libnanomsg" in line}
    check(len(paths) == 1, "one libnanomsg mapped: %r" % paths)
    return os.path.realpath(paths.pop())


req_rep(ADDR("tcp://127.0.0.1:%d" % PORT))
req_rep(ADDR(IPC % "reqrep"))
pub_sub(ADDR("tcp://127.0.0.1:%d" % (PORT + 1)))
pub_sub(ADDR(IPC % "pubsub"))
service_discovery(ADDR("tcp://127.0.0.1:%d" % (PORT + 2)))
recv_fd_in_select(ADDR(IPC % "pair"))
print("binding ok (wrapper=%s, lib=%s)" % (sys.argv[1], loaded_library()))
