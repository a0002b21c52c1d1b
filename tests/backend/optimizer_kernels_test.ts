import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backend/mod.ts";
import { setWasmKernelsEnabled } from "../../lib/backend/wasm_kernels.ts";
import { NESTEROV_UPDATE, NesterovMomentum } from "../../lib/optim/nesterov.ts";
import { assertClose, randn } from "./test_util.ts";

Deno.test("wasm registers the fused Nesterov update; cpu falls back to tf ops", async () => {
  await initBackend({ backend: "wasm" });
  assert.ok(tf.getKernel(NESTEROV_UPDATE, "wasm"));
  assert.equal(tf.getKernel(NESTEROV_UPDATE, "cpu"), undefined);
});

Deno.test("fused Nesterov update: three steps of the seed's rule, by hand", async () => {
  // Same hand computation as tests/optim/nesterov_test.ts.
  await initBackend({ backend: "wasm" });
  const p = tf.variable(tf.tensor1d([1, 2]));
  const c = tf.tensor1d([1, 3]);
  const opt = new NesterovMomentum(0.1, 0.9);
  const expected = [[0.81, 0.86], [0.5751, -0.1162], [0.327321, -0.696346]];
  for (const e of expected) {
    opt.minimize(() => tf.sum(tf.mul(0.5, tf.mul(c, tf.square(p)))), false, [
      p,
    ]);
    assertClose(Array.from(p.dataSync()), e, 1e-5, "param");
  }
  opt.dispose();
  p.dispose();
  c.dispose();
});

for (const useModule of [true, false]) {
  Deno.test(`fused Nesterov update (${useModule ? "SIMD module" : "JavaScript loop"}) equals the tf-ops path over 5 steps, without leaks`, async () => {
    // The same gradients each time, so only the update arithmetic differs.
    const run = async (backend: "wasm" | "cpu") => {
      await initBackend({ backend });
      const w = tf.variable(tf.tensor2d(randn(64 * 33, 1), [64, 33]));
      const grads = [0, 1, 2, 3, 4].map((k) =>
        tf.tensor2d(randn(64 * 33, 10 + k), [64, 33])
      );
      const opt = new NesterovMomentum(0.05, 0.95);
      opt.applyGradients({ [w.name]: grads[0] });
      const before = tf.memory().numTensors;
      for (const g of grads.slice(1)) opt.applyGradients({ [w.name]: g });
      assert.equal(
        tf.memory().numTensors,
        before,
        `${backend}: tensors leaked`,
      );
      const values = Array.from(w.dataSync());
      opt.dispose();
      w.dispose();
      grads.forEach((g) => g.dispose());
      return values;
    };
    setWasmKernelsEnabled(useModule);
    const fused = await run("wasm").finally(() => setWasmKernelsEnabled(true));
    const reference = await run("cpu");
    assertClose(fused, reference, 1e-6, "parameters after 5 steps");
  });
}
