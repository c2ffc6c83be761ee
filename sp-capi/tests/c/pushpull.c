#include "common.h"
#include <nanomsg/pipeline.h>
#include <nanomsg/reqrep.h>

int main (void) {
    char addr[64];
    tcp_addr (addr, sizeof addr, 1);
    int pull = nn_socket (AF_SP, NN_PULL);
    int push = nn_socket (AF_SP, NN_PUSH);
    CHECK (pull >= 0 && push >= 0);
    set_int (pull, NN_SOL_SOCKET, NN_RCVTIMEO, 5000);
    CHECK (nn_bind (pull, addr) >= 0);
    CHECK (nn_connect (push, addr) >= 0);
    for (int i = 0; i < 10; i++) {
        char m[16];
        int n = snprintf (m, sizeof m, "msg %d", i);
        CHECK (nn_send (push, m, n, 0) == n);
    }
    for (int i = 0; i < 10; i++) {
        char m[16];
        snprintf (m, sizeof m, "msg %d", i);
        expect_str (pull, m);
    }
    /* Nothing left: EAGAIN with NN_DONTWAIT. */
    char buf[16];
    FAILS_WITH (nn_recv (pull, buf, sizeof buf, NN_DONTWAIT), EAGAIN);
    /* A short buffer gets a truncated copy and the full length. */
    CHECK (nn_send (push, "0123456789", 10, 0) == 10);
    CHECK (nn_recv (pull, buf, 4, 0) == 10);
    CHECK (memcmp (buf, "0123", 4) == 0);
    /* Statistics: 11 messages of 6*10+10 bytes each way, one connection. */
    printf ("sent %llu received %llu bytes %llu/%llu connections %llu/%llu\n",
        (unsigned long long) nn_get_statistic (push, NN_STAT_MESSAGES_SENT),
        (unsigned long long) nn_get_statistic (pull, NN_STAT_MESSAGES_RECEIVED),
        (unsigned long long) nn_get_statistic (push, NN_STAT_BYTES_SENT),
        (unsigned long long) nn_get_statistic (pull, NN_STAT_BYTES_RECEIVED),
        (unsigned long long) nn_get_statistic (push, NN_STAT_ESTABLISHED_CONNECTIONS),
        (unsigned long long) nn_get_statistic (pull, NN_STAT_ACCEPTED_CONNECTIONS));
    errno = 0;
    uint64_t bad = nn_get_statistic (push, 9999);
    printf ("unknown statistic: %llu errno %d\n", (unsigned long long) bad, nn_errno ());
    printf ("current connections %llu/%llu\n",
        (unsigned long long) nn_get_statistic (push, NN_STAT_CURRENT_CONNECTIONS),
        (unsigned long long) nn_get_statistic (pull, NN_STAT_CURRENT_CONNECTIONS));
    /* A peer of the wrong type (a REQ dialing the PULL): each refused handshake counts
       as a broken connection on both sides, none as dropped. Waits (at most 5 s) for
       the first. */
    int req = nn_socket (AF_SP, NN_REQ);
    char wrong[64];
    tcp_addr (wrong, sizeof wrong, 2);
    CHECK (nn_bind (pull, wrong) >= 0);
    CHECK (nn_connect (req, wrong) >= 0);
    for (int i = 0; i < 500 && (nn_get_statistic (req, NN_STAT_BROKEN_CONNECTIONS) == 0
            || nn_get_statistic (pull, NN_STAT_BROKEN_CONNECTIONS) == 0); i++)
        usleep (10 * 1000);
    printf ("wrong peer: broken %d/%d dropped %llu/%llu current %llu\n",
        nn_get_statistic (req, NN_STAT_BROKEN_CONNECTIONS) > 0,
        nn_get_statistic (pull, NN_STAT_BROKEN_CONNECTIONS) > 0,
        (unsigned long long) nn_get_statistic (req, NN_STAT_DROPPED_CONNECTIONS),
        (unsigned long long) nn_get_statistic (pull, NN_STAT_DROPPED_CONNECTIONS),
        (unsigned long long) nn_get_statistic (req, NN_STAT_CURRENT_CONNECTIONS));
    CHECK (nn_close (req) == 0);
    /* Wrong direction. */
    FAILS_WITH (nn_send (pull, "x", 1, 0), ENOTSUP);
    FAILS_WITH (nn_recv (push, buf, sizeof buf, 0), ENOTSUP);
    CHECK (nn_close (push) == 0);
    CHECK (nn_close (pull) == 0);
    report ("pushpull");
    return 0;
}
