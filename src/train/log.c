/* log.c — rank-0 console, progress bar, training.log and metrics.jsonl (see include/lvt/log.h). */
#include "lvt/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int lvt_log_open(lvt_log *g, const char *run_dir, int enabled, int append, lvt_err *e) {
    memset(g, 0, sizeof *g);
    g->enabled = enabled;
    if (!enabled) return LVT_OK;
    snprintf(g->run_dir, sizeof g->run_dir, "%s", run_dir);
    g->tty = isatty(fileno(stderr));
    char path[1200];
    snprintf(path, sizeof path, "%s/training.log", run_dir);
    g->human = fopen(path, append ? "a" : "w");
    if (!g->human) return lvt_errf(e, "%s: cannot open: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
    g->metrics = fopen(path, append ? "a" : "w");
    if (!g->metrics) {
        fclose(g->human);
        g->human = NULL;
        return lvt_errf(e, "%s: cannot open: %s", path, strerror(errno));
    }
    return LVT_OK;
}

void lvt_log_close(lvt_log *g) {
    if (!g->enabled) return;
    lvt_log_progress_end(g);
    if (g->human) fclose(g->human);
    if (g->metrics) fclose(g->metrics);
    g->human = g->metrics = NULL;
}

void lvt_log_progress_end(lvt_log *g) {
    if (g->enabled && g->bar_active) {
        fputc('\n', stderr);
        g->bar_active = 0;
    }
}

void lvt_log_info(lvt_log *g, const char *fmt, ...) {
    if (!g->enabled) return;
    lvt_log_progress_end(g);
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    printf("%s\n", line);
    fflush(stdout);
    if (g->human) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        char ts[32];
        strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(g->human, "%s %s\n", ts, line);
        fflush(g->human);
    }
}

void lvt_log_metrics(lvt_log *g, const char *json_object) {
    if (!g->enabled || !g->metrics) return;
    fprintf(g->metrics, "%s\n", json_object);
    fflush(g->metrics);
}

static void fmt_eta(double s, char *buf, size_t n) {
    if (s < 0 || s > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

void lvt_log_progress(lvt_log *g, int epoch, long step, long steps, double samples_per_s,
                      double loss, double eta_s, long every) {
    if (!g->enabled) return;
    char eta[32];
    fmt_eta(eta_s, eta, sizeof eta);
    if (g->tty) {
        double now = lvt_now();
        if (step != steps && now - g->t_last_line < 0.1) return;
        g->t_last_line = now;
        int width = 24, fill = steps > 0 ? (int)((double)width * step / steps) : 0;
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\repoch %d [%s] %ld/%ld  %.0f samples/s  loss %.5f  ETA %s   ", epoch, bar,
                step, steps, samples_per_s, loss, eta);
        fflush(stderr);
        g->bar_active = 1;
    } else if (every > 0 && (step % every == 0 || step == steps)) {
        printf("epoch %d step %ld/%ld  %.0f samples/s  loss %.5f  ETA %s\n", epoch, step, steps,
               samples_per_s, loss, eta);
        fflush(stdout);
    }
}

int lvt_write_file_atomic(const char *path, const char *text, lvt_err *e) {
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return lvt_errf(e, "%s: cannot create: %s", tmp, strerror(errno));
    size_t n = strlen(text), off = 0;
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            int er = errno;
            close(fd);
            unlink(tmp);
            return lvt_errf(e, "%s: write failed: %s", tmp, strerror(er));
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return lvt_errf(e, "%s: fsync/close failed: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return lvt_errf(e, "%s: rename failed: %s", path, strerror(errno));
    }
    return LVT_OK;
}
