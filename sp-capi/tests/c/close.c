#include "blocked_recv.h"
#include <nanomsg/pipeline.h>

int main (void) {
    int sock = nn_socket (AF_SP, NN_PULL);
    CHECK (sock >= 0);
    CHECK (nn_bind (sock, "inproc://capi-close") >= 0);
    pthread_t t = start_blocked_recv (sock);
    /* Closing under a blocked call: the call fails with EBADF. */
    CHECK (nn_close (sock) == 0);
    join_blocked_recv (t);
    CHECK (blocked_result == -1 && blocked_errno == EBADF);
    /* The number is free again: the next socket gets the lowest free one. */
    int again = nn_socket (AF_SP, NN_PUSH);
    CHECK (again == sock);
    CHECK (nn_close (again) == 0);
    report ("close");
    return 0;
}
