/* NN_SNDBUF and NN_RCVBUF bound what waits between a PUSH and a PULL that does not
   receive: with small buffers a non-blocking send fails with EAGAIN after a few 64 KiB
   messages, with the defaults only after more. Over ipc, whose kernel buffer holds only
   a few such messages. The counts differ: libnanomsg sets the kernel's SO_SNDBUF and
   SO_RCVBUF in bytes (about 2 messages with 4 KiB, 6 with the 128 KiB defaults); sp-rs
   sizes its queues in messages, one per KiB (4 + 4 with 4 KiB, 128 + 128 with the
   defaults, plus what the kernel holds). (Not inproc: there sp-net's pipe carries a
   fixed 1024-message channel whatever the buffers.) */
#include "common.h"
#include <nanomsg/pipeline.h>

#define MSG_SIZE 65536

/* Sends MSG_SIZE-byte messages with NN_DONTWAIT until one fails with EAGAIN and the
   socket stays unwritable for 300 ms (messages still in flight inside the library get
   that long to settle); returns how many were accepted. */
static int fill (int push) {
    static char m[MSG_SIZE];
    int sent = 0;
    for (;;) {
        CHECK (sent < 100000);
        memset (m, sent & 0xff, sizeof m);
        int rc = nn_send (push, m, sizeof m, NN_DONTWAIT);
        if (rc == (int) sizeof m) {
            sent++;
            continue;
        }
        CHECK (rc == -1 && nn_errno () == EAGAIN);
        struct nn_pollfd pfd = { push, NN_POLLOUT, 0 };
        int ready = nn_poll (&pfd, 1, 300);
        CHECK (ready >= 0);
        if (ready == 0)
            return sent;
    }
}

/* Receives the `sent` messages, each intact and in order, then nothing more. */
static void drain (int pull, int sent) {
    static char buf[MSG_SIZE + 1];
    for (int i = 0; i < sent; i++) {
        CHECK (nn_recv (pull, buf, sizeof buf, 0) == MSG_SIZE);
        CHECK (buf[0] == (char) (i & 0xff) && buf[MSG_SIZE - 1] == (char) (i & 0xff));
    }
    CHECK (nn_recv (pull, buf, sizeof buf, NN_DONTWAIT) == -1 && nn_errno () == EAGAIN);
}

/* A PUSH/PULL pair over ipc with both buffers set to `bytes` (0: the defaults). */
static int accepted (int bytes, int k) {
    char addr[64];
    snprintf (addr, sizeof addr, "ipc:///tmp/sp-capi-buffers-%d-%d.ipc", (int) getpid (), k);
    int pull = nn_socket (AF_SP, NN_PULL);
    int push = nn_socket (AF_SP, NN_PUSH);
    CHECK (pull >= 0 && push >= 0);
    if (bytes > 0) {
        int socks[2] = { push, pull };
        for (int i = 0; i < 2; i++) {
            set_int (socks[i], NN_SOL_SOCKET, NN_SNDBUF, bytes);
            set_int (socks[i], NN_SOL_SOCKET, NN_RCVBUF, bytes);
            int v = 0;
            size_t len = sizeof v;
            CHECK (nn_getsockopt (socks[i], NN_SOL_SOCKET, NN_RCVBUF, &v, &len) == 0);
            CHECK (v == bytes && len == sizeof v);
        }
    }
    set_int (pull, NN_SOL_SOCKET, NN_RCVTIMEO, 5000);
    CHECK (nn_bind (pull, addr) >= 0);
    CHECK (nn_connect (push, addr) >= 0);
    int sent = fill (push);
    drain (pull, sent);
    CHECK (nn_close (push) == 0);
    CHECK (nn_close (pull) == 0);
    unlink (addr + strlen ("ipc://"));
    return sent;
}

int main (void) {
    /* 4 KiB each way: a handful. */
    int small = accepted (4096, 1);
    printf ("accepted with 4 KiB buffers: %d\n", small);
    CHECK (small >= 1 && small <= 16);
    /* The defaults, 128 KiB: more (sp-rs: at least its two queues of 128). */
    int large = accepted (0, 2);
    printf ("accepted with the default buffers: %d\n", large);
    CHECK (large > small);
    if (is_sprs ())
        CHECK (large >= 256);
    report ("buffers");
    return 0;
}
