/* test_ckpt.c — checkpoints and safetensors in C: bit-identical round trip of parameters,
 * AdamW moments, optimiser/scheduler state, step/epoch, config and extra values; atomicity (a
 * write that fails under a file-size limit leaves the existing checkpoint intact and no temp
 * file); every malformed-file case with its message; safetensors round trip, config inference
 * and malformed headers; lvt_ckpt_load_any for both formats. */
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lvt/ckpt.h"
#include "lvt/safetensors.h"
#include "testutil.h"

static lvt_model_cfg small_cfg(void) {
    lvt_model_cfg c = {.dim = 12, .d_model = 8, .n_heads = 2, .n_layers = 2, .ffn_mult = 4, .context_len = 5,
                       .dropout = 0.1f};
    return c;
}

static uint64_t rs = 12345;
static float frand(void) {
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rs >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

static int copy_file(const char *from, const char *to, long max_bytes) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    if (!a || !b) {
        if (a) fclose(a);
        if (b) fclose(b);
        return -1;
    }
    char buf[4096];
    long total = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0) {
        if (max_bytes >= 0 && total + (long)n > max_bytes) n = (size_t)(max_bytes - total);
        fwrite(buf, 1, n, b);
        total += (long)n;
        if (max_bytes >= 0 && total >= max_bytes) break;
    }
    fclose(a);
    fclose(b);
    return 0;
}

static long file_size(const char *p) {
    FILE *f = fopen(p, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static int count_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *ent;
    while (d && (ent = readdir(d)))
        if (strstr(ent->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

/* Expect lvt_ckpt_load of path into a model of cfg to fail with a message containing needle. */
static void expect_load_fail(const char *path, const lvt_model_cfg *cfg, lvt_backend *be, const char *needle) {
    lvt_model m;
    lvt_err e = {{0}};
    if (lvt_model_create(&m, cfg, be, &e)) {
        CHECK(0, "model create: %s", e.msg);
        return;
    }
    int rc = lvt_ckpt_load(path, &m, NULL, NULL, &e);
    CHECK(rc != 0, "loading %s should fail (%s)", path, needle);
    CHECK_MSG(e.msg, needle);
    CHECK_MSG(e.msg, path);
    lvt_model_destroy(&m);
}

static hid_t h5_open_rw(const char *path) { return H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT); }

static void set_str_attr(hid_t f, const char *name, const char *v) {
    if (H5Aexists(f, name) > 0) H5Adelete(f, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, v);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

/* A safetensors file from a header text and n zero data bytes. */
static void write_st(const char *path, const char *header, size_t data_bytes) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    uint64_t n = strlen(header);
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(n >> (8 * i));
    fwrite(len8, 1, 8, f);
    fwrite(header, 1, n, f);
    for (size_t i = 0; i < data_bytes; i++) fputc(0, f);
    fclose(f);
}

int main(void) {
    const char *dir = test_tmpdir("test_ckpt");
    char path[1200], p2[1200];
    lvt_err e = {{0}};
    lvt_backend *be = NULL;
    if (lvt_backend_create(&be, "cpu", -1, LVT_MATH_FP32, &e)) {
        fprintf(stderr, "backend: %s\n", e.msg);
        return 1;
    }
    lvt_model_cfg cfg = small_cfg();
    lvt_model m;
    CHECK(lvt_model_create(&m, &cfg, be, &e) == 0, "model: %s", e.msg);
    CHECK(lvt_model_init(&m, 7, &e) == 0, "init: %s", e.msg);

    /* An optimiser with non-trivial state: 3 steps on random gradients, a plateau history. */
    lvt_optim_hparams hp;
    lvt_optim_hparams_default(&hp);
    lvt_optim o;
    CHECK(lvt_optim_create(&o, &hp, be, m.n_params, &e) == 0, "optim: %s", e.msg);
    for (int s = 0; s < 3; s++) {
        for (size_t i = 0; i < m.n_params; i++) m.grads[i] = frand();
        lvt_optim_step(&o, m.params, m.grads);
    }
    const double val[] = {1.0, 0.9, 0.95, 0.96, 0.97, 0.98};
    for (int i = 0; i < 6; i++) lvt_optim_plateau_step(&o, val[i]);
    CHECK(o.n_reductions == 1 && o.lr == 2.5e-4, "plateau history: %ld reductions, lr %g", o.n_reductions, o.lr);

    lvt_ckpt_info info;
    lvt_ckpt_info_init(&info);
    info.step = 3;
    info.epoch = 6;
    info.config_json = strdup("{\"model\": {\"dim\": 12}, \"note\": \"round trip\"}");
    const int64_t ia[4] = {-1, 0, 1LL << 40, 5};
    const double da[3] = {0.1, -2.5e-300, INFINITY};
    CHECK(lvt_kv_set_i64(&info.extra, "curriculum.phase", 2, &e) == 0, "kv: %s", e.msg);
    CHECK(lvt_kv_set_f64(&info.extra, "tripwire.best_val_cos", 0.123456789012345678, &e) == 0, "kv: %s", e.msg);
    CHECK(lvt_kv_set_str(&info.extra, "rng.note", "philox seed 42", &e) == 0, "kv: %s", e.msg);
    CHECK(lvt_kv_set_i64_array(&info.extra, "tripwire.fired", ia, 4, &e) == 0, "kv: %s", e.msg);
    CHECK(lvt_kv_set_f64_array(&info.extra, "history.val_loss", da, 3, &e) == 0, "kv: %s", e.msg);
    CHECK(lvt_kv_set_i64(&info.extra, "data.position", 77, &e) == 0, "kv: %s", e.msg);
    CHECK(lvt_kv_set_i64(&info.extra, "data.position", 78, &e) == 0, "kv replace: %s", e.msg);
    CHECK(info.extra.n == 6, "replacing a name keeps one entry (%d)", info.extra.n);
    CHECK(lvt_kv_set_i64(&info.extra, "bad/name", 1, &e) != 0, "a '/' in a name must be refused");
    CHECK_MSG(e.msg, "bad/name");

    snprintf(path, sizeof path, "%s/a.h5", dir);
    CHECK(lvt_ckpt_save(path, &m, &o, &info, &e) == 0, "save: %s", e.msg);
    CHECK(count_tmp_files(dir) == 0, "temporary file left behind");

    /* ---- round trip ------------------------------------------------------------------------ */
    lvt_model m2;
    lvt_optim o2;
    CHECK(lvt_model_create(&m2, &cfg, be, &e) == 0, "model: %s", e.msg);
    CHECK(lvt_optim_create(&o2, &hp, be, m2.n_params, &e) == 0, "optim: %s", e.msg);
    lvt_ckpt_info got;
    CHECK(lvt_ckpt_load(path, &m2, &o2, &got, &e) == 0, "load: %s", e.msg);
    CHECK(!memcmp(m.params, m2.params, m.n_params * sizeof(float)), "params not bit-identical");
    CHECK(!memcmp(o.m, o2.m, m.n_params * sizeof(float)), "exp_avg not bit-identical");
    CHECK(!memcmp(o.v, o2.v, m.n_params * sizeof(float)), "exp_avg_sq not bit-identical");
    CHECK(o2.t == 3 && o2.lr == o.lr && o2.best == o.best && o2.num_bad_epochs == o.num_bad_epochs &&
              o2.cooldown_counter == o.cooldown_counter && o2.last_epoch == 6 && o2.n_reductions == 1 &&
              o2.sched_steps == o.sched_steps,
          "optimiser state: t %ld lr %g best %g bad %ld last %ld", o2.t, o2.lr, o2.best, o2.num_bad_epochs,
          o2.last_epoch);
    CHECK(got.step == 3 && got.epoch == 6 && got.has_optim == 1, "step %lld epoch %lld", (long long)got.step,
          (long long)got.epoch);
    CHECK(got.config_json && !strcmp(got.config_json, info.config_json), "config json");
    CHECK(!memcmp(&got.model, &cfg, sizeof cfg), "model cfg");
    CHECK(!strcmp(got.arch, "transformer"), "arch %s", got.arch);
    int64_t iv = 0;
    double dv = 0;
    CHECK(lvt_kv_get_i64(&got.extra, "curriculum.phase", &iv, &e) == 0 && iv == 2, "i64 %lld", (long long)iv);
    CHECK(lvt_kv_get_i64(&got.extra, "data.position", &iv, &e) == 0 && iv == 78, "i64 %lld", (long long)iv);
    CHECK(lvt_kv_get_f64(&got.extra, "tripwire.best_val_cos", &dv, &e) == 0 && dv == 0.123456789012345678, "f64");
    const lvt_kv *kv = lvt_kv_get(&got.extra, "rng.note");
    CHECK(kv && kv->type == LVT_KV_STR && !strcmp(kv->s, "philox seed 42"), "string");
    kv = lvt_kv_get(&got.extra, "tripwire.fired");
    CHECK(kv && kv->type == LVT_KV_I64_ARRAY && kv->n == 4 && !memcmp(kv->ia, ia, sizeof ia), "i64 array");
    kv = lvt_kv_get(&got.extra, "history.val_loss");
    CHECK(kv && kv->type == LVT_KV_F64_ARRAY && kv->n == 3 && !memcmp(kv->da, da, sizeof da), "f64 array");
    CHECK(lvt_kv_get_f64(&got.extra, "curriculum.phase", &dv, &e) != 0, "type mismatch must fail");
    CHECK(lvt_kv_get(&got.extra, "absent") == NULL, "absent name");
    CHECK(got.extra.n == 6, "extra count %d", got.extra.n);
    lvt_ckpt_info_free(&got);

    /* weights only: loading into an optimiser must fail clearly, loading the weights works */
    snprintf(p2, sizeof p2, "%s/weights.h5", dir);
    CHECK(lvt_ckpt_save(p2, &m, NULL, NULL, &e) == 0, "save weights-only: %s", e.msg);
    CHECK(lvt_ckpt_load(p2, &m2, &o2, NULL, &e) != 0, "optimiser from a weights-only file must fail");
    CHECK_MSG(e.msg, "/optim is missing");
    CHECK(lvt_ckpt_load(p2, &m2, NULL, NULL, &e) == 0, "weights-only load: %s", e.msg);

    /* ---- atomicity: a write that fails (file-size limit, EFBIG) leaves a.h5 intact ----------- */
    long size_a = file_size(path);
    CHECK(size_a > 20000, "checkpoint size %ld", size_a);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {(rlim_t)(size_a / 3), (rlim_t)(size_a / 3)};
        setrlimit(RLIMIT_FSIZE, &rl);
        for (size_t i = 0; i < m.n_params; i++) m.params[i] = 99.0f;
        lvt_err ce = {{0}};
        int rc = lvt_ckpt_save(path, &m, &o, &info, &ce);
        int msg_ok = strstr(ce.msg, path) != NULL;
        _exit(rc != 0 && msg_ok ? 0 : 3);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the limited write should fail with a message (status %d)",
          status);
    CHECK(file_size(path) == size_a, "the existing checkpoint changed size");
    CHECK(count_tmp_files(dir) == 0, "a failed write left its temporary file");
    CHECK(lvt_ckpt_load(path, &m2, &o2, NULL, &e) == 0, "reload after failed write: %s", e.msg);
    CHECK(!memcmp(m.params, m2.params, m.n_params * sizeof(float)), "params changed by a failed write");
    /* an unwritable location */
    snprintf(p2, sizeof p2, "%s/no/such/dir/x.h5", dir);
    CHECK(lvt_ckpt_save(p2, &m, &o, &info, &e) != 0, "save into a missing directory must fail");
    CHECK_MSG(e.msg, p2);

    /* ---- malformed files ---------------------------------------------------------------------- */
    snprintf(p2, sizeof p2, "%s/missing.h5", dir);
    expect_load_fail(p2, &cfg, be, "cannot open");
    snprintf(p2, sizeof p2, "%s/text.h5", dir);
    write_bytes(p2, "this is not hdf5\n", 17);
    expect_load_fail(p2, &cfg, be, "not an HDF5 file");
    snprintf(p2, sizeof p2, "%s/trunc.h5", dir);
    copy_file(path, p2, size_a / 2);
    expect_load_fail(p2, &cfg, be, "truncated");
    /* another format (an article store's root attribute) */
    snprintf(p2, sizeof p2, "%s/store.h5", dir);
    hid_t f = H5Fcreate(p2, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    set_str_attr(f, "format", "lvt-articles");
    H5Fclose(f);
    expect_load_fail(p2, &cfg, be, "article store");
    snprintf(p2, sizeof p2, "%s/plain.h5", dir);
    f = H5Fcreate(p2, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    expect_load_fail(p2, &cfg, be, "not an lvt checkpoint");
    /* another architecture */
    snprintf(p2, sizeof p2, "%s/arch.h5", dir);
    copy_file(path, p2, -1);
    f = h5_open_rw(p2);
    set_str_attr(f, "arch", "gru");
    H5Fclose(f);
    expect_load_fail(p2, &cfg, be, "architecture 'gru'");
    /* dimension mismatch against the expected config */
    lvt_model_cfg other = cfg;
    other.d_model = 16;
    expect_load_fail(path, &other, be, "model.d_model is 8 in the checkpoint but 16 is expected");
    other = cfg;
    other.dim = 24;
    expect_load_fail(path, &other, be, "model.dim is 12");
    /* missing tensor */
    snprintf(p2, sizeof p2, "%s/missing_tensor.h5", dir);
    copy_file(path, p2, -1);
    f = h5_open_rw(p2);
    H5Ldelete(f, "/params/head.3.bias", H5P_DEFAULT);
    H5Fclose(f);
    expect_load_fail(p2, &cfg, be, "tensor /params/head.3.bias is missing");
    /* a failed load leaves the model and the optimiser unchanged */
    snprintf(p2, sizeof p2, "%s/missing_moment.h5", dir);
    copy_file(path, p2, -1);
    f = h5_open_rw(p2);
    H5Ldelete(f, "/optim/v/head.0.weight", H5P_DEFAULT);
    H5Fclose(f);
    for (size_t i = 0; i < m2.n_params; i++) m2.params[i] = 0.25f;
    o2.t = 4242;
    o2.lr = 0.5;
    CHECK(lvt_ckpt_load(p2, &m2, &o2, NULL, &e) != 0, "a missing moment must fail");
    CHECK_MSG(e.msg, "tensor /optim/v/head.0.weight is missing");
    CHECK(o2.t == 4242 && o2.lr == 0.5 && m2.params[0] == 0.25f && m2.params[m2.n_params - 1] == 0.25f,
          "a failed load modified the model or optimiser");
    /* wrong shape */
    snprintf(p2, sizeof p2, "%s/shape.h5", dir);
    copy_file(path, p2, -1);
    f = h5_open_rw(p2);
    H5Ldelete(f, "/params/input_proj.weight", H5P_DEFAULT);
    hsize_t dims[2] = {12, 8};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t d = H5Dcreate2(f, "/params/input_proj.weight", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    expect_load_fail(p2, &cfg, be, "input_proj.weight has shape [12, 8], expected [8, 12]");
    /* unexpected tensor */
    snprintf(p2, sizeof p2, "%s/extra_tensor.h5", dir);
    copy_file(path, p2, -1);
    f = h5_open_rw(p2);
    hsize_t one = 3;
    sp = H5Screate_simple(1, &one, NULL);
    d = H5Dcreate2(f, "/params/decoder.extra", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    expect_load_fail(p2, &cfg, be, "unexpected tensor /params/decoder.extra");
    /* datasets whose chunks were never written read as fill values, and HDF5 builds an entry per
     * chunk a read touches: refused by the bytes stored before any read (fuzz_ckpt found one
     * that made a 20 KB file cost 1.6 GB) */
    snprintf(p2, sizeof p2, "%s/unwritten_chunks.h5", dir);
    copy_file(path, p2, -1);
    f = h5_open_rw(p2);
    H5Ldelete(f, "/params/input_proj.weight", H5P_DEFAULT);
    hsize_t chunk1[2] = {1, 1};
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk1);
    dims[0] = 8;
    dims[1] = 12;
    sp = H5Screate_simple(2, dims, NULL);
    d = H5Dcreate2(f, "/params/input_proj.weight", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(sp);
    if (H5Lexists(f, "extra", H5P_DEFAULT) <= 0) H5Gclose(H5Gcreate2(f, "extra", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    hsize_t big = 1000000;
    sp = H5Screate_simple(1, &big, NULL);
    H5Pset_chunk(dcpl, 1, chunk1);
    d = H5Dcreate2(f, "/extra/unwritten", H5T_NATIVE_INT64, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(dcpl);
    H5Fclose(f);
    lvt_ckpt_info uinfo;
    CHECK(lvt_ckpt_read_info(p2, &uinfo, &e) != 0, "an unwritten /extra array must be refused");
    CHECK_MSG(e.msg, "/extra/unwritten is unreadable");
    f = h5_open_rw(p2);
    H5Ldelete(f, "/extra/unwritten", H5P_DEFAULT);
    H5Fclose(f);
    expect_load_fail(p2, &cfg, be, "input_proj.weight stores 0 bytes for 96 floats (a corrupt or unwritten dataset)");

    /* ---- safetensors ------------------------------------------------------------------------- */
    snprintf(p2, sizeof p2, "%s/m.safetensors", dir);
    CHECK(lvt_safetensors_save(p2, &m, &e) == 0, "export: %s", e.msg);
    long st_size = file_size(p2);
    unsigned char len8[8] = {0};
    FILE *sf = fopen(p2, "rb");
    if (sf) {
        CHECK(fread(len8, 1, 8, sf) == 8, "read header length");
        fclose(sf);
    }
    long hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen * 256 + len8[i];
    CHECK((8 + hlen) % 8 == 0, "data must start 8-byte aligned (header %ld)", hlen);
    CHECK(st_size == 8 + hlen + (long)(m.n_params * 4), "size %ld != 8 + %ld + 4 x %zu", st_size, hlen, m.n_params);
    lvt_model_cfg icfg;
    int heads_meta = 0;
    CHECK(lvt_safetensors_read_cfg(p2, 3, &icfg, &heads_meta, &e) == 0, "infer: %s", e.msg);
    CHECK(!memcmp(&icfg, &cfg, sizeof cfg) && heads_meta, "inferred cfg differs");
    lvt_model m3;
    CHECK(lvt_ckpt_load_any(p2, be, 5, &m3, &e) == 0, "load_any safetensors: %s", e.msg);
    CHECK(m3.n_params == m.n_params && !memcmp(m3.params, m.params, m.n_params * 4), "safetensors not bit-identical");
    lvt_model_destroy(&m3);
    CHECK(lvt_ckpt_load_any(path, be, 5, &m3, &e) == 0, "load_any h5: %s", e.msg);
    CHECK(m3.n_params == m.n_params && !memcmp(m3.params, m.params, m.n_params * 4), "h5 load_any not identical");
    lvt_model_destroy(&m3);
    /* no metadata: n_heads defaults to 8 (d_model 8 divisible), context_len from the caller */
    snprintf(p2, sizeof p2, "%s/nometa.safetensors", dir);
    char hdr[4096];
    snprintf(hdr, sizeof hdr,
             "{\"input_proj.weight\":{\"dtype\":\"F32\",\"shape\":[8,12],\"data_offsets\":[0,384]},"
             "\"transformer_decoder.layers.0.linear1.weight\":{\"dtype\":\"F32\",\"shape\":[32,8],\"data_offsets\":[384,1408]},"
             "\"transformer_decoder.layers.1.norm1.bias\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[1408,1440]},"
             "\"transformer_decoder.layers.2.norm1.bias\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[1440,1472]}}");
    /* the file must also be large enough for the model it describes (2 bytes per parameter) */
    lvt_model_cfg want3 = {12, 8, 8, 3, 4, 4, 0.1f};
    size_t need = 2 * lvt_model_param_count(&want3);
    write_st(p2, hdr, need > 1472 ? need : 1472);
    CHECK(lvt_safetensors_read_cfg(p2, 4, &icfg, &heads_meta, &e) == 0, "infer no-meta: %s", e.msg);
    CHECK(icfg.dim == 12 && icfg.d_model == 8 && icfg.n_layers == 3 && icfg.ffn_mult == 4 && icfg.n_heads == 8 &&
              icfg.context_len == 4 && !heads_meta,
          "inferred %d %d %d %d %d %d", icfg.dim, icfg.d_model, icfg.n_layers, icfg.ffn_mult, icfg.n_heads,
          icfg.context_len);
    /* loading it into the 2-layer model: layer 2 is unknown there */
    CHECK(lvt_safetensors_load(p2, &m2, &e) != 0, "a 3-layer file into a 2-layer model must fail");
    CHECK_MSG(e.msg, "unknown tensor 'transformer_decoder.layers.2.norm1.bias'");
    /* missing tensors */
    snprintf(p2, sizeof p2, "%s/incomplete.safetensors", dir);
    write_st(p2, "{\"input_proj.weight\":{\"dtype\":\"F32\",\"shape\":[8,12],\"data_offsets\":[0,384]}}", 384);
    CHECK(lvt_safetensors_load(p2, &m2, &e) != 0, "incomplete safetensors must fail");
    CHECK_MSG(e.msg, "tensor 'input_proj.bias' is missing");
    /* unknown tensor */
    snprintf(p2, sizeof p2, "%s/unknown.safetensors", dir);
    write_st(p2, "{\"input_proj.weight\":{\"dtype\":\"F32\",\"shape\":[8,12],\"data_offsets\":[0,384]},"
                 "\"lm_head.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[384,392]}}", 392);
    CHECK(lvt_safetensors_load(p2, &m2, &e) != 0, "unknown tensor must fail");
    CHECK_MSG(e.msg, "unknown tensor 'lm_head.weight'");
    /* wrong shape */
    snprintf(p2, sizeof p2, "%s/wshape.safetensors", dir);
    write_st(p2, "{\"input_proj.weight\":{\"dtype\":\"F32\",\"shape\":[12,8],\"data_offsets\":[0,384]}}", 384);
    CHECK(lvt_safetensors_load(p2, &m2, &e) != 0, "wrong shape must fail");
    CHECK_MSG(e.msg, "has shape [12, 8], the model expects [8, 12]");
    /* unsupported dtype, offsets past the end, bad header length, not JSON */
    snprintf(p2, sizeof p2, "%s/dtype.safetensors", dir);
    write_st(p2, "{\"input_proj.weight\":{\"dtype\":\"I64\",\"shape\":[8,12],\"data_offsets\":[0,768]}}", 768);
    CHECK(lvt_safetensors_load(p2, &m2, &e) != 0, "I64 must fail");
    CHECK_MSG(e.msg, "dtype I64");
    snprintf(p2, sizeof p2, "%s/short.safetensors", dir);
    write_st(p2, "{\"input_proj.weight\":{\"dtype\":\"F32\",\"shape\":[8,12],\"data_offsets\":[0,384]}}", 100);
    CHECK(lvt_safetensors_load(p2, &m2, &e) != 0, "truncated data must fail");
    CHECK_MSG(e.msg, "past the end of the file");
    snprintf(p2, sizeof p2, "%s/len.safetensors", dir);
    write_bytes(p2, "\xff\xff\xff\xff\x00\x00\x00\x00{}", 10);
    CHECK(lvt_safetensors_load(p2, &m2, &e) != 0, "bad header length must fail");
    CHECK_MSG(e.msg, "not a safetensors file");
    snprintf(p2, sizeof p2, "%s/json.safetensors", dir);
    write_st(p2, "{\"input_proj.weight\": [1, 2", 0);
    CHECK(lvt_safetensors_load(p2, &m2, &e) != 0, "bad JSON must fail");
    CHECK_MSG(e.msg, "not valid JSON");
    /* load_any on a text file: treated as safetensors and refused clearly */
    snprintf(p2, sizeof p2, "%s/text.h5", dir);
    CHECK(lvt_ckpt_load_any(p2, be, 5, &m3, &e) != 0, "load_any on text must fail");
    CHECK_MSG(e.msg, "not a safetensors file");

    lvt_ckpt_info_free(&info);
    lvt_optim_destroy(&o);
    lvt_optim_destroy(&o2);
    lvt_model_destroy(&m);
    lvt_model_destroy(&m2);
    lvt_backend_destroy(be);
    return test_finish("test_ckpt");
}
