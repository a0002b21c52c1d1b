import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { makeOptimizer, OPTIMIZER_NAMES } from "../../lib/optim/mod.ts";
import { linearDecay, setLearningRate } from "../../lib/optim/schedule.ts";
import { assertAllClose } from "../test_util.ts";

await tf.setBackend("cpu");

Deno.test("linearDecay: constant, then k / decayEpochs of the rate over the last epochs", () => {
  const rate = linearDecay(0.3, { epochs: 6, decayEpochs: 3 });
  assertAllClose(
    [0, 1, 2, 3, 4, 5].map(rate),
    [0.3, 0.3, 0.3, 0.3, 0.2, 0.1],
    1e-12,
  );
  const constant = linearDecay(0.3, { epochs: 6, decayEpochs: 0 });
  assert.deepEqual([0, 5].map(constant), [0.3, 0.3]);
  // More decay epochs than epochs: decays over all of them.
  const all = linearDecay(1, { epochs: 4, decayEpochs: 10 });
  assertAllClose([0, 1, 2, 3].map(all), [1, 0.75, 0.5, 0.25], 1e-12);
});

Deno.test("linearDecay: bad settings name themselves", () => {
  assert.throws(
    () => linearDecay(0, { epochs: 3, decayEpochs: 1 }),
    /learningRate must be a positive number, got 0/,
  );
  assert.throws(
    () => linearDecay(0.1, { epochs: 0, decayEpochs: 1 }),
    /epochs must be a positive integer, got 0/,
  );
  assert.throws(
    () => linearDecay(0.1, { epochs: 3, decayEpochs: 1.5 }),
    /decayEpochs must be an integer >= 0, got 1.5/,
  );
});

Deno.test("setLearningRate: the next step of every optimizer moves by the new rate", () => {
  // From zero moments, a first step of Adam moves each weight by the rate
  // times sign(g) (m / sqrt(v) = g / |g|); plain SGD (tfjs') by rate * g.
  const stepOf = (opt: tf.Optimizer, rate: number) => {
    const w = tf.variable(tf.tensor1d([1, -2]));
    setLearningRate(opt, rate);
    const g = tf.tensor1d([0.5, -4]);
    opt.applyGradients({ [w.name]: g });
    const moved = [...tf.sub(w, tf.tensor1d([1, -2])).dataSync()];
    opt.dispose();
    tf.dispose([w, g]);
    return moved;
  };
  assertAllClose(
    stepOf(makeOptimizer({ name: "adam", learningRate: 0.1 }), 0.02),
    [-0.02, 0.02],
    1e-6,
  );
  // tfjs' SGD and momentum also hold the rate in a tensor.
  assertAllClose(stepOf(tf.train.sgd(1), 0.25), [-0.125, 1], 1e-6);
  assertAllClose(stepOf(tf.train.momentum(1, 0.9), 0.25), [-0.125, 1], 1e-6);
  // tfjs' RMSProp (decay 0.9): v = 0.1 g^2, a step of rate / sqrt(0.1).
  const r = 0.01 / Math.sqrt(0.1);
  assertAllClose(stepOf(tf.train.rmsprop(1), 0.01), [-r, r], 1e-5);
  // Every optimizer of lib/optim takes it (the first steps differ; each must move less).
  for (const name of OPTIMIZER_NAMES) {
    const big = stepOf(makeOptimizer({ name, learningRate: 0.1 }), 0.1);
    const small = stepOf(makeOptimizer({ name, learningRate: 0.1 }), 0.01);
    assertAllClose(small, big.map((x) => x / 10), 1e-6);
  }
});

Deno.test("setLearningRate: an optimizer without the field, or a bad rate, is refused", () => {
  const sgd = tf.train.sgd(0.1);
  assert.throws(() => setLearningRate(sgd, 0), /positive number, got 0/);
  const odd = { getClassName: () => "Odd" } as unknown as tf.Optimizer;
  assert.throws(
    () => setLearningRate(odd, 0.1),
    /Odd has no numeric learningRate field to set/,
  );
  sgd.dispose();
});
