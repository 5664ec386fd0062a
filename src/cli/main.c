/* main.c — the `lvt` binary: subcommand dispatch, `lvt help`, `lvt --version`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lvt/blas.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} command;

static const command COMMANDS[] = {
    {"synth", cmd_synth, "generate a synthetic article store (the built-in default data)"},
    {"convert", cmd_convert, "convert NPZ/NPY vectors into HDF5 article stores"},
    {"inspect", cmd_inspect, "print statistics of an article store"},
    {"config", cmd_config, "check or show a run configuration (check|show)"},
    {"init", cmd_init, "write a freshly initialised checkpoint"},
    {"train", cmd_train, "train a model (P1..P4 recipes, curriculum, tripwires)"},
    {"eval", cmd_eval, "run the 5CAT battery on a model or a baseline"},
    {"predict", cmd_predict, "run a model over contexts and write predictions"},
    {"export", cmd_export, "export a checkpoint to safetensors (PyTorch names)"},
    {"bench", cmd_bench, "time forward and training steps"},
    {"report", cmd_report, "draw PNG pictures and an HTML page of runs and sweeps"},
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f) {
    fprintf(f, "lvt %s — the latent vector trainer\n\nusage: lvt COMMAND [ARGS...]\n\ncommands:\n",
            LVT_VERSION);
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-8s  %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\n`lvt COMMAND --help` describes each command. Exit codes: 0 success, 1 error, "
               "2 gates failed (eval).\n");
}

int main(int argc, char **argv) {
    lvt_blas_ensure_core(argv); /* first: may re-exec with the right OpenBLAS core (docs/bench.md) */
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    const char *c = argv[1];
    if (!strcmp(c, "--version") || !strcmp(c, "version")) {
        char blas[256];
        lvt_blas_describe(blas, sizeof blas);
        printf("lvt %s\nBLAS: %s\n", LVT_VERSION, blas);
        return 0;
    }
    if (!strcmp(c, "help") || !strcmp(c, "--help") || !strcmp(c, "-h")) {
        if (argc >= 3) {
            for (size_t i = 0; i < N_COMMANDS; i++)
                if (!strcmp(argv[2], COMMANDS[i].name)) {
                    char *hargv[] = {argv[2], "--help", NULL};
                    return COMMANDS[i].fn(2, hargv);
                }
            fprintf(stderr, "lvt: unknown command '%s' (see `lvt help`)\n", argv[2]);
            return 1;
        }
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(c, COMMANDS[i].name)) return COMMANDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "lvt: unknown command '%s' (see `lvt help`)\n", c);
    return 1;
}
