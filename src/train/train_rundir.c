/* train_rundir.c — the run directory's safety (docs/reliability.md, "Run directories"): the advisory
 * lock held for the whole run, the refusal of a directory that already holds a run (unless
 * resuming, or restarting with the old run moved aside into previous.N/), the clean-up of stale
 * temporary files of a killed writer, and the checkpoints a resume may start from, newest first.
 * Rank 0 acts on the directory; every rank lists the checkpoints. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train_priv.h"

/* What a run leaves at the top of its directory (moved aside by --restart). */
static const char *const RUN_FILES[] = {"ckpt", "metrics.jsonl", "training.log", "training_history.json",
                                        "config.json"};
#define N_RUN_FILES (sizeof RUN_FILES / sizeof RUN_FILES[0])

static int join(char *out, size_t n, const char *a, const char *b) {
    int k = snprintf(out, n, "%s/%s", a, b);
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

static int mkdir_p(const char *path, lvt_err *e) {
    char tmp[LVT_PATH_MAX + 16];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return lvt_errf(e, "%.64s...: path too long", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return lvt_errf(e, "%s: cannot create: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return lvt_errf(e, "%s: cannot create: %s", tmp, strerror(errno));
    return LVT_OK;
}

static int is_ckpt_name(const char *n) {
    size_t k = strlen(n);
    return n[0] != '.' && k > 3 && !strcmp(n + k - 3, ".h5");
}

static int is_tmp_name(const char *n) { return n[0] == '.' && strstr(n, ".tmp.") != NULL; }

/* A checkpoint *.h5 in ckpt/: the directory holds a run (a run killed during set-up, before its
 * first checkpoint, trained nothing and may be started again). */
static int holds_run(const trainer *t) {
    DIR *d = opendir(t->ckpt_dir);
    if (!d) return 0;
    int found = 0;
    for (struct dirent *de; !found && (de = readdir(d));) found = is_ckpt_name(de->d_name);
    closedir(d);
    return found;
}

/* --restart: the old run's files into run_dir/previous.N/ (the lock stays on run_dir). */
static int move_aside(trainer *t, lvt_err *e) {
    char dst[TRAIN_PATH_BUF], from[TRAIN_PATH_BUF], to[TRAIN_PATH_BUF + 32];
    struct stat st;
    for (int n = 1;; n++) {
        char leaf[32];
        snprintf(leaf, sizeof leaf, "previous.%d", n);
        if (join(dst, sizeof dst, t->run_dir, leaf)) return lvt_errf(e, "%s: path too long", t->run_dir);
        if (stat(dst, &st) != 0) break;
    }
    if (mkdir(dst, 0755) != 0) return lvt_errf(e, "%s: cannot create: %s", dst, strerror(errno));
    for (size_t i = 0; i < N_RUN_FILES; i++) {
        if (join(from, sizeof from, t->run_dir, RUN_FILES[i]) || access(from, F_OK) != 0) continue;
        snprintf(to, sizeof to, "%s/%s", dst, RUN_FILES[i]);
        if (rename(from, to) != 0) return lvt_errf(e, "%s: cannot move to %s: %s", from, to, strerror(errno));
    }
    snprintf(t->moved_aside, sizeof t->moved_aside, "%s", dst);
    return LVT_OK;
}

/* Temporary files a killed writer left (.NAME.tmp.PID) in run_dir and run_dir/ckpt. */
static void clean_tmp(trainer *t, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char p[TRAIN_PATH_BUF];
    for (struct dirent *de; (de = readdir(d));)
        if (is_tmp_name(de->d_name) && !join(p, sizeof p, dir, de->d_name) && unlink(p) == 0) t->tmp_removed++;
    closedir(d);
}

/* The lock on run_dir/.lock, held until teardown (flock: released by the kernel if killed). */
static int take_lock(trainer *t, lvt_err *e) {
    char p[TRAIN_PATH_BUF];
    if (join(p, sizeof p, t->run_dir, ".lock")) return lvt_errf(e, "%s: path too long", t->run_dir);
    t->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (t->lock_fd < 0) return lvt_errf(e, "%s: cannot open the run lock: %s", p, strerror(errno));
    if (flock(t->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        close(t->lock_fd);
        t->lock_fd = -1;
        if (err == EWOULDBLOCK)
            return lvt_errf(e, "%s is in use by another lvt train (it holds the lock %s)", t->run_dir, p);
        return lvt_errf(e, "%s: cannot lock: %s", p, strerror(err));
    }
    return LVT_OK;
}

int train_rundir_open(trainer *t, const lvt_train_opts *o, lvt_err *e) {
    struct stat st;
    char lock[TRAIN_PATH_BUF];
    if (join(lock, sizeof lock, t->run_dir, ".lock")) return lvt_errf(e, "%s: path too long", t->run_dir);
    if (o->resume) { /* never create anything for a run that is not there */
        if (stat(t->run_dir, &st) != 0 || !S_ISDIR(st.st_mode))
            return lvt_errf(e, "--resume %s: no such run directory (no checkpoint at %s)", t->run_dir, t->ckpt_dir);
        if (access(lock, F_OK) != 0)
            return lvt_errf(e, "--resume %s: not a run directory of lvt train (no checkpoint at %s)", t->run_dir,
                            t->ckpt_dir);
    } else if (mkdir_p(t->run_dir, e)) {
        return LVT_ERROR;
    }
    if (take_lock(t, e)) return LVT_ERROR;
    if (!o->resume && holds_run(t)) {
        if (!o->restart)
            return lvt_errf(e, "%s already holds a run: continue it with --resume %s, or start over with --restart "
                               "(moves the old run into %s/previous.N/)", t->run_dir, t->run_dir, t->run_dir);
        if (move_aside(t, e)) return LVT_ERROR;
    }
    if (mkdir_p(t->ckpt_dir, e)) return LVT_ERROR;
    clean_tmp(t, t->run_dir);
    clean_tmp(t, t->ckpt_dir);
    return LVT_OK;
}

void train_rundir_close(trainer *t) {
    if (t->lock_fd >= 0) close(t->lock_fd);
    t->lock_fd = -1;
}

typedef struct cand {
    char name[256];
    struct timespec mtime;
} cand;

/* Newest first; at equal times last.h5 first (it is written after epoch_NNN.h5 of the same state). */
static int cand_cmp(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    if (a->mtime.tv_sec != b->mtime.tv_sec) return a->mtime.tv_sec > b->mtime.tv_sec ? -1 : 1;
    if (a->mtime.tv_nsec != b->mtime.tv_nsec) return a->mtime.tv_nsec > b->mtime.tv_nsec ? -1 : 1;
    int la = !strcmp(a->name, "last.h5"), lb = !strcmp(b->name, "last.h5");
    if (la != lb) return la ? -1 : 1;
    return strcmp(a->name, b->name);
}

int train_resume_candidates(const trainer *t, char (**names)[256], int *n, lvt_err *e) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(t->ckpt_dir);
    if (!d) return LVT_OK;
    cand *c = NULL;
    int k = 0, cap = 0;
    char p[TRAIN_PATH_BUF];
    struct stat st;
    for (struct dirent *de; (de = readdir(d));) {
        /* best.h5 repeats the state of the epoch_NNN.h5 and last.h5 written just before it */
        if (!is_ckpt_name(de->d_name) || !strcmp(de->d_name, "best.h5") || strlen(de->d_name) >= 256) continue;
        if (join(p, sizeof p, t->ckpt_dir, de->d_name) || stat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (k == cap) {
            cap = cap ? 2 * cap : 16;
            cand *g = realloc(c, sizeof *c * (size_t)cap);
            if (!g) {
                free(c);
                closedir(d);
                return lvt_errf(e, "out of memory");
            }
            c = g;
        }
        snprintf(c[k].name, sizeof c[k].name, "%s", de->d_name);
        c[k++].mtime = st.st_mtim;
    }
    closedir(d);
    if (k == 0) {
        free(c);
        return LVT_OK;
    }
    qsort(c, (size_t)k, sizeof *c, cand_cmp);
    *names = malloc(sizeof **names * (size_t)k);
    if (!*names) {
        free(c);
        return lvt_errf(e, "out of memory");
    }
    for (int i = 0; i < k; i++) memcpy((*names)[i], c[i].name, 256);
    free(c);
    *n = k;
    return LVT_OK;
}
