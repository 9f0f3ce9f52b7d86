/* loss.h — training losses. Each returns the MEAN loss and OVERWRITES the gradient of that
 * mean with respect to its input (the gradient pointer may be NULL to skip it).
 * All arithmetic is in double internally; results are deterministic. */
#ifndef KRES_NN_LOSS_H
#define KRES_NN_LOSS_H

#include <stddef.h>

/* Numerically stable logistic sigmoid. */
float sigmoid_stable(float x);

/* Binary cross-entropy with logits, PyTorch BCEWithLogitsLoss(pos_weight=...) semantics,
 * used for one binary output (O = 1) and for multi-label heads alike.
 *   logits, targets (B, O); targets in [0, 1] (hard or soft labels)
 *   pos_weight (O) or NULL (all 1): weight of the positive term per output
 *   mask (B, O) or NULL (all 1): per-element weight, 0 excludes an element (missing label)
 *   l[b,o] = pos_weight[o] * y * softplus(-x) + (1 - y) * softplus(x)
 *   loss   = sum(mask * l) / sum(mask)             (0 with zero gradient if sum(mask) == 0)
 *   dlogits[b,o] = mask * ((1 - y) * sigmoid(x) - pos_weight[o] * y * sigmoid(-x)) / sum(mask)
 * softplus(x) = max(x, 0) + log1p(exp(-|x|)), stable for any finite x. */
float bce_with_logits_loss(float *dlogits, const float *logits, const float *targets,
                           const float *pos_weight, const float *mask, int B, int O);

/* NT-Xent (SimCLR) contrastive loss.
 *   z (N2, P) with N2 = 2N even; rows i and (i + N) mod N2 are a positive pair.
 *   zn_i = z_i / max(|z_i|, 1e-12);   s_ij = zn_i . zn_j / temperature
 *   l_i  = -s_{i,pair(i)} + log sum_{k != i} exp(s_ik)     (cross-entropy over the N2-1 others)
 *   loss = mean over the N2 anchors
 * dz (N2, P) receives the exact gradient of the mean loss through the normalisation.
 * *accuracy (if non-NULL) = fraction of anchors whose most similar other row is its pair
 * (ties broken towards the lower index).
 * work: nt_xent_workspace_size(N2, P) doubles of scratch, or NULL to allocate internally. */
size_t nt_xent_workspace_size(int N2, int P);
float nt_xent_loss(float *dz, float *accuracy, const float *z, int N2, int P,
                   float temperature, double *work);

#endif
