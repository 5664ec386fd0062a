/* config.h — the run configuration: JSON (cJSON) -> typed struct, defaults, validation, --set
 * overrides and the resolved echo. Every knob (docs/config.md) lives here. Choice keys are enums
 * from load time on: the JSON spellings ("full", "first", ...) exist only inside the config
 * module (lvt_config_choice_name gives them back for messages and logs). */
#ifndef LVT_CONFIG_H
#define LVT_CONFIG_H

#include "lvt/common.h"

#define LVT_PATH_MAX 1024
#define LVT_NAME_MAX 64
#define LVT_MAX_PHASES 32
#define LVT_MAX_TRIPWIRES 32

/* ---- the choice keys (their JSON spellings in the comments; defaults in docs/config.md) ------- */

typedef enum { LVT_ARCH_TRANSFORMER } lvt_model_arch;                              /* "transformer" */
typedef enum { LVT_SHARD_REPLICATE, LVT_SHARD_ARTICLES } lvt_data_shard;           /* "replicate" | "articles" */
typedef enum { LVT_BACKEND_AUTO, LVT_BACKEND_CPU, LVT_BACKEND_CUDA } lvt_train_backend; /* "auto" | "cpu" | "cuda" */
/* train.math; the model module maps it onto the backends' lvt_math (lvt_model_math_from_config) */
typedef enum { LVT_TRAIN_MATH_FP32, LVT_TRAIN_MATH_TF32, LVT_TRAIN_MATH_BF16 } lvt_train_math; /* "fp32" | "tf32" | "bf16" */
/* optim.schedule (the optimiser uses this enum itself) */
typedef enum { LVT_SCHED_CONSTANT = 0, LVT_SCHED_PLATEAU = 1, LVT_SCHED_COSINE = 2 } lvt_sched_kind; /* "constant" | "plateau" | "cosine" */
typedef enum { LVT_BASE_MSE, LVT_BASE_COSINE, LVT_BASE_MSE_COSINE } lvt_base_loss; /* "mse" | "cosine" | "mse+cosine" */
typedef enum { LVT_ROLLOUT_GRAD_FULL, LVT_ROLLOUT_GRAD_FIRST } lvt_rollout_grad;   /* "full" | "first" */
typedef enum { LVT_SUPERVISE_FLAT, LVT_SUPERVISE_TRUTH } lvt_rollout_supervise;    /* "flat" | "truth" */
typedef enum { LVT_DIR_REF_PREV, LVT_DIR_REF_LAST } lvt_dir_ref;                   /* "prev" | "last" */
typedef enum { LVT_ADAPTIVE_BATCH, LVT_ADAPTIVE_SAMPLE, LVT_ADAPTIVE_OFF } lvt_adaptive_dir; /* "batch" | "sample" | "off" */
/* objective.context_drop_mode; the loss maps it onto the backends' lvt_context_drop_mode (ops.h) */
typedef enum { LVT_CTX_DROP_NOISE, LVT_CTX_DROP_ZERO, LVT_CTX_DROP_MEAN } lvt_ctx_drop_mode; /* "noise" | "zero" | "mean" */
/* train.monitor: what best.h5 and the plateau schedule follow (lvt_config_monitor resolves auto) */
typedef enum { LVT_MONITOR_AUTO, LVT_MONITOR_VAL_LOSS, LVT_MONITOR_VAL_COS } lvt_monitor; /* "auto" | "val_loss" | "val_cos" */
/* the metric of a tripwire condition (docs/training.md) */
typedef enum {
    LVT_METRIC_VAL_COS, LVT_METRIC_VAL_LOSS, LVT_METRIC_MARGIN, LVT_METRIC_VAL_COS_DROP_PCT, LVT_METRIC_TRAIN_LOSS
} lvt_tripwire_metric; /* "val_cos" | "val_loss" | "margin" | "val_cos_drop_pct" | "train_loss" */

/* Which enum a name is asked for (lvt_config_choice_name). */
typedef enum {
    LVT_CHOICE_ARCH, LVT_CHOICE_SHARD, LVT_CHOICE_BACKEND, LVT_CHOICE_MATH, LVT_CHOICE_SCHEDULE,
    LVT_CHOICE_ROLLOUT_GRAD, LVT_CHOICE_ROLLOUT_SUPERVISE, LVT_CHOICE_DIR_REF, LVT_CHOICE_ADAPTIVE_DIR,
    LVT_CHOICE_CONTEXT_DROP_MODE, LVT_CHOICE_METRIC, LVT_CHOICE_BASE_LOSS, LVT_CHOICE_MONITOR
} lvt_choice;

/* The JSON spelling of value v of a choice key ("first" for LVT_CHOICE_ROLLOUT_GRAD,
 * LVT_ROLLOUT_GRAD_FIRST); "?" for a value outside the enum. */
const char *lvt_config_choice_name(lvt_choice which, int v);

/* The objective knobs (docs/loss.md). Curriculum phases and tripwires override these same names. */
typedef struct lvt_objective_cfg {
    lvt_base_loss base_loss;    /* the main and truth-rollout terms (docs/loss.md) */
    double cosine_weight;       /* weight of the cosine part in "mse+cosine" */
    int rollout_h;              /* 0 = no rollout term */
    double lambda_roll;
    lvt_rollout_grad rollout_grad;
    lvt_rollout_supervise rollout_supervise;
    double flat_threshold;
    double flat_scale;
    double lambda_dir;
    double margin_dir;
    lvt_dir_ref dir_ref;
    lvt_adaptive_dir adaptive_dir;
    double lambda_fut;
    double margin_fut;
    double lambda_ac;
    double margin_ac;
    double context_drop_p;
    lvt_ctx_drop_mode context_drop_mode;
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
    LVT_OV_CONTEXT_DROP_MODE = 1u << 15, LVT_OV_LR = 1u << 16, LVT_OV_BASE_LOSS = 1u << 17,
    LVT_OV_COSINE_WEIGHT = 1u << 18
};

typedef struct lvt_phase {
    int from_epoch;
    char name[LVT_NAME_MAX];
    lvt_override ov;
} lvt_phase;

/* Tripwire condition: metric OP value, or metric OP a val baseline (docs/training.md). */
typedef enum { LVT_CMP_GT, LVT_CMP_GE, LVT_CMP_LT, LVT_CMP_LE } lvt_cmp;
/* What the metric is compared with: the number `value`, or a baseline lvt train computes at start */
typedef enum {
    LVT_TRIPWIRE_VS_VALUE, LVT_TRIPWIRE_VS_COPY_LAST, LVT_TRIPWIRE_VS_MEAN_OF_CONTEXT
} lvt_tripwire_ref; /* a number | "baseline_copy_last" | "baseline_mean_of_context" */

typedef struct lvt_tripwire {
    int epoch_lo, epoch_hi;
    lvt_tripwire_metric metric;
    lvt_cmp op;
    double value;
    lvt_tripwire_ref ref; /* the value, or a baseline */
    char cond_text[128];
    int rollback_to_epoch; /* 0 = none */
    lvt_override ov;
} lvt_tripwire;

typedef struct lvt_config {
    struct {
        lvt_model_arch arch;
        int dim, d_model, n_heads, n_layers, ffn_mult;
        double dropout;
    } model;
    struct {
        char train[LVT_PATH_MAX], val[LVT_PATH_MAX], ood[LVT_PATH_MAX];
        int context_len;
        int normalize;
        int drop_degenerate; /* drop rows of norm < LVT_MIN_ROW_NORM on load (else an error) */
        lvt_data_shard shard;
        int cross_article;
    } data;
    struct {
        int epochs, global_batch, micro_batch;
        long max_steps;
        unsigned long long seed;
        lvt_train_backend backend;
        lvt_train_math math;
        int log_every;
        double grad_clip;
        int grad_accum;   /* 0 = derived from global/micro/world */
        int nan_max_retries;
        int cuda_graph;   /* capture the step as a CUDA graph where the backend can (docs/cuda.md) */
        lvt_monitor monitor; /* what best.h5 and the plateau schedule follow */
    } train;
    struct {
        double lr, beta1, beta2, eps, weight_decay;
        lvt_sched_kind schedule;
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
        int keep_epochs; /* epoch checkpoints to keep; 0 = "all" */
    } output;
} lvt_config;

/* train.monitor with auto resolved: val_loss (the MSE of the raw output) when objective.base_loss
 * is mse, val_cos otherwise (a cosine base loss leaves the raw output's length free, so its MSE
 * says nothing about the prediction; docs/training.md). */
lvt_monitor lvt_config_monitor(const lvt_config *c);


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

/* How every command loads its config (`lvt config`, `init`, `train`, `bench`): defaults, the
 * file, each "--set KEY=VALUE" in order, then lvt_config_validate once (so --set may repair a
 * cross-field conflict, and every command accepts exactly what `lvt config check` accepts). */
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
