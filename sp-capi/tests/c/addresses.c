/* nn_bind and nn_connect's checks of an address, with the errno libnanomsg 1.1.5 gives,
   and the endpoint ids they return (1 for a socket's first endpoint, then counting up). */
#include "common.h"
#include <nanomsg/pair.h>

int main (void) {
    int s = nn_socket (AF_SP, NN_PAIR);
    CHECK (s >= 0);

    /* Endpoint ids: the first is 1. */
    char addr[64];
    tcp_addr (addr, sizeof addr, 11);
    CHECK (nn_bind (s, addr) == 1);
    CHECK (nn_connect (s, "inproc://capi-addresses") == 2);
    CHECK (nn_shutdown (s, 1) == 0);
    CHECK (nn_shutdown (s, 2) == 0);
    CHECK (nn_bind (s, "inproc://capi-addresses") == 3);

    /* Refused addresses: (bind?, address, errno). */
    struct { int bind; const char *addr; int err; } refused[] = {
        /* Port 0 is not a port, for bind and connect. */
        { 1, "tcp://127.0.0.1:0", EINVAL }, { 1, "tcp://*:0", EINVAL },
        { 0, "tcp://127.0.0.1:0", EINVAL }, { 0, "ws://127.0.0.1:0/", EINVAL },
        /* Binding takes `*` or an IP literal: no names, no empty host. */
        { 1, "tcp://localhost:5555", ENODEV }, { 1, "tcp://no-such-interface:5555", ENODEV },
        { 1, "tcp://:5555", ENODEV }, { 1, "ws://localhost:5555", ENODEV },
        /* Connecting needs a host; its local-address prefix must be `*` or a literal. */
        { 0, "tcp://*:5555", EINVAL }, { 0, "tcp://:5555", EINVAL },
        { 0, "ws://*:5555/", EINVAL },
        { 0, "tcp://no-such-interface;127.0.0.1:5555", ENODEV },
        { 0, "tcp://[::1];127.0.0.1:5555", ENODEV },
        /* TLS transports need settings the C API cannot give (libnanomsg has none). */
        { 1, "tls+tcp://127.0.0.1:5555", EPROTONOSUPPORT },
        { 0, "wss://127.0.0.1:5555/", EPROTONOSUPPORT },
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        errno = 0;
        int rc = refused[i].bind ? nn_bind (s, refused[i].addr) : nn_connect (s, refused[i].addr);
        if (rc != -1 || errno != refused[i].err) {
            fprintf (stderr, "%s %s: rc %d errno %d, want -1 and %d\n",
                refused[i].bind ? "nn_bind" : "nn_connect", refused[i].addr, rc, errno,
                refused[i].err);
            exit (1);
        }
    }
    int ep = nn_connect (s, "tcp://127.0.0.1;127.0.0.1:5555");
    CHECK (ep > 0 && nn_shutdown (s, ep) == 0);
    ep = nn_connect (s, "tcp://*;127.0.0.1:5555");
    CHECK (ep > 0 && nn_shutdown (s, ep) == 0);
    /* Names are resolved in the background: a name that does not resolve is accepted. */
    ep = nn_connect (s, "tcp://no-such-host.invalid:5555");
    CHECK (ep > 0 && nn_shutdown (s, ep) == 0);

    /* Too long (nanomsg's NN_SOCKADDR_MAX is 128 bytes with the NUL). */
    char big[200];
    memset (big, 'a', sizeof big - 1);
    memcpy (big, "inproc://", 9);
    big[sizeof big - 1] = 0;
    FAILS_WITH (nn_bind (s, big), ENAMETOOLONG);
    FAILS_WITH (nn_connect (s, big), ENAMETOOLONG);
    big[128] = 0;
    FAILS_WITH (nn_bind (s, big), ENAMETOOLONG);
    big[127] = 0;
    CHECK (nn_bind (s, big) > 0);
    if (is_sprs ()) {
        /* An ipc:// path too long for a Unix socket (108 bytes with its NUL) but under
           128 bytes: ENAMETOOLONG here; libnanomsg 1.1.5 aborts on an assertion. */
        char path[121];
        memset (path, 'p', sizeof path - 1);
        memcpy (path, "ipc:///tmp/", 11);
        path[sizeof path - 1] = 0;
        FAILS_WITH (nn_bind (s, path), ENAMETOOLONG);
    }

    CHECK (nn_close (s) == 0);
    report ("addresses");
    return 0;
}
