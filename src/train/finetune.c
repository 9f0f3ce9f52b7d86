/* finetune.c — fine-tuning = the supervised trainer started from a pretrained encoder. */
#include "train/finetune.h"

#include <stdio.h>
#include <string.h>

#include "nn/checkpoint.h"

int finetune_prepare(TrainOptions *o, const char *path) {
    if (!path) return kres_fail("finetune", "no encoder checkpoint given");
    /* Loading the whole model also verifies the file (CRC, every tensor's shape) before any
     * training starts; a batch of 1 keeps the activations small. */
    Kres *m = NULL;
    CkptInfo info;
    memset(&info, 0, sizeof info);
    int rc = -1;
    if (ckpt_load(path, 1, &m, &info) != 0) goto done;
    if (strcmp(info.kind, "encoder") != 0 && strcmp(info.kind, "classifier") != 0 &&
        strcmp(info.kind, "probe") != 0) {
        kres_fail(path, "checkpoint kind '%s' has no encoder to fine-tune", info.kind);
        goto done;
    }
    PreprocConfig pc;
    preproc_default(&pc);
    if (info.preprocess_json && preproc_from_json(info.preprocess_json, &pc) != 0) {
        char why[256]; /* kres_fail overwrites the message it would be formatting from */
        snprintf(why, sizeof why, "%s", kres_last_error());
        kres_fail(path, "preprocess metadata: %s", why);
        goto done;
    }
    o->model = *kres_config(m);
    o->preproc = pc;
    o->init_encoder = path;
    rc = 0;
done:
    if (m) kres_free(m);
    ckpt_info_free(&info);
    return rc;
}

int finetune_classifier(TrainOptions *o, const char *encoder_path, TrainResult *r) {
    memset(r, 0, sizeof *r);
    if (finetune_prepare(o, encoder_path) != 0) return -1;
    return train_classifier(o, r);
}
