/* cpu_backend.c — the CPU implementation of ops (being written; see issue 3). */
#include "cpu_backend.h"

int lvt_cpu_backend_create(lvt_backend **out, lvt_math math, lvt_err *e) {
    *out = NULL;
    return lvt_errf(e, "the CPU backend is not implemented yet (issue 3)");
}

void lvt_cpu_backend_destroy(lvt_backend *be) { (void)be; }
