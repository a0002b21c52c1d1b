/**
 * The VAE's two cost terms as single ops with closed-form gradients, summed
 * over every element:
 *
 * - {@linkcode sumSquaredError}: `sum((x - y)^2)`;
 * - {@linkcode gaussianKL}: `KL(N(mu, sigma^2) || N(0, 1))
 *   = -0.5 * sum(2 log(sigma + 1e-12) - sigma^2 - mu^2 + 1)`
 *   (the floor keeps the log finite if softplus underflows to 0).
 *
 * Through separate ops these cost about 30 kernel calls and a dozen
 * full-size temporaries per step; the wasm backend runs each as one kernel
 * forward and one backward (lib/backend/loss_kernels.ts). Other backends
 * use the separate ops, with the same values.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/** Kernel names, and the gradient kernels' (see lib/backend/loss_kernels.ts). */
export const SUM_SQUARED_ERROR = "SumSquaredError";
/** Inputs `x`, `y`, `dy` (scalar); outputs `[dx, dy]` of the sum. */
export const SUM_SQUARED_ERROR_GRAD = "SumSquaredErrorGrad";
/** Inputs `mu`, `sigma`; output the KL (scalar). */
export const GAUSSIAN_KL = "GaussianKL";
/** Inputs `mu`, `sigma`, `dy` (scalar); outputs `[dmu, dsigma]`. */
export const GAUSSIAN_KL_GRAD = "GaussianKLGrad";

function fused(kernel: string): boolean {
  return tf.getKernel(kernel, tf.getBackend()) !== undefined;
}

/**
 * `kernel(a, b)`, a scalar, as a differentiable op whose gradient is
 * `gradKernel(a, b, dy)` -> `[da, db]`; `names` are the kernels' input names.
 */
function fusedScalarOp(
  kernel: string,
  gradKernel: string,
  names: [string, string],
  a: tf.Tensor,
  b: tf.Tensor,
): tf.Scalar {
  const op = tf.customGrad((aIn, bIn, save) => {
    const inputs = {
      [names[0]]: aIn as tf.Tensor,
      [names[1]]: bIn as tf.Tensor,
    };
    (save as tf.GradSaveFunc)([aIn as tf.Tensor, bIn as tf.Tensor]);
    return {
      value: tf.engine().runKernel(kernel, inputs) as tf.Scalar,
      gradFunc: (dy, saved) =>
        tf.engine().runKernel(gradKernel, {
          [names[0]]: saved[0],
          [names[1]]: saved[1],
          dy: dy as tf.Tensor,
        }) as tf.Tensor[],
    };
  });
  return op(a, b) as tf.Scalar;
}

/** `sum((x - y)^2)` over every element, as a scalar. */
export function sumSquaredError(x: tf.Tensor, y: tf.Tensor): tf.Scalar {
  if (!fused(SUM_SQUARED_ERROR)) {
    return tf.sum(tf.squaredDifference(x, y));
  }
  return fusedScalarOp(
    SUM_SQUARED_ERROR,
    SUM_SQUARED_ERROR_GRAD,
    ["x", "y"],
    x,
    y,
  );
}

/** `1 + 2 log sigma - sigma^2 - mu^2`, each element; the KL is -1/2 its sum. */
function klTerms(mu: tf.Tensor, sigma: tf.Tensor): tf.Tensor {
  const logSigma = tf.log(tf.add(sigma, 1e-12));
  return tf.add(
    tf.sub(tf.sub(tf.mul(logSigma, 2), tf.square(sigma)), tf.square(mu)),
    1,
  );
}

/** `KL(N(mu, sigma^2) || N(0, I))` per row (summed over the last axis), `[n]`. */
export function gaussianKLRows(
  mu: tf.Tensor2D,
  sigma: tf.Tensor2D,
): tf.Tensor1D {
  return tf.mul(-0.5, tf.sum(klTerms(mu, sigma), -1));
}

/** `KL(N(mu, sigma^2) || N(0, I))` summed over every element, as a scalar. */
export function gaussianKL(mu: tf.Tensor, sigma: tf.Tensor): tf.Scalar {
  if (!fused(GAUSSIAN_KL)) return tf.mul(-0.5, tf.sum(klTerms(mu, sigma)));
  return fusedScalarOp(
    GAUSSIAN_KL,
    GAUSSIAN_KL_GRAD,
    ["mu", "sigma"],
    mu,
    sigma,
  );
}
