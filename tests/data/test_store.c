/* test_store.c — the HDF5 article store: bit-exact round trips (chunked/compressed, with and
 * without chunk_ids), range reads against slices of a full read, normalisation on load, probe,
 * float64 / contiguous inputs, offsets-only reads and article shards, atomic writes, and every malformed-store case of docs/formats.md built
 * here with the HDF5 C API, each asserting the message names the file and the dataset. */
#include "testutil.h"

#include "lvt/data.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 12345;
static float frand(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

/* A store with the given article lengths, random vectors; caller frees. */
static void make_store(lvt_store *s, const int *lens, int A, int D, int with_chunk_ids) {
    memset(s, 0, sizeof *s);
    int64_t n = 0;
    for (int a = 0; a < A; a++) n += lens[a];
    s->n = n;
    s->dim = D;
    s->n_articles = A;
    s->vectors = malloc((size_t)(n ? n : 1) * (size_t)D * sizeof(float));
    s->offsets = malloc((size_t)(A + 1) * sizeof(int64_t));
    s->article_ids = malloc((size_t)(A ? A : 1) * sizeof(int64_t));
    s->chunk_ids = with_chunk_ids ? malloc((size_t)(n ? n : 1) * sizeof(int64_t)) : NULL;
    for (int64_t i = 0; i < n * D; i++) s->vectors[i] = frand();
    s->offsets[0] = 0;
    for (int a = 0; a < A; a++) {
        s->offsets[a + 1] = s->offsets[a] + lens[a];
        s->article_ids[a] = 1000 + 7 * a;
        if (with_chunk_ids)
            for (int64_t r = s->offsets[a]; r < s->offsets[a + 1]; r++) s->chunk_ids[r] = r - s->offsets[a];
    }
    snprintf(s->source, sizeof s->source, "test store A=%d D=%d", A, D);
}

static int same_store(const lvt_store *a, const lvt_store *b) {
    if (a->n != b->n || a->dim != b->dim || a->n_articles != b->n_articles) return 0;
    if (memcmp(a->vectors, b->vectors, (size_t)a->n * (size_t)a->dim * sizeof(float)) != 0) return 0;
    if (memcmp(a->offsets, b->offsets, (size_t)(a->n_articles + 1) * sizeof(int64_t)) != 0) return 0;
    if (memcmp(a->article_ids, b->article_ids, (size_t)a->n_articles * sizeof(int64_t)) != 0) return 0;
    if ((a->chunk_ids == NULL) != (b->chunk_ids == NULL)) return 0;
    if (a->chunk_ids && memcmp(a->chunk_ids, b->chunk_ids, (size_t)a->n * sizeof(int64_t)) != 0) return 0;
    return 1;
}

/* The layout HDF5 reports for /vectors: chunk rows (0 if contiguous) and number of filters. */
static void vectors_layout(const char *path, int64_t *chunk_rows, int *nfilters) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "vectors", H5P_DEFAULT);
    hid_t p = H5Dget_create_plist(d);
    *chunk_rows = 0;
    if (H5Pget_layout(p) == H5D_CHUNKED) {
        hsize_t c[2];
        H5Pget_chunk(p, 2, c);
        *chunk_rows = (int64_t)c[0];
    }
    *nfilters = H5Pget_nfilters(p);
    H5Pclose(p);
    H5Dclose(d);
    H5Fclose(f);
}

static void test_round_trip(const char *dir) {
    const int lens[] = {3, 0, 7, 1, 12, 5, 0, 9, 2, 30};
    const int A = 10;
    char path[1024];
    for (int variant = 0; variant < 4; variant++) {
        int with_cids = variant & 1, compress = (variant & 2) ? 6 : 0;
        lvt_store s, r;
        lvt_err e = {{0}};
        make_store(&s, lens, A, 16, with_cids);
        snprintf(path, sizeof path, "%s/rt%d.h5", dir, variant);
        lvt_store_write_opts o = {compress ? 4 : 0, compress};
        CHECK(lvt_store_write(path, &s, &o, &e) == 0, "write: %s", e.msg);
        CHECK(lvt_store_read(path, 0, &r, &e) == 0, "read: %s", e.msg);
        CHECK(same_store(&s, &r), "variant %d: round trip differs", variant);
        CHECK(strcmp(r.source, s.source) == 0, "source \"%s\"", r.source);
        CHECK(r.normalized == 0, "normalized %d", r.normalized);
        int64_t cr;
        int nf;
        vectors_layout(path, &cr, &nf);
        CHECK(cr == (compress ? 4 : s.n), "variant %d chunk rows %lld", variant, (long long)cr);
        CHECK(compress ? nf >= 1 : nf == 0, "variant %d filters %d", variant, nf);

        int64_t pn = -1, pa = -1;
        int pd = -1;
        CHECK(lvt_store_probe(path, &pn, &pd, &pa, &e) == 0, "probe: %s", e.msg);
        CHECK(pn == s.n && pd == 16 && pa == A, "probe %lld %d %lld", (long long)pn, pd, (long long)pa);

        /* range reads equal the slice of the full read */
        for (int lo = 0; lo <= A; lo++)
            for (int hi = lo; hi <= A; hi++) {
                lvt_store q;
                CHECK(lvt_store_read_range(path, lo, hi, 0, &q, &e) == 0, "range: %s", e.msg);
                int64_t r0 = r.offsets[lo], r1 = r.offsets[hi];
                int ok = q.n == r1 - r0 && q.n_articles == hi - lo && q.dim == 16;
                ok = ok && memcmp(q.vectors, r.vectors + r0 * 16, (size_t)(r1 - r0) * 16 * sizeof(float)) == 0;
                for (int a = 0; ok && a <= hi - lo; a++) ok = q.offsets[a] == r.offsets[lo + a] - r0;
                for (int a = 0; ok && a < hi - lo; a++) ok = q.article_ids[a] == r.article_ids[lo + a];
                if (with_cids)
                    ok = ok && q.chunk_ids && memcmp(q.chunk_ids, r.chunk_ids + r0, (size_t)(r1 - r0) * 8) == 0;
                else ok = ok && q.chunk_ids == NULL;
                CHECK(ok, "variant %d range [%d,%d) differs from the slice", variant, lo, hi);
                lvt_store_free(&q);
            }
        /* offsets alone, and article shards read by range that together give the whole store */
        int64_t *offs = NULL, na = -1;
        CHECK(lvt_store_read_offsets(path, &offs, &na, &e) == 0, "read offsets: %s", e.msg);
        CHECK(na == A && offs && memcmp(offs, r.offsets, (size_t)(A + 1) * sizeof(int64_t)) == 0,
              "read_offsets differs");
        for (int world = 1; world <= 4; world++) {
            int64_t rows = 0;
            int same = 1;
            for (int rk = 0; rk < world && offs; rk++) {
                int64_t lo, hi;
                lvt_store q;
                lvt_shard_articles(offs, na, 2, rk, world, &lo, &hi);
                CHECK(lvt_store_read_range(path, lo, hi, 0, &q, &e) == 0, "shard read: %s", e.msg);
                same = same && memcmp(q.vectors, r.vectors + rows * 16, (size_t)q.n * 16 * sizeof(float)) == 0;
                rows += q.n;
                lvt_store_free(&q);
            }
            CHECK(same && rows == r.n, "world %d: shards do not reassemble the store", world);
        }
        free(offs);
        lvt_store q;
        CHECK(lvt_store_read_range(path, 3, 11, 0, &q, &e) != 0, "range past A accepted");
        CHECK_MSG(e.msg, path);

        /* normalisation on load: each row is the original divided by its double-precision norm */
        lvt_store nrm;
        CHECK(lvt_store_read(path, 1, &nrm, &e) == 0, "read normalised: %s", e.msg);
        double maxerr = 0.0;
        for (int64_t i = 0; i < s.n; i++) {
            double ss = 0;
            for (int j = 0; j < 16; j++) ss += (double)s.vectors[i * 16 + j] * s.vectors[i * 16 + j];
            double nn = 0;
            for (int j = 0; j < 16; j++) {
                double want = s.vectors[i * 16 + j] / sqrt(ss);
                double d = fabs(nrm.vectors[i * 16 + j] - want);
                if (d > maxerr) maxerr = d;
                nn += (double)nrm.vectors[i * 16 + j] * nrm.vectors[i * 16 + j];
            }
            CHECK(fabs(nn - 1.0) < 1e-5, "row %lld norm^2 %g", (long long)i, nn);
        }
        CHECK(maxerr < 1e-6, "normalised rows differ from reference by %g", maxerr);
        CHECK(nrm.normalized == 1, "normalized flag after normalising");
        lvt_store_free(&nrm);
        lvt_store_free(&r);
        lvt_store_free(&s);
    }

    /* an empty store (no rows, no articles) and one with only empty articles */
    for (int k = 0; k < 2; k++) {
        const int zl[] = {0, 0, 0};
        lvt_store s, r;
        lvt_err e = {{0}};
        make_store(&s, zl, k ? 3 : 0, 8, 1);
        snprintf(path, sizeof path, "%s/empty%d.h5", dir, k);
        CHECK(lvt_store_write(path, &s, NULL, &e) == 0, "write empty: %s", e.msg);
        CHECK(lvt_store_read(path, 1, &r, &e) == 0, "read empty: %s", e.msg);
        CHECK(r.n == 0 && r.n_articles == (k ? 3 : 0) && r.dim == 8, "empty store shape");
        lvt_store_free(&r);
        lvt_store_free(&s);
    }
}

/* ---- hand-made files, good and bad ------------------------------------------------------------ */

enum defect {
    OK_F32, OK_F64, OK_CONTIG, OK_PADDED, NO_VECTORS, NO_OFFSETS, NO_IDS, VEC_RANK1, VEC_INT, OFF_FLOAT, VEC_GROUP,
    NO_FORMAT, BAD_FORMAT, BAD_VERSION, NO_VERSION, BAD_DIM, NO_DIM, OFF_START, OFF_NONMONO, OFF_LAST_SHORT,
    OFF_PAST_N, IDS_LEN, CIDS_LEN, VEC_NAN, VEC_INF, VEC_ZERO_ROW, N_DEFECTS
};

#define BN 10
#define BD 4
#define BA 4

static float base_vec(int i, int j) { return (float)((i * 31 + j * 17) % 101) / 101.0f - 0.45f; }

static void put_ds(hid_t f, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                   const void *data, int chunked) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunked) {
        hsize_t c[2] = {3, dims[rank > 1 ? 1 : 0]};
        if (rank == 1) c[0] = 3;
        H5Pset_chunk(dcpl, rank, c);
        H5Pset_deflate(dcpl, 1);
    }
    hid_t d = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
}

static void put_attr_i(hid_t f, const char *name, long long v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int x = (int)v;
    H5Awrite(a, H5T_NATIVE_INT, &x);
    H5Aclose(a);
    H5Sclose(sp);
}

static void put_attr_s(hid_t f, const char *name, const char *v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE); /* variable length, as h5py writes str attributes */
    hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, &v);
    H5Aclose(a);
    H5Tclose(t);
    H5Sclose(sp);
}

/* A fixed-length, space-padded string of 20 bytes (as Fortran-style writers store them). */
static void put_attr_padded(hid_t f, const char *name, const char *v) {
    char buf[20];
    memset(buf, ' ', sizeof buf);
    memcpy(buf, v, strlen(v));
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, sizeof buf);
    H5Tset_strpad(t, H5T_STR_SPACEPAD);
    hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, buf);
    H5Aclose(a);
    H5Tclose(t);
    H5Sclose(sp);
}

static void make_file(const char *path, enum defect d) {
    float v[BN][BD];
    double v64[BN][BD];
    int vi[BN][BD];
    for (int i = 0; i < BN; i++)
        for (int j = 0; j < BD; j++) {
            v[i][j] = base_vec(i, j);
            v64[i][j] = (double)base_vec(i, j) + 1e-12; /* rounds back to the float32 value */
            vi[i][j] = i + j;
        }
    if (d == VEC_NAN) v[7][2] = NAN;
    if (d == VEC_INF) v[8][1] = -INFINITY;
    if (d == VEC_ZERO_ROW) memset(v[5], 0, sizeof v[5]);
    long long off[BA + 1] = {0, 3, 3, 8, 10};
    if (d == OFF_START) off[0] = 1;
    if (d == OFF_NONMONO) off[2] = 2;
    if (d == OFF_LAST_SHORT) off[4] = 9;
    if (d == OFF_PAST_N) off[3] = 11;
    long long ids[BA] = {5, 6, 7, 8}, cids[BN] = {0, 1, 2, 0, 1, 2, 3, 4, 0, 1};
    double offd[BA + 1] = {0, 3, 3, 8, 10};

    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t vd[2] = {BN, BD}, vd1[1] = {BN * BD}, od[1] = {BA + 1}, id[1] = {d == IDS_LEN ? BA - 1 : BA},
            cd[1] = {d == CIDS_LEN ? BN - 2 : BN};
    if (d == VEC_RANK1) put_ds(f, "vectors", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, vd1, v, 1);
    else if (d == VEC_INT) put_ds(f, "vectors", H5T_STD_I32LE, H5T_NATIVE_INT, 2, vd, vi, 1);
    else if (d == OK_F64) put_ds(f, "vectors", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, vd, v64, 1);
    else if (d == VEC_GROUP) H5Gclose(H5Gcreate2(f, "vectors", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    else if (d != NO_VECTORS) put_ds(f, "vectors", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, vd, v, d != OK_CONTIG);
    if (d == OFF_FLOAT) put_ds(f, "article_offsets", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, od, offd, 0);
    else if (d != NO_OFFSETS) put_ds(f, "article_offsets", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, od, off, 0);
    if (d != NO_IDS) put_ds(f, "article_ids", H5T_STD_I32LE, H5T_NATIVE_LLONG, 1, id, ids, 0);
    put_ds(f, "chunk_ids", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, cd, cids, 0);
    if (d == BAD_FORMAT) put_attr_s(f, "format", "lvt-sequences");
    else if (d == OK_PADDED) put_attr_padded(f, "format", "lvt-articles");
    else if (d != NO_FORMAT) put_attr_s(f, "format", "lvt-articles");
    if (d != NO_VERSION) put_attr_i(f, "version", d == BAD_VERSION ? 2 : 1);
    if (d != NO_DIM) put_attr_i(f, "dim", d == BAD_DIM ? 5 : BD);
    put_attr_i(f, "normalized", 0);
    put_attr_s(f, "source", "hand made");
    H5Fclose(f);
}

static void expect_fail(const char *dir, enum defect d, int normalize, const char *n1, const char *n2) {
    char path[1024];
    snprintf(path, sizeof path, "%s/bad%02d.h5", dir, (int)d);
    make_file(path, d);
    lvt_store s;
    lvt_err e = {{0}};
    int rc = lvt_store_read(path, normalize, &s, &e);
    CHECK(rc != 0, "defect %d was accepted", (int)d);
    if (rc == 0) {
        lvt_store_free(&s);
        return;
    }
    CHECK(s.vectors == NULL && s.offsets == NULL, "defect %d: store not cleared on error", (int)d);
    CHECK_MSG(e.msg, path);
    CHECK_MSG(e.msg, n1);
    if (n2) CHECK_MSG(e.msg, n2);
}

static void test_hand_made(const char *dir) {
    char path[1024];
    lvt_err e = {{0}};
    lvt_store s;
    /* good variants: float32 chunked+deflate, float64 (converted), contiguous, padded format */
    for (int d = OK_F32; d <= OK_PADDED; d++) {
        snprintf(path, sizeof path, "%s/good%d.h5", dir, d);
        make_file(path, (enum defect)d);
        CHECK(lvt_store_read(path, 0, &s, &e) == 0, "good file %d: %s", d, e.msg);
        int ok = s.n == BN && s.dim == BD && s.n_articles == BA && s.chunk_ids && s.chunk_ids[6] == 3;
        for (int i = 0; ok && i < BN; i++)
            for (int j = 0; j < BD; j++) ok = ok && s.vectors[i * BD + j] == base_vec(i, j);
        ok = ok && s.offsets[2] == 3 && s.offsets[3] == 8 && s.article_ids[3] == 8;
        CHECK(ok, "good file %d read wrong values", d);
        CHECK(strcmp(s.source, "hand made") == 0, "source (vlen string) \"%s\"", s.source);
        lvt_store_free(&s);
    }
    expect_fail(dir, NO_VECTORS, 0, "/vectors", "missing");
    expect_fail(dir, NO_OFFSETS, 0, "/article_offsets", "missing");
    expect_fail(dir, NO_IDS, 0, "/article_ids", "missing");
    expect_fail(dir, VEC_RANK1, 0, "/vectors", "rank 1");
    expect_fail(dir, VEC_INT, 0, "/vectors", "type");
    expect_fail(dir, OFF_FLOAT, 0, "/article_offsets", "type");
    expect_fail(dir, VEC_GROUP, 0, "/vectors", "not a dataset");
    expect_fail(dir, NO_FORMAT, 0, "format", "missing");
    expect_fail(dir, BAD_FORMAT, 0, "format", "lvt-sequences");
    expect_fail(dir, BAD_VERSION, 0, "version", "2");
    expect_fail(dir, NO_VERSION, 0, "version", "missing");
    expect_fail(dir, BAD_DIM, 0, "/vectors", "dim = 5");
    expect_fail(dir, NO_DIM, 0, "dim", "missing");
    expect_fail(dir, OFF_START, 0, "/article_offsets", "first offset");
    expect_fail(dir, OFF_NONMONO, 0, "/article_offsets", "monotone");
    expect_fail(dir, OFF_LAST_SHORT, 0, "/article_offsets", "last offset");
    expect_fail(dir, OFF_PAST_N, 0, "/article_offsets", "past N");
    expect_fail(dir, IDS_LEN, 0, "/article_ids", "expected 4");
    expect_fail(dir, CIDS_LEN, 0, "/chunk_ids", "expected N = 10");
    expect_fail(dir, VEC_NAN, 0, "/vectors", "row 7");
    expect_fail(dir, VEC_INF, 0, "/vectors", "row 8");
    expect_fail(dir, VEC_ZERO_ROW, 1, "/vectors", "row 5");
    /* a zero row is refused also when not normalising (docs/reliability.md, degenerate vectors) */
    snprintf(path, sizeof path, "%s/zero_ok.h5", dir);
    make_file(path, VEC_ZERO_ROW);
    CHECK(lvt_store_read(path, 0, &s, &e) != 0 && test_contains(e.msg, "row 5 has norm"),
          "zero row without normalisation accepted: %s", e.msg);
    /* range reads also validate: NaN in row 7 (article 2) is found when reading article 2 only */
    snprintf(path, sizeof path, "%s/nan_range.h5", dir);
    make_file(path, VEC_NAN);
    CHECK(lvt_store_read_range(path, 0, 2, 0, &s, &e) == 0, "range without the NaN row: %s", e.msg);
    lvt_store_free(&s);
    CHECK(lvt_store_read_range(path, 2, 3, 0, &s, &e) != 0, "range with the NaN row accepted");
    CHECK_MSG(e.msg, "row 7");
    /* probe checks the header too */
    snprintf(path, sizeof path, "%s/bad%02d.h5", dir, (int)BAD_DIM);
    CHECK(lvt_store_probe(path, NULL, NULL, NULL, &e) != 0, "probe accepted bad dim");
    CHECK_MSG(e.msg, "dim");

    /* not a file, not HDF5, truncated */
    snprintf(path, sizeof path, "%s/does_not_exist.h5", dir);
    CHECK(lvt_store_read(path, 0, &s, &e) != 0, "missing file accepted");
    CHECK_MSG(e.msg, path);
    CHECK_MSG(e.msg, "cannot open");
    snprintf(path, sizeof path, "%s/text.h5", dir);
    FILE *f = fopen(path, "w");
    fputs("this is not hdf5\n", f);
    fclose(f);
    CHECK(lvt_store_read(path, 0, &s, &e) != 0, "text file accepted");
    CHECK_MSG(e.msg, path);
    CHECK_MSG(e.msg, "not an HDF5 file");
    char cmd[4096], tpath[1024];
    snprintf(path, sizeof path, "%s/good0.h5", dir);
    snprintf(tpath, sizeof tpath, "%s/truncated.h5", dir);
    snprintf(cmd, sizeof cmd, "head -c 1500 '%s' > '%s'", path, tpath);
    CHECK(test_system(cmd) == 0, "truncate");
    CHECK(lvt_store_read(tpath, 0, &s, &e) != 0, "truncated file accepted");
    CHECK_MSG(e.msg, tpath);
}

static void test_write_errors(const char *dir) {
    const int lens[] = {4, 2};
    lvt_store s, r;
    lvt_err e = {{0}};
    char path[1024], tmp[1100];
    make_store(&s, lens, 2, 8, 0);
    snprintf(path, sizeof path, "%s/keep.h5", dir);
    CHECK(lvt_store_write(path, &s, NULL, &e) == 0, "write: %s", e.msg);
    /* an invalid store is refused and the existing file stays intact */
    float saved = s.vectors[9];
    s.vectors[9] = NAN;
    CHECK(lvt_store_write(path, &s, NULL, &e) != 0, "NaN store written");
    CHECK_MSG(e.msg, "row 1");
    s.vectors[9] = saved;
    s.offsets[1] = 7;
    CHECK(lvt_store_write(path, &s, NULL, &e) != 0, "bad offsets written");
    CHECK_MSG(e.msg, "/article_offsets");
    s.offsets[1] = 4;
    CHECK(lvt_store_read(path, 0, &r, &e) == 0 && same_store(&s, &r), "existing file damaged");
    lvt_store_free(&r);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "r");
    CHECK(f == NULL, "temporary file left behind");
    if (f) fclose(f);
    snprintf(path, sizeof path, "%s/no/such/dir/x.h5", dir);
    CHECK(lvt_store_write(path, &s, NULL, &e) != 0, "write into a missing directory");
    CHECK_MSG(e.msg, "x.h5");
    lvt_store_free(&s);
}

/* Raw little-endian file contents; returns the byte count or -1. */
static long read_raw(const char *path, void *buf, long cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    long n = (long)fread(buf, 1, (size_t)cap, f);
    fclose(f);
    return n;
}

/* Interoperability with h5py in both directions. */
static void test_h5py(const char *dir) {
    const char *py = getenv("LVT_PYTHON"), *src = getenv("LVT_SOURCE_DIR");
    if (!py || !src) {
        printf("test_store: LVT_PYTHON/LVT_SOURCE_DIR unset, h5py interoperability skipped\n");
        return;
    }
    char path[1024], cmd[4096];
    lvt_err e = {{0}};
    lvt_store s;
    /* h5py writes, lvt reads */
    snprintf(path, sizeof path, "%s/from_h5py.h5", dir);
    snprintf(cmd, sizeof cmd, "%s %s/tests/data/data_h5py.py write '%s'", py, src, path);
    CHECK(test_system(cmd) == 0, "%s", cmd);
    CHECK(lvt_store_read(path, 0, &s, &e) == 0, "read h5py store: %s", e.msg);
    if (s.vectors) {
        int ok = s.n == 13 && s.dim == 5 && s.n_articles == 4 && s.chunk_ids;
        for (int i = 0; ok && i < 13; i++)
            for (int j = 0; j < 5; j++)
                ok = ok && s.vectors[i * 5 + j] == (float)((double)((i * 31 + j * 17) % 101) / 101.0 - 0.45);
        const int64_t off[5] = {0, 4, 4, 10, 13};
        for (int a = 0; ok && a < 5; a++) ok = s.offsets[a] == off[a];
        for (int a = 0; ok && a < 4; a++) ok = s.article_ids[a] == 100 + a;
        ok = ok && s.chunk_ids[5] == 1 && s.chunk_ids[12] == 2;
        CHECK(ok, "h5py store read with wrong values");
        CHECK(strcmp(s.source, "h5py writer") == 0, "source \"%s\"", s.source);
    }
    lvt_store_free(&s);
    /* lvt writes, h5py reads: layout as documented, bytes identical */
    const int lens[] = {5, 0, 3, 8};
    make_store(&s, lens, 4, 6, 1);
    snprintf(path, sizeof path, "%s/for_h5py.h5", dir);
    lvt_store_write_opts o = {4, 3};
    CHECK(lvt_store_write(path, &s, &o, &e) == 0, "write: %s", e.msg);
    char out[1100], f1[1200];
    snprintf(out, sizeof out, "%s/for_h5py", dir);
    snprintf(cmd, sizeof cmd, "%s %s/tests/data/data_h5py.py check '%s' '%s'", py, src, path, out);
    CHECK(test_system(cmd) == 0, "%s", cmd);
    static char buf[1 << 16];
    snprintf(f1, sizeof f1, "%s.vec", out);
    long nb = read_raw(f1, buf, sizeof buf);
    CHECK(nb == 16 * 6 * 4 && memcmp(buf, s.vectors, (size_t)nb) == 0, "h5py sees other vectors");
    snprintf(f1, sizeof f1, "%s.off", out);
    nb = read_raw(f1, buf, sizeof buf);
    CHECK(nb == 5 * 8 && memcmp(buf, s.offsets, (size_t)nb) == 0, "h5py sees other offsets");
    snprintf(f1, sizeof f1, "%s.ids", out);
    nb = read_raw(f1, buf, sizeof buf);
    CHECK(nb == 4 * 8 && memcmp(buf, s.article_ids, (size_t)nb) == 0, "h5py sees other article ids");
    lvt_store_free(&s);
}

int main(void) {
    const char *dir = test_tmpdir("test_store");
    test_round_trip(dir);
    test_hand_made(dir);
    test_write_errors(dir);
    test_h5py(dir);
    return test_finish("test_store");
}
