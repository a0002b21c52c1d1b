import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { setWasmKernelsEnabled } from "../../lib/backend/wasm_kernels.ts";
import type { Activation } from "../../lib/nn/activations.ts";
import {
  BATCH_NORM_ACT_TRAIN,
  BATCH_NORM_MOVING_AVERAGES,
  BatchNorm,
  batchNormActivation,
} from "../../lib/nn/batch_norm.ts";
import { disposeModule } from "../../lib/nn/module.ts";
import {
  assertClose,
  onBackend,
  randnFor,
  type TestBackend,
} from "./test_util.ts";

/** Outputs and gradients of `sum(w * act(BN(x + bias)))` for random `w`. */
function fusedCase(
  shape: number[],
  activation: Activation,
  withBias: boolean,
  seed: number,
) {
  const c = shape[shape.length - 1];
  const t = ({ shape, values }: { shape: number[]; values: Float32Array }) =>
    tf.tensor(values, shape);
  // Offset and scale x so the shifted-sum statistics are exercised.
  const x = tf.add(tf.mul(t(randnFor(shape, seed)), 3), 5);
  const gamma = t(randnFor([c], seed + 1));
  const beta = t(randnFor([c], seed + 2, 0.5));
  const bias = t(randnFor([c], seed + 3));
  const w = t(randnFor(shape, seed + 4));
  let stats: tf.Tensor[] = [];
  const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, bi: tf.Tensor) => {
    const r = batchNormActivation(x, g, b, {
      epsilon: 1e-6,
      activation,
      bias: withBias ? bi : undefined,
    });
    stats = [r.mean, r.variance];
    return tf.sum(tf.mul(r.y, w));
  };
  const { value, grads } = tf.valueAndGrads(f)(
    withBias ? [x, gamma, beta, bias] : [x, gamma, beta],
  );
  const y = batchNormActivation(x, gamma, beta, {
    epsilon: 1e-6,
    activation,
    bias: withBias ? bias : undefined,
  });
  return {
    y: y.y,
    mean: stats[0],
    variance: stats[1],
    value,
    dx: grads[0],
    dgamma: grads[1],
    dbeta: grads[2],
    dbias: withBias ? grads[3] : tf.zeros([0]),
  };
}

async function compare(backend: TestBackend, useModule: boolean) {
  setWasmKernelsEnabled(useModule);
  try {
    const cases: [number[], Activation, boolean][] = [
      [[7, 5], "linear", true],
      [[9, 3, 4, 6], "relu", true],
      [[33, 17], "tanh", false],
      [[4, 5, 5, 8], "hardtanh", true],
      [[12, 10], "softplus", true],
      [[2, 1], "relu", false],
    ];
    for (const [i, [shape, act, bias]] of cases.entries()) {
      const label = `${backend} ${
        useModule ? "module" : "js"
      } ${act} [${shape}]`;
      const ours = await onBackend(
        backend,
        () => fusedCase(shape, act, bias, i),
      );
      const ref = await onBackend("cpu", () => fusedCase(shape, act, bias, i));
      for (const key of Object.keys(ref) as (keyof typeof ref)[]) {
        assertClose(ours[key], ref[key], 2e-4, `${label} ${key}`);
      }
    }
  } finally {
    setWasmKernelsEnabled(true);
  }
}

Deno.test("wasm registers the fused batch-norm kernel; cpu uses separate ops", async () => {
  await onBackend("wasm", () => 0);
  assert.ok(tf.getKernel(BATCH_NORM_ACT_TRAIN, "wasm"));
  assert.equal(tf.getKernel(BATCH_NORM_ACT_TRAIN, "cpu"), undefined);
});

Deno.test("fused batch norm + activation (SIMD module) equals the separate ops on cpu", async () => {
  await compare("wasm", true);
});

Deno.test("fused batch norm + activation (JavaScript loops) equals the separate ops on cpu", async () => {
  await compare("wasm", false);
});

Deno.test("fused batch norm, by hand: two examples, one feature, ReLU", async () => {
  // x + bias = [1, 3]: mean 2, std 1, xhat = [-1, 1]; gamma 2, beta 0.5.
  const r = await onBackend("wasm", () => {
    const res = batchNormActivation(
      tf.tensor2d([[0], [2]]),
      tf.tensor1d([2]),
      tf.tensor1d([0.5]),
      { epsilon: 0, activation: "relu", bias: tf.tensor1d([1]) },
    );
    return [res.y, res.mean, res.variance];
  });
  assert.deepEqual(r, [[0, 2.5], [2], [1]]);
});

Deno.test("fused batch norm: a feature constant over the batch stays finite", async () => {
  const r = await onBackend("wasm", () => {
    const x = tf.tensor2d([[1, 4], [1, 6]]);
    const g = tf.grads((x: tf.Tensor) =>
      tf.sum(
        batchNormActivation(x, tf.ones([2]), tf.zeros([2]), { epsilon: 1e-6 })
          .y,
      )
    )([x]);
    return g[0];
  });
  assert.ok(r.every(Number.isFinite), `gradient ${r}`);
});

Deno.test("fused batch norm kernels do not leak tensors or heap scratch", async () => {
  await onBackend("wasm", () => 0);
  const before = tf.memory().numTensors;
  const x = tf.randomNormal([50, 20], 0, 1, "float32", 1);
  const g = tf.ones([20]), b = tf.zeros([20]);
  for (let i = 0; i < 20; i++) {
    tf.tidy(() => {
      tf.grads((x: tf.Tensor) => {
        const r = batchNormActivation(x, g, b, {
          epsilon: 1e-6,
          activation: "relu",
        });
        tf.dispose([r.mean, r.variance]); // kept for the caller
        return tf.sum(r.y);
      })([x]);
    });
  }
  tf.dispose([x, g, b]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("BatchNorm training steps on wasm keep the same moving averages as on cpu", async () => {
  const run = (backend: TestBackend) =>
    onBackend(backend, () => {
      const bn = new BatchNorm(6, { momentum: 0.2 });
      for (let i = 0; i < 3; i++) {
        const x = tf.add(tf.tensor(randnFor([5, 6], 30 + i).values, [5, 6]), i);
        bn.apply(x, "train", { activation: "relu" });
      }
      const out = [bn.popMean.clone(), bn.popVar.clone()];
      disposeModule(bn);
      return out;
    });
  const [ours, ref] = [await run("wasm"), await run("cpu")];
  assert.ok(tf.getKernel(BATCH_NORM_MOVING_AVERAGES, "wasm"));
  assertClose(ours[0], ref[0], 1e-5, "population mean");
  assertClose(ours[1], ref[1], 1e-5, "population variance");
  // 3 steps from mean 0 with momentum 0.2: 1 - 0.8^3 of the way.
  assert.ok(ref[0].some((m) => Math.abs(m) > 0.1));
});
