/* test_windows.c — the window index and batch assembly against a brute-force reference: windows
 * are enumerated naively (every article, every start with L context rows and a target inside it)
 * and ctx / target / fut / roll and both masks of lvt_batch_gather are compared element by
 * element, on a store with articles of lengths 0..12 in shuffled order, for several L and H;
 * and the article shards (contiguous, covering every article once, balanced by window count). */
#include "testutil.h"

#include "lvt/data.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t article, start, end; /* end = one past the article's last row */
} ref_window;

static uint64_t rs = 99;
static uint64_t next_u64(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

int main(void) {
    /* articles of lengths 0..12, twice, shuffled */
    enum { A = 26, D = 3 };
    int lens[A];
    for (int a = 0; a < A; a++) lens[a] = a % 13;
    for (int a = A - 1; a > 0; a--) {
        int k = (int)(next_u64() % (uint64_t)(a + 1)), t = lens[a];
        lens[a] = lens[k];
        lens[k] = t;
    }
    lvt_store s;
    memset(&s, 0, sizeof s);
    s.dim = D;
    s.n_articles = A;
    s.offsets = calloc(A + 1, sizeof(int64_t));
    for (int a = 0; a < A; a++) s.offsets[a + 1] = s.offsets[a] + lens[a];
    s.n = s.offsets[A];
    s.vectors = malloc((size_t)s.n * D * sizeof(float));
    /* every value encodes (row, column): a wrong row shows up as a wrong value */
    for (int64_t r = 0; r < s.n; r++)
        for (int j = 0; j < D; j++) s.vectors[r * D + j] = (float)(r * 10 + j + 1);
    s.article_ids = calloc(A, sizeof(int64_t));
    lvt_err e = {{0}};
    CHECK(lvt_store_check(&s, "windows test store", &e) == 0, "%s", e.msg);

    ref_window *ref = malloc((size_t)s.n * sizeof *ref);
    for (int L = 1; L <= 6; L++) {
        /* brute force: every (article, start) with rows start..start+L inside the article */
        int64_t nref = 0;
        for (int a = 0; a < A; a++)
            for (int64_t st = s.offsets[a]; st + L < s.offsets[a + 1]; st++)
                ref[nref++] = (ref_window){a, st, s.offsets[a + 1]};
        lvt_windows w;
        CHECK(lvt_windows_build(&w, &s, L, &e) == 0, "%s", e.msg);
        CHECK(w.n_windows == nref, "L=%d: %lld windows, reference %lld", L, (long long)w.n_windows,
              (long long)nref);
        for (int64_t i = 0; i < nref && i < w.n_windows; i++) {
            int64_t a, r0, nt;
            lvt_window_info(&w, i, &a, &r0, &nt);
            CHECK(a == ref[i].article && r0 == ref[i].start && nt == ref[i].end - (ref[i].start + L),
                  "L=%d window %lld: got (%lld,%lld,%lld)", L, (long long)i, (long long)a, (long long)r0,
                  (long long)nt);
            int64_t a2, r2;
            lvt_window_locate(&w, i, &a2, &r2);
            CHECK(a2 == a && r2 == r0, "locate differs from info");
        }
        for (int H = 1; H <= 4; H++) {
            /* gather all windows in a scrambled order, in batches of 7 */
            const int cap = 7;
            lvt_batch b;
            CHECK(lvt_batch_alloc(&b, cap, L, D, H, &e) == 0, "%s", e.msg);
            int64_t idx[7];
            int64_t bad = 0;
            for (int64_t pos = 0; pos < nref; pos += cap) {
                int n = (int)(nref - pos < cap ? nref - pos : cap);
                for (int j = 0; j < n; j++) idx[j] = (pos + j) * 5 % nref;
                lvt_batch_gather(&b, &s, &w, idx, n);
                CHECK(b.b == n, "batch count");
                for (int j = 0; j < n; j++) {
                    const ref_window *rw = &ref[idx[j]];
                    for (int l = 0; l < L; l++)
                        for (int c = 0; c < D; c++)
                            bad += b.ctx[((size_t)j * L + l) * D + c] != (float)((rw->start + l) * 10 + c + 1);
                    int64_t t = rw->start + L;
                    for (int c = 0; c < D; c++) bad += b.target[(size_t)j * D + c] != (float)(t * 10 + c + 1);
                    for (int k = 0; k < 2; k++) {
                        int64_t row = t + 1 + k;
                        int ex = row < rw->end;
                        bad += b.fut_mask[j * 2 + k] != (ex ? 1.0f : 0.0f);
                        for (int c = 0; c < D; c++)
                            bad += b.fut[((size_t)j * 2 + k) * D + c] != (ex ? (float)(row * 10 + c + 1) : 0.0f);
                    }
                    for (int h = 1; h <= H; h++) {
                        int64_t row = rw->start + L + h - 1;
                        int ex = row < rw->end;
                        bad += b.roll_mask[j * H + h - 1] != (ex ? 1.0f : 0.0f);
                        for (int c = 0; c < D; c++)
                            bad += b.roll[((size_t)j * H + h - 1) * D + c] != (ex ? (float)(row * 10 + c + 1) : 0.0f);
                    }
                    bad += b.roll_mask[j * H] != 1.0f; /* roll row 0 is the target */
                    bad += memcmp(b.roll + (size_t)j * H * D, b.target + (size_t)j * D, D * sizeof(float)) != 0;
                    bad += b.sample_index[j] != idx[j];
                }
            }
            CHECK(bad == 0, "L=%d H=%d: %lld batch elements differ from the reference", L, H, (long long)bad);
            lvt_batch_free(&b);
        }
        lvt_windows_free(&w);
    }
    /* article shards: contiguous, covering [0, A) once, each within one article of W/world */
    for (int L = 1; L <= 6; L += 2)
        for (int world = 1; world <= 5; world++) {
            int64_t W = 0, maxw = 0, expect_lo = 0;
            for (int a = 0; a < A; a++) {
                int64_t k = lens[a] > L ? lens[a] - L : 0;
                W += k;
                if (k > maxw) maxw = k;
            }
            int bad = 0;
            for (int r = 0; r < world; r++) {
                int64_t lo, hi, cnt = 0;
                lvt_shard_articles(s.offsets, A, L, r, world, &lo, &hi);
                bad += lo != expect_lo || hi < lo || hi > A;
                for (int64_t a = lo; a < hi && hi <= A; a++) cnt += lens[a] > L ? lens[a] - L : 0;
                int64_t dev = cnt * world - W; /* world * (count - W/world) */
                bad += (dev < 0 ? -dev : dev) >= (maxw > 0 ? maxw : 1) * world;
                expect_lo = hi;
            }
            bad += expect_lo != A;
            CHECK(bad == 0, "L=%d world=%d: %d shard errors", L, world, bad);
        }

    /* L larger than every article: no windows at all */
    lvt_windows w;
    CHECK(lvt_windows_build(&w, &s, 12, &e) == 0 && w.n_windows == 0, "L=12 gives windows");
    lvt_windows_free(&w);
    CHECK(lvt_windows_build(&w, &s, 0, &e) != 0, "L=0 accepted");
    lvt_batch b;
    CHECK(lvt_batch_alloc(&b, 0, 5, 4, 1, &e) != 0, "zero batch capacity accepted");
    free(ref);
    lvt_store_free(&s);
    return test_finish("test_windows");
}
