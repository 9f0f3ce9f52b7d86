/* optim.h — optimisers over ONE flat parameter buffer, plus lr schedule and grad clipping.
 *
 * params, grads and the optimiser state (m, v for AdamW; mom for SGD) are flat float arrays
 * of n elements with the same layout (kres_params/kres_grads). State starts zeroed.
 *
 * Per-range options: an optional array of ParamRange {begin, end, lr_scale, decay} covering
 * [begin, end) element ranges. Elements outside every range use lr_scale 1 and decay on.
 * If ranges overlap, the first matching range wins. lr_scale 0 freezes a range entirely
 * (no update, no decay, state untouched): linear probing freezes the encoder prefix.
 * decay 0 exempts a range from weight decay (BN gamma/beta, biases). */
#ifndef KRES_NN_OPTIM_H
#define KRES_NN_OPTIM_H

#include <stddef.h>

typedef struct {
    size_t begin, end;   /* element range [begin, end) in the flat buffer */
    float lr_scale;      /* multiplies the learning rate (0 = frozen) */
    int decay;           /* 1 = apply weight decay, 0 = exempt */
} ParamRange;

/* One AdamW step (Loshchilov & Hutter; PyTorch torch.optim.AdamW semantics), t = 1, 2, ...
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr_eff * wd * p                         (decoupled decay, if the range decays)
 *   p -= lr_eff * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps),   lr_eff = lr * lr_scale */
void adamw_update(float *params, const float *grads, float *m, float *v, size_t n, long t,
                  float lr, float beta1, float beta2, float eps, float weight_decay,
                  const ParamRange *ranges, int nranges);

/* One SGD step with momentum (PyTorch torch.optim.SGD semantics, dampening 0):
 *   g' = g + wd * p (coupled L2, if the range decays);  mom = momentum * mom + g'
 *   step = nesterov ? g' + momentum * mom : mom;        p -= lr_eff * step */
void sgd_update(float *params, const float *grads, float *mom, size_t n,
                float lr, float momentum, float weight_decay, int nesterov,
                const ParamRange *ranges, int nranges);

/* Learning rate at step (0-based) of `total`: linear warm-up base*(step+1)/warmup for
 * step < warmup, then cosine decay from base to min_lr over the remaining steps:
 *   min_lr + (base - min_lr) * 0.5 * (1 + cos(pi * (step - warmup) / (total - warmup)))
 * and min_lr for step >= total. warmup = 0 starts directly at base. */
float lr_at(long step, long total, long warmup, float base, float min_lr);

/* Global L2 norm of grads (double accumulation over fixed 4096-element chunks summed in
 * order: identical bits for any thread count). */
double grad_norm(const float *grads, size_t n);

/* Clip by global norm: if max_norm > 0 and norm > max_norm, scale grads by
 * max_norm / (norm + 1e-6) (PyTorch clip_grad_norm_). Returns the norm before clipping.
 * A non-finite norm is returned as is and grads are left unchanged (caller decides). */
double clip_grad_norm(float *grads, size_t n, float max_norm);

#endif
