/* common.c — error formatting, checked allocation, the wall clock and atomic file replacement
 * (see include/lvt/common.h). */
#define _POSIX_C_SOURCE 200809L
#include "lvt/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* ---- atomic file replacement ------------------------------------------------------------------ */

void lvt_atomic_tmp_path(const char *path, char *out, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(out, cap, "%.*s/.%s.tmp.%ld", (int)(slash - path), path, slash + 1, (long)getpid());
    else
        snprintf(out, cap, ".%s.tmp.%ld", path, (long)getpid());
}

int lvt_atomic_commit(const char *tmp, const char *path, lvt_err *e) {
    int fd = open(tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        int err = errno;
        if (fd >= 0) close(fd);
        unlink(tmp);
        return lvt_errf(e, "%s: cannot sync the temporary file %s: %s", path, tmp, strerror(err));
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return lvt_errf(e, "%s: cannot rename the temporary file into place: %s", path, strerror(err));
    }
    /* Make the rename durable: fsync the directory (best effort). */
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else snprintf(dir, sizeof dir, ".");
    if (!dir[0]) snprintf(dir, sizeof dir, "/");
    int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return LVT_OK;
}
