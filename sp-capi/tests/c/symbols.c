#include "common.h"

/* Prints nanomsg's symbol table; the Rust test compares our output with libnanomsg's. */
int main (void) {
    struct nn_symbol_properties p;
    int i;
    for (i = 0; nn_symbol_info (i, &p, sizeof p) == (int) sizeof p; i++) {
        int v = -12345;
        const char *name = nn_symbol (i, &v);
        CHECK (name != NULL && strcmp (name, p.name) == 0 && v == p.value);
        printf ("%d %s %d %d %d\n", p.value, p.name, p.ns, p.type, p.unit);
    }
    CHECK (i > 100);
    CHECK (nn_symbol_info (i, &p, sizeof p) == 0);
    errno = 0;
    CHECK (nn_symbol (i, NULL) == NULL && nn_errno () == EINVAL);
    CHECK (nn_symbol (-1, NULL) == NULL && nn_errno () == EINVAL);
    /* A short buffer gets the first bytes only. */
    CHECK (nn_symbol_info (0, &p, sizeof (int)) == (int) sizeof (int));
    report ("symbols");
    return 0;
}
