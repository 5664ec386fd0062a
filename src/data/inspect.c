/* inspect.c — the statistics behind `lvt inspect` (docs/synth.md): sizes, the article-length
 * distribution, adjacent coherence, the cos(ctx[i], target) profile over (sampled) windows,
 * the copy-last and context-mean baselines and the forward-signal score (docs/synth.md). */
#include "lvt/inspect.h"
#include "lvt/json.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lvt_inspect_defaults(lvt_inspect_opts *o) {
    o->context_len = 5;
    o->max_windows = 20000;
    o->seed = 1;
}

static double dot_cos(const float *a, const float *b, int D) {
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (int i = 0; i < D; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    double den = sqrt(aa * bb);
    return den > 1e-30 ? ab / den : 0.0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Quantile q of sorted v[0..n) with linear interpolation between ranks (numpy's default). */
static double quantile(const int64_t *v, int64_t n, double q) {
    double pos = q * (double)(n - 1);
    int64_t lo = (int64_t)floor(pos);
    if (lo >= n - 1) return (double)v[n - 1];
    double f = pos - (double)lo;
    return (double)v[lo] + f * (double)(v[lo + 1] - v[lo]);
}

static int length_stats(const lvt_store *s, lvt_inspect_stats *st, lvt_err *e) {
    int64_t A = s->n_articles;
    if (A == 0) return LVT_OK;
    int64_t *len = lvt_malloc(sizeof(int64_t) * (size_t)A, e);
    if (!len) return LVT_ERROR;
    double sum = 0.0;
    for (int64_t a = 0; a < A; a++) {
        len[a] = s->offsets[a + 1] - s->offsets[a];
        sum += (double)len[a];
    }
    qsort(len, (size_t)A, sizeof *len, cmp_i64);
    st->len_min = len[0];
    st->len_max = len[A - 1];
    st->len_mean = sum / (double)A;
    st->len_p10 = quantile(len, A, 0.10);
    st->len_median = quantile(len, A, 0.50);
    st->len_p90 = quantile(len, A, 0.90);
    free(len);
    return LVT_OK;
}

static void adjacent_stats(const lvt_store *s, lvt_inspect_stats *st) {
    int D = s->dim;
    double art_sum = 0.0, pair_sum = 0.0;
    int64_t n_art = 0, n_pair = 0;
    for (int64_t a = 0; a < s->n_articles; a++) {
        int64_t lo = s->offsets[a], hi = s->offsets[a + 1];
        if (hi - lo < 2) continue;
        double acc = 0.0;
        for (int64_t r = lo; r + 1 < hi; r++)
            acc += dot_cos(s->vectors + (size_t)r * D, s->vectors + (size_t)(r + 1) * D, D);
        art_sum += acc / (double)(hi - lo - 1);
        pair_sum += acc;
        n_art++;
        n_pair += hi - lo - 1;
    }
    st->adjacent = n_art ? art_sum / (double)n_art : NAN;
    st->adjacent_pairs = n_pair ? pair_sum / (double)n_pair : NAN;
}

/* Forward signal (docs/synth.md). The sampled windows are split by article parity into two
 * independent halves. On one half, G = mean of y c^T (c = last context row, y = target) and A =
 * its antisymmetric part; on the other, x = D * mean of (next - prev) . A c. Each half takes
 * each role once. E[x] = 2 D |A_true|^2 >= 0: 0 for time-reversible data (their lag-1
 * cross-covariance is symmetric), positive when the future follows a map that the past does not
 * (reversing time gives the same value). rows holds (prev, last, next, half) per window. */
static int forward_stats(const lvt_store *s, const int64_t *rows, int64_t n, lvt_inspect_stats *st,
                         lvt_err *e) {
    int D = s->dim;
    int64_t nh[2] = {0, 0};
    for (int64_t k = 0; k < n; k++) nh[rows[4 * k + 3]]++;
    if (nh[0] == 0 || nh[1] == 0) return LVT_OK; /* one article only: no independent halves */
    int64_t cap = nh[0] > nh[1] ? nh[0] : nh[1];
    float *C = lvt_malloc(sizeof(float) * (size_t)cap * D, e);
    float *Y = lvt_malloc(sizeof(float) * (size_t)cap * D, e);
    float *G = lvt_malloc(sizeof(float) * (size_t)D * D, e);
    float *P = lvt_malloc(sizeof(float) * (size_t)cap * D, e);
    if (!C || !Y || !G || !P) {
        free(C);
        free(Y);
        free(G);
        free(P);
        return LVT_ERROR;
    }
    double sum = 0.0;
    for (int fit = 0; fit < 2; fit++) {
        int ev = 1 - fit;
        /* G from half `fit`, then its antisymmetric part */
        int64_t m = 0;
        for (int64_t k = 0; k < n; k++) {
            const int64_t *r = rows + 4 * k;
            if (r[3] != fit) continue;
            memcpy(C + (size_t)m * D, s->vectors + (size_t)r[1] * D, sizeof(float) * D);
            memcpy(Y + (size_t)m * D, s->vectors + (size_t)r[2] * D, sizeof(float) * D);
            m++;
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, D, (int)m, 1.0f / (float)m, Y, D, C, D, 0.0f,
                    G, D);
        for (int i = 0; i < D; i++)
            for (int j = i; j < D; j++) {
                float a = 0.5f * (G[(size_t)i * D + j] - G[(size_t)j * D + i]);
                G[(size_t)i * D + j] = a;
                G[(size_t)j * D + i] = -a;
            }
        /* evaluate on half `ev`: P = C A^T, one row A c per window */
        m = 0;
        for (int64_t k = 0; k < n; k++) {
            const int64_t *r = rows + 4 * k;
            if (r[3] != ev) continue;
            memcpy(C + (size_t)m * D, s->vectors + (size_t)r[1] * D, sizeof(float) * D);
            m++;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, D, D, 1.0f, C, D, G, D, 0.0f, P, D);
        m = 0;
        for (int64_t k = 0; k < n; k++) {
            const int64_t *r = rows + 4 * k;
            if (r[3] != ev) continue;
            const float *p = P + (size_t)m * D;
            const float *nx = s->vectors + (size_t)r[2] * D, *pv = s->vectors + (size_t)r[0] * D;
            double acc = 0.0;
            for (int i = 0; i < D; i++) acc += (double)p[i] * ((double)nx[i] - (double)pv[i]);
            sum += acc;
            m++;
        }
    }
    free(C);
    free(Y);
    free(G);
    free(P);
    st->have_forward = 1;
    st->forward_x = (double)D * sum / (double)n;
    st->forward_signal = st->forward_x >= 0.0 ? sqrt(st->forward_x) : -sqrt(-st->forward_x);
    return LVT_OK;
}

int lvt_inspect(const lvt_store *s, const lvt_inspect_opts *o, lvt_inspect_stats *st, lvt_err *e) {
    memset(st, 0, sizeof *st);
    int L = o->context_len;
    if (L < 1 || L > LVT_INSPECT_MAX_L)
        return lvt_errf(e, "context length must be in [1, %d], got %d", LVT_INSPECT_MAX_L, L);
    if (o->max_windows < 1) return lvt_errf(e, "max windows must be >= 1, got %lld", (long long)o->max_windows);
    st->articles = s->n_articles;
    st->chunks = s->n;
    st->dim = s->dim;
    st->context_len = L;
    st->copy_last = st->mean_ctx = st->forward_x = st->forward_signal = NAN;
    st->len_p10 = st->len_median = st->len_mean = st->len_p90 = NAN;
    for (int i = 0; i < LVT_INSPECT_MAX_L; i++) st->profile[i] = NAN;
    if (length_stats(s, st, e)) return LVT_ERROR;
    adjacent_stats(s, st);

    lvt_windows w;
    if (lvt_windows_build(&w, s, L, e)) return LVT_ERROR;
    st->windows = w.n_windows;
    int64_t n = w.n_windows < o->max_windows ? w.n_windows : o->max_windows;
    st->sampled = n;
    if (n == 0) {
        lvt_windows_free(&w);
        return LVT_OK;
    }
    /* all windows in store order, or the first n of a seeded permutation */
    lvt_perm perm;
    int sample = w.n_windows > o->max_windows;
    if (sample) lvt_perm_init(&perm, (uint64_t)w.n_windows, o->seed, 0);
    int64_t *rows = lvt_malloc(sizeof(int64_t) * 4 * (size_t)n, e);
    float *mean = lvt_malloc(sizeof(float) * (size_t)s->dim, e);
    if (!rows || !mean) {
        free(rows);
        free(mean);
        lvt_windows_free(&w);
        return LVT_ERROR;
    }
    int D = s->dim;
    double prof[LVT_INSPECT_MAX_L] = {0};
    double mean_sum = 0.0;
    for (int64_t k = 0; k < n; k++) {
        int64_t idx = sample ? (int64_t)lvt_perm_apply(&perm, (uint64_t)k) : k;
        int64_t art, row0;
        lvt_window_locate(&w, idx, &art, &row0);
        const float *y = s->vectors + (size_t)(row0 + L) * D;
        memset(mean, 0, sizeof(float) * D);
        for (int i = 0; i < L; i++) {
            const float *c = s->vectors + (size_t)(row0 + i) * D;
            prof[i] += dot_cos(c, y, D);
            for (int j = 0; j < D; j++) mean[j] += c[j];
        }
        mean_sum += dot_cos(mean, y, D);
        rows[4 * k + 0] = row0 + L - 2; /* only used when L >= 2 */
        rows[4 * k + 1] = row0 + L - 1;
        rows[4 * k + 2] = row0 + L;
        rows[4 * k + 3] = art & 1;
    }
    for (int i = 0; i < L; i++) st->profile[i] = prof[i] / (double)n;
    st->copy_last = st->profile[L - 1];
    st->mean_ctx = mean_sum / (double)n;
    int rc = LVT_OK;
    int64_t nf = n < LVT_INSPECT_FWD_MAX ? n : LVT_INSPECT_FWD_MAX;
    if (L >= 2 && nf >= 2) rc = forward_stats(s, rows, nf, st, e);
    free(rows);
    free(mean);
    lvt_windows_free(&w);
    return rc;
}

/* ---- printing ------------------------------------------------------------------------------ */

/* A statistic with 8 significant digits, or null when it is not finite (an empty store). */
static cJSON *json_num(double v) {
    char buf[32];
    if (!isfinite(v)) return cJSON_CreateNull();
    snprintf(buf, sizeof buf, "%.8g", v);
    return cJSON_CreateRaw(buf);
}

static cJSON *inspect_json(const char *path, const lvt_inspect_stats *st) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddNumberToObject(o, "articles", (double)st->articles);
    cJSON_AddNumberToObject(o, "chunks", (double)st->chunks);
    cJSON_AddNumberToObject(o, "dim", st->dim);
    cJSON_AddNumberToObject(o, "context_len", st->context_len);
    cJSON_AddNumberToObject(o, "windows", (double)st->windows);
    cJSON *len = cJSON_AddObjectToObject(o, "length");
    cJSON_AddNumberToObject(len, "min", (double)st->len_min);
    cJSON_AddItemToObject(len, "p10", json_num(st->len_p10));
    cJSON_AddItemToObject(len, "median", json_num(st->len_median));
    cJSON_AddItemToObject(len, "mean", json_num(st->len_mean));
    cJSON_AddItemToObject(len, "p90", json_num(st->len_p90));
    cJSON_AddNumberToObject(len, "max", (double)st->len_max);
    cJSON_AddItemToObject(o, "adjacent_coherence", json_num(st->adjacent));
    cJSON_AddItemToObject(o, "adjacent_coherence_pairs", json_num(st->adjacent_pairs));
    cJSON_AddNumberToObject(o, "sampled_windows", (double)st->sampled);
    cJSON *prof = cJSON_AddArrayToObject(o, "cos_profile");
    for (int i = 0; i < st->context_len; i++) cJSON_AddItemToArray(prof, json_num(st->profile[i]));
    cJSON_AddItemToObject(o, "copy_last_cos", json_num(st->copy_last));
    cJSON_AddItemToObject(o, "mean_ctx_cos", json_num(st->mean_ctx));
    cJSON_AddItemToObject(o, "forward_signal", json_num(st->have_forward ? st->forward_signal : NAN));
    cJSON_AddItemToObject(o, "forward_x", json_num(st->have_forward ? st->forward_x : NAN));
    return o;
}

static void print_json(FILE *f, const char *path, const lvt_inspect_stats *st) {
    cJSON *o = inspect_json(path, st);
    char *text = o ? lvt_json_line(o) : NULL;
    cJSON_Delete(o);
    if (text) fprintf(f, "%s\n", text);
    free(text);
}

static void human_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.4f", v);
    else fputs("n/a", f);
}

void lvt_inspect_print(FILE *f, const char *path, const lvt_inspect_stats *st, int json) {
    if (json) {
        print_json(f, path, st);
        return;
    }
    fprintf(f, "store              %s\n", path);
    fprintf(f, "articles           %lld\n", (long long)st->articles);
    fprintf(f, "chunks             %lld\n", (long long)st->chunks);
    fprintf(f, "dim                %d\n", st->dim);
    fprintf(f, "windows            %lld (context_len %d)\n", (long long)st->windows, st->context_len);
    if (st->articles > 0)
        fprintf(f, "article length     min %lld / p10 %.1f / median %.1f / mean %.2f / p90 %.1f / max %lld\n",
                (long long)st->len_min, st->len_p10, st->len_median, st->len_mean, st->len_p90,
                (long long)st->len_max);
    fputs("adjacent cos       ", f);
    human_num(f, st->adjacent);
    fputs(" (mean over articles; over all pairs ", f);
    human_num(f, st->adjacent_pairs);
    fputs(")\n", f);
    fprintf(f, "sampled windows    %lld\n", (long long)st->sampled);
    if (st->sampled > 0) {
        fputs("cos(ctx[i], target)\n", f);
        for (int i = 0; i < st->context_len; i++) {
            fprintf(f, "  ctx[%d] (offset %d)  ", i, i - st->context_len + 1);
            human_num(f, st->profile[i]);
            fputc('\n', f);
        }
        fputs("copy-last cos      ", f);
        human_num(f, st->copy_last);
        fputs("\nmean-context cos   ", f);
        human_num(f, st->mean_ctx);
        fputc('\n', f);
    }
    fputs("forward signal     ", f);
    if (st->have_forward) {
        human_num(f, st->forward_signal);
        fputs("  (about 0: no forward signal; x = ", f);
        human_num(f, st->forward_x);
        fputs(")\n", f);
    } else {
        fputs("n/a (needs context_len >= 2 and windows in 2 articles)\n", f);
    }
}
