/* cmd_embed.c — 'kres embed': encoder embeddings of WFDB records as CSV or NPY
 * (src/train/embed.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "data/ptbxl.h"
#include "train/embed.h"

static const char *CMD = "embed";

static void print_usage(FILE *fp) {
    fprintf(fp,
            "usage: kres embed --encoder E RECORD... --out FILE [--format csv|npy]\n"
            "       kres embed --encoder E --data PTBXL_DIR [--rate 100|500] --out FILE\n\n"
            "Embeddings (the encoder's global-average-pooled features, E = 320 for the default\n"
            "KRes) of WFDB records, computed in inference mode after the encoder's own\n"
            "preprocessing. RECORD is a record name without extension (a trailing .hea or .dat\n"
            "is accepted). --data embeds every record of a PTB-XL tree (v1.0.3 duplicates\n"
            "dropped), in ecg_id order.\n\n"
            "  --format csv|npy   default: npy if FILE ends in .npy, else csv\n"
            "                     csv: header record,e0,...; one row per record\n"
            "                     npy: float32 array (N, E) plus FILE.txt with one record per line\n"
            "  --batch N          ECGs per forward pass (default 32)\n"
            "  --quiet            no summary line on stderr\n\n"
            "exit codes: 0 ok, 1 data or runtime error, 2 usage error; see docs/pretraining.md\n");
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

enum { FMT_AUTO = -1, FMT_CSV, FMT_NPY };
static const char *const FORMATS[] = {[FMT_CSV] = "csv", [FMT_NPY] = "npy", NULL};

/* One 'kres embed' call: the options, the records (given, or listed from --data; every name
 * is owned by the list) and what the run allocates. embed_free alone releases it all, so
 * each step just returns on failure. */
typedef struct {
    const char *enc, *out, *data;
    int fmt, rate, batch, quiet;
    RecordList rs;  /* record names, without extension */
    Kres *m;
    PreprocConfig pc;
    int E;          /* features per record */
    float *emb;     /* (rs.n, E) */
} Embed;

static void embed_free(Embed *e) {
    record_list_free(&e->rs);
    kres_free(e->m);
    free(e->emb);
}

/* Options and their combinations. Returns ARG_CONTINUE, or the exit code to return at once
 * (usage errors are printed here). */
static int embed_parse(Embed *e, int argc, char **argv) {
    e->fmt = FMT_AUTO, e->rate = 100, e->batch = 32;
    /* Room for every argument as a record, so arg_record never has to grow the list. */
    e->rs.recs = xmalloc((size_t)(argc + 1) * sizeof(char *));
    ArgSpec spec[] = {
        ARG_SET("--quiet", &e->quiet),
        ARG_ARGS(arg_record, &e->rs),
        ARG_STR("--encoder", &e->enc),
        ARG_STR("--out", &e->out),
        ARG_STR("--data", &e->data),
        ARG_CHOICE("--format", &e->fmt, FORMATS),
        ARG_RATE("--rate", &e->rate),
        ARG_INT("--batch", &e->batch, 1, 4096),
        ARG_END,
    };
    int rc = arg_parse(CMD, argc, argv, spec, print_usage);
    if (rc != ARG_CONTINUE) return rc;
    if (!e->enc) return usage_error(CMD, "--encoder E is required");
    if (!e->out) return usage_error(CMD, "--out FILE is required");
    if (e->rs.n == 0 && !e->data) return usage_error(CMD, "no records: give RECORD... or --data PTBXL_DIR");
    if (e->rs.n > 0 && e->data) return usage_error(CMD, "give RECORD... or --data, not both");
    if (e->fmt == FMT_AUTO) {
        size_t len = strlen(e->out);
        e->fmt = len >= 4 && strcmp(e->out + len - 4, ".npy") == 0 ? FMT_NPY : FMT_CSV;
    }
    return ARG_CONTINUE;
}

/* --data: every record of the tree at --rate, in the database's (ecg_id) order. */
static int list_tree_records(Embed *e) {
    PtbxlDb db;
    if (ptbxl_open(e->data, &db) != 0) return -1;
    e->rs.recs = xrealloc(e->rs.recs, (size_t)(db.n + 1) * sizeof(char *));
    for (int i = 0; i < db.n; i++) {
        char p[4096];
        const char *file = e->rate == 500 ? db.rec[i].filename_hr : db.rec[i].filename_lr;
        if (path_join(p, sizeof p, e->data, file) != 0) {
            kres_fail(e->data, "path too long");
            ptbxl_close(&db);
            return -1;
        }
        e->rs.recs[e->rs.n++] = xstrdup(p);
    }
    ptbxl_close(&db);
    return 0;
}

/* Name a missing record before loading the model. */
static int check_headers(const Embed *e) {
    for (int i = 0; i < e->rs.n; i++) {
        char h[4200];
        snprintf(h, sizeof h, "%s.hea", e->rs.recs[i]);
        if (!exists(h)) return kres_fail(h, "no such record header");
    }
    return 0;
}

/* The encoder's embeddings of every record, written as --format says. The speed on the
 * summary line times embed_records alone (reading, preprocessing, forward passes). */
static int embed_and_write(Embed *e) {
    const char *const *recs = (const char *const *)e->rs.recs;
    const int n = e->rs.n;
    if (embed_open_encoder(e->enc, 0, e->batch, &e->m, &e->pc, NULL) != 0) return -1;
    e->E = kres_embed_dim(kres_config(e->m));
    e->emb = xmalloc((size_t)n * e->E * sizeof(float));
    double t0 = now_seconds();
    if (embed_records(e->m, e->batch, &e->pc, recs, n, e->emb, NULL) != 0) return -1;
    double dt = now_seconds() - t0;
    int wrc = e->fmt == FMT_NPY ? embed_write_npy(e->out, recs, e->emb, n, e->E)
                                : embed_write_csv(e->out, recs, e->emb, n, e->E);
    if (wrc != 0) return -1;
    if (!e->quiet)
        fprintf(stderr, "embed: %d records x %d features -> %s (%s), %.1f ECGs/s\n", n, e->E, e->out,
                FORMATS[e->fmt], dt > 0 ? n / dt : 0.0);
    return 0;
}

/* The steps after parsing, in order; the first failure stops them with its kres_fail
 * message pending. */
static int embed_steps(Embed *e) {
    if (e->data && list_tree_records(e) != 0) return -1;
    if (check_headers(e) != 0) return -1;
    return embed_and_write(e);
}

int cmd_embed(int argc, char **argv) {
    Embed e;
    memset(&e, 0, sizeof e);
    int rc = embed_parse(&e, argc, argv);
    if (rc == ARG_CONTINUE) rc = embed_steps(&e) != 0 ? data_error() : KRES_EXIT_OK;
    embed_free(&e);
    return rc;
}
