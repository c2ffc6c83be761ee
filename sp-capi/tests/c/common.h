/* Shared by the C API tests: checks that print the line and errno, and which library
   was loaded (sp-rs exports nn_sp_rs_version; libnanomsg does not). These programs run
   against both libraries: ours (the test's subject) and the system libnanomsg (to check
   that the tests themselves encode nanomsg's real behaviour). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <nanomsg/nn.h>

#define CHECK(cond) do { if (!(cond)) { \
    fprintf (stderr, "%s:%d: check failed: %s (errno %d: %s)\n", __FILE__, __LINE__, \
        #cond, nn_errno (), nn_strerror (nn_errno ())); exit (1); } } while (0)

/* A call that must fail with errno `e`, and errno and nn_errno must agree. */
#define FAILS_WITH(call, e) do { errno = 0; int rc_ = (int) (call); \
    if (rc_ != -1 || errno != (e) || nn_errno () != (e)) { \
        fprintf (stderr, "%s:%d: %s: rc %d errno %d nn_errno %d, want -1 and %d (%s)\n", \
            __FILE__, __LINE__, #call, rc_, errno, nn_errno (), (e), #e); exit (1); } } while (0)

static __attribute__ ((unused)) int is_sprs (void) { return dlsym (RTLD_DEFAULT, "nn_sp_rs_version") != NULL; }

static __attribute__ ((unused)) void report (const char *name) {
    printf ("%s ok (impl=%s)\n", name, is_sprs () ? "sp-rs" : "libnanomsg");
}

/* Wall-clock seconds. */
static __attribute__ ((unused)) double now (void) {
    struct timeval tv;
    gettimeofday (&tv, NULL);
    return tv.tv_sec + tv.tv_usec / 1e6;
}

static __attribute__ ((unused)) void set_int (int s, int level, int opt, int v) {
    CHECK (nn_setsockopt (s, level, opt, &v, sizeof v) == 0);
}

/* A TCP port unique to this process and `k`, below Linux's ephemeral ports (32768 on):
   a connection's local port there, or its TIME_WAIT, would make the bind fail with
   EADDRINUSE while other programs (a benchmark) make many connections. */
static __attribute__ ((unused)) int tcp_port (int k) {
    return 20000 + (getpid () * 7 + k) % 12000;
}

/* A tcp address on a port unique to this process. */
static __attribute__ ((unused)) void tcp_addr (char *buf, size_t n, int k) {
    snprintf (buf, n, "tcp://127.0.0.1:%d", tcp_port (k));
}

static __attribute__ ((unused)) void expect_str (int s, const char *want) {
    char buf[256];
    int n = nn_recv (s, buf, sizeof buf, 0);
    CHECK (n == (int) strlen (want));
    CHECK (memcmp (buf, want, n) == 0);
}
