/* cmd_init.c — `lvt init CONFIG.json --out CKPT.h5 [--seed S] [--set K=V]...`: a freshly
 * initialised (PyTorch-default init) weights-only checkpoint carrying the resolved config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lvt/ckpt.h"
#include "lvt/config.h"
#include "lvt/model.h"

static void usage(void) {
    printf("usage: lvt init CONFIG.json --out CKPT.h5 [--seed S] [--set KEY=VALUE]...\n\n"
           "Writes a checkpoint with freshly initialised parameters (PyTorch's default initialisation,\n"
           "seeded) for the model described by CONFIG.json, with step 0, epoch 0, no optimiser state and\n"
           "the resolved configuration. --seed defaults to train.seed of the config.\n");
}

int cmd_init(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    const char *cfg_path = NULL, *out = NULL, *seed_s = NULL;
    const char *sets[64];
    int n_sets = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if ((r = cli_flag_value("init", argc, argv, &i, "--out", &out))) {
            if (r < 0) return 1;
        } else if ((r = cli_flag_value("init", argc, argv, &i, "--seed", &seed_s))) {
            if (r < 0) return 1;
        } else if ((r = cli_flag_value("init", argc, argv, &i, "--set", &v))) {
            if (r < 0) return 1;
            if (n_sets == 64) return cli_fail("init", "too many --set options (at most 64)");
            sets[n_sets++] = v;
        } else if (argv[i][0] == '-') {
            return cli_fail("init", "unknown option '%s' (see lvt init --help)", argv[i]);
        } else if (!cfg_path) {
            cfg_path = argv[i];
        } else {
            return cli_fail("init", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!cfg_path) return cli_fail("init", "missing CONFIG.json (see lvt init --help)");
    if (!out) return cli_fail("init", "missing --out CKPT.h5");

    lvt_err e = {{0}};
    lvt_config *c = malloc(sizeof *c);
    if (!c) return cli_fail("init", "out of memory");
    if (lvt_config_load_sets(c, cfg_path, sets, n_sets, &e)) {
        free(c);
        return cli_fail("init", "%s", e.msg);
    }
    unsigned long long seed = c->train.seed;
    if (seed_s) {
        long long s;
        if (cli_parse_long("init", "--seed", seed_s, 0, (long long)(~0ull >> 1), &s)) {
            free(c);
            return 1;
        }
        seed = (unsigned long long)s;
    }

    lvt_model_cfg mc;
    lvt_model_cfg_from_config(c, &mc);
    lvt_backend *be = NULL;
    lvt_model m;
    memset(&m, 0, sizeof m);
    lvt_ckpt_info info;
    lvt_ckpt_info_init(&info);
    int rc = 1;
    if (lvt_backend_create(&be, "cpu", -1, LVT_MATH_FP32, &e)) {
        cli_fail("init", "%s", e.msg);
        goto done;
    }
    if (lvt_model_create(&m, &mc, be, &e) || lvt_model_init(&m, seed, &e)) {
        cli_fail("init", "%s", e.msg);
        goto done;
    }
    info.config_json = lvt_config_to_json(c);
    if (lvt_kv_set_i64(&info.extra, "init.seed", (int64_t)seed, &e) || lvt_ckpt_save(out, &m, NULL, &info, &e)) {
        cli_fail("init", "%s", e.msg);
        goto done;
    }
    printf("wrote %s: %zu parameters (dim %d, d_model %d, %d layers, %d heads), seed %llu\n", out, m.n_params,
           mc.dim, mc.d_model, mc.n_layers, mc.n_heads, seed);
    rc = 0;
done:
    lvt_ckpt_info_free(&info);
    if (m.tensors) lvt_model_destroy(&m);
    if (be) lvt_backend_destroy(be);
    free(c);
    return rc;
}
