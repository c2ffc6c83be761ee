#include "common.h"
#include <nanomsg/pair.h>

int main (void) {
    int a = nn_socket (AF_SP, NN_PAIR);
    int b = nn_socket (AF_SP, NN_PAIR);
    CHECK (a >= 0 && b >= 0);
    set_int (b, NN_SOL_SOCKET, NN_RCVTIMEO, 5000);
    CHECK (nn_bind (a, "inproc://capi-zerocopy") >= 0);
    CHECK (nn_connect (b, "inproc://capi-zerocopy") >= 0);

    /* Send a message we allocated: the library takes it. */
    char *m = nn_allocmsg (5, 0);
    CHECK (m != NULL);
    memcpy (m, "hello", 5);
    m = nn_reallocmsg (m, 11);
    CHECK (m != NULL);
    memcpy (m + 5, " world", 6);
    CHECK (nn_send (a, &m, NN_MSG, 0) == 11);

    /* Receive into a message the library allocates. */
    char *r = NULL;
    int n = nn_recv (b, &r, NN_MSG, 0);
    CHECK (n == 11 && r != NULL);
    CHECK (memcmp (r, "hello world", 11) == 0);
    CHECK (nn_freemsg (r) == 0);

    /* Empty messages both ways. */
    char *e = nn_allocmsg (0, 0);
    CHECK (e != NULL);
    CHECK (nn_send (a, &e, NN_MSG, 0) == 0);
    CHECK (nn_recv (b, &r, NN_MSG, 0) == 0);
    CHECK (nn_freemsg (r) == 0);

    /* An unknown type. */
    errno = 0;
    CHECK (nn_allocmsg (1, 12345) == NULL && nn_errno () == EINVAL);

    if (is_sprs ()) {
        /* Where nanomsg crashes or corrupts memory, we report EFAULT. */
        char local[8];
        FAILS_WITH (nn_freemsg (local), EFAULT);
        void *bogus = local;
        FAILS_WITH (nn_send (a, &bogus, NN_MSG, 0), EFAULT);
        FAILS_WITH (nn_send (a, NULL, NN_MSG, 0), EFAULT);
        FAILS_WITH (nn_recv (b, NULL, 10, 0), EFAULT);
    }
    CHECK (nn_close (a) == 0);
    CHECK (nn_close (b) == 0);
    report ("zerocopy");
    return 0;
}
