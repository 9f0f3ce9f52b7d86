/* test_augment.c — each augmentation changes what it should and nothing else; seeded
 * determinism; crop/shift geometry; config validation; no NaN. */
#include <string.h>

#include "common/util.h"
#include "data/augment.h"
#include "data/preprocess.h"
#include "test.h"

#define PI 3.14159265358979323846
#define L 500
#define N (KRES_NLEADS * L)

/* A smooth, lead-distinct test signal with no zeros (so zeroing is detectable). */
static void fill(float *x) {
    for (int l = 0; l < KRES_NLEADS; l++)
        for (int t = 0; t < L; t++) x[l * L + t] = (float)(2.0 + sin(0.05 * t + l) + 0.1 * l);
}

static int all_finite(const float *x, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

static void test_config(void) {
    AugmentConfig c;
    augment_default(&c);
    CHECK(augment_validate(&c) == 0);
    CHECK(c.scale_min == 0.8 && c.scale_max == 1.2 && c.noise_sigma == 0.05);
    augment_none(&c);
    CHECK(augment_validate(&c) == 0 && c.p_noise == 0 && c.p_shift == 0);
    augment_default(&c);
    c.p_noise = 1.5;
    CHECK(augment_validate(&c) == -1 && strstr(kres_last_error(), "p_noise"));
    augment_default(&c);
    c.scale_min = 1.3;
    CHECK(augment_validate(&c) == -1);
    augment_default(&c);
    c.wander_min_hz = 0;
    CHECK(augment_validate(&c) == -1);
    augment_default(&c);
    c.noise_sigma = NAN;
    CHECK(augment_validate(&c) == -1);
    augment_default(&c);
    c.time_mask_max_frac = -0.1;
    CHECK(augment_validate(&c) == -1);
}

static void test_determinism(void) {
    AugmentConfig c;
    augment_default(&c);
    float a[N], b[N], d[N];
    Rng r1, r2, r3;
    rng_seed(&r1, 7);
    rng_seed(&r2, 7);
    rng_seed(&r3, 8);
    int same = 1, differ = 0, finite = 1;
    for (int rep = 0; rep < 20; rep++) {
        fill(a);
        fill(b);
        fill(d);
        augment_apply(&c, a, L, 500, &r1);
        augment_apply(&c, b, L, 500, &r2);
        augment_apply(&c, d, L, 500, &r3);
        same &= memcmp(a, b, sizeof a) == 0;
        differ |= memcmp(a, d, sizeof a) != 0;
        finite &= all_finite(a, N) && all_finite(d, N);
    }
    CHECK(same);
    CHECK(differ);
    CHECK(finite);
    /* two views drawn from one stream differ */
    fill(a);
    fill(b);
    augment_apply(&c, a, L, 100, &r1);
    augment_apply(&c, b, L, 100, &r1);
    CHECK(memcmp(a, b, sizeof a) != 0);
    /* nothing enabled: bit-identical */
    augment_none(&c);
    fill(a);
    fill(b);
    augment_apply(&c, a, L, 100, &r1);
    CHECK(memcmp(a, b, sizeof a) == 0);
}

static void test_scale(void) {
    float x[N], y[N];
    Rng r;
    rng_seed(&r, 1);
    for (int per = 0; per < 2; per++) {
        fill(x);
        fill(y);
        augment_scale(x, L, 0.8, 1.2, per, &r);
        int ok = 1, distinct = 0;
        double k0 = x[0] / y[0];
        for (int l = 0; l < KRES_NLEADS; l++) {
            double k = (double)x[l * L] / y[l * L];
            ok &= k >= 0.8 - 1e-6 && k <= 1.2 + 1e-6;
            distinct |= fabs(k - k0) > 1e-6;
            for (int t = 0; t < L; t++) ok &= fabs(x[l * L + t] - k * y[l * L + t]) < 1e-5;
        }
        CHECKF(ok, "per_lead=%d: every lead is an exact multiple of the input", per);
        CHECKF(distinct == per, "per_lead=%d: factors shared/distinct as asked", per);
    }
}

static void test_noise(void) {
    float x[N], y[N];
    Rng r;
    rng_seed(&r, 2);
    fill(x);
    fill(y);
    augment_noise(x, L, 0.1, &r);
    double m = 0, v = 0, lag1 = 0;
    for (int i = 0; i < N; i++) m += (x[i] - y[i]) / N;
    for (int i = 0; i < N; i++) v += (x[i] - y[i] - m) * (x[i] - y[i] - m) / N;
    for (int i = 1; i < N; i++) lag1 += (x[i] - y[i]) * (x[i - 1] - y[i - 1]) / N;
    CHECKF(fabs(m) < 0.005, "noise mean %g", m);
    CHECKF(fabs(sqrt(v) - 0.1) < 0.005, "noise sd %g", sqrt(v));
    CHECKF(fabs(lag1 / v) < 0.05, "noise lag-1 correlation %g", lag1 / v);
}

static void test_wander(void) {
    /* The residual is a slow sinusoid per lead: bounded by amp, and its second difference
     * (which a 0.5 Hz wave at 500 Hz keeps at ~1e-5 of its amplitude) is tiny. */
    float x[N], y[N];
    Rng r;
    rng_seed(&r, 3);
    fill(x);
    fill(y);
    augment_wander(x, L, 500, 0.3, 0.05, 0.5, &r);
    double maxres = 0, maxd2 = 0, energy = 0;
    for (int l = 0; l < KRES_NLEADS; l++)
        for (int t = 0; t < L; t++) {
            double e = x[l * L + t] - y[l * L + t];
            maxres = fmax(maxres, fabs(e));
            energy += e * e;
            if (t >= 2) {
                double e1 = x[l * L + t - 1] - y[l * L + t - 1], e2 = x[l * L + t - 2] - y[l * L + t - 2];
                maxd2 = fmax(maxd2, fabs(e - 2 * e1 + e2));
            }
        }
    CHECKF(maxres <= 0.3 + 1e-5, "wander amplitude %g", maxres);
    CHECK(energy > 0);
    CHECKF(maxd2 < 2e-5, "wander second difference %g", maxd2);
}

static void test_powerline(void) {
    float x[N], y[N];
    Rng r;
    rng_seed(&r, 4);
    int saw50 = 0, saw60 = 0, ok = 1;
    for (int rep = 0; rep < 20; rep++) {
        fill(x);
        fill(y);
        double f = augment_powerline(x, L, 500, 0.1, &r);
        saw50 |= f == 50;
        saw60 |= f == 60;
        /* residual e satisfies the sinusoid recurrence e[t] = 2 cos(w) e[t-1] - e[t-2] */
        double c2 = 2 * cos(2 * PI * f / 500);
        for (int l = 0; l < KRES_NLEADS; l++)
            for (int t = 2; t < L; t++) {
                double e0 = x[l * L + t] - y[l * L + t], e1 = x[l * L + t - 1] - y[l * L + t - 1],
                       e2 = x[l * L + t - 2] - y[l * L + t - 2];
                ok &= fabs(e0 - (c2 * e1 - e2)) < 2e-6 && fabs(e0) <= 0.1 + 1e-6;
            }
    }
    CHECK(saw50 && saw60);
    CHECKF(ok, "residual is a 50/60 Hz sinusoid of amplitude <= 0.1");
    /* at 100 Hz both frequencies are at/above Nyquist: no change, and no crash */
    int unchanged = 1;
    for (int rep = 0; rep < 10; rep++) {
        fill(x);
        fill(y);
        unchanged &= augment_powerline(x, L, 100, 0.1, &r) == 0 && memcmp(x, y, sizeof x) == 0;
    }
    CHECK(unchanged);
    /* at 120 Hz, 50 Hz fits below Nyquist (60 Hz does not) */
    int ok120 = 1, added = 0;
    for (int rep = 0; rep < 10; rep++) {
        fill(x);
        fill(y);
        double f = augment_powerline(x, L, 120, 0.1, &r);
        ok120 &= f == 50 || (f == 0 && memcmp(x, y, sizeof x) == 0);
        added += f == 50;
    }
    CHECK(ok120 && added > 0);
}

static void test_lead_mask(void) {
    float x[N], y[N];
    Rng r;
    rng_seed(&r, 5);
    int exact = 1, kept_one = 1, masked_total = 0;
    for (int rep = 0; rep < 200; rep++) {
        fill(x);
        fill(y);
        int m = augment_lead_mask(x, L, 0.25, &r);
        kept_one &= m != (1 << KRES_NLEADS) - 1;
        for (int l = 0; l < KRES_NLEADS; l++) {
            int masked = (m >> l) & 1;
            masked_total += masked;
            for (int t = 0; t < L; t++)
                exact &= masked ? x[l * L + t] == 0 : x[l * L + t] == y[l * L + t];
        }
    }
    CHECKF(exact, "masked leads exactly zero, the others bit-identical");
    CHECK(kept_one);
    double frac = masked_total / (200.0 * KRES_NLEADS);
    CHECKF(fabs(frac - 0.25) < 0.04, "masked fraction %g", frac);
    fill(x);
    int m = augment_lead_mask(x, L, 1.0, &r); /* all drawn: one kept */
    int nk = 0;
    for (int l = 0; l < KRES_NLEADS; l++) nk += !((m >> l) & 1);
    CHECK(nk == 1);
}

static void test_time_mask(void) {
    float x[N], y[N];
    Rng r;
    rng_seed(&r, 6);
    int ok = 1, maxlen = 0;
    for (int rep = 0; rep < 100; rep++) {
        fill(x);
        fill(y);
        int s, n;
        augment_time_mask(x, L, 0.1, &r, &s, &n);
        ok &= n >= 1 && n <= 50 && s >= 0 && s + n <= L;
        maxlen = n > maxlen ? n : maxlen;
        for (int l = 0; l < KRES_NLEADS; l++)
            for (int t = 0; t < L; t++)
                ok &= (t >= s && t < s + n) ? x[l * L + t] == 0 : x[l * L + t] == y[l * L + t];
    }
    CHECKF(ok, "one contiguous span zeroed in every lead, the rest untouched");
    CHECK(maxlen > 25); /* lengths cover the range */
}

static void test_crop(void) {
    float in[KRES_NLEADS * 800], out[N];
    for (int l = 0; l < KRES_NLEADS; l++)
        for (int t = 0; t < 800; t++) in[l * 800 + t] = (float)(1000 * l + t + 1);
    Rng r;
    rng_seed(&r, 9);
    int ok = 1, smin = 1 << 30, smax = -1;
    for (int rep = 0; rep < 200; rep++) {
        int s = augment_crop(in, 800, out, L, 0, &r); /* window from a longer input */
        ok &= s >= 0 && s <= 300;
        smin = s < smin ? s : smin;
        smax = s > smax ? s : smax;
        for (int l = 0; l < KRES_NLEADS; l++)
            for (int t = 0; t < L; t++) ok &= out[l * L + t] == in[l * 800 + t + s];
    }
    CHECKF(ok, "crop = an exact window of the input");
    CHECK(smin < 30 && smax > 270);
    /* same length with shift: zero fill on the side shifted in */
    int ok2 = 1, neg = 0, pos = 0;
    for (int rep = 0; rep < 100; rep++) {
        int s = augment_crop(in, L, out, L, 40, &r);
        ok2 &= s >= -40 && s <= 40;
        neg |= s < 0;
        pos |= s > 0;
        for (int l = 0; l < KRES_NLEADS; l++)
            for (int t = 0; t < L; t++) {
                int i = t + s;
                ok2 &= out[l * L + t] == ((i >= 0 && i < L) ? in[l * L + i] : 0.0f);
            }
    }
    CHECK(ok2 && neg && pos);
    /* shorter input is placed inside zeros */
    int s = augment_crop(in, 100, out, L, 0, &r);
    CHECK(s <= 0 && s >= -400 && out[-s] == in[0] && (s == 0 || out[-s - 1] == 0));
}

static void test_apply_each(void) {
    /* augment_apply with a single step enabled reproduces that step's change pattern. */
    AugmentConfig c;
    float x[N], y[N];
    Rng r;
    rng_seed(&r, 10);
    augment_none(&c);
    c.p_lead_mask = 1;
    c.lead_mask_prob = 0.5;
    fill(x);
    fill(y);
    augment_apply(&c, x, L, 100, &r);
    int whole = 1, any = 0;
    for (int l = 0; l < KRES_NLEADS; l++) {
        int z = 0, same = 0;
        for (int t = 0; t < L; t++) {
            z += x[l * L + t] == 0;
            same += x[l * L + t] == y[l * L + t];
        }
        whole &= z == L || same == L;
        any |= z == L;
    }
    CHECK(whole && any);
    augment_none(&c);
    c.p_shift = 1;
    c.shift_max_s = 0.2;
    fill(x);
    augment_apply(&c, x, L, 100, &r);
    CHECK(all_finite(x, N));
    augment_default(&c);
    for (int i = 0; i < 7; i++) {
        /* everything on with probability 1 at three rates: finite, shape preserved */
        c.p_shift = c.p_scale = c.p_wander = c.p_powerline = c.p_noise = c.p_lead_mask =
            c.p_time_mask = 1;
        fill(x);
        augment_apply(&c, x, L, i < 3 ? 100 : 500, &r);
        CHECK(all_finite(x, N));
    }
}

int main(void) {
    test_config();
    test_determinism();
    test_scale();
    test_noise();
    test_wander();
    test_powerline();
    test_lead_mask();
    test_time_mask();
    test_crop();
    test_apply_each();
    TEST_MAIN_END();
}
