#include "common.h"
#include <nanomsg/survey.h>

int main (void) {
    char addr[64];
    tcp_addr (addr, sizeof addr, 3);
    int sur = nn_socket (AF_SP, NN_SURVEYOR);
    CHECK (sur >= 0);
    int resp[2];
    set_int (sur, NN_SURVEYOR, NN_SURVEYOR_DEADLINE, 300);
    int v = 0;
    size_t len = sizeof v;
    CHECK (nn_getsockopt (sur, NN_SURVEYOR, NN_SURVEYOR_DEADLINE, &v, &len) == 0);
    CHECK (v == 300 && len == sizeof (int));
    CHECK (nn_bind (sur, addr) >= 0);
    for (int i = 0; i < 2; i++) {
        resp[i] = nn_socket (AF_SP, NN_RESPONDENT);
        CHECK (resp[i] >= 0);
        set_int (resp[i], NN_SOL_SOCKET, NN_RCVTIMEO, 5000);
        CHECK (nn_connect (resp[i], addr) >= 0);
    }
    char buf[16];
    /* No survey yet. */
    FAILS_WITH (nn_recv (sur, buf, sizeof buf, 0), EFSM);
    usleep (300 * 1000);
    CHECK (nn_send (sur, "who", 3, 0) == 3);
    for (int i = 0; i < 2; i++) {
        expect_str (resp[i], "who");
        CHECK (nn_send (resp[i], "me", 2, 0) == 2);
    }
    expect_str (sur, "me");
    expect_str (sur, "me");
    double t0 = now ();
    FAILS_WITH (nn_recv (sur, buf, sizeof buf, 0), ETIMEDOUT);
    double dt = now () - t0;
    CHECK (dt < 1.0);
    /* The survey is over. */
    FAILS_WITH (nn_recv (sur, buf, sizeof buf, 0), EFSM);
    for (int i = 0; i < 2; i++)
        CHECK (nn_close (resp[i]) == 0);
    CHECK (nn_close (sur) == 0);
    report ("survey");
    return 0;
}
