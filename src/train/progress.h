/* progress.h — training progress: a one-line bar on a terminal and a JSON-lines log.
 *
 * The bar is drawn on stderr only when stderr is a terminal and the caller is not quiet;
 * it shows epoch, step, running loss, samples/s and the ETA of the whole run, and is
 * redrawn at most every 0.2 s. The log is written whether or not a terminal is attached:
 * one JSON object per line, flushed after every line so `tail -f` works and a killed run
 * keeps everything up to its last step. Line kinds (field "event"):
 *   {"event":"start", "command":..., "ntrain":..., "nval":..., "steps_per_epoch":..., ...}
 *   {"event":"step", "epoch":1, "step":10, "global_step":10, "loss":0.69, "lr":..., "grad_norm":...,
 *    "samples_per_s":..., "elapsed_s":...}                 (every log_every steps)
 *   {"event":"epoch", "epoch":1, "train_loss":..., "val_loss":..., "val_auc":..., "best":true, ...}
 *   {"event":"end", "best_epoch":..., "best_val_auc":..., "threshold":..., ...}
 * Timing fields make the log (unlike the checkpoint) differ between identical runs. */
#ifndef KRES_TRAIN_PROGRESS_H
#define KRES_TRAIN_PROGRESS_H

#include <stdio.h>

#include "common/json.h"

typedef struct {
    int enabled;          /* draw the bar (stderr is a tty and not quiet) */
    int drawn;            /* a partial line is on screen */
    long total_steps;     /* over the whole run (for the ETA) */
    double t_start, t_last_draw;
    char prefix[64];      /* e.g. "fold 3/10 " */
} Progress;

/* quiet: never draw. total_steps: steps of the whole run (0 = unknown, no ETA). */
void progress_init(Progress *p, long total_steps, int quiet);
void progress_set_prefix(Progress *p, const char *prefix);
/* Redraw (rate-limited) the bar after global step `done` (1-based) of epoch/epochs. */
void progress_step(Progress *p, int epoch, int epochs, long done, double loss, double samples_per_s);
/* Finish the bar's line (if one is drawn) so a normal message can follow. */
void progress_clear(Progress *p);
/* Print a full line (e.g. the per-epoch summary) to stderr unless quiet, above the bar. */
void progress_message(Progress *p, int quiet, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Format seconds as "1h02m", "3m05s" or "42s". */
void format_duration(double seconds, char *buf, size_t n);

/* JSON-lines log. A NULL path gives a log that writes nothing. */
typedef struct {
    FILE *fp;
    char *path;
} TrainLog;

/* Create/truncate the log file. Returns 0 or -1 (kres_fail naming the path). */
int trainlog_open(TrainLog *l, const char *path);
/* Write the object being built in w (must be a complete JSON object) as one line. */
int trainlog_write(TrainLog *l, const JsonWriter *w);
/* One log line in three calls: trainlog_event_begin(&w, "step") starts w as {"event":"step",
 * the caller adds its fields, trainlog_event_end(l, &w) closes, writes and frees w (0 or -1). */
void trainlog_event_begin(JsonWriter *w, const char *event);
int trainlog_event_end(TrainLog *l, JsonWriter *w);
void trainlog_close(TrainLog *l);

#endif
