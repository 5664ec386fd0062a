/* common.c — error formatting, checked allocation and the wall clock (see include/lvt/common.h). */
#define _POSIX_C_SOURCE 200809L
#include "lvt/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int lvt_errf(lvt_err *e, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return LVT_ERROR;
}

int lvt_err_prefix(lvt_err *e, const char *fmt, ...) {
    if (e) {
        char pre[512], old[sizeof e->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(pre, sizeof pre, fmt, ap);
        va_end(ap);
        memcpy(old, e->msg, sizeof old);
        snprintf(e->msg, sizeof e->msg, "%.300s: %.700s", pre, old);
    }
    return LVT_ERROR;
}

void *lvt_malloc(size_t n, lvt_err *e) {
    void *p = malloc(n ? n : 1);
    if (!p) lvt_errf(e, "out of memory allocating %zu bytes", n);
    return p;
}

void *lvt_calloc(size_t n, size_t size, lvt_err *e) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) lvt_errf(e, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

double lvt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
