/* convert.c — `lvt convert` (docs/convert.md): turns an articles NPZ, a sequences NPZ or a raw (N, D)
 * .npy into HDF5 article stores (data.h), optionally split by article-id ranges.
 *
 * Every layout goes through the same three steps:
 *   1. read the small index arrays and build a *plan*: the output articles in order (id, rows,
 *      optional chunk ids) and, for every source row, the output row it lands in;
 *   2. allocate the output stores (one per split, plus the rest) and stream the vectors member
 *      row block by row block straight into its place — one copy of the vectors in memory;
 *   3. write each store to a temporary name, then rename all of them into place.
 * docs/convert.md describes the layouts and rules for users. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/convert.h"
#include "lvt/data.h"

#define ROW_BLOCK 256 /* source rows streamed per read */

/* Where a source row came from, for messages. */
typedef enum { SRC_ARTICLES, SRC_SEQUENCES, SRC_RAW } src_kind;

/* The output plan: articles in output order (a single global row numbering). */
typedef struct {
    int64_t n_rows, n_art;
    int64_t *art_id;   /* [A] */
    int64_t *art_off;  /* [A+1] */
    int64_t *chunk_id; /* [n_rows] or NULL */
} plan;

typedef struct {
    const lvt_convert_opts *o;
    const char *in_base;        /* input file name (messages, source attribute) */
    src_kind kind;
    const char *vec_name;       /* "vectors" / context member / "row" */
    const char *tgt_name;       /* sequences: target member */
    int L;                      /* sequences: context length */
    int dim;
    plan p;
    int n_out;                  /* 1 + n_splits; output 0 = everything else ("train") */
    lvt_store st[1 + LVT_CONVERT_MAX_SPLITS];
    char path[1 + LVT_CONVERT_MAX_SPLITS][1024];
    int8_t *row_store;          /* [n_rows] output store of each global row */
    int64_t *row_local;         /* [n_rows] row inside that store */
    int64_t *first_src;         /* [n_rows] source code of the first copy, -1 = not yet */
} conv;

static void note(const conv *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void note(const conv *c, const char *fmt, ...) {
    if (!c->o->log) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(c->o->log, "note: ");
    vfprintf(c->o->log, fmt, ap);
    fputc('\n', c->o->log);
    va_end(ap);
}

/* Describe source code src (a row of the input) into buf. */
static const char *describe(const conv *c, int64_t src, char *buf, size_t cap) {
    if (c->kind == SRC_SEQUENCES) {
        int64_t w = src / (c->L + 1), j = src % (c->L + 1);
        if (j < c->L) snprintf(buf, cap, "%s[%" PRId64 "][%" PRId64 "]", c->vec_name, w, j);
        else snprintf(buf, cap, "%s[%" PRId64 "]", c->tgt_name, w);
    } else {
        snprintf(buf, cap, "%s[%" PRId64 "]", c->vec_name, src);
    }
    return buf;
}

/* ---- options, splits, paths ----------------------------------------------------------------- */

void lvt_convert_opts_default(lvt_convert_opts *o) {
    memset(o, 0, sizeof *o);
    o->tolerance = 1e-4;
}

int lvt_convert_parse_split(const char *arg, lvt_convert_split *sp, lvt_err *e) {
    memset(sp, 0, sizeof *sp);
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return lvt_errf(e, "--split expects NAME=LO-HI (e.g. val=4000-4499), got '%s'", arg);
    size_t nl = (size_t)(eq - arg);
    if (nl >= sizeof sp->name) return lvt_errf(e, "--split name too long in '%s'", arg);
    for (size_t i = 0; i < nl; i++) {
        char ch = arg[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || ch == '-';
        if (!ok) return lvt_errf(e, "--split name '%.*s' may use only letters, digits, '_' and '-'", (int)nl, arg);
    }
    memcpy(sp->name, arg, nl);
    if (!strcmp(sp->name, "train"))
        return lvt_errf(e, "--split name 'train' is reserved for the articles outside every split");
    const char *r = eq + 1;
    char *end;
    if (*r < '0' || *r > '9') return lvt_errf(e, "--split expects NAME=LO-HI with LO, HI >= 0, got '%s'", arg);
    long long lo = strtoll(r, &end, 10);
    if (*end != '-' || end[1] < '0' || end[1] > '9')
        return lvt_errf(e, "--split expects NAME=LO-HI with LO, HI >= 0, got '%s'", arg);
    long long hi = strtoll(end + 1, &end, 10);
    if (*end) return lvt_errf(e, "--split expects NAME=LO-HI with LO, HI >= 0, got '%s'", arg);
    if (lo > hi) return lvt_errf(e, "--split '%s': LO %lld is greater than HI %lld", arg, lo, hi);
    sp->lo = lo;
    sp->hi = hi;
    return LVT_OK;
}

int lvt_convert_split_path(const char *out, const char *name, char *buf, size_t cap, lvt_err *e) {
    size_t n = strlen(out);
    const char *slash = strrchr(out, '/');
    const char *dot = strrchr(out, '.');
    const char *ext = "";
    if (dot && (!slash || dot > slash + 1)) { /* an extension, not a leading dot of the name */
        ext = dot;
        n = (size_t)(dot - out);
    }
    int w = snprintf(buf, cap, "%.*s-%s%s", (int)n, out, name, *ext ? ext : ".h5");
    if (w < 0 || (size_t)w >= cap) return lvt_errf(e, "output path too long: %s", out);
    return LVT_OK;
}

/* ---- outputs -------------------------------------------------------------------------------- */

static void plan_free(plan *p) {
    free(p->art_id);
    free(p->art_off);
    free(p->chunk_id);
    memset(p, 0, sizeof *p);
}

static void conv_free(conv *c) {
    plan_free(&c->p);
    for (int s = 0; s < c->n_out; s++) {
        free(c->st[s].vectors);
        free(c->st[s].offsets);
        free(c->st[s].article_ids);
        free(c->st[s].chunk_ids);
    }
    free(c->row_store);
    free(c->row_local);
    free(c->first_src);
}

static int plan_alloc(plan *p, int64_t n_rows, int64_t n_art, int with_chunks, lvt_err *e) {
    memset(p, 0, sizeof *p);
    p->n_rows = n_rows;
    p->n_art = n_art;
    p->art_id = lvt_malloc((size_t)n_art * sizeof(int64_t), e);
    p->art_off = lvt_malloc((size_t)(n_art + 1) * sizeof(int64_t), e);
    if (with_chunks) p->chunk_id = lvt_malloc((size_t)n_rows * sizeof(int64_t), e);
    if (!p->art_id || !p->art_off || (with_chunks && !p->chunk_id)) return LVT_ERROR;
    return LVT_OK;
}

/* Assign every planned article to its output store and allocate the stores. */
static int outputs_build(conv *c, lvt_err *e) {
    const lvt_convert_opts *o = c->o;
    const plan *p = &c->p;
    int64_t rows[1 + LVT_CONVERT_MAX_SPLITS] = {0}, arts[1 + LVT_CONVERT_MAX_SPLITS] = {0};
    c->row_store = lvt_malloc((size_t)p->n_rows, e);
    c->row_local = lvt_malloc((size_t)p->n_rows * sizeof(int64_t), e);
    c->first_src = lvt_malloc((size_t)p->n_rows * sizeof(int64_t), e);
    if (!c->row_store || !c->row_local || !c->first_src) return LVT_ERROR;
    for (int64_t a = 0; a < p->n_art; a++) {
        int s = 0;
        for (int j = 0; j < o->n_splits; j++)
            if (p->art_id[a] >= o->splits[j].lo && p->art_id[a] <= o->splits[j].hi) s = j + 1;
        for (int64_t k = p->art_off[a]; k < p->art_off[a + 1]; k++) {
            c->row_store[k] = (int8_t)s;
            c->row_local[k] = rows[s]++;
        }
        arts[s]++;
    }
    for (int j = 0; j < o->n_splits; j++)
        if (!arts[j + 1])
            return lvt_errf(e, "split '%s' (article ids %" PRId64 "-%" PRId64 ") matches no article of %s",
                            o->splits[j].name, o->splits[j].lo, o->splits[j].hi, c->in_base);
    for (int s = 0; s < c->n_out; s++) {
        lvt_store *st = &c->st[s];
        st->n = rows[s];
        st->dim = c->dim;
        st->n_articles = arts[s];
        st->normalized = 0;
        snprintf(st->source, sizeof st->source, "%s", c->in_base);
        if (!rows[s]) continue;
        st->vectors = lvt_malloc((size_t)rows[s] * (size_t)c->dim * sizeof(float), e);
        st->offsets = lvt_malloc((size_t)(arts[s] + 1) * sizeof(int64_t), e);
        st->article_ids = lvt_malloc((size_t)arts[s] * sizeof(int64_t), e);
        if (p->chunk_id) st->chunk_ids = lvt_malloc((size_t)rows[s] * sizeof(int64_t), e);
        if (!st->vectors || !st->offsets || !st->article_ids || (p->chunk_id && !st->chunk_ids))
            return LVT_ERROR;
        st->offsets[0] = 0;
        st->n_articles = 0;
    }
    for (int64_t a = 0; a < p->n_art; a++) {
        int64_t k0 = p->art_off[a], k1 = p->art_off[a + 1];
        lvt_store *st = &c->st[c->row_store[k0]];
        st->article_ids[st->n_articles] = p->art_id[a];
        st->offsets[st->n_articles + 1] = c->row_local[k1 - 1] + 1;
        st->n_articles++;
        if (p->chunk_id)
            for (int64_t k = k0; k < k1; k++) st->chunk_ids[c->row_local[k]] = p->chunk_id[k];
    }
    for (int64_t k = 0; k < p->n_rows; k++) c->first_src[k] = -1;
    return LVT_OK;
}

/* Place source row src (code for messages) at global output row k; a second copy of a row must
 * agree with the first within the tolerance. */
static int put_row(conv *c, int64_t k, const float *v, int64_t src, lvt_err *e) {
    char d1[96], d2[96];
    int D = c->dim;
    double ss = 0.0;
    for (int i = 0; i < D; i++) {
        if (!isfinite(v[i]))
            return lvt_errf(e, "%s: %s contains NaN or Inf", c->in_base, describe(c, src, d1, sizeof d1));
        ss += (double)v[i] * (double)v[i];
    }
    if (sqrt(ss) < LVT_MIN_ROW_NORM && !c->o->drop_degenerate) /* every reader would refuse the row */
        return lvt_errf(e, "%s: %s has norm %.3g, below %g (a zero or degenerate vector; --drop-degenerate drops "
                           "such rows)", c->in_base, describe(c, src, d1, sizeof d1), sqrt(ss), LVT_MIN_ROW_NORM);
    float *dst = c->st[c->row_store[k]].vectors + (size_t)c->row_local[k] * (size_t)D;
    if (c->first_src[k] < 0) {
        memcpy(dst, v, (size_t)D * sizeof(float));
        c->first_src[k] = src;
        return LVT_OK;
    }
    double md = 0;
    for (int i = 0; i < D; i++) {
        double d = fabs((double)dst[i] - (double)v[i]);
        if (d > md) md = d;
    }
    if (md > c->o->tolerance) {
        int64_t lo = 0, hi = c->p.n_art;
        while (hi - lo > 1) { /* the article holding global row k */
            int64_t mid = (lo + hi) / 2;
            if (c->p.art_off[mid] <= k) lo = mid;
            else hi = mid;
        }
        int64_t a = lo;
        return lvt_errf(e, "%s: article %" PRId64 " chunk %" PRId64 " appears in %s and %s with different "
                        "values (max |diff| %.3g > tolerance %.3g)", c->in_base, c->p.art_id[a],
                        c->p.chunk_id ? c->p.chunk_id[k] : k - c->p.art_off[a],
                        describe(c, c->first_src[k], d1, sizeof d1), describe(c, src, d2, sizeof d2), md,
                        c->o->tolerance);
    }
    return LVT_OK;
}

/* Stream `rows` rows from s; source row r goes to global output row dst[r] (r when dst is NULL). */
static int stream_rows(conv *c, lvt_npy_stream *s, int64_t rows, const int64_t *dst, lvt_err *e) {
    float *buf = lvt_malloc((size_t)ROW_BLOCK * (size_t)c->dim * sizeof(float), e);
    if (!buf) return LVT_ERROR;
    int rc = LVT_OK;
    for (int64_t r0 = 0; r0 < rows && !rc; r0 += ROW_BLOCK) {
        int64_t m = rows - r0 < ROW_BLOCK ? rows - r0 : ROW_BLOCK;
        rc = lvt_npy_read_f32(s, buf, m * c->dim, e);
        for (int64_t r = 0; r < m && !rc; r++)
            rc = put_row(c, dst ? dst[r0 + r] : r0 + r, buf + r * c->dim, r0 + r, e);
    }
    free(buf);
    return rc;
}

/* ---- member helpers ------------------------------------------------------------------------- */

static int is_float(const lvt_npy_header *h) {
    return h->dtype == LVT_NPY_F4 || h->dtype == LVT_NPY_F2 || h->dtype == LVT_NPY_F8;
}

static void shape_str(const lvt_npy_header *h, char *buf, size_t cap) {
    size_t n = 0;
    n += (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < h->ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%" PRId64, i ? ", " : "", h->shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, h->ndim == 1 ? ",)" : ")");
}

/* Read a whole (n,) integer member into a new array. */
static int read_index(lvt_npz *z, const char *name, int64_t n, int64_t **out, lvt_err *e) {
    lvt_npy_stream s;
    char sh[96];
    *out = NULL;
    if (lvt_npz_member(z, name, &s, e)) return LVT_ERROR;
    int rc = LVT_OK;
    shape_str(&s.h, sh, sizeof sh);
    if (s.h.ndim != 1 || s.h.shape[0] != n)
        rc = lvt_errf(e, "%s has shape %s, expected (%" PRId64 ",)", s.label, sh, n);
    else if (s.h.dtype != LVT_NPY_I8 && s.h.dtype != LVT_NPY_I4)
        rc = lvt_errf(e, "%s has dtype '%s', expected integers (<i8 or <i4)", s.label, s.h.descr);
    else if (!(*out = lvt_malloc((size_t)n * sizeof(int64_t), e)))
        rc = LVT_ERROR;
    else
        rc = lvt_npy_read_i64(&s, *out, n, e);
    lvt_npy_close(&s);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* Open a float vectors member and check its rank. */
static int open_vectors(lvt_npz *z, const char *name, int ndim, lvt_npy_stream *s, lvt_err *e) {
    if (lvt_npz_member(z, name, s, e)) return LVT_ERROR;
    char sh[96];
    shape_str(&s->h, sh, sizeof sh);
    int rc = LVT_OK;
    if (!is_float(&s->h))
        rc = lvt_errf(e, "%s has dtype '%s', expected floats (<f4, <f2 or <f8)", s->label, s->h.descr);
    else if (s->h.ndim != ndim)
        rc = lvt_errf(e, "%s has shape %s, expected %s", s->label, sh,
                      ndim == 2 ? "(N, D)" : "(N, L, D)");
    else if (s->h.shape[0] < 1 || s->h.shape[ndim - 1] < 1 || (ndim == 3 && s->h.shape[1] < 1))
        rc = lvt_errf(e, "%s has shape %s: it holds no vectors", s->label, sh);
    else if (s->h.shape[ndim - 1] > 1000000)
        rc = lvt_errf(e, "%s has shape %s: dimension too large", s->label, sh);
    if (rc) lvt_npy_close(s);
    return rc;
}

static const char *METADATA_HINT =
    "member 'metadata' is a pickled Python object array, which cannot be read from C; save the "
    "numeric arrays instead (articles NPZ: vectors, article_indices, chunk_indices — see "
    "docs/convert.md)";

/* ---- articles NPZ --------------------------------------------------------------------------- */

typedef struct {
    int64_t a, c, i;
} row_key;

static int cmp_row_key(const void *x, const void *y) {
    const row_key *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    if (p->c != q->c) return p->c < q->c ? -1 : 1;
    return (p->i > q->i) - (p->i < q->i);
}

static int cmp_i64(const void *x, const void *y) {
    int64_t p = *(const int64_t *)x, q = *(const int64_t *)y;
    return (p > q) - (p < q);
}

/* 1 if every article's rows are contiguous and (with chunk indices) strictly ascending. */
static int already_grouped(const int64_t *ai, const int64_t *ci, int64_t n, int64_t *n_art, lvt_err *e) {
    int64_t runs = 1;
    for (int64_t i = 1; i < n; i++) {
        if (ai[i] != ai[i - 1]) runs++;
        else if (ci && ci[i] <= ci[i - 1]) return 0;
    }
    int64_t *ids = lvt_malloc((size_t)runs * sizeof(int64_t), e);
    if (!ids) return -1;
    int64_t r = 0;
    ids[r++] = ai[0];
    for (int64_t i = 1; i < n; i++)
        if (ai[i] != ai[i - 1]) ids[r++] = ai[i];
    qsort(ids, (size_t)runs, sizeof(int64_t), cmp_i64);
    int ok = 1;
    for (int64_t i = 1; i < runs; i++)
        if (ids[i] == ids[i - 1]) ok = 0;
    free(ids);
    *n_art = runs;
    return ok;
}

static int convert_articles(conv *c, lvt_npz *z, lvt_err *e) {
    lvt_npy_stream vs;
    int64_t *ai = NULL, *ci = NULL, *order = NULL, *dst = NULL;
    row_key *keys = NULL;
    int rc = LVT_ERROR;
    c->kind = SRC_ARTICLES;
    c->vec_name = "vectors";
    if (open_vectors(z, "vectors", 2, &vs, e)) return LVT_ERROR;
    int64_t n = vs.h.shape[0];
    c->dim = (int)vs.h.shape[1];
    if (!lvt_npz_has(z, "article_indices")) {
        if (lvt_npz_has(z, "metadata"))
            lvt_errf(e, "%s: articles NPZ needs article_indices; %s", c->in_base, METADATA_HINT);
        else
            lvt_errf(e, "%s: articles NPZ needs article_indices (N,) next to vectors", c->in_base);
        goto done;
    }
    if (read_index(z, "article_indices", n, &ai, e)) goto done;
    if (lvt_npz_has(z, "chunk_indices") && read_index(z, "chunk_indices", n, &ci, e)) goto done;

    /* group: keep the input order when already grouped, else stable sort by (article, chunk) */
    int64_t n_art = 0;
    int g = already_grouped(ai, ci, n, &n_art, e);
    if (g < 0) goto done;
    if (!g) {
        keys = lvt_malloc((size_t)n * sizeof(row_key), e);
        order = lvt_malloc((size_t)n * sizeof(int64_t), e);
        if (!keys || !order) goto done;
        for (int64_t i = 0; i < n; i++) keys[i] = (row_key){ai[i], ci ? ci[i] : 0, i};
        qsort(keys, (size_t)n, sizeof(row_key), cmp_row_key);
        n_art = 1;
        for (int64_t k = 0; k < n; k++) {
            order[k] = keys[k].i;
            if (k && keys[k].a != keys[k - 1].a) n_art++;
            if (k && ci && keys[k].a == keys[k - 1].a && keys[k].c == keys[k - 1].c) {
                lvt_errf(e, "%s: article %" PRId64 " has chunk index %" PRId64 " twice (rows %" PRId64
                         " and %" PRId64 ")", c->in_base, keys[k].a, keys[k].c, keys[k - 1].i, keys[k].i);
                goto done;
            }
        }
        note(c, "rows of %s were not grouped by article; sorted by (article, chunk)", c->in_base);
    }

    if (plan_alloc(&c->p, n, n_art, ci != NULL, e)) goto done;
    int64_t a = -1, gaps = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t i = order ? order[k] : k;
        if (k == 0 || ai[i] != ai[order ? order[k - 1] : k - 1]) {
            a++;
            c->p.art_id[a] = ai[i];
            c->p.art_off[a] = k;
        } else if (ci && ci[i] != ci[order ? order[k - 1] : k - 1] + 1) {
            gaps++;
        }
        if (ci) c->p.chunk_id[k] = ci[i];
    }
    c->p.art_off[n_art] = n;
    if (gaps)
        note(c, "%" PRId64 " gaps in chunk_indices inside articles; the rows on either side are kept "
             "adjacent", gaps);
    if (outputs_build(c, e)) goto done;
    if (order) {
        dst = lvt_malloc((size_t)n * sizeof(int64_t), e);
        if (!dst) goto done;
        for (int64_t k = 0; k < n; k++) dst[order[k]] = k;
    }
    rc = stream_rows(c, &vs, n, dst, e);
done:
    lvt_npy_close(&vs);
    free(ai);
    free(ci);
    free(keys);
    free(order);
    free(dst);
    return rc;
}

/* ---- sequences NPZ -------------------------------------------------------------------------- */

typedef struct {
    int64_t a, t, w;
} win_key;

static int cmp_win_key(const void *x, const void *y) {
    const win_key *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    if (p->t != q->t) return p->t < q->t ? -1 : 1;
    return (p->w > q->w) - (p->w < q->w);
}

/* Rebuild articles from (article id, target index) per window: window w covers chunks
 * t-L..t of its article. Contiguous covered ranges become articles; a gap splits an article
 * into pieces that share its id. kw[w] = global output row of chunk t-L of window w. */
static int plan_rebuild(conv *c, const int64_t *aid, const int64_t *tix, int64_t n, int64_t *kw, lvt_err *e) {
    int L = c->L;
    win_key *keys = lvt_malloc((size_t)n * sizeof(win_key), e);
    int64_t *run_of = lvt_malloc((size_t)n * sizeof(int64_t), e);
    int64_t *run_lo = lvt_malloc((size_t)n * sizeof(int64_t), e);
    int64_t *run_hi = lvt_malloc((size_t)n * sizeof(int64_t), e);
    int64_t *run_art = lvt_malloc((size_t)n * sizeof(int64_t), e);
    int rc = LVT_ERROR;
    if (!keys || !run_of || !run_lo || !run_hi || !run_art) goto done;
    for (int64_t w = 0; w < n; w++) {
        if (tix[w] < L) {
            lvt_errf(e, "%s: target_indices[%" PRId64 "] = %" PRId64 " is less than the context length %d, "
                     "so its context would start before chunk 0", c->in_base, w, tix[w], L);
            goto done;
        }
        keys[w] = (win_key){aid[w], tix[w], w};
    }
    qsort(keys, (size_t)n, sizeof(win_key), cmp_win_key);
    int64_t runs = 0, split_articles = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t lo = keys[i].t - L, hi = keys[i].t;
        if (runs && keys[i].a == run_art[runs - 1] && lo <= run_hi[runs - 1] + 1) {
            if (hi > run_hi[runs - 1]) run_hi[runs - 1] = hi;
        } else {
            if (runs && keys[i].a == run_art[runs - 1] && (runs < 2 || run_art[runs - 2] != keys[i].a))
                split_articles++;
            run_art[runs] = keys[i].a;
            run_lo[runs] = lo;
            run_hi[runs] = hi;
            runs++;
        }
        run_of[keys[i].w] = runs - 1;
    }
    int64_t rows = 0;
    for (int64_t r = 0; r < runs; r++) rows += run_hi[r] - run_lo[r] + 1;
    if (plan_alloc(&c->p, rows, runs, 1, e)) goto done;
    int64_t k = 0;
    for (int64_t r = 0; r < runs; r++) {
        c->p.art_id[r] = run_art[r];
        c->p.art_off[r] = k;
        for (int64_t pos = run_lo[r]; pos <= run_hi[r]; pos++) c->p.chunk_id[k++] = pos;
    }
    c->p.art_off[runs] = rows;
    for (int64_t w = 0; w < n; w++) {
        int64_t r = run_of[w];
        kw[w] = c->p.art_off[r] + (tix[w] - L - run_lo[r]);
    }
    note(c, "rebuilt %" PRId64 " articles (%" PRId64 " chunks) from %" PRId64 " windows using article_ids "
         "and target_indices", runs, rows, n);
    if (split_articles)
        note(c, "%" PRId64 " articles have chunks no window covers; each was split at its gaps into "
             "contiguous pieces that keep the same article id", split_articles);
    rc = LVT_OK;
done:
    free(keys);
    free(run_of);
    free(run_lo);
    free(run_hi);
    free(run_art);
    return rc;
}

static int convert_sequences(conv *c, lvt_npz *z, lvt_err *e) {
    lvt_npy_stream cs, ts;
    int64_t *aid = NULL, *tix = NULL, *kw = NULL;
    int rc = LVT_ERROR, have_ts = 0;
    c->kind = SRC_SEQUENCES;
    c->vec_name = lvt_npz_has(z, "context_sequences") ? "context_sequences" : "contexts";
    c->tgt_name = lvt_npz_has(z, "target_vectors") ? "target_vectors" : "targets";
    if (!lvt_npz_has(z, c->tgt_name))
        return lvt_errf(e, "%s: sequences NPZ needs target_vectors or targets next to %s", c->in_base,
                        c->vec_name);
    if (open_vectors(z, c->vec_name, 3, &cs, e)) return LVT_ERROR;
    int64_t n = cs.h.shape[0];
    if (cs.h.shape[1] > 4096) {
        lvt_errf(e, "%s: context length %" PRId64 " is too large", cs.label, cs.h.shape[1]);
        goto done;
    }
    c->L = (int)cs.h.shape[1];
    c->dim = (int)cs.h.shape[2];
    if (open_vectors(z, c->tgt_name, 2, &ts, e)) goto done;
    have_ts = 1;
    if (ts.h.shape[0] != n || ts.h.shape[1] != c->dim) {
        lvt_errf(e, "%s: %s has shape (%" PRId64 ", %" PRId64 ") but %s has %" PRId64 " windows of dim %d",
                 c->in_base, c->tgt_name, ts.h.shape[0], ts.h.shape[1], c->vec_name, n, c->dim);
        goto done;
    }
    int has_a = lvt_npz_has(z, "article_ids"), has_t = lvt_npz_has(z, "target_indices");
    if (has_a && read_index(z, "article_ids", n, &aid, e)) goto done;
    if (has_t && read_index(z, "target_indices", n, &tix, e)) goto done;
    kw = lvt_malloc((size_t)n * sizeof(int64_t), e);
    if (!kw) goto done;
    int L1 = c->L + 1;
    if (aid && tix) {
        if (plan_rebuild(c, aid, tix, n, kw, e)) goto done;
    } else {
        if (plan_alloc(&c->p, n * L1, n, tix != NULL, e)) goto done;
        for (int64_t w = 0; w < n; w++) {
            if (tix && tix[w] < c->L) {
                lvt_errf(e, "%s: target_indices[%" PRId64 "] = %" PRId64 " is less than the context length %d",
                         c->in_base, w, tix[w], c->L);
                goto done;
            }
            c->p.art_id[w] = aid ? aid[w] : w;
            c->p.art_off[w] = kw[w] = w * L1;
            for (int j = 0; tix && j < L1; j++) c->p.chunk_id[w * L1 + j] = tix[w] - c->L + j;
        }
        c->p.art_off[n] = n * L1;
        note(c, "%s has no %s: each of its %" PRId64 " windows becomes its own %d-chunk article "
             "(%d context + target); windows of one source article are not merged", c->in_base,
             has_a ? "target_indices" : has_t ? "article_ids" : "article_ids/target_indices", n, L1, c->L);
        if (lvt_npz_has(z, "metadata")) note(c, "%s ignored: %s", c->in_base, METADATA_HINT);
        if (!aid) note(c, "article ids are the window numbers 0..%" PRId64, n - 1);
    }
    if (outputs_build(c, e)) goto done;
    /* contexts: row (w, j) -> kw[w] + j; then targets: row w -> kw[w] + L */
    float *buf = lvt_malloc((size_t)ROW_BLOCK * (size_t)c->dim * sizeof(float), e);
    if (!buf) goto done;
    int64_t nrows = n * c->L;
    for (int64_t r0 = 0; r0 < nrows; r0 += ROW_BLOCK) {
        int64_t m = nrows - r0 < ROW_BLOCK ? nrows - r0 : ROW_BLOCK;
        if (lvt_npy_read_f32(&cs, buf, m * c->dim, e)) goto seq_fail;
        for (int64_t r = 0; r < m; r++) {
            int64_t w = (r0 + r) / c->L, j = (r0 + r) % c->L;
            if (put_row(c, kw[w] + j, buf + r * c->dim, w * L1 + j, e)) goto seq_fail;
        }
    }
    for (int64_t r0 = 0; r0 < n; r0 += ROW_BLOCK) {
        int64_t m = n - r0 < ROW_BLOCK ? n - r0 : ROW_BLOCK;
        if (lvt_npy_read_f32(&ts, buf, m * c->dim, e)) goto seq_fail;
        for (int64_t r = 0; r < m; r++)
            if (put_row(c, kw[r0 + r] + c->L, buf + r * c->dim, (r0 + r) * L1 + c->L, e)) goto seq_fail;
    }
    rc = LVT_OK;
seq_fail:
    free(buf);
done:
    lvt_npy_close(&cs);
    if (have_ts) lvt_npy_close(&ts);
    free(aid);
    free(tix);
    free(kw);
    return rc;
}

/* ---- raw .npy ------------------------------------------------------------------------------- */

static int convert_raw(conv *c, const char *path, lvt_err *e) {
    lvt_npy_stream s;
    c->kind = SRC_RAW;
    c->vec_name = "row";
    if (lvt_npy_open(path, &s, e)) return LVT_ERROR;
    int rc = LVT_ERROR;
    char sh[96];
    shape_str(&s.h, sh, sizeof sh);
    if (!is_float(&s.h)) {
        lvt_errf(e, "%s has dtype '%s', expected floats (<f4, <f2 or <f8)", s.label, s.h.descr);
        goto done;
    }
    if (s.h.ndim == 3) {
        lvt_errf(e, "%s has shape %s: a raw array of context windows carries no targets; save contexts "
                 "and targets together as a sequences NPZ (np.savez(OUT, context_sequences=C, "
                 "target_vectors=T))", s.label, sh);
        goto done;
    }
    if (s.h.ndim != 2 || s.h.shape[0] < 1 || s.h.shape[1] < 1 || s.h.shape[1] > 1000000) {
        lvt_errf(e, "%s has shape %s, expected (N, D) with N, D >= 1", s.label, sh);
        goto done;
    }
    int64_t n = s.h.shape[0], len = c->o->article_len > 0 ? c->o->article_len : n;
    int64_t n_art = (n + len - 1) / len;
    c->dim = (int)s.h.shape[1];
    if (plan_alloc(&c->p, n, n_art, 0, e)) goto done;
    for (int64_t a = 0; a < n_art; a++) {
        c->p.art_id[a] = a;
        c->p.art_off[a] = a * len;
    }
    c->p.art_off[n_art] = n;
    if (c->o->article_len > 0)
        note(c, "%s: rows cut into %" PRId64 " articles of %" PRId64 " rows (ids 0..%" PRId64 ")", c->in_base,
             n_art, len, n_art - 1);
    else
        note(c, "%s: all %" PRId64 " rows form one article (id 0); use --article-len to cut it", c->in_base, n);
    if (outputs_build(c, e)) goto done;
    rc = stream_rows(c, &s, n, NULL, e);
done:
    lvt_npy_close(&s);
    return rc;
}

/* ---- driver --------------------------------------------------------------------------------- */

int lvt_convert(const lvt_convert_opts *o, lvt_err *e) {
    if (!o->in || !o->out) return lvt_errf(e, "convert needs an input file and --out");
    for (int i = 0; i < o->n_splits; i++)
        for (int j = 0; j < i; j++) {
            const lvt_convert_split *a = &o->splits[j], *b = &o->splits[i];
            if (!strcmp(a->name, b->name)) return lvt_errf(e, "--split '%s' is given twice", a->name);
            if (a->lo <= b->hi && b->lo <= a->hi)
                return lvt_errf(e, "--split ranges overlap: %s=%" PRId64 "-%" PRId64 " and %s=%" PRId64 "-%" PRId64,
                                a->name, a->lo, a->hi, b->name, b->lo, b->hi);
        }

    conv c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.n_out = 1 + o->n_splits;
    const char *slash = strrchr(o->in, '/');
    c.in_base = slash ? slash + 1 : o->in;
    if (o->n_splits == 0) {
        snprintf(c.path[0], sizeof c.path[0], "%s", o->out);
    } else {
        if (lvt_convert_split_path(o->out, "train", c.path[0], sizeof c.path[0], e)) return LVT_ERROR;
        for (int j = 0; j < o->n_splits; j++)
            if (lvt_convert_split_path(o->out, o->splits[j].name, c.path[j + 1], sizeof c.path[j + 1], e))
                return LVT_ERROR;
    }

    /* the format by content: .npy magic or a zip */
    FILE *f = fopen(o->in, "rb");
    if (!f) return lvt_errf(e, "cannot open '%s': %s", o->in, strerror(errno));
    unsigned char magic[6] = {0};
    size_t got = fread(magic, 1, 6, f);
    fclose(f);
    int rc;
    int is_npy = got == 6 && !memcmp(magic, "\x93NUMPY", 6);
    if (!is_npy && o->article_len > 0) note(&c, "--article-len applies to raw .npy input only; ignored");
    if (is_npy) {
        rc = convert_raw(&c, o->in, e);
    } else {
        lvt_npz z;
        rc = lvt_npz_open(o->in, &z, e);
        if (rc && got >= 2 && memcmp(magic, "PK", 2))
            lvt_errf(e, "%s: not an NPZ (zip) or .npy file", c.in_base);
        if (!rc) {
            if (lvt_npz_has(&z, "vectors")) {
                rc = convert_articles(&c, &z, e);
            } else if (lvt_npz_has(&z, "context_sequences") || lvt_npz_has(&z, "contexts")) {
                rc = convert_sequences(&c, &z, e);
            } else {
                char mem[512];
                lvt_npz_members(&z, mem, sizeof mem);
                rc = lvt_errf(e, "%s: neither an articles NPZ (vectors, article_indices) nor a sequences NPZ "
                              "(context_sequences|contexts, target_vectors|targets); members: %s",
                              c.in_base, mem[0] ? mem : "none");
            }
            lvt_npz_close(&z);
        }
    }
    for (int64_t k = 0; !rc && k < c.p.n_rows; k++)
        if (c.first_src[k] < 0) rc = lvt_errf(e, "internal error: output row %" PRId64 " was never filled", k);

    /* write every store under a temporary name, then rename them all into place */
    char tmp[1 + LVT_CONVERT_MAX_SPLITS][1100];
    int written = 0;
    lvt_store_write_opts wo = {0, o->compress};
    for (int s = 0; !rc && o->drop_degenerate && s < c.n_out; s++) {
        if (!c.st[s].n) continue;
        int64_t dropped = lvt_store_drop_degenerate(&c.st[s]);
        if (dropped && o->log)
            fprintf(o->log, "note: %s: dropped %" PRId64 " degenerate row%s (norm below %g)\n", c.path[s], dropped,
                    dropped == 1 ? "" : "s", LVT_MIN_ROW_NORM);
        if (!c.st[s].n) rc = lvt_errf(e, "%s: every row is degenerate (norm below %g)", c.path[s], LVT_MIN_ROW_NORM);
    }
    for (int s = 0; !rc && s < c.n_out; s++, written++) {
        snprintf(tmp[s], sizeof tmp[s], "%s.tmp-convert", c.path[s]);
        if (!c.st[s].n) continue;
        if (lvt_store_write(tmp[s], &c.st[s], &wo, e)) {
            lvt_err_prefix(e, "writing %s", c.path[s]);
            rc = LVT_ERROR;
        }
    }
    for (int s = 0; !rc && s < c.n_out; s++) {
        if (!c.st[s].n) continue;
        if (rename(tmp[s], c.path[s])) rc = lvt_errf(e, "cannot rename %s to %s", tmp[s], c.path[s]);
    }
    if (rc) {
        for (int s = 0; s < written; s++) remove(tmp[s]);
    } else if (o->log) {
        for (int s = 0; s < c.n_out; s++) {
            const lvt_store *st = &c.st[s];
            if (!st->n) {
                note(&c, "no article is left outside the splits; %s not written", c.path[s]);
                continue;
            }
            fprintf(o->log, "wrote %s: %" PRId64 " articles, %" PRId64 " chunks, dim %d", c.path[s],
                    st->n_articles, st->n, st->dim);
            if (s > 0) fprintf(o->log, " (article ids %" PRId64 "-%" PRId64 ")", o->splits[s - 1].lo, o->splits[s - 1].hi);
            fputc('\n', o->log);
        }
    }
    conv_free(&c);
    return rc;
}
