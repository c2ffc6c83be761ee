/* A planted bug: nn_recv told that an 8-byte buffer holds 64 bytes, so the library
   writes a 32-byte message past its end. valgrind and AddressSanitizer must report the
   invalid write (the memory check's proof that it can fail). */
#include "../common.h"
#include <nanomsg/pipeline.h>

int main (void) {
    int pull = nn_socket (AF_SP, NN_PULL);
    int push = nn_socket (AF_SP, NN_PUSH);
    CHECK (pull >= 0 && push >= 0);
    CHECK (nn_bind (pull, "inproc://capi-planted-overflow") >= 0);
    CHECK (nn_connect (push, "inproc://capi-planted-overflow") >= 0);
    CHECK (nn_send (push, "0123456789abcdef0123456789abcdef", 32, 0) == 32);
    char *buf = malloc (8);
    CHECK (buf != NULL);
    CHECK (nn_recv (pull, buf, 64, 0) == 32);
    free (buf);
    CHECK (nn_close (push) == 0 && nn_close (pull) == 0);
    report ("planted-overflow");
    return 0;
}
