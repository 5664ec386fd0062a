/* kvstore.h — a small set of named values (int64, double, string, int64/double arrays): the
 * "extra" area of a checkpoint (include/lvt/ckpt.h) where the trainer keeps its curriculum,
 * tripwire, RNG and data-position state. Code: src/core/kvstore.c. */
#ifndef LVT_KVSTORE_H
#define LVT_KVSTORE_H

#include "lvt/common.h"

typedef enum {
    LVT_KV_I64 = 0,
    LVT_KV_F64 = 1,
    LVT_KV_STR = 2,
    LVT_KV_I64_ARRAY = 3,
    LVT_KV_F64_ARRAY = 4
} lvt_kv_type;

#define LVT_KV_NAME_MAX 64

typedef struct lvt_kv {
    char name[LVT_KV_NAME_MAX]; /* letters, digits, '_', '.', '-' */
    lvt_kv_type type;
    int64_t i;      /* LVT_KV_I64 */
    double d;       /* LVT_KV_F64 */
    char *s;        /* LVT_KV_STR (owned) */
    int64_t n;      /* array length */
    int64_t *ia;    /* LVT_KV_I64_ARRAY (owned) */
    double *da;     /* LVT_KV_F64_ARRAY (owned) */
} lvt_kv;

typedef struct lvt_kvset {
    int n, cap;
    lvt_kv *items;
} lvt_kvset;

/* Setting an existing name replaces its value (and type). */
int lvt_kv_set_i64(lvt_kvset *s, const char *name, int64_t v, lvt_err *e);
int lvt_kv_set_f64(lvt_kvset *s, const char *name, double v, lvt_err *e);
int lvt_kv_set_str(lvt_kvset *s, const char *name, const char *v, lvt_err *e);
int lvt_kv_set_i64_array(lvt_kvset *s, const char *name, const int64_t *v, int64_t n, lvt_err *e);
int lvt_kv_set_f64_array(lvt_kvset *s, const char *name, const double *v, int64_t n, lvt_err *e);
/* NULL when absent. */
const lvt_kv *lvt_kv_get(const lvt_kvset *s, const char *name);
/* Typed getters: 0 and *out set when present with that type; LVT_ERROR (message) otherwise. */
int lvt_kv_get_i64(const lvt_kvset *s, const char *name, int64_t *out, lvt_err *e);
int lvt_kv_get_f64(const lvt_kvset *s, const char *name, double *out, lvt_err *e);
void lvt_kvset_free(lvt_kvset *s);

#endif
