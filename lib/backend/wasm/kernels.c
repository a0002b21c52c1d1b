/*
 * Elementwise training kernels for the tfjs wasm backend, compiled to a small
 * WebAssembly module (SIMD) that imports tfjs' own memory, so they read and
 * write tensors on its heap in place. Build: scripts/build_wasm_kernels.sh.
 *
 * Pointers are byte offsets into tfjs' heap. These functions must not use a
 * stack or static data: the module shares memory it does not own, and the
 * build script rejects any output that touches the stack pointer or has a
 * data segment.
 *
 * Layout: x is row-major [rows, c]; per-feature arrays have c entries.
 * Pointers marked restrict must not overlap.
 */
#define EXPORT(name) __attribute__((export_name(#name)))

/*
 * Sums over rows go through float32 partials p (c entries, caller's scratch)
 * flushed into the float64 totals every BLOCK rows: the loops stay 4 lanes
 * wide, and a block of 16 float32 additions loses nothing that matters.
 */
#define BLOCK 16

static inline void flush(double *total, float *partial, int c) {
  for (int j = 0; j < c; j++) {
    total[j] += (double)partial[j];
    partial[j] = 0.0f;
  }
}

/*
 * s1[j] += x - ref[j], s2[j] += (x - ref[j])^2 over all rows (float64
 * totals; p1, p2 float32 partials, zeroed here).
 */
EXPORT(bn_stats)
void bn_stats(const float *restrict x, int rows, int c,
              const float *restrict ref, double *restrict s1,
              double *restrict s2, float *restrict p1, float *restrict p2) {
  for (int j = 0; j < c; j++) p1[j] = p2[j] = 0.0f;
  for (int r0 = 0; r0 < rows; r0 += BLOCK) {
    int r1 = r0 + BLOCK < rows ? r0 + BLOCK : rows;
    for (int r = r0; r < r1; r++, x += c) {
      for (int j = 0; j < c; j++) {
        float v = x[j] - ref[j];
        p1[j] += v;
        p2[j] += v * v;
      }
    }
    flush(s1, p1, c);
    flush(s2, p2, c);
  }
}

/* Activation codes, as lib/backend/batch_norm_kernels.ts numbers them. */
enum { LINEAR = 0, RELU = 1, TANH = 2, HARDTANH = 3, SOFTPLUS = 4 };

static inline float bits_to_float(int i) {
  union { int i; float f; } u = {i};
  return u.f;
}

static inline int float_to_bits(float f) {
  union { float f; int i; } u = {f};
  return u.i;
}

/*
 * exp(x), Cephes' single-precision polynomial (about 1 ulp), branch-free;
 * 0 below -87, infinity above 88.
 * Adding 1.5 * 2^23 rounds x / ln 2 to an integer n held in the low mantissa
 * bits, which avoids float-to-int conversions (slow in wasm SIMD).
 */
static inline float exp_approx(float x) {
  float t = x * 1.44269504088896341f + 12582912.0f;
  float n = t - 12582912.0f;
  int ni = float_to_bits(t) - 0x4B400000;
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  float y = p * bits_to_float((ni + 127) << 23);
  /* Out of range the above is garbage: select the limits (a clamp of x
   * compiles to wasm's NaN-propagating min/max, which V8 makes slow). */
  y = x < -87.0f ? 0.0f : y;
  return x > 88.0f ? __builtin_inff() : y;
}

/* log(u) for u in [1, 2], Cephes' single-precision polynomial. */
static inline float log_1_2(float u) {
  int big = u > 1.41421356f;
  float e = big ? 1.0f : 0.0f;
  float x = (big ? 0.5f * u : u) - 1.0f;
  float z = x * x;
  float y = 7.0376836292e-2f;
  y = y * x - 1.1514610310e-1f;
  y = y * x + 1.1676998740e-1f;
  y = y * x - 1.2420140846e-1f;
  y = y * x + 1.4249322787e-1f;
  y = y * x - 1.6668057665e-1f;
  y = y * x + 2.0000714765e-1f;
  y = y * x - 2.4999993993e-1f;
  y = y * x + 3.3333331174e-1f;
  y = y * x * z - 2.12194440e-4f * e - 0.5f * z;
  return x + y + 0.693359375f * e;
}

/*
 * log(1 + t) for t in [0, 1]: 2 atanh(s) with s = t / (2 + t) <= 1/3, whose
 * odd series converges fast; accurate for tiny t too.
 */
static inline float log1p_0_1(float t) {
  float s = t / (2.0f + t), s2 = s * s;
  float p = 1.0f / 15.0f;
  p = p * s2 + 1.0f / 13.0f;
  p = p * s2 + 1.0f / 11.0f;
  p = p * s2 + 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  return 2.0f * (s + s * s2 * p);
}

/* tanh(z) = 1 - 2 / (exp(2z) + 1): about 1e-7 absolute error. */
static inline float tanh_approx(float z) {
  return 1.0f - 2.0f / (exp_approx(2.0f * z) + 1.0f);
}

static inline float softplus_approx(float z) {
  float a = z < 0.0f ? -z : z;
  return (z > 0.0f ? z : 0.0f) + log1p_0_1(exp_approx(-a));
}

#define ROWS_LOOP(body)                                                        \
  for (int r = 0; r < rows; r++, x += c, y += c)                               \
    for (int j = 0; j < c; j++) {                                              \
      float z = x[j] * scale[j] + shift[j];                                    \
      body;                                                                    \
    }

/* y = act(x * scale + shift), act one of the codes above. */
EXPORT(bn_apply)
void bn_apply(const float *x, float *y, int rows, int c, const float *scale,
              const float *shift, int act) {
  switch (act) {
  case RELU:
    ROWS_LOOP(y[j] = z > 0.0f ? z : 0.0f);
    break;
  case TANH:
    ROWS_LOOP(y[j] = tanh_approx(z));
    break;
  case HARDTANH:
    ROWS_LOOP(z = z < -1.0f ? -1.0f : z; y[j] = z > 1.0f ? 1.0f : z);
    break;
  case SOFTPLUS:
    ROWS_LOOP(y[j] = softplus_approx(z));
    break;
  default:
    ROWS_LOOP(y[j] = z);
  }
}

#define GRAD_LOOP(expr, store)                                                 \
  for (int r0 = 0; r0 < rows; r0 += BLOCK) {                                   \
    int r1 = r0 + BLOCK < rows ? r0 + BLOCK : rows;                            \
    for (int r = r0; r < r1; r++, x += c, dy += c, y += c, g += c) {           \
      _Pragma("clang loop vectorize(assume_safety)")                           \
      for (int j = 0; j < c; j++) {                                            \
        float d = dy[j];                                                       \
        float z = x[j] * scale[j] + shift[j];                                  \
        (void)z;                                                               \
        d = expr;                                                              \
        store;                                                                 \
        p1[j] += d;                                                            \
        p2[j] += d * (x[j] - meanx[j]);                                        \
      }                                                                        \
    }                                                                          \
    flush(sumG, p1, c);                                                        \
    flush(sumGX, p2, c);                                                       \
  }

/*
 * Backward pass 1: the per-feature sums sumG[j] += g, sumGX[j] += g * (x -
 * meanx[j]) of g = dy * act'(z), z = x * scale + shift with the forward's
 * own scale and shift, so z and hence the relu and hardtanh masks are
 * bit-identical to the forward's (tanh uses 1 - y^2, softplus sigmoid(z)).
 * Only softplus stores g (its exp is not worth recomputing); the other
 * activations recompute it in pass 2. Float64 totals; p1, p2 float32
 * partials, zeroed here.
 */
EXPORT(bn_grad_sums)
void bn_grad_sums(const float *restrict x, const float *restrict dy,
                  const float *restrict y, float *restrict g, int rows, int c,
                  const float *restrict scale, const float *restrict shift,
                  const float *restrict meanx, int act, double *restrict sumG,
                  double *restrict sumGX, float *restrict p1,
                  float *restrict p2) {
  for (int j = 0; j < c; j++) p1[j] = p2[j] = 0.0f;
  switch (act) {
  case RELU:
    GRAD_LOOP(z > 0.0f ? d : 0.0f, (void)0);
    break;
  case TANH:
    GRAD_LOOP(d * (1.0f - y[j] * y[j]), (void)0);
    break;
  case HARDTANH:
    GRAD_LOOP((z >= -1.0f && z <= 1.0f) ? d : 0.0f, (void)0);
    break;
  case SOFTPLUS:
    GRAD_LOOP(d / (1.0f + exp_approx(-z)), g[j] = d);
    break;
  default:
    GRAD_LOOP(d, (void)0);
  }
}

#define APPLY_LOOP(expr)                                                       \
  for (int r = 0; r < rows; r++, x += c, dy += c, y += c, g += c, dx += c) {   \
    _Pragma("clang loop vectorize(assume_safety)")                             \
    for (int j = 0; j < c; j++) {                                              \
      float d = dy[j];                                                         \
      float z = x[j] * scale[j] + shift[j];                                    \
      (void)z;                                                                 \
      d = expr;                                                                \
      dx[j] = d * scale[j] + x[j] * coef[j] + offset[j];                       \
    }                                                                          \
  }

/*
 * Backward pass 2: dx = g * scale + x * coef + offset, g recomputed as in
 * pass 1 (softplus: read from g, which may be dx itself).
 */
EXPORT(bn_grad_apply)
void bn_grad_apply(const float *x, const float *dy, const float *y,
                   const float *g, float *dx, int rows, int c,
                   const float *scale, const float *shift, const float *coef,
                   const float *offset, int act) {
  switch (act) {
  case RELU:
    APPLY_LOOP(z > 0.0f ? d : 0.0f);
    break;
  case TANH:
    APPLY_LOOP(d * (1.0f - y[j] * y[j]));
    break;
  case HARDTANH:
    APPLY_LOOP((z >= -1.0f && z <= 1.0f) ? d : 0.0f);
    break;
  case SOFTPLUS:
    APPLY_LOOP(g[j]);
    break;
  default:
    APPLY_LOOP(d);
  }
}

/*
 * Nesterov momentum (the seed's rule): u = m * mem - lr * g;
 * p' = p + m * u - lr * g; mem' = u.
 */
EXPORT(nesterov)
void nesterov(const float *p, const float *mem, const float *g, float *outP,
              float *outM, int n, float lr, float m) {
  for (int i = 0; i < n; i++) {
    float step = lr * g[i];
    float u = m * mem[i] - step;
    outM[i] = u;
    outP[i] = p[i] + m * u - step;
  }
}

/* murmur3's 32-bit finalizer: a strong mix of a counter into random bits. */
static inline unsigned fmix32(unsigned h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

/* log(x) for normal positive x: exponent split, then log_1_2. */
static inline float log_approx(float x) {
  union { float f; int i; } u = {x};
  int e = ((u.i >> 23) & 0xff) - 127;
  u.i = (u.i & 0x007fffff) | 0x3f800000;
  return log_1_2(u.f) + (float)e * 0.693147180559945f;
}

/* sin(2 pi t) for t in [0, 1): reduced to [-pi/2, pi/2], Taylor to x^11. */
static inline float sin_turns(float t) {
  float s = t - 0.5f; /* sin(2 pi t) = -sin(2 pi s) */
  s = s > 0.25f ? 0.5f - s : s;
  s = s < -0.25f ? -0.5f - s : s;
  float x = 6.28318530718f * s, x2 = x * x;
  float p = -2.50521084e-8f;
  p = p * x2 + 2.75573192e-6f;
  p = p * x2 - 1.98412698e-4f;
  p = p * x2 + 8.33333333e-3f;
  p = p * x2 - 1.66666667e-1f;
  return -(x + x * x2 * p);
}

/*
 * Box-Muller from counter-based uniforms: pair i of stream `key` gives
 * radius sqrt(-2 log u1) and turn u2, u1 in (0, 1), u2 in [0, 1). The 24-bit
 * values convert as signed ints: unsigned conversion is slow in wasm SIMD.
 */
#define NORMAL_PAIR(i, radius, turn)                                           \
  unsigned h1 = fmix32(fmix32(key + 2u * (unsigned)(i)) + key);                \
  unsigned h2 = fmix32(fmix32(key + 2u * (unsigned)(i) + 1u) + key);           \
  float u1 = (float)(int)(h1 >> 8) * 5.9604645e-8f + 2.98023224e-8f;          \
  float turn = (float)(int)(h2 >> 8) * 5.9604645e-8f;                         \
  float radius = __builtin_sqrtf(-2.0f * log_approx(u1));

/*
 * n standard normal floats for `seed`: out[i] = r_i cos(2 pi t_i) and
 * out[half + i] = r_i sin(2 pi t_i) for pair i (half = ceil(n / 2)).
 */
EXPORT(randn)
void randn(float *out, int n, unsigned seed) {
  unsigned key = fmix32(seed ^ 0x9e3779b9u);
  int half = n / 2;
  for (int i = 0; i < half; i++) {
    NORMAL_PAIR(i, r, t)
    float tc = t + 0.25f;
    tc = tc >= 1.0f ? tc - 1.0f : tc;
    out[i] = r * sin_turns(tc);
    out[half + (n & 1) + i] = r * sin_turns(t);
  }
  if (n & 1) {
    NORMAL_PAIR(half, r, t)
    float tc = t + 0.25f;
    tc = tc >= 1.0f ? tc - 1.0f : tc;
    out[half] = r * sin_turns(tc);
  }
}

/*
 * Reductions over n elements: 16 float32 lanes of partials p (caller's
 * scratch) flushed into a float64 total every 256 elements.
 */
#define REDUCE(n, expr)                                                        \
  double total = 0.0;                                                          \
  for (int j = 0; j < 16; j++) p[j] = 0.0f;                                    \
  int full = (n) & ~15;                                                        \
  for (int b0 = 0; b0 < full; b0 += 256) {                                     \
    int b1 = b0 + 256 < full ? b0 + 256 : full;                                \
    for (int b = b0; b < b1; b += 16) {                                        \
      _Pragma("clang loop vectorize(assume_safety)")                           \
      for (int j = 0; j < 16; j++) {                                           \
        int i = b + j;                                                         \
        p[j] += (expr);                                                        \
      }                                                                        \
    }                                                                          \
    for (int j = 0; j < 16; j++) {                                             \
      total += (double)p[j];                                                   \
      p[j] = 0.0f;                                                             \
    }                                                                          \
  }                                                                            \
  for (int i = full; i < (n); i++) total += (double)(expr);                    \
  return total;

/* sum((x - y)^2). */
EXPORT(sq_err_sum)
double sq_err_sum(const float *restrict x, const float *restrict y, int n,
                  float *restrict p) {
  REDUCE(n, (x[i] - y[i]) * (x[i] - y[i]))
}

/* dy = scale * (y - x), the gradient of scale / 2 * sum((x - y)^2) in y. */
EXPORT(sq_err_grad)
void sq_err_grad(const float *restrict x, const float *restrict y,
                 float *restrict dy, int n, float scale) {
  for (int i = 0; i < n; i++) dy[i] = scale * (y[i] - x[i]);
}

/* sum(2 log(sigma + 1e-12) - sigma^2 - mu^2 + 1); the KL is -0.5 times it. */
EXPORT(gauss_kl_sum)
double gauss_kl_sum(const float *restrict mu, const float *restrict sigma,
                    int n, float *restrict p) {
  REDUCE(n, 2.0f * log_approx(sigma[i] + 1e-12f) - sigma[i] * sigma[i] -
                mu[i] * mu[i] + 1.0f)
}

/* The KL's gradient times g: dmu = g mu, dsigma = g (sigma - 1 / (sigma + 1e-12)). */
EXPORT(gauss_kl_grad)
void gauss_kl_grad(const float *restrict mu, const float *restrict sigma,
                   float *restrict dmu, float *restrict dsigma, int n,
                   float g) {
  for (int i = 0; i < n; i++) {
    dmu[i] = g * mu[i];
    dsigma[i] = g * (sigma[i] - 1.0f / (sigma[i] + 1e-12f));
  }
}

/*
 * Rows [rowStart, rowEnd) of the im2col matrix of NHWC x into col (from its
 * start): one row per output pixel (b, oy, ox), one column per filter tap
 * (fy, fx, channel); taps in the padding are 0. See lib/backend/im2col.ts.
 */
EXPORT(im2col_rows)
void im2col_rows(const float *restrict x, float *restrict col, int inH,
                 int inW, int inC, int outH, int outW, int fH, int fW,
                 int strideH, int strideW, int dilationH, int dilationW,
                 int padTop, int padLeft, int rowStart, int rowEnd) {
  int tapRow = fW * inC, k = fH * tapRow, rowStep = inW * inC;
  int imageStep = inH * rowStep;
  for (int r = rowStart; r < rowEnd; r++) {
    int ox = r % outW, t = r / outW, oy = t % outH, b = t / outH;
    float *d = col + (r - rowStart) * k;
    const float *image = x + b * imageStep;
    int iy0 = oy * strideH - padTop, ix0 = ox * strideW - padLeft;
    for (int fy = 0; fy < fH; fy++, d += tapRow) {
      int iy = iy0 + fy * dilationH;
      if (iy < 0 || iy >= inH) {
        for (int i = 0; i < tapRow; i++) d[i] = 0.0f;
        continue;
      }
      const float *row = image + iy * rowStep;
      if (dilationW == 1 && ix0 >= 0 && ix0 + fW <= inW) {
        const float *s = row + ix0 * inC; /* one contiguous run in NHWC */
        for (int i = 0; i < tapRow; i++) d[i] = s[i];
        continue;
      }
      for (int fx = 0; fx < fW; fx++) {
        int ix = ix0 + fx * dilationW;
        float *e = d + fx * inC;
        if (ix < 0 || ix >= inW) {
          for (int ch = 0; ch < inC; ch++) e[ch] = 0.0f;
        } else {
          const float *s = row + ix * inC;
          for (int ch = 0; ch < inC; ch++) e[ch] = s[ch];
        }
      }
    }
  }
}

/*
 * dx of 2x2 max pooling with windows that do not overlap (stride >= 2, no
 * padding), for every window: dy goes to the window's first strict maximum
 * in the order (0,0), (0,1), (1,0), (1,1), as tfjs-backend-cpu scans (ties
 * to the first, NaN never a maximum, none if all are -inf or NaN); the
 * window's other taps get 0. dx outside every window is left as it is.
 */
EXPORT(max_pool_grad_2x2)
void max_pool_grad_2x2(const float *restrict x, const float *restrict dy,
                       float *restrict dx, int batch, int inH, int inW, int c,
                       int outH, int outW, int strideH, int strideW) {
  int rowStep = inW * c;
  for (int b = 0; b < batch; b++) {
    for (int oy = 0; oy < outH; oy++) {
      for (int ox = 0; ox < outW; ox++, dy += c) {
        int p = b * inH * rowStep + oy * strideH * rowStep + ox * strideW * c;
        const float *xa = x + p, *xb = xa + c, *xc = xa + rowStep,
                    *xd = xc + c;
        float *da = dx + p, *db = da + c, *dc = da + rowStep, *dd = dc + c;
#pragma clang loop vectorize(enable)
        for (int ch = 0; ch < c; ch++) {
          /* The scan as selects: sa..sd say which tap is the maximum so far. */
          float a = xa[ch], bb = xb[ch], cc = xc[ch], d = xd[ch];
          int sa = a > -__builtin_inff();
          float best = sa ? a : -__builtin_inff();
          int sb = bb > best;
          best = sb ? bb : best;
          int sc = cc > best;
          best = sc ? cc : best;
          int sd = d > best;
          float g = dy[ch];
          dd[ch] = sd ? g : 0.0f;
          dc[ch] = (sc && !sd) ? g : 0.0f;
          db[ch] = (sb && !sc && !sd) ? g : 0.0f;
          da[ch] = (sa && !sb && !sc && !sd) ? g : 0.0f;
        }
      }
    }
  }
}

/*
 * Optimizer updates (lib/optim/, registered in lib/backend/optimizer_kernels.ts):
 * one pass over a parameter, its state and its gradient, writing fresh
 * outputs, instead of a chain of elementwise kernels with full-size
 * temporaries. Coefficients such as 1 - decay come from the caller, computed
 * in float64 and rounded once, as the tf-ops path rounds them.
 */

/* sum(x^2) (p: 16 floats of scratch), the squares in float32 as tf.square's. */
EXPORT(sum_sq)
double sum_sq(const float *restrict x, int n, float *restrict p) {
  REDUCE(n, x[i] * x[i])
}

/*
 * The seed's rescaling RMSProp (lib/optim/rmsprop_rescaled.ts) for one
 * parameter: the gradient is scale * g, or 0.1 * p when shrink (the step's
 * gradient norm was not finite); the running square and average take it with
 * coefficient 0.9; then the Nesterov step of nesterov() above.
 */
#define RMSPROP_RESCALED_LOOP(grad)                                            \
  for (int i = 0; i < n; i++) {                                                \
    float gi = (grad);                                                         \
    outSq[i] = 0.9f * sq[i] + 0.1f * (gi * gi);                                \
    outAvg[i] = 0.9f * avg[i] + 0.1f * gi;                                     \
    float step = lr * gi;                                                      \
    float u = m * mem[i] - step;                                               \
    outM[i] = u;                                                               \
    outP[i] = p[i] + m * u - step;                                             \
  }

EXPORT(rmsprop_rescaled)
void rmsprop_rescaled(const float *restrict p, const float *restrict mem,
                      const float *restrict sq, const float *restrict avg,
                      const float *restrict g, float *restrict outP,
                      float *restrict outM, float *restrict outSq,
                      float *restrict outAvg, int n, float lr, float m,
                      float scale, int shrink) {
  if (shrink) {
    RMSPROP_RESCALED_LOOP(0.1f * p[i])
  } else {
    RMSPROP_RESCALED_LOOP(scale * g[i])
  }
}

/*
 * Centred RMSProp with momentum (Graves 2013, eqs. 38-41; lib/optim/rmsprop.ts):
 * ms' = decay ms + (1 - decay) g^2, mg' = decay mg + (1 - decay) g,
 * step = lr g / sqrt(max(ms' - mg'^2, 0) + eps), d' = m d - step, then
 * p' = p + d' (Graves) or, when nesterov, p' = p + m d' - step.
 */
#define RMSPROP_CENTERED_LOOP(newParam)                                        \
  for (int i = 0; i < n; i++) {                                                \
    float gi = g[i];                                                           \
    float s2 = decay * ms[i] + oneMinusDecay * (gi * gi);                      \
    float s1 = decay * mg[i] + oneMinusDecay * gi;                             \
    float var = s2 - s1 * s1;                                                  \
    var = var < 0.0f ? 0.0f : var; /* NaN stays NaN */                        \
    float step = (lr * gi) / __builtin_sqrtf(var + eps);                       \
    float u = m * d[i] - step;                                                 \
    outMs[i] = s2;                                                             \
    outMg[i] = s1;                                                             \
    outD[i] = u;                                                               \
    outP[i] = (newParam);                                                      \
  }

EXPORT(rmsprop_centered)
void rmsprop_centered(const float *restrict p, const float *restrict ms,
                      const float *restrict mg, const float *restrict d,
                      const float *restrict g, float *restrict outP,
                      float *restrict outMs, float *restrict outMg,
                      float *restrict outD, int n, float lr, float decay,
                      float oneMinusDecay, float m, float eps, int nesterov) {
  if (nesterov) {
    RMSPROP_CENTERED_LOOP(p[i] + m * u - step)
  } else {
    RMSPROP_CENTERED_LOOP(p[i] + u)
  }
}

/*
 * Adam (Kingma & Ba 2015, algorithm 1; lib/optim/adam.ts):
 * m1' = beta1 m1 + (1 - beta1) g, m2' = beta2 m2 + (1 - beta2) g^2,
 * p' = p - lr (m1' / c1) / (sqrt(m2' / c2) + eps), c1 = 1 - beta1^t and
 * c2 = 1 - beta2^t the bias corrections of step t.
 */
EXPORT(adam)
void adam(const float *restrict p, const float *restrict m1,
          const float *restrict m2, const float *restrict g,
          float *restrict outP, float *restrict outM1, float *restrict outM2,
          int n, float lr, float beta1, float oneMinusBeta1, float beta2,
          float oneMinusBeta2, float c1, float c2, float eps) {
  for (int i = 0; i < n; i++) {
    float gi = g[i];
    float a = beta1 * m1[i] + oneMinusBeta1 * gi;
    float b = beta2 * m2[i] + oneMinusBeta2 * (gi * gi);
    outM1[i] = a;
    outM2[i] = b;
    float mh = a / c1, vh = b / c2;
    outP[i] = p[i] - (mh / (__builtin_sqrtf(vh) + eps)) * lr;
  }
}

/*
 * The seed's depool_2d (lib/nn/depool.ts) on NHWC maps: x is rows = n * h
 * rows of w pixels of c channels; y gets each pixel at the top-left of an
 * f x f block of zeros (rows * f rows of w * f pixels).
 */
EXPORT(depool2d)
void depool2d(const float *restrict x, float *restrict y, int rows, int w,
              int c, int f) {
  int outRow = w * f * c;
  for (int r = 0; r < rows; r++) {
    float *o = y + (long)r * f * outRow;
    for (int j = 0; j < w; j++, x += c) {
      float *d = o + j * f * c;
      for (int ch = 0; ch < c; ch++) d[ch] = x[ch];
      for (int i = c; i < f * c; i++) d[i] = 0.0f;
    }
    for (int i = outRow; i < f * outRow; i++) o[i] = 0.0f;
  }
}

/* depool2d's gradient: dx = the top-left element of each f x f block of dy. */
EXPORT(depool2d_grad)
void depool2d_grad(const float *restrict dy, float *restrict dx, int rows,
                   int w, int c, int f) {
  int outRow = w * f * c;
  for (int r = 0; r < rows; r++) {
    const float *s = dy + (long)r * f * outRow;
    for (int j = 0; j < w; j++, dx += c) {
      const float *e = s + j * f * c;
      for (int ch = 0; ch < c; ch++) dx[ch] = e[ch];
    }
  }
}

/*
 * col2im, the adjoint of im2col_rows (see lib/backend/im2col.ts), for rows
 * [rowStart, rowEnd) of col (from its start): each row's taps are added onto
 * dx (NHWC), taps in the padding dropped. Float adds in the same order as
 * im2col.ts's col2im, so the results are the same bit for bit. dx must be
 * zeroed before the first chunk.
 */
EXPORT(col2im_rows)
void col2im_rows(const float *restrict col, float *restrict dx, int inH,
                 int inW, int inC, int outH, int outW, int fH, int fW,
                 int strideH, int strideW, int dilationH, int dilationW,
                 int padTop, int padLeft, int rowStart, int rowEnd) {
  int tapRow = fW * inC, rowStep = inW * inC, imageStep = inH * rowStep;
  for (int r = rowStart; r < rowEnd; r++) {
    int ox = r % outW, t = r / outW, oy = t % outH, b = t / outH;
    float *image = dx + b * imageStep;
    int iy0 = oy * strideH - padTop, ix0 = ox * strideW - padLeft;
    for (int fy = 0; fy < fH; fy++, col += tapRow) {
      int iy = iy0 + fy * dilationH;
      if (iy < 0 || iy >= inH) continue;
      float *row = image + iy * rowStep;
      if (dilationW == 1 && ix0 >= 0 && ix0 + fW <= inW) {
        float *d = row + ix0 * inC;
        for (int i = 0; i < tapRow; i++) d[i] += col[i];
        continue;
      }
      for (int fx = 0; fx < fW; fx++) {
        int ix = ix0 + fx * dilationW;
        if (ix < 0 || ix >= inW) continue;
        float *d = row + ix * inC;
        const float *s = col + fx * inC;
        for (int ch = 0; ch < inC; ch++) d[ch] += s[ch];
      }
    }
  }
}

/*
 * col2im by gathering, for whole images [imageStart, imageEnd) of dx (NHWC;
 * col holds those images' rows from its start): every element of dx is
 * written once with the sum of the col entries im2col copied it to. The
 * (output index, tap) pairs that read each input row and column come from
 * the caller: rowsTab has 1 + 2 fH ints per input row (the count, then the
 * pairs), colsTab 1 + 2 fW per input column. The sums are the ones of
 * im2col.ts's col2imImages, bit for bit: pairs in the same order, one add in
 * float32, four as (a + b) + (c + d) and more one after the other in
 * float64 (JavaScript's arithmetic), rounded once (acc: inC doubles of
 * scratch).
 */
EXPORT(col2im_images)
void col2im_images(const float *restrict col, float *restrict dx, int inH,
                   int inW, int inC, int outH, int outW, int fH, int fW,
                   int imageStart, int imageEnd, const int *restrict rowsTab,
                   const int *restrict colsTab, double *restrict acc) {
  int k = fH * fW * inC, perImage = outH * outW * k;
  int rowStride = 1 + 2 * fH, colStride = 1 + 2 * fW;
  float *d = dx + imageStart * inH * inW * inC;
  for (int b = imageStart; b < imageEnd; b++) {
    const float *image = col + (b - imageStart) * perImage;
    for (int iy = 0; iy < inH; iy++) {
      const int *ry = rowsTab + iy * rowStride;
      int nr = ry[0];
      for (int ix = 0; ix < inW; ix++, d += inC) {
        const int *rx = colsTab + ix * colStride;
        int nc = rx[0], n = nr * nc;
/* The col address of pair t (row pair t / nc, column pair t % nc). */
#define PAIR(t)                                                                \
  (image + ry[1 + 2 * ((t) / nc)] * outW * k + ry[2 + 2 * ((t) / nc)] * fW * inC + \
   rx[1 + 2 * ((t) % nc)] * k + rx[2 + 2 * ((t) % nc)] * inC)
        if (n == 0) {
          for (int ch = 0; ch < inC; ch++) d[ch] = 0.0f;
        } else if (n == 1) {
          const float *a = PAIR(0);
          for (int ch = 0; ch < inC; ch++) d[ch] = a[ch];
        } else if (n == 2) {
          const float *a = PAIR(0), *e = PAIR(1);
          for (int ch = 0; ch < inC; ch++) d[ch] = a[ch] + e[ch];
        } else if (n == 4) {
          const float *a = PAIR(0), *e = PAIR(1), *f = PAIR(2), *h = PAIR(3);
          for (int ch = 0; ch < inC; ch++) {
            d[ch] = (float)(((double)a[ch] + (double)e[ch]) +
                            ((double)f[ch] + (double)h[ch]));
          }
        } else {
          for (int ch = 0; ch < inC; ch++) acc[ch] = 0.0;
          for (int t = 0; t < n; t++) {
            const float *s = PAIR(t);
            for (int ch = 0; ch < inC; ch++) acc[ch] += (double)s[ch];
          }
          for (int ch = 0; ch < inC; ch++) d[ch] = (float)acc[ch];
        }
#undef PAIR
      }
    }
  }
}
