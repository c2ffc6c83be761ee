/* Shared by the close and term tests: a receive left blocked in another thread, and
   what it returned once the socket was closed or the library terminated under it. */
#include "common.h"
#include <pthread.h>

static int blocked_sock;
static int blocked_result, blocked_errno;

static void *blocked_recv_thread (void *arg) {
    (void) arg;
    char buf[16];
    blocked_result = nn_recv (blocked_sock, buf, sizeof buf, 0);
    blocked_errno = nn_errno ();
    return NULL;
}

/* Starts a receive on `s` in another thread and gives it 200 ms to block. */
static pthread_t start_blocked_recv (int s) {
    blocked_sock = s;
    pthread_t t;
    CHECK (pthread_create (&t, NULL, blocked_recv_thread, NULL) == 0);
    usleep (200 * 1000);
    return t;
}

/* Waits for the blocked receive to end; then `blocked_result` and `blocked_errno`
   say how it ended. */
static void join_blocked_recv (pthread_t t) {
    CHECK (pthread_join (t, NULL) == 0);
}
