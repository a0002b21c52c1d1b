import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backend/mod.ts";
import { setWasmKernelsEnabled } from "../../lib/backend/wasm_kernels.ts";
import {
  randomNormal,
  seededNormalValues,
} from "../../lib/nn/random_normal.ts";

Deno.test("seeded normals: moments, tails and independence of neighbours", () => {
  const n = 200_000;
  const v = seededNormalValues(n, 7);
  let sum = 0, sq = 0, in1 = 0, in2 = 0, lag = 0;
  for (let i = 0; i < n; i++) {
    sum += v[i];
    sq += v[i] * v[i];
    if (Math.abs(v[i]) < 1) in1++;
    if (Math.abs(v[i]) < 2) in2++;
    if (i > 0) lag += v[i] * v[i - 1];
  }
  const mean = sum / n, variance = sq / n - mean * mean;
  // Standard errors: mean 0.0022, variance 0.0032, fractions ~0.001.
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.015, `variance ${variance}`);
  assert.ok(Math.abs(in1 / n - 0.682689) < 0.005, `P(|z| < 1) = ${in1 / n}`);
  assert.ok(Math.abs(in2 / n - 0.954500) < 0.003, `P(|z| < 2) = ${in2 / n}`);
  assert.ok(Math.abs(lag / n) < 0.01, `lag-1 correlation ${lag / n}`);
  // The cosine and sine halves of a pair are uncorrelated too.
  let cross = 0;
  for (let i = 0; i < n / 2; i++) cross += v[i] * v[n / 2 + i];
  assert.ok(Math.abs(cross / (n / 2)) < 0.015, `pair correlation ${cross}`);
});

Deno.test("seeded normals repeat for a seed and differ between seeds", () => {
  assert.deepEqual(seededNormalValues(11, 3), seededNormalValues(11, 3));
  const a = seededNormalValues(100, 3), b = seededNormalValues(100, 4);
  assert.ok(a.some((x, i) => x !== b[i]));
  // An odd count fills every element.
  assert.ok(
    seededNormalValues(7, 1).every((x) => x !== 0 && Number.isFinite(x)),
  );
});

for (const useModule of [true, false]) {
  Deno.test(`randomNormal on wasm (${useModule ? "SIMD module" : "JavaScript"}) equals the JavaScript values`, async () => {
    await initBackend({ backend: "wasm" });
    setWasmKernelsEnabled(useModule);
    try {
      for (
        const [shape, seed] of [[[1], 0], [[2], 5], [[7], 9], [
          [100, 101],
          123456789,
        ]] as [number[], number][]
      ) {
        const t = randomNormal(shape, seed);
        assert.deepEqual(t.shape, shape);
        const got = t.dataSync(), want = seededNormalValues(t.size, seed);
        t.dispose();
        for (let i = 0; i < want.length; i++) {
          const err = Math.abs(got[i] - want[i]);
          assert.ok(
            err < 2e-6 * (1 + Math.abs(want[i])),
            `[${shape}] seed ${seed} element ${i}: ${got[i]} vs ${want[i]}`,
          );
        }
      }
    } finally {
      setWasmKernelsEnabled(true);
    }
  });
}

Deno.test("randomNormal on cpu uses the same generator", async () => {
  await initBackend({ backend: "cpu" });
  const t = randomNormal([3, 4], 42);
  assert.deepEqual(
    Array.from(t.dataSync()),
    Array.from(seededNormalValues(12, 42)),
  );
  t.dispose();
  assert.equal(tf.getBackend(), "cpu");
});
