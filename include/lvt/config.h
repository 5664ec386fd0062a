/* config.h — the run configuration: JSON (cJSON) -> typed struct, defaults, validation, --set
 * overrides and the resolved echo. Every knob (docs/config.md) lives here. */
#ifndef LVT_CONFIG_H
#define LVT_CONFIG_H

#include "lvt/common.h"

#define LVT_PATH_MAX 1024
#define LVT_NAME_MAX 64
#define LVT_MAX_PHASES 32
#define LVT_MAX_TRIPWIRES 32

/* The objective knobs (docs/loss.md). Curriculum phases and tripwires override these same names. */
typedef struct lvt_objective_cfg {
    int rollout_h;              /* 0 = no rollout term */
    double lambda_roll;
    char rollout_grad[16];      /* "full" | "first" */
    char rollout_supervise[16]; /* "flat" | "truth" */
    double flat_threshold;
    double flat_scale;
    double lambda_dir;
    double margin_dir;
    char dir_ref[16];           /* "prev" | "last" */
    char adaptive_dir[16];      /* "batch" | "sample" | "off" */
    double lambda_fut;
    double margin_fut;
    double lambda_ac;
    double margin_ac;
    double context_drop_p;
    char context_drop_mode[16]; /* "noise" | "zero" | "mean" */
} lvt_objective_cfg;

/* A knob override set: which objective fields (and lr) a phase or tripwire sets. */
typedef struct lvt_override {
    lvt_objective_cfg obj; /* values; only fields flagged in `set` are meaningful */
    unsigned set;          /* bitmask of LVT_OV_* below */
    double lr;
} lvt_override;

enum {
    LVT_OV_ROLLOUT_H = 1u << 0, LVT_OV_LAMBDA_ROLL = 1u << 1, LVT_OV_ROLLOUT_GRAD = 1u << 2,
    LVT_OV_ROLLOUT_SUPERVISE = 1u << 3, LVT_OV_FLAT_THRESHOLD = 1u << 4, LVT_OV_FLAT_SCALE = 1u << 5,
    LVT_OV_LAMBDA_DIR = 1u << 6, LVT_OV_MARGIN_DIR = 1u << 7, LVT_OV_DIR_REF = 1u << 8,
    LVT_OV_ADAPTIVE_DIR = 1u << 9, LVT_OV_LAMBDA_FUT = 1u << 10, LVT_OV_MARGIN_FUT = 1u << 11,
    LVT_OV_LAMBDA_AC = 1u << 12, LVT_OV_MARGIN_AC = 1u << 13, LVT_OV_CONTEXT_DROP_P = 1u << 14,
    LVT_OV_CONTEXT_DROP_MODE = 1u << 15, LVT_OV_LR = 1u << 16
};

typedef struct lvt_phase {
    int from_epoch;
    char name[LVT_NAME_MAX];
    lvt_override ov;
} lvt_phase;

/* Tripwire condition: metric OP value (docs/training.md). */
typedef enum { LVT_CMP_GT, LVT_CMP_GE, LVT_CMP_LT, LVT_CMP_LE } lvt_cmp;

typedef struct lvt_tripwire {
    int epoch_lo, epoch_hi;
    char metric[32]; /* val_cos | val_loss | margin | val_cos_drop_pct | train_loss */
    lvt_cmp op;
    double value;
    char cond_text[128];
    int rollback_to_epoch; /* 0 = none */
    lvt_override ov;
} lvt_tripwire;

typedef struct lvt_config {
    struct {
        char arch[LVT_NAME_MAX]; /* "transformer" */
        int dim, d_model, n_heads, n_layers, ffn_mult;
        double dropout;
    } model;
    struct {
        char train[LVT_PATH_MAX], val[LVT_PATH_MAX], ood[LVT_PATH_MAX];
        int context_len;
        int normalize;
        char shard[16]; /* "replicate" | "articles" */
        int cross_article;
    } data;
    struct {
        int epochs, global_batch, micro_batch;
        long max_steps;
        unsigned long long seed;
        char backend[16]; /* "auto" | "cpu" | "cuda" */
        char math[16];    /* "fp32" | "tf32" | "bf16" */
        int log_every;
        double grad_clip;
        int grad_accum;   /* 0 = derived from global/micro/world */
        int nan_max_retries;
    } train;
    struct {
        double lr, beta1, beta2, eps, weight_decay;
        char schedule[16]; /* "plateau" | "cosine" | "constant" */
        double plateau_factor;
        int plateau_patience;
        double plateau_threshold;
        double min_lr;
    } optim;
    lvt_objective_cfg objective;
    int n_phases;
    lvt_phase phases[LVT_MAX_PHASES];
    int n_tripwires;
    lvt_tripwire tripwires[LVT_MAX_TRIPWIRES];
    struct {
        int mini5cat_samples;
    } eval;
    struct {
        char run_dir[LVT_PATH_MAX];
        char keep_epochs[32]; /* "all" or a count, e.g. "3" */
    } output;
} lvt_config;

/* Fill every field with its default (docs/config.md). */
void lvt_config_defaults(lvt_config *c);

/* Parse JSON text (name is used in messages) on top of *c (call lvt_config_defaults first; keys
 * the text omits keep their value, a "curriculum" or "tripwires" array replaces the list). Unknown
 * keys, wrong types, out-of-range values, syntax errors (with line and column) are errors, and so
 * is anything lvt_config_validate rejects. Relative data/output paths are resolved against
 * base_dir when base_dir is non-NULL. On error *c is unchanged. */
int lvt_config_parse(lvt_config *c, const char *json_text, const char *name, const char *base_dir,
                     lvt_err *e);

/* Load a file (defaults first, then the file). Every path comes out absolute: the file's relative
 * paths against the file's directory, defaults (data/train.h5, ..., output.run_dir =
 * runs/<file name without .json>) against the working directory. On error *c is unchanged. */
int lvt_config_load(lvt_config *c, const char *path, lvt_err *e);

/* Apply one "dotted.key=value" override (value parsed as JSON, bare strings allowed), e.g.
 * "objective.rollout_h=4", "optim.plateau.factor=0.3", "curriculum=[{...}]". Same per-key checks
 * and messages as a file ("--set: objective.lamda_roll: unknown key, did you mean lambda_roll?");
 * a relative path is made absolute against the working directory. Cross-field checks are left to
 * lvt_config_validate, to run after the last --set (lvt_config_load_sets does). On error *c is
 * unchanged. */
int lvt_config_set(lvt_config *c, const char *assignment, lvt_err *e);

/* Cross-field validation (phases increasing, tripwire epochs ordered, ...). */
int lvt_config_validate(const lvt_config *c, lvt_err *e);

/* The resolved configuration as JSON text (malloc'd; caller frees). */
char *lvt_config_to_json(const lvt_config *c);

/* Apply an override onto an objective/lr pair. */
void lvt_override_apply(const lvt_override *ov, lvt_objective_cfg *obj, double *lr);

/* ---- additions (config module) ------------------------------------------------------------- */

/* What `lvt config`, `lvt train` and `lvt bench` do: defaults, the file, each "--set KEY=VALUE"
 * in order, then lvt_config_validate once (so --set may repair a cross-field conflict). */
int lvt_config_load_sets(lvt_config *c, const char *path, const char *const *sets, int n_sets,
                         lvt_err *e);

/* The objective knobs and lr in force during `epoch` (1-based) from the curriculum alone: the base
 * `objective` and `optim.lr`, then every phase with from_epoch <= epoch applied in order.
 * (Tripwire overrides are run state and belong to the train loop.) */
void lvt_config_at_epoch(const lvt_config *c, int epoch, lvt_objective_cfg *obj, double *lr);

/* Fold src into dst: dst then sets every knob either sets, src's value winning (the train loop
 * keeps one accumulated override of the tripwires that fired and applies it after the phases). */
void lvt_override_merge(lvt_override *dst, const lvt_override *src);

/* "lambda_roll=0.03, lr=0.0001": the knobs an override sets, for logs. Returns buf. */
const char *lvt_override_describe(const lvt_override *ov, char *buf, size_t n);

/* ">", ">=", "<", "<=" */
const char *lvt_cmp_name(lvt_cmp op);

/* 1 when `metric_value OP t->value` holds (NaN never holds). */
int lvt_tripwire_holds(const lvt_tripwire *t, double metric_value);

#endif
