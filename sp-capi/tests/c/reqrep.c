#include "common.h"
#include <nanomsg/reqrep.h>

static void round_trip (const char *addr) {
    int rep = nn_socket (AF_SP, NN_REP);
    int req = nn_socket (AF_SP, NN_REQ);
    CHECK (rep >= 0 && req >= 0);
    set_int (rep, NN_SOL_SOCKET, NN_RCVTIMEO, 5000);
    set_int (req, NN_SOL_SOCKET, NN_RCVTIMEO, 5000);
    CHECK (nn_bind (rep, addr) >= 0);
    CHECK (nn_connect (req, addr) >= 0);

    /* EFSM: REQ recv with no request, REP send with no request. */
    char buf[16];
    FAILS_WITH (nn_recv (req, buf, sizeof buf, 0), EFSM);
    FAILS_WITH (nn_send (rep, "x", 1, 0), EFSM);

    for (int i = 0; i < 3; i++) {
        CHECK (nn_send (req, "ping", 4, 0) == 4);
        expect_str (rep, "ping");
        CHECK (nn_send (rep, "pong", 4, 0) == 4);
        expect_str (req, "pong");
    }
    CHECK (nn_close (req) == 0);
    CHECK (nn_close (rep) == 0);
}

int main (void) {
    char addr[64];
    tcp_addr (addr, sizeof addr, 0);
    round_trip (addr);
    round_trip ("inproc://capi-reqrep");
    report ("reqrep");
    return 0;
}
