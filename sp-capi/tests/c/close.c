#include "common.h"
#include <pthread.h>
#include <nanomsg/pipeline.h>

static int sock;
static int result, result_errno;

static void *blocked_recv (void *arg) {
    (void) arg;
    char buf[16];
    result = nn_recv (sock, buf, sizeof buf, 0);
    result_errno = nn_errno ();
    return NULL;
}

int main (void) {
    sock = nn_socket (AF_SP, NN_PULL);
    CHECK (sock >= 0);
    CHECK (nn_bind (sock, "inproc://capi-close") >= 0);
    pthread_t t;
    CHECK (pthread_create (&t, NULL, blocked_recv, NULL) == 0);
    usleep (200 * 1000);
    /* Closing under a blocked call: the call fails with EBADF. */
    CHECK (nn_close (sock) == 0);
    CHECK (pthread_join (t, NULL) == 0);
    CHECK (result == -1 && result_errno == EBADF);
    /* The number is free again: the next socket gets the lowest free one. */
    int again = nn_socket (AF_SP, NN_PUSH);
    CHECK (again == sock);
    CHECK (nn_close (again) == 0);
    report ("close");
    return 0;
}
