#include "common.h"
#include <nanomsg/reqrep.h>

/* NN_IPV4ONLY: IPv6 literals refused while it is 1 (the default), allowed at 0, and a
   wildcard listener at 0 takes both IPv4 and IPv6 connections. */

static int port (int k) { return tcp_port (100 + k); }

/* A REQ with NN_IPV4ONLY at `ipv4only` asks `rep` through `connect_to`. */
static void round_trip (int rep, const char *connect_to, int ipv4only) {
    int req = nn_socket (AF_SP, NN_REQ);
    CHECK (req >= 0);
    set_int (req, NN_SOL_SOCKET, NN_IPV4ONLY, ipv4only);
    set_int (req, NN_SOL_SOCKET, NN_RCVTIMEO, 5000);
    CHECK (nn_connect (req, connect_to) >= 0);
    CHECK (nn_send (req, "q", 1, 0) == 1);
    expect_str (rep, "q");
    CHECK (nn_send (rep, "a", 1, 0) == 1);
    expect_str (req, "a");
    CHECK (nn_close (req) == 0);
}

int main (void) {
    char a[64], b[64];
    int rep = nn_socket (AF_SP, NN_REP);
    CHECK (rep >= 0);
    set_int (rep, NN_SOL_SOCKET, NN_RCVTIMEO, 5000);
    int v = -1;
    size_t sz = sizeof v;
    CHECK (nn_getsockopt (rep, NN_SOL_SOCKET, NN_IPV4ONLY, &v, &sz) == 0 && v == 1);

    /* IPv4 only: IPv6 literals are refused, tcp and ws alike. */
    snprintf (a, sizeof a, "tcp://[::1]:%d", port (0));
    FAILS_WITH (nn_bind (rep, a), ENODEV);
    FAILS_WITH (nn_connect (rep, a), EINVAL);
    snprintf (b, sizeof b, "ws://[::1]:%d", port (1));
    FAILS_WITH (nn_bind (rep, b), ENODEV);
    FAILS_WITH (nn_connect (rep, b), EINVAL);

    /* Both families: an IPv6 literal works. */
    set_int (rep, NN_SOL_SOCKET, NN_IPV4ONLY, 0);
    int ep = nn_bind (rep, a);
    CHECK (ep >= 0);
    round_trip (rep, a, 0);
    CHECK (nn_shutdown (rep, ep) == 0);

    /* Both families: a wildcard listener answers over IPv4 and over IPv6. */
    snprintf (a, sizeof a, "tcp://*:%d", port (2));
    CHECK (nn_bind (rep, a) >= 0);
    snprintf (a, sizeof a, "tcp://127.0.0.1:%d", port (2));
    round_trip (rep, a, 1);
    /* Differs on purpose: libnanomsg 1.1.5 aborts (an assertion in usock_posix.inc) when
       a socket with NN_IPV4ONLY at 0 connects to an IPv4 literal; ours connects. */
    if (is_sprs ())
        round_trip (rep, a, 0);
    snprintf (a, sizeof a, "tcp://[::1]:%d", port (2));
    round_trip (rep, a, 0);

    CHECK (nn_close (rep) == 0);
    report ("ipv4only");
    return 0;
}
