/* config.c — the run configuration (include/lvt/config.h): the key table (every key, its type,
 * range and default, once), defaults, validation, the resolved JSON echo and knob overrides.
 * JSON parsing, --set and file loading live in config_parse.c. */
#include "lvt/config.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_table.h"
#include "lvt/json.h"

/* ---- the table ----------------------------------------------------------------------------------- */

#define INF HUGE_VAL
#define MAX53 9007199254740992.0 /* 2^53: the largest integer a JSON number carries exactly */
#define MSIZE(T, m) sizeof(((T *)0)->m)

/* Config members (offsets into lvt_config). */
#define C_INT(nm, m, l, h, d) {.name = nm, .kind = K_INT, .off = offsetof(lvt_config, m), .size = MSIZE(lvt_config, m), .lo = l, .hi = h, .def = d}
#define C_LONG(nm, m, l, h, d) {.name = nm, .kind = K_LONG, .off = offsetof(lvt_config, m), .size = MSIZE(lvt_config, m), .lo = l, .hi = h, .def = d}
#define C_U64(nm, m, l, h, d) {.name = nm, .kind = K_U64, .off = offsetof(lvt_config, m), .size = MSIZE(lvt_config, m), .lo = l, .hi = h, .def = d}
#define C_DBL(nm, m, l, h, fl, d) {.name = nm, .kind = K_DBL, .off = offsetof(lvt_config, m), .size = MSIZE(lvt_config, m), .lo = l, .hi = h, .flags = fl, .def = d}
#define C_BOOL(nm, m, d) {.name = nm, .kind = K_BOOL, .off = offsetof(lvt_config, m), .size = MSIZE(lvt_config, m), .lo = 0, .hi = 1, .def = d}
#define C_ENUM(nm, m, vals, d) {.name = nm, .kind = K_ENUM, .off = offsetof(lvt_config, m), .size = MSIZE(lvt_config, m), .values = vals, .def = d}
#define C_PATH(nm, m, fl, d) {.name = nm, .kind = K_PATH, .off = offsetof(lvt_config, m), .size = MSIZE(lvt_config, m), .flags = fl, .def_s = d}
#define C_SUB(nm, m, s) {.name = nm, .kind = K_SUB, .off = m, .sub = &s}

/* Objective knobs (offsets into lvt_objective_cfg). */
#define O_INT(nm, l, h, d, bit) {.name = #nm, .kind = K_INT, .off = offsetof(lvt_objective_cfg, nm), .size = MSIZE(lvt_objective_cfg, nm), .lo = l, .hi = h, .def = d, .ov_bit = bit}
#define O_DBL(nm, l, h, fl, d, bit) {.name = #nm, .kind = K_DBL, .off = offsetof(lvt_objective_cfg, nm), .size = MSIZE(lvt_objective_cfg, nm), .lo = l, .hi = h, .flags = fl, .def = d, .ov_bit = bit}
#define O_ENUM(nm, vals, d, bit) {.name = #nm, .kind = K_ENUM, .off = offsetof(lvt_objective_cfg, nm), .size = MSIZE(lvt_objective_cfg, nm), .values = vals, .def = d, .ov_bit = bit}

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The spellings of every choice key (K_ENUM fields store the value as an int). */
static const cfg_enum ARCH_E[] = {{"transformer", LVT_ARCH_TRANSFORMER}, {NULL, 0}};
static const cfg_enum SHARD_E[] = {{"replicate", LVT_SHARD_REPLICATE}, {"articles", LVT_SHARD_ARTICLES}, {NULL, 0}};
static const cfg_enum BACKEND_E[] = {
    {"auto", LVT_BACKEND_AUTO}, {"cpu", LVT_BACKEND_CPU}, {"cuda", LVT_BACKEND_CUDA}, {NULL, 0}};
static const cfg_enum MATH_E[] = {
    {"fp32", LVT_TRAIN_MATH_FP32}, {"tf32", LVT_TRAIN_MATH_TF32}, {"bf16", LVT_TRAIN_MATH_BF16}, {NULL, 0}};
static const cfg_enum SCHEDULE_E[] = {
    {"plateau", LVT_SCHED_PLATEAU}, {"cosine", LVT_SCHED_COSINE}, {"constant", LVT_SCHED_CONSTANT}, {NULL, 0}};
static const cfg_enum BASE_LOSS_E[] = {
    {"mse", LVT_BASE_MSE}, {"cosine", LVT_BASE_COSINE}, {"mse+cosine", LVT_BASE_MSE_COSINE}, {NULL, 0}};
static const cfg_enum ROLLOUT_GRAD_E[] = {{"full", LVT_ROLLOUT_GRAD_FULL}, {"first", LVT_ROLLOUT_GRAD_FIRST}, {NULL, 0}};
static const cfg_enum SUPERVISE_E[] = {{"flat", LVT_SUPERVISE_FLAT}, {"truth", LVT_SUPERVISE_TRUTH}, {NULL, 0}};
static const cfg_enum DIR_REF_E[] = {{"prev", LVT_DIR_REF_PREV}, {"last", LVT_DIR_REF_LAST}, {NULL, 0}};
static const cfg_enum ADAPTIVE_E[] = {
    {"batch", LVT_ADAPTIVE_BATCH}, {"sample", LVT_ADAPTIVE_SAMPLE}, {"off", LVT_ADAPTIVE_OFF}, {NULL, 0}};
static const cfg_enum DROP_MODE_E[] = {
    {"noise", LVT_CTX_DROP_NOISE}, {"zero", LVT_CTX_DROP_ZERO}, {"mean", LVT_CTX_DROP_MEAN}, {NULL, 0}};
static const cfg_enum MONITOR_E[] = {
    {"auto", LVT_MONITOR_AUTO}, {"val_loss", LVT_MONITOR_VAL_LOSS}, {"val_cos", LVT_MONITOR_VAL_COS}, {NULL, 0}};
const cfg_enum CFG_METRICS[] = {{"val_cos", LVT_METRIC_VAL_COS},
                                {"val_loss", LVT_METRIC_VAL_LOSS},
                                {"margin", LVT_METRIC_MARGIN},
                                {"val_cos_drop_pct", LVT_METRIC_VAL_COS_DROP_PCT},
                                {"train_loss", LVT_METRIC_TRAIN_LOSS},
                                {NULL, 0}};

/* K_ENUM fields are read and written as int. */
_Static_assert(sizeof(lvt_model_arch) == sizeof(int) && sizeof(lvt_data_shard) == sizeof(int) &&
                   sizeof(lvt_train_backend) == sizeof(int) && sizeof(lvt_train_math) == sizeof(int) &&
                   sizeof(lvt_sched_kind) == sizeof(int) && sizeof(lvt_rollout_grad) == sizeof(int) &&
                   sizeof(lvt_rollout_supervise) == sizeof(int) && sizeof(lvt_dir_ref) == sizeof(int) &&
                   sizeof(lvt_adaptive_dir) == sizeof(int) && sizeof(lvt_ctx_drop_mode) == sizeof(int) &&
                   sizeof(lvt_tripwire_metric) == sizeof(int) && sizeof(lvt_base_loss) == sizeof(int) &&
                   sizeof(lvt_monitor) == sizeof(int),
               "config enums must be int-sized");

static const cfg_field MODEL_F[] = {
    C_ENUM("arch", model.arch, ARCH_E, LVT_ARCH_TRANSFORMER),
    C_INT("dim", model.dim, 1, 65536, 768),
    C_INT("d_model", model.d_model, 1, 65536, 512),
    C_INT("n_heads", model.n_heads, 1, 1024, 8),
    C_INT("n_layers", model.n_layers, 1, 256, 4),
    C_INT("ffn_mult", model.ffn_mult, 1, 64, 4),
    C_DBL("dropout", model.dropout, 0, 1, F_HI_OPEN, 0.1),
};
static const cfg_section MODEL_S = {"model", MODEL_F, COUNT(MODEL_F)};

static const cfg_field DATA_F[] = {
    C_PATH("train", data.train, 0, "data/train.h5"),
    C_PATH("val", data.val, 0, "data/val.h5"),
    C_PATH("ood", data.ood, F_EMPTY_OK, "data/ood.h5"),
    C_INT("context_len", data.context_len, 1, 1024, 5),
    C_BOOL("normalize", data.normalize, 1),
    C_BOOL("drop_degenerate", data.drop_degenerate, 0),
    C_ENUM("shard", data.shard, SHARD_E, LVT_SHARD_REPLICATE),
    C_BOOL("cross_article", data.cross_article, 0),
};
static const cfg_section DATA_S = {"data", DATA_F, COUNT(DATA_F)};

static const cfg_field TRAIN_F[] = {
    C_INT("epochs", train.epochs, 1, 100000, 20),
    C_INT("global_batch", train.global_batch, 1, 16777216, 64),
    C_INT("micro_batch", train.micro_batch, 0, 16777216, 0),
    C_LONG("max_steps", train.max_steps, 0, MAX53, 0),
    C_U64("seed", train.seed, 0, MAX53, 42),
    C_ENUM("backend", train.backend, BACKEND_E, LVT_BACKEND_AUTO),
    C_ENUM("math", train.math, MATH_E, LVT_TRAIN_MATH_TF32),
    C_INT("log_every", train.log_every, 0, INT_MAX, 100),
    C_DBL("grad_clip", train.grad_clip, 0, INF, 0, 1.0),
    C_INT("grad_accum", train.grad_accum, 0, 1048576, 0),
    C_INT("nan_max_retries", train.nan_max_retries, 0, 1000, 3),
    C_BOOL("cuda_graph", train.cuda_graph, 1),
    C_ENUM("monitor", train.monitor, MONITOR_E, LVT_MONITOR_AUTO),
};
static const cfg_section TRAIN_S = {"train", TRAIN_F, COUNT(TRAIN_F)};

static const cfg_field PLATEAU_F[] = {
    C_DBL("factor", optim.plateau_factor, 0, 1, F_LO_OPEN | F_HI_OPEN, 0.5),
    C_INT("patience", optim.plateau_patience, 0, 1000000, 3),
    C_DBL("threshold", optim.plateau_threshold, 0, INF, 0, 1e-4),
};
static const cfg_section PLATEAU_S = {"plateau", PLATEAU_F, COUNT(PLATEAU_F)};

static const cfg_field OPTIM_F[] = {
    C_DBL("lr", optim.lr, 0, INF, F_LO_OPEN, 5e-4),
    {.name = "betas", .kind = K_BETAS, .off = offsetof(lvt_config, optim.beta1),
     .off2 = offsetof(lvt_config, optim.beta2), .size = sizeof(double), .lo = 0, .hi = 1,
     .flags = F_HI_OPEN, .def = 0.9, .def2 = 0.999},
    C_DBL("eps", optim.eps, 0, INF, F_LO_OPEN, 1e-8),
    C_DBL("weight_decay", optim.weight_decay, 0, INF, 0, 0.01),
    C_ENUM("schedule", optim.schedule, SCHEDULE_E, LVT_SCHED_PLATEAU),
    C_SUB("plateau", 0, PLATEAU_S),
    C_DBL("min_lr", optim.min_lr, 0, INF, 0, 0.0),
};
const cfg_section CFG_OPTIM = {"optim", OPTIM_F, COUNT(OPTIM_F)};

static const cfg_field OBJECTIVE_F[] = {
    O_ENUM(base_loss, BASE_LOSS_E, LVT_BASE_MSE, LVT_OV_BASE_LOSS),
    O_DBL(cosine_weight, 0, INF, 0, 1.0, LVT_OV_COSINE_WEIGHT),
    O_INT(rollout_h, 0, 16, 0, LVT_OV_ROLLOUT_H),
    O_DBL(lambda_roll, 0, INF, 0, 0.0, LVT_OV_LAMBDA_ROLL),
    O_ENUM(rollout_grad, ROLLOUT_GRAD_E, LVT_ROLLOUT_GRAD_FULL, LVT_OV_ROLLOUT_GRAD),
    O_ENUM(rollout_supervise, SUPERVISE_E, LVT_SUPERVISE_FLAT, LVT_OV_ROLLOUT_SUPERVISE),
    O_DBL(flat_threshold, -1, 1, 0, 0.95, LVT_OV_FLAT_THRESHOLD),
    O_DBL(flat_scale, 0, INF, 0, 10.0, LVT_OV_FLAT_SCALE),
    O_DBL(lambda_dir, 0, INF, 0, 0.0, LVT_OV_LAMBDA_DIR),
    O_DBL(margin_dir, 0, 2, 0, 0.01, LVT_OV_MARGIN_DIR),
    O_ENUM(dir_ref, DIR_REF_E, LVT_DIR_REF_PREV, LVT_OV_DIR_REF),
    O_ENUM(adaptive_dir, ADAPTIVE_E, LVT_ADAPTIVE_BATCH, LVT_OV_ADAPTIVE_DIR),
    O_DBL(lambda_fut, 0, INF, 0, 0.0, LVT_OV_LAMBDA_FUT),
    O_DBL(margin_fut, 0, 2, 0, 0.008, LVT_OV_MARGIN_FUT),
    O_DBL(lambda_ac, 0, INF, 0, 0.0, LVT_OV_LAMBDA_AC),
    O_DBL(margin_ac, 0, 2, 0, 0.02, LVT_OV_MARGIN_AC),
    O_DBL(context_drop_p, 0, 1, 0, 0.0, LVT_OV_CONTEXT_DROP_P),
    O_ENUM(context_drop_mode, DROP_MODE_E, LVT_CTX_DROP_NOISE, LVT_OV_CONTEXT_DROP_MODE),
};
const cfg_section CFG_OBJECTIVE = {"objective", OBJECTIVE_F, COUNT(OBJECTIVE_F)};

static const cfg_field EVAL_F[] = {
    C_INT("mini5cat_samples", eval.mini5cat_samples, 0, INT_MAX, 500),
};
static const cfg_section EVAL_S = {"eval", EVAL_F, COUNT(EVAL_F)};

static const cfg_field OUTPUT_F[] = {
    C_PATH("run_dir", output.run_dir, 0, "runs/default"),
    {.name = "keep_epochs", .kind = K_KEEP, .off = offsetof(lvt_config, output.keep_epochs),
     .size = MSIZE(lvt_config, output.keep_epochs), .def = 0},
};
static const cfg_section OUTPUT_S = {"output", OUTPUT_F, COUNT(OUTPUT_F)};

static const cfg_field ROOT_F[] = {
    C_SUB("model", 0, MODEL_S),
    C_SUB("data", 0, DATA_S),
    C_SUB("train", 0, TRAIN_S),
    C_SUB("optim", 0, CFG_OPTIM),
    C_SUB("objective", offsetof(lvt_config, objective), CFG_OBJECTIVE),
    {.name = "curriculum", .kind = K_CURRICULUM},
    {.name = "tripwires", .kind = K_TRIPWIRES},
    C_SUB("eval", 0, EVAL_S),
    C_SUB("output", 0, OUTPUT_S),
};
const cfg_section CFG_ROOT = {"", ROOT_F, COUNT(ROOT_F)};

/* ---- small shared helpers -------------------------------------------------------------------- */

const char *cfg_fmt_num(double v, char *buf) {
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

int cfg_enum_value(const cfg_enum *list, const char *s) {
    for (const cfg_enum *v = list; v->name; v++)
        if (!strcmp(v->name, s)) return v->value;
    return -1;
}

const char *cfg_enum_name(const cfg_enum *list, int value) {
    for (const cfg_enum *v = list; v->name; v++)
        if (v->value == value) return v->name;
    return NULL;
}

const char *cfg_enum_names(const cfg_enum *list, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = 0;
    for (const cfg_enum *v = list; v->name && len < n; v++) {
        int k = snprintf(buf + len, n - len, "%s%s", v == list ? "" : "|", v->name);
        if (k < 0) break;
        len += (size_t)k;
    }
    return buf;
}

int cfg_check_num(const cfg_field *f, double v, const char *path, lvt_err *e) {
    char a[32], b[32], got[32];
    int lo_ok = (f->flags & F_LO_OPEN) ? v > f->lo : v >= f->lo;
    int hi_ok = (f->flags & F_HI_OPEN) ? v < f->hi : v <= f->hi;
    if (isfinite(v) && lo_ok && hi_ok) return LVT_OK;
    cfg_fmt_num(f->lo, a);
    cfg_fmt_num(f->hi, b);
    cfg_fmt_num(v, got);
    if (isinf(f->hi))
        return lvt_errf(e, "%s: must be %s %s, got %s", path, (f->flags & F_LO_OPEN) ? ">" : ">=", a, got);
    return lvt_errf(e, "%s: must be in %c%s, %s%c, got %s", path, (f->flags & F_LO_OPEN) ? '(' : '[', a, b,
                    (f->flags & F_HI_OPEN) ? ')' : ']', got);
}

int cfg_parse_enum(const cfg_field *f, const char *s, int *out, const char *path, lvt_err *e) {
    char names[256];
    int v = cfg_enum_value(f->values, s);
    if (v < 0) return lvt_errf(e, "%s: must be one of %s, got \"%.100s\"", path, cfg_enum_names(f->values, names, sizeof names), s);
    *out = v;
    return LVT_OK;
}

const char *lvt_config_choice_name(lvt_choice which, int v) {
    static const cfg_enum *const LISTS[] = {
        [LVT_CHOICE_ARCH] = ARCH_E, [LVT_CHOICE_SHARD] = SHARD_E, [LVT_CHOICE_BACKEND] = BACKEND_E,
        [LVT_CHOICE_MATH] = MATH_E, [LVT_CHOICE_SCHEDULE] = SCHEDULE_E, [LVT_CHOICE_ROLLOUT_GRAD] = ROLLOUT_GRAD_E,
        [LVT_CHOICE_ROLLOUT_SUPERVISE] = SUPERVISE_E, [LVT_CHOICE_DIR_REF] = DIR_REF_E,
        [LVT_CHOICE_ADAPTIVE_DIR] = ADAPTIVE_E, [LVT_CHOICE_CONTEXT_DROP_MODE] = DROP_MODE_E,
        [LVT_CHOICE_METRIC] = CFG_METRICS, [LVT_CHOICE_BASE_LOSS] = BASE_LOSS_E, [LVT_CHOICE_MONITOR] = MONITOR_E,
    };
    const char *name = (unsigned)which < COUNT(LISTS) && LISTS[which] ? cfg_enum_name(LISTS[which], v) : NULL;
    return name ? name : "?";
}

const cfg_field *cfg_find(const cfg_section *s, const char *name) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->fields[i].name, name)) return &s->fields[i];
    return NULL;
}

int cfg_edit_distance(const char *a, const char *b) {
    enum { M = 64 };
    int n = (int)strlen(a), m = (int)strlen(b);
    if (n >= M || m >= M) return n > m ? n : m;
    int d[M][M];
    for (int i = 0; i <= n; i++) d[i][0] = i;
    for (int j = 0; j <= m; j++) d[0][j] = j;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best) best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

/* ---- defaults --------------------------------------------------------------------------------- */

static void set_defaults(char *base, const cfg_section *s) {
    for (int i = 0; i < s->n; i++) {
        const cfg_field *f = &s->fields[i];
        char *p = base + f->off;
        switch (f->kind) {
        case K_INT: case K_BOOL: case K_ENUM: case K_KEEP: *(int *)p = (int)f->def; break;
        case K_LONG: *(long *)p = (long)f->def; break;
        case K_U64: *(unsigned long long *)p = (unsigned long long)f->def; break;
        case K_DBL: *(double *)p = f->def; break;
        case K_PATH: snprintf(p, f->size, "%s", f->def_s); break;
        case K_BETAS:
            *(double *)p = f->def;
            *(double *)(base + f->off2) = f->def2;
            break;
        case K_SUB: set_defaults(p, f->sub); break;
        case K_CURRICULUM: case K_TRIPWIRES: break; /* empty lists: zeroed below */
        }
    }
}

void lvt_config_defaults(lvt_config *c) {
    memset(c, 0, sizeof *c);
    set_defaults((char *)c, &CFG_ROOT);
}

/* ---- validation ------------------------------------------------------------------------------- */

static double num_at(const cfg_field *f, const char *p) {
    switch (f->kind) {
    case K_INT: case K_BOOL: return *(const int *)p;
    case K_LONG: return (double)*(const long *)p;
    case K_U64: return (double)*(const unsigned long long *)p;
    case K_DBL: return *(const double *)p;
    default: return 0;
    }
}

/* Ranges and choices of every field of a section (recursively); `only` restricts to flagged
 * objective knobs (phases, tripwires). */
static int check_section(const char *base, const cfg_section *s, const char *prefix, unsigned only,
                         int use_only, lvt_err *e) {
    char path[256];
    for (int i = 0; i < s->n; i++) {
        const cfg_field *f = &s->fields[i];
        const char *p = base + f->off;
        if (use_only && !(only & f->ov_bit)) continue;
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", f->name);
        switch (f->kind) {
        case K_INT: case K_LONG: case K_U64: case K_DBL:
            if (cfg_check_num(f, num_at(f, p), path, e)) return LVT_ERROR;
            break;
        case K_BOOL:
            if (*(const int *)p != 0 && *(const int *)p != 1)
                return lvt_errf(e, "%s: must be true or false", path);
            break;
        case K_ENUM:
            if (!cfg_enum_name(f->values, *(const int *)p))
                return lvt_errf(e, "%s: value %d is not a valid choice", path, *(const int *)p);
            break;
        case K_PATH:
            if (!memchr(p, 0, f->size)) return lvt_errf(e, "%s: not NUL-terminated", path);
            if (!*p && !(f->flags & F_EMPTY_OK)) return lvt_errf(e, "%s: must not be empty", path);
            break;
        case K_KEEP:
            if (*(const int *)p < 0) return lvt_errf(e, "%s: must be \"all\" or a count >= 1, got %d", path, *(const int *)p);
            break;
        case K_BETAS:
            if (cfg_check_num(f, *(const double *)p, path, e)) return LVT_ERROR;
            if (cfg_check_num(f, *(const double *)(base + f->off2), path, e)) return LVT_ERROR;
            break;
        case K_SUB:
            if (check_section(p, f->sub, path, only, use_only, e)) return LVT_ERROR;
            break;
        case K_CURRICULUM: case K_TRIPWIRES: break; /* checked by lvt_config_validate */
        }
    }
    return LVT_OK;
}

static int check_override(const lvt_override *ov, const char *prefix, lvt_err *e) {
    char path[256];
    if (check_section((const char *)&ov->obj, &CFG_OBJECTIVE, prefix, ov->set, 1, e)) return LVT_ERROR;
    if (ov->set & LVT_OV_LR) {
        snprintf(path, sizeof path, "%s.lr", prefix);
        if (cfg_check_num(cfg_find(&CFG_OPTIM, "lr"), ov->lr, path, e))
            return LVT_ERROR;
    }
    return LVT_OK;
}

int cfg_check_phases(const lvt_phase *phases, int n, lvt_err *e) {
    char path[64];
    if (n < 0 || n > LVT_MAX_PHASES) return lvt_errf(e, "curriculum: %d phases (at most %d)", n, LVT_MAX_PHASES);
    for (int i = 0; i < n; i++) {
        const lvt_phase *ph = &phases[i];
        if (ph->from_epoch < 1)
            return lvt_errf(e, "curriculum[%d].from_epoch: must be >= 1, got %d", i, ph->from_epoch);
        if (i > 0 && ph->from_epoch <= phases[i - 1].from_epoch)
            return lvt_errf(e, "curriculum[%d].from_epoch %d is not after curriculum[%d].from_epoch %d", i,
                            ph->from_epoch, i - 1, phases[i - 1].from_epoch);
        if (!memchr(ph->name, 0, sizeof ph->name)) return lvt_errf(e, "curriculum[%d].name: not NUL-terminated", i);
        snprintf(path, sizeof path, "curriculum[%d]", i);
        if (check_override(&ph->ov, path, e)) return LVT_ERROR;
    }
    return LVT_OK;
}

int cfg_check_tripwires(const lvt_tripwire *tw, int n, lvt_err *e) {
    char path[64];
    if (n < 0 || n > LVT_MAX_TRIPWIRES)
        return lvt_errf(e, "tripwires: %d entries (at most %d)", n, LVT_MAX_TRIPWIRES);
    for (int i = 0; i < n; i++) {
        const lvt_tripwire *t = &tw[i];
        if (t->epoch_lo < 1 || t->epoch_hi < t->epoch_lo)
            return lvt_errf(e, "tripwires[%d].epochs: must be [first, last] with 1 <= first <= last, got [%d, %d]",
                            i, t->epoch_lo, t->epoch_hi);
        if (!cfg_enum_name(CFG_METRICS, (int)t->metric)) {
            char names[128];
            return lvt_errf(e, "tripwires[%d].if: unknown metric (allowed: %s)", i,
                            cfg_enum_names(CFG_METRICS, names, sizeof names));
        }
        if ((int)t->op < LVT_CMP_GT || (int)t->op > LVT_CMP_LE || !isfinite(t->value) ||
            (int)t->ref < LVT_TRIPWIRE_VS_VALUE || (int)t->ref > LVT_TRIPWIRE_VS_MEAN_OF_CONTEXT)
            return lvt_errf(e, "tripwires[%d].if: invalid comparison", i);
        if (t->rollback_to_epoch < 0 || (t->rollback_to_epoch > 0 && t->rollback_to_epoch >= t->epoch_lo))
            return lvt_errf(e, "tripwires[%d].rollback_to_epoch %d must be >= 1 and before the first epoch the "
                               "tripwire watches (%d)", i, t->rollback_to_epoch, t->epoch_lo);
        if (!t->ov.set && !t->rollback_to_epoch)
            return lvt_errf(e, "tripwires[%d]: no action (give \"set\" and/or \"rollback_to_epoch\")", i);
        snprintf(path, sizeof path, "tripwires[%d].set", i);
        if (check_override(&t->ov, path, e)) return LVT_ERROR;
    }
    return LVT_OK;
}

int lvt_config_validate(const lvt_config *c, lvt_err *e) {
    if (check_section((const char *)c, &CFG_ROOT, "", 0, 0, e)) return LVT_ERROR;
    if (c->model.d_model % c->model.n_heads)
        return lvt_errf(e, "model.n_heads %d does not divide model.d_model %d", c->model.n_heads, c->model.d_model);
    if (c->train.micro_batch > 0 && c->train.global_batch % c->train.micro_batch)
        return lvt_errf(e, "train.global_batch %d is not a multiple of train.micro_batch %d",
                        c->train.global_batch, c->train.micro_batch);
    if (c->train.micro_batch > 0 && c->train.grad_accum > 0 &&
        c->train.global_batch % ((long long)c->train.micro_batch * c->train.grad_accum))
        return lvt_errf(e, "train.global_batch %d is not a multiple of train.micro_batch %d x train.grad_accum %d",
                        c->train.global_batch, c->train.micro_batch, c->train.grad_accum);
    if (c->optim.min_lr > c->optim.lr) {
        char a[32], b[32];
        return lvt_errf(e, "optim.min_lr %s is above optim.lr %s", cfg_fmt_num(c->optim.min_lr, a),
                        cfg_fmt_num(c->optim.lr, b));
    }
    if (cfg_check_phases(c->phases, c->n_phases, e)) return LVT_ERROR;
    if (cfg_check_tripwires(c->tripwires, c->n_tripwires, e)) return LVT_ERROR;
    return LVT_OK;
}

/* ---- overrides ------------------------------------------------------------------------------- */

void lvt_override_apply(const lvt_override *ov, lvt_objective_cfg *obj, double *lr) {
    for (int i = 0; i < CFG_OBJECTIVE.n; i++) {
        const cfg_field *f = &CFG_OBJECTIVE.fields[i];
        if (ov->set & f->ov_bit) memcpy((char *)obj + f->off, (const char *)&ov->obj + f->off, f->size);
    }
    if ((ov->set & LVT_OV_LR) && lr) *lr = ov->lr;
}

void lvt_override_merge(lvt_override *dst, const lvt_override *src) {
    lvt_override_apply(src, &dst->obj, &dst->lr);
    dst->set |= src->set;
}

void lvt_config_at_epoch(const lvt_config *c, int epoch, lvt_objective_cfg *obj, double *lr) {
    *obj = c->objective;
    if (lr) *lr = c->optim.lr;
    for (int i = 0; i < c->n_phases && c->phases[i].from_epoch <= epoch; i++)
        lvt_override_apply(&c->phases[i].ov, obj, lr);
}

const char *lvt_cmp_name(lvt_cmp op) {
    switch (op) {
    case LVT_CMP_GT: return ">";
    case LVT_CMP_GE: return ">=";
    case LVT_CMP_LT: return "<";
    case LVT_CMP_LE: return "<=";
    }
    return "?";
}

int lvt_tripwire_holds(const lvt_tripwire *t, double v) {
    switch (t->op) {
    case LVT_CMP_GT: return v > t->value;
    case LVT_CMP_GE: return v >= t->value;
    case LVT_CMP_LT: return v < t->value;
    case LVT_CMP_LE: return v <= t->value;
    }
    return 0;
}

/* Append to a fixed buffer, truncating silently. */
static void bprintf(char *buf, size_t n, size_t *len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void bprintf(char *buf, size_t n, size_t *len, const char *fmt, ...) {
    if (*len >= n) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, n - *len, fmt, ap);
    va_end(ap);
    if (k > 0) *len = (*len + (size_t)k < n) ? *len + (size_t)k : n;
}

const char *lvt_override_describe(const lvt_override *ov, char *buf, size_t n) {
    size_t len = 0;
    char num[32];
    if (!n) return buf;
    buf[0] = 0;
    for (int i = 0; i < CFG_OBJECTIVE.n; i++) {
        const cfg_field *f = &CFG_OBJECTIVE.fields[i];
        if (!(ov->set & f->ov_bit)) continue;
        const char *p = (const char *)&ov->obj + f->off;
        const char *val = f->kind == K_ENUM ? cfg_enum_name(f->values, *(const int *)p) : cfg_fmt_num(num_at(f, p), num);
        if (!val) val = "?";
        bprintf(buf, n, &len, "%s%s=%s", len ? ", " : "", f->name, val);
    }
    if (ov->set & LVT_OV_LR) bprintf(buf, n, &len, "%slr=%s", len ? ", " : "", cfg_fmt_num(ov->lr, num));
    return buf;
}

/* ---- the resolved echo: a cJSON tree of the config ------------------------------------------------ */

/* Numbers go in as raw text so that the echo reads back to the identical value and keeps the JSON
 * type the file would use: integers as integers (seeds up to 2^53 exactly), reals with the
 * shortest round-trip form and a ".0" when integral. */
static cJSON *json_real(double v) {
    char num[40];
    cfg_fmt_num(v, num);
    if (!strpbrk(num, ".eEn")) strcat(num, ".0");
    return cJSON_CreateRaw(num);
}

static cJSON *json_integer(long long v) {
    char num[32];
    snprintf(num, sizeof num, "%lld", v);
    return cJSON_CreateRaw(num);
}

static cJSON *value_json(const cfg_field *f, const char *base) {
    const char *p = base + f->off;
    switch (f->kind) {
    case K_INT: return json_integer(*(const int *)p);
    case K_LONG: return json_integer(*(const long *)p);
    case K_U64: {
        char num[32];
        snprintf(num, sizeof num, "%llu", *(const unsigned long long *)p);
        return cJSON_CreateRaw(num);
    }
    case K_DBL: return json_real(*(const double *)p);
    case K_BOOL: return cJSON_CreateBool(*(const int *)p);
    case K_ENUM: {
        const char *name = cfg_enum_name(f->values, *(const int *)p);
        return cJSON_CreateString(name ? name : "?");
    }
    case K_PATH: return cJSON_CreateString(p);
    case K_KEEP: {
        char num[32];
        if (*(const int *)p == 0) return cJSON_CreateString("all");
        snprintf(num, sizeof num, "%d", *(const int *)p);
        return cJSON_CreateString(num);
    }
    case K_BETAS: {
        cJSON *a = cJSON_CreateArray();
        cJSON_AddItemToArray(a, json_real(*(const double *)p));
        cJSON_AddItemToArray(a, json_real(*(const double *)(base + f->off2)));
        return a;
    }
    default: return cJSON_CreateNull();
    }
}

/* The knobs an override sets, lr first, as members of obj. */
static void add_override(cJSON *obj, const lvt_override *ov) {
    if (ov->set & LVT_OV_LR) cJSON_AddItemToObject(obj, "lr", json_real(ov->lr));
    for (int i = 0; i < CFG_OBJECTIVE.n; i++) {
        const cfg_field *f = &CFG_OBJECTIVE.fields[i];
        if (ov->set & f->ov_bit) cJSON_AddItemToObject(obj, f->name, value_json(f, (const char *)&ov->obj));
    }
}

static cJSON *curriculum_json(const lvt_config *c) {
    cJSON *arr = cJSON_CreateArray();
    for (int k = 0; k < c->n_phases; k++) {
        const lvt_phase *ph = &c->phases[k];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "from_epoch", json_integer(ph->from_epoch));
        if (ph->name[0]) cJSON_AddStringToObject(o, "name", ph->name);
        add_override(o, &ph->ov);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *tripwires_json(const lvt_config *c) {
    cJSON *arr = cJSON_CreateArray();
    for (int k = 0; k < c->n_tripwires; k++) {
        const lvt_tripwire *t = &c->tripwires[k];
        cJSON *o = cJSON_CreateObject(), *ep = cJSON_CreateArray();
        cJSON_AddItemToArray(ep, json_integer(t->epoch_lo));
        cJSON_AddItemToArray(ep, json_integer(t->epoch_hi));
        cJSON_AddItemToObject(o, "epochs", ep);
        cJSON_AddStringToObject(o, "if", t->cond_text);
        if (t->ov.set) add_override(cJSON_AddObjectToObject(o, "set"), &t->ov);
        if (t->rollback_to_epoch) cJSON_AddItemToObject(o, "rollback_to_epoch", json_integer(t->rollback_to_epoch));
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *section_json(const lvt_config *c, const char *base, const cfg_section *s) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < s->n; i++) {
        const cfg_field *f = &s->fields[i];
        cJSON *v = f->kind == K_SUB ? section_json(c, base + f->off, f->sub)
                   : f->kind == K_CURRICULUM ? curriculum_json(c)
                   : f->kind == K_TRIPWIRES ? tripwires_json(c)
                                            : value_json(f, base);
        cJSON_AddItemToObject(o, f->name, v);
    }
    return o;
}

char *lvt_config_to_json(const lvt_config *c) {
    /* the block layout `lvt config show` has always printed (and a checkpoint's /config stores) */
    cJSON *root = section_json(c, (const char *)c, &CFG_ROOT);
    char *text = root ? lvt_json_block(root) : NULL;
    cJSON_Delete(root);
    return text;
}

lvt_monitor lvt_config_monitor(const lvt_config *c) {
    if (c->train.monitor != LVT_MONITOR_AUTO) return c->train.monitor;
    return c->objective.base_loss == LVT_BASE_MSE ? LVT_MONITOR_VAL_LOSS : LVT_MONITOR_VAL_COS;
}
