/* finetune.h — fine-tuning a pretrained KRes encoder for classification (`kres finetune`).
 *
 * Fine-tuning is supervised training (trainer.h) started from a pretrained encoder: the
 * encoder tensors (stem.*, units.*, their BN statistics) are copied from the checkpoint, a
 * new head is initialised from the seed, and ALL layers are trained; the encoder's
 * parameters use lr * encoder_lr_scale (default FINETUNE_ENCODER_LR_SCALE = 0.1, so the
 * pretrained features move ten times more slowly than the fresh head). Model selection
 * (validation AUC per epoch), the threshold rule and the checkpoint format are exactly
 * those of `kres train`, so `kres eval` and `kres predict` accept the result.
 *
 * The architecture (widths, kernel, dropout, ...) and the preprocessing (rate, length,
 * filters) come from the encoder checkpoint, never from the caller: a fine-tuned model
 * sees its inputs exactly as the encoder did in pretraining. */
#ifndef KRES_TRAIN_FINETUNE_H
#define KRES_TRAIN_FINETUNE_H

#include "train/trainer.h"

#define FINETUNE_ENCODER_LR_SCALE 0.1f

/* Point o at the encoder checkpoint at path: o->init_encoder = path, o->model = its
 * kres_config (heads are reset by the trainer), o->preproc = its preprocessing (the
 * default chain if the file records none). The checkpoint's kind must be "encoder",
 * "classifier" or "probe". o->encoder_lr_scale is left as the caller set it.
 * Returns 0 or -1 (kres_fail naming the file). */
int finetune_prepare(TrainOptions *o, const char *path);

/* finetune_prepare + train_classifier. */
int finetune_classifier(TrainOptions *o, const char *encoder_path, TrainResult *r);

#endif
