/* kvstore.c — the named-value set of include/lvt/kvstore.h (a checkpoint's "extra" area). */
#include "lvt/kvstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int kv_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n >= LVT_KV_NAME_MAX || !strcmp(name, ".") || !strcmp(name, "..")) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-';
        if (!ok) return 0;
    }
    return 1;
}

static void kv_clear(lvt_kv *kv) {
    free(kv->s);
    free(kv->ia);
    free(kv->da);
    kv->s = NULL;
    kv->ia = NULL;
    kv->da = NULL;
    kv->n = 0;
}

/* The slot for name (existing, cleared; or a new one). */
static lvt_kv *kv_slot(lvt_kvset *s, const char *name, lvt_err *e) {
    if (!kv_name_ok(name))
        return lvt_errf(e, "extra value name '%s' is invalid (use letters, digits, '_', '.', '-'; at most %d characters)",
                        name, LVT_KV_NAME_MAX - 1), NULL;
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->items[i].name, name)) {
            kv_clear(&s->items[i]);
            return &s->items[i];
        }
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        lvt_kv *items = realloc(s->items, (size_t)cap * sizeof *items);
        if (!items) return lvt_errf(e, "out of memory (extra values)"), NULL;
        s->items = items;
        s->cap = cap;
    }
    lvt_kv *kv = &s->items[s->n++];
    memset(kv, 0, sizeof *kv);
    snprintf(kv->name, sizeof kv->name, "%s", name);
    return kv;
}

int lvt_kv_set_i64(lvt_kvset *s, const char *name, int64_t v, lvt_err *e) {
    lvt_kv *kv = kv_slot(s, name, e);
    if (!kv) return LVT_ERROR;
    kv->type = LVT_KV_I64;
    kv->i = v;
    return LVT_OK;
}

int lvt_kv_set_f64(lvt_kvset *s, const char *name, double v, lvt_err *e) {
    lvt_kv *kv = kv_slot(s, name, e);
    if (!kv) return LVT_ERROR;
    kv->type = LVT_KV_F64;
    kv->d = v;
    return LVT_OK;
}

int lvt_kv_set_str(lvt_kvset *s, const char *name, const char *v, lvt_err *e) {
    lvt_kv *kv = kv_slot(s, name, e);
    if (!kv) return LVT_ERROR;
    kv->type = LVT_KV_STR;
    size_t n = strlen(v);
    kv->s = lvt_malloc(n + 1, e);
    if (!kv->s) return LVT_ERROR;
    memcpy(kv->s, v, n + 1);
    return LVT_OK;
}

int lvt_kv_set_i64_array(lvt_kvset *s, const char *name, const int64_t *v, int64_t n, lvt_err *e) {
    lvt_kv *kv = kv_slot(s, name, e);
    if (!kv) return LVT_ERROR;
    kv->type = LVT_KV_I64_ARRAY;
    kv->ia = lvt_malloc((size_t)n * sizeof *v, e);
    if (!kv->ia) return LVT_ERROR;
    if (n) memcpy(kv->ia, v, (size_t)n * sizeof *v);
    kv->n = n;
    return LVT_OK;
}

int lvt_kv_set_f64_array(lvt_kvset *s, const char *name, const double *v, int64_t n, lvt_err *e) {
    lvt_kv *kv = kv_slot(s, name, e);
    if (!kv) return LVT_ERROR;
    kv->type = LVT_KV_F64_ARRAY;
    kv->da = lvt_malloc((size_t)n * sizeof *v, e);
    if (!kv->da) return LVT_ERROR;
    if (n) memcpy(kv->da, v, (size_t)n * sizeof *v);
    kv->n = n;
    return LVT_OK;
}

const lvt_kv *lvt_kv_get(const lvt_kvset *s, const char *name) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->items[i].name, name)) return &s->items[i];
    return NULL;
}

int lvt_kv_get_i64(const lvt_kvset *s, const char *name, int64_t *out, lvt_err *e) {
    const lvt_kv *kv = lvt_kv_get(s, name);
    if (!kv) return lvt_errf(e, "extra value '%s' is missing", name);
    if (kv->type != LVT_KV_I64) return lvt_errf(e, "extra value '%s' is not an int64", name);
    *out = kv->i;
    return LVT_OK;
}

int lvt_kv_get_f64(const lvt_kvset *s, const char *name, double *out, lvt_err *e) {
    const lvt_kv *kv = lvt_kv_get(s, name);
    if (!kv) return lvt_errf(e, "extra value '%s' is missing", name);
    if (kv->type != LVT_KV_F64) return lvt_errf(e, "extra value '%s' is not a double", name);
    *out = kv->d;
    return LVT_OK;
}

void lvt_kvset_free(lvt_kvset *s) {
    for (int i = 0; i < s->n; i++) kv_clear(&s->items[i]);
    free(s->items);
    memset(s, 0, sizeof *s);
}
