/* fuzz_ckpt.c — libFuzzer target: the checkpoint opener on arbitrary bytes written to an HDF5
 * file: lvt_ckpt_read_info (format, version, model shape, step/epoch, /config, /extra),
 * lvt_ckpt_load_any (model created from the file's shape on the CPU backend, every tensor read)
 * and, when that held, lvt_ckpt_load with an optimiser (the resume path: moments and state).
 * HDF5 itself is not instrumented. Invariant: every failure leaves a message. */
#include <stdio.h>
#include <string.h>

#include "fuzz_util.h"
#include "lvt/ckpt.h"
#include "lvt/model.h"
#include "lvt/optim.h"

static void load_with_optim(const char *path, lvt_model *m) {
    lvt_optim_hparams hp;
    lvt_optim_hparams_default(&hp);
    lvt_optim o;
    lvt_err e = {{0}};
    if (lvt_optim_create(&o, &hp, m->be, m->n_params, &e)) fuzz_fail("lvt_optim_create", e.msg);
    lvt_ckpt_info info;
    if (lvt_ckpt_load(path, m, &o, &info, &e) == 0) lvt_ckpt_info_free(&info);
    else if (!e.msg[0]) fuzz_fail("lvt_ckpt_load failed without a message", NULL);
    lvt_optim_destroy(&o);
}

void fuzz_target(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_file("in.h5", data, size);
    lvt_ckpt_info info;
    lvt_err e = {{0}};
    if (lvt_ckpt_read_info(path, &info, &e)) {
        if (!e.msg[0]) fuzz_fail("lvt_ckpt_read_info failed without a message", NULL);
        return;
    }
    lvt_ckpt_info_free(&info);
    lvt_model m;
    e.msg[0] = 0;
    if (lvt_ckpt_load_any(path, fuzz_cpu_backend(), 5, &m, &e)) {
        if (!e.msg[0]) fuzz_fail("lvt_ckpt_load_any failed without a message", NULL);
        return;
    }
    load_with_optim(path, &m);
    lvt_model_destroy(&m);
}
