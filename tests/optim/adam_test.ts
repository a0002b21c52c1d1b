import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { Adam } from "../../lib/optim/adam.ts";
import { randn } from "../backend/test_util.ts";
import { assertAllClose } from "../test_util.ts";
import { adamHand } from "./hand_cases.ts";

await tf.setBackend("cpu");

Deno.test("adam: three steps by hand", adamHand);

Deno.test("adam: same parameters as tf.train.adam over 6 steps", () => {
  const run = (make: () => tf.Optimizer) => {
    const w = tf.variable(tf.tensor2d(randn(40, 1), [8, 5]));
    const b = tf.variable(tf.tensor1d(randn(5, 2)));
    const opt = make();
    for (let k = 0; k < 6; k++) {
      const gw = tf.tensor2d(randn(40, 10 + k), [8, 5]);
      const gb = tf.tensor1d(randn(5, 20 + k, 3));
      opt.applyGradients({ [w.name]: gw, [b.name]: gb });
      tf.dispose([gw, gb]);
    }
    const out = [...w.dataSync(), ...b.dataSync()];
    opt.dispose();
    tf.dispose([w, b]);
    return out;
  };
  const ours = run(() =>
    new Adam({ learningRate: 0.05, beta1: 0.8, beta2: 0.99, epsilon: 1e-8 })
  );
  const theirs = run(() => tf.train.adam(0.05, 0.8, 0.99, 1e-8));
  assertAllClose(ours, theirs, 1e-6);
});

Deno.test("adam: moments follow variable names, whatever the gradients' order", () => {
  const run = (order: "ab" | "ba") => {
    const a = tf.variable(tf.tensor1d([1, 2]));
    const b = tf.variable(tf.tensor1d([3]));
    const opt = new Adam({ learningRate: 0.1 });
    for (const [ga, gb] of [[[1, -1], [5]], [[0.2, 3], [-4]], [[2, 2], [1]]]) {
      const ta = tf.tensor1d(ga), tb = tf.tensor1d(gb);
      const list = [
        { name: a.name, tensor: ta },
        { name: b.name, tensor: tb },
      ];
      opt.applyGradients(order === "ab" ? list : list.reverse());
      tf.dispose([ta, tb]);
    }
    const out = [...a.dataSync(), ...b.dataSync()];
    opt.dispose();
    tf.dispose([a, b]);
    return out;
  };
  assert.deepEqual(run("ba"), run("ab"));
});

Deno.test("adam: no tensors leak per step; setWeights resumes", async () => {
  const p = tf.variable(tf.tensor1d([1, -2, 3]), true, "adam_resume_p");
  const loss = (): tf.Scalar =>
    tf.sum(tf.mul(tf.square(p), tf.tensor1d([1, 2, 3])));
  const opt = new Adam({ learningRate: 0.01 });
  opt.minimize(loss, false, [p]);
  const before = tf.memory().numTensors;
  opt.minimize(loss, false, [p]);
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  const saved = (await opt.getWeights()).map(({ name, tensor }) => ({
    name,
    tensor: tensor.clone(),
  }));
  assert.deepEqual(saved.map((s) => s.name), [
    "iter",
    "adam_resume_p/m",
    "adam_resume_p/v",
  ]);
  const at = p.clone();
  opt.minimize(loss, false, [p]);
  const next = Array.from(p.dataSync());
  p.assign(at);
  const resumed = new Adam({ learningRate: 0.01 });
  await resumed.setWeights(saved);
  resumed.minimize(loss, false, [p]); // step t = 3: bias corrections restored
  assertAllClose(p, next, 1e-7);
  opt.dispose();
  resumed.dispose();
  tf.dispose([p, at, ...saved.map((s) => s.tensor)]);
});
