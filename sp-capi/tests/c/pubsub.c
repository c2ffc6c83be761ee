#include "common.h"
#include <nanomsg/pubsub.h>

int main (void) {
    char addr[64];
    tcp_addr (addr, sizeof addr, 2);
    int pub = nn_socket (AF_SP, NN_PUB);
    int sub = nn_socket (AF_SP, NN_SUB);
    CHECK (pub >= 0 && sub >= 0);
    set_int (sub, NN_SOL_SOCKET, NN_RCVTIMEO, 5000);
    CHECK (nn_setsockopt (sub, NN_SUB, NN_SUB_SUBSCRIBE, "a", 1) == 0);
    CHECK (nn_setsockopt (sub, NN_SUB, NN_SUB_SUBSCRIBE, "zz", 2) == 0);
    CHECK (nn_setsockopt (sub, NN_SUB, NN_SUB_UNSUBSCRIBE, "zz", 2) == 0);
    CHECK (nn_bind (pub, addr) >= 0);
    CHECK (nn_connect (sub, addr) >= 0);
    usleep (300 * 1000); /* let the connection come up: PUB drops with no subscriber */
    CHECK (nn_send (pub, "a1", 2, 0) == 2);
    CHECK (nn_send (pub, "b1", 2, 0) == 2);
    CHECK (nn_send (pub, "zz", 2, 0) == 2);
    CHECK (nn_send (pub, "a2", 2, 0) == 2);
    expect_str (sub, "a1");
    expect_str (sub, "a2");
    usleep (100 * 1000);
    char buf[16];
    FAILS_WITH (nn_recv (sub, buf, sizeof buf, NN_DONTWAIT), EAGAIN);
    /* Subscribing is a SUB option: ENOPROTOOPT elsewhere. */
    FAILS_WITH (nn_setsockopt (pub, NN_SUB, NN_SUB_SUBSCRIBE, "a", 1), ENOPROTOOPT);
    FAILS_WITH (nn_send (sub, "x", 1, 0), ENOTSUP);
    if (is_sprs ()) {
        /* libnanomsg 1.1.5 crashes (SIGSEGV) unsubscribing a topic never subscribed. */
        FAILS_WITH (nn_setsockopt (sub, NN_SUB, NN_SUB_UNSUBSCRIBE, "never", 5), EINVAL);
    }
    CHECK (nn_close (sub) == 0);
    CHECK (nn_close (pub) == 0);
    report ("pubsub");
    return 0;
}
