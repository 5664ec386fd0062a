/* test_convert_npy.c — the .npy reader against numpy: every one of the 65536 float16 values
 * converts to exactly numpy's float32; float64 -> float32 and int32 -> int64 match numpy's casts;
 * format versions 1.0, 2.0 and 3.0 read the same; and hand-made headers with every defect
 * (magic, version, dtype, Fortran order, structured dtype, cut-short header) are clear errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvt/convert.h"
#include "testutil.h"

static char dir[1024];

static char *path(const char *name) {
    static char buf[4][1200];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* Read a whole .npy as float32 (n elements expected). */
static float *read_f32(const char *name, int64_t n) {
    lvt_npy_stream s;
    lvt_err e = {{0}};
    if (lvt_npy_open(path(name), &s, &e)) {
        CHECK(0, "open %s: %s", name, e.msg);
        return NULL;
    }
    CHECK(s.h.count == n, "%s: count %lld, expected %lld", name, (long long)s.h.count, (long long)n);
    float *v = malloc((size_t)n * sizeof(float));
    int rc = s.h.count == n ? lvt_npy_read_f32(&s, v, n, &e) : -1;
    CHECK(rc == 0, "read %s: %s", name, e.msg);
    lvt_npy_close(&s);
    if (rc) {
        free(v);
        return NULL;
    }
    return v;
}

static void test_against_numpy(void) {
    /* float16: all bit patterns vs numpy's astype(float32) */
    float *h = read_f32("f16_all.npy", 65536), *r = read_f32("f16_ref.npy", 65536);
    if (h && r) {
        int bad = 0, subnormals = 0, nans = 0;
        for (int i = 0; i < 65536; i++) {
            uint32_t a, b;
            memcpy(&a, &h[i], 4);
            memcpy(&b, &r[i], 4);
            if (isnan(r[i])) nans++;
            if ((i & 0x7c00) == 0 && (i & 0x3ff)) subnormals++;
            if (!(a == b || (isnan(h[i]) && isnan(r[i])))) {
                if (bad++ < 5) fprintf(stderr, "f16 0x%04x -> 0x%08x, numpy 0x%08x\n", i, a, b);
            }
        }
        CHECK(bad == 0, "%d of 65536 float16 values differ from numpy", bad);
        CHECK(subnormals == 2046 && nans == 2046, "table covers %d subnormals, %d NaNs", subnormals, nans);
        /* spot values, independent of numpy */
        CHECK(lvt_f16_to_f32(0x0001) == ldexpf(1.0f, -24), "smallest subnormal");
        CHECK(lvt_f16_to_f32(0x03ff) == ldexpf(1023.0f, -24), "largest subnormal");
        CHECK(lvt_f16_to_f32(0x3c00) == 1.0f && lvt_f16_to_f32(0xc000) == -2.0f, "1 and -2");
        CHECK(lvt_f16_to_f32(0x7bff) == 65504.0f, "max half");
        CHECK(isinf(lvt_f16_to_f32(0x7c00)) && lvt_f16_to_f32(0xfc00) < 0, "infinities");
        CHECK(isnan(lvt_f16_to_f32(0x7e00)), "NaN");
        CHECK(signbit(lvt_f16_to_f32(0x8000)) && lvt_f16_to_f32(0x8000) == 0.0f, "-0");
    }
    free(h);
    free(r);

    /* float64 -> float32: round to nearest like numpy */
    float *d = read_f32("f64.npy", 1000), *dr = read_f32("f64_ref.npy", 1000);
    if (d && dr) {
        int bad = 0;
        for (int i = 0; i < 1000; i++) bad += memcmp(&d[i], &dr[i], 4) != 0;
        CHECK(bad == 0, "%d of 1000 float64 values round differently from numpy", bad);
    }
    free(d);
    free(dr);

    /* int32 -> int64 and int64 as is */
    lvt_npy_stream s;
    lvt_err e = {{0}};
    int64_t got[7], want[7] = {0, -1, 2147483647, -2147483648LL, 5, 123456, -77};
    if (!lvt_npy_open(path("i32.npy"), &s, &e)) {
        CHECK(s.h.dtype == LVT_NPY_I4 && s.h.ndim == 1 && s.h.shape[0] == 7, "i32 header");
        CHECK(lvt_npy_read_i64(&s, got, 7, &e) == 0, "read i32: %s", e.msg);
        CHECK(!memcmp(got, want, sizeof want), "i32 values");
        float f;
        CHECK(lvt_npy_read_f32(&s, &f, 0, &e) != 0 && test_contains(e.msg, "floating-point vectors are needed"),
              "ints read as floats must fail: %s", e.msg);
        lvt_npy_close(&s);
    } else {
        CHECK(0, "open i32.npy: %s", e.msg);
    }
    if (!lvt_npy_open(path("i64.npy"), &s, &e)) {
        CHECK(s.h.dtype == LVT_NPY_I8, "i64 header");
        CHECK(lvt_npy_read_i64(&s, got, 7, &e) == 0, "read i64: %s", e.msg);
        CHECK(!memcmp(got, want, sizeof want), "i64 values");
        CHECK(lvt_npy_read_i64(&s, got, 1, &e) != 0 && test_contains(e.msg, "past the end"), "read past end");
        lvt_npy_close(&s);
    } else {
        CHECK(0, "open i64.npy: %s", e.msg);
    }

    /* versions 1.0, 2.0, 3.0 of the same (3, 4, 5) array */
    float *v1 = read_f32("v1.npy", 60), *v2 = read_f32("v2.npy", 60), *v3 = read_f32("v3.npy", 60);
    if (v1 && v2 && v3) {
        int ok = 1;
        for (int i = 0; i < 60; i++) ok &= v1[i] == (float)i * 0.5f && v2[i] == v1[i] && v3[i] == v1[i];
        CHECK(ok, "versions 1/2/3 read the same values");
    }
    free(v1);
    free(v2);
    free(v3);
    if (!lvt_npy_open(path("v3.npy"), &s, &e)) {
        CHECK(s.h.major == 3 && s.h.ndim == 3 && s.h.shape[0] == 3 && s.h.shape[1] == 4 && s.h.shape[2] == 5,
              "v3 header: version %d, ndim %d", s.h.major, s.h.ndim);
        lvt_npy_close(&s);
    }
}

/* Build a version-1.0 .npy header around a dict string, padded like numpy. */
static size_t make_header(unsigned char *buf, const char *dict, int major) {
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = (pre + dl + 1 + 63) / 64 * 64, hlen = total - pre;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    if (major != 1) buf[10] = buf[11] = 0;
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', hlen - dl - 1);
    buf[total - 1] = '\n';
    return total;
}

static void expect_err(const char *dict, const char *needle) {
    unsigned char buf[512];
    size_t n = make_header(buf, dict, 1);
    lvt_npy_header h;
    lvt_err e = {{0}};
    int rc = lvt_npy_parse_header(buf, n, "x.npz: member 'v'", &h, &e);
    CHECK(rc != 0, "header %s must fail", dict);
    CHECK_MSG(e.msg, needle);
    CHECK_MSG(e.msg, "member 'v'");
}

static void test_headers(void) {
    unsigned char buf[512];
    lvt_npy_header h;
    lvt_err e = {{0}};
    size_t n = make_header(buf, "{'descr': '<f2', 'fortran_order': False, 'shape': (7, 3), }", 1);
    CHECK(lvt_npy_parse_header(buf, n, "a", &h, &e) == 0, "valid f2 header: %s", e.msg);
    CHECK(h.dtype == LVT_NPY_F2 && h.itemsize == 2 && h.ndim == 2 && h.count == 21 && h.data_offset == n,
          "f2 header fields");
    n = make_header(buf, "{\"shape\": (), \"fortran_order\": False, \"descr\": \"<i8\"}", 2);
    CHECK(lvt_npy_parse_header(buf, n, "a", &h, &e) == 0, "scalar, reordered keys, v2: %s", e.msg);
    CHECK(h.ndim == 0 && h.count == 1 && h.dtype == LVT_NPY_I8 && h.major == 2, "scalar fields");
    n = make_header(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (5L,), }", 1);
    CHECK(lvt_npy_parse_header(buf, n, "a", &h, &e) == 0 && h.shape[0] == 5 && h.ndim == 1, "python-2 5L");
    n = make_header(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 9), }", 1);
    CHECK(lvt_npy_parse_header(buf, n, "a", &h, &e) == 0 && h.count == 0, "empty array");

    expect_err("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", "big-endian dtype '>f4'");
    expect_err("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", "pickled Python object array");
    expect_err("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", "Fortran order");
    expect_err("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", "dtype '<c8', which is not supported");
    expect_err("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", "dtype '|u1'");
    expect_err("{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (2,), }",
               "structured dtype");
    expect_err("{'descr': '<f4', 'fortran_order': False, }", "lacks 'shape'");
    expect_err("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", "malformed .npy header");
    expect_err("{'descr': '<f4', 'fortran_order': False, 'shape': (2,, }", "malformed .npy header");
    expect_err("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", "unexpected key 'extra'");

    n = make_header(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 1);
    CHECK(lvt_npy_parse_header(buf, n - 5, "cut", &h, &e) != 0, "cut-short header must fail");
    CHECK_MSG(e.msg, "cut: truncated .npy header");
    buf[0] = 'X';
    CHECK(lvt_npy_parse_header(buf, n, "m", &h, &e) != 0, "bad magic must fail");
    CHECK_MSG(e.msg, "bad magic");
    buf[0] = 0x93;
    buf[6] = 4;
    CHECK(lvt_npy_parse_header(buf, n, "m", &h, &e) != 0, "version 4 must fail");
    CHECK_MSG(e.msg, "unsupported .npy format version 4.0");
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", test_tmpdir("convert_npy"));
    const char *py = getenv("LVT_PYTHON");
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "'%s' -c \"\n"
             "import numpy as np, os\n"
             "d = '%s'\n"
             "h = np.arange(65536, dtype=np.uint16).view(np.float16)\n"
             "np.save(os.path.join(d, 'f16_all.npy'), h)\n"
             "np.save(os.path.join(d, 'f16_ref.npy'), h.astype(np.float32))\n"
             "x = np.random.default_rng(3).standard_normal(1000) * np.logspace(-45, 38, 1000)\n"
             "np.save(os.path.join(d, 'f64.npy'), x)\n"
             "np.save(os.path.join(d, 'f64_ref.npy'), x.astype(np.float32))\n"
             "w = [0, -1, 2147483647, -2147483648, 5, 123456, -77]\n"
             "np.save(os.path.join(d, 'i32.npy'), np.array(w, np.int32))\n"
             "np.save(os.path.join(d, 'i64.npy'), np.array(w, np.int64))\n"
             "a = (np.arange(60, dtype=np.float32) * 0.5).reshape(3, 4, 5)\n"
             "for v in (1, 2, 3):\n"
             "    with open(os.path.join(d, 'v%%d.npy' %% v), 'wb') as f:\n"
             "        np.lib.format.write_array(f, a, version=(v, 0))\n"
             "\"",
             py && *py ? py : "/usr/bin/python3", dir);
    if (test_system(cmd) != 0) {
        printf("test_convert_npy: python with numpy unavailable: skipped\n");
        return 77;
    }
    test_against_numpy();
    test_headers();
    return test_finish("test_convert_npy");
}
