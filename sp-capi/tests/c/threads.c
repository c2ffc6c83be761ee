#include "common.h"
#include <pthread.h>
#include <nanomsg/pipeline.h>

/* One PUSH socket shared by four sending threads, one PULL socket shared by two
   receiving threads: every message arrives exactly once. */

#define SENDERS 4
#define PER_SENDER 500

static int push, pull;
static int seen[SENDERS][PER_SENDER];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *sender (void *arg) {
    int id = (int) (long) arg;
    for (int i = 0; i < PER_SENDER; i++) {
        int m[2] = { id, i };
        CHECK (nn_send (push, m, sizeof m, 0) == (int) sizeof m);
    }
    return NULL;
}

static void *receiver (void *arg) {
    (void) arg;
    for (;;) {
        int m[2];
        int n = nn_recv (pull, m, sizeof m, 0);
        if (n < 0) {
            CHECK (nn_errno () == ETIMEDOUT);
            return NULL;
        }
        CHECK (n == (int) sizeof m && m[0] >= 0 && m[0] < SENDERS && m[1] >= 0 && m[1] < PER_SENDER);
        pthread_mutex_lock (&lock);
        seen[m[0]][m[1]]++;
        pthread_mutex_unlock (&lock);
    }
}

int main (void) {
    char addr[64];
    tcp_addr (addr, sizeof addr, 5);
    pull = nn_socket (AF_SP, NN_PULL);
    push = nn_socket (AF_SP, NN_PUSH);
    CHECK (pull >= 0 && push >= 0);
    set_int (pull, NN_SOL_SOCKET, NN_RCVTIMEO, 1000);
    CHECK (nn_bind (pull, addr) >= 0);
    CHECK (nn_connect (push, addr) >= 0);
    pthread_t s[SENDERS], r[2];
    for (long i = 0; i < 2; i++)
        CHECK (pthread_create (&r[i], NULL, receiver, NULL) == 0);
    for (long i = 0; i < SENDERS; i++)
        CHECK (pthread_create (&s[i], NULL, sender, (void *) i) == 0);
    for (int i = 0; i < SENDERS; i++)
        CHECK (pthread_join (s[i], NULL) == 0);
    for (int i = 0; i < 2; i++)
        CHECK (pthread_join (r[i], NULL) == 0);
    for (int i = 0; i < SENDERS; i++)
        for (int j = 0; j < PER_SENDER; j++)
            CHECK (seen[i][j] == 1);
    CHECK (nn_close (push) == 0);
    CHECK (nn_close (pull) == 0);
    report ("threads");
    return 0;
}
