/* test_perm.c — the epoch permutation and rank slicing: a bijection for many n (bitmap check),
 * equal to an independent Python implementation of the documented algorithm, identical in two
 * separate processes (this binary re-run in "hash" mode), different across epochs and seeds,
 * roughly uniform; rank slices cover every global batch exactly once for world 1..5 including a
 * short last batch. Run as `test_perm hash N SEED EPOCH` it prints a hash of the permutation. */
#include "testutil.h"

#include "lvt/data.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t perm_hash(uint64_t n, uint64_t seed, uint64_t epoch) {
    lvt_perm p;
    lvt_perm_init(&p, n, seed, epoch);
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the permuted indices */
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = lvt_perm_apply(&p, i);
        for (int k = 0; k < 8; k++) h = (h ^ ((v >> (8 * k)) & 0xFF)) * 1099511628211ull;
    }
    return h;
}

static void test_bijection(void) {
    const uint64_t ns[] = {1, 2, 3, 4, 5, 7, 16, 17, 1000, 65537, 1000000};
    unsigned char *seen = malloc(1000000);
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        for (uint64_t seed = 0; seed < 3; seed++) {
            uint64_t n = ns[t];
            lvt_perm p;
            lvt_perm_init(&p, n, seed * 1000003, seed + 1);
            memset(seen, 0, n);
            uint64_t dup = 0, out = 0, fixed = 0;
            for (uint64_t i = 0; i < n; i++) {
                uint64_t v = lvt_perm_apply(&p, i);
                if (v >= n) out++;
                else if (seen[v]++) dup++;
                fixed += v == i;
            }
            CHECK(out == 0 && dup == 0, "n=%" PRIu64 " seed %" PRIu64 ": %" PRIu64 " out of range, %" PRIu64 " duplicates",
                  n, seed, out, dup);
            if (n >= 1000) CHECK(fixed < n / 20, "n=%" PRIu64 ": %" PRIu64 " fixed points (identity-like)", n, fixed);
        }
    }
    free(seen);
    /* huge n: outputs stay in range, walk terminates */
    lvt_perm p;
    const uint64_t big[] = {(1ull << 40) + 3, UINT64_MAX};
    for (int t = 0; t < 2; t++) {
        lvt_perm_init(&p, big[t], 5, 6);
        int bad = 0;
        for (uint64_t i = 0; i < 1000; i++) bad += lvt_perm_apply(&p, i * 7919) >= big[t];
        CHECK(bad == 0, "huge n out of range");
    }
}

static void test_seeds_epochs(void) {
    const uint64_t n = 1000;
    lvt_perm p0, p1, p2, p3;
    lvt_perm_init(&p0, n, 42, 1);
    lvt_perm_init(&p1, n, 42, 2);
    lvt_perm_init(&p2, n, 43, 1);
    lvt_perm_init(&p3, n, 42, 1);
    uint64_t same_epoch = 0, same_seed = 0, same_again = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = lvt_perm_apply(&p0, i);
        same_epoch += v == lvt_perm_apply(&p1, i);
        same_seed += v == lvt_perm_apply(&p2, i);
        same_again += v == lvt_perm_apply(&p3, i);
    }
    CHECK(same_epoch < n / 20, "epochs 1 and 2 agree at %" PRIu64 " positions", same_epoch);
    CHECK(same_seed < n / 20, "seeds 42 and 43 agree at %" PRIu64 " positions", same_seed);
    CHECK(same_again == n, "same (seed, epoch) differs");
    /* rough uniformity: over 4000 epochs, each value lands at position 0 about 400 times */
    int count[10] = {0};
    for (uint64_t ep = 0; ep < 4000; ep++) {
        lvt_perm p;
        lvt_perm_init(&p, 10, 7, ep);
        count[lvt_perm_apply(&p, 0)]++;
    }
    for (int v = 0; v < 10; v++) CHECK(count[v] > 300 && count[v] < 500, "value %d first %d times of 4000", v, count[v]);
}

static void test_python_reference(void) {
    const char *py = getenv("LVT_PYTHON"), *src = getenv("LVT_SOURCE_DIR");
    if (!py || !src) {
        printf("test_perm: LVT_PYTHON/LVT_SOURCE_DIR unset, python reference skipped\n");
        return;
    }
    const uint64_t cases[][3] = {{1000, 7, 3}, {65537, 123456789, 0}, {5, 0, 0}, {2, 1, 1}};
    for (int c = 0; c < 4; c++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "%s %s/tests/data/data_perm_ref.py %" PRIu64 " %" PRIu64 " %" PRIu64, py, src,
                 cases[c][0], cases[c][1], cases[c][2]);
        FILE *f = popen(cmd, "r");
        CHECK(f != NULL, "popen %s", cmd);
        if (!f) continue;
        lvt_perm p;
        lvt_perm_init(&p, cases[c][0], cases[c][1], cases[c][2]);
        uint64_t i = 0, bad = 0, v;
        while (fscanf(f, "%" SCNu64, &v) == 1) {
            if (i >= cases[c][0] || v != lvt_perm_apply(&p, i)) bad++;
            i++;
        }
        CHECK(pclose(f) == 0, "python reference failed: %s", cmd);
        CHECK(i == cases[c][0] && bad == 0, "n=%" PRIu64 ": %" PRIu64 " of %" PRIu64 " values differ from the python reference",
              cases[c][0], bad, i);
    }
}

static void test_processes(const char *self) {
    const uint64_t cases[][3] = {{1000, 7, 3}, {65537, 99, 12}};
    for (int c = 0; c < 2; c++) {
        uint64_t want = perm_hash(cases[c][0], cases[c][1], cases[c][2]);
        for (int run = 0; run < 2; run++) {
            char cmd[2048];
            snprintf(cmd, sizeof cmd, "'%s' hash %" PRIu64 " %" PRIu64 " %" PRIu64, self, cases[c][0], cases[c][1],
                     cases[c][2]);
            FILE *f = popen(cmd, "r");
            uint64_t got = 0;
            int ok = f && fscanf(f, "%" SCNx64, &got) == 1;
            if (f) ok = (pclose(f) == 0) && ok;
            CHECK(ok && got == want, "process %d: hash %" PRIx64 " vs %" PRIx64, run, got, want);
        }
    }
}

static void test_slicing(void) {
    const int64_t ns[] = {0, 1, 5, 10, 17, 64, 101, 1000};
    const int64_t gs[] = {1, 3, 8, 10, 32};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (size_t b = 0; b < sizeof gs / sizeof gs[0]; b++)
            for (int world = 1; world <= 5; world++) {
                int64_t n = ns[a], G = gs[b];
                int64_t steps = lvt_steps_per_epoch(n, G);
                CHECK(steps * G >= n && (steps == 0 || (steps - 1) * G < n) && (n > 0 || steps == 0),
                      "steps_per_epoch(%lld,%lld) = %lld", (long long)n, (long long)G, (long long)steps);
                int *cover = calloc((size_t)n + 1, sizeof(int));
                int bad = 0;
                for (int64_t s = 0; s < steps + 1; s++) { /* one step past the end must be empty */
                    int64_t glo = s * G, ghi = glo + G < n ? glo + G : n, expect_lo = glo, mn = INT64_MAX, mx = 0;
                    int64_t prev = INT64_MAX;
                    for (int r = 0; r < world; r++) {
                        int64_t lo = -1, cnt = lvt_rank_slice(n, G, s, r, world, &lo);
                        if (s == steps) {
                            bad += cnt != 0;
                            continue;
                        }
                        bad += cnt < 0 || (cnt > 0 && lo != expect_lo); /* contiguous, in rank order */
                        for (int64_t k = 0; k < cnt; k++) {
                            if (lo + k < glo || lo + k >= ghi) bad++;
                            else cover[lo + k]++;
                        }
                        if (cnt > 0) expect_lo = lo + cnt;
                        if (cnt < mn) mn = cnt;
                        if (cnt > mx) mx = cnt;
                        bad += cnt > prev; /* the first ranks take the extra samples */
                        prev = cnt;
                    }
                    if (s < steps) {
                        bad += expect_lo != ghi;      /* the ranks together cover the whole slice */
                        bad += mx - mn > 1;           /* an even split */
                    }
                }
                for (int64_t i = 0; i < n; i++) bad += cover[i] != 1;
                CHECK(bad == 0, "n=%lld G=%lld world=%d: %d slicing errors", (long long)n, (long long)G, world, bad);
                free(cover);
            }
    /* the documented split of a short last batch: 7 samples on 3 ranks -> 3, 2, 2 */
    int64_t lo;
    CHECK(lvt_rank_slice(17, 10, 1, 0, 3, &lo) == 3 && lo == 10, "short batch rank 0");
    CHECK(lvt_rank_slice(17, 10, 1, 1, 3, &lo) == 2 && lo == 13, "short batch rank 1");
    CHECK(lvt_rank_slice(17, 10, 1, 2, 3, &lo) == 2 && lo == 15, "short batch rank 2");
    /* a full batch with world | G is [r*G/world, (r+1)*G/world) */
    CHECK(lvt_rank_slice(100, 12, 2, 3, 4, &lo) == 3 && lo == 24 + 9, "full batch rank 3");
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "hash") == 0) {
        uint64_t n = strtoull(argv[2], NULL, 10), seed = strtoull(argv[3], NULL, 10), ep = strtoull(argv[4], NULL, 10);
        printf("%" PRIx64 "\n", perm_hash(n, seed, ep));
        return 0;
    }
    test_bijection();
    test_seeds_epochs();
    test_python_reference();
    test_processes(argv[0]);
    test_slicing();
    return test_finish("test_perm");
}
