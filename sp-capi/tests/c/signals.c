/* A signal caught while a call blocks ends it with EINTR, on both libraries: a blocked
   nn_recv, nn_send, nn_recvmsg, nn_sendmsg and nn_poll, whether the handler was
   installed with SA_RESTART or not (libnanomsg waits in poll(2), which the kernel never
   restarts), in the main thread and in another thread. An interrupted call takes
   nothing and sends nothing: the socket works on, and an NN_MSG message whose send was
   interrupted still belongs to the caller. */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <nanomsg/pipeline.h>

static atomic_int caught;

static void on_alarm (int sig) { (void) sig; atomic_fetch_add (&caught, 1); }

static void handle_alarm (int flags) {
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = flags;
    CHECK (sigaction (SIGALRM, &sa, NULL) == 0);
}

/* Sends SIGALRM to `target` every 20 ms until `done`: the call under test may not be
   blocked yet when the first one comes (nothing tells another thread that it blocks),
   so the signal is repeated. A call still not ended after 5 s fails the program. */
struct pinger {
    pthread_t target, thread;
    atomic_int done;
};

static void *ping (void *arg) {
    struct pinger *p = arg;
    for (int i = 0; i < 250; i++) {
        if (atomic_load (&p->done))
            return NULL;
        CHECK (pthread_kill (p->target, SIGALRM) == 0);
        usleep (20 * 1000);
    }
    fprintf (stderr, "signals: a blocked call ignored 250 signals\n");
    _exit (1);
}

static void start_pinging (struct pinger *p, pthread_t target) {
    p->target = target;
    atomic_store (&p->done, 0);
    CHECK (pthread_create (&p->thread, NULL, ping, p) == 0);
}

static void stop_pinging (struct pinger *p) {
    atomic_store (&p->done, 1);
    CHECK (pthread_join (p->thread, NULL) == 0);
}

/* The blocked calls, each interrupted in the calling thread. Timeouts are forever
   (the pinger bounds the wait) or 10 s. */
static void interrupted_calls (int pull, int push) {
    struct pinger p;
    char buf[8];
    int before = atomic_load (&caught);

    start_pinging (&p, pthread_self ());
    FAILS_WITH (nn_recv (pull, buf, sizeof buf, 0), EINTR);
    stop_pinging (&p);

    start_pinging (&p, pthread_self ());
    FAILS_WITH (nn_send (push, "x", 1, 0), EINTR);
    stop_pinging (&p);

    struct nn_iovec iov = { buf, sizeof buf };
    struct nn_msghdr hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.msg_iov = &iov;
    hdr.msg_iovlen = 1;
    start_pinging (&p, pthread_self ());
    FAILS_WITH (nn_recvmsg (pull, &hdr, 0), EINTR);
    stop_pinging (&p);

    start_pinging (&p, pthread_self ());
    FAILS_WITH (nn_sendmsg (push, &hdr, 0), EINTR);
    stop_pinging (&p);

    /* An interrupted zero-copy send leaves the message with the caller. */
    void *m = nn_allocmsg (3, 0);
    CHECK (m != NULL);
    memcpy (m, "abc", 3);
    start_pinging (&p, pthread_self ());
    FAILS_WITH (nn_send (push, &m, NN_MSG, 0), EINTR);
    stop_pinging (&p);
    CHECK (nn_freemsg (m) == 0);

    struct nn_pollfd pfd = { pull, NN_POLLIN, 0 };
    start_pinging (&p, pthread_self ());
    FAILS_WITH (nn_poll (&pfd, 1, 10000), EINTR);
    stop_pinging (&p);

    CHECK (atomic_load (&caught) > before);
}

static int thread_sock, thread_rc, thread_errno;

static void *blocked_thread (void *arg) {
    (void) arg;
    char buf[8];
    thread_rc = nn_recv (thread_sock, buf, sizeof buf, 0);
    thread_errno = nn_errno ();
    return NULL;
}

int main (void) {
    int pull = nn_socket (AF_SP, NN_PULL);
    CHECK (pull >= 0);
    int push = nn_socket (AF_SP, NN_PUSH);
    CHECK (push >= 0);

    /* Without SA_RESTART, no timeouts. */
    handle_alarm (0);
    interrupted_calls (pull, push);

    /* With SA_RESTART, 10 s timeouts: still EINTR, long before them. */
    handle_alarm (SA_RESTART);
    set_int (pull, NN_SOL_SOCKET, NN_RCVTIMEO, 10000);
    set_int (push, NN_SOL_SOCKET, NN_SNDTIMEO, 10000);
    double t0 = now ();
    interrupted_calls (pull, push);
    CHECK (now () - t0 < 8.0);

    /* A receive blocked in another thread, interrupted there. */
    thread_sock = pull;
    struct pinger p;
    pthread_t t;
    CHECK (pthread_create (&t, NULL, blocked_thread, NULL) == 0);
    start_pinging (&p, t);
    CHECK (pthread_join (t, NULL) == 0);
    stop_pinging (&p);
    CHECK (thread_rc == -1 && thread_errno == EINTR);

    /* Timeouts without signals are still ETIMEDOUT. */
    set_int (pull, NN_SOL_SOCKET, NN_RCVTIMEO, 100);
    char buf[8];
    t0 = now ();
    FAILS_WITH (nn_recv (pull, buf, sizeof buf, 0), ETIMEDOUT);
    CHECK (now () - t0 >= 0.09);

    /* Nothing was taken or sent by the interrupted calls: the pair works on. */
    CHECK (nn_bind (pull, "inproc://signals") >= 0);
    CHECK (nn_connect (push, "inproc://signals") >= 0);
    CHECK (nn_send (push, "after", 5, 0) == 5);
    expect_str (pull, "after");
    FAILS_WITH (nn_recv (pull, buf, sizeof buf, NN_DONTWAIT), EAGAIN);

    CHECK (nn_close (push) == 0);
    CHECK (nn_close (pull) == 0);
    report ("signals");
    return 0;
}
