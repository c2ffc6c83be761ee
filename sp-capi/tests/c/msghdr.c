#include "common.h"
#include <nanomsg/reqrep.h>

/* nn_sendmsg/nn_recvmsg on a raw REP answering a cooked REQ: scatter/gather buffers, the
   SP_HDR control message (walked with NN_CMSG_FIRSTHDR/NN_CMSG_NXTHDR and printed, so
   the Rust test can compare ours with libnanomsg's layout), and NN_MSG for both the body and the control data. */

static void print_cmsg (struct nn_msghdr *hdr) {
    struct nn_cmsghdr *c = NN_CMSG_FIRSTHDR (hdr);
    CHECK (c != NULL);
    size_t sz = *(size_t *) NN_CMSG_DATA (c);
    unsigned char *h = NN_CMSG_DATA (c) + sizeof (size_t);
    printf ("cmsg len %zu level %d type %d hdr %zu top-bit %d\n", c->cmsg_len,
        c->cmsg_level, c->cmsg_type, sz, (h[sz - 4] & 0x80) != 0);
    /* SP_HDR is the only control message: the walk (nn_cmsg_nxthdr_) ends after it when
       the control data ends there (an NN_MSG chunk does; a larger buffer of the
       caller's would be walked on, by both libraries, as nanomsg does not shorten
       msg_controllen). */
    struct nn_msghdr exact = *hdr;
    if (exact.msg_controllen != NN_MSG)
        exact.msg_controllen = NN_CMSG_SPACE (c->cmsg_len - NN_CMSG_LEN (0));
    CHECK (NN_CMSG_NXTHDR (&exact, c) == NULL);
}

int main (void) {
    int rep = nn_socket (AF_SP_RAW, NN_REP);
    int req = nn_socket (AF_SP, NN_REQ);
    CHECK (rep >= 0 && req >= 0);
    set_int (rep, NN_SOL_SOCKET, NN_RCVTIMEO, 5000);
    set_int (req, NN_SOL_SOCKET, NN_RCVTIMEO, 5000);
    CHECK (nn_bind (rep, "inproc://capi-msghdr") >= 0);
    CHECK (nn_connect (req, "inproc://capi-msghdr") >= 0);

    /* User buffers: the body scattered over two buffers. */
    CHECK (nn_send (req, "hello world", 11, 0) == 11);
    char a[6], b[32];
    size_t ctrl_buf[32];
    struct nn_iovec iov[2] = { { a, sizeof a }, { b, sizeof b } };
    struct nn_msghdr hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.msg_iov = iov;
    hdr.msg_iovlen = 2;
    hdr.msg_control = ctrl_buf;
    hdr.msg_controllen = sizeof ctrl_buf;
    CHECK (nn_recvmsg (rep, &hdr, 0) == 11);
    CHECK (memcmp (a, "hello ", 6) == 0 && memcmp (b, "world", 5) == 0);
    print_cmsg (&hdr);
    /* Answer with the same control data, the body gathered from two buffers. */
    struct nn_iovec out[2] = { { "good", 4 }, { "bye", 3 } };
    hdr.msg_iov = out;
    CHECK (nn_sendmsg (rep, &hdr, 0) == 7);
    expect_str (req, "goodbye");

    /* NN_MSG for the body and the control data. */
    CHECK (nn_send (req, "again", 5, 0) == 5);
    void *body = NULL, *ctrl = NULL;
    struct nn_iovec one = { &body, NN_MSG };
    memset (&hdr, 0, sizeof hdr);
    hdr.msg_iov = &one;
    hdr.msg_iovlen = 1;
    hdr.msg_control = &ctrl;
    hdr.msg_controllen = NN_MSG;
    CHECK (nn_recvmsg (rep, &hdr, 0) == 5);
    CHECK (body != NULL && ctrl != NULL && memcmp (body, "again", 5) == 0);
    print_cmsg (&hdr);
    /* Send both messages back: the library takes them. */
    CHECK (nn_sendmsg (rep, &hdr, 0) == 5);
    expect_str (req, "again");

    /* A control buffer too small for the header is left alone. */
    CHECK (nn_send (req, "x", 1, 0) == 1);
    char tiny[8] = "unused!";
    struct nn_iovec xi = { b, sizeof b };
    memset (&hdr, 0, sizeof hdr);
    hdr.msg_iov = &xi;
    hdr.msg_iovlen = 1;
    hdr.msg_control = tiny;
    hdr.msg_controllen = sizeof tiny;
    CHECK (nn_recvmsg (rep, &hdr, 0) == 1);
    CHECK (memcmp (tiny, "unused!", 8) == 0);

    FAILS_WITH (nn_recvmsg (rep, NULL, 0), EINVAL);
    FAILS_WITH (nn_sendmsg (rep, NULL, 0), EINVAL);
    /* A null buffer with a length is EFAULT; a negative buffer count EMSGSIZE. */
    struct nn_iovec null_iov = { NULL, 5 };
    memset (&hdr, 0, sizeof hdr);
    hdr.msg_iov = &null_iov;
    hdr.msg_iovlen = 1;
    FAILS_WITH (nn_sendmsg (req, &hdr, NN_DONTWAIT), EFAULT);
    hdr.msg_iovlen = -1;
    FAILS_WITH (nn_sendmsg (req, &hdr, NN_DONTWAIT), EMSGSIZE);
    CHECK (nn_close (req) == 0);
    CHECK (nn_close (rep) == 0);
    report ("msghdr");
    return 0;
}
