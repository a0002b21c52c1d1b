import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { BatchNorm, normalizeWithBatchStats } from "../../lib/nn/batch_norm.ts";
import { assertAllClose } from "../test_util.ts";

await tf.setBackend("cpu");
const eps = 1e-6;

function makeBn() {
  const bn = new BatchNorm(2, { momentum: 0.1 });
  bn.gamma.assign(tf.tensor1d([2, 0.5]));
  bn.beta.assign(tf.tensor1d([1, -1]));
  return bn;
}

// Columns: [1, 3] has mean 2 and biased std 1; [2, 6] has mean 4 and std 2.
const x = tf.tensor2d([[1, 2], [3, 6]]);

Deno.test("batch norm, training mode: minibatch mean and (std + 1e-6)", () => {
  const bn = makeBn();
  const y = bn.apply(x, "train");
  assertAllClose(y, [
    2 * (1 - 2) / (1 + eps) + 1,
    0.5 * (2 - 4) / (2 + eps) - 1,
    2 * (3 - 2) / (1 + eps) + 1,
    0.5 * (6 - 4) / (2 + eps) - 1,
  ]);
  // Moving averages: 0.9 * init + 0.1 * batch, variance made unbiased (m = 2).
  assertAllClose(bn.popMean, [0.1 * 2, 0.1 * 4]);
  assertAllClose(bn.popVar, [0.9 + 0.1 * 1 * 2, 0.9 + 0.1 * 4 * 2]);
});

Deno.test("batch norm, minibatch mode leaves the population estimates alone", () => {
  const bn = makeBn();
  bn.apply(x, "minibatch");
  assertAllClose(bn.popMean, [0, 0]);
  assertAllClose(bn.popVar, [1, 1]);
});

Deno.test("batch norm, population mode uses the fixed statistics", () => {
  const bn = makeBn();
  bn.popMean.assign(tf.tensor1d([0.5, -1]));
  bn.popVar.assign(tf.tensor1d([4, 0.25]));
  const y = bn.apply(tf.tensor2d([[1, 2]]), "population");
  assertAllClose(y, [
    2 * (1 - 0.5) / (2 + eps) + 1,
    0.5 * (2 + 1) / (0.5 + eps) - 1,
  ]);
});

Deno.test("batch norm over NHWC channels normalizes over batch, height and width", () => {
  const bn = new BatchNorm(1);
  // One channel, values 0..7 over a 2x2x2 batch: mean 3.5, variance 5.25.
  const y = bn.apply(tf.reshape(tf.range(0, 8), [2, 2, 2, 1]), "minibatch");
  const std = Math.sqrt(5.25);
  assertAllClose(
    y,
    Array.from({ length: 8 }, (_, i) => (i - 3.5) / (std + eps)),
  );
});

Deno.test("batch norm leaks no tensors", () => {
  const bn = makeBn();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) tf.tidy(() => void bn.apply(x, "train"));
  tf.tidy(() => void bn.apply(x, "population"));
  if (tf.memory().numTensors !== before) {
    throw new Error(`leaked ${tf.memory().numTensors - before} tensors`);
  }
});

Deno.test("the closed-form batch-norm gradient equals autodiff through the separate ops", () => {
  // The reference: the same normalization written as separate ops.
  const reference = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const axes = x.shape.map((_, i) => i).slice(0, -1);
    const { mean, variance } = tf.moments(x, axes);
    return tf.add(
      tf.mul(tf.div(tf.sub(x, mean), tf.add(tf.sqrt(variance), eps)), g),
      b,
    );
  };
  for (const shape of [[6, 3], [2, 3, 2, 4]]) {
    const c = shape[shape.length - 1];
    const x = tf.randomNormal(shape, 1, 2, "float32", 7);
    const g = tf.randomNormal([c], 1, 0.5, "float32", 8);
    const b = tf.randomNormal([c], 0, 1, "float32", 9);
    const w = tf.randomNormal(shape, 0, 1, "float32", 10); // a loss sum(w * y)
    const ours = tf.grads((x, g, b) =>
      tf.sum(tf.mul(w, normalizeWithBatchStats(x, g, b, eps).y))
    )([x, g, b]);
    const ref = tf.grads((x, g, b) => tf.sum(tf.mul(w, reference(x, g, b))))([
      x,
      g,
      b,
    ]);
    ours.forEach((t, i) =>
      assertAllClose(t, ref[i].dataSync(), 1e-4, `gradient ${i} of ${shape}`)
    );
    assertAllClose(
      normalizeWithBatchStats(x, g, b, eps).y,
      reference(x, g, b).dataSync(),
      1e-5,
    );
  }
});

Deno.test("the batch-norm gradient stays finite for a feature constant over the batch", () => {
  const x = tf.tensor2d([[1, 5], [2, 5], [4, 5]]);
  const [dx] = tf.grads((x: tf.Tensor) =>
    tf.sum(
      tf.square(normalizeWithBatchStats(x, tf.ones([2]), tf.zeros([2]), eps).y),
    )
  )([x]);
  for (const v of dx.dataSync()) {
    if (!Number.isFinite(v)) throw new Error(`non-finite gradient ${v}`);
  }
});
