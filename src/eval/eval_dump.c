/* eval_dump.c — the 5CAT parity dump: its arrays, and one HDF5 file with the store, the selected
 * windows, every prediction the battery made and the metrics it computed, so that
 * tests/parity/fivecat_reference.py can recompute the whole battery with numpy. */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "eval_priv.h"

int eval_dump_alloc(eval_dump *d, eval_window *win, int64_t n, int L, int D, int H, lvt_err *e) {
    d->n = n;
    d->L = L;
    d->D = D;
    d->H = H;
    d->win = win;
    d->pred = lvt_calloc((size_t)n * D, sizeof(float), e);
    for (int k = 0; k < N_ABL; k++) d->abl[k] = lvt_calloc((size_t)n * D, sizeof(float), e);
    d->perm = lvt_calloc((size_t)n * L, sizeof(int32_t), e);
    d->loo_slot = lvt_calloc((size_t)n, sizeof(int32_t), e);
    d->roll = lvt_calloc((size_t)n * H * D, sizeof(float), e);
    d->roll_mask = lvt_calloc((size_t)n, sizeof(int8_t), e);
    if (!d->pred || !d->perm || !d->loo_slot || !d->roll || !d->roll_mask) return LVT_ERROR;
    for (int k = 0; k < N_ABL; k++)
        if (!d->abl[k]) return LVT_ERROR;
    return LVT_OK;
}

void eval_dump_free(eval_dump *d) {
    free(d->pred);
    for (int k = 0; k < N_ABL; k++) free(d->abl[k]);
    free(d->perm);
    free(d->loo_slot);
    free(d->roll);
    free(d->roll_mask);
    memset(d, 0, sizeof *d);
}

static int put(hid_t f, const char *name, hid_t mem_type, hid_t file_type, int rank,
               const hsize_t *dims, const void *data) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    if (sp < 0) return -1;
    hid_t ds = H5Dcreate2(f, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = -1;
    if (ds >= 0) {
        rc = H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0 ? -1 : 0;
        H5Dclose(ds);
    }
    H5Sclose(sp);
    return rc;
}

static int put_attr_double(hid_t f, const char *name, const double *v, hsize_t n) {
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t a = H5Acreate2(f, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, H5T_NATIVE_DOUBLE, v) >= 0) ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

static int put_attr_str(hid_t f, const char *name, const char *v) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, t, v) >= 0) ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

int eval_dump_write(const char *path, const eval_dump *d, const lvt_store *s, const char *predictor,
                    uint64_t seed, const lvt_eval_metrics *m, lvt_err *e) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return lvt_errf(e, "cannot create 5CAT dump %s", path);
    int64_t *win = malloc((size_t)(d->n ? d->n : 1) * 4 * sizeof(int64_t));
    int bad = win == NULL;
    if (win)
        for (int64_t i = 0; i < d->n; i++) {
            win[i * 4 + 0] = d->win[i].idx;
            win[i * 4 + 1] = d->win[i].article;
            win[i * 4 + 2] = d->win[i].row0;
            win[i * 4 + 3] = d->win[i].end;
        }
    hsize_t n = (hsize_t)d->n, D = (hsize_t)d->D, L = (hsize_t)d->L, H = (hsize_t)d->H;
    hsize_t dv[2] = {(hsize_t)s->n, D}, doff = (hsize_t)s->n_articles + 1, dw[2] = {n, 4};
    hsize_t dp[2] = {n, D}, dperm[2] = {n, L}, droll[3] = {n, H, D};
    static const char *abl_names[N_ABL] = {"pred_shuffled", "pred_reversed", "pred_leave_one_out",
                                       "pred_repeat_last", "pred_last_first"};
    if (!bad) bad |= put(f, "vectors", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2, dv, s->vectors);
    if (!bad) bad |= put(f, "article_offsets", H5T_NATIVE_INT64, H5T_STD_I64LE, 1, &doff, s->offsets);
    if (!bad) bad |= put(f, "windows", H5T_NATIVE_INT64, H5T_STD_I64LE, 2, dw, win);
    if (!bad) bad |= put(f, "pred", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2, dp, d->pred);
    for (int k = 0; k < N_ABL && !bad; k++)
        bad |= put(f, abl_names[k], H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2, dp, d->abl[k]);
    if (!bad) bad |= put(f, "perm", H5T_NATIVE_INT32, H5T_STD_I32LE, 2, dperm, d->perm);
    if (!bad) bad |= put(f, "loo_slot", H5T_NATIVE_INT32, H5T_STD_I32LE, 1, &n, d->loo_slot);
    if (!bad) bad |= put(f, "roll", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 3, droll, d->roll);
    if (!bad) bad |= put(f, "roll_mask", H5T_NATIVE_INT8, H5T_STD_I8LE, 1, &n, d->roll_mask);
    /* attributes: the settings and the metrics the C battery computed */
    double settings[4] = {(double)d->L, (double)d->H, (double)seed, (double)m->tests};
    double counts[7] = {(double)m->n_windows, (double)m->n_selected, (double)m->a_n, (double)m->b_n,
                        (double)m->c_n, (double)m->d_n, (double)m->e_n};
    double b[4] = {m->b_r1, m->b_r5, m->b_mrr, m->b_mean_rank};
    double c[6] = {m->c_base_cos, m->c_shuffled, m->c_reversed, m->c_leave_one_out, m->c_repeat_last,
                   m->c_last_first};
    double dd[1 + LVT_EVAL_MAX_H] = {m->d_cos};
    memcpy(dd + 1, m->d_cos_h, sizeof(double) * (size_t)d->H);
    double ee[2] = {m->e_cos, m->e_coherence_mean};
    if (!bad) bad |= put_attr_str(f, "predictor", predictor);
    if (!bad) bad |= put_attr_double(f, "settings_L_H_seed_tests", settings, 4);
    if (!bad) bad |= put_attr_double(f, "counts_windows_selected_a_b_c_d_e", counts, 7);
    if (!bad) bad |= put_attr_double(f, "a_cos", m->a_cos, 7);
    if (!bad) bad |= put_attr_double(f, "a_margin", &m->a_margin, 1);
    if (!bad) bad |= put_attr_double(f, "b_r1_r5_mrr_meanrank", b, 4);
    if (!bad) bad |= put_attr_double(f, "c_base_shuf_rev_loo_replast_lastfirst", c, 6);
    if (!bad) bad |= put_attr_double(f, "d_cos_then_per_h", dd, 1 + (hsize_t)d->H);
    if (!bad) bad |= put_attr_double(f, "e_cos_cohmean", ee, 2);
    free(win);
    if (H5Fclose(f) < 0) bad = 1;
    if (bad) return lvt_errf(e, "cannot write 5CAT dump %s", path);
    return LVT_OK;
}
