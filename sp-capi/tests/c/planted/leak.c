/* A planted bug: a message from nn_allocmsg that is never freed. valgrind and
   LeakSanitizer must report it as lost (the memory check's proof that it can fail). */
#include "../common.h"

static __attribute__ ((noinline)) void lose_a_message (void) {
    void *m = nn_allocmsg (4096, 0);
    CHECK (m != NULL);
    memset (m, 'x', 4096);
    /* ...and the only pointer to it goes out of scope without nn_freemsg. */
}

int main (void) {
    lose_a_message ();
    report ("planted-leak");
    return 0;
}
