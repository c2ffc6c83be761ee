#include "common.h"
#include <poll.h>
#include <pthread.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/reqrep.h>
#include <nanomsg/survey.h>

/* NN_RCVFD and NN_SNDFD in a plain poll(2) loop, as nanocat and event-loop integrations
   use them: readable exactly while a receive (send) would not wait, level-triggered. */

static int get_fd (int s, int opt) {
    int fd = -1;
    size_t sz = sizeof fd;
    CHECK (nn_getsockopt (s, NN_SOL_SOCKET, opt, &fd, &sz) == 0);
    CHECK (sz == sizeof fd && fd >= 0);
    return fd;
}

/* How many of `n` descriptors poll(2) finds readable within `ms`; marks them. */
static int ready (struct pollfd *p, int n, int ms) {
    for (int i = 0; i < n; i++) {
        p[i].events = POLLIN;
        p[i].revents = 0;
    }
    int rc = poll (p, n, ms);
    CHECK (rc >= 0);
    return rc;
}

static int readable (int fd, int ms) {
    struct pollfd p = { fd, POLLIN, 0 };
    return ready (&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static int wake_pipe[2];
static int pull_fd;

/* Blocks in poll(2) on a PULL's NN_RCVFD until the main thread sends to it. */
static void *poller (void *arg) {
    (void) arg;
    CHECK (write (wake_pipe[1], "x", 1) == 1);
    return (void *) (long) readable (pull_fd, 10000);
}

int main (void) {
    char tcp[64], ipc[64];
    tcp_addr (tcp, sizeof tcp, 11);
    snprintf (ipc, sizeof ipc, "ipc:///tmp/capi-pollfd-%d.ipc", (int) getpid ());
    const char *addrs[3] = { "inproc://capi-pollfd", ipc, tcp };
    int pull[3], push[3];
    struct pollfd p[3];
    for (int i = 0; i < 3; i++) {
        pull[i] = nn_socket (AF_SP, NN_PULL);
        push[i] = nn_socket (AF_SP, NN_PUSH);
        CHECK (pull[i] >= 0 && push[i] >= 0);
        CHECK (nn_bind (pull[i], addrs[i]) >= 0);
        CHECK (nn_connect (push[i], addrs[i]) >= 0);
        p[i].fd = get_fd (pull[i], NN_RCVFD);
        CHECK (get_fd (pull[i], NN_RCVFD) == p[i].fd); /* the same descriptor each time */
        /* Each way exists only where the socket type has it. */
        int fd;
        size_t sz = sizeof fd;
        FAILS_WITH (nn_getsockopt (pull[i], NN_SOL_SOCKET, NN_SNDFD, &fd, &sz), ENOPROTOOPT);
        FAILS_WITH (nn_getsockopt (push[i], NN_SOL_SOCKET, NN_RCVFD, &fd, &sz), ENOPROTOOPT);
        /* A PUSH can send once its peer is there. */
        CHECK (readable (get_fd (push[i], NN_SNDFD), 5000));
    }

    /* Nothing to receive anywhere. */
    CHECK (ready (p, 3, 0) == 0);

    /* One message to the second socket: only its descriptor becomes readable, and it
       stays readable (level-triggered) until the message is taken. */
    CHECK (nn_send (push[1], "b", 1, 0) == 1);
    CHECK (ready (p, 3, 5000) == 1);
    CHECK (p[1].revents & POLLIN);
    CHECK (ready (p, 3, 0) == 1 && (p[1].revents & POLLIN));
    expect_str (pull[1], "b");
    CHECK (ready (p, 3, 0) == 0);

    /* Two messages over TCP: readable after the first is taken, not after the second. */
    CHECK (nn_send (push[2], "c1", 2, 0) == 2);
    CHECK (nn_send (push[2], "c2", 2, 0) == 2);
    CHECK (readable (p[2].fd, 5000));
    expect_str (pull[2], "c1");
    CHECK (readable (p[2].fd, 5000));
    expect_str (pull[2], "c2");
    CHECK (!readable (p[2].fd, 0));

    /* A thread blocked in poll(2) wakes when a message arrives. */
    pthread_t t;
    pull_fd = p[0].fd;
    CHECK (pipe (wake_pipe) == 0);
    CHECK (pthread_create (&t, NULL, poller, NULL) == 0);
    char c;
    CHECK (read (wake_pipe[0], &c, 1) == 1);
    CHECK (nn_send (push[0], "a", 1, 0) == 1);
    void *woke;
    CHECK (pthread_join (t, &woke) == 0);
    CHECK (woke == (void *) 1L);
    expect_str (pull[0], "a");

    /* REP can send only while it has a request to answer; REQ can always send. */
    int rep = nn_socket (AF_SP, NN_REP), req = nn_socket (AF_SP, NN_REQ);
    CHECK (nn_bind (rep, "inproc://capi-pollfd-rr") >= 0);
    CHECK (nn_connect (req, "inproc://capi-pollfd-rr") >= 0);
    int rep_in = get_fd (rep, NN_RCVFD), rep_out = get_fd (rep, NN_SNDFD);
    CHECK (readable (get_fd (req, NN_SNDFD), 0));
    CHECK (!readable (rep_out, 0) && !readable (rep_in, 0));
    CHECK (nn_send (req, "q", 1, 0) == 1);
    CHECK (readable (rep_in, 5000));
    CHECK (!readable (rep_out, 0));
    expect_str (rep, "q");
    CHECK (readable (rep_out, 0) && !readable (rep_in, 0));
    CHECK (nn_send (rep, "r", 1, 0) == 1);
    CHECK (!readable (rep_out, 0));
    CHECK (readable (get_fd (req, NN_RCVFD), 5000));
    expect_str (req, "r");

    /* A SURVEYOR's NN_RCVFD becomes readable when the deadline passes, and the receive
       then reports it. */
    int sur = nn_socket (AF_SP, NN_SURVEYOR);
    set_int (sur, NN_SURVEYOR, NN_SURVEYOR_DEADLINE, 100);
    int sur_in = get_fd (sur, NN_RCVFD);
    CHECK (nn_send (sur, "s", 1, 0) == 1);
    CHECK (!readable (sur_in, 0));
    CHECK (readable (sur_in, 5000));
    char buf[8];
    FAILS_WITH (nn_recv (sur, buf, sizeof buf, 0), ETIMEDOUT);
    /* Differs on purpose: libnanomsg keeps an idle SURVEYOR's NN_RCVFD readable although
       nn_recv fails at once with EFSM; ours is readable only while there is a response
       or a deadline to report. */
    CHECK (readable (sur_in, 0) == !is_sprs ());

    for (int i = 0; i < 3; i++) {
        CHECK (nn_close (push[i]) == 0);
        CHECK (nn_close (pull[i]) == 0);
    }
    CHECK (nn_close (sur) == 0 && nn_close (req) == 0 && nn_close (rep) == 0);
    report ("pollfd");
    return 0;
}
