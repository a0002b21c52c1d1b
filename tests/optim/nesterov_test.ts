import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { NesterovMomentum } from "../../lib/optim/nesterov.ts";
import { assertAllClose } from "../test_util.ts";

await tf.setBackend("cpu");

Deno.test("Nesterov momentum: three steps of the seed's sgd_nesterov, by hand", () => {
  // Loss 0.5 * sum(c * p^2), so g = c * p. lr 0.1, momentum 0.9:
  //   update = 0.9 * mem - 0.1 * g;  p += 0.81 * mem - 0.19 * g;  mem = update
  // p = 1, c = 1:  g 1 -> p 0.81, mem -0.1
  //                g 0.81 -> p 0.81 - 0.081 - 0.1539 = 0.5751, mem -0.171
  //                g 0.5751 -> p 0.5751 - 0.13851 - 0.109269 = 0.327321
  // p = 2, c = 3:  g 6 -> p 2 - 1.14 = 0.86, mem -0.6
  //                g 2.58 -> p 0.86 - 0.486 - 0.4902 = -0.1162, mem -0.798
  //                g -0.3486 -> p -0.1162 - 0.64638 + 0.066234 = -0.696346
  const p = tf.variable(tf.tensor1d([1, 2]));
  const c = tf.tensor1d([1, 3]);
  const opt = new NesterovMomentum(0.1, 0.9);
  const expected = [[0.81, 0.86], [0.5751, -0.1162], [0.327321, -0.696346]];
  for (const e of expected) {
    opt.minimize(() => tf.sum(tf.mul(0.5, tf.mul(c, tf.square(p)))), false, [
      p,
    ]);
    assertAllClose(p, e, 1e-5);
  }
  opt.dispose();
});

Deno.test("Nesterov momentum exposes its memory (the last update) as weights", async () => {
  const p = tf.variable(tf.tensor1d([1]), true, "nesterov_weights_p");
  const opt = new NesterovMomentum(0.1, 0.9);
  opt.minimize(() => tf.sum(tf.mul(0.5, tf.square(p))), false, [p]);
  const [iterations, memory] = await opt.getWeights();
  assertAllClose(iterations.tensor, [1]);
  if (memory.name !== "nesterov_weights_p/memory") throw new Error(memory.name);
  assertAllClose(memory.tensor, [-0.1]);
  opt.dispose();
});
