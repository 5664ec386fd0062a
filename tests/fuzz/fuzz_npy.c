/* fuzz_npy.c — libFuzzer target: the .npy reader on arbitrary bytes — the header parser
 * (lvt_npy_parse_header), the file reader (lvt_npy_open and reading every element as float32 or
 * int64) and `lvt convert` of the file as a raw (N, D) array. Invariants: an accepted header
 * places the data inside the header buffer's bounds and its count is the product of its shape;
 * every failure leaves a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "lvt/convert.h"

static void check_header(const uint8_t *data, size_t size) {
    lvt_npy_header h;
    lvt_err e = {{0}};
    if (lvt_npy_parse_header(data, size, "fuzz.npy", &h, &e)) {
        if (!e.msg[0]) fuzz_fail("lvt_npy_parse_header failed without a message", NULL);
        return;
    }
    if (h.data_offset > size) fuzz_fail("data offset past the header buffer", NULL);
    int64_t count = 1;
    for (int i = 0; i < h.ndim; i++) count *= h.shape[i];
    if (h.ndim < 0 || h.ndim > LVT_NPY_MAX_DIM || count != h.count || h.count < 0)
        fuzz_fail("header count is not the product of its shape", h.descr);
}

/* Open the file and read every element. */
static void read_all(const char *path) {
    lvt_npy_stream s;
    lvt_err e = {{0}};
    if (lvt_npy_open(path, &s, &e)) {
        if (!e.msg[0]) fuzz_fail("lvt_npy_open failed without a message", NULL);
        return;
    }
    fuzz_read_npy_stream(&s, NULL);
}

void fuzz_target(const uint8_t *data, size_t size) {
    check_header(data, size);
    const char *path = fuzz_write_file("in.npy", data, size);
    read_all(path);
    fuzz_convert(path);
}
