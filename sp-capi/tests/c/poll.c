#include "common.h"
#include <pthread.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/reqrep.h>

/* nn_poll: timeout 0 returns at once, a timeout that expires, NN_POLLOUT with a peer,
   NN_POLLIN without consuming the message, a poll woken by a message from another
   thread, several sockets at once, and its errors. */

static int push, pull;
static int started[2];

/* Waits in nn_poll (up to 10 s) for the PULL to become readable. */
static void *poller (void *arg) {
    (void) arg;
    struct nn_pollfd pfd = { pull, NN_POLLIN, 0 };
    CHECK (write (started[1], "x", 1) == 1);
    double t0 = now ();
    int rc = nn_poll (&pfd, 1, 10000);
    CHECK (now () - t0 < 5.0);
    return (void *) (long) (rc == 1 && pfd.revents == NN_POLLIN);
}

int main (void) {
    pull = nn_socket (AF_SP, NN_PULL);
    push = nn_socket (AF_SP, NN_PUSH);
    CHECK (pull >= 0 && push >= 0);
    CHECK (nn_bind (pull, "inproc://capi-poll") >= 0);
    CHECK (nn_connect (push, "inproc://capi-poll") >= 0);

    /* Nothing to read: timeout 0 returns at once, 100 ms expires. */
    struct nn_pollfd pfd[2] = { { pull, NN_POLLIN, 0 }, { push, NN_POLLOUT, 0 } };
    double t0 = now ();
    CHECK (nn_poll (pfd, 1, 0) == 0);
    CHECK (now () - t0 < 0.05);
    t0 = now ();
    CHECK (nn_poll (pfd, 1, 100) == 0);
    double dt = now () - t0;
    CHECK (dt > 0.08 && dt < 1.0);
    CHECK (pfd[0].revents == 0);

    /* PUSH with a peer can send. */
    CHECK (nn_poll (&pfd[1], 1, 1000) == 1);
    CHECK (pfd[1].revents == NN_POLLOUT);

    /* A message makes PULL readable, and nn_recv still returns it. */
    CHECK (nn_send (push, "polled", 6, 0) == 6);
    CHECK (nn_poll (pfd, 1, 1000) == 1);
    CHECK (pfd[0].revents == NN_POLLIN);
    CHECK (nn_poll (pfd, 2, 1000) == 2);
    CHECK (pfd[0].revents == NN_POLLIN && pfd[1].revents == NN_POLLOUT);
    CHECK (nn_poll (pfd, 1, 0) == 1); /* still readable: not consumed by polling */
    expect_str (pull, "polled");
    CHECK (nn_poll (pfd, 1, 0) == 0);

    /* A poll blocked in another thread wakes when a message arrives. */
    pthread_t t;
    CHECK (pipe (started) == 0);
    CHECK (pthread_create (&t, NULL, poller, NULL) == 0);
    char c;
    CHECK (read (started[0], &c, 1) == 1);
    CHECK (nn_send (push, "wake", 4, 0) == 4);
    void *woke;
    CHECK (pthread_join (t, &woke) == 0);
    CHECK (woke == (void *) 1L);
    expect_str (pull, "wake");

    /* Several sockets: only the REP with a request to answer is ready both ways. */
    int rep = nn_socket (AF_SP, NN_REP), req = nn_socket (AF_SP, NN_REQ);
    CHECK (nn_bind (rep, "inproc://capi-poll-rr") >= 0);
    CHECK (nn_connect (req, "inproc://capi-poll-rr") >= 0);
    struct nn_pollfd set[3] = {
        { pull, NN_POLLIN, 0 }, { rep, NN_POLLIN | NN_POLLOUT, 0 }, { req, NN_POLLIN, 0 } };
    CHECK (nn_poll (set, 3, 0) == 0);
    CHECK (nn_send (req, "q", 1, 0) == 1);
    CHECK (nn_poll (set, 3, 5000) == 1);
    CHECK (set[0].revents == 0 && set[1].revents == NN_POLLIN && set[2].revents == 0);
    expect_str (rep, "q");
    CHECK (nn_poll (set, 3, 0) == 1 && set[1].revents == NN_POLLOUT);
    CHECK (nn_send (rep, "r", 1, 0) == 1);
    CHECK (nn_poll (set, 3, 5000) == 1 && set[2].revents == NN_POLLIN);
    expect_str (req, "r");

    /* Errors: a way the socket type lacks, and no such socket. */
    struct nn_pollfd bad = { pull, NN_POLLOUT, 0 };
    FAILS_WITH (nn_poll (&bad, 1, 0), ENOPROTOOPT);
    bad.fd = 400;
    bad.events = NN_POLLIN;
    FAILS_WITH (nn_poll (&bad, 1, 0), EBADF);

    CHECK (nn_close (req) == 0 && nn_close (rep) == 0);
    CHECK (nn_close (push) == 0);
    CHECK (nn_close (pull) == 0);
    report ("poll");
    return 0;
}
