/* cmd_train.c — `lvt train CONFIG.json [--run-dir DIR] [--resume DIR] [--set KEY=VALUE]...`:
 * one process, or every rank of an mpirun/srun launch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lvt/comm.h"
#include "lvt/config.h"
#include "lvt/train.h"

static void usage(void) {
    printf("usage: lvt train CONFIG.json [--run-dir DIR] [--resume DIR] [--restart] [--allow-change]\n"
           "                 [--set KEY=VALUE]...\n\n"
           "Train a model with the configuration's recipe (P1..P4: objective, curriculum, tripwires).\n"
           "Run directory (default: output.run_dir of the config): config.json, ckpt/epoch_NNN.h5,\n"
           "ckpt/last.h5, ckpt/best.h5, training_history.json, metrics.jsonl, training.log.\n\n"
           "  --run-dir DIR     where the run writes (overrides output.run_dir)\n"
           "  --resume DIR      continue the run in DIR from its newest checkpoint that loads (exactly:\n"
           "                    same weights as an uninterrupted run on the CPU backend)\n"
           "  --restart         DIR already holds a run: move it into DIR/previous.N/ and start over\n"
           "                    (without --resume or --restart such a directory is refused)\n"
           "  --allow-change    resume although the model shape, data, global batch or seed changed\n"
           "                    (the run no longer continues exactly; each change is logged)\n"
           "  --set KEY=VALUE   override a config key, e.g. --set objective.rollout_h=4 (repeatable)\n\n"
           "Launch on N processes with `mpirun -np N lvt train ...` or `srun lvt train ...`:\n"
           "train.global_batch = micro_batch x world x grad_accum. SIGTERM/SIGUSR1 stop every rank at\n"
           "the next step boundary after a checkpoint (exit 0); --resume continues.\n");
}

/* The test hooks, read here once (the trainer reads no environment): LVT_FAULT_NAN_STEP=k poisons
 * one input value at global step k (each time it is reached with LVT_FAULT_NAN_REPEAT=1);
 * LVT_FAULT_KILL_SAVE=k dies by SIGKILL inside the k-th checkpoint save (a partial temporary
 * file); LVT_FAULT_WAIT_STOP=k waits after global step k for a stop signal (signal tests);
 * LVT_FAULT_RAISE_SETUP=1 raises SIGTERM right after the stores are loaded;
 * LVT_DEVDATA=1 keeps the train store on the CPU backend and gathers there, as a GPU run
 * does (docs/training.md); LVT_GRAPH_EMULATE=1 runs the CUDA-graph step eagerly on a backend
 * without graphs (docs/cuda.md). */
static void test_hooks(lvt_train_opts *o) {
    const char *fault = getenv("LVT_FAULT_NAN_STEP");
    if (fault && *fault) o->fault_nan_step = atol(fault);
    const char *ks = getenv("LVT_FAULT_KILL_SAVE"); /* die inside the k-th checkpoint save */
    if (ks && *ks) o->fault_kill_save = atol(ks);
    const char *rep = getenv("LVT_FAULT_NAN_REPEAT"); /* poison that step every time it is reached */
    o->fault_nan_repeat = rep && !strcmp(rep, "1");
    const char *rs = getenv("LVT_FAULT_RAISE_SETUP"); /* SIGTERM while setting up */
    o->fault_raise_setup = rs && !strcmp(rs, "1");
    const char *ws = getenv("LVT_FAULT_WAIT_STOP"); /* wait for a stop signal after step k */
    if (ws && *ws) o->fault_wait_stop = atol(ws);
    const char *dd = getenv("LVT_DEVDATA");
    o->force_devdata = dd && !strcmp(dd, "1");
    const char *ge = getenv("LVT_GRAPH_EMULATE");
    o->graph_emulate = ge && !strcmp(ge, "1");
}

/* The flags; 0 on success, 1 after printing the error. sets has room for argc entries. */
typedef struct train_args {
    const char *config, *run_dir, *resume;
    const char **sets;
    int n_sets;
    int restart, allow_change;
} train_args;

static int parse_args(int argc, char **argv, train_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_flag_value("train", argc, argv, &i, "--run-dir", &v))) {
            if (r < 0) return 1;
            a->run_dir = v;
        } else if ((r = cli_flag_value("train", argc, argv, &i, "--resume", &v))) {
            if (r < 0) return 1;
            a->resume = v;
        } else if ((r = cli_flag_value("train", argc, argv, &i, "--set", &v))) {
            if (r < 0) return 1;
            a->sets[a->n_sets++] = v;
        } else if (!strcmp(argv[i], "--restart")) {
            a->restart = 1;
        } else if (!strcmp(argv[i], "--allow-change")) {
            a->allow_change = 1;
        } else if (argv[i][0] == '-') {
            return cli_fail("train", "unknown option '%s' (see `lvt train --help`)", argv[i]);
        } else if (!a->config) {
            a->config = argv[i];
        } else {
            return cli_fail("train", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!a->config) return cli_fail("train", "missing CONFIG.json (see `lvt train --help`)");
    if (a->resume && a->run_dir && strcmp(a->resume, a->run_dir))
        return cli_fail("train", "--resume %s and --run-dir %s name different runs", a->resume, a->run_dir);
    if (a->resume && a->restart) return cli_fail("train", "--resume and --restart exclude each other");
    if (a->allow_change && !a->resume) return cli_fail("train", "--allow-change only applies with --resume");
    return 0;
}

int cmd_train(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    train_args a = {NULL, NULL, NULL, calloc((size_t)argc, sizeof(const char *)), 0, 0, 0};
    if (!a.sets) return cli_fail("train", "out of memory");
    if (parse_args(argc, argv, &a)) goto bad;
    const char *resume = a.resume;
    lvt_err e = {{0}};
    lvt_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        cli_fail("train", "out of memory");
        goto bad;
    }
    lvt_comm comm;
    if (lvt_comm_init(&comm, &argc, &argv, &e)) {
        free(cfg);
        cli_fail("train", "%s", e.msg);
        goto bad;
    }
    int rc = lvt_config_load_sets(cfg, a.config, a.sets, a.n_sets, &e);
    const char *dir = resume ? resume : a.run_dir ? a.run_dir : cfg->output.run_dir;
    lvt_train_opts topts;
    lvt_train_opts_default(&topts);
    topts.run_dir = dir;
    topts.resume = resume != NULL;
    topts.restart = a.restart;
    topts.allow_change = a.allow_change;
    test_hooks(&topts);
    lvt_train_summary sum;
    if (rc == LVT_OK) rc = lvt_train_run(cfg, &topts, &comm, &sum, &e);
    int code = 0;
    if (rc != LVT_OK) {
        if (comm.world > 1)
            fprintf(stderr, "lvt train [rank %d]: %s\n", comm.rank, e.msg);
        else
            fprintf(stderr, "lvt train: %s\n", e.msg);
        code = 1;
        if (comm.world > 1) lvt_comm_abort(&comm, 1); /* never leave the other ranks waiting */
    } else if (comm.rank == 0 && !sum.preempted) {
        printf("summary: epochs %d, steps %ld, val_cos %.4f, Margin(+1 vs last) %.4f, best val_loss %.6f, "
               "%.1fs, %.0f samples/s, run dir %s\n",
               sum.epochs_done, sum.steps_done, sum.val_cos, sum.margin, sum.best_val_loss, sum.seconds,
               sum.samples_per_s, dir);
    }
    lvt_comm_finalize(&comm);
    free(cfg);
    free(a.sets);
    return code;
bad:
    free(a.sets);
    return 1;
}
