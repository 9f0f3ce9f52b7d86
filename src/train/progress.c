/* progress.c — see progress.h. */
#include "train/progress.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

void progress_init(Progress *p, long total_steps, int quiet) {
    memset(p, 0, sizeof *p);
    p->enabled = !quiet && isatty(fileno(stderr));
    p->total_steps = total_steps;
    p->t_start = now_seconds();
    p->t_last_draw = -1.0;
}

void progress_set_prefix(Progress *p, const char *prefix) {
    snprintf(p->prefix, sizeof p->prefix, "%s", prefix ? prefix : "");
}

void format_duration(double s, char *buf, size_t n) {
    if (!(s >= 0)) s = 0; /* NaN or negative: nothing sensible to show */
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
    else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%lds", t);
}

void progress_step(Progress *p, int epoch, int epochs, long done, double loss, double samples_per_s) {
    if (!p->enabled) return;
    double now = now_seconds();
    int last = p->total_steps > 0 && done >= p->total_steps;
    /* Redrawing every step would cost more than a tiny model's step; 5 Hz is plenty. */
    if (!last && p->t_last_draw >= 0 && now - p->t_last_draw < 0.2) return;
    p->t_last_draw = now;
    char bar[26], eta[32] = "?";
    int width = 24, fill = 0;
    if (p->total_steps > 0) {
        fill = (int)((double)done * width / (double)p->total_steps);
        if (fill > width) fill = width;
        double el = now - p->t_start;
        format_duration(done > 0 ? el * (double)(p->total_steps - done) / (double)done : 0, eta, sizeof eta);
    }
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r%sepoch %d/%d [%s] step %ld/%ld loss %.4f %.1f ECG/s ETA %s   ", p->prefix, epoch,
            epochs, bar, done, p->total_steps, loss, samples_per_s, eta);
    fflush(stderr);
    p->drawn = 1;
}

void progress_clear(Progress *p) {
    if (p->drawn) {
        /* Overwrite the bar with blanks so the next line starts clean. */
        fprintf(stderr, "\r%*s\r", 110, "");
        fflush(stderr);
        p->drawn = 0;
    }
}

void progress_message(Progress *p, int quiet, const char *fmt, ...) {
    if (quiet) return;
    progress_clear(p);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

int trainlog_open(TrainLog *l, const char *path) {
    memset(l, 0, sizeof *l);
    if (!path) return 0;
    l->fp = fopen(path, "w");
    if (!l->fp) return kres_fail(path, "cannot create the training log: %s", strerror(errno));
    l->path = xstrdup(path);
    return 0;
}

int trainlog_write(TrainLog *l, const JsonWriter *w) {
    if (!l->fp) return 0;
    if (fwrite(w->buf, 1, w->len, l->fp) != w->len || fputc('\n', l->fp) == EOF || fflush(l->fp) != 0)
        return kres_fail(l->path, "cannot write the training log: %s", strerror(errno));
    return 0;
}

void trainlog_event_begin(JsonWriter *w, const char *event) {
    jw_init(w);
    jw_object_begin(w);
    jw_key(w, "event"), jw_string(w, event);
}

int trainlog_event_end(TrainLog *l, JsonWriter *w) {
    /* w is freed on both paths so a caller's error branch has nothing left to release. */
    jw_object_end(w);
    int rc = trainlog_write(l, w);
    jw_free(w);
    return rc;
}

void trainlog_close(TrainLog *l) {
    if (l->fp) fclose(l->fp);
    free(l->path);
    memset(l, 0, sizeof *l);
}
