/* log.h — run output on rank 0: the console (a progress bar on a TTY, periodic plain lines
 * otherwise), training.log (the human log), metrics.jsonl (one JSON object per log interval
 * and per epoch) and training_history.json (the reference schema, extended). Ranks other
 * than 0 hold a disabled logger: every call is a no-op. */
#ifndef LVT_LOG_H
#define LVT_LOG_H

#include <stdio.h>

#include "lvt/common.h"

typedef struct lvt_log {
    int enabled;      /* rank 0 */
    int tty;          /* stderr is a terminal: draw a progress bar */
    int bar_active;   /* a progress line is on screen */
    FILE *human;      /* training.log */
    FILE *metrics;    /* metrics.jsonl */
    double t_last_line;
    char run_dir[1024];
} lvt_log;

/* Open the run directory's logs (append when resuming). enabled = 0 for ranks != 0. */
int lvt_log_open(lvt_log *g, const char *run_dir, int enabled, int append, lvt_err *e);
void lvt_log_close(lvt_log *g);

/* A human line: console (stdout) and training.log, timestamped in the log file. */
void lvt_log_info(lvt_log *g, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* One metrics.jsonl record: a JSON object given as text (without newline). */
void lvt_log_metrics(lvt_log *g, const char *json_object);

/* Progress within an epoch: a bar on a TTY (redrawn at most 10×/s), a plain line every
 * `every` steps otherwise. */
void lvt_log_progress(lvt_log *g, int epoch, long step, long steps, double samples_per_s,
                      double loss, double eta_s, long every);
/* End the progress line (before printing other lines). */
void lvt_log_progress_end(lvt_log *g);

/* Write text atomically to run_dir/name (temp file + fsync + rename). */
int lvt_write_file_atomic(const char *path, const char *text, lvt_err *e);

#endif
