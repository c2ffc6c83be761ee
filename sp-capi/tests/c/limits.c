#include "common.h"
#include <nanomsg/pair.h>

/* 512 sockets at most (nanomsg's NN_MAX_SOCKETS), numbered from 0; then EMFILE. */
int main (void) {
    static int s[512];
    for (int i = 0; i < 512; i++) {
        s[i] = nn_socket (AF_SP, NN_PAIR);
        CHECK (s[i] == i);
    }
    FAILS_WITH (nn_socket (AF_SP, NN_PAIR), EMFILE);
    CHECK (nn_close (s[100]) == 0);
    CHECK (nn_socket (AF_SP, NN_PAIR) == 100);
    for (int i = 0; i < 512; i++)
        CHECK (nn_close (s[i]) == 0);
    report ("limits");
    return 0;
}
