#include "common.h"
#include <sys/time.h>
#include <nanomsg/pipeline.h>

static double now (void) {
    struct timeval tv;
    gettimeofday (&tv, NULL);
    return tv.tv_sec + tv.tv_usec / 1e6;
}

int main (void) {
    int pull = nn_socket (AF_SP, NN_PULL);
    int push = nn_socket (AF_SP, NN_PUSH);
    CHECK (pull >= 0 && push >= 0);
    CHECK (nn_bind (pull, "inproc://capi-poll") >= 0);
    CHECK (nn_connect (push, "inproc://capi-poll") >= 0);

    /* Nothing to read: times out. */
    struct nn_pollfd pfd[2] = { { pull, NN_POLLIN, 0 }, { push, NN_POLLOUT, 0 } };
    double t0 = now ();
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

    CHECK (nn_close (push) == 0);
    CHECK (nn_close (pull) == 0);
    report ("poll");
    return 0;
}
