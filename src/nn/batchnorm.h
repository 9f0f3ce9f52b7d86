/* batchnorm.h — BatchNorm1d over (B, C, L): per-channel statistics over batch and time.
 *
 * Dimension legend:  B batch   C channels   L length   n = B*L values per channel
 *
 * Shapes: inp/out (B, C, L); gamma, beta, mean, rstd, running_mean, running_var (C).
 *   training:  mu = mean over (b, t); var = biased variance (divide by n)
 *              out = gamma * (inp - mu) * rstd + beta,  rstd = 1 / sqrt(var + eps)
 *              running_mean = (1 - momentum) * running_mean + momentum * mu
 *              running_var  = (1 - momentum) * running_var  + momentum * var * n / (n - 1)
 *              (PyTorch convention: unbiased variance in the running estimate; n == 1 uses
 *              the biased value 0 to stay finite)
 *   inference: out = gamma * (inp - running_mean) / sqrt(running_var + eps) + beta
 * Statistics are accumulated in double in a fixed order (deterministic).
 * forward OVERWRITES out (out == inp is allowed); backward ACCUMULATES into dinp, dgamma,
 * dbeta (dinp may be NULL; it must not alias dout). */
#ifndef KRES_NN_BATCHNORM_H
#define KRES_NN_BATCHNORM_H

/* Training-mode forward. Saves mean and rstd (C each) for the backward pass. running_mean
 * and running_var are updated in place when non-NULL (both or neither). */
void batchnorm_forward_train(float *out, float *mean, float *rstd,
                             float *running_mean, float *running_var,
                             const float *inp, const float *gamma, const float *beta,
                             int B, int C, int L, float momentum, float eps);

/* From channel c's double sums (mean mu, centred sum of squares ss over n values): its saved
 * mean and rstd, and (when running_mean is non-NULL) the running-statistics update above.
 * Shared by the training forwards here and in fused.h, so both finish alike. */
void batchnorm_channel_stats(int c, double mu, double ss, double n, float momentum, float eps,
                             float *mean, float *rstd, float *running_mean, float *running_var);

/* Inference-mode forward with the running statistics. */
void batchnorm_forward_eval(float *out, const float *inp, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var,
                            int B, int C, int L, float eps);

/* Exact backward of the training-mode forward (batch statistics are functions of inp).
 * inp is the forward input (not overwritten: forward must not have run in place). */
void batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                        const float *inp, const float *gamma, const float *mean, const float *rstd,
                        int B, int C, int L);

#endif
