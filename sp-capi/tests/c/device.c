#include "common.h"
#include <pthread.h>
#include <nanomsg/reqrep.h>

/* nn_device between a raw REP (facing clients) and a raw REQ (facing workers): requests
   from a cooked REQ reach a cooked REP worker through it and the replies come back;
   nn_term ends the device. */

static int front, back, worker;
static int device_rc, device_errno;

static void *run_device (void *arg) {
    (void) arg;
    device_rc = nn_device (front, back);
    device_errno = nn_errno ();
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
    nn_term ();
    CHECK (pthread_join (d, NULL) == 0);
    /* As with every call after nn_term: ETERM here (nanomsg's manual), EBADF from
       libnanomsg 1.1.5 (its nn_term closes the sockets). */
    CHECK (device_rc == -1 && device_errno == (is_sprs () ? ETERM : EBADF));
    report ("device");
    return 0;
}
