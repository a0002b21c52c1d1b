/**
 * Gradients of a small conv net (conv + relu + maxpool, fused conv + bias +
 * relu, dense) through `tf.variableGrads` on wasm and wasm+blas: against
 * central differences of the loss on the same backend, and against the cpu
 * backend's gradients.
 */
import * as tf from "@tensorflow/tfjs-core";
import { loadBlas } from "../../lib/backend/blas.ts";
import { Rng } from "../../lib/random.ts";
import {
  assertClose,
  onBackend,
  randn,
  type TestBackend,
} from "./test_util.ts";

const hasBlas = loadBlas() !== null;

type Shape4 = [number, number, number, number];
const X_SHAPE: Shape4 = [2, 9, 9, 3];
const SHAPES: Record<string, number[]> = {
  w1: [3, 3, 3, 4], // 3x3 "same", stride 1
  w2: [2, 2, 4, 6], // 2x2 "valid", stride 2, fused with bias + relu
  b2: [6],
  wd: [6 * 2 * 2, 3],
  bd: [3],
};
const NAMES = Object.keys(SHAPES);

const x = randn(tf.util.sizeFromShape(X_SHAPE), 1);
const readout = randn(2 * 3, 2); // loss = sum(logits * readout)
const init: Record<string, Float32Array> = Object.fromEntries(
  NAMES.map((n, i) => [
    n,
    randn(tf.util.sizeFromShape(SHAPES[n]), 10 + i, 0.5),
  ]),
);

function loss(w: Record<string, tf.Tensor>): tf.Scalar {
  const xt = tf.tensor4d(x, X_SHAPE);
  let h: tf.Tensor4D = tf.conv2d(xt, w.w1 as tf.Tensor4D, 1, "same");
  h = tf.maxPool(tf.relu(h), 2, 2, "valid"); // [2, 4, 4, 4]
  h = tf.fused.conv2d({
    x: h,
    filter: w.w2 as tf.Tensor4D,
    strides: 2,
    pad: "valid",
    bias: w.b2,
    activation: "relu",
  }); // [2, 2, 2, 6]
  const logits = tf.add(tf.matMul(tf.reshape(h, [2, -1]), w.wd), w.bd);
  return tf.sum(tf.mul(logits, tf.tensor2d(readout, [2, 3])));
}

/** Analytic gradients of every weight, flattened, in NAMES order. */
function analytic(): tf.Tensor[] {
  const vars = Object.fromEntries(
    NAMES.map((n) => [n, tf.variable(tf.tensor(init[n], SHAPES[n]), true, n)]),
  );
  const { grads } = tf.variableGrads(() => loss(vars));
  const out = NAMES.map((n) => grads[n].flatten());
  tf.dispose(Object.values(vars));
  return out;
}

// Coordinates checked numerically: a seeded sample of each weight.
const PICKS: Record<string, number[]> = Object.fromEntries(
  NAMES.map((n) => {
    const size = tf.util.sizeFromShape(SHAPES[n]);
    const rng = new Rng(50);
    const k = Math.min(size, 10);
    return [n, Array.from(rng.permutation(size).slice(0, k))];
  }),
);

/** Central differences of the loss at the picked coordinates. */
function numeric(eps: number): tf.Tensor[] {
  const evalAt = (name: string, index: number, delta: number) => {
    const w = Object.fromEntries(NAMES.map((n) => {
      const values = Float32Array.from(init[n]);
      if (n === name) values[index] += delta;
      return [n, tf.tensor(values, SHAPES[n])];
    }));
    return tf.tidy(() => loss(w).dataSync()[0]);
  };
  return NAMES.map((n) =>
    tf.tensor1d(
      PICKS[n].map((i) => (evalAt(n, i, eps) - evalAt(n, i, -eps)) / (2 * eps)),
    )
  );
}

async function checkBackend(backend: TestBackend): Promise<void> {
  const grads = await onBackend(backend, analytic);
  const numbers = await onBackend(backend, () => numeric(1e-2));
  const cpuGrads = await onBackend("cpu", analytic);
  NAMES.forEach((n, i) => {
    assertClose(grads[i], cpuGrads[i], 1e-4, `${backend} d${n} vs cpu`);
    const picked = PICKS[n].map((j) => grads[i][j]);
    assertClose(picked, numbers[i], 2e-2, `${backend} d${n} vs numeric`);
    if (picked.every((v) => v === 0)) {
      throw new Error(`${backend} d${n}: all sampled gradients are zero`);
    }
  });
}

Deno.test("conv net gradients on plain wasm match central differences", () =>
  checkBackend("wasm"));

Deno.test({
  name: "conv net gradients on wasm+blas match central differences",
  ignore: !hasBlas,
  fn: () => checkBackend("wasm+blas"),
});

/** Tensors and wasm data ids alive after each of `steps` SGD steps. */
function trainCounts(steps: number): number[] {
  const vars = Object.fromEntries(
    NAMES.map((n) => [n, tf.variable(tf.tensor(init[n], SHAPES[n]), true, n)]),
  );
  const opt = tf.train.sgd(0.01);
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const counts: number[] = [];
  for (let i = 0; i < steps; i++) {
    // clone + cast exercise the shared-data Identity and Cast kernels.
    opt.minimize(() => tf.cast(tf.clone(loss(vars)), "float32"));
    counts.push(tf.memory().numTensors, backend.numDataIds());
  }
  opt.dispose();
  tf.dispose(Object.values(vars));
  return counts;
}

for (const backend of ["wasm", "wasm+blas"] as const) {
  Deno.test({
    name: `${backend}: SGD steps on the conv net leak no tensors or heap data`,
    ignore: backend === "wasm+blas" && !hasBlas,
    fn: async () => {
      const counts = await onBackend(backend, () => trainCounts(30));
      const [tensors, ids] = [counts[20], counts[21]];
      for (let i = 20; i < counts.length; i += 2) {
        if (counts[i] !== tensors || counts[i + 1] !== ids) {
          throw new Error(
            `${backend}: step ${i / 2} has ${counts[i]} tensors and ` +
              `${counts[i + 1]} data ids, step 10 had ${tensors} and ${ids}`,
          );
        }
      }
    },
  });
}
