import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { CenteredRMSProp } from "../../lib/optim/rmsprop.ts";
import { assertAllClose } from "../test_util.ts";
import { centeredGraves, centeredRound } from "./hand_cases.ts";

await tf.setBackend("cpu");

Deno.test("rmsprop (centred, Graves 2013): three steps by hand, plain momentum", () =>
  centeredRound(false));
Deno.test("rmsprop (centred): three steps by hand, Nesterov step", () =>
  centeredRound(true));
Deno.test(
  "rmsprop (centred): Graves' constants are the defaults (by hand)",
  centeredGraves,
);

Deno.test("rmsprop (centred): defaults are Graves' eqs. 38-41 constants", () => {
  const opt = new CenteredRMSProp();
  assert.deepEqual(opt.getConfig(), {
    learningRate: 1e-4,
    decay: 0.95,
    momentum: 0.9,
    epsilon: 1e-4,
    nesterov: false,
  });
  opt.dispose();
});

Deno.test("rmsprop (centred): divides by the RMS, so the steps ignore the gradient's scale", () => {
  // With epsilon negligible, gradients 1000 times larger give the same steps.
  const run = (scale: number) => {
    const p = tf.variable(tf.tensor1d([0, 0, 0]));
    const opt = new CenteredRMSProp({ learningRate: 0.01, epsilon: 1e-12 });
    const after: number[][] = [];
    for (const g of [[1, -2, 0.5], [0.3, 1, -1], [2, 2, 2]]) {
      const grad = tf.mul(tf.tensor1d(g), scale);
      opt.applyGradients({ [p.name]: grad });
      grad.dispose();
      after.push(Array.from(p.dataSync()));
    }
    opt.dispose();
    p.dispose();
    return after;
  };
  const small = run(1), large = run(1000);
  for (const k of [0, 1, 2]) assertAllClose(large[k], small[k], 1e-6);
  // The first step is -sign(g) lr / sqrt(0.95 * 0.05), whatever |g|:
  // n - gbar^2 = 0.05 g^2 - 0.0025 g^2 = 0.0475 g^2; 0.01 / 0.217944947.
  const first = 0.01 / Math.sqrt(0.0475);
  assertAllClose(small[0], [-first, first, -first], 1e-6);
});

Deno.test("rmsprop (centred): no tensors leak per step", () => {
  const p = tf.variable(tf.tensor1d([1, 2, 3]));
  const opt = new CenteredRMSProp({ nesterov: true });
  const loss = (): tf.Scalar => tf.sum(tf.square(p));
  opt.minimize(loss, false, [p]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) opt.minimize(loss, false, [p]);
  assert.equal(tf.memory().numTensors, before);
  opt.dispose();
  p.dispose();
});
