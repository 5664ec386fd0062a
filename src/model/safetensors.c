/* safetensors.c — export/import of the model's parameters in the safetensors format
 * (8-byte little-endian header length, JSON header, raw little-endian tensor data), with model
 * config inference from the tensor shapes and lvt's __metadata__. See docs/checkpoints.md. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lvt/safetensors.h"

#define ST_PATH_MAX 4096
#define ST_MAX_HEADER (100u << 20) /* the safetensors limit is 100 MB */
#define ST_MAX_DIM (1 << 24)        /* largest dim / d_model / ffn_mult accepted (as checkpoints) */

/* ---- export ------------------------------------------------------------------------------------ */

static void put_u64_le(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64_le(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

static int host_is_little_endian(void) {
    uint16_t x = 1;
    unsigned char c;
    memcpy(&c, &x, 1);
    return c == 1;
}

static void meta_int(cJSON *meta, const char *k, long v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", v);
    cJSON_AddStringToObject(meta, k, buf);
}

/* The JSON header text (malloc'd), padded with spaces so that 8 + length is a multiple of 8. */
static char *build_header(const lvt_model *m, size_t *len_out, lvt_err *e) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return lvt_errf(e, "out of memory (safetensors header)"), NULL;
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    cJSON_AddStringToObject(meta, "producer", "lvt " LVT_VERSION);
    cJSON_AddStringToObject(meta, "arch", "transformer");
    meta_int(meta, "dim", m->cfg.dim);
    meta_int(meta, "d_model", m->cfg.d_model);
    meta_int(meta, "n_heads", m->cfg.n_heads);
    meta_int(meta, "n_layers", m->cfg.n_layers);
    meta_int(meta, "ffn_mult", m->cfg.ffn_mult);
    meta_int(meta, "context_len", m->cfg.context_len);
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", (double)m->cfg.dropout);
    cJSON_AddStringToObject(meta, "dropout", buf);
    size_t off = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const lvt_tensor_info *t = &m->tensors[i];
        cJSON *o = cJSON_AddObjectToObject(root, t->name);
        cJSON_AddStringToObject(o, "dtype", "F32");
        cJSON *shape = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        cJSON *offs = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        off += t->numel * sizeof(float);
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) return lvt_errf(e, "out of memory (safetensors header)"), NULL;
    size_t n = strlen(text);
    size_t padded = n + (8 - (8 + n) % 8) % 8;
    char *out = lvt_malloc(padded + 1, e);
    if (out) {
        memcpy(out, text, n);
        memset(out + n, ' ', padded - n);
        out[padded] = 0;
        *len_out = padded;
    }
    free(text);
    return out;
}

int lvt_safetensors_save(const char *path, const lvt_model *m, lvt_err *e) {
    if (!host_is_little_endian()) return lvt_errf(e, "%s: safetensors export needs a little-endian host", path);
    size_t hlen = 0;
    char *header = build_header(m, &hlen, e);
    if (!header) return LVT_ERROR;
    float *host = lvt_malloc(m->n_params * sizeof(float), e);
    if (!host) {
        free(header);
        return LVT_ERROR;
    }
    m->be->ops->to_host(m->be, host, m->params, m->n_params * sizeof(float));
    char tmp[ST_PATH_MAX];
    lvt_atomic_tmp_path(path, tmp, sizeof tmp);
    int rc = LVT_ERROR;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        lvt_errf(e, "%s: cannot create the temporary file %s: %s", path, tmp, strerror(errno));
        goto done;
    }
    unsigned char len8[8];
    put_u64_le(len8, hlen);
    int bad = fwrite(len8, 1, 8, f) != 8 || fwrite(header, 1, hlen, f) != hlen;
    for (int i = 0; i < m->n_tensors && !bad; i++) {
        const lvt_tensor_info *t = &m->tensors[i];
        bad = fwrite(host + t->offset, sizeof(float), t->numel, f) != t->numel;
    }
    if (fclose(f) != 0) bad = 1;
    if (bad) {
        unlink(tmp);
        lvt_errf(e, "%s: writing failed (disk full or not writable?); any existing file is unchanged", path);
        goto done;
    }
    rc = lvt_atomic_commit(tmp, path, e);
done:
    free(host);
    free(header);
    return rc;
}

/* ---- import ------------------------------------------------------------------------------------ */

typedef struct st_file {
    const char *path;
    unsigned char *bytes; /* whole file */
    size_t size;
    size_t data_start;    /* 8 + header length */
    cJSON *header;
} st_file;

static void st_close(st_file *s) {
    free(s->bytes);
    cJSON_Delete(s->header);
    memset(s, 0, sizeof *s);
}

static int st_validate(const st_file *s, lvt_err *e);

static int st_open(st_file *s, const char *path, lvt_err *e) {
    memset(s, 0, sizeof *s);
    s->path = path;
    FILE *f = fopen(path, "rb");
    if (!f) return lvt_errf(e, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return lvt_errf(e, "%s: cannot seek", path);
    }
    long size = ftell(f);
    rewind(f);
    if (size < 8) {
        fclose(f);
        return lvt_errf(e, "%s: not a safetensors file (shorter than 8 bytes)", path);
    }
    s->size = (size_t)size;
    s->bytes = lvt_malloc(s->size, e);
    if (!s->bytes) {
        fclose(f);
        return LVT_ERROR;
    }
    size_t got = fread(s->bytes, 1, s->size, f);
    fclose(f);
    if (got != s->size) {
        st_close(s);
        return lvt_errf(e, "%s: read error", path);
    }
    uint64_t hlen = get_u64_le(s->bytes);
    if (hlen == 0 || hlen > ST_MAX_HEADER || hlen > s->size - 8) {
        st_close(s);
        return lvt_errf(e, "%s: not a safetensors file (header length %llu does not fit the file of %zu bytes; truncated?)",
                        path, (unsigned long long)hlen, (size_t)size);
    }
    s->data_start = 8 + (size_t)hlen;
    if (s->bytes[8] != '{') {
        st_close(s);
        return lvt_errf(e, "%s: not a safetensors file (the header is not a JSON object)", path);
    }
    for (size_t i = 8; i + 6 <= s->data_start; i++) /* a \u0000 would cut names and dtypes short */
        if (s->bytes[i] == '\\' && s->bytes[i + 1] == 'u' && !memcmp(s->bytes + i + 2, "0000", 4)) {
            st_close(s);
            return lvt_errf(e, "%s: the safetensors header holds a NUL character (\\u0000)", path);
        }
    s->header = cJSON_ParseWithLength((const char *)s->bytes + 8, (size_t)hlen);
    if (!s->header || !cJSON_IsObject(s->header)) {
        st_close(s);
        return lvt_errf(e, "%s: the safetensors header is not valid JSON", path);
    }
    if (st_validate(s, e)) {
        st_close(s);
        return LVT_ERROR;
    }
    return LVT_OK;
}

/* Validated view of one tensor entry. */
typedef struct st_tensor {
    int dtype;          /* 0 F32, 1 F16, 2 BF16 */
    int ndim;
    int64_t shape[8];
    size_t begin, end;  /* absolute file offsets */
} st_tensor;

/* A JSON number that is a whole number in [0, max]. */
static int is_count(const cJSON *v, double max) {
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= max && v->valuedouble == (double)(int64_t)v->valuedouble;
}

static int st_entry(const st_file *s, const cJSON *o, st_tensor *t, lvt_err *e) {
    const char *name = o->string;
    if (!cJSON_IsObject(o)) return lvt_errf(e, "%s: header entry '%s' is not an object", s->path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(o, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(o, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(o, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2)
        return lvt_errf(e, "%s: tensor '%s' needs dtype, shape and data_offsets[2]", s->path, name);
    size_t es;
    if (!strcmp(dt->valuestring, "F32")) t->dtype = 0, es = 4;
    else if (!strcmp(dt->valuestring, "F16")) t->dtype = 1, es = 2;
    else if (!strcmp(dt->valuestring, "BF16")) t->dtype = 2, es = 2;
    else return lvt_errf(e, "%s: tensor '%s' has dtype %s (supported: F32, F16, BF16)", s->path, name, dt->valuestring);
    t->ndim = cJSON_GetArraySize(sh);
    if (t->ndim > 8) return lvt_errf(e, "%s: tensor '%s' has rank %d", s->path, name, t->ndim);
    size_t numel = 1;
    for (int d = 0; d < t->ndim; d++) { /* each extent <= 1e12 and numel checked against the span below */
        const cJSON *v = cJSON_GetArrayItem(sh, d);
        if (!is_count(v, 1e12)) return lvt_errf(e, "%s: tensor '%s' has an invalid shape", s->path, name);
        t->shape[d] = (int64_t)v->valuedouble;
        if (t->shape[d] && numel > s->size / (size_t)t->shape[d]) /* more elements than the file has bytes */
            return lvt_errf(e, "%s: tensor '%s' has a shape larger than the file", s->path, name);
        numel *= (size_t)t->shape[d];
    }
    const cJSON *b = cJSON_GetArrayItem(of, 0), *en = cJSON_GetArrayItem(of, 1);
    if (!is_count(b, 1e15) || !is_count(en, 1e15) || en->valuedouble < b->valuedouble)
        return lvt_errf(e, "%s: tensor '%s' has invalid data_offsets (two whole numbers, begin <= end)", s->path, name);
    t->begin = s->data_start + (size_t)b->valuedouble;
    t->end = s->data_start + (size_t)en->valuedouble;
    if (t->end - t->begin != numel * es)
        return lvt_errf(e, "%s: tensor '%s': data_offsets span %zu bytes, shape needs %zu", s->path, name,
                        t->end - t->begin, numel * es);
    if (t->end > s->size)
        return lvt_errf(e, "%s: tensor '%s' lies past the end of the file (truncated?)", s->path, name);
    return LVT_OK;
}

typedef struct st_span {
    const char *name;
    size_t begin, end;
} st_span;

static int span_by_name(const void *a, const void *b) { return strcmp(((const st_span *)a)->name, ((const st_span *)b)->name); }
static int span_by_begin(const void *a, const void *b) {
    const st_span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Every entry valid, no name twice, no two tensors sharing bytes, __metadata__ a string map: after
 * this, what a reader allocates is bounded by the file's size. */
static int st_validate(const st_file *s, lvt_err *e) {
    int n = 0;
    for (const cJSON *o = s->header->child; o; o = o->next) n++;
    st_span *sp = lvt_malloc(sizeof *sp * (size_t)(n ? n : 1), e);
    if (!sp) return LVT_ERROR;
    int k = 0, rc = LVT_OK;
    for (const cJSON *o = s->header->child; o && rc == LVT_OK; o = o->next) {
        if (!strcmp(o->string, "__metadata__")) {
            for (const cJSON *m = o->child; m && rc == LVT_OK; m = m->next)
                if (!cJSON_IsString(m)) rc = lvt_errf(e, "%s: __metadata__ value '%s' is not a string", s->path, m->string);
            if (!cJSON_IsObject(o)) rc = lvt_errf(e, "%s: __metadata__ is not an object", s->path);
            continue;
        }
        st_tensor t;
        if ((rc = st_entry(s, o, &t, e))) break;
        sp[k++] = (st_span){o->string, t.begin, t.end};
    }
    qsort(sp, (size_t)k, sizeof *sp, span_by_name);
    for (int i = 1; i < k && rc == LVT_OK; i++)
        if (!strcmp(sp[i].name, sp[i - 1].name)) rc = lvt_errf(e, "%s: tensor '%s' appears twice in the header", s->path, sp[i].name);
    qsort(sp, (size_t)k, sizeof *sp, span_by_begin);
    for (int i = 1; i < k && rc == LVT_OK; i++)
        if (sp[i].begin < sp[i - 1].end && sp[i].end > sp[i].begin)
            rc = lvt_errf(e, "%s: tensors '%s' and '%s' overlap in the data", s->path, sp[i - 1].name, sp[i].name);
    free(sp);
    return rc;
}

static int meta_get_int(const cJSON *meta, const char *k, int *out) {
    const cJSON *v = meta ? cJSON_GetObjectItemCaseSensitive(meta, k) : NULL;
    if (!cJSON_IsString(v)) return 0;
    char *end;
    long x = strtol(v->valuestring, &end, 10);
    if (end == v->valuestring || *end || x <= 0 || x > (1 << 24)) return 0;
    *out = (int)x;
    return 1;
}

/* n_layers from the transformer_decoder.layers.<i>.* names: each index a plain decimal below the
 * number of header entries, and a tensor for every layer below the highest present. */
static int count_layers(const st_file *s, int *n_layers, lvt_err *e) {
    const char *prefix = "transformer_decoder.layers.";
    const size_t pl = strlen(prefix);
    long n_entries = 0, max_layer = -1;
    for (const cJSON *o = s->header->child; o; o = o->next) n_entries++;
    for (const cJSON *o = s->header->child; o; o = o->next) {
        if (strncmp(o->string, prefix, pl)) continue;
        const char *p = o->string + pl;
        long li = 0;
        int digits = 0;
        for (; *p >= '0' && *p <= '9' && li <= n_entries; p++, digits++) li = li * 10 + (*p - '0');
        if (!digits || *p != '.' || li > n_entries || (digits > 1 && o->string[pl] == '0'))
            return lvt_errf(e, "%s: tensor '%s' has no valid layer index (a decimal below %ld)", s->path, o->string,
                            n_entries);
        if (li > max_layer) max_layer = li;
    }
    if (max_layer < 0)
        return lvt_errf(e, "%s: no transformer_decoder.layers.* tensors (not an lvt transformer model?)", s->path);
    unsigned char *seen = calloc((size_t)max_layer + 1, 1);
    if (!seen) return lvt_errf(e, "out of memory");
    for (const cJSON *o = s->header->child; o; o = o->next)
        if (!strncmp(o->string, prefix, pl)) seen[atol(o->string + pl)] = 1;
    long missing = -1;
    for (long i = max_layer; i >= 0; i--)
        if (!seen[i]) missing = i;
    free(seen);
    if (missing >= 0)
        return lvt_errf(e, "%s: layer %ld has no tensor (%s%ld.*) although layer %ld is present", s->path, missing,
                        prefix, missing, max_layer);
    *n_layers = (int)max_layer + 1;
    return LVT_OK;
}

static int entry_shape(const st_file *s, const char *name, st_tensor *t, lvt_err *e) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(s->header, name);
    if (!o) return lvt_errf(e, "%s: tensor '%s' is missing (not an lvt transformer model?)", s->path, name);
    return st_entry(s, o, t, e);
}

int lvt_safetensors_read_cfg(const char *path, int context_len_default, lvt_model_cfg *cfg,
                             int *heads_from_meta, lvt_err *e) {
    st_file s;
    if (st_open(&s, path, e)) return LVT_ERROR;
    int rc = LVT_ERROR;
    memset(cfg, 0, sizeof *cfg);
    st_tensor t;
    if (entry_shape(&s, "input_proj.weight", &t, e)) goto done;
    if (t.ndim != 2) {
        lvt_errf(e, "%s: input_proj.weight must be 2-D [d_model, dim]", path);
        goto done;
    }
    if (t.shape[0] > ST_MAX_DIM || t.shape[1] > ST_MAX_DIM) {
        lvt_errf(e, "%s: input_proj.weight has shape [%lld, %lld]: larger than lvt's models (%d)", path,
                 (long long)t.shape[0], (long long)t.shape[1], ST_MAX_DIM);
        goto done;
    }
    cfg->d_model = (int)t.shape[0];
    cfg->dim = (int)t.shape[1];
    if (count_layers(&s, &cfg->n_layers, e)) goto done;
    if (entry_shape(&s, "transformer_decoder.layers.0.linear1.weight", &t, e)) goto done;
    if (t.ndim != 2 || cfg->d_model <= 0 || t.shape[0] % cfg->d_model || t.shape[0] / cfg->d_model > ST_MAX_DIM) {
        lvt_errf(e, "%s: linear1.weight has a shape that is not [ffn_mult * d_model, d_model]", path);
        goto done;
    }
    cfg->ffn_mult = (int)(t.shape[0] / cfg->d_model);
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(s.header, "__metadata__");
    int from_meta = meta_get_int(meta, "n_heads", &cfg->n_heads);
    if (!from_meta && meta && cJSON_GetObjectItemCaseSensitive(meta, "n_heads")) {
        lvt_errf(e, "%s: __metadata__ n_heads is not a positive whole number", path);
        goto done;
    }
    if (!from_meta) cfg->n_heads = 8;
    if (heads_from_meta) *heads_from_meta = from_meta;
    if (cfg->d_model % cfg->n_heads) {
        lvt_errf(e, "%s: d_model %d is not divisible by n_heads %d (%s)", path, cfg->d_model, cfg->n_heads,
                 from_meta ? "from __metadata__" : "the default; the file has no n_heads metadata");
        goto done;
    }
    if (!meta_get_int(meta, "context_len", &cfg->context_len)) cfg->context_len = context_len_default;
    cfg->dropout = 0.1f;
    const cJSON *dv = meta ? cJSON_GetObjectItemCaseSensitive(meta, "dropout") : NULL;
    if (cJSON_IsString(dv)) cfg->dropout = (float)atof(dv->valuestring);
    /* memory bounded by the file: the model needs at least 2 bytes (F16/BF16) per parameter (a
     * layer needs only one small tensor to be counted, found by fuzz_safetensors' limit) */
    size_t n_params = lvt_model_param_count(cfg);
    if (n_params > (s.size - s.data_start) / 2) {
        lvt_errf(e, "%s: the tensor shapes describe a model of %zu parameters, more than the file's %zu data "
                 "bytes can hold", path, n_params, s.size - s.data_start);
        goto done;
    }
    rc = LVT_OK;
done:
    st_close(&s);
    return rc;
}

/* PyTorch buffers (not parameters) that an equivalent module may carry in its state_dict: the
 * fixed sinusoidal positional-encoding table. Ignored on import. */
static int known_buffer(const char *name) {
    const char *last = strrchr(name, '.');
    last = last ? last + 1 : name;
    if (!strcmp(last, "pe") || !strcmp(last, "pos_encoding") || !strcmp(last, "positional_encoding"))
        return 1;
    return !strncmp(name, "pos_encoder.", 12) || !strncmp(name, "positional_encoding.", 20) ||
           !strncmp(name, "pos_encoding.", 13);
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) bits = sign | 0x7f800000u | (man << 13);          /* inf / nan */
    else if (exp != 0) bits = sign | ((exp + 112) << 23) | (man << 13); /* normal */
    else if (man == 0) bits = sign;                                     /* zero */
    else {                                                              /* subnormal */
        int shift = 0;
        while (!(man & 0x400)) {
            man <<= 1;
            shift++;
        }
        man &= 0x3ff;
        bits = sign | ((uint32_t)(113 - shift) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static float bf16_to_float(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

int lvt_safetensors_load(const char *path, lvt_model *m, lvt_err *e) {
    if (!host_is_little_endian()) return lvt_errf(e, "%s: safetensors import needs a little-endian host", path);
    st_file s;
    if (st_open(&s, path, e)) return LVT_ERROR;
    int rc = LVT_ERROR;
    float *host = lvt_malloc(m->n_params * sizeof(float), e);
    if (!host) goto done;
    /* Unknown names first: they mean another architecture or a naming mismatch. */
    for (const cJSON *o = s.header->child; o; o = o->next) {
        if (!strcmp(o->string, "__metadata__")) continue;
        if (!lvt_model_find(m, o->string) && !known_buffer(o->string)) {
            lvt_errf(e, "%s: unknown tensor '%s' (not a parameter of this model)", path, o->string);
            goto done;
        }
    }
    for (int i = 0; i < m->n_tensors; i++) {
        const lvt_tensor_info *ti = &m->tensors[i];
        st_tensor t;
        if (entry_shape(&s, ti->name, &t, e)) goto done;
        int ok = t.ndim == ti->ndim && t.shape[0] == ti->shape[0] && (ti->ndim < 2 || t.shape[1] == ti->shape[1]);
        if (!ok) {
            char got[96] = "[", want[64];
            for (int d = 0; d < t.ndim; d++) {
                size_t l = strlen(got);
                snprintf(got + l, sizeof got - l, d ? ", %lld" : "%lld", (long long)t.shape[d]);
            }
            strncat(got, "]", sizeof got - strlen(got) - 1);
            if (ti->ndim == 2)
                snprintf(want, sizeof want, "[%lld, %lld]", (long long)ti->shape[0], (long long)ti->shape[1]);
            else
                snprintf(want, sizeof want, "[%lld]", (long long)ti->shape[0]);
            lvt_errf(e, "%s: tensor '%s' has shape %s, the model expects %s", path, ti->name, got, want);
            goto done;
        }
        const unsigned char *src = s.bytes + t.begin;
        float *dst = host + ti->offset;
        if (t.dtype == 0) {
            memcpy(dst, src, ti->numel * sizeof(float));
        } else {
            for (size_t k = 0; k < ti->numel; k++) {
                uint16_t h = (uint16_t)(src[2 * k] | (src[2 * k + 1] << 8));
                dst[k] = t.dtype == 1 ? half_to_float(h) : bf16_to_float(h);
            }
        }
    }
    for (size_t k = 0; k < m->n_params; k++)
        if (!isfinite(host[k])) {
            const lvt_tensor_info *bad = NULL;
            for (int i = 0; i < m->n_tensors; i++)
                if (k >= m->tensors[i].offset && k < m->tensors[i].offset + m->tensors[i].numel) bad = &m->tensors[i];
            lvt_errf(e, "%s: tensor '%s' holds a non-finite value (NaN or Inf)", path, bad ? bad->name : "?");
            goto done;
        }
    m->be->ops->to_device(m->be, m->params, host, m->n_params * sizeof(float));
    rc = LVT_OK;
done:
    free(host);
    st_close(&s);
    return rc;
}
