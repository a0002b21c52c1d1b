import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backend/mod.ts";
import { assertClose, randn, type TestBackend } from "./test_util.ts";

const N = 4, IN = 3, HID = 5, OUT = 2;

interface Params {
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
}

const X = randn(N * IN, 1);
const T = randn(N * OUT, 2);
const P0: Params = {
  w1: randn(IN * HID, 3, 0.7),
  b1: randn(HID, 4, 0.1),
  w2: randn(HID * OUT, 5, 0.7),
  b2: randn(OUT, 6, 0.1),
};

// The MLP's loss in float64 plain JS: mean((relu(x w1 + b1) w2 + b2 - t)^2).
function referenceLoss(p: Params): number {
  let sum = 0;
  for (let r = 0; r < N; r++) {
    const h = new Float64Array(HID);
    for (let j = 0; j < HID; j++) {
      let s = p.b1[j];
      for (let i = 0; i < IN; i++) s += X[r * IN + i] * p.w1[i * HID + j];
      h[j] = Math.max(s, 0);
    }
    for (let o = 0; o < OUT; o++) {
      let s = p.b2[o];
      for (let j = 0; j < HID; j++) s += h[j] * p.w2[j * OUT + o];
      sum += (s - T[r * OUT + o]) ** 2;
    }
  }
  return sum / (N * OUT);
}

// Central differences of referenceLoss with respect to every parameter.
function numericalGrads(p: Params): Record<keyof Params, Float64Array> {
  const eps = 1e-3;
  const out = {} as Record<keyof Params, Float64Array>;
  for (const key of Object.keys(p) as (keyof Params)[]) {
    const g = new Float64Array(p[key].length);
    for (let i = 0; i < g.length; i++) {
      // Float64 copies so the step is not rounded to float32.
      const plus = { ...p, [key]: Float64Array.from(p[key]) };
      const minus = { ...p, [key]: Float64Array.from(p[key]) };
      plus[key][i] += eps;
      minus[key][i] -= eps;
      g[i] = (referenceLoss(plus as unknown as Params) -
        referenceLoss(minus as unknown as Params)) / (2 * eps);
    }
    out[key] = g;
  }
  return out;
}

function mlpLoss(
  x: tf.Tensor2D,
  t: tf.Tensor2D,
  v: Record<keyof Params, tf.Variable>,
) {
  const h = tf.relu(tf.add(tf.matMul(x, v.w1 as tf.Tensor2D), v.b1));
  // Layer 2 through the fused kernel (linear stays fused under gradients).
  const y = tf.fused.matMul({ a: h, b: v.w2 as tf.Tensor2D, bias: v.b2 });
  return tf.mean(tf.square(tf.sub(y, t))) as tf.Scalar;
}

for (const backend of ["wasm+blas", "wasm"] as TestBackend[]) {
  Deno.test(
    `MLP gradients on ${backend} match central differences`,
    async () => {
      await initBackend({ backend });
      const expected = numericalGrads(P0);
      const v = {
        w1: tf.variable(tf.tensor2d(P0.w1, [IN, HID]), true, `w1_${backend}`),
        b1: tf.variable(tf.tensor1d(P0.b1), true, `b1_${backend}`),
        w2: tf.variable(tf.tensor2d(P0.w2, [HID, OUT]), true, `w2_${backend}`),
        b2: tf.variable(tf.tensor1d(P0.b2), true, `b2_${backend}`),
      };
      const x = tf.tensor2d(X, [N, IN]), t = tf.tensor2d(T, [N, OUT]);
      try {
        const { value, grads } = tf.variableGrads(() => mlpLoss(x, t, v));
        assertClose(value.dataSync(), [referenceLoss(P0)], 1e-5, "loss");
        for (const key of Object.keys(v) as (keyof Params)[]) {
          const g = grads[v[key].name].dataSync();
          assertClose(g, expected[key], 1e-4, `d loss / d ${key}`);
        }
        // Some gradients are far from zero, so the comparison means something.
        assert.ok(expected.w1.some((g) => Math.abs(g) > 0.05));
        tf.dispose([value, ...Object.values(grads)]);
      } finally {
        tf.dispose([x, t, ...Object.values(v)]);
      }
    },
  );

  Deno.test(`100 SGD steps on ${backend} leak no tensors`, async () => {
    await initBackend({ backend });
    const x = tf.tensor2d(randn(32 * 20, 11), [32, 20]);
    const t = tf.tensor2d(randn(32 * 10, 12), [32, 10]);
    const v = {
      w1: tf.variable(tf.tensor2d(randn(20 * 16, 13, 0.3), [20, 16])),
      b1: tf.variable(tf.zeros([16])),
      w2: tf.variable(tf.tensor2d(randn(16 * 10, 14, 0.3), [16, 10])),
      b2: tf.variable(tf.zeros([10])),
    };
    const opt = tf.train.sgd(0.05);
    const step = () => {
      const loss = opt.minimize(() => mlpLoss(x, t, v), true)!;
      const value = loss.dataSync()[0];
      loss.dispose();
      return value;
    };
    try {
      const first = step();
      const tensors = tf.memory().numTensors;
      const dataIds = tf.backend().numDataIds();
      let last = first;
      for (let i = 1; i < 100; i++) last = step();
      assert.equal(tf.memory().numTensors, tensors, "tensors after 100 steps");
      assert.equal(tf.backend().numDataIds(), dataIds, "wasm buffers");
      assert.ok(last < 0.8 * first, `loss fell from ${first} to ${last}`);
    } finally {
      opt.dispose();
      tf.dispose([x, t, ...Object.values(v)]);
    }
  });
}
