import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import {
  globalSumOfSquares,
  RescaledRMSProp,
  seedGradientScale,
} from "../../lib/optim/rmsprop_rescaled.ts";
import { assertAllClose } from "../test_util.ts";
import {
  rescaledLargeNorm,
  rescaledNonFinite,
  rescaledOverflow,
  rescaledSmallNorm,
} from "./hand_cases.ts";

await tf.setBackend("cpu");

Deno.test(
  "rmsprop-rescaled: small norms pass unchanged, the steps are Nesterov's (by hand)",
  rescaledSmallNorm,
);
Deno.test(
  "rmsprop-rescaled: global norm 100 -> 50, 25 unchanged, 10000 -> 500 (by hand)",
  rescaledLargeNorm,
);
Deno.test(
  "rmsprop-rescaled: an Inf or NaN gradient -> every gradient 0.1 * param (by hand)",
  rescaledNonFinite,
);
Deno.test(
  "rmsprop-rescaled: squares overflowing float32 also shrink (by hand)",
  rescaledOverflow,
);

Deno.test("seedGradientScale: 5 / max(5, sqrt(norm)), shrink when not finite", () => {
  // sum of squares -> norm -> sqrt(norm) -> scale
  assert.deepEqual(seedGradientScale(0), { norm: 0, shrink: false, scale: 1 });
  assert.deepEqual(seedGradientScale(625), {
    norm: 25,
    shrink: false,
    scale: 1,
  });
  assert.deepEqual(seedGradientScale(10000), {
    norm: 100,
    shrink: false,
    scale: 0.5,
  });
  // rescale 2: norm 16 -> sqrt 4 -> 2 / 4.
  assert.equal(seedGradientScale(256, 2).scale, 0.5);
  for (const bad of [Infinity, NaN]) {
    const s = seedGradientScale(bad);
    assert.equal(s.shrink, true, `${bad}`);
    assert.equal(s.scale, 0);
  }
});

Deno.test("globalSumOfSquares: one number over every gradient", () => {
  const grads = [tf.tensor1d([3, 4]), tf.tensor2d([[12]]), tf.tensor1d([])];
  assert.equal(globalSumOfSquares(grads), 169);
  assert.equal(globalSumOfSquares([grads[0]]), 25);
  assert.equal(globalSumOfSquares([]), 0);
  assert.equal(globalSumOfSquares([tf.tensor1d([1, Infinity])]), Infinity);
  assert.ok(Number.isNaN(globalSumOfSquares([tf.tensor1d([NaN])])));
  tf.dispose(grads);
});

Deno.test("rmsprop-rescaled: no tensors leak per step; setWeights resumes the same trajectory", async () => {
  const w = tf.variable(tf.tensor2d([[1, -2], [3, 0.5]]), true, "rr_resume_w");
  const b = tf.variable(tf.tensor1d([0.1, 0.2]), true, "rr_resume_b");
  const loss = (): tf.Scalar =>
    tf.add(tf.sum(tf.square(tf.mul(w, 30))), tf.sum(tf.mul(b, 7)));
  const opt = new RescaledRMSProp({ learningRate: 0.001, momentum: 0.9 });
  opt.minimize(loss, false, [w, b]);
  const before = tf.memory().numTensors;
  opt.minimize(loss, false, [w, b]);
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  // The norm here is above 25: the rescaling is active.
  assert.ok(opt.lastStep!.scale < 1, `scale ${opt.lastStep!.scale}`);
  const saved = await opt.getWeights();
  assert.deepEqual(saved.map((s) => s.name), [
    "iter",
    "rr_resume_w/memory",
    "rr_resume_w/running_square",
    "rr_resume_w/running_avg",
    "rr_resume_b/memory",
    "rr_resume_b/running_square",
    "rr_resume_b/running_avg",
  ]);
  const copy = saved.map(({ name, tensor }) => ({
    name,
    tensor: tensor.clone(),
  }));
  const wAt = w.clone(), bAt = b.clone();
  opt.minimize(loss, false, [w, b]);
  const wNext = Array.from(w.dataSync()), bNext = Array.from(b.dataSync());
  w.assign(wAt);
  b.assign(bAt);
  const resumed = RescaledRMSProp.fromConfig(
    RescaledRMSProp,
    opt.getConfig(),
  ) as RescaledRMSProp;
  await resumed.setWeights(copy);
  assert.equal(resumed.iterations, 2);
  resumed.minimize(loss, false, [w, b]);
  assertAllClose(w, wNext, 1e-7, "w");
  assertAllClose(b, bNext, 1e-7, "b");
  opt.dispose();
  resumed.dispose();
  tf.dispose([w, b, wAt, bAt, ...copy.map((c) => c.tensor)]);
});

Deno.test("rmsprop-rescaled: an empty step changes nothing but the count", () => {
  const opt = new RescaledRMSProp({ learningRate: 0.1 });
  opt.applyGradients({});
  assert.equal(opt.iterations, 1);
  assert.equal(opt.lastStep, null);
  opt.dispose();
});
