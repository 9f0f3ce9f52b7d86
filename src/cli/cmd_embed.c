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

int cmd_embed(int argc, char **argv) {
    const char *enc = NULL, *out = NULL, *data = NULL;
    int fmt = FMT_AUTO;
    int rate = 100, batch = 32, quiet = 0;
    RecordList rs = {xmalloc((size_t)(argc + 1) * sizeof(char *)), 0};
    ArgSpec spec[] = {
        ARG_SET("--quiet", &quiet),
        ARG_ARGS(arg_record, &rs),
        ARG_STR("--encoder", &enc),
        ARG_STR("--out", &out),
        ARG_STR("--data", &data),
        ARG_CHOICE("--format", &fmt, FORMATS),
        ARG_RATE("--rate", &rate),
        ARG_INT("--batch", &batch, 1, 4096),
        ARG_END,
    };
    int rc = arg_parse(CMD, argc, argv, spec, print_usage);
    char **recs = rs.recs;
    int n = rs.n;
    if (rc != ARG_CONTINUE) goto done;
    rc = KRES_EXIT_USAGE;
    if (!enc) {
        usage_error(CMD, "--encoder E is required");
        goto done;
    }
    if (!out) {
        usage_error(CMD, "--out FILE is required");
        goto done;
    }
    if (n == 0 && !data) {
        usage_error(CMD, "no records: give RECORD... or --data PTBXL_DIR");
        goto done;
    }
    if (n > 0 && data) {
        usage_error(CMD, "give RECORD... or --data, not both");
        goto done;
    }
    if (fmt == FMT_AUTO) {
        size_t len = strlen(out);
        fmt = len >= 4 && strcmp(out + len - 4, ".npy") == 0 ? FMT_NPY : FMT_CSV;
    }
    rc = KRES_EXIT_DATA;
    if (data) {
        PtbxlDb db;
        if (ptbxl_open(data, &db) != 0) {
            data_error();
            goto done;
        }
        recs = xrealloc(recs, (size_t)(db.n + 1) * sizeof(char *));
        for (int i = 0; i < db.n; i++) {
            char p[4096];
            if (path_join(p, sizeof p, data, rate == 500 ? db.rec[i].filename_hr : db.rec[i].filename_lr) != 0) {
                kres_fail(data, "path too long");
                ptbxl_close(&db);
                data_error();
                goto done;
            }
            recs[n++] = xstrdup(p);
        }
        ptbxl_close(&db);
    }
    /* Name a missing record before loading the model. */
    for (int i = 0; i < n; i++) {
        char h[4200];
        snprintf(h, sizeof h, "%s.hea", recs[i]);
        if (!exists(h)) {
            kres_fail(h, "no such record header");
            data_error();
            goto done;
        }
    }
    Kres *m;
    PreprocConfig pc;
    if (embed_open_encoder(enc, 0, batch, &m, &pc, NULL) != 0) {
        data_error();
        goto done;
    }
    const int E = kres_embed_dim(kres_config(m));
    float *emb = xmalloc((size_t)n * E * sizeof(float));
    double t0 = now_seconds();
    int erc = embed_records(m, batch, &pc, (const char *const *)recs, n, emb, NULL);
    double dt = now_seconds() - t0;
    if (erc == 0)
        erc = fmt == FMT_NPY ? embed_write_npy(out, (const char *const *)recs, emb, n, E)
                                         : embed_write_csv(out, (const char *const *)recs, emb, n, E);
    kres_free(m);
    free(emb);
    if (erc != 0) {
        data_error();
        goto done;
    }
    if (!quiet)
        fprintf(stderr, "embed: %d records x %d features -> %s (%s), %.1f ECGs/s\n", n, E, out, FORMATS[fmt],
                dt > 0 ? n / dt : 0.0);
    rc = KRES_EXIT_OK;
done:
    for (int i = 0; i < n; i++) free(recs[i]);
    free(recs);
    return rc;
}
