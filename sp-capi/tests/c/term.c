#include "blocked_recv.h"
#include <poll.h>
#include <nanomsg/pair.h>

int main (void) {
    int sock = nn_socket (AF_SP, NN_PAIR);
    CHECK (sock >= 0);
    CHECK (nn_bind (sock, "inproc://capi-term") >= 0);
    int rcvfd = -1;
    size_t sz = sizeof rcvfd;
    CHECK (nn_getsockopt (sock, NN_SOL_SOCKET, NN_RCVFD, &rcvfd, &sz) == 0);
    struct pollfd pfd = { rcvfd, POLLIN, 0 };
    CHECK (poll (&pfd, 1, 0) == 0);
    pthread_t t = start_blocked_recv (sock);
    nn_term ();
    join_blocked_recv (t);
    /* A program waiting on the receive descriptor wakes: ours keeps it open and makes
       it readable (nn_recv then fails at once); libnanomsg 1.1.5 closed the socket
       and with it the descriptor (POLLNVAL). */
    CHECK (poll (&pfd, 1, 0) == 1);
    CHECK (pfd.revents & (is_sprs () ? POLLIN : POLLNVAL));
    char buf[16];
    if (is_sprs ()) {
        /* As nanomsg's nn_term(3) documents: ETERM for blocked and later calls. */
        CHECK (blocked_result == -1 && blocked_errno == ETERM);
        FAILS_WITH (nn_recv (sock, buf, sizeof buf, 0), ETERM);
        FAILS_WITH (nn_send (sock, "x", 1, 0), ETERM);
        FAILS_WITH (nn_socket (AF_SP, NN_PAIR), ETERM);
        CHECK (nn_close (sock) == 0);
    } else {
        /* What libnanomsg 1.1.5 really does: nn_term closes every socket, so blocked
           and later calls on them fail with EBADF; only nn_socket says ETERM. */
        CHECK (blocked_result == -1 && blocked_errno == EBADF);
        FAILS_WITH (nn_recv (sock, buf, sizeof buf, 0), EBADF);
        FAILS_WITH (nn_send (sock, "x", 1, 0), EBADF);
        FAILS_WITH (nn_socket (AF_SP, NN_PAIR), ETERM);
        FAILS_WITH (nn_close (sock), EBADF);
    }
    report ("term");
    return 0;
}
