/* fuzz_safetensors.c — libFuzzer target: safetensors import on arbitrary bytes — the header
 * parse and model-shape inference (lvt_safetensors_read_cfg) and the whole open of a model file
 * (lvt_ckpt_load_any: shape inference, lvt_model_create on the CPU backend, every tensor mapped
 * and converted). Invariants: every failure leaves a message; an accepted file yields a model
 * whose shape is the inferred one. */
#include <stdio.h>
#include <string.h>

#include "fuzz_util.h"
#include "lvt/ckpt.h"
#include "lvt/model.h"
#include "lvt/safetensors.h"

void fuzz_target(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_file("in.safetensors", data, size);
    lvt_model_cfg cfg;
    int from_meta = 0;
    lvt_err e = {{0}};
    int cfg_ok = lvt_safetensors_read_cfg(path, 5, &cfg, &from_meta, &e) == 0;
    if (!cfg_ok && !e.msg[0]) fuzz_fail("lvt_safetensors_read_cfg failed without a message", NULL);
    if (!cfg_ok) return; /* lvt_ckpt_load_any would stop at the same point */
    lvt_model m;
    e.msg[0] = 0;
    if (lvt_ckpt_load_any(path, fuzz_cpu_backend(), 5, &m, &e)) {
        if (!e.msg[0]) fuzz_fail("lvt_ckpt_load_any failed without a message", NULL);
        return;
    }
    if (m.cfg.dim != cfg.dim || m.cfg.d_model != cfg.d_model || m.cfg.n_layers != cfg.n_layers ||
        m.cfg.n_heads != cfg.n_heads || m.cfg.ffn_mult != cfg.ffn_mult)
        fuzz_fail("the loaded model's shape differs from the inferred one", NULL);
    lvt_model_destroy(&m);
}
