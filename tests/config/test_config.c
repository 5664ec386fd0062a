/* test_config.c — the config module: defaults, malformed inputs and their exact messages, --set
 * overrides, path resolution, the show -> load round trip, the curriculum at an epoch, the
 * configs/ recipes against the values docs/training.md states, and the echo's exact layout. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lvt/config.h"
#include "testutil.h"

static lvt_config *new_defaults(void) {
    lvt_config *c = malloc(sizeof *c);
    lvt_config_defaults(c);
    return c;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

/* Every default of docs/config.md, checked field by field against literal values. */
static void test_defaults(void) {
    lvt_config *c = new_defaults();
    lvt_err e = {{0}};
    CHECK(lvt_config_parse(c, "{}", "empty.json", NULL, &e) == LVT_OK, "{} parses: %s", e.msg);
    CHECK(c->model.arch == LVT_ARCH_TRANSFORMER, "arch %d", (int)c->model.arch);
    CHECK(c->model.dim == 768 && c->model.d_model == 512 && c->model.n_heads == 8 && c->model.n_layers == 4 &&
              c->model.ffn_mult == 4 && c->model.dropout == 0.1, "model defaults");
    CHECK(!strcmp(c->data.train, "data/train.h5") && !strcmp(c->data.val, "data/val.h5") &&
              !strcmp(c->data.ood, "data/ood.h5"), "data paths %s %s %s", c->data.train, c->data.val, c->data.ood);
    CHECK(c->data.context_len == 5 && c->data.normalize == 1 && c->data.shard == LVT_SHARD_REPLICATE &&
              c->data.cross_article == 0, "data defaults");
    CHECK(c->train.epochs == 20 && c->train.global_batch == 64 && c->train.micro_batch == 0 &&
              c->train.max_steps == 0 && c->train.seed == 42ULL, "train ints");
    CHECK(c->train.backend == LVT_BACKEND_AUTO && c->train.math == LVT_TRAIN_MATH_TF32 && c->train.log_every == 100 &&
              c->train.grad_clip == 1.0 && c->train.grad_accum == 0 && c->train.nan_max_retries == 3, "train rest");
    CHECK(c->optim.lr == 5e-4 && c->optim.beta1 == 0.9 && c->optim.beta2 == 0.999 && c->optim.eps == 1e-8 &&
              c->optim.weight_decay == 0.01 && c->optim.schedule == LVT_SCHED_PLATEAU, "optim");
    CHECK(c->optim.plateau_factor == 0.5 && c->optim.plateau_patience == 3 && c->optim.plateau_threshold == 1e-4 &&
              c->optim.min_lr == 0.0, "plateau");
    const lvt_objective_cfg *o = &c->objective;
    CHECK(o->rollout_h == 0 && o->lambda_roll == 0.0 && o->rollout_grad == LVT_ROLLOUT_GRAD_FULL &&
              o->rollout_supervise == LVT_SUPERVISE_FLAT && o->flat_threshold == 0.95 && o->flat_scale == 10.0, "roll");
    CHECK(o->lambda_dir == 0.0 && o->margin_dir == 0.01 && o->dir_ref == LVT_DIR_REF_PREV &&
              o->adaptive_dir == LVT_ADAPTIVE_BATCH, "dir");
    CHECK(o->lambda_fut == 0.0 && o->margin_fut == 0.008 && o->lambda_ac == 0.0 && o->margin_ac == 0.02 &&
              o->context_drop_p == 0.0 && o->context_drop_mode == LVT_CTX_DROP_NOISE, "fut/ac/drop");
    CHECK(c->n_phases == 0 && c->n_tripwires == 0, "lists empty");
    CHECK(c->eval.mini5cat_samples == 500, "eval");
    CHECK(!strcmp(c->output.run_dir, "runs/default") && c->output.keep_epochs == 0, "output %s %d", c->output.run_dir,
          c->output.keep_epochs);
    CHECK(lvt_config_validate(c, &e) == LVT_OK, "defaults validate: %s", e.msg);
    free(c);
}

typedef struct {
    const char *json;
    const char *want; /* substring of the message */
} bad_case;

static const bad_case BAD[] = {
    /* syntax: line and column of the second comma (Python's json agrees: line 3 column 18) */
    {"{\n  \"train\": {\n    \"epochs\": 20,,\n  }\n}", "t.json:3:18: syntax error near ','"},
    {"{\"train\": {\"epochs\": 20}\n", "t.json:2:1: syntax error: unexpected end of input"},
    {"{\n  \"model\": {\"dim\" 768}\n}", "t.json:2:19: syntax error near '768}'"},
    {"{} trailing", "t.json:1:4: syntax error near 'trailing'"},
    {"   \n ", "t.json: empty"},
    {"[1, 2]", "t.json: expected a JSON object at the top level, got array"},
    /* unknown keys with suggestions */
    {"{\"objective\": {\"lamda_roll\": 0.1}}", "t.json: objective.lamda_roll: unknown key, did you mean lambda_roll?"},
    {"{\"modle\": {}}", "modle: unknown key, did you mean model?"},
    {"{\"train\": {\"epcohs\": 3}}", "train.epcohs: unknown key, did you mean epochs?"},
    {"{\"train\": {\"lr\": 0.1}}", "train.lr: unknown key, did you mean optim.lr?"},
    {"{\"train\": {\"zzzzzz\": 1}}", "train.zzzzzz: unknown key (allowed: epochs, global_batch"},
    {"{\"optim\": {\"plateau\": {\"factr\": 0.3}}}", "optim.plateau.factr: unknown key, did you mean factor?"},
    {"{\"train\": {\"epochs\": 3, \"epochs\": 4}}", "train.epochs: duplicate key"},
    {"{\"train\": {\"ep\nochs\": 3}}", "train.ep?ochs: unknown key"}, /* a raw newline stays off the line */
    /* wrong types */
    {"{\"train\": {\"epochs\": \"20\"}}", "train.epochs: expected an integer, got string \"20\""},
    {"{\"train\": {\"epochs\": 2.5}}", "train.epochs: expected an integer, got number 2.5"},
    {"{\"optim\": {\"lr\": \"fast\"}}", "optim.lr: expected a number, got string"},
    {"{\"data\": {\"normalize\": 1}}", "data.normalize: expected true or false, got number 1"},
    {"{\"model\": 3}", "model: expected an object, got number 3"},
    {"{\"data\": {\"train\": 5}}", "data.train: expected a path string, got number 5"},
    {"{\"data\": {\"train\": \"\"}}", "data.train: must not be empty"},
    {"{\"objective\": {\"dir_ref\": null}}", "objective.dir_ref: expected a string (one of prev|last), got null"},
    {"{\"optim\": {\"betas\": 0.9}}", "optim.betas: expected [beta1, beta2], got number 0.9"},
    {"{\"curriculum\": {}}", "curriculum: expected an array of phase objects, got object"},
    /* ranges */
    {"{\"train\": {\"epochs\": 0}}", "train.epochs: must be in [1, 100000], got 0"},
    {"{\"optim\": {\"lr\": 0}}", "optim.lr: must be > 0, got 0"},
    {"{\"optim\": {\"lr\": -1e-3}}", "optim.lr: must be > 0, got -0.001"},
    {"{\"model\": {\"dropout\": 1}}", "model.dropout: must be in [0, 1), got 1"},
    {"{\"objective\": {\"context_drop_p\": 1.5}}", "objective.context_drop_p: must be in [0, 1], got 1.5"},
    {"{\"optim\": {\"betas\": [0.9, 1.0]}}", "optim.betas[1]: must be in [0, 1), got 1"},
    {"{\"objective\": {\"rollout_h\": 17}}", "objective.rollout_h: must be in [0, 16], got 17"},
    {"{\"optim\": {\"plateau\": {\"factor\": 1}}}", "optim.plateau.factor: must be in (0, 1), got 1"},
    {"{\"train\": {\"grad_clip\": 1e999}}", "train.grad_clip: must be >= 0, got inf"},
    {"{\"output\": {\"keep_epochs\": \"some\"}}", "output.keep_epochs: expected \"all\" or a count >= 1, got string \"some\""},
    {"{\"output\": {\"keep_epochs\": 0}}", "output.keep_epochs: expected \"all\" or a count >= 1, got number 0"},
    /* enums list the allowed values */
    {"{\"objective\": {\"rollout_grad\": \"both\"}}", "objective.rollout_grad: must be one of full|first, got \"both\""},
    {"{\"train\": {\"math\": \"fp16\"}}", "train.math: must be one of fp32|tf32|bf16, got \"fp16\""},
    {"{\"model\": {\"arch\": \"rnn\"}}", "model.arch: must be one of transformer, got \"rnn\""},
    /* cross-field */
    {"{\"model\": {\"n_heads\": 7}}", "model.n_heads 7 does not divide model.d_model 512"},
    {"{\"train\": {\"micro_batch\": 48}}", "train.global_batch 64 is not a multiple of train.micro_batch 48"},
    {"{\"optim\": {\"lr\": 1e-4, \"min_lr\": 1e-3}}", "optim.min_lr 0.001 is above optim.lr 0.0001"},
    /* curriculum */
    {"{\"curriculum\": [{\"from_epoch\": 1}, {\"from_epoch\": 6}, {\"from_epoch\": 5}]}",
     "curriculum[2].from_epoch 5 is not after curriculum[1].from_epoch 6"},
    {"{\"curriculum\": [{\"from_epoch\": 1, \"lamda_dir\": 0.1}]}", "curriculum[0].lamda_dir: unknown key, did you mean lambda_dir?"},
    {"{\"curriculum\": [{\"name\": \"x\"}]}", "curriculum[0]: missing \"from_epoch\""},
    {"{\"curriculum\": [{\"from_epoch\": 0}]}", "curriculum[0].from_epoch: must be in [1, 100000], got 0"},
    {"{\"curriculum\": [{\"from_epoch\": 2, \"lambda_dir\": -1}]}", "curriculum[0].lambda_dir: must be >= 0, got -1"},
    {"{\"curriculum\": [{\"from_epoch\": 2, \"epochs\": 3}]}", "curriculum[0].epochs: unknown key (allowed: from_epoch, name, lr,"},
    {"{\"curriculum\": [3]}", "curriculum[0]: expected a phase object, got number 3"},
    /* tripwires */
    {"{\"tripwires\": [{\"epochs\": [4, 5], \"if\": \"val_cos <> 3\", \"set\": {\"lambda_roll\": 0.03}}]}",
     "tripwires[0].if: cannot parse condition \"val_cos <> 3\""},
    {"{\"tripwires\": [{\"epochs\": [4, 5], \"if\": \"val_cos < \", \"set\": {\"lambda_roll\": 0.03}}]}",
     "tripwires[0].if: cannot parse condition \"val_cos < \""},
    {"{\"tripwires\": [{\"epochs\": [4, 5], \"if\": \"val_coss < 0.4\", \"set\": {\"lambda_roll\": 0.03}}]}",
     "tripwires[0].if: unknown metric \"val_coss\" in \"val_coss < 0.4\", did you mean val_cos?"},
    {"{\"tripwires\": [{\"epochs\": [4, 5], \"if\": \"accuracy > 0.4\", \"set\": {\"lambda_roll\": 0.03}}]}",
     "unknown metric \"accuracy\" in \"accuracy > 0.4\" (allowed: val_cos|val_loss|margin|val_cos_drop_pct|train_loss)"},
    {"{\"tripwires\": [{\"epochs\": [4, 5], \"if\": \"margin < 0\", \"rollback_to_epoch\": 5}]}",
     "tripwires[0].rollback_to_epoch 5 must be >= 1 and before the first epoch the tripwire watches (4)"},
    {"{\"tripwires\": [{\"epochs\": [4, 5], \"if\": \"margin < 0\", \"rollback_to_epoch\": 0}]}",
     "tripwires[0].rollback_to_epoch: must be in [1, 100000], got 0"},
    {"{\"tripwires\": [{\"epochs\": [4, 5], \"if\": \"margin < 0\"}]}", "tripwires[0]: no action"},
    {"{\"tripwires\": [{\"epochs\": [5, 4], \"if\": \"margin < 0\", \"set\": {\"lr\": 1e-4}}]}",
     "tripwires[0].epochs: must be [first, last] with 1 <= first <= last, got [5, 4]"},
    {"{\"tripwires\": [{\"epochs\": 4, \"if\": \"margin < 0\", \"set\": {\"lr\": 1e-4}}]}",
     "tripwires[0].epochs: expected [first, last] (two integer epochs), got number 4"},
    {"{\"tripwires\": [{\"epochs\": [4, 5], \"if\": \"margin < 0\", \"set\": {\"lamda_roll\": 0.1}}]}",
     "tripwires[0].set.lamda_roll: unknown key, did you mean lambda_roll?"},
    {"{\"tripwires\": [{\"epochs\": [4, 5], \"set\": {\"lr\": 1e-4}}]}", "tripwires[0]: missing \"if\""},
    {"{\"tripwires\": [{\"epochs\": [4, 5], \"iff\": \"margin < 0\"}]}", "tripwires[0].iff: unknown key, did you mean if?"},
    {"{\"tripwires\": [{\"epochs\": [4, 5], \"if\": \"margin < 0\", \"set\": {\"lr\": 0}}]}",
     "tripwires[0].set.lr: must be > 0, got 0"},
};

static void test_malformed(void) {
    lvt_config *ref = new_defaults();
    lvt_config *c = malloc(sizeof *c);
    int n = (int)(sizeof BAD / sizeof BAD[0]);
    for (int i = 0; i < n; i++) {
        lvt_err e = {{0}};
        *c = *ref;
        int rc = lvt_config_parse(c, BAD[i].json, "t.json", NULL, &e);
        CHECK(rc == LVT_ERROR, "case %d (%s) was accepted", i, BAD[i].json);
        CHECK_MSG(e.msg, BAD[i].want);
        CHECK(!strchr(e.msg, '\n'), "case %d: message is one line", i);
        CHECK(memcmp(c, ref, sizeof *c) == 0, "case %d: a failed parse changed the config", i);
    }
    printf("malformed inputs: %d cases\n", n);
    free(c);
    free(ref);
}

static void test_set(void) {
    lvt_config *c = new_defaults();
    lvt_err e = {{0}};
    CHECK(lvt_config_set(c, "objective.rollout_h=4", &e) == LVT_OK, "scalar: %s", e.msg);
    CHECK(c->objective.rollout_h == 4, "rollout_h %d", c->objective.rollout_h);
    CHECK(lvt_config_set(c, "train.global_batch=256", &e) == LVT_OK && c->train.global_batch == 256, "batch");
    CHECK(lvt_config_set(c, "objective.rollout_grad=first", &e) == LVT_OK, "bare string: %s", e.msg);
    CHECK(c->objective.rollout_grad == LVT_ROLLOUT_GRAD_FIRST, "grad %d", (int)c->objective.rollout_grad);
    CHECK(lvt_config_set(c, "objective.dir_ref=\"last\"", &e) == LVT_OK && c->objective.dir_ref == LVT_DIR_REF_LAST,
          "quoted string: %s", e.msg);
    CHECK(lvt_config_set(c, "optim.plateau.factor=0.25", &e) == LVT_OK && c->optim.plateau_factor == 0.25,
          "nested: %s", e.msg);
    CHECK(lvt_config_set(c, "optim.betas=[0.8,0.95]", &e) == LVT_OK && c->optim.beta1 == 0.8 && c->optim.beta2 == 0.95,
          "array: %s", e.msg);
    CHECK(lvt_config_set(c, "data.normalize=false", &e) == LVT_OK && c->data.normalize == 0, "bool: %s", e.msg);
    CHECK(lvt_config_set(c, "train.seed=123456789012", &e) == LVT_OK && c->train.seed == 123456789012ULL, "seed");
    CHECK(lvt_config_set(c, "output.keep_epochs=3", &e) == LVT_OK && c->output.keep_epochs == 3, "keep");
    CHECK(lvt_config_set(c, "optim={\"lr\": 1e-3, \"schedule\": \"cosine\"}", &e) == LVT_OK &&
              c->optim.lr == 1e-3 && c->optim.schedule == LVT_SCHED_COSINE && c->optim.beta1 == 0.8,
          "object value merges: %s", e.msg);
    CHECK(lvt_config_set(c, "curriculum=[{\"from_epoch\":2,\"name\":\"g\",\"lambda_dir\":0.001,\"lr\":2e-4},"
                            "{\"from_epoch\":5,\"rollout_h\":2}]", &e) == LVT_OK, "curriculum: %s", e.msg);
    CHECK(c->n_phases == 2 && c->phases[0].from_epoch == 2 && !strcmp(c->phases[0].name, "g") &&
              c->phases[0].ov.set == (LVT_OV_LAMBDA_DIR | LVT_OV_LR) && c->phases[0].ov.obj.lambda_dir == 0.001 &&
              c->phases[0].ov.lr == 2e-4 && c->phases[1].ov.set == LVT_OV_ROLLOUT_H && c->phases[1].ov.obj.rollout_h == 2,
          "phases parsed");
    CHECK(lvt_config_set(c, "tripwires=[{\"epochs\":[3,9],\"if\":\"val_loss>=0.5\",\"rollback_to_epoch\":2}]", &e) ==
              LVT_OK, "tripwires: %s", e.msg);
    CHECK(c->n_tripwires == 1 && c->tripwires[0].op == LVT_CMP_GE && c->tripwires[0].value == 0.5 &&
              c->tripwires[0].metric == LVT_METRIC_VAL_LOSS && !strcmp(c->tripwires[0].cond_text, "val_loss >= 0.5") &&
              c->tripwires[0].rollback_to_epoch == 2 && c->tripwires[0].ov.set == 0, "tripwire parsed");
    CHECK(lvt_config_set(c, "curriculum=[]", &e) == LVT_OK && c->n_phases == 0, "clear curriculum");

    /* a relative path on the command line is relative to the working directory */
    char cwd[1024], want[1100];
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    snprintf(want, sizeof want, "%s/sub/x.h5", cwd);
    CHECK(lvt_config_set(c, "data.train=./sub/../sub/x.h5", &e) == LVT_OK && !strcmp(c->data.train, want),
          "path %s vs %s", c->data.train, want);

    /* errors, and a failed --set leaves the config as it was */
    lvt_config *before = malloc(sizeof *before);
    *before = *c;
    struct {
        const char *a, *want;
    } bad[] = {
        {"objective.lamda_roll=0.1", "--set: objective.lamda_roll: unknown key, did you mean lambda_roll?"},
        {"objectiv.rollout_h=3", "--set: objectiv: unknown key, did you mean objective?"},
        {"train.lr=0.1", "--set: train.lr: unknown key, did you mean optim.lr?"},
        {"train.epochs=abc", "--set: train.epochs: expected an integer, got string \"abc\""},
        {"objective.rollout_h=99", "--set: objective.rollout_h: must be in [0, 16], got 99"},
        {"objective.rollout_grad=both", "must be one of full|first, got \"both\""},
        {"rollout_h", "--set: expected KEY=VALUE"},
        {"=4", "--set: expected KEY=VALUE"},
        {"objective..rollout_h=4", "--set: empty component in key"},
        {"curriculum=[{\"from_epoch\":3},{\"from_epoch\":2}]", "curriculum[1].from_epoch 2 is not after curriculum[0].from_epoch 3"},
        {"train=5", "--set: train: expected an object, got number 5"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(lvt_config_set(c, bad[i].a, &e) == LVT_ERROR, "--set %s accepted", bad[i].a);
        CHECK_MSG(e.msg, bad[i].want);
        CHECK(memcmp(c, before, sizeof *c) == 0, "--set %s changed the config", bad[i].a);
    }
    free(before);
    free(c);
}

/* Relative paths in a file are relative to its directory; the run dir defaults to runs/<name>. */
static void test_paths(void) {
    char dir[1100], sub[1200], file[1300], want[1400], cwd[1024];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("test_config_paths"));
    char *real = realpath(dir, NULL);
    snprintf(sub, sizeof sub, "%s/cfgs", dir);
    snprintf(file, sizeof file, "%s/exp1.json", sub);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", sub);
    CHECK(test_system(cmd) == 0, "mkdir");
    write_file(file, "{\"data\": {\"train\": \"../data/t.h5\", \"val\": \"v.h5\", \"ood\": \"/abs/o.h5\"}}");
    lvt_config *c = new_defaults();
    lvt_err e = {{0}};
    CHECK(lvt_config_load(c, file, &e) == LVT_OK, "load: %s", e.msg);
    snprintf(want, sizeof want, "%s/data/t.h5", real);
    CHECK(!strcmp(c->data.train, want), "train %s want %s", c->data.train, want);
    snprintf(want, sizeof want, "%s/cfgs/v.h5", real);
    CHECK(!strcmp(c->data.val, want), "val %s want %s", c->data.val, want);
    CHECK(!strcmp(c->data.ood, "/abs/o.h5"), "ood %s", c->data.ood);
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    snprintf(want, sizeof want, "%s/runs/exp1", cwd);
    CHECK(!strcmp(c->output.run_dir, want), "run_dir %s want %s", c->output.run_dir, want);

    /* missing file and directory */
    snprintf(file, sizeof file, "%s/nope.json", sub);
    CHECK(lvt_config_load(c, file, &e) == LVT_ERROR, "missing file accepted");
    CHECK_MSG(e.msg, "cannot open");
    CHECK_MSG(e.msg, "No such file or directory");
    CHECK(lvt_config_load(c, sub, &e) == LVT_ERROR, "directory accepted");
    CHECK_MSG(e.msg, "is a directory");

    /* the file name prefixes semantic errors too */
    snprintf(file, sizeof file, "%s/bad.json", sub);
    write_file(file, "{\n  \"train\": {\"epochs\": -3}\n}\n");
    CHECK(lvt_config_load(c, file, &e) == LVT_ERROR, "bad accepted");
    snprintf(want, sizeof want, "%s: train.epochs: must be in [1, 100000], got -3", file);
    CHECK_MSG(e.msg, want);

    /* load_sets: --set may repair a cross-field conflict of the file; validation runs at the end */
    write_file(file, "{\"model\": {\"d_model\": 384, \"n_heads\": 7}}");
    const char *fix[] = {"model.n_heads=6"};
    CHECK(lvt_config_load_sets(c, file, fix, 1, &e) == LVT_OK && c->model.n_heads == 6, "repair: %s", e.msg);
    const char *breakit[] = {"model.n_heads=5"};
    CHECK(lvt_config_load_sets(c, file, breakit, 1, &e) == LVT_ERROR, "conflict accepted");
    CHECK_MSG(e.msg, "(with --set): model.n_heads 5 does not divide model.d_model 384");
    free(real);
    free(c);
}

/* show -> load gives an identical struct (bytes) and identical text, for a busy config. */
static void test_round_trip(void) {
    const char *src = getenv("LVT_SOURCE_DIR");
    char dir[1100], a[1200], b[1200], p4[1200];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("test_config_rt"));
    snprintf(a, sizeof a, "%s/a.json", dir);
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/elsewhere'", dir);
    CHECK(test_system(cmd) == 0, "mkdir");
    snprintf(b, sizeof b, "%s/elsewhere/b.json", dir);
    write_file(a,
               "{\"model\": {\"d_model\": 384, \"n_heads\": 6, \"dropout\": 0.0},\n"
               " \"data\": {\"train\": \"t.h5\", \"ood\": \"\", \"normalize\": false, \"shard\": \"articles\","
               " \"cross_article\": true},\n"
               " \"train\": {\"seed\": 9007199254740991, \"max_steps\": 1234567, \"backend\": \"cpu\","
               " \"math\": \"fp32\", \"micro_batch\": 16, \"grad_accum\": 2, \"grad_clip\": 0.5},\n"
               " \"optim\": {\"lr\": 3e-4, \"betas\": [0.85, 0.98], \"schedule\": \"cosine\", \"min_lr\": 1e-6,"
               " \"plateau\": {\"patience\": 7}},\n"
               " \"objective\": {\"rollout_h\": 2, \"lambda_roll\": 0.1, \"rollout_grad\": \"first\","
               " \"flat_threshold\": -0.25, \"context_drop_mode\": \"mean\", \"margin_ac\": 0.3},\n"
               " \"curriculum\": [{\"from_epoch\": 1, \"name\": \"a \\\"quoted\\\" name\"},"
               " {\"from_epoch\": 3, \"lr\": 1e-4, \"adaptive_dir\": \"sample\", \"lambda_ac\": 0.01}],\n"
               " \"tripwires\": [{\"epochs\": [2, 2], \"if\": \"  train_loss>=1e3 \", \"set\": {\"dir_ref\": \"last\"}},"
               " {\"epochs\": [5, 999], \"if\": \"val_cos_drop_pct > 2.5\", \"rollback_to_epoch\": 4,"
               " \"set\": {\"lr\": 5e-5, \"rollout_h\": 1}}],\n"
               " \"eval\": {\"mini5cat_samples\": 0},\n"
               " \"output\": {\"run_dir\": \"../r\", \"keep_epochs\": \"03\"}}\n");
    lvt_config *x = new_defaults(), *y = new_defaults();
    lvt_err e = {{0}};
    CHECK(lvt_config_load(x, a, &e) == LVT_OK, "load a: %s", e.msg);
    CHECK(!strcmp(x->tripwires[0].cond_text, "train_loss >= 1000") && x->tripwires[0].op == LVT_CMP_GE &&
              x->tripwires[0].value == 1000.0, "normalised condition '%s'", x->tripwires[0].cond_text);
    CHECK(x->output.keep_epochs == 3, "keep %d", x->output.keep_epochs);
    CHECK(x->train.seed == 9007199254740991ULL, "seed %llu", x->train.seed);
    char *ja = lvt_config_to_json(x);
    CHECK(ja != NULL, "to_json");
    write_file(b, ja);
    CHECK(lvt_config_load(y, b, &e) == LVT_OK, "load b: %s", e.msg);
    CHECK(memcmp(x, y, sizeof *x) == 0, "round trip: structs differ");
    char *jb = lvt_config_to_json(y);
    CHECK(jb && !strcmp(ja, jb), "round trip: texts differ\n%s\n---\n%s", ja, jb ? jb : "");
    free(ja);
    free(jb);

    /* the same for the P4 recipe */
    if (src) {
        snprintf(p4, sizeof p4, "%s/configs/p4_rollout.json", src);
        CHECK(lvt_config_load(x, p4, &e) == LVT_OK, "load p4: %s", e.msg);
        ja = lvt_config_to_json(x);
        write_file(b, ja);
        CHECK(lvt_config_load(y, b, &e) == LVT_OK, "reload p4: %s", e.msg);
        CHECK(memcmp(x, y, sizeof *x) == 0, "p4 round trip: structs differ");
        free(ja);
    }
    free(x);
    free(y);
}

/* configs/: the recipes hold exactly docs/training.md's curriculum and tripwires. */
static void test_recipes(void) {
    const char *src = getenv("LVT_SOURCE_DIR");
    if (!src) {
        printf("LVT_SOURCE_DIR unset: recipe checks skipped\n");
        return;
    }
    char path[1200], want[1300];
    lvt_config *c = new_defaults();
    lvt_err e = {{0}};
    const char *names[] = {"p1_baseline", "p3_tiny_guards", "p4_rollout"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/configs/%s.json", src, names[i]);
        CHECK(lvt_config_load(c, path, &e) == LVT_OK, "%s: %s", names[i], e.msg);
        char *real = realpath(src, NULL);
        snprintf(want, sizeof want, "%s/data/val.h5", real);
        CHECK(!strcmp(c->data.val, want), "%s: val %s want %s", names[i], c->data.val, want);
        free(real);
    }

    snprintf(path, sizeof path, "%s/configs/p1_baseline.json", src);
    CHECK(lvt_config_load(c, path, &e) == LVT_OK, "p1");
    CHECK(c->train.epochs == 20 && c->train.global_batch == 64 && c->optim.lr == 5e-4 && c->n_phases == 0 &&
              c->n_tripwires == 0 && c->objective.rollout_h == 0 && c->objective.lambda_dir == 0 &&
              c->objective.lambda_fut == 0 && c->objective.lambda_ac == 0 && c->objective.context_drop_p == 0,
          "p1 is pure MSE");

    lvt_objective_cfg o;
    double lr;
    snprintf(path, sizeof path, "%s/configs/p3_tiny_guards.json", src);
    CHECK(lvt_config_load(c, path, &e) == LVT_OK, "p3");
    lvt_config_at_epoch(c, 5, &o, &lr);
    CHECK(o.lambda_dir == 0.0, "p3 epoch 5 lambda_dir %g", o.lambda_dir);
    lvt_config_at_epoch(c, 6, &o, &lr);
    CHECK(o.lambda_dir == 0.002 && o.rollout_h == 0 && lr == 5e-4, "p3 epoch 6 lambda_dir %g", o.lambda_dir);

    snprintf(path, sizeof path, "%s/configs/p4_rollout.json", src);
    CHECK(lvt_config_load(c, path, &e) == LVT_OK, "p4");
    CHECK(c->n_phases == 5 && c->n_tripwires == 4, "p4 lists %d %d", c->n_phases, c->n_tripwires);
    /* the knobs in force epoch by epoch (docs/training.md) */
    struct {
        int epoch, h;
        double roll, dir, drop, fut;
    } at[] = {{1, 0, 0, 0, 0, 0},         {3, 0, 0, 0, 0, 0},         {4, 3, 0.05, 0, 0, 0},
              {5, 3, 0.05, 0, 0, 0},      {6, 3, 0.05, 0.002, 0.05, 0}, {7, 3, 0.10, 0.002, 0.05, 0},
              {9, 3, 0.10, 0.002, 0.05, 0}, {10, 3, 0.10, 0.002, 0.05, 0.002}, {20, 3, 0.10, 0.002, 0.05, 0.002}};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        lvt_config_at_epoch(c, at[i].epoch, &o, &lr);
        CHECK(o.rollout_h == at[i].h && o.lambda_roll == at[i].roll && o.lambda_dir == at[i].dir &&
                  o.context_drop_p == at[i].drop && o.lambda_fut == at[i].fut && o.margin_dir == 0.01 &&
                  o.margin_fut == 0.008 && o.lambda_ac == 0 && lr == 5e-4,
              "p4 epoch %d: h %d roll %g dir %g drop %g fut %g", at[i].epoch, o.rollout_h, o.lambda_roll,
              o.lambda_dir, o.context_drop_p, o.lambda_fut);
    }
    CHECK(!strcmp(c->phases[1].name, "rollout") && !strcmp(c->phases[2].name, "guards"), "phase names");
    const lvt_tripwire *t = c->tripwires;
    CHECK(t[0].epoch_lo == 4 && t[0].epoch_hi == 5 && t[0].metric == LVT_METRIC_VAL_COS_DROP_PCT &&
              t[0].op == LVT_CMP_GT && t[0].value == 5 && t[0].ov.set == LVT_OV_LAMBDA_ROLL &&
              t[0].ov.obj.lambda_roll == 0.03 && t[0].rollback_to_epoch == 0, "tripwire 0");
    CHECK(t[1].epoch_lo == 6 && t[1].epoch_hi == 6 && t[1].value == 3 && t[1].ov.set == LVT_OV_LAMBDA_DIR &&
              t[1].ov.obj.lambda_dir == 0.001, "tripwire 1");
    CHECK(t[2].epoch_lo == 8 && t[2].epoch_hi == 10 && t[2].metric == LVT_METRIC_MARGIN && t[2].op == LVT_CMP_LT &&
              t[2].value == 0 && t[2].ov.set == LVT_OV_ROLLOUT_H && t[2].ov.obj.rollout_h == 4, "tripwire 2");
    CHECK(t[3].epoch_lo == 9 && t[3].epoch_hi == 999 && t[3].metric == LVT_METRIC_VAL_COS && t[3].value == 0.48 &&
              t[3].rollback_to_epoch == 3 && t[3].ov.set == LVT_OV_LAMBDA_ROLL && t[3].ov.obj.lambda_roll == 0.03,
          "tripwire 3");
    CHECK(lvt_tripwire_holds(&t[3], 0.47) && !lvt_tripwire_holds(&t[3], 0.48) && !lvt_tripwire_holds(&t[3], NAN),
          "val_cos < 0.48");
    CHECK(lvt_tripwire_holds(&t[0], 5.01) && !lvt_tripwire_holds(&t[0], 5.0), "drop > 5");

    /* an override applies exactly its flagged knobs */
    lvt_objective_cfg base = c->objective, got = base;
    double glr = 1.0;
    lvt_override_apply(&t[3].ov, &got, &glr);
    base.lambda_roll = 0.03;
    CHECK(memcmp(&got, &base, sizeof got) == 0 && glr == 1.0, "apply touches only lambda_roll");
    char desc[128];
    CHECK(!strcmp(lvt_override_describe(&t[3].ov, desc, sizeof desc), "lambda_roll=0.03"), "describe '%s'", desc);
    lvt_override ov = {0};
    ov.set = LVT_OV_LR | LVT_OV_CONTEXT_DROP_MODE;
    ov.lr = 2.5e-4;
    ov.obj.context_drop_mode = LVT_CTX_DROP_ZERO;
    lvt_override_apply(&ov, &got, &glr);
    CHECK(glr == 2.5e-4 && got.context_drop_mode == LVT_CTX_DROP_ZERO && got.lambda_roll == 0.03, "apply lr + mode");
    CHECK(!strcmp(lvt_override_describe(&ov, desc, sizeof desc), "context_drop_mode=zero, lr=0.00025"), "describe '%s'",
          desc);

    /* tripwires 0 and 3 both fired: the accumulated override sets lambda_roll (last wins) and
     * applied after the phases of epoch 10 it beats the phase value 0.10 */
    lvt_override acc = {0};
    lvt_override_merge(&acc, &t[1].ov);
    lvt_override_merge(&acc, &t[3].ov);
    lvt_override_merge(&acc, &ov);
    CHECK(acc.set == (LVT_OV_LAMBDA_DIR | LVT_OV_LAMBDA_ROLL | LVT_OV_LR | LVT_OV_CONTEXT_DROP_MODE) &&
              acc.obj.lambda_dir == 0.001 && acc.obj.lambda_roll == 0.03 && acc.lr == 2.5e-4 &&
              acc.obj.context_drop_mode == LVT_CTX_DROP_ZERO, "merge");
    lvt_config_at_epoch(c, 10, &o, &lr);
    lvt_override_apply(&acc, &o, &lr);
    CHECK(o.lambda_roll == 0.03 && o.lambda_dir == 0.001 && o.lambda_fut == 0.002 && o.rollout_h == 3 && lr == 2.5e-4,
          "phases then tripwires");
    free(c);
}

/* The echo's exact layout (what `lvt config show` prints and a checkpoint's /config stores) and
 * the choice names: a phase name with a quote is escaped, enums print their JSON spelling. */
static void test_echo_layout(void) {
    lvt_config *c = new_defaults();
    lvt_err e = {{0}};
    CHECK(lvt_config_parse(c,
                           "{\"optim\": {\"schedule\": \"cosine\"}, \"output\": {\"keep_epochs\": 2},"
                           " \"curriculum\": [{\"from_epoch\": 2, \"name\": \"warm\\\"up\", \"lr\": 1e-3,"
                           " \"dir_ref\": \"last\"}],"
                           " \"tripwires\": [{\"epochs\": [3, 4], \"if\": \"margin<0\", \"set\": {\"context_drop_mode\":"
                           " \"mean\"}, \"rollback_to_epoch\": 2}]}",
                           "layout.json", NULL, &e) == LVT_OK,
          "parse: %s", e.msg);
    char *js = lvt_config_to_json(c);
    CHECK(js != NULL, "echo");
    const char *want[] = {
        "{\n  \"model\": {\n    \"arch\": \"transformer\",\n    \"dim\": 768,\n",
        "\n    \"dropout\": 0.1\n  },\n  \"data\": {\n",
        "\n    \"betas\": [0.9, 0.999],\n",
        "\n    \"schedule\": \"cosine\",\n    \"plateau\": {\n      \"factor\": 0.5,\n",
        "\n    \"grad_clip\": 1.0,\n",
        "\n  \"curriculum\": [\n    {\"from_epoch\": 2, \"name\": \"warm\\\"up\", \"lr\": 0.001, \"dir_ref\": \"last\"}\n  ],\n",
        "\n  \"tripwires\": [\n    {\"epochs\": [3, 4], \"if\": \"margin < 0\", \"set\": {\"context_drop_mode\": \"mean\"}, "
        "\"rollback_to_epoch\": 2}\n  ],\n",
        "\n    \"keep_epochs\": \"2\"\n  }\n}\n",
    };
    for (size_t i = 0; js && i < sizeof want / sizeof want[0]; i++)
        CHECK(strstr(js, want[i]) != NULL, "echo lacks %s", want[i]);
    CHECK(js && strlen(js) > 3 && !strcmp(js + strlen(js) - 3, "\n}\n"), "ends with a newline");
    CHECK(!strcmp(lvt_config_choice_name(LVT_CHOICE_CONTEXT_DROP_MODE, LVT_CTX_DROP_MEAN), "mean") &&
              !strcmp(lvt_config_choice_name(LVT_CHOICE_METRIC, LVT_METRIC_VAL_COS_DROP_PCT), "val_cos_drop_pct") &&
              !strcmp(lvt_config_choice_name(LVT_CHOICE_SCHEDULE, LVT_SCHED_CONSTANT), "constant") &&
              !strcmp(lvt_config_choice_name(LVT_CHOICE_MATH, 99), "?"),
          "choice names");
    free(js);
    free(c);
}

/* A tripwire may compare with a val baseline instead of a number: parsed to the enum once. */
static void test_tripwire_refs(void) {
    lvt_config *c = new_defaults();
    lvt_err e = {{0}};
    CHECK(lvt_config_set(c, "tripwires=[{\"epochs\":[2,3],\"if\":\"val_cos<baseline_copy_last\",\"set\":{\"lr\":1e-4}},"
                            "{\"epochs\":[2,3],\"if\":\"margin >= baseline_mean_of_context\",\"set\":{\"lr\":1e-4}},"
                            "{\"epochs\":[2,3],\"if\":\"val_loss > 0.25\",\"set\":{\"lr\":1e-4}}]", &e) == LVT_OK,
          "tripwires: %s", e.msg);
    const lvt_tripwire *t = c->tripwires;
    CHECK(c->n_tripwires == 3 && t[0].ref == LVT_TRIPWIRE_VS_COPY_LAST && t[0].metric == LVT_METRIC_VAL_COS &&
              !strcmp(t[0].cond_text, "val_cos < baseline_copy_last"), "copy-last ref '%s'", t[0].cond_text);
    CHECK(t[1].ref == LVT_TRIPWIRE_VS_MEAN_OF_CONTEXT && t[1].op == LVT_CMP_GE &&
              !strcmp(t[1].cond_text, "margin >= baseline_mean_of_context"), "mean ref '%s'", t[1].cond_text);
    CHECK(t[2].ref == LVT_TRIPWIRE_VS_VALUE && t[2].value == 0.25, "number ref");
    CHECK(lvt_config_set(c, "tripwires=[{\"epochs\":[2,3],\"if\":\"val_cos < baseline_copy\",\"set\":{\"lr\":1e-4}}]",
                         &e) == LVT_ERROR, "an unknown baseline must fail");
    free(c);
}

int main(void) {
    test_defaults();
    test_malformed();
    test_set();
    test_paths();
    test_round_trip();
    test_recipes();
    test_echo_layout();
    test_tripwire_refs();
    return test_finish("test_config");
}
