/* config_parse.c — JSON text -> lvt_config (include/lvt/config.h): syntax errors with line and
 * column, unknown keys with a suggestion, type and range checks, curriculum phases, tripwire
 * conditions, path resolution, `--set KEY=VALUE` overrides and loading a file. Every change is made
 * on a copy and committed only when the whole input is good. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "lvt/config.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_table.h"

#define MAX_CONFIG_BYTES (16 << 20)

typedef struct {
    const char *base_dir; /* relative paths are resolved against this (NULL: kept verbatim) */
} parse_ctx;

static const char *json_type(const cJSON *j) {
    if (cJSON_IsString(j)) return "string";
    if (cJSON_IsNumber(j)) return "number";
    if (cJSON_IsBool(j)) return "boolean";
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsArray(j)) return "array";
    if (cJSON_IsObject(j)) return "object";
    return "invalid value";
}

/* "string \"abc\"", "number 2.5", "array", ... — what the user gave, for type errors. */
static const char *json_got(const cJSON *j, char *buf, size_t n) {
    char num[32];
    if (cJSON_IsString(j)) snprintf(buf, n, "string \"%.40s\"", j->valuestring);
    else if (cJSON_IsNumber(j)) snprintf(buf, n, "number %s", cfg_fmt_num(j->valuedouble, num));
    else snprintf(buf, n, "%s", json_type(j));
    return buf;
}

static void join_path(char *out, size_t n, const char *prefix, const char *key) {
    snprintf(out, n, "%s%s%s", prefix, *prefix ? "." : "", key);
}

/* ---- unknown keys --------------------------------------------------------------------------- */

/* Search every section of the config for a key named exactly `key` ("train.lr" -> optim.lr). */
static int find_elsewhere(const cfg_section *s, const char *prefix, const char *key, char *out, size_t n) {
    char path[128];
    for (int i = 0; i < s->n; i++) {
        const cfg_field *f = &s->fields[i];
        join_path(path, sizeof path, prefix, f->name);
        if (f->kind == K_SUB) {
            if (find_elsewhere(f->sub, path, key, out, n)) return 1;
        } else if (*prefix && !strcmp(f->name, key)) {
            snprintf(out, n, "%s", path);
            return 1;
        }
    }
    return 0;
}

/* "PATH: unknown key, did you mean X?" or "PATH: unknown key (allowed: a, b, ...)". */
static int unknown_key(const char *path, const char *key, const char *const *names, int n, int search_root,
                       lvt_err *e) {
    int best = -1, best_d = 1 << 30;
    for (int i = 0; i < n; i++) {
        int d = cfg_edit_distance(key, names[i]);
        if (d < best_d) best_d = d, best = i;
    }
    int len = (int)strlen(key);
    int limit = len / 3 < 1 ? 1 : (len / 3 > 3 ? 3 : len / 3);
    if (best >= 0 && best_d <= limit) return lvt_errf(e, "%s: unknown key, did you mean %s?", path, names[best]);
    char other[128];
    if (search_root && find_elsewhere(&CFG_ROOT, "", key, other, sizeof other))
        return lvt_errf(e, "%s: unknown key, did you mean %s?", path, other);
    char list[700];
    size_t used = 0;
    list[0] = 0;
    for (int i = 0; i < n && used + 40 < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
    return lvt_errf(e, "%s: unknown key (allowed: %s)", path, list);
}

/* Names of a section's fields plus optional extras, for suggestions. */
static int collect_names(const cfg_section *s, const char *const *extra, int n_extra, const char **out) {
    int n = 0;
    for (int i = 0; i < n_extra; i++) out[n++] = extra[i];
    for (int i = 0; s && i < s->n; i++) out[n++] = s->fields[i].name;
    return n;
}

static int duplicate_key(const cJSON *obj, const cJSON *item) {
    for (const cJSON *p = obj->child; p && p != item; p = p->next)
        if (!strcmp(p->string, item->string)) return 1;
    return 0;
}

/* ---- paths ------------------------------------------------------------------------------------ */

/* base_dir/p with "." and ".." folded lexically; absolute p is only folded. */
static int resolve_path(const char *base_dir, const char *p, char *out, size_t n, const char *path, lvt_err *e) {
    char joined[2 * LVT_PATH_MAX + 2];
    if (!*p || !base_dir) {
        if (strlen(p) >= n) return lvt_errf(e, "%s: path longer than %zu characters", path, n - 1);
        snprintf(out, n, "%s", p);
        return LVT_OK;
    }
    int k = p[0] == '/' ? snprintf(joined, sizeof joined, "%s", p) : snprintf(joined, sizeof joined, "%s/%s", base_dir, p);
    if (k < 0 || (size_t)k >= sizeof joined) /* never truncated into another directory */
        return lvt_errf(e, "%s: path longer than %zu characters once joined to %.40s...", path, n - 1, base_dir);
    int absolute = joined[0] == '/';
    const char *parts[LVT_PATH_MAX + 2]; /* a joined path of 2 * LVT_PATH_MAX + 1 characters has at most this many parts */
    int np = 0;
    char *save = NULL;
    for (char *tok = strtok_r(joined, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (!strcmp(tok, ".")) continue;
        if (!strcmp(tok, "..")) {
            if (np > 0 && strcmp(parts[np - 1], "..")) { np--; continue; }
            if (absolute) continue; /* "/.." is "/" */
        }
        parts[np++] = tok;
    }
    size_t len = 0;
    char buf[2 * LVT_PATH_MAX + 2];
    buf[0] = 0;
    if (absolute) buf[len++] = '/', buf[len] = 0;
    for (int i = 0; i < np; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? "/" : "", parts[i]);
    if (!len) snprintf(buf, sizeof buf, ".");
    if (strlen(buf) >= n) return lvt_errf(e, "%s: path longer than %zu characters", path, n - 1);
    snprintf(out, n, "%s", buf);
    return LVT_OK;
}

/* ---- one value ------------------------------------------------------------------------------------ */

static int parse_section(char *base, const cfg_section *s, const cJSON *obj, const char *prefix,
                         const parse_ctx *x, lvt_err *e);
static int parse_curriculum(lvt_config *c, const cJSON *arr, const parse_ctx *x, lvt_err *e);
static int parse_tripwires(lvt_config *c, const cJSON *arr, lvt_err *e);

static int parse_field(char *base, const cfg_field *f, const cJSON *j, const char *path, const parse_ctx *x,
                       lvt_err *e) {
    char got[96];
    char *p = base + f->off;
    switch (f->kind) {
    case K_INT: case K_LONG: case K_U64: {
        if (!cJSON_IsNumber(j)) return lvt_errf(e, "%s: expected an integer, got %s", path, json_got(j, got, sizeof got));
        double v = j->valuedouble;
        if (!isfinite(v) || v != floor(v))
            return lvt_errf(e, "%s: expected an integer, got %s", path, json_got(j, got, sizeof got));
        if (cfg_check_num(f, v, path, e)) return LVT_ERROR;
        if (f->kind == K_INT) *(int *)p = (int)v;
        else if (f->kind == K_LONG) *(long *)p = (long)v;
        else *(unsigned long long *)p = (unsigned long long)v;
        return LVT_OK;
    }
    case K_DBL:
        if (!cJSON_IsNumber(j)) return lvt_errf(e, "%s: expected a number, got %s", path, json_got(j, got, sizeof got));
        if (cfg_check_num(f, j->valuedouble, path, e)) return LVT_ERROR;
        *(double *)p = j->valuedouble;
        return LVT_OK;
    case K_BOOL:
        if (!cJSON_IsBool(j)) return lvt_errf(e, "%s: expected true or false, got %s", path, json_got(j, got, sizeof got));
        *(int *)p = cJSON_IsTrue(j) ? 1 : 0;
        return LVT_OK;
    case K_ENUM: {
        char names[256];
        if (!cJSON_IsString(j))
            return lvt_errf(e, "%s: expected a string (one of %s), got %s", path,
                            cfg_enum_names(f->values, names, sizeof names), json_got(j, got, sizeof got));
        return cfg_parse_enum(f, j->valuestring, (int *)p, path, e);
    }
    case K_PATH:
        if (!cJSON_IsString(j)) return lvt_errf(e, "%s: expected a path string, got %s", path, json_got(j, got, sizeof got));
        if (!*j->valuestring && !(f->flags & F_EMPTY_OK)) return lvt_errf(e, "%s: must not be empty", path);
        memset(p, 0, f->size);
        return resolve_path(x->base_dir, j->valuestring, p, f->size, path, e);
    case K_KEEP: {
        long v = -1;
        if (cJSON_IsString(j) && !strcmp(j->valuestring, "all")) {
            *(int *)p = 0;
            return LVT_OK;
        }
        if (cJSON_IsNumber(j) && isfinite(j->valuedouble) && j->valuedouble == floor(j->valuedouble) &&
            j->valuedouble >= 1 && j->valuedouble <= 1e9)
            v = (long)j->valuedouble;
        if (cJSON_IsString(j) && *j->valuestring && strlen(j->valuestring) < 10 &&
            strspn(j->valuestring, "0123456789") == strlen(j->valuestring))
            v = strtol(j->valuestring, NULL, 10);
        if (v < 1) return lvt_errf(e, "%s: expected \"all\" or a count >= 1, got %s", path, json_got(j, got, sizeof got));
        *(int *)p = (int)v;
        return LVT_OK;
    }
    case K_BETAS: {
        char ipath[160];
        if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2)
            return lvt_errf(e, "%s: expected [beta1, beta2], got %s", path, json_got(j, got, sizeof got));
        for (int i = 0; i < 2; i++) {
            const cJSON *b = cJSON_GetArrayItem(j, i);
            snprintf(ipath, sizeof ipath, "%s[%d]", path, i);
            if (!cJSON_IsNumber(b)) return lvt_errf(e, "%s: expected a number, got %s", ipath, json_got(b, got, sizeof got));
            if (cfg_check_num(f, b->valuedouble, ipath, e)) return LVT_ERROR;
            *(double *)(base + (i ? f->off2 : f->off)) = b->valuedouble;
        }
        return LVT_OK;
    }
    case K_SUB:
        if (!cJSON_IsObject(j)) return lvt_errf(e, "%s: expected an object, got %s", path, json_got(j, got, sizeof got));
        return parse_section(p, f->sub, j, path, x, e);
    case K_CURRICULUM: return parse_curriculum((lvt_config *)base, j, x, e);
    case K_TRIPWIRES: return parse_tripwires((lvt_config *)base, j, e);
    }
    return lvt_errf(e, "%s: unhandled key kind", path);
}

static int parse_section(char *base, const cfg_section *s, const cJSON *obj, const char *prefix,
                         const parse_ctx *x, lvt_err *e) {
    char path[160];
    for (const cJSON *j = obj->child; j; j = j->next) {
        join_path(path, sizeof path, prefix, j->string);
        if (duplicate_key(obj, j)) return lvt_errf(e, "%s: duplicate key", path);
        const cfg_field *f = cfg_find(s, j->string);
        if (!f) {
            const char *names[64];
            int n = collect_names(s, NULL, 0, names);
            return unknown_key(path, j->string, names, n, 1, e);
        }
        if (parse_field(base, f, j, path, x, e)) return LVT_ERROR;
    }
    return LVT_OK;
}

/* ---- curriculum and tripwires ------------------------------------------------------------------ */

/* One knob of a phase or a tripwire's "set": an objective name or "lr". Returns 1 if `key` is not
 * a knob (nothing reported), else LVT_OK / LVT_ERROR. */
static int parse_knob(lvt_override *ov, const cJSON *j, const char *path, lvt_err *e) {
    parse_ctx none = {NULL};
    if (!strcmp(j->string, "lr")) {
        cfg_field lr = *cfg_find(&CFG_OPTIM, "lr");
        lr.off = 0;
        if (parse_field((char *)&ov->lr, &lr, j, path, &none, e)) return LVT_ERROR;
        ov->set |= LVT_OV_LR;
        return LVT_OK;
    }
    const cfg_field *f = cfg_find(&CFG_OBJECTIVE, j->string);
    if (!f) return 1;
    if (parse_field((char *)&ov->obj, f, j, path, &none, e)) return LVT_ERROR;
    ov->set |= f->ov_bit;
    return LVT_OK;
}

static const cfg_field EPOCH_F = {.name = "epoch", .kind = K_INT, .off = 0, .size = sizeof(int), .lo = 1, .hi = 100000};

static int parse_phase(lvt_phase *ph, const cJSON *o, const char *where, lvt_err *e) {
    static const char *const extra[] = {"from_epoch", "name", "lr"};
    char path[160], got[96];
    parse_ctx none = {NULL};
    int have_from = 0;
    memset(ph, 0, sizeof *ph);
    if (!cJSON_IsObject(o)) return lvt_errf(e, "%s: expected a phase object, got %s", where, json_got(o, got, sizeof got));
    for (const cJSON *j = o->child; j; j = j->next) {
        snprintf(path, sizeof path, "%s.%s", where, j->string);
        if (duplicate_key(o, j)) return lvt_errf(e, "%s: duplicate key", path);
        if (!strcmp(j->string, "from_epoch")) {
            if (parse_field((char *)&ph->from_epoch, &EPOCH_F, j, path, &none, e)) return LVT_ERROR;
            have_from = 1;
        } else if (!strcmp(j->string, "name")) {
            if (!cJSON_IsString(j)) return lvt_errf(e, "%s: expected a string, got %s", path, json_got(j, got, sizeof got));
            if (strlen(j->valuestring) >= sizeof ph->name)
                return lvt_errf(e, "%s: longer than %zu characters", path, sizeof ph->name - 1);
            snprintf(ph->name, sizeof ph->name, "%s", j->valuestring);
        } else {
            int rc = parse_knob(&ph->ov, j, path, e);
            if (rc == LVT_ERROR) return LVT_ERROR;
            if (rc == 1) {
                const char *names[64];
                int n = collect_names(&CFG_OBJECTIVE, extra, 3, names);
                return unknown_key(path, j->string, names, n, 0, e);
            }
        }
    }
    if (!have_from) return lvt_errf(e, "%s: missing \"from_epoch\"", where);
    return LVT_OK;
}

/* The array of a list section (curriculum, tripwires): *n entries, at most max. */
static int list_section(const cJSON *arr, const char *sec, const char *things, int max, int *n, lvt_err *e) {
    char got[96];
    if (!cJSON_IsArray(arr))
        return lvt_errf(e, "%s: expected an array of %s objects, got %s", sec, things, json_got(arr, got, sizeof got));
    *n = cJSON_GetArraySize(arr);
    if (*n > max) return lvt_errf(e, "%s: %d entries (at most %d)", sec, *n, max);
    return LVT_OK;
}

static int parse_curriculum(lvt_config *c, const cJSON *arr, const parse_ctx *x, lvt_err *e) {
    char where[32];
    int n = 0;
    if (list_section(arr, "curriculum", "phase", LVT_MAX_PHASES, &n, e)) return LVT_ERROR;
    memset(c->phases, 0, sizeof c->phases);
    c->n_phases = n;
    int i = 0;
    for (const cJSON *o = arr->child; o; o = o->next, i++) {
        snprintf(where, sizeof where, "curriculum[%d]", i);
        if (parse_phase(&c->phases[i], o, where, e)) return LVT_ERROR;
    }
    return cfg_check_phases(c->phases, c->n_phases, e);
}

/* A baseline name at p ("baseline_copy_last" or "baseline_mean_of_context", the val store's
 * baselines that lvt train computes at start): sets *ref and *name and returns the end of the
 * name, else p. */
static const char *cfg_baseline_ref(const char *p, lvt_tripwire_ref *ref, const char **name) {
    static const cfg_enum refs[] = {{"baseline_copy_last", LVT_TRIPWIRE_VS_COPY_LAST},
                                    {"baseline_mean_of_context", LVT_TRIPWIRE_VS_MEAN_OF_CONTEXT}};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(refs[i].name);
        if (!strncmp(p, refs[i].name, n) && !(isalnum((unsigned char)p[n]) || p[n] == '_')) {
            *ref = (lvt_tripwire_ref)refs[i].value;
            *name = refs[i].name;
            return p + n;
        }
    }
    return p;
}

/* "METRIC OP NUMBER" or "METRIC OP BASELINE", e.g. "val_cos_drop_pct > 5", "val_cos < baseline_copy_last". */
static int parse_condition(lvt_tripwire *t, const char *s, const char *path, lvt_err *e) {
    const char *p = s;
    char metric[64];
    size_t m = 0;
    while (isspace((unsigned char)*p)) p++;
    while ((isalnum((unsigned char)*p) || *p == '_') && m + 1 < sizeof metric) metric[m++] = *p++;
    metric[m] = 0;
    while (isspace((unsigned char)*p)) p++;
    int op = -1;
    if (!strncmp(p, ">=", 2)) op = LVT_CMP_GE, p += 2;
    else if (!strncmp(p, "<=", 2)) op = LVT_CMP_LE, p += 2;
    else if (*p == '>' && p[1] != '=' && p[1] != '>' && p[1] != '<') op = LVT_CMP_GT, p += 1;
    else if (*p == '<' && p[1] != '=' && p[1] != '>' && p[1] != '<') op = LVT_CMP_LT, p += 1;
    char *end = NULL;
    double v = 0;
    lvt_tripwire_ref ref = LVT_TRIPWIRE_VS_VALUE;
    const char *ref_name = NULL;
    if (op >= 0) {
        while (isspace((unsigned char)*p)) p++;
        errno = 0;
        v = strtod(p, &end);
        if (end == p) end = (char *)cfg_baseline_ref(p, &ref, &ref_name);
        if (end != p) {
            while (isspace((unsigned char)*end)) end++;
        }
    }
    if (!m || op < 0 || !end || end == p || *end || errno || !isfinite(v))
        return lvt_errf(e, "%s: cannot parse condition \"%.100s\" (expected \"METRIC OP NUMBER\" or \"METRIC OP "
                        "baseline_copy_last|baseline_mean_of_context\", OP one of > >= < <=)", path, s);
    int mv = cfg_enum_value(CFG_METRICS, metric);
    if (mv < 0) {
        char allowed[128];
        cfg_enum_names(CFG_METRICS, allowed, sizeof allowed);
        int best = 0, best_d = 1 << 30;
        for (int i = 0; CFG_METRICS[i].name; i++) {
            int d = cfg_edit_distance(metric, CFG_METRICS[i].name);
            if (d < best_d) best_d = d, best = i;
        }
        if (best_d <= 3)
            return lvt_errf(e, "%s: unknown metric \"%.40s\" in \"%.100s\", did you mean %s? (allowed: %s)", path,
                            metric, s, CFG_METRICS[best].name, allowed);
        return lvt_errf(e, "%s: unknown metric \"%.40s\" in \"%.100s\" (allowed: %s)", path, metric, s, allowed);
    }
    char num[32];
    t->metric = (lvt_tripwire_metric)mv;
    t->op = (lvt_cmp)op;
    t->value = v;
    t->ref = ref;
    snprintf(t->cond_text, sizeof t->cond_text, "%s %s %s", metric, lvt_cmp_name(t->op),
             ref_name ? ref_name : cfg_fmt_num(v, num));
    return LVT_OK;
}

static int parse_tripwire(lvt_tripwire *t, const cJSON *o, const char *where, lvt_err *e) {
    static const char *const keys[] = {"epochs", "if", "set", "rollback_to_epoch"};
    static const char *const knob_extra[] = {"lr"};
    char path[160], kpath[192], got[96];
    parse_ctx none = {NULL};
    int have_epochs = 0, have_if = 0;
    memset(t, 0, sizeof *t);
    if (!cJSON_IsObject(o)) return lvt_errf(e, "%s: expected a tripwire object, got %s", where, json_got(o, got, sizeof got));
    for (const cJSON *j = o->child; j; j = j->next) {
        snprintf(path, sizeof path, "%s.%s", where, j->string);
        if (duplicate_key(o, j)) return lvt_errf(e, "%s: duplicate key", path);
        if (!strcmp(j->string, "epochs")) {
            const cJSON *a = cJSON_IsArray(j) && cJSON_GetArraySize(j) == 2 ? j->child : NULL;
            if (!a || !cJSON_IsNumber(a) || !cJSON_IsNumber(a->next) || a->valuedouble != floor(a->valuedouble) ||
                a->next->valuedouble != floor(a->next->valuedouble) || fabs(a->valuedouble) > 1e9 ||
                fabs(a->next->valuedouble) > 1e9)
                return lvt_errf(e, "%s: expected [first, last] (two integer epochs), got %s", path,
                                json_got(j, got, sizeof got));
            t->epoch_lo = (int)a->valuedouble;
            t->epoch_hi = (int)a->next->valuedouble;
            if (t->epoch_lo < 1 || t->epoch_hi < t->epoch_lo)
                return lvt_errf(e, "%s: must be [first, last] with 1 <= first <= last, got [%d, %d]", path,
                                t->epoch_lo, t->epoch_hi);
            have_epochs = 1;
        } else if (!strcmp(j->string, "if")) {
            if (!cJSON_IsString(j))
                return lvt_errf(e, "%s: expected a condition string \"METRIC OP NUMBER\", got %s", path,
                                json_got(j, got, sizeof got));
            if (parse_condition(t, j->valuestring, path, e)) return LVT_ERROR;
            have_if = 1;
        } else if (!strcmp(j->string, "set")) {
            if (!cJSON_IsObject(j)) return lvt_errf(e, "%s: expected an object of knobs, got %s", path, json_got(j, got, sizeof got));
            for (const cJSON *k = j->child; k; k = k->next) {
                snprintf(kpath, sizeof kpath, "%s.%s", path, k->string);
                if (duplicate_key(j, k)) return lvt_errf(e, "%s: duplicate key", kpath);
                int rc = parse_knob(&t->ov, k, kpath, e);
                if (rc == LVT_ERROR) return LVT_ERROR;
                if (rc == 1) {
                    const char *names[64];
                    int n = collect_names(&CFG_OBJECTIVE, knob_extra, 1, names);
                    return unknown_key(kpath, k->string, names, n, 0, e);
                }
            }
        } else if (!strcmp(j->string, "rollback_to_epoch")) {
            if (parse_field((char *)&t->rollback_to_epoch, &EPOCH_F, j, path, &none, e)) return LVT_ERROR;
        } else {
            return unknown_key(path, j->string, keys, 4, 0, e);
        }
    }
    if (!have_epochs) return lvt_errf(e, "%s: missing \"epochs\": [first, last]", where);
    if (!have_if) return lvt_errf(e, "%s: missing \"if\": \"METRIC OP NUMBER\"", where);
    return LVT_OK;
}

static int parse_tripwires(lvt_config *c, const cJSON *arr, lvt_err *e) {
    char where[32];
    int n = 0;
    if (list_section(arr, "tripwires", "tripwire", LVT_MAX_TRIPWIRES, &n, e)) return LVT_ERROR;
    memset(c->tripwires, 0, sizeof c->tripwires);
    c->n_tripwires = n;
    int i = 0;
    for (const cJSON *o = arr->child; o; o = o->next, i++) {
        snprintf(where, sizeof where, "tripwires[%d]", i);
        if (parse_tripwire(&c->tripwires[i], o, where, e)) return LVT_ERROR;
    }
    return cfg_check_tripwires(c->tripwires, c->n_tripwires, e);
}

/* ---- text, --set, files --------------------------------------------------------------------------- */

/* One pass over text's '{' / '[' nesting outside strings: the deepest level, and whether some
 * bracket or string is never closed. */
typedef struct nesting {
    int max_depth, unclosed;
} nesting;

static nesting scan_nesting(const char *text) {
    int depth = 0, in_str = 0, best = 0;
    for (const char *p = text; *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1]) p++;
            else if (*p == '"') in_str = 0;
        } else if (*p == '"') {
            in_str = 1;
        } else if (*p == '{' || *p == '[') {
            if (++depth > best) best = depth;
        } else if (*p == '}' || *p == ']') {
            depth--;
        }
    }
    return (nesting){.max_depth = best, .unclosed = depth > 0 || in_str};
}

/* "NAME:LINE:COL: syntax error near '...'" from cJSON's error position. */
static int syntax_error(const char *text, const char *err, const char *name, lvt_err *e) {
    size_t len = strlen(text), off = err && err >= text ? (size_t)(err - text) : 0;
    if (off > len) off = len;
    const nesting nest = scan_nesting(text);
    const int depth = nest.max_depth;
    if (depth > CJSON_NESTING_LIMIT)
        return lvt_errf(e, "%s: nested %d levels deep; a config nests at most %d levels", name, depth, CJSON_NESTING_LIMIT);
    int eof = off >= len && nest.unclosed;
    /* cJSON sometimes stops on the whitespace after the culprit (or at the very end): step back */
    if (!eof)
        while (off > 0 && (off >= len || isspace((unsigned char)text[off]))) off--;
    int line = 1, col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') line++, col = 1;
        else if (((unsigned char)text[i] & 0xC0) != 0x80) col++;
    }
    if (eof) return lvt_errf(e, "%s:%d:%d: syntax error: unexpected end of input (unclosed '{', '[' or string)", name, line, col);
    char near[24];
    size_t k = 0;
    for (size_t i = off; i < len && text[i] != '\n' && k + 1 < sizeof near; i++)
        near[k++] = isprint((unsigned char)text[i]) ? text[i] : '?';
    near[k] = 0;
    return lvt_errf(e, "%s:%d:%d: syntax error near '%s'", name, line, col, near);
}

/* Messages are one line: control characters the input smuggled in (a raw newline inside a key,
 * which cJSON accepts) become '?'. Returns LVT_ERROR. */
static int one_line(lvt_err *e) {
    if (e)
        for (char *q = e->msg; *q; q++)
            if ((unsigned char)*q < 0x20 || *q == 0x7f) *q = '?';
    return LVT_ERROR;
}

static int parse_text(lvt_config *c, const char *text, const char *name, const char *base_dir, int validate,
                      lvt_err *e) {
    const char *p = text;
    while (isspace((unsigned char)*p)) p++;
    if (!*p) return lvt_errf(e, "%s: empty (expected a JSON object)", name);
    const char *err = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &err, 1);
    if (!root) return syntax_error(text, err, name, e);
    int rc = LVT_OK;
    lvt_config *tmp = NULL;
    parse_ctx x = {base_dir};
    if (!cJSON_IsObject(root)) {
        rc = lvt_errf(e, "%s: expected a JSON object at the top level, got %s", name, json_type(root));
    } else if (!(tmp = lvt_malloc(sizeof *tmp, e))) {
        rc = LVT_ERROR;
    } else {
        *tmp = *c;
        if (parse_section((char *)tmp, &CFG_ROOT, root, "", &x, e) || (validate && lvt_config_validate(tmp, e)))
            rc = lvt_err_prefix(e, "%s", name);
        else
            *c = *tmp;
    }
    free(tmp);
    cJSON_Delete(root);
    return rc ? one_line(e) : LVT_OK;
}

int lvt_config_parse(lvt_config *c, const char *json_text, const char *name, const char *base_dir, lvt_err *e) {
    return parse_text(c, json_text, name ? name : "config", base_dir, 1, e);
}

int lvt_config_set(lvt_config *c, const char *assignment, lvt_err *e) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return lvt_errf(e, "--set: expected KEY=VALUE (e.g. objective.rollout_h=4), got \"%.200s\"", assignment);
    size_t klen = (size_t)(eq - assignment);
    if (klen >= 256) return lvt_errf(e, "--set: key too long");
    char key[256];
    memcpy(key, assignment, klen);
    key[klen] = 0;
    const char *val = eq + 1;

    /* the value: JSON if it parses, else a bare string */
    cJSON *v = cJSON_ParseWithOpts(val, NULL, 1);
    if (!v) v = cJSON_CreateString(val);
    cJSON *root = cJSON_CreateObject();
    if (!v || !root) {
        cJSON_Delete(v);
        cJSON_Delete(root);
        return lvt_errf(e, "--set: out of memory");
    }
    /* {"a": {"b": value}} from "a.b" */
    cJSON *cur = root;
    char *seg = key;
    for (;;) {
        char *dot = strchr(seg, '.');
        if (dot) *dot = 0;
        if (!*seg) {
            cJSON_Delete(v);
            cJSON_Delete(root);
            return lvt_errf(e, "--set: empty component in key \"%.*s\"", (int)klen, assignment);
        }
        if (!dot) {
            cJSON_AddItemToObject(cur, seg, v);
            break;
        }
        cJSON *next = cJSON_CreateObject();
        cJSON_AddItemToObject(cur, seg, next);
        cur = next;
        seg = dot + 1;
    }

    char cwd[LVT_PATH_MAX];
    parse_ctx x = {getcwd(cwd, sizeof cwd) ? cwd : NULL};
    int rc = LVT_OK;
    lvt_config *tmp = lvt_malloc(sizeof *tmp, e);
    if (!tmp) {
        rc = LVT_ERROR;
    } else {
        *tmp = *c;
        if (parse_section((char *)tmp, &CFG_ROOT, root, "", &x, e)) rc = lvt_err_prefix(e, "--set");
        else *c = *tmp;
    }
    free(tmp);
    cJSON_Delete(root);
    return rc ? one_line(e) : LVT_OK;
}

/* Make every still-relative path absolute against `dir` (defaults are relative to the working dir). */
static int absolutize(char *base, const cfg_section *s, const char *prefix, const char *dir, lvt_err *e) {
    char path[160], copy[LVT_PATH_MAX];
    for (int i = 0; i < s->n; i++) {
        const cfg_field *f = &s->fields[i];
        join_path(path, sizeof path, prefix, f->name);
        if (f->kind == K_SUB && absolutize(base + f->off, f->sub, path, dir, e)) return LVT_ERROR;
        if (f->kind != K_PATH) continue;
        char *p = base + f->off;
        if (!*p || p[0] == '/') continue;
        snprintf(copy, sizeof copy, "%s", p);
        memset(p, 0, f->size);
        if (resolve_path(dir, copy, p, f->size, path, e)) return LVT_ERROR;
    }
    return LVT_OK;
}

static int read_text(const char *path, char **out, lvt_err *e) {
    struct stat st;
    if (stat(path, &st) != 0) return lvt_errf(e, "cannot open %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return lvt_errf(e, "%s: is a directory, not a config file", path);
    if (st.st_size > MAX_CONFIG_BYTES)
        return lvt_errf(e, "%s: %lld bytes is too large for a config file", path, (long long)st.st_size);
    FILE *f = fopen(path, "rb");
    if (!f) return lvt_errf(e, "cannot open %s: %s", path, strerror(errno));
    char *buf = lvt_malloc((size_t)st.st_size + 1, e);
    if (!buf) {
        fclose(f);
        return LVT_ERROR;
    }
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return lvt_errf(e, "cannot read %s", path);
    }
    buf[n] = 0;
    if (memchr(buf, 0, n)) {
        size_t at = strlen(buf);
        free(buf);
        return lvt_errf(e, "%s: NUL byte at offset %zu (not a JSON text file)", path, at);
    }
    *out = buf;
    return LVT_OK;
}

static int load_file(lvt_config *c, const char *path, int validate, lvt_err *e) {
    char *text = NULL;
    if (read_text(path, &text, e)) return one_line(e);

    /* the directory of the file, absolute, for its relative paths */
    char dir[LVT_PATH_MAX], cwd[LVT_PATH_MAX];
    if (strlen(path) >= sizeof dir) {
        free(text);
        return lvt_errf(e, "%.40s...: config path longer than %zu characters", path, sizeof dir - 1);
    }
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    char *absdir = realpath(dir, NULL);
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, ".");

    /* defaults, with output.run_dir = runs/<file name without .json> (relative to the working dir) */
    lvt_config *tmp = lvt_malloc(sizeof *tmp, e);
    if (!tmp) {
        free(text);
        free(absdir);
        return LVT_ERROR;
    }
    lvt_config_defaults(tmp);
    const char *stem = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t sl = strlen(stem);
    if (sl > 5 && !strcmp(stem + sl - 5, ".json")) sl -= 5;
    if (sl == 0 || sl > 200) stem = "default", sl = 7;
    memset(tmp->output.run_dir, 0, sizeof tmp->output.run_dir);
    snprintf(tmp->output.run_dir, sizeof tmp->output.run_dir, "runs/%.*s", (int)sl, stem);

    int rc = parse_text(tmp, text, path, absdir ? absdir : dir, validate, e);
    if (rc == LVT_OK && absolutize((char *)tmp, &CFG_ROOT, "", cwd, e)) rc = one_line(e);
    if (rc == LVT_OK) *c = *tmp;
    free(tmp);
    free(text);
    free(absdir);
    return rc;
}

int lvt_config_load(lvt_config *c, const char *path, lvt_err *e) {
    return load_file(c, path, 1, e);
}

int lvt_config_load_sets(lvt_config *c, const char *path, const char *const *sets, int n_sets, lvt_err *e) {
    if (load_file(c, path, n_sets == 0, e)) return LVT_ERROR;
    for (int i = 0; i < n_sets; i++)
        if (lvt_config_set(c, sets[i], e)) return LVT_ERROR;
    if (lvt_config_validate(c, e)) {
        lvt_err_prefix(e, "%s%s", path, n_sets ? " (with --set)" : "");
        return one_line(e);
    }
    return LVT_OK;
}
