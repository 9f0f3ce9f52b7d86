/* cmd_model.c — 'kres model': the KRes layer table, parameter count and MACs per ECG for
 * the default configuration, a preset, or a JSON config file. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/json.h"
#include "nn/kres.h"

static void usage(FILE *fp) {
    fprintf(fp,
            "usage: kres model [--preset 100hz|400hz] [--config FILE] [--json]\n\n"
            "Print the KRes architecture: one row per layer with its output shape per ECG\n"
            "(channels x samples), parameters and multiply-accumulates, then totals.\n\n"
            "  --preset 100hz   12 leads x 1024 samples (10 s at ~100 Hz), the default\n"
            "  --preset 400hz   12 leads x 4096 samples (10 s at ~400 Hz)\n"
            "  --config FILE    a JSON model config, e.g.\n"
            "                   {\"in_leads\": 12, \"in_len\": 1024, \"stem_width\": 64, \"kernel\": 17,\n"
            "                    \"widths\": [128, 196, 256, 320], \"downsample\": 4}\n"
            "                   (dropout, n_outputs, proj_hidden, proj_dim, bn_momentum, bn_eps\n"
            "                   are optional; unknown keys are refused)\n"
            "  --json           machine-readable output: config, totals and the tensor table\n");
}

/* The configuration selected by a preset name; -1 if unknown. */
static int preset_config(const char *name, KresConfig *c) {
    kres_config_default(c);
    if (strcmp(name, "100hz") == 0) return 0;
    if (strcmp(name, "400hz") == 0) {
        c->in_len = 4096;
        return 0;
    }
    return -1;
}

static int print_json(const KresConfig *c) {
    /* A one-example model gives the exact tensor table the checkpoints use. */
    Kres *m = kres_create(c, 1, 0);
    if (!m) return data_error();
    char cfg[1024];
    if (kres_config_to_json(c, cfg, sizeof cfg) < 0) {
        kres_free(m);
        return data_error();
    }
    size_t nenc = kres_num_encoder_params(m), ntot = kres_num_params(m);
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    jw_key(&w, "config"), jw_raw(&w, cfg);
    jw_key(&w, "params"), jw_int(&w, (long long)ntot);
    jw_key(&w, "encoder_params"), jw_int(&w, (long long)nenc);
    /* The rest of the non-encoder parameters is the projection head (pretraining only). */
    const long long nhead = c->n_outputs > 0 ? (long long)c->n_outputs * (kres_embed_dim(c) + 1) : 0;
    jw_key(&w, "head_params"), jw_int(&w, nhead);
    jw_key(&w, "proj_params"), jw_int(&w, (long long)(ntot - nenc) - nhead);
    jw_key(&w, "buffers"), jw_int(&w, (long long)kres_num_buffers(m));
    jw_key(&w, "embed_dim"), jw_int(&w, kres_embed_dim(c));
    jw_key(&w, "macs_per_ecg"), jw_number(&w, kres_macs_per_example(c));
    jw_key(&w, "tensors");
    jw_array_begin(&w);
    for (int i = 0; i < kres_num_tensors(m); i++) {
        const KresTensor *t = kres_tensor(m, i);
        jw_object_begin(&w);
        jw_key(&w, "name"), jw_string(&w, t->name);
        jw_key(&w, "kind"), jw_string(&w, t->kind == KRES_PARAM ? "param" : "buffer");
        jw_key(&w, "shape");
        jw_array_begin(&w);
        for (int k = 0; k < t->ndim; k++) jw_int(&w, t->shape[k]);
        jw_array_end(&w);
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_object_end(&w);
    printf("%s\n", w.buf);
    jw_free(&w);
    kres_free(m);
    return KRES_EXIT_OK;
}

int cmd_model(int argc, char **argv) {
    const char *cmd = "model", *config_path = NULL, *preset = NULL;
    int json = 0;
    ArgSpec spec[] = {
        ARG_SET("--json", &json),
        ARG_STR("--config", &config_path),
        ARG_STR("--preset", &preset),
        ARG_END,
    };
    int rc = arg_parse(cmd, argc, argv, spec, usage);
    if (rc != ARG_CONTINUE) return rc;
    if (config_path && preset) return usage_error(cmd, "--config and --preset are exclusive");
    KresConfig c;
    if (preset_config(preset ? preset : "100hz", &c) != 0)
        return usage_error(cmd, "--preset must be 100hz or 400hz, got '%s'", preset);
    if (config_path) {
        /* The error names the file: the parser's message only says "model config". */
        if (load_model_config(config_path, &c) != 0) return data_error();
    }
    if (kres_config_validate(&c) != 0) return data_error();
    if (json) return print_json(&c);

    const char *label = config_path ? config_path : preset ? preset : "100hz (default)";
    printf("KRes model: %s\n", label);
    printf("  %d leads x %d samples, stem %d, kernel %d, %d units, downsample %d, dropout %g\n",
           c.in_leads, c.in_len, c.stem_width, c.kernel, c.nunits, c.downsample, (double)c.dropout);
    kres_print_summary(&c, stdout);
    return KRES_EXIT_OK;
}
