/* json.c — lvt's JSON layout over cJSON trees (include/lvt/json.h): cJSON quotes, escapes and
 * formats every leaf; this file only places the separators, newlines and indentation. */
#include "lvt/json.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = 2 * b->cap + n + 64;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_indent(sbuf *b, int n) {
    for (int i = 0; i < n; i++) sb_put(b, " ", 1);
}

/* A leaf (string, number, raw number, bool, null) as cJSON prints it. */
static void sb_leaf(sbuf *b, const cJSON *v) {
    char *q = cJSON_PrintUnformatted(v);
    if (q) sb_str(b, q);
    else b->oom = 1;
    cJSON_free(q);
}

/* A member name, quoted and escaped by cJSON. */
static void sb_key(sbuf *b, const char *k) {
    cJSON *tmp = cJSON_CreateString(k);
    if (tmp) sb_leaf(b, tmp);
    else b->oom = 1;
    cJSON_Delete(tmp);
}

static void sb_line(sbuf *b, const cJSON *v) {
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) {
        sb_leaf(b, v);
        return;
    }
    const int obj = cJSON_IsObject(v);
    sb_str(b, obj ? "{" : "[");
    for (const cJSON *c = v->child; c; c = c->next) {
        if (obj) {
            sb_key(b, c->string);
            sb_str(b, ": ");
        }
        sb_line(b, c);
        if (c->next) sb_str(b, ", ");
    }
    sb_str(b, obj ? "}" : "]");
}

static void sb_block(sbuf *b, const cJSON *obj, int indent) {
    sb_str(b, "{\n");
    for (const cJSON *c = obj->child; c; c = c->next) {
        sb_indent(b, indent + 2);
        sb_key(b, c->string);
        sb_str(b, ": ");
        if (cJSON_IsObject(c)) {
            sb_block(b, c, indent + 2);
        } else if (cJSON_IsArray(c) && cJSON_IsObject(c->child)) {
            sb_str(b, "[\n");
            for (const cJSON *it = c->child; it; it = it->next) {
                sb_indent(b, indent + 4);
                sb_line(b, it);
                sb_str(b, it->next ? ",\n" : "\n");
            }
            sb_indent(b, indent + 2);
            sb_str(b, "]");
        } else {
            sb_line(b, c);
        }
        sb_str(b, c->next ? ",\n" : "\n");
    }
    sb_indent(b, indent);
    sb_str(b, "}");
}

static char *finish(sbuf *b) {
    if (b->oom || !b->p) {
        free(b->p);
        return NULL;
    }
    return b->p;
}

char *lvt_json_line(const cJSON *v) {
    sbuf b = {NULL, 0, 0, v == NULL};
    if (v) sb_line(&b, v);
    return finish(&b);
}

char *lvt_json_block(const cJSON *obj) {
    sbuf b = {NULL, 0, 0, !cJSON_IsObject(obj)};
    if (!b.oom) {
        sb_block(&b, obj, 0);
        sb_str(&b, "\n");
    }
    return finish(&b);
}
