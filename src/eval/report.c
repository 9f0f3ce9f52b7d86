/* report.c — see report.h. The page is built in a growable string buffer: HTML skeleton
 * with inline CSS, a results table, and two hand-drawn inline SVG plots. Every piece of
 * caller text goes through sb_esc(). Colours are the Okabe-Ito colour-blind-safe palette,
 * and each pipeline also gets its own dash pattern and marker shape, so the plots still
 * read in greyscale. A pipeline keeps the same colour in every plot (looked up by label). */
#include "eval/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* ---- string buffer ------------------------------------------------------------------ */

typedef struct {
    char *s;
    size_t len, cap;
} Sb;

static void sb_reserve(Sb *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    b->s = xrealloc(b->s, cap);
    b->cap = cap;
}

static void sb_puts(Sb *b, const char *t) {
    size_t n = strlen(t);
    sb_reserve(b, n);
    memcpy(b->s + b->len, t, n + 1);
    b->len += n;
}

static void sb_printf(Sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(Sb *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    KRES_ASSERT(n >= 0);
    sb_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* HTML-escape t (NULL = nothing); safe in element content and in quoted attributes. */
static void sb_esc(Sb *b, const char *t) {
    if (!t) return;
    for (; *t; t++) {
        switch (*t) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        case '\'': sb_puts(b, "&#39;"); break;
        default:
            sb_reserve(b, 1);
            b->s[b->len++] = *t;
            b->s[b->len] = '\0';
        }
    }
}

/* ---- styling ------------------------------------------------------------------------ */

/* Okabe & Ito (2008) palette, darkest-first order that stays distinct for deuteranopes. */
static const char *const PALETTE[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                      "#E69F00", "#56B4E9", "#000000", "#F0E442"};
static const char *const DASHES[] = {"", "7 4", "2 3", "10 3 2 3"};
#define NPAL ((int)(sizeof PALETTE / sizeof PALETTE[0]))
#define NDASH ((int)(sizeof DASHES / sizeof DASHES[0]))

static const char *CSS =
    ":root{--ink:#1d2330;--muted:#5b6475;--rule:#d7dbe3;--bg:#ffffff;--band:#f4f6f9}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"
    "'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}\n"
    "main{max-width:1120px;margin:0 auto;padding:28px 28px 40px}\n"
    "h1{font-size:26px;margin:0 0 4px;letter-spacing:-.01em}\n"
    "h2{font-size:18px;margin:28px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--rule)}\n"
    ".subtitle{color:var(--muted);margin:0 0 14px;font-size:16px}\n"
    ".notes{background:var(--band);border-left:4px solid #0072B2;padding:8px 16px;border-radius:4px}\n"
    ".notes p{margin:8px 0}\n"
    ".table-wrap{overflow-x:auto}\n"
    "table{border-collapse:collapse;width:100%;font-size:14px;font-variant-numeric:tabular-nums}\n"
    "th,td{padding:5px 9px;text-align:right;border-bottom:1px solid var(--rule);white-space:nowrap}\n"
    "th{background:var(--band);font-weight:600;border-bottom:2px solid #aeb5c2}\n"
    "th:first-child,td:first-child{text-align:left;white-space:normal}\n"
    "tr.group-start td{border-top:2px solid #aeb5c2}\n"
    ".swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:7px}\n"
    ".na{color:var(--muted)}\n"
    ".figs{display:flex;flex-wrap:wrap;gap:24px;margin-top:8px}\n"
    "figure{margin:0;flex:1 1 440px;min-width:0}\n"
    "figure svg{width:100%;height:auto;display:block}\n"
    "figcaption,caption{color:var(--muted);font-size:13px;margin-top:4px}\n"
    "caption{caption-side:bottom;text-align:left}\n"
    "footer{color:var(--muted);font-size:12px;margin-top:32px;border-top:1px solid var(--rule);"
    "padding-top:8px}\n"
    "svg text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;fill:#1d2330}\n"
    "@media print{main{max-width:none;padding:0}.figs{break-inside:avoid}}\n";

/* Pipeline labels in order of first appearance (series, then ROC curves, then rows),
 * so one pipeline has one colour everywhere. */
typedef struct {
    const char *name[64];
    int n;
} Styles;

static int style_of(Styles *st, const char *label) {
    const char *l = label ? label : "";
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->name[i], l) == 0) return i;
    if (st->n < 64) st->name[st->n++] = l;
    return st->n - 1;
}

/* marker shape k centred at (x, y), radius r */
static void svg_marker(Sb *b, int k, double x, double y, double r, const char *colour) {
    switch (k % 4) {
    case 0: sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"/>", x, y, r, colour); break;
    case 1:
        sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>", x - r * 0.9,
                  y - r * 0.9, 1.8 * r, 1.8 * r, colour);
        break;
    case 2:
        sb_printf(b, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" fill=\"%s\"/>", x, y - 1.2 * r, x + 1.1 * r,
                  y + 0.8 * r, x - 1.1 * r, y + 0.8 * r, colour);
        break;
    default:
        sb_printf(b, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" fill=\"%s\"/>", x, y - 1.3 * r,
                  x + 1.3 * r, y, x, y + 1.3 * r, x - 1.3 * r, y, colour);
    }
}

static void svg_dash_attr(Sb *b, int k) {
    if (DASHES[k % NDASH][0]) sb_printf(b, " stroke-dasharray=\"%s\"", DASHES[k % NDASH]);
}

static const char *fmt_num(char *buf, size_t n, double x, int digits) {
    if (!isfinite(x)) snprintf(buf, n, "n/a");
    else snprintf(buf, n, "%.*f", digits, x);
    return buf;
}

/* label fraction as a percentage: 0.01 -> "1%", 0.125 -> "12.5%" */
static const char *fmt_pct(char *buf, size_t n, double f) {
    if (!isfinite(f)) snprintf(buf, n, "n/a");
    else snprintf(buf, n, "%.3g%%", 100.0 * f);
    return buf;
}

/* Plot geometry: data rectangle inside the SVG viewBox. */
typedef struct {
    double x0, x1, y0, y1; /* data domain */
    double px, py, pw, ph; /* pixel box: left, top, width, height */
    int logx;
} Frame;

static double fx(const Frame *f, double x) {
    double t = f->logx ? (log10(x) - log10(f->x0)) / (log10(f->x1) - log10(f->x0)) : (x - f->x0) / (f->x1 - f->x0);
    return f->px + t * f->pw;
}
static double fy(const Frame *f, double y) { return f->py + f->ph - (y - f->y0) / (f->y1 - f->y0) * f->ph; }

/* Gridlines, tick labels, frame, axis titles. xt/yt are tick positions in data units;
 * x ticks are printed as percentages when pct_x. */
static void svg_axes(Sb *b, const Frame *f, const double *xt, int nxt, const double *yt, int nyt, int pct_x,
                     int ydigits, const char *xlabel, const char *ylabel) {
    char buf[32];
    sb_puts(b, "<g stroke=\"#e3e6ec\" stroke-width=\"1\">");
    for (int i = 0; i < nxt; i++)
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", fx(f, xt[i]), f->py, fx(f, xt[i]),
                  f->py + f->ph);
    for (int i = 0; i < nyt; i++)
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", f->px, fy(f, yt[i]), f->px + f->pw,
                  fy(f, yt[i]));
    sb_puts(b, "</g>");
    sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#8a93a3\"/>",
              f->px, f->py, f->pw, f->ph);
    sb_puts(b, "<g font-size=\"12\" fill=\"#1d2330\">");
    for (int i = 0; i < nxt; i++) {
        if (pct_x) fmt_pct(buf, sizeof buf, xt[i]);
        else snprintf(buf, sizeof buf, "%.1f", xt[i]);
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#8a93a3\"/>", fx(f, xt[i]),
                  f->py + f->ph, fx(f, xt[i]), f->py + f->ph + 5);
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", fx(f, xt[i]),
                  f->py + f->ph + 19, buf);
    }
    for (int i = 0; i < nyt; i++) {
        snprintf(buf, sizeof buf, "%.*f", ydigits, yt[i]);
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#8a93a3\"/>", f->px - 5,
                  fy(f, yt[i]), f->px, fy(f, yt[i]));
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", f->px - 8, fy(f, yt[i]) + 4, buf);
    }
    sb_puts(b, "</g><g font-size=\"13\" font-weight=\"600\">");
    sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", f->px + f->pw / 2, f->py + f->ph + 40);
    sb_esc(b, xlabel);
    sb_printf(b, "</text><text transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\">",
              f->px - 46, f->py + f->ph / 2);
    sb_esc(b, ylabel);
    sb_puts(b, "</text></g>");
}

/* ---- ROC plot ----------------------------------------------------------------------- */

/* Rough width in px of 12 px text: generous, so boxes are never too small. */
static double text_w12(const char *t) { return 6.6 * (double)(t ? strlen(t) : 0); }

/* ROC legend entry text: "label — AUC 0.912 (0.881–0.938)" */
static void roc_legend_text(char *buf, size_t n, const ReportRoc *r) {
    char a[32], lo[32], hi[32];
    if (isfinite(r->auc_lo) && isfinite(r->auc_hi))
        snprintf(buf, n, " \xE2\x80\x94 AUC %s (%s\xE2\x80\x93%s)", fmt_num(a, sizeof a, r->auc, 3),
                 fmt_num(lo, sizeof lo, r->auc_lo, 3), fmt_num(hi, sizeof hi, r->auc_hi, 3));
    else
        snprintf(buf, n, " \xE2\x80\x94 AUC %s", fmt_num(a, sizeof a, r->auc, 3));
}

static void svg_roc(Sb *b, const ReportData *d, Styles *st) {
    Frame f = {0, 1, 0, 1, 62, 14, 400, 370, 0};
    static const double ticks[] = {0, 0.2, 0.4, 0.6, 0.8, 1.0};
    /* legend: inside the bottom-right corner (empty under a useful ROC curve) when it fits,
     * otherwise stacked under the plot */
    const double lh = 20;
    double lw = 0;
    char tail[128];
    for (int c = 0; c < d->n_rocs; c++) {
        roc_legend_text(tail, sizeof tail, &d->rocs[c]);
        /* the em and en dashes are 3 bytes each but one glyph: subtract 4 characters */
        lw = fmax(lw, 56 + text_w12(d->rocs[c].label) + text_w12(tail) - 4 * 6.6);
    }
    int inside = lw <= f.pw - 16 && lh * d->n_rocs + 10 <= f.ph / 2;
    const double W = 480, H = 450 + (inside ? 0 : lh * d->n_rocs + 6);
    double lx = inside ? f.px + f.pw - lw - 8 : f.px - 50;
    double ly = inside ? f.py + f.ph - 10 - lh * d->n_rocs - 8 : 450 - 4;
    sb_printf(b, "<svg class=\"roc\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
                 "aria-labelledby=\"roc-title\"><title id=\"roc-title\">ROC curves</title>",
              W, H);
    svg_axes(b, &f, ticks, 6, ticks, 6, 0, 1, "False positive rate (1 \xE2\x88\x92 specificity)",
             "True positive rate (sensitivity)");
    /* chance diagonal */
    sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9aa1ad\" stroke-dasharray=\"4 4\"/>",
              fx(&f, 0), fy(&f, 0), fx(&f, 1), fy(&f, 1));
    for (int c = 0; c < d->n_rocs; c++) {
        const ReportRoc *r = &d->rocs[c];
        int k = style_of(st, r->label);
        sb_printf(b, "<polyline class=\"curve\" data-label=\"");
        sb_esc(b, r->label);
        sb_printf(b, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\" stroke-linejoin=\"round\"", PALETTE[k % NPAL]);
        svg_dash_attr(b, k);
        sb_puts(b, " points=\"");
        for (int i = 0; i < r->n; i++) {
            double x = r->fpr[i], y = r->tpr[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            x = fmin(1, fmax(0, x)), y = fmin(1, fmax(0, y));
            sb_printf(b, "%.2f,%.2f ", fx(&f, x), fy(&f, y));
        }
        sb_puts(b, "\"/>");
    }
    if (d->n_rocs > 0) {
        sb_puts(b, "<g class=\"legend\" font-size=\"12\">");
        if (inside)
            sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#ffffff\" "
                         "fill-opacity=\"0.92\" stroke=\"#d7dbe3\" rx=\"4\"/>",
                      lx, ly, lw, lh * d->n_rocs + 10);
        for (int c = 0; c < d->n_rocs; c++) {
            const ReportRoc *r = &d->rocs[c];
            int k = style_of(st, r->label);
            double y = ly + 16 + lh * c;
            sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.4\"",
                      lx + 10, y - 4, lx + 36, y - 4, PALETTE[k % NPAL]);
            svg_dash_attr(b, k);
            sb_printf(b, "/><text x=\"%.1f\" y=\"%.1f\">", lx + 44, y);
            sb_esc(b, r->label);
            roc_legend_text(tail, sizeof tail, r);
            sb_puts(b, tail);
            sb_puts(b, "</text>");
        }
        sb_puts(b, "</g>");
    }
    sb_puts(b, "</svg>");
}

/* ---- label-efficiency plot ---------------------------------------------------------- */

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ticks every `step` covering [lo, hi] after rounding the range outwards */
static int nice_ticks(double *lo, double *hi, double *t, int maxt) {
    static const double steps[] = {0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5};
    double step = 0.5;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if ((*hi - *lo) / steps[i] <= maxt - 1) {
            step = steps[i];
            break;
        }
    *lo = floor(*lo / step + 1e-9) * step;
    *hi = ceil(*hi / step - 1e-9) * step;
    int n = 0;
    for (double v = *lo; v <= *hi + 1e-9 && n < maxt + 2; v += step) t[n++] = round(v / step) * step;
    return n;
}

/* Everything the label-efficiency plot's drawing depends on, worked out before the first
 * byte: the SVG height needs the legend's row count, the frame needs the data ranges. */
typedef struct {
    Frame f;
    double W, H;            /* viewBox size */
    double leg_x0, leg_y0;  /* first legend entry */
    double xt[64], yt[16];  /* tick positions in data units */
    int nxt, nyt;
} EffLayout;

/* Legend entry s (label) placed after the previous one ended at *lx on row *ly: an entry
 * that would run off the right edge starts a new row. Returns its width. The one rule both
 * eff_legend_rows (the SVG height) and eff_legend (the drawing) follow, so the rows counted
 * are the rows drawn (a separate count on whole pixels once came out a row short, and the
 * last row was cut off). */
static double eff_legend_place(const char *label, int s, double W, double leg_x0, double *lx, double *ly) {
    double w = 32 + text_w12(label) + 22;
    if (s > 0 && *lx + w > W - 4) *lx = leg_x0, *ly += 18;
    return w;
}

/* Rows the legend wraps into. */
static int eff_legend_rows(const ReportData *d, double W, double leg_x0) {
    double lx = leg_x0, ly = 0;
    for (int s = 0; s < d->n_series; s++) {
        double w = eff_legend_place(d->series[s].label, s, W, leg_x0, &lx, &ly);
        lx += w;
    }
    return d->n_series > 0 ? 1 + (int)(ly / 18) : 0;
}

/* Data ranges over every finite value (x only where positive: the axis may be log), and
 * the distinct label fractions, which become the log axis's ticks when there are few. */
static void eff_data_ranges(const ReportData *d, double *xmin, double *xmax, double *ymin, double *ymax,
                            double fracs[64], int *nfr) {
    *xmin = INFINITY, *xmax = -INFINITY, *ymin = INFINITY, *ymax = -INFINITY;
    *nfr = 0;
    for (int s = 0; s < d->n_series; s++) {
        const ReportSeries *r = &d->series[s];
        for (int i = 0; i < r->n; i++) {
            double x = r->fraction[i];
            if (!isfinite(x) || x <= 0) continue;
            *xmin = fmin(*xmin, x), *xmax = fmax(*xmax, x);
            int seen = 0;
            for (int j = 0; j < *nfr; j++) seen |= fabs(fracs[j] - x) < 1e-12;
            if (!seen && *nfr < 64) fracs[(*nfr)++] = x;
            const double v[3] = {r->auc_mean[i], r->auc_lo ? r->auc_lo[i] : NAN, r->auc_hi ? r->auc_hi[i] : NAN};
            for (int k = 0; k < 3; k++)
                if (isfinite(v[k])) *ymin = fmin(*ymin, v[k]), *ymax = fmax(*ymax, v[k]);
        }
    }
}

/* AUC axis: f->y0..y1 and its ticks (returned count) from the data's AUC range. */
static int eff_y_scale(Frame *f, double ymin, double ymax, double yt[16]) {
    if (!isfinite(ymin)) ymin = 0.5, ymax = 1;
    if (ymax - ymin < 0.1) { /* at least 0.1 of AUC visible, centred on the data */
        double c = (ymin + ymax) / 2;
        ymin = c - 0.05, ymax = c + 0.05;
    }
    ymin = fmax(0, ymin - 0.02), ymax = fmin(1, ymax + 0.02);
    int nyt = nice_ticks(&ymin, &ymax, yt, 8);
    f->y0 = ymin, f->y1 = ymax;
    return nyt;
}

/* Label-fraction axis: f->x0..x1 and its ticks (returned count). On a log axis the ticks
 * are the fractions themselves when they fit, else the 1-2-5 series; linear is 0..1. */
static int eff_x_scale(Frame *f, double xmin, double xmax, double fracs[64], int nfr, double xt[64]) {
    int nxt = 0;
    if (!isfinite(xmin)) xmin = 0.01, xmax = 1;
    if (f->logx) {
        /* half a step of margin on the log axis so end points are not on the frame */
        double lo = log10(xmin), hi = log10(xmax), pad = fmax(0.08 * (hi - lo), 0.1);
        f->x0 = pow(10, lo - pad), f->x1 = pow(10, hi + pad);
        qsort(fracs, (size_t)nfr, sizeof fracs[0], cmp_dbl);
        if (nfr <= 8) {
            memcpy(xt, fracs, (size_t)nfr * sizeof xt[0]);
            nxt = nfr;
        } else {
            static const double std[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1};
            for (int i = 0; i < 10; i++)
                if (std[i] >= f->x0 && std[i] <= f->x1) xt[nxt++] = std[i];
        }
    } else {
        f->x0 = 0, f->x1 = 1.0;
        for (int i = 0; i <= 5; i++) xt[nxt++] = 0.2 * i;
    }
    return nxt;
}

static void eff_layout(const ReportData *d, EffLayout *L) {
    L->f = (Frame){0, 1, 0, 1, 62, 14, 400, 340, d->log_x ? 1 : 0};
    L->W = 480, L->leg_y0 = L->f.py + L->f.ph + 66, L->leg_x0 = L->f.px - 50;
    L->H = L->leg_y0 + 18 * (eff_legend_rows(d, L->W, L->leg_x0) - 1) + 14;
    double xmin, xmax, ymin, ymax, fracs[64];
    int nfr;
    eff_data_ranges(d, &xmin, &xmax, &ymin, &ymax, fracs, &nfr);
    L->nyt = eff_y_scale(&L->f, ymin, ymax, L->yt);
    L->nxt = eff_x_scale(&L->f, xmin, xmax, fracs, nfr, L->xt);
}

/* Shaded band between lo and hi where both are known: upper edge left to right, lower
 * edge back; fewer than two points would make no area, so nothing is drawn then. */
static void eff_band(Sb *b, const Frame *f, const ReportSeries *r, double dx, const char *col) {
    Sb pts = {0};
    int m = 0;
    for (int i = 0; i < r->n; i++)
        if (r->fraction[i] > 0 && isfinite(r->auc_hi[i]) && isfinite(r->auc_lo[i]))
            sb_printf(&pts, "%.2f,%.2f ", fx(f, r->fraction[i]) + dx, fy(f, fmin(f->y1, r->auc_hi[i]))), m++;
    for (int i = r->n - 1; i >= 0; i--)
        if (r->fraction[i] > 0 && isfinite(r->auc_hi[i]) && isfinite(r->auc_lo[i]))
            sb_printf(&pts, "%.2f,%.2f ", fx(f, r->fraction[i]) + dx, fy(f, fmax(f->y0, r->auc_lo[i])));
    if (m >= 2) sb_printf(b, "<polygon fill=\"%s\" fill-opacity=\"0.10\" stroke=\"none\" points=\"%s\"/>", col, pts.s);
    free(pts.s);
}

/* Per point: an error bar with end caps (where lo and hi are known) and the marker. */
static void eff_points(Sb *b, const Frame *f, const ReportSeries *r, double dx, int k, const char *col) {
    for (int i = 0; i < r->n; i++) {
        if (!(r->fraction[i] > 0) || !isfinite(r->fraction[i])) continue;
        double x = fx(f, r->fraction[i]) + dx;
        if (r->auc_lo && r->auc_hi && isfinite(r->auc_lo[i]) && isfinite(r->auc_hi[i])) {
            double y0 = fy(f, fmax(f->y0, r->auc_lo[i])), y1 = fy(f, fmin(f->y1, r->auc_hi[i]));
            sb_printf(b, "<path d=\"M%.2f %.2fV%.2fM%.2f %.2fH%.2fM%.2f %.2fH%.2f\" stroke=\"%s\" stroke-width=\"1.4\" fill=\"none\"/>",
                      x, y0, y1, x - 4, y0, x + 4, x - 4, y1, x + 4, col);
        }
        if (isfinite(r->auc_mean[i])) svg_marker(b, k, x, fy(f, r->auc_mean[i]), 4.2, col);
    }
}

/* Series s of ns: band, mean line, error bars and markers in one labelled group. */
static void eff_series(Sb *b, const Frame *f, const ReportSeries *r, int s, int ns, Styles *st) {
    int k = style_of(st, r->label);
    const char *col = PALETTE[k % NPAL];
    /* small horizontal offset per series so overlapping error bars stay readable */
    double dx = (s - (ns - 1) / 2.0) * 5.0;
    sb_puts(b, "<g class=\"series\" data-label=\"");
    sb_esc(b, r->label);
    sb_puts(b, "\">");
    if (r->auc_lo && r->auc_hi) eff_band(b, f, r, dx, col);
    sb_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\"", col);
    svg_dash_attr(b, k);
    sb_puts(b, " points=\"");
    for (int i = 0; i < r->n; i++)
        if (r->fraction[i] > 0 && isfinite(r->fraction[i]) && isfinite(r->auc_mean[i]))
            sb_printf(b, "%.2f,%.2f ", fx(f, r->fraction[i]) + dx, fy(f, r->auc_mean[i]));
    sb_puts(b, "\"/>");
    eff_points(b, f, r, dx, k, col);
    sb_puts(b, "</g>");
}

/* legend: rows under the axis title, wrapping before an entry would run off the edge */
static void eff_legend(Sb *b, const ReportData *d, Styles *st, const EffLayout *L) {
    double lx = L->leg_x0, ly = L->leg_y0;
    sb_puts(b, "<g class=\"legend\" font-size=\"12\">");
    for (int s = 0; s < d->n_series; s++) {
        const char *label = d->series[s].label;
        double w = eff_legend_place(label, s, L->W, L->leg_x0, &lx, &ly);
        int k = style_of(st, label);
        const char *col = PALETTE[k % NPAL];
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.2\"", lx,
                  ly, lx + 26, ly, col);
        svg_dash_attr(b, k);
        sb_puts(b, "/>");
        svg_marker(b, k, lx + 13, ly, 4.2, col);
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", lx + 32, ly + 4);
        sb_esc(b, label);
        sb_puts(b, "</text>");
        lx += w;
    }
    sb_puts(b, "</g>");
}

static void svg_efficiency(Sb *b, const ReportData *d, Styles *st) {
    EffLayout L;
    eff_layout(d, &L);
    sb_printf(b, "<svg class=\"efficiency\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
                 "aria-labelledby=\"eff-title\"><title id=\"eff-title\">AUC against label fraction</title>",
              L.W, L.H);
    svg_axes(b, &L.f, L.xt, L.nxt, L.yt, L.nyt, 1, 2,
             L.f.logx ? "Fraction of training labels (log scale)" : "Fraction of training labels",
             d->cv_folds > 0 ? "ROC AUC, pooled out-of-fold" : "ROC AUC on the holdout");
    for (int s = 0; s < d->n_series; s++) eff_series(b, &L.f, &d->series[s], s, d->n_series, st);
    eff_legend(b, d, st, &L);
    sb_puts(b, "</svg>");
}

/* ---- page --------------------------------------------------------------------------- */

/* What the metrics were measured on, for the captions: "the holdout" or "pooled
 * out-of-fold predictions over N folds" (a CV AUC is not a holdout AUC: every record was
 * scored by the model of its own round). */
static void evaluated_on(const ReportData *d, char *buf, size_t n) {
    if (d->cv_folds > 0) snprintf(buf, n, "pooled out-of-fold predictions over %d folds", d->cv_folds);
    else snprintf(buf, n, "the holdout");
}

/* paragraphs separated by blank lines */
static void notes_html(Sb *b, const char *t) {
    sb_puts(b, "<section class=\"notes\"><p>");
    for (const char *p = t; *p;) {
        const char *e = strstr(p, "\n\n");
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char *part = xmalloc(n + 1);
        memcpy(part, p, n);
        part[n] = '\0';
        sb_esc(b, part);
        free(part);
        if (!e) break;
        p = e;
        while (*p == '\n') p++;
        if (*p) sb_puts(b, "</p><p>");
    }
    sb_puts(b, "</p></section>\n");
}

static void table_html(Sb *b, const ReportData *d, Styles *st) {
    char v[9][40];
    char on[96];
    evaluated_on(d, on, sizeof on);
    sb_printf(b, "<div class=\"table-wrap\"><table class=\"results\"><caption>Metrics on %s.</caption>", on);
    sb_puts(b, "<thead><tr><th>Pipeline</th><th>Label fraction</th><th>Repeats</th>"
               "<th>AUC (mean)</th><th>AUC spread");
    if (d->spread_label) {
        sb_puts(b, "<br><small>");
        sb_esc(b, d->spread_label);
        sb_puts(b, "</small>");
    }
    sb_puts(b, "</th><th>Sensitivity</th><th>Specificity</th><th>PPV</th><th>NPV</th></tr></thead><tbody>\n");
    for (int i = 0; i < d->n_rows; i++) {
        const ReportRow *r = &d->rows[i];
        int k = style_of(st, r->pipeline);
        int start = i == 0 || strcmp(r->pipeline ? r->pipeline : "", d->rows[i - 1].pipeline ? d->rows[i - 1].pipeline : "");
        sb_printf(b, "<tr%s><td><span class=\"swatch\" style=\"background:%s\"></span>", start && i ? " class=\"group-start\"" : "",
                  PALETTE[k % NPAL]);
        sb_esc(b, r->pipeline);
        fmt_pct(v[0], sizeof v[0], r->fraction);
        fmt_num(v[1], sizeof v[1], r->auc_mean, 3);
        if (isfinite(r->auc_spread_lo) && isfinite(r->auc_spread_hi))
            snprintf(v[2], sizeof v[2], "%.3f\xE2\x80\x93%.3f", r->auc_spread_lo, r->auc_spread_hi);
        else
            snprintf(v[2], sizeof v[2], "n/a");
        fmt_num(v[3], sizeof v[3], r->sens, 3);
        fmt_num(v[4], sizeof v[4], r->spec, 3);
        fmt_num(v[5], sizeof v[5], r->ppv, 3);
        fmt_num(v[6], sizeof v[6], r->npv, 3);
        sb_printf(b, "</td><td>%s</td><td>%d</td>", v[0], r->n_repeats);
        for (int c = 1; c <= 6; c++) {
            if (strcmp(v[c], "n/a") == 0) sb_puts(b, "<td class=\"na\">n/a</td>");
            else sb_printf(b, "<td>%s</td>", v[c]);
        }
        sb_puts(b, "</tr>\n");
    }
    sb_puts(b, "</tbody></table></div>\n");
}

/* p-values: three decimals, "<0.001" below that (the table is for reading, results.json
 * has every digit) */
static const char *fmt_p(char *buf, size_t n, double p) {
    if (!isfinite(p)) snprintf(buf, n, "n/a");
    else if (p < 0.001) snprintf(buf, n, "&lt;0.001");
    else snprintf(buf, n, "%.3f", p);
    return buf;
}

int report_comparisons_common_n(const ReportComparison *c, int n) {
    int n0 = 0;
    for (int i = 0; i < n; i++) {
        if (c[i].n <= 0) continue;
        if (n0 == 0) n0 = c[i].n;
        else if (c[i].n != n0) return 0;
    }
    return n0;
}

static void comparisons_html(Sb *b, const ReportData *d) {
    char on[96], v[8][64];
    evaluated_on(d, on, sizeof on);
    int show_repeat = 0;
    for (int i = 0; i < d->n_comparisons; i++) show_repeat |= d->comparisons[i].repeat > 1;
    const int same_n = report_comparisons_common_n(d->comparisons, d->n_comparisons);
    sb_puts(b, "<div class=\"table-wrap\"><table class=\"comparisons\"><caption>");
    if (same_n > 0) sb_printf(b, "Paired DeLong test on the same %d ECGs (%s)", same_n, on);
    else sb_printf(b, "Paired DeLong test on the same ECGs within each row (%s)", on);
    sb_puts(b, ", two-sided; p-values not adjusted for multiple comparisons. Difference = AUC of the first "
               "pipeline minus the second, with its 95% Wald CI.</caption>");
    sb_printf(b, "<thead><tr><th>Comparison</th><th>Label fraction</th>%s<th>AUC (first)</th><th>AUC (second)"
                 "</th><th>Difference (95%% CI)</th><th>z</th><th>p</th></tr></thead><tbody>\n",
              show_repeat ? "<th>Repeat</th>" : "");
    for (int i = 0; i < d->n_comparisons; i++) {
        const ReportComparison *c = &d->comparisons[i];
        sb_puts(b, "<tr><td>");
        sb_esc(b, c->a);
        sb_puts(b, " vs ");
        sb_esc(b, c->b);
        if (c->note && c->note[0]) {
            sb_puts(b, "<br><small class=\"na\">");
            sb_esc(b, c->note);
            sb_puts(b, "</small>");
        }
        fmt_pct(v[0], sizeof v[0], c->fraction);
        sb_printf(b, "</td><td>%s</td>", v[0]);
        if (show_repeat) sb_printf(b, "<td>%d</td>", c->repeat);
        fmt_num(v[1], sizeof v[1], c->auc_a, 3);
        fmt_num(v[2], sizeof v[2], c->auc_b, 3);
        if (!isfinite(c->diff)) snprintf(v[3], sizeof v[3], "n/a");
        else if (isfinite(c->lo) && isfinite(c->hi))
            snprintf(v[3], sizeof v[3], "%+.3f (%+.3f to %+.3f)", c->diff, c->lo, c->hi);
        else snprintf(v[3], sizeof v[3], "%+.3f (n/a)", c->diff);
        if (isfinite(c->z)) snprintf(v[4], sizeof v[4], "%.2f", c->z);
        else snprintf(v[4], sizeof v[4], "n/a");
        fmt_p(v[5], sizeof v[5], c->p);
        for (int k = 1; k <= 5; k++) {
            if (strcmp(v[k], "n/a") == 0) sb_puts(b, "<td class=\"na\">n/a</td>");
            else sb_printf(b, "<td>%s</td>", v[k]);
        }
        sb_puts(b, "</tr>\n");
    }
    sb_puts(b, "</tbody></table></div>\n");
}

char *report_render_html(const ReportData *d) {
    Sb b = {0};
    Styles st = {.n = 0};
    /* fix the colour order: label-efficiency series first, then curves, then table rows */
    for (int i = 0; i < d->n_series; i++) style_of(&st, d->series[i].label);
    for (int i = 0; i < d->n_rocs; i++) style_of(&st, d->rocs[i].label);
    for (int i = 0; i < d->n_rows; i++) style_of(&st, d->rows[i].pipeline);

    const char *title = d->title ? d->title : "kres report";
    sb_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    sb_esc(&b, title);
    sb_printf(&b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n<h1>", CSS);
    sb_esc(&b, title);
    sb_puts(&b, "</h1>\n");
    if (d->subtitle) {
        sb_puts(&b, "<p class=\"subtitle\">");
        sb_esc(&b, d->subtitle);
        sb_puts(&b, "</p>\n");
    }
    if (d->notes && d->notes[0]) notes_html(&b, d->notes);

    sb_puts(&b, "<h2>Results</h2>\n");
    if (d->n_rows > 0) table_html(&b, d, &st);
    else sb_puts(&b, "<p class=\"na\">No results.</p>\n");
    if (d->n_comparisons > 0) {
        sb_puts(&b, "<h2>Paired comparisons</h2>\n");
        comparisons_html(&b, d);
    }

    sb_puts(&b, "<h2>Figures</h2>\n<div class=\"figs\">\n");
    char on[96];
    evaluated_on(d, on, sizeof on);
    if (d->n_rocs > 0) {
        sb_puts(&b, "<figure>");
        svg_roc(&b, d, &st);
        sb_puts(&b, "<figcaption>");
        if (d->roc_caption) sb_esc(&b, d->roc_caption);
        else sb_printf(&b, "ROC curves of each pipeline at full labels on %s. Dashed diagonal: chance.", on);
        sb_puts(&b, "</figcaption></figure>\n");
    }
    if (d->n_series > 0) {
        sb_puts(&b, "<figure>");
        svg_efficiency(&b, d, &st);
        sb_printf(&b, "<figcaption>Label efficiency: AUC on %s against the fraction of training labels used, one line "
                      "per pipeline", on);
        if (d->interval_label) {
            sb_puts(&b, "; ");
            sb_esc(&b, d->interval_label);
        }
        sb_puts(&b, ".</figcaption></figure>\n");
    }
    if (d->n_rocs == 0 && d->n_series == 0) sb_puts(&b, "<p class=\"na\">No figures.</p>\n");
    sb_puts(&b, "</div>\n");
    if (d->footer) {
        sb_puts(&b, "<footer>");
        sb_esc(&b, d->footer);
        sb_puts(&b, "</footer>\n");
    }
    sb_puts(&b, "</main>\n</body>\n</html>\n");
    return b.s;
}

int report_write_html(const char *path, const ReportData *d) {
    char *html = report_render_html(d);
    int rc = write_file_atomic(path, html, strlen(html));
    free(html);
    return rc;
}
