import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { setWasmKernelsEnabled } from "../../lib/backend/wasm_kernels.ts";
import {
  GAUSSIAN_KL,
  gaussianKL,
  SUM_SQUARED_ERROR,
  sumSquaredError,
} from "../../lib/nn/losses.ts";
import {
  assertClose,
  onBackend,
  randnFor,
  type TestBackend,
} from "../backend/test_util.ts";

Deno.test("sumSquaredError and gaussianKL by hand", async () => {
  for (const backend of ["cpu", "wasm"] as TestBackend[]) {
    const [sse, kl] = await onBackend(backend, () => [
      sumSquaredError(tf.tensor1d([1, 2, 3]), tf.tensor1d([0, 2, 5])),
      // mu 0, sigma 1 has KL 0; mu 1, sigma e has -0.5 (2 - e^2 - 1 + 1).
      gaussianKL(tf.tensor1d([0, 1]), tf.tensor1d([1, Math.E])),
    ]);
    assertClose(sse, [5], 1e-6, `${backend} squared error`);
    assertClose(kl, [-0.5 * (2 - Math.E ** 2)], 1e-5, `${backend} KL`);
  }
});

/** Values and gradients of `a * sse(x, y) + b * kl(mu, sigma)`. */
function lossCase(n: number, seed: number) {
  const t = (v: { shape: number[]; values: Float32Array }) =>
    tf.tensor(v.values, v.shape);
  const x = t(randnFor([n, 7], seed));
  const y = t(randnFor([n, 7], seed + 1));
  const mu = t(randnFor([n, 5], seed + 2));
  // Softplus-like sigmas, some tiny, as the VAE's are.
  const sigma = tf.softplus(tf.mul(t(randnFor([n, 5], seed + 3)), 4));
  const f = (x: tf.Tensor, y: tf.Tensor, mu: tf.Tensor, sigma: tf.Tensor) =>
    tf.add(
      tf.mul(sumSquaredError(x, y), 0.7),
      tf.mul(gaussianKL(mu, sigma), 1.3),
    ) as tf.Scalar;
  const { value, grads } = tf.valueAndGrads(f)([x, y, mu, sigma]);
  return { value, grads };
}

for (const useModule of [true, false]) {
  Deno.test(`fused VAE cost terms on wasm (${useModule ? "SIMD module" : "JavaScript"}) equal the separate ops on cpu`, async () => {
    setWasmKernelsEnabled(useModule);
    try {
      for (const [n, seed] of [[1, 1], [3, 2], [50, 3]]) {
        const ours = await onBackend("wasm", () => lossCase(n, seed));
        const ref = await onBackend("cpu", () => lossCase(n, seed));
        assertClose(ours.value, ref.value, 1e-5, `value n=${n}`);
        ours.grads.forEach((g, i) =>
          assertClose(g, ref.grads[i], 1e-4, `gradient ${i} n=${n}`)
        );
      }
    } finally {
      setWasmKernelsEnabled(true);
    }
  });
}

Deno.test("wasm registers the fused cost kernels; cpu does not", async () => {
  await onBackend("wasm", () => 0);
  assert.ok(tf.getKernel(SUM_SQUARED_ERROR, "wasm"));
  assert.ok(tf.getKernel(GAUSSIAN_KL, "wasm"));
  assert.equal(tf.getKernel(GAUSSIAN_KL, "cpu"), undefined);
});
