/* npz.c — NumPy .npz archives through libzip: open the zip (telling "not a zip" from "truncated
 * or damaged zip"), list and locate NAME.npy members (stored or deflated), and open a member as
 * an lvt_npy_stream (npy.c parses its header and converts its elements). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <zip.h>

#include "lvt/convert.h"

int lvt_npz_open(const char *path, lvt_npz *z, lvt_err *e) {
    memset(z, 0, sizeof *z);
    snprintf(z->path, sizeof z->path, "%s", path);
    const char *slash = strrchr(z->path, '/');
    z->base = slash ? slash + 1 : z->path;

    FILE *f = fopen(path, "rb");
    if (!f) return lvt_errf(e, "cannot open '%s': %s", path, strerror(errno));
    unsigned char magic[4] = {0};
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    if (got < 4 || memcmp(magic, "PK", 2))
        return lvt_errf(e, "%s: not an NPZ file (not a zip archive)", z->base);

    int code = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &code);
    if (!za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, code);
        lvt_errf(e, "%s: truncated or damaged zip archive (%s)", z->base,
                 code == ZIP_ER_NOZIP ? "no end-of-central-directory record: the file ends early"
                                      : zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return LVT_ERROR;
    }
    z->za = za;
    return LVT_OK;
}

static int64_t locate(const lvt_npz *z, const char *name) {
    char full[300];
    snprintf(full, sizeof full, "%s.npy", name);
    return zip_name_locate((zip_t *)z->za, full, 0);
}

int lvt_npz_has(const lvt_npz *z, const char *name) { return locate(z, name) >= 0; }

void lvt_npz_members(const lvt_npz *z, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    zip_int64_t m = zip_get_num_entries((zip_t *)z->za, 0);
    for (zip_int64_t i = 0; i < m && n + 1 < cap; i++) {
        const char *nm = zip_get_name((zip_t *)z->za, (zip_uint64_t)i, 0);
        if (!nm) continue;
        size_t l = strlen(nm);
        if (l > 4 && !strcmp(nm + l - 4, ".npy")) l -= 4;
        int w = snprintf(buf + n, cap - n, "%s%.*s", n ? ", " : "", (int)l, nm);
        if (w < 0) break;
        n += (size_t)w;
    }
    if (n >= cap) n = cap - 1;
    buf[n] = 0;
}

int lvt_npz_member(lvt_npz *z, const char *name, lvt_npy_stream *s, lvt_err *e) {
    memset(s, 0, sizeof *s);
    snprintf(s->label, sizeof s->label, "%s: member '%s'", z->base, name);
    int64_t idx = locate(z, name);
    if (idx < 0) return lvt_errf(e, "%s: no member '%s'", z->base, name);
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index((zip_t *)z->za, (zip_uint64_t)idx, 0, &st))
        return lvt_errf(e, "%s: cannot stat the zip member: %s", s->label,
                        zip_strerror((zip_t *)z->za));
    s->zf = zip_fopen_index((zip_t *)z->za, (zip_uint64_t)idx, 0);
    if (!s->zf)
        return lvt_errf(e, "%s: cannot open the zip member: %s", s->label, zip_strerror((zip_t *)z->za));
    if (lvt_npy_stream_header(s, e)) goto fail;
    if (st.valid & ZIP_STAT_SIZE) {
        uint64_t need = (uint64_t)s->h.data_offset + (uint64_t)s->h.count * (uint64_t)s->h.itemsize;
        if (st.size < need) {
            lvt_errf(e, "%s: truncated data: the header promises %" PRIu64 " bytes, the member has %" PRIu64,
                     s->label, need, (uint64_t)st.size);
            goto fail;
        }
    }
    return LVT_OK;
fail:
    lvt_npy_close(s);
    return LVT_ERROR;
}

void lvt_npz_close(lvt_npz *z) {
    if (z->za) zip_discard((zip_t *)z->za);
    z->za = NULL;
}
