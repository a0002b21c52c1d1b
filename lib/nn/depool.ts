/**
 * The seed's `depool_2d` ("perforated" upsampling, conv_vae.py): every value
 * of an NHWC map goes to the top-left corner of a `factor x factor` block of
 * zeros, so `[n, h, w, c]` becomes `[n, h * factor, w * factor, c]`. This is
 * zero insertion, not nearest-neighbour upsampling: three quarters of a
 * factor-2 output are zeros.
 *
 * - {@linkcode depool2d}: the op, differentiable; its gradient takes the
 *   top-left element of each block of `dy`. Backends that register the
 *   kernels {@linkcode DEPOOL_2D} / {@linkcode DEPOOL_2D_GRAD} (wasm:
 *   lib/backend/depool_kernels.ts) run it as one pass; others run a
 *   composite of tf ops ({@linkcode depool2dComposite}).
 * - {@linkcode depoolConv2d}: `conv2d(depool2d(x), w, 1, "same")`, the
 *   decoder's depool + convolution, computed without the zeros: it is a
 *   transposed convolution of `x` with stride `factor` and the filter
 *   flipped, which multiplies `factor^2` times fewer numbers (the same
 *   products, summed in another order).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/** Kernel name: input `x` (NHWC float32); attribute `factor`; output the depooled map. */
export const DEPOOL_2D = "Depool2D";
/** Kernel name: input `dy` (the depooled shape); attribute `factor`; output the top-left elements. */
export const DEPOOL_2D_GRAD = "Depool2DGrad";
/**
 * Kernel name of {@linkcode flipFilter}: input `filter` `[kh, kw, c, o]`;
 * output `[kh, kw, o, c]`.
 */
export const FLIP_FILTER = "FlipFilter";

function checkFactor(factor: number): void {
  if (!(Number.isInteger(factor) && factor >= 1)) {
    throw new RangeError(
      `depool2d: factor must be a positive integer, got ${factor}`,
    );
  }
}

function check4D(name: string, t: tf.Tensor): void {
  if (t.rank !== 4) {
    throw new Error(
      `${name}: expected an NHWC tensor of rank 4, got shape [${t.shape}]`,
    );
  }
}

/** {@linkcode depool2d}'s forward as pads and reshapes (every backend has them). */
export function depool2dComposite(x: tf.Tensor4D, factor = 2): tf.Tensor4D {
  checkFactor(factor);
  check4D("depool2d", x);
  const [n, h, w, c] = x.shape;
  if (factor === 1) return x.clone();
  return tf.tidy(() => {
    const f1 = factor - 1;
    // Zeros after each value along the width, then after each row.
    const cols = tf.pad(x.reshape([n * h, w, 1, c]), [
      [0, 0],
      [0, 0],
      [0, f1],
      [0, 0],
    ]);
    const rows = tf.pad(cols.reshape([n, h, 1, w * factor * c]), [
      [0, 0],
      [0, 0],
      [0, f1],
      [0, 0],
    ]);
    return rows.reshape([n, h * factor, w * factor, c]);
  });
}

/** {@linkcode depool2d}'s gradient as a strided slice: the top-left element of each block. */
export function depool2dGradComposite(
  dy: tf.Tensor4D,
  factor = 2,
): tf.Tensor4D {
  checkFactor(factor);
  check4D("depool2d gradient", dy);
  const [n, hf, wf, c] = dy.shape;
  if (hf % factor !== 0 || wf % factor !== 0) {
    throw new Error(
      `depool2d gradient: dy's height and width [${hf}, ${wf}] must be ` +
        `multiples of the factor ${factor}`,
    );
  }
  if (factor === 1) return dy.clone();
  return tf.stridedSlice(dy, [0, 0, 0, 0], [n, hf, wf, c], [
    1,
    factor,
    factor,
    1,
  ]) as tf.Tensor4D;
}

function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

function runForward(x: tf.Tensor4D, factor: number): tf.Tensor4D {
  if (hasKernel(DEPOOL_2D) && x.dtype === "float32") {
    return tf.engine().runKernel(DEPOOL_2D, { x }, { factor }) as tf.Tensor4D;
  }
  return depool2dComposite(x, factor);
}

function runGrad(dy: tf.Tensor4D, factor: number): tf.Tensor4D {
  if (hasKernel(DEPOOL_2D_GRAD) && dy.dtype === "float32") {
    return tf.engine().runKernel(DEPOOL_2D_GRAD, { dy }, {
      factor,
    }) as tf.Tensor4D;
  }
  return depool2dGradComposite(dy, factor);
}

/**
 * Zero insertion: `y[b, i * factor, j * factor, c] = x[b, i, j, c]`, every
 * other element of `y` (`[n, h * factor, w * factor, c]`) zero. Its gradient
 * is `dx[b, i, j, c] = dy[b, i * factor, j * factor, c]`.
 */
export function depool2d(x: tf.Tensor4D, factor = 2): tf.Tensor4D {
  checkFactor(factor);
  check4D("depool2d", x);
  const op = tf.customGrad((xIn) => {
    const xv = xIn as tf.Tensor4D;
    return {
      value: runForward(xv, factor),
      gradFunc: (dy) => runGrad(dy as tf.Tensor4D, factor),
    };
  });
  return op(x) as tf.Tensor4D;
}

/**
 * A filter `[kh, kw, c, o]` flipped in both spatial axes with its channel
 * axes swapped: `out[kh - 1 - i, kw - 1 - j, o, c] = w[i, j, c, o]`, the
 * filter of the transposed convolution that undoes a convolution's
 * geometry. The map is its own adjoint (applied twice it is the identity),
 * so its gradient is `flipFilter(dy)`. One kernel ({@linkcode FLIP_FILTER})
 * where registered: tfjs wasm's `Reverse` takes milliseconds on a 3x3x128x64
 * filter; `reverse` + `transpose` elsewhere.
 */
export function flipFilter(w: tf.Tensor4D): tf.Tensor4D {
  check4D("flipFilter", w);
  const run = (t: tf.Tensor4D): tf.Tensor4D => {
    if (hasKernel(FLIP_FILTER) && t.dtype === "float32") {
      return tf.engine().runKernel(FLIP_FILTER, { filter: t }) as tf.Tensor4D;
    }
    return tf.tidy(() =>
      tf.transpose(tf.reverse(t, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D
    );
  };
  const op = tf.customGrad((wIn) => ({
    value: run(wIn as tf.Tensor4D),
    gradFunc: (dy) => run(dy as tf.Tensor4D),
  }));
  return op(w) as tf.Tensor4D;
}

/** Options of {@linkcode depoolConv2d}. */
export interface DepoolConvOptions {
  /** The depooling factor; default 2. */
  factor?: number;
  /**
   * "transposed" (default): the transposed convolution, skipping the
   * zeros; "literal": `conv2d(depool2d(x), w, 1, "same")` as written.
   */
  method?: "transposed" | "literal";
}

/**
 * `conv2d(depool2d(x, factor), w, 1, "same")` for `x` `[n, h, w, c]` and
 * filters `w` `[k, k', c, o]`; the result is `[n, h * factor, w * factor, o]`.
 *
 * With `u = depool2d(x)`, output row `Y` of the "same" convolution reads
 * `u[Y + t - p]` (tap `t`, `p = floor((k - 1) / 2)`), which is non-zero only
 * at `Y + t - p = factor * i`. So `y[Y] = sum x[i] w[t]` over
 * `Y = factor * i - (k - 1 - p) + (k - 1 - t)`: the transposed convolution
 * (`tf.conv2dTranspose`, kernel `Conv2DBackpropInput`) of `x` with stride
 * `factor`, top padding `k - 1 - p` and the filter flipped in both spatial
 * axes, its channel axes swapped. Every filter tap meets each input value
 * once instead of `factor^2` times (three quarters of them zeros at factor
 * 2), so this multiplies `factor^2` times fewer numbers, and its gradients
 * (a strided convolution for `dx`, `Conv2DBackpropFilter` for `dw`) likewise.
 */
export function depoolConv2d(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  opts: DepoolConvOptions = {},
): tf.Tensor4D {
  const factor = opts.factor ?? 2;
  checkFactor(factor);
  check4D("depoolConv2d", x);
  const [n, h, wd, c] = x.shape;
  const [kh, kw, wc, o] = w.shape;
  if (wc !== c) {
    throw new Error(
      `depoolConv2d: the filter's input channels ${wc} (shape [${w.shape}]) ` +
        `differ from x's ${c} (shape [${x.shape}])`,
    );
  }
  if (opts.method === "literal" || factor === 1) {
    return tf.conv2d(depool2d(x, factor), w, 1, "same");
  }
  return tf.tidy(() => {
    const flipped = flipFilter(w);
    const pads = (k: number): [number, number] => {
      const top = k - 1 - Math.floor((k - 1) / 2);
      return [top, Math.max(0, k - factor - top)];
    };
    const pad: tf.backend_util.ExplicitPadding = [
      [0, 0],
      pads(kh),
      pads(kw),
      [0, 0],
    ];
    return tf.conv2dTranspose(
      x,
      flipped,
      [n, h * factor, wd * factor, o],
      factor,
      pad,
    );
  });
}
