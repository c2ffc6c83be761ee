/* A signal caught while a call blocks. libnanomsg 1.1.5 ends a blocked nn_recv,
   nn_send and nn_poll with EINTR; on sp-rs only nn_poll does: a blocked nn_recv or
   nn_send keeps waiting until its timeout (docs/c-api.md, "What differs"). */
#include "common.h"
#include <signal.h>
#include <sys/time.h>
#include <nanomsg/pipeline.h>

static void on_alarm (int sig) { (void) sig; }

/* SIGALRM in 100 ms, caught by a handler installed without SA_RESTART. */
static void alarm_soon (void) {
    struct itimerval t = { { 0, 0 }, { 0, 100 * 1000 } };
    CHECK (setitimer (ITIMER_REAL, &t, NULL) == 0);
}

int main (void) {
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    CHECK (sigaction (SIGALRM, &sa, NULL) == 0);
    int want = is_sprs () ? ETIMEDOUT : EINTR;

    int pull = nn_socket (AF_SP, NN_PULL);
    CHECK (pull >= 0);
    set_int (pull, NN_SOL_SOCKET, NN_RCVTIMEO, 400);
    char buf[8];
    alarm_soon ();
    FAILS_WITH (nn_recv (pull, buf, sizeof buf, 0), want);

    int push = nn_socket (AF_SP, NN_PUSH);
    CHECK (push >= 0);
    set_int (push, NN_SOL_SOCKET, NN_SNDTIMEO, 400);
    alarm_soon ();
    FAILS_WITH (nn_send (push, "x", 1, 0), want);

    /* nn_poll: EINTR on both, well before its timeout. */
    struct nn_pollfd pfd = { pull, NN_POLLIN, 0 };
    double t0 = now ();
    alarm_soon ();
    FAILS_WITH (nn_poll (&pfd, 1, 5000), EINTR);
    CHECK (now () - t0 < 2.0);

    CHECK (nn_close (push) == 0);
    CHECK (nn_close (pull) == 0);
    report ("signals");
    return 0;
}
