/*
 * edgekd_frontend.c -- the audio front-end of an edgekd artifact in portable C99; see edgekd_frontend.h.
 *
 * FFTs: one in-place mixed-radix (2, 3, 4, 5) complex FFT, decimation in frequency (natural order in, digit-
 * reversed order out) and its inverse, decimation in time (digit-reversed in, natural out): no permutation pass
 * and no index table, a counter in the transform's mixed radix says where each bin is. A real FFT of even length
 * n is the complex FFT of length n/2 over the same buffer (x[2m] + i x[2m+1]); one of odd length (3^b 5^c) splits
 * off, level by level, the complex sub-transforms of residues 1 .. (r-1)/2 and recurses on residue 0, so it too
 * stays within n reals. Twiddles come from the config's table (the n_fft-point frame FFT) or are computed with an
 * exact integer octant reduction (the band-pass FFT, whose length depends on the recording).
 */
#define EDGEKD_FRONTEND_TABLES
#include "edgekd_frontend.h"

#include <math.h>

typedef edgekd_fe_real real;

#ifdef EDGEKD_FE_DOUBLE
#define FE_SIN(x) sin(x)
#define FE_COS(x) cos(x)
#define FE_TAN(x) tan(x)
#define FE_SQRT(x) sqrt(x)
#define FE_LOG(x) log(x)
#else
#define FE_SIN(x) sinf(x)
#define FE_COS(x) cosf(x)
#define FE_TAN(x) tanf(x)
#define FE_SQRT(x) sqrtf(x)
#define FE_LOG(x) logf(x)
#endif

#define FE_PI 3.14159265358979323846264338327950288
#define FE_MAX_FACTORS 32 /* FFT lengths below 2^32 */
#define FE_READY 0x65646b31u
#define FE_SUM_BLOCK 64 /* blocked sums: float32 rounding grows with the block count, not the length */

typedef struct {
  real r, i;
} cpx;

/* An FFT of real length n: even -> complex length m = n/2; odd -> the real-input split with m = n. */
typedef struct {
  size_t n, m;
  int odd, nfac;
  unsigned char fac[FE_MAX_FACTORS];
  size_t span[FE_MAX_FACTORS]; /* span[s] = m / (fac[0] * .. * fac[s]): the block length after stage s */
  const real *table;           /* cos, sin of 2 pi k / table_n, interleaved; or NULL */
  size_t table_n;
} plan;

/* A bin index k in the mixed radix of fac[off ..], and where a DIF transform leaves it (pos). */
typedef struct {
  size_t pos;
  int off, cnt;
  unsigned char digit[FE_MAX_FACTORS];
} counter;

static const real COS3[3] = {1.0, -0.5, -0.5};
static const real SIN3[3] = {0.0, 0.86602540378443864676, -0.86602540378443864676};
static const real COS5[5] = {1.0, 0.30901699437494742410, -0.80901699437494742410, -0.80901699437494742410,
                             0.30901699437494742410};
static const real SIN5[5] = {0.0, 0.95105651629515357212, 0.58778525229247312917, -0.58778525229247312917,
                             -0.95105651629515357212};

/* ------------------------------------------------------------------ twiddles and plans */

/* The step through the twiddle table for angles 2 pi t / L, or 0 when they must be computed. */
static size_t table_step(const plan *p, size_t L) {
  return p->table != NULL && p->table_n % L == 0 ? p->table_n / L : 0;
}

/* cos and sin of 2 pi t / L (0 <= t < L): from the table (step from table_step), else the octant by integer
 * arithmetic and an angle below pi/4. */
static void twiddle(const plan *p, size_t step, size_t t, size_t L, real *c, real *s) {
  uint64_t u, o, rem;
  real th, a, b;
  if (step != 0) {
    *c = p->table[2 * t * step];
    *s = p->table[2 * t * step + 1];
    return;
  }
  u = 8u * (uint64_t)t;
  o = u / L;
  rem = u - o * L;
  if (o & 1u) rem = L - rem; /* odd octant: the angle is measured back from the next multiple of pi/4 */
  th = (real)rem * (real)(FE_PI / 4.0) / (real)L;
  a = FE_COS(th);
  b = FE_SIN(th);
  switch ((unsigned)(o & 7u)) {
    case 0: *c = a; *s = b; break;
    case 1: *c = b; *s = a; break;
    case 2: *c = -b; *s = a; break;
    case 3: *c = -a; *s = b; break;
    case 4: *c = -a; *s = -b; break;
    case 5: *c = -b; *s = -a; break;
    case 6: *c = b; *s = -a; break;
    default: *c = a; *s = -b; break;
  }
}

/* Factor n for its FFT (radix 4 first, then 2, 3, 5); -1 when n has another prime factor. */
static int make_plan(plan *p, size_t n, const real *table, size_t table_n) {
  size_t m;
  int s;
  p->n = n;
  p->odd = (int)(n & 1u);
  p->m = m = p->odd ? n : n / 2;
  p->nfac = 0;
  p->table = table;
  p->table_n = table_n;
  while (!p->odd && m % 4 == 0 && p->nfac < FE_MAX_FACTORS) { p->fac[p->nfac++] = 4; m /= 4; }
  while (m % 2 == 0 && p->nfac < FE_MAX_FACTORS) { p->fac[p->nfac++] = 2; m /= 2; }
  while (m % 3 == 0 && p->nfac < FE_MAX_FACTORS) { p->fac[p->nfac++] = 3; m /= 3; }
  while (m % 5 == 0 && p->nfac < FE_MAX_FACTORS) { p->fac[p->nfac++] = 5; m /= 5; }
  for (s = 0, m = p->m; s < p->nfac; ++s) p->span[s] = m /= p->fac[s];
  return m == 1 ? 0 : -1;
}

/* The smallest 2^a 3^b 5^c >= n (as edgekd.runtime.steps.next_fast_len). */
static size_t next_fast_len(size_t n) {
  size_t best = 1, p5, p35, m;
  while (best < n) best *= 2;
  for (p5 = 1; p5 < best; p5 *= 5) {
    for (p35 = p5; p35 < best; p35 *= 3) {
      for (m = p35; m < n; m *= 2) {
      }
      if (m < best) best = m;
    }
  }
  return best;
}

/* Bin k of the DIF transform over fac[off ..] of the plan (k below their product). */
static void counter_set(counter *c, const plan *p, int off, size_t k) {
  int s;
  c->off = off;
  c->cnt = p->nfac - off;
  c->pos = 0;
  for (s = 0; s < c->cnt; ++s) {
    c->digit[s] = (unsigned char)(k % p->fac[off + s]);
    c->pos += c->digit[s] * p->span[off + s];
    k /= p->fac[off + s];
  }
}

/* k + 1 (and k - 1), wrapping around: the position moves by whole spans, no division. */
static void counter_next(counter *c, const plan *p) {
  int s;
  for (s = 0; s < c->cnt; ++s) {
    if (++c->digit[s] < p->fac[c->off + s]) { c->pos += p->span[c->off + s]; return; }
    c->digit[s] = 0;
    c->pos -= (size_t)(p->fac[c->off + s] - 1) * p->span[c->off + s];
  }
}

static void counter_prev(counter *c, const plan *p) {
  int s;
  for (s = 0; s < c->cnt; ++s) {
    if (c->digit[s] > 0) { --c->digit[s]; c->pos -= p->span[c->off + s]; return; }
    c->digit[s] = (unsigned char)(p->fac[c->off + s] - 1);
    c->pos += (size_t)c->digit[s] * p->span[c->off + s];
  }
}

/* ------------------------------------------------------------------ complex FFT */

/* In-place DFT of r = 2..5 points, exponent sign sg (-1 forward, +1 inverse, unnormalized). */
static void butterfly(cpx *a, int r, real sg) {
  if (r == 2) {
    cpx t = a[1];
    a[1].r = a[0].r - t.r; a[1].i = a[0].i - t.i;
    a[0].r += t.r; a[0].i += t.i;
  } else if (r == 4) {
    real s0r = a[0].r + a[2].r, s0i = a[0].i + a[2].i, d0r = a[0].r - a[2].r, d0i = a[0].i - a[2].i;
    real s1r = a[1].r + a[3].r, s1i = a[1].i + a[3].i, d1r = a[1].r - a[3].r, d1i = a[1].i - a[3].i;
    a[0].r = s0r + s1r; a[0].i = s0i + s1i;
    a[2].r = s0r - s1r; a[2].i = s0i - s1i;
    a[1].r = d0r - sg * d1i; a[1].i = d0i + sg * d1r; /* d0 + sg i d1 */
    a[3].r = d0r + sg * d1i; a[3].i = d0i - sg * d1r;
  } else if (r == 3) {
    real tr = a[1].r + a[2].r, ti = a[1].i + a[2].i;
    real mr = a[0].r - (real)0.5 * tr, mi = a[0].i - (real)0.5 * ti;
    real dr = SIN3[1] * (a[1].r - a[2].r), di = SIN3[1] * (a[1].i - a[2].i);
    a[0].r += tr; a[0].i += ti;
    a[1].r = mr - sg * di; a[1].i = mi + sg * dr;
    a[2].r = mr + sg * di; a[2].i = mi - sg * dr;
  } else { /* 5 */
    real b1r = a[1].r + a[4].r, b1i = a[1].i + a[4].i, b2r = a[2].r + a[3].r, b2i = a[2].i + a[3].i;
    real d1r = a[1].r - a[4].r, d1i = a[1].i - a[4].i, d2r = a[2].r - a[3].r, d2i = a[2].i - a[3].i;
    real t1r = a[0].r + COS5[1] * b1r + COS5[2] * b2r, t1i = a[0].i + COS5[1] * b1i + COS5[2] * b2i;
    real t2r = a[0].r + COS5[2] * b1r + COS5[1] * b2r, t2i = a[0].i + COS5[2] * b1i + COS5[1] * b2i;
    real u1r = SIN5[1] * d1r + SIN5[2] * d2r, u1i = SIN5[1] * d1i + SIN5[2] * d2i;
    real u2r = SIN5[2] * d1r - SIN5[1] * d2r, u2i = SIN5[2] * d1i - SIN5[1] * d2i;
    a[0].r += b1r + b2r; a[0].i += b1i + b2i;
    a[1].r = t1r - sg * u1i; a[1].i = t1i + sg * u1r;
    a[4].r = t1r + sg * u1i; a[4].i = t1i - sg * u1r;
    a[2].r = t2r - sg * u2i; a[2].i = t2i + sg * u2r;
    a[3].r = t2r + sg * u2i; a[3].i = t2i - sg * u2r;
  }
}

/* The complex length a transform over fac[off ..] of the plan works on. */
static size_t sub_length(const plan *p, int off) {
  return off == 0 ? p->m : p->span[off - 1];
}

/* Forward complex DFT over fac[off ..] (re[k*st], im[k*st]) in place: natural order in, counter order out. */
static void cfft_forward(real *re, real *im, size_t st, const plan *p, int off) {
  size_t n = sub_length(p, off), L = n, m, j, b, step;
  int s, q, r;
  for (s = off; s < p->nfac; ++s) {
    r = p->fac[s];
    m = p->span[s];
    step = table_step(p, L);
    for (j = 0; j < m; ++j) {
      cpx w[5];
      for (q = 1; q < r; ++q) {
        twiddle(p, step, j * (size_t)q, L, &w[q].r, &w[q].i);
        w[q].i = -w[q].i;
      }
      for (b = j; b < n; b += L) {
        cpx a[5];
        for (q = 0; q < r; ++q) { a[q].r = re[(b + q * m) * st]; a[q].i = im[(b + q * m) * st]; }
        butterfly(a, r, (real)-1);
        re[b * st] = a[0].r;
        im[b * st] = a[0].i;
        for (q = 1; q < r; ++q) {
          re[(b + q * m) * st] = a[q].r * w[q].r - a[q].i * w[q].i;
          im[(b + q * m) * st] = a[q].r * w[q].i + a[q].i * w[q].r;
        }
      }
    }
    L = m;
  }
}

/* The inverse of cfft_forward times its length: counter order in, natural order out. */
static void cfft_inverse(real *re, real *im, size_t st, const plan *p, int off) {
  size_t n = sub_length(p, off), m, L, j, b, step;
  int s, q, r;
  for (s = p->nfac - 1; s >= off; --s) {
    r = p->fac[s];
    m = p->span[s];
    L = m * (size_t)r;
    step = table_step(p, L);
    for (j = 0; j < m; ++j) {
      cpx w[5];
      for (q = 1; q < r; ++q) twiddle(p, step, j * (size_t)q, L, &w[q].r, &w[q].i);
      for (b = j; b < n; b += L) {
        cpx a[5];
        a[0].r = re[b * st];
        a[0].i = im[b * st];
        for (q = 1; q < r; ++q) {
          real xr = re[(b + q * m) * st], xi = im[(b + q * m) * st];
          a[q].r = xr * w[q].r - xi * w[q].i;
          a[q].i = xr * w[q].i + xi * w[q].r;
        }
        butterfly(a, r, (real)1);
        for (q = 0; q < r; ++q) { re[(b + q * m) * st] = a[q].r; im[(b + q * m) * st] = a[q].i; }
      }
    }
  }
}

/* ------------------------------------------------------------------ real FFT, odd length */

/* Level l of the odd real split, on x[0 .. L): x[j + q m] (q < r) -> y_0 = sum_q x_q real at x[j], and for
 * k = 1 .. (r-1)/2 the twiddled y_k = sum_q x_q e^{-2 pi i q k / r} e^{-2 pi i j k / L}, re at x[j + (2k-1) m],
 * im at x[j + 2k m]; y_{r-k} = conj(y_k) is not kept. */
static void real_level_forward(real *x, size_t L, int l, const plan *p) {
  int r = p->fac[l], q, k, h = (r - 1) / 2;
  const real *cs = r == 3 ? COS3 : COS5, *sn = r == 3 ? SIN3 : SIN5;
  size_t m = p->span[l], j, step = table_step(p, L);
  for (j = 0; j < m; ++j) {
    real a[5], y0 = 0, yr, yi, c, s;
    for (q = 0; q < r; ++q) { a[q] = x[j + q * m]; y0 += a[q]; }
    for (k = 1; k <= h; ++k) {
      for (q = 0, yr = 0, yi = 0; q < r; ++q) { yr += a[q] * cs[(q * k) % r]; yi -= a[q] * sn[(q * k) % r]; }
      twiddle(p, step, j * (size_t)k, L, &c, &s);
      x[j + (2 * (size_t)k - 1) * m] = yr * c + yi * s;
      x[j + 2 * (size_t)k * m] = yi * c - yr * s;
    }
    x[j] = y0;
  }
}

/* The inverse of real_level_forward times r (its input: y_0 and the y_k, each already inverse-transformed). */
static void real_level_inverse(real *x, size_t L, int l, const plan *p) {
  int r = p->fac[l], q, k, h = (r - 1) / 2;
  const real *cs = r == 3 ? COS3 : COS5, *sn = r == 3 ? SIN3 : SIN5;
  size_t m = p->span[l], j, step = table_step(p, L);
  for (j = 0; j < m; ++j) {
    real y0 = x[j], yr[3], yi[3], c, s;
    for (k = 1; k <= h; ++k) {
      real ur = x[j + (2 * (size_t)k - 1) * m], ui = x[j + 2 * (size_t)k * m];
      twiddle(p, step, j * (size_t)k, L, &c, &s);
      yr[k] = ur * c - ui * s;
      yi[k] = ur * s + ui * c;
    }
    for (q = 0; q < r; ++q) {
      real a = y0;
      for (k = 1; k <= h; ++k) a += 2 * (yr[k] * cs[(q * k) % r] - yi[k] * sn[(q * k) % r]);
      x[j + q * m] = a;
    }
  }
}

/* Level l keeps residues k = 1 .. (r-1)/2 (mod r) of its length-L transform as complex sub-transforms of length
 * span[l] over fac[l+1 ..]; residue 0 is the next level, down to X[0] in x[0]. */
static void odd_forward(real *x, const plan *p) {
  size_t L = p->n, m;
  int l, k;
  for (l = 0; l < p->nfac; ++l) {
    m = p->span[l];
    real_level_forward(x, L, l, p);
    for (k = 1; k <= (p->fac[l] - 1) / 2; ++k) cfft_forward(x + (2 * k - 1) * m, x + 2 * k * m, 1, p, l + 1);
    L = m;
  }
}

/* The inverse of odd_forward times n. */
static void odd_inverse(real *x, const plan *p) {
  size_t m;
  int l, k;
  for (l = p->nfac - 1; l >= 0; --l) {
    m = p->span[l];
    for (k = 1; k <= (p->fac[l] - 1) / 2; ++k) cfft_inverse(x + (2 * k - 1) * m, x + 2 * k * m, 1, p, l + 1);
    real_level_inverse(x, m * p->fac[l], l, p);
  }
}

/* Bin k (0 <= k < n) of an odd_forward transform. */
static cpx odd_bin(const real *x, const plan *p, size_t k) {
  size_t L = p->n, m;
  int l = 0, conj = 0;
  counter c;
  cpx z;
  for (;;) {
    int r, q, h;
    if (l == p->nfac) { z.r = x[0]; z.i = 0; return z; }
    r = p->fac[l];
    h = (r - 1) / 2;
    m = p->span[l];
    q = (int)(k % (size_t)r);
    if (q == 0) { k /= (size_t)r; L = m; ++l; continue; }
    if (q > h) { k = L - k; q = r - q; conj = 1; }
    counter_set(&c, p, l + 1, k / (size_t)r);
    z.r = x[(2 * (size_t)q - 1) * m + c.pos];
    z.i = conj ? -x[2 * (size_t)q * m + c.pos] : x[2 * (size_t)q * m + c.pos];
    return z;
  }
}

/* ------------------------------------------------------------------ real FFT, even length */

/* X[k] (0 <= k <= m) of the real signal from A = Z[k], B = Z[m-k] of its half-length complex FFT Z:
 * X = E - i W D with E = (A + conj B) / 2, D = (A - conj B) / 2, W = e^{-2 pi i k / n}. */
static cpx even_combine(cpx A, cpx B, size_t k, size_t step, const plan *p) {
  real er = (A.r + B.r) / 2, ei = (A.i - B.i) / 2, dr = (A.r - B.r) / 2, di = (A.i + B.i) / 2, c, s, wr, wi;
  cpx X;
  twiddle(p, step, k, p->n, &c, &s); /* W = c - i s */
  wr = c * dr + s * di;              /* W D */
  wi = c * di - s * dr;
  X.r = er + wi;
  X.i = ei - wr;
  return X;
}

/* The power |X[k]|^2, k = 0 .. n/2, of a forward-transformed even-length frame. */
static void even_power(const real *x, const plan *p, real *power) {
  counter a, b; /* positions of Z[k] and Z[m-k] */
  size_t k, step = table_step(p, p->n);
  counter_set(&a, p, 0, 0);
  counter_set(&b, p, 0, 0);
  for (k = 0; k <= p->m; ++k) {
    cpx A, B, X;
    A.r = x[2 * a.pos]; A.i = x[2 * a.pos + 1];
    B.r = x[2 * b.pos]; B.i = x[2 * b.pos + 1];
    X = even_combine(A, B, k, step, p);
    power[k] = X.r * X.r + X.i * X.i;
    counter_next(&a, p);
    counter_prev(&b, p);
  }
}

/* ------------------------------------------------------------------ band-pass */

/* |H| of the Butterworth band-pass at bin k of an n-point FFT: w = tan(pi k / n), reduced below pi/4. */
static real band_gain(size_t k, size_t n) {
  real w, t, pw = 1;
  int e = 2 * EDGEKD_FE_BAND_ORDER;
  if (k == 0 || 2 * k == n) return 0;
  if (4 * k <= n)
    w = FE_TAN((real)FE_PI * (real)k / (real)n);
  else
    w = 1 / FE_TAN((real)FE_PI * (real)(n - 2 * k) / ((real)2 * (real)n));
  t = (w * w - (real)EDGEKD_FE_BAND_WL * (real)EDGEKD_FE_BAND_WH) /
      (w * ((real)EDGEKD_FE_BAND_WH - (real)EDGEKD_FE_BAND_WL));
  while (e > 0) { /* t^(2 order) by squaring; overflow gives inf and a gain of 0, as in the reference */
    if (e & 1) pw *= t;
    t *= t;
    e >>= 1;
  }
  return 1 / FE_SQRT(1 + pw);
}

/* Even n: X = rfft, Y = gain X, then Z' = the half-length FFT of irfft(Y), pair (k, m-k) by pair, in place:
 * Z'[k] = E' + i O' with E' = (Y[k] + conj Y[m-k]) / 2, O' = (Y[k] - conj Y[m-k]) conj(W) / 2. */
static void even_filter(real *x, const plan *p) {
  size_t m = p->m, k;
  counter ca, cb;
  counter_set(&ca, p, 0, 0);
  counter_set(&cb, p, 0, 0);
  for (k = 0; k <= m / 2; ++k, counter_next(&ca, p), counter_prev(&cb, p)) {
    size_t a = ca.pos, b = cb.pos;
    cpx A, B, X1, X2, W;
    real g1 = band_gain(k, p->n), g2 = band_gain(m - k, p->n), er, ei, dr, di;
    A.r = x[2 * a]; A.i = x[2 * a + 1];
    B.r = x[2 * b]; B.i = x[2 * b + 1];
    X1 = even_combine(A, B, k, 0, p);
    X2 = even_combine(B, A, m - k, 0, p);
    X1.r *= g1; X1.i *= g1; X2.r *= g2; X2.i *= g2;
    er = (X1.r + X2.r) / 2;
    ei = (X1.i - X2.i) / 2;
    dr = (X1.r - X2.r) / 2;
    di = (X1.i + X2.i) / 2;
    twiddle(p, 0, k, p->n, &W.r, &W.i); /* conj(W) = c + i s */
    B.r = dr * W.r - di * W.i;          /* O' */
    B.i = dr * W.i + di * W.r;
    x[2 * a] = er - B.i;
    x[2 * a + 1] = ei + B.r;
    if (b != a) { /* Z'[m-k] = conj(E') + i conj(O') */
      x[2 * b] = er + B.i;
      x[2 * b + 1] = -ei + B.r;
    }
  }
}

/* Odd n: each kept bin (residue k of level l, element j: frequency S (k + r j)) times its gain. */
static void odd_filter(real *x, const plan *p) {
  size_t S = 1, m, j, f;
  int l, k;
  for (l = 0; l < p->nfac; ++l) {
    int r = p->fac[l];
    m = p->span[l];
    for (k = 1; k <= (r - 1) / 2; ++k) {
      counter c;
      counter_set(&c, p, l + 1, 0);
      for (j = 0; j < m; ++j, counter_next(&c, p)) {
        real g;
        f = S * ((size_t)k + (size_t)r * j);
        g = band_gain(f <= p->n - f ? f : p->n - f, p->n);
        x[(2 * (size_t)k - 1) * m + c.pos] *= g;
        x[2 * (size_t)k * m + c.pos] *= g;
      }
    }
    S *= (size_t)r;
  }
  x[0] *= band_gain(0, p->n);
}

/* The band-pass of x[p .. p+n) (reflect-padded, zero-filled to N), in place; returns the scale to apply. */
static real bandpass_in_place(real *x, size_t N) {
  plan p;
  make_plan(&p, N, NULL, 0);
  if (p.odd) {
    odd_forward(x, &p);
    odd_filter(x, &p);
    odd_inverse(x, &p);
    return (real)1 / (real)N;
  }
  cfft_forward(x, x + 1, 2, &p, 0);
  even_filter(x, &p);
  cfft_inverse(x, x + 1, 2, &p, 0);
  return (real)1 / (real)p.m;
}

/* ------------------------------------------------------------------ recording-wide steps */

float *edgekd_fe_sample_slot(void *work) {
  return (float *)((char *)work + (size_t)EDGEKD_FE_MAX_FFT * sizeof(real) -
                   (size_t)EDGEKD_FE_MAX_SAMPLES * sizeof(float));
}

size_t edgekd_fe_windows(size_t n_samples) {
  if (n_samples < (size_t)EDGEKD_FE_MIN_SAMPLES || n_samples > (size_t)EDGEKD_FE_MAX_SAMPLES) return 0;
  return 1 + (n_samples - EDGEKD_FE_WINDOW_SAMPLES) / EDGEKD_FE_HOP_SAMPLES;
}

/* One pass over the samples: the mean, and read_wav's refusals that need no mean (non-finite, constant, clipped). */
static int scan_samples(const float *x, size_t n, real *mean) {
  real total = 0;
  float lo = x[0], hi = x[0];
  size_t i = 0, clipped = 0;
  while (i < n) {
    real part = 0;
    size_t end = n - i > FE_SUM_BLOCK ? i + FE_SUM_BLOCK : n;
    for (; i < end; ++i) {
      float v = x[i];
      if (!isfinite(v)) return EDGEKD_FE_ERR_NOT_FINITE;
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
      clipped += fabsf(v) >= 0.999f;
      part += (real)v;
    }
    total += part;
  }
  *mean = total / (real)n;
#if EDGEKD_FE_REFUSE
  if (hi == lo) return EDGEKD_FE_ERR_CONSTANT; /* all zero included */
  if ((real)clipped / (real)n > (real)EDGEKD_FE_CLIP_FRACTION) return EDGEKD_FE_ERR_CLIPPED;
#else
  (void)clipped;
#endif
  return EDGEKD_FE_OK;
}

/* Sum of squares of x[0 .. n), in blocks. */
static real sum_squares_real(const real *x, size_t n) {
  real total = 0;
  size_t i = 0;
  while (i < n) {
    real part = 0;
    size_t end = n - i > FE_SUM_BLOCK ? i + FE_SUM_BLOCK : n;
    for (; i < end; ++i) part += x[i] * x[i];
    total += part;
  }
  return total;
}

/* remove_mean + reflect pad + zero fill into x (ascending copy: safe from the sample slot at the buffer's end). */
static void load_padded(real *x, const float *samples, size_t n, size_t pad, size_t N, real mean) {
  size_t i;
  for (i = 0; i < n; ++i) x[pad + i] = (real)samples[i] - mean;
  for (i = 1; i <= pad; ++i) {
    x[pad - i] = x[pad + i];
    x[pad + n - 1 + i] = x[pad + n - 1 - i];
  }
  for (i = n + 2 * pad; i < N; ++i) x[i] = 0;
}

int edgekd_fe_prepare(edgekd_fe_state *st, const float *samples, size_t n, void *work, size_t work_bytes) {
  real *x = (real *)work, mean = 0, scale;
  size_t pad, N, i;
  int rc;
  if (st == NULL) return EDGEKD_FE_ERR_ARGUMENT;
  st->ready = 0;
  if (samples == NULL || work == NULL || (uintptr_t)work % sizeof(real) != 0) return EDGEKD_FE_ERR_ARGUMENT;
  if (n < (size_t)EDGEKD_FE_MIN_SAMPLES) return EDGEKD_FE_ERR_TOO_SHORT;
  if (n > (size_t)EDGEKD_FE_MAX_SAMPLES) return EDGEKD_FE_ERR_TOO_LONG;
  if (work_bytes < EDGEKD_FE_WORK_BYTES) return EDGEKD_FE_ERR_WORK_SIZE;
  pad = n - 1 < (size_t)EDGEKD_FE_PAD_AT_LEAST ? n - 1 : (size_t)EDGEKD_FE_PAD_AT_LEAST;
  N = next_fast_len(n + 2 * pad);
  if (N > (size_t)EDGEKD_FE_MAX_FFT) return EDGEKD_FE_ERR_TOO_LONG;
  rc = scan_samples(samples, n, &mean);
  if (rc != EDGEKD_FE_OK) return rc;
  load_padded(x, samples, n, pad, N, mean);
#if EDGEKD_FE_REFUSE
  if (FE_SQRT(sum_squares_real(x + pad, n) / (real)n) < (real)EDGEKD_FE_SILENCE_RMS) return EDGEKD_FE_ERR_SILENT;
#endif
  scale = bandpass_in_place(x, N);
  for (i = 0; i < n; ++i) x[i] = (real)(float)(x[pad + i] * scale); /* float32, as the reference's output */
  st->work = work;
  st->n_samples = n;
  st->n_windows = edgekd_fe_windows(n);
  st->ready = FE_READY;
  return EDGEKD_FE_OK;
}

const edgekd_fe_real *edgekd_fe_bandpassed(const edgekd_fe_state *st) {
  return st != NULL && st->ready == FE_READY ? (const real *)st->work : NULL;
}

/* ------------------------------------------------------------------ per-window steps */

/* q = clip(round_half_to_even(x / scale + zero_point)) in float32, each operation rounded to float. */
static int8_t quantize(float v) {
  float t = v / EDGEKD_FE_INPUT_SCALE;
  float f, d;
  int q;
  t = t + (float)EDGEKD_FE_INPUT_ZERO_POINT;
  if (!(t > (float)EDGEKD_FE_INPUT_QMIN)) return (int8_t)EDGEKD_FE_INPUT_QMIN; /* NaN too */
  if (t >= (float)EDGEKD_FE_INPUT_QMAX) return (int8_t)EDGEKD_FE_INPUT_QMAX;
  f = floorf(t);
  d = t - f; /* exact */
  q = (int)f;
  if (d > 0.5f || (d == 0.5f && q % 2 != 0)) ++q;
  return (int8_t)q;
}

/* log(max(mel, floor)) of frame t from its power spectrum, into column t of the (mels, frames) outputs. */
static void mel_log_column(const real *power, size_t t, int8_t *input, float *features) {
  int mel;
  for (mel = 0; mel < EDGEKD_FE_N_MELS; ++mel) {
    const real *wt = EDGEKD_FE_MEL_WEIGHTS + EDGEKD_FE_MEL_OFFSET[mel];
    const real *pw = power + EDGEKD_FE_MEL_FIRST[mel];
    real acc = 0;
    float v;
    int j;
    size_t idx = (size_t)mel * EDGEKD_FE_N_FRAMES + t; /* NCHW and NHWC agree: one channel */
    for (j = 0; j < EDGEKD_FE_MEL_COUNT[mel]; ++j) acc += pw[j] * wt[j];
    v = (float)FE_LOG(acc > (real)EDGEKD_FE_LOG_FLOOR ? acc : (real)EDGEKD_FE_LOG_FLOOR);
    if (features != NULL) features[idx] = v;
    if (input != NULL) input[idx] = quantize(v);
  }
}

int edgekd_fe_window(const edgekd_fe_state *st, size_t window, int8_t *input, float *features) {
  const real *sig;
  real *frame, *power, ss = 0, denom;
  plan p;
  size_t i, t, k;
  if (st == NULL || st->ready != FE_READY) return EDGEKD_FE_ERR_STATE;
  if (window >= st->n_windows) return EDGEKD_FE_ERR_ARGUMENT;
  sig = (const real *)st->work + window * EDGEKD_FE_HOP_SAMPLES;
  frame = (real *)st->work + EDGEKD_FE_MAX_FFT;
  power = frame + EDGEKD_FE_N_FFT;
  make_plan(&p, EDGEKD_FE_N_FFT, EDGEKD_FE_FFT_TABLE, EDGEKD_FE_N_FFT);
  for (i = 0; i < (size_t)EDGEKD_FE_WINDOW_SAMPLES;) { /* unit_rms: w / (sqrt(mean(w^2)) + epsilon) */
    real part = 0;
    size_t end = EDGEKD_FE_WINDOW_SAMPLES - i > FE_SUM_BLOCK ? i + FE_SUM_BLOCK : EDGEKD_FE_WINDOW_SAMPLES;
    for (; i < end; ++i) part += sig[i] * sig[i];
    ss += part;
  }
  denom = FE_SQRT(ss / (real)EDGEKD_FE_WINDOW_SAMPLES) + (real)EDGEKD_FE_UNIT_RMS_EPSILON;
  for (t = 0; t < (size_t)EDGEKD_FE_N_FRAMES; ++t) {
    const real *src = sig + t * EDGEKD_FE_HOP_LENGTH;
    for (i = 0; i < (size_t)EDGEKD_FE_N_FFT; ++i) frame[i] = (src[i] / denom) * EDGEKD_FE_HANN[i];
    if (p.odd) {
      odd_forward(frame, &p);
      for (k = 0; k <= (size_t)EDGEKD_FE_N_FFT / 2; ++k) {
        cpx z = odd_bin(frame, &p, k);
        power[k] = z.r * z.r + z.i * z.i;
      }
    } else {
      cfft_forward(frame, frame + 1, 2, &p, 0);
      even_power(frame, &p, power);
    }
    mel_log_column(power, t, input, features);
  }
  return EDGEKD_FE_OK;
}

int edgekd_fe_run(const float *samples, size_t n_samples, void *work, size_t work_bytes, int8_t *input,
                  float *features, size_t *n_windows) {
  edgekd_fe_state st;
  size_t w;
  int rc = edgekd_fe_prepare(&st, samples, n_samples, work, work_bytes);
  if (n_windows != NULL) *n_windows = rc == EDGEKD_FE_OK ? st.n_windows : 0;
  for (w = 0; rc == EDGEKD_FE_OK && w < st.n_windows; ++w)
    rc = edgekd_fe_window(&st, w, input == NULL ? NULL : input + w * EDGEKD_FE_INPUT_VALUES,
                          features == NULL ? NULL : features + w * EDGEKD_FE_INPUT_VALUES);
  return rc;
}
