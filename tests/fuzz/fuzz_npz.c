/* fuzz_npz.c — libFuzzer target: the NPZ reader on arbitrary bytes (a zip container of .npy
 * members): lvt_npz_open, the member list, every "*.npy" member opened (lvt_npz_member) and read
 * to its end (which makes libzip check its CRC), then `lvt convert` of the archive (articles or
 * sequences layout, recognised by member names). Every failure must leave a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "fuzz_util.h"
#include "lvt/convert.h"

#define FUZZ_MEMBERS 16   /* members read at most */

static void read_member(lvt_npz *z, const char *name) {
    lvt_npy_stream s;
    lvt_err e = {{0}};
    if (lvt_npz_member(z, name, &s, &e)) {
        if (!e.msg[0]) fuzz_fail("lvt_npz_member failed without a message", name);
        return;
    }
    fuzz_read_npy_stream(&s, name);
}

static void read_archive(const char *path) {
    lvt_npz z;
    lvt_err e = {{0}};
    if (lvt_npz_open(path, &z, &e)) {
        if (!e.msg[0]) fuzz_fail("lvt_npz_open failed without a message", NULL);
        return;
    }
    char list[1024];
    lvt_npz_members(&z, list, sizeof list);
    zip_int64_t m = zip_get_num_entries((zip_t *)z.za, 0);
    for (zip_int64_t i = 0; i < m && i < FUZZ_MEMBERS; i++) {
        const char *nm = zip_get_name((zip_t *)z.za, (zip_uint64_t)i, 0);
        size_t l = nm ? strlen(nm) : 0;
        if (l <= 4 || l > 200 || strcmp(nm + l - 4, ".npy")) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(l - 4), nm);
        if (!lvt_npz_has(&z, name)) fuzz_fail("a listed member is not found by name", name);
        read_member(&z, name);
    }
    lvt_npz_close(&z);
}

void fuzz_target(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_file("in.npz", data, size);
    read_archive(path);
    fuzz_convert(path);
}
