import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { WeightAverage } from "../../lib/optim/average.ts";
import { assertAllClose } from "../test_util.ts";

await tf.setBackend("cpu");

Deno.test("WeightAverage folds each step in with min(decay, (1 + n) / (10 + n))", () => {
  const w = tf.variable(tf.tensor1d([1, 2]));
  const avg = new WeightAverage([w], 0.2);
  // Step 1: 2/11 < 0.2, so d = 2/11; a = d * [1, 2] + (1 - d) * [3, 4].
  assert.equal(avg.nextDecay(), 2 / 11);
  w.assign(tf.tensor1d([3, 4]));
  avg.update();
  const d1 = 2 / 11;
  const a1 = [d1 * 1 + (1 - d1) * 3, d1 * 2 + (1 - d1) * 4];
  // Step 2: 3/12 > 0.2, so d = 0.2.
  assert.equal(avg.nextDecay(), 0.2);
  w.assign(tf.tensor1d([-1, 0]));
  avg.update();
  const a2 = [0.2 * a1[0] - 0.8, 0.2 * a1[1]];
  assert.equal(avg.steps, 2);
  avg.swap();
  assert.equal(avg.swapped, true);
  assertAllClose(w.dataSync(), a2, 1e-6);
  // Swapping back restores training's weights exactly.
  avg.swap();
  assert.deepEqual([...w.dataSync()], [-1, 0]);
  avg.dispose();
  w.dispose();
});

Deno.test("WeightAverage refuses a decay outside [0, 1) and an update while swapped", () => {
  const w = tf.variable(tf.tensor1d([1]));
  assert.throws(() => new WeightAverage([w], 1), /decay must be in \[0, 1\)/);
  assert.throws(() => new WeightAverage([w], -0.1), /decay must be in/);
  const avg = new WeightAverage([w], 0.9);
  avg.swap();
  assert.throws(() => avg.update(), /call swap\(\) again/);
  avg.swap();
  avg.update();
  avg.dispose();
  w.dispose();
});
