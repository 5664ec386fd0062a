/* common.h — status codes, the error-message carrier and small helpers shared by every module.
 * Every fallible function returns int (0 = LVT_OK, negative = error) and fills an lvt_err. */
#ifndef LVT_COMMON_H
#define LVT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define LVT_VERSION "0.1.0"

enum { LVT_OK = 0, LVT_ERROR = -1 };

typedef struct lvt_err {
    char msg[1024];
} lvt_err;

/* Format a message into e (if non-NULL) and return LVT_ERROR. */
int lvt_errf(lvt_err *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prefix an existing message: "prefix: old message". Returns LVT_ERROR. */
int lvt_err_prefix(lvt_err *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Allocation that reports failure through e instead of aborting. */
void *lvt_malloc(size_t n, lvt_err *e);
void *lvt_calloc(size_t n, size_t size, lvt_err *e);

/* Monotonic wall clock in seconds. */
double lvt_now(void);

/* Atomic file replacement, for every writer of a result file (checkpoints, safetensors,
 * predictions): write to lvt_atomic_tmp_path(path) ("<dir>/.<base>.tmp.<pid>", same directory),
 * then lvt_atomic_commit fsyncs it, renames it over path and fsyncs the directory. On failure
 * the temporary file is removed and an existing file at path is left untouched. */
void lvt_atomic_tmp_path(const char *path, char *out, size_t cap);
int lvt_atomic_commit(const char *tmp, const char *path, lvt_err *e);

#endif
