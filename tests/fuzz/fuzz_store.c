/* fuzz_store.c — libFuzzer target: the article-store opener on arbitrary bytes written to an
 * HDF5 file: lvt_store_probe, lvt_store_read_offsets, lvt_store_read (normalising), a range read
 * of the first articles and the window index over what was read. HDF5 itself is not instrumented;
 * lvt's checks around it are. Invariants: every failure leaves a message; an accepted store passes
 * lvt_store_check and agrees with the probe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "lvt/data.h"

static void check_read(const char *path, int64_t pn, int pdim, int64_t pa) {
    lvt_store s;
    lvt_err e = {{0}};
    if (lvt_store_read(path, 1, &s, &e)) {
        if (!e.msg[0]) fuzz_fail("lvt_store_read failed without a message", NULL);
        return;
    }
    if (lvt_store_check(&s, "fuzz", &e)) fuzz_fail("an accepted store fails lvt_store_check", e.msg);
    if (pn >= 0 && (s.n != pn || s.dim != pdim || s.n_articles != pa))
        fuzz_fail("lvt_store_read and lvt_store_probe disagree", NULL);
    lvt_windows w;
    if (lvt_windows_build(&w, &s, 2, &e) == 0) lvt_windows_free(&w);
    lvt_store_free(&s);
}

static void check_range(const char *path, int64_t n_articles) {
    int64_t hi = n_articles < 2 ? n_articles : 2;
    lvt_store s;
    lvt_err e = {{0}};
    if (lvt_store_read_range(path, 0, hi, 0, &s, &e)) {
        if (!e.msg[0]) fuzz_fail("lvt_store_read_range failed without a message", NULL);
        return;
    }
    if (s.n_articles != hi) fuzz_fail("a range read returned another article count", NULL);
    lvt_store_free(&s);
}

void fuzz_target(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_file("in.h5", data, size);
    lvt_err e = {{0}};
    int64_t n = -1, n_art = -1;
    int dim = -1;
    if (lvt_store_probe(path, &n, &dim, &n_art, &e)) {
        if (!e.msg[0]) fuzz_fail("lvt_store_probe failed without a message", NULL);
        n = -1;
    }
    int64_t *off = NULL, a2 = 0;
    e.msg[0] = 0;
    if (lvt_store_read_offsets(path, &off, &a2, &e) == 0) {
        for (int64_t i = 0; i < a2; i++)
            if (off[i] > off[i + 1]) fuzz_fail("accepted offsets are not monotone", NULL);
        free(off);
        check_range(path, a2);
    } else if (!e.msg[0]) {
        fuzz_fail("lvt_store_read_offsets failed without a message", NULL);
    }
    check_read(path, n, dim, n_art);
}
