/* cmd_export.c — `lvt export CKPT.h5 --out MODEL.safetensors`: the model's parameters under
 * their PyTorch names, loadable with load_state_dict into the reference module. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lvt/ckpt.h"
#include "lvt/safetensors.h"

int cmd_export(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: lvt export CKPT.h5 --out MODEL.safetensors   (or: lvt export CKPT.h5 MODEL.safetensors)\n\n"
               "Writes the checkpoint's parameters as float32 safetensors (PyTorch state_dict names,\n"
               "the model's order) with the model config in __metadata__. The input may also be a\n"
               "safetensors file (re-export). See docs/checkpoints.md.\n");
        return 0;
    }
    const char *in = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        int r = cli_flag_value("export", argc, argv, &i, "--out", &out);
        if (r < 0) return 1;
        if (r) continue;
        if (argv[i][0] == '-') return cli_fail("export", "unknown option '%s' (see lvt export --help)", argv[i]);
        if (!in) in = argv[i];
        else if (!out) out = argv[i]; /* `lvt export CKPT.h5 OUT.safetensors` (docs/checkpoints.md) also works */
        else return cli_fail("export", "unexpected argument '%s'", argv[i]);
    }
    if (!in) return cli_fail("export", "missing CKPT.h5 (see lvt export --help)");
    if (!out) return cli_fail("export", "missing --out MODEL.safetensors");
    lvt_err e = {{0}};
    lvt_backend *be = NULL;
    if (lvt_backend_create(&be, "cpu", -1, LVT_MATH_FP32, &e)) return cli_fail("export", "%s", e.msg);
    lvt_model m;
    int rc = 1;
    if (lvt_ckpt_load_any(in, be, 5, &m, &e)) {
        cli_fail("export", "%s", e.msg);
    } else {
        if (lvt_safetensors_save(out, &m, &e)) cli_fail("export", "%s", e.msg);
        else {
            printf("wrote %s: %d tensors, %zu parameters\n", out, m.n_tensors, m.n_params);
            rc = 0;
        }
        lvt_model_destroy(&m);
    }
    lvt_backend_destroy(be);
    return rc;
}
