/* npy.c — the NumPy .npy format: our own header parser (magic, versions 1.0/2.0/3.0, the
 * header dict with 'descr', 'fortran_order', 'shape'), float16 -> float32, a sequential
 * reader that converts elements to float32 or int64 (the byte source is a FILE * or a libzip
 * member; npz.c opens those), and a sequential float32 matrix writer (`lvt predict`).
 * Assumes a little-endian host (x86-64, aarch64). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "lvt/convert.h"

/* ---- header parsing ------------------------------------------------------------------------ */

typedef struct {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

/* A Python string literal in ' or " quotes (no escapes needed for numpy's keys and dtypes). */
static int parse_str(cursor *c, char *out, size_t cap) {
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap) return -1;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return -1;
    c->p++;
    out[n] = 0;
    return 0;
}

static int parse_word(cursor *c, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n)) return -1;
    c->p += n;
    return 0;
}

/* A shape tuple: "()", "(5,)", "(3, 4)"; Python 2 files may write "3L". */
static int parse_shape(cursor *c, lvt_npy_header *h) {
    if (c->p >= c->end || *c->p != '(') return -1;
    c->p++;
    h->ndim = 0;
    for (;;) {
        skip_ws(c);
        if (c->p < c->end && *c->p == ')') {
            c->p++;
            return 0;
        }
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -1;
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (INT64_MAX - 9) / 10) return -1;
            v = v * 10 + (*c->p++ - '0');
        }
        if (c->p < c->end && *c->p == 'L') c->p++;
        if (h->ndim >= LVT_NPY_MAX_DIM) return -1;
        h->shape[h->ndim++] = v;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') c->p++;
        else if (c->p < c->end && *c->p == ')') continue;
        else return -1;
    }
}

static int set_dtype(lvt_npy_header *h, const char *label, lvt_err *e) {
    static const struct {
        const char *descr;
        lvt_npy_dtype t;
        int size;
    } known[] = {{"<f4", LVT_NPY_F4, 4}, {"<f2", LVT_NPY_F2, 2}, {"<f8", LVT_NPY_F8, 8},
                 {"<i8", LVT_NPY_I8, 8}, {"<i4", LVT_NPY_I4, 4}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(h->descr, known[i].descr)) {
            h->dtype = known[i].t;
            h->itemsize = known[i].size;
            return LVT_OK;
        }
    if (strchr(h->descr, 'O'))
        return lvt_errf(e, "%s has dtype '%s': a pickled Python object array, which cannot be read "
                        "from C", label, h->descr);
    if (h->descr[0] == '>')
        return lvt_errf(e, "%s has big-endian dtype '%s', which is not supported (save it with "
                        "arr.astype('<%s'))", label, h->descr, h->descr + 1);
    return lvt_errf(e, "%s has dtype '%s', which is not supported (supported: <f4, <f2, <f8, <i8, "
                    "<i4)", label, h->descr);
}

int lvt_npy_parse_header(const unsigned char *buf, size_t len, const char *label, lvt_npy_header *h,
                         lvt_err *e) {
    memset(h, 0, sizeof *h);
    if (len < 10) return lvt_errf(e, "%s: truncated .npy header (%zu bytes)", label, len);
    if (memcmp(buf, "\x93NUMPY", 6)) return lvt_errf(e, "%s: not a .npy array (bad magic bytes)", label);
    h->major = buf[6];
    h->minor = buf[7];
    size_t hlen, pre;
    if (h->major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        pre = 10;
    } else if (h->major == 2 || h->major == 3) {
        if (len < 12) return lvt_errf(e, "%s: truncated .npy header (%zu bytes)", label, len);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        pre = 12;
    } else {
        return lvt_errf(e, "%s: unsupported .npy format version %d.%d", label, h->major, h->minor);
    }
    if (len < pre + hlen)
        return lvt_errf(e, "%s: truncated .npy header (needs %zu bytes, has %zu)", label, pre + hlen, len);
    h->data_offset = pre + hlen;

    cursor c = {(const char *)buf + pre, (const char *)buf + pre + hlen};
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0, list_descr = 0;
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{') goto bad;
    c.p++;
    for (;;) {
        char key[32];
        skip_ws(&c);
        if (c.p < c.end && *c.p == '}') break;
        if (parse_str(&c, key, sizeof key)) goto bad;
        skip_ws(&c);
        if (c.p >= c.end || *c.p != ':') goto bad;
        c.p++;
        skip_ws(&c);
        if (!strcmp(key, "descr")) {
            if (c.p < c.end && *c.p == '[') {
                list_descr = 1; /* structured dtype: stop parsing here, report below */
                break;
            }
            if (parse_str(&c, h->descr, sizeof h->descr)) goto bad;
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            if (!parse_word(&c, "True")) fortran = 1;
            else if (!parse_word(&c, "False")) fortran = 0;
            else goto bad;
            have_fortran = 1;
        } else if (!strcmp(key, "shape")) {
            if (parse_shape(&c, h)) goto bad;
            have_shape = 1;
        } else {
            return lvt_errf(e, "%s: unexpected key '%s' in the .npy header", label, key);
        }
        skip_ws(&c);
        if (c.p < c.end && *c.p == ',') c.p++;
        else if (c.p < c.end && *c.p == '}') break;
        else goto bad;
    }
    if (list_descr)
        return lvt_errf(e, "%s has a structured dtype (a list of fields), which is not supported", label);
    if (!have_descr || !have_fortran || !have_shape)
        return lvt_errf(e, "%s: the .npy header lacks '%s'", label,
                        !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    if (set_dtype(h, label, e)) return LVT_ERROR;
    if (fortran)
        return lvt_errf(e, "%s is stored in Fortran order, which is not supported (save "
                        "np.ascontiguousarray(arr))", label);
    h->count = 1;
    for (int i = 0; i < h->ndim; i++) {
        if (h->shape[i] && h->count > INT64_MAX / 8 / h->shape[i])
            return lvt_errf(e, "%s: shape too large", label);
        h->count *= h->shape[i];
    }
    return LVT_OK;
bad:
    return lvt_errf(e, "%s: malformed .npy header", label);
}

float lvt_f16_to_f32(uint16_t x) {
    uint32_t sign = (uint32_t)(x & 0x8000u) << 16;
    uint32_t ex = (x >> 10) & 0x1fu, man = x & 0x3ffu, bits;
    if (ex == 0) {
        if (man == 0) {
            bits = sign; /* signed zero */
        } else {         /* subnormal: man * 2^-24; normalise the mantissa */
            uint32_t e32 = 127 - 14;
            while (!(man & 0x400u)) {
                man <<= 1;
                e32--;
            }
            bits = sign | e32 << 23 | (man & 0x3ffu) << 13;
        }
    } else if (ex == 31) {
        bits = sign | 0x7f800000u | man << 13; /* inf, NaN (payload kept) */
    } else {
        bits = sign | (ex + 112) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* ---- the sequential reader --------------------------------------------------------------- */

/* Read exactly n bytes from the stream's source. */
static int src_read(lvt_npy_stream *s, void *dst, size_t n, lvt_err *e) {
    size_t got = 0;
    while (got < n) {
        if (s->f) {
            size_t r = fread((char *)dst + got, 1, n - got, s->f);
            if (r == 0) {
                if (ferror(s->f)) return lvt_errf(e, "%s: read error", s->label);
                break;
            }
            got += r;
        } else {
            zip_int64_t r = zip_fread((zip_file_t *)s->zf, (char *)dst + got, n - got);
            if (r < 0)
                return lvt_errf(e, "%s: cannot read the zip member: %s", s->label,
                                zip_file_strerror((zip_file_t *)s->zf));
            if (r == 0) break;
            got += (size_t)r;
        }
    }
    if (got < n) return lvt_errf(e, "%s: truncated data (the array ends early)", s->label);
    return LVT_OK;
}

int lvt_npy_stream_header(lvt_npy_stream *s, lvt_err *e) {
    unsigned char pre[12];
    if (src_read(s, pre, 10, e)) return lvt_errf(e, "%s: truncated .npy header", s->label);
    if (memcmp(pre, "\x93NUMPY", 6)) return lvt_errf(e, "%s: not a .npy array (bad magic bytes)", s->label);
    size_t npre = 10, hlen;
    if (pre[6] == 2 || pre[6] == 3) {
        if (src_read(s, pre + 10, 2, e)) return lvt_errf(e, "%s: truncated .npy header", s->label);
        npre = 12;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    }
    if (hlen > (1u << 20)) return lvt_errf(e, "%s: implausible .npy header length %zu", s->label, hlen);
    unsigned char *hb = lvt_malloc(npre + hlen, e);
    if (!hb) return LVT_ERROR;
    memcpy(hb, pre, npre);
    int rc = src_read(s, hb + npre, hlen, e);
    if (rc) lvt_errf(e, "%s: truncated .npy header", s->label);
    else rc = lvt_npy_parse_header(hb, npre + hlen, s->label, &s->h, e);
    free(hb);
    return rc;
}

int lvt_npy_open(const char *path, lvt_npy_stream *s, lvt_err *e) {
    memset(s, 0, sizeof *s);
    const char *base = strrchr(path, '/');
    snprintf(s->label, sizeof s->label, "%s", base ? base + 1 : path);
    s->f = fopen(path, "rb");
    if (!s->f) return lvt_errf(e, "cannot open '%s': %s", path, strerror(errno));
    if (lvt_npy_stream_header(s, e)) goto fail;
    struct stat st;
    if (fstat(fileno(s->f), &st) == 0) {
        uint64_t need = (uint64_t)s->h.data_offset + (uint64_t)s->h.count * (uint64_t)s->h.itemsize;
        if ((uint64_t)st.st_size < need) {
            lvt_errf(e, "%s: truncated data: the header promises %" PRIu64 " bytes, the file has %" PRIu64,
                     s->label, need, (uint64_t)st.st_size);
            goto fail;
        }
    }
    return LVT_OK;
fail:
    lvt_npy_close(s);
    return LVT_ERROR;
}

/* After the last element of a zip member: read on to the member's end so that libzip verifies
 * its CRC-32 (a damaged stored member would otherwise pass unnoticed). */
static int finish(lvt_npy_stream *s, lvt_err *e) {
    if (!s->zf || s->done < s->h.count) return LVT_OK;
    char tail[256];
    for (;;) {
        zip_int64_t r = zip_fread((zip_file_t *)s->zf, tail, sizeof tail);
        if (r < 0)
            return lvt_errf(e, "%s: cannot read the zip member: %s", s->label,
                            zip_file_strerror((zip_file_t *)s->zf));
        if (r == 0) return LVT_OK;
    }
}

static int ensure_buf(lvt_npy_stream *s, size_t n, lvt_err *e) {
    if (s->cap >= n) return LVT_OK;
    free(s->buf);
    s->buf = lvt_malloc(n, e);
    s->cap = s->buf ? n : 0;
    return s->buf ? LVT_OK : LVT_ERROR;
}

#define READ_BLOCK 65536 /* elements converted per block */

int lvt_npy_read_f32(lvt_npy_stream *s, float *dst, int64_t n, lvt_err *e) {
    if (n < 0 || s->done + n > s->h.count)
        return lvt_errf(e, "%s: read past the end of the array", s->label);
    if (s->h.dtype == LVT_NPY_F4) {
        if (src_read(s, dst, (size_t)n * 4, e)) return LVT_ERROR;
        s->done += n;
        return finish(s, e);
    }
    if (s->h.dtype != LVT_NPY_F2 && s->h.dtype != LVT_NPY_F8)
        return lvt_errf(e, "%s has dtype '%s' but floating-point vectors are needed (<f4, <f2 or <f8)",
                        s->label, s->h.descr);
    if (ensure_buf(s, (size_t)READ_BLOCK * (size_t)s->h.itemsize, e)) return LVT_ERROR;
    for (int64_t i = 0; i < n; i += READ_BLOCK) {
        int64_t m = n - i < READ_BLOCK ? n - i : READ_BLOCK;
        if (src_read(s, s->buf, (size_t)m * (size_t)s->h.itemsize, e)) return LVT_ERROR;
        if (s->h.dtype == LVT_NPY_F2) {
            for (int64_t j = 0; j < m; j++) {
                uint16_t v;
                memcpy(&v, s->buf + 2 * j, 2);
                dst[i + j] = lvt_f16_to_f32(v);
            }
        } else {
            for (int64_t j = 0; j < m; j++) {
                double v;
                memcpy(&v, s->buf + 8 * j, 8);
                dst[i + j] = (float)v;
            }
        }
    }
    s->done += n;
    return finish(s, e);
}

int lvt_npy_read_i64(lvt_npy_stream *s, int64_t *dst, int64_t n, lvt_err *e) {
    if (n < 0 || s->done + n > s->h.count)
        return lvt_errf(e, "%s: read past the end of the array", s->label);
    if (s->h.dtype == LVT_NPY_I8) {
        if (src_read(s, dst, (size_t)n * 8, e)) return LVT_ERROR;
        s->done += n;
        return finish(s, e);
    }
    if (s->h.dtype != LVT_NPY_I4)
        return lvt_errf(e, "%s has dtype '%s' but integers are needed (<i8 or <i4)", s->label, s->h.descr);
    if (ensure_buf(s, (size_t)READ_BLOCK * 4, e)) return LVT_ERROR;
    for (int64_t i = 0; i < n; i += READ_BLOCK) {
        int64_t m = n - i < READ_BLOCK ? n - i : READ_BLOCK;
        if (src_read(s, s->buf, (size_t)m * 4, e)) return LVT_ERROR;
        for (int64_t j = 0; j < m; j++) {
            int32_t v;
            memcpy(&v, s->buf + 4 * j, 4);
            dst[i + j] = v;
        }
    }
    s->done += n;
    return finish(s, e);
}

void lvt_npy_close(lvt_npy_stream *s) {
    if (s->f) fclose(s->f);
    if (s->zf) zip_fclose((zip_file_t *)s->zf);
    free(s->buf);
    s->f = NULL;
    s->zf = NULL;
    s->buf = NULL;
    s->cap = 0;
}

/* ---- the float32 matrix writer -------------------------------------------------------------- */

int lvt_npy_create_f32(lvt_npy_writer *w, const char *path, int64_t rows, int cols, lvt_err *e) {
    memset(w, 0, sizeof *w);
    if (strlen(path) >= sizeof w->path) return lvt_errf(e, "%s: path too long", path);
    snprintf(w->path, sizeof w->path, "%s", path);
    w->rows = rows;
    w->cols = cols;
    lvt_atomic_tmp_path(path, w->tmp, sizeof w->tmp);
    w->f = fopen(w->tmp, "wb");
    if (!w->f) return lvt_errf(e, "%s: cannot create the temporary output %s: %s", path, w->tmp, strerror(errno));
    /* .npy v1.0: magic, version, header length, dict padded with spaces to a multiple of 64. */
    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld, %d), }",
                       (long long)rows, cols);
    int total = 10 + len + 1;
    int pad = (64 - total % 64) % 64;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    int hlen = len + pad + 1;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);
    fwrite(pre, 1, 10, w->f);
    fwrite(dict, 1, (size_t)len, w->f);
    for (int i = 0; i < pad; i++) fputc(' ', w->f);
    fputc('\n', w->f);
    return LVT_OK;
}

int lvt_npy_write_rows(lvt_npy_writer *w, const float *x, int64_t count, lvt_err *e) {
    size_t n = (size_t)count * (size_t)w->cols;
    if (w->done + count > w->rows) return lvt_errf(e, "%s: more than %lld rows written", w->path, (long long)w->rows);
    if (fwrite(x, sizeof(float), n, w->f) != n) return lvt_errf(e, "%s: writing the rows failed", w->path);
    w->done += count;
    return LVT_OK;
}

int lvt_npy_finish(lvt_npy_writer *w, int ok, lvt_err *e) {
    int bad = !ok || !w->f;
    if (w->f && fclose(w->f) != 0) bad = 1;
    w->f = NULL;
    if (ok && !bad && w->done != w->rows) {
        bad = 1;
        lvt_errf(e, "%s: %lld of %lld rows written", w->path, (long long)w->done, (long long)w->rows);
    } else if (ok && bad) {
        lvt_errf(e, "%s: writing the rows failed", w->path);
    }
    if (bad) {
        unlink(w->tmp);
        return LVT_ERROR;
    }
    return lvt_atomic_commit(w->tmp, w->path, e);
}
