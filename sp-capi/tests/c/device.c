#include "common.h"
#include <pthread.h>
#include <nanomsg/reqrep.h>
#include <nanomsg/bus.h>

/* nn_device between a raw REP (facing clients) and a raw REQ (facing workers): requests
   from a cooked REQ reach a cooked REP worker through it and the replies come back;
   and a loopback device (nn_device (s, -1)) on a raw BUS passes one client's messages
   to the others. nn_term ends both devices. */

static int front, back, worker;
static int device_rc, device_errno;
static int hub, loop_rc, loop_errno;

static void *run_device (void *arg) {
    (void) arg;
    device_rc = nn_device (front, back);
    device_errno = nn_errno ();
    return NULL;
}

static void *run_loopback (void *arg) {
    (void) arg;
    loop_rc = nn_device (hub, -1);
    loop_errno = nn_errno ();
    return NULL;
}

static void *run_worker (void *arg) {
    (void) arg;
    for (int i = 0; i < 3; i++) {
        char buf[64], out[80];
        int n = nn_recv (worker, buf, sizeof buf - 1, 0);
        CHECK (n > 0);
        buf[n] = 0;
        n = snprintf (out, sizeof out, "re:%s", buf);
        CHECK (nn_send (worker, out, n, 0) == n);
    }
    return NULL;
}

int main (void) {
    front = nn_socket (AF_SP_RAW, NN_REP);
    back = nn_socket (AF_SP_RAW, NN_REQ);
    worker = nn_socket (AF_SP, NN_REP);
    int client = nn_socket (AF_SP, NN_REQ);
    CHECK (front >= 0 && back >= 0 && worker >= 0 && client >= 0);
    set_int (worker, NN_SOL_SOCKET, NN_RCVTIMEO, 5000);
    set_int (client, NN_SOL_SOCKET, NN_RCVTIMEO, 5000);
    CHECK (nn_bind (front, "inproc://capi-front") >= 0);
    CHECK (nn_bind (back, "inproc://capi-back") >= 0);
    CHECK (nn_connect (worker, "inproc://capi-back") >= 0);
    CHECK (nn_connect (client, "inproc://capi-front") >= 0);

    /* Cooked sockets, or sockets that are not peers, cannot form a device. */
    FAILS_WITH (nn_device (client, worker), EINVAL);
    if (is_sprs ()) {
        /* libnanomsg only compares protocol families, and runs this one forever. */
        FAILS_WITH (nn_device (front, front), EINVAL);
    }

    pthread_t d, w;
    CHECK (pthread_create (&d, NULL, run_device, NULL) == 0);
    CHECK (pthread_create (&w, NULL, run_worker, NULL) == 0);
    const char *q[3] = { "one", "two", "three" };
    for (int i = 0; i < 3; i++) {
        char want[16];
        snprintf (want, sizeof want, "re:%s", q[i]);
        CHECK (nn_send (client, q[i], strlen (q[i]), 0) == (int) strlen (q[i]));
        expect_str (client, want);
    }
    CHECK (pthread_join (w, NULL) == 0);

    /* Loopback: a raw BUS hub; a message from one BUS client reaches the other. */
    hub = nn_socket (AF_SP_RAW, NN_BUS);
    int bus1 = nn_socket (AF_SP, NN_BUS);
    int bus2 = nn_socket (AF_SP, NN_BUS);
    CHECK (hub >= 0 && bus1 >= 0 && bus2 >= 0);
    FAILS_WITH (nn_device (client, -1), EINVAL);
    CHECK (nn_bind (hub, "inproc://capi-hub") >= 0);
    CHECK (nn_connect (bus1, "inproc://capi-hub") >= 0);
    CHECK (nn_connect (bus2, "inproc://capi-hub") >= 0);
    pthread_t l;
    CHECK (pthread_create (&l, NULL, run_loopback, NULL) == 0);
    set_int (bus2, NN_SOL_SOCKET, NN_RCVTIMEO, 100);
    char got[16];
    int n = -1;
    /* BUS drops a message while the connections are being made: try again, up to 5 s. */
    for (int i = 0; i < 50 && n < 0; i++) {
        CHECK (nn_send (bus1, "hub", 3, 0) == 3);
        n = nn_recv (bus2, got, sizeof got, 0);
        CHECK (n == 3 || nn_errno () == ETIMEDOUT);
    }
    CHECK (n == 3 && memcmp (got, "hub", 3) == 0);

    nn_term ();
    CHECK (pthread_join (d, NULL) == 0);
    CHECK (pthread_join (l, NULL) == 0);
    CHECK (loop_rc == -1 && loop_errno == (is_sprs () ? ETERM : EBADF));
    /* As with every call after nn_term: ETERM here (nanomsg's manual), EBADF from
       libnanomsg 1.1.5 (its nn_term closes the sockets). */
    CHECK (device_rc == -1 && device_errno == (is_sprs () ? ETERM : EBADF));
    report ("device");
    return 0;
}
