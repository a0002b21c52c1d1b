import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  evaluateVAE,
  latentPaths,
  sampleVAE,
  trainVAE,
} from "../../lib/experiments/ff_vae.ts";
import { FFVAE } from "../../lib/models/ff_vae.ts";
import { randomNormal } from "../../lib/nn/random_normal.ts";
import { makeOptimizer } from "../../lib/optim/mod.ts";
import { deriveSeed } from "../../lib/random.ts";
import { assertAllClose } from "../test_util.ts";

await tf.setBackend("cpu");

/** 60 tiny "images" of 16 pixels in [0, 1]. */
function digits() {
  const images = Float32Array.from(
    { length: 60 * 16 },
    (_, i) => ((i * 37) % 16 < 8 + (Math.floor(i / 16) % 4) ? 1 : 0),
  );
  return {
    images,
    labels: new Uint8Array(60),
    count: 60,
    height: 4,
    width: 4,
    channels: 1,
  };
}

const config = {
  inputSize: 16,
  encSizes: [12],
  decSizes: [12],
  codeSize: 3,
  seed: 4,
};

Deno.test("trainVAE logs the cost and its terms per example and repeats with its seed", async () => {
  const run = async () => {
    const model = new FFVAE(config);
    const optimizer = makeOptimizer({
      name: "nesterov",
      learningRate: 0.1 / 10,
      momentum: 0.9,
    });
    const history = await trainVAE(model, digits(), {
      optimizer,
      epochs: 3,
      batchSize: 10,
      seed: 2,
      valid: digits(),
    });
    optimizer.dispose();
    return { model, history };
  };
  const { model, history } = await run();
  assert.deepEqual(Object.keys(history[0]).sort(), [
    "epoch",
    "seconds",
    "step",
    "time",
    "train_cost",
    "train_kl",
    "train_reconstruction",
    "valid_cost",
    "valid_kl",
    "valid_reconstruction",
  ]);
  for (const r of history) {
    assertAllClose([r.train_kl + r.train_reconstruction], [r.train_cost], 1e-4);
    assertAllClose([r.valid_kl + r.valid_reconstruction], [r.valid_cost], 1e-4);
  }
  assert.ok(history[2].train_cost < history[0].train_cost);
  // The last validation is what evaluateVAE now gives, with the
  // recalibrated population statistics.
  const v = evaluateVAE(model, digits(), {
    batchSize: 10,
    mode: "population",
    seed: 2,
  });
  assertAllClose([v.cost], [history[2].valid_cost], 1e-5);
  const again = await run();
  const strip = (h: typeof history) =>
    h.map(({ seconds: _s, time: _t, ...r }) => r);
  assert.deepEqual(strip(again.history), strip(history));
});

Deno.test("evaluateVAE covers every example once and draws batch b's noise from deriveSeed(seed, 'eval', b)", () => {
  const model = new FFVAE(config);
  const data = digits();
  const ev = evaluateVAE(model, data, {
    batchSize: 25,
    mode: "minibatch",
    seed: 7,
  });
  // By hand: batches [0, 25), [25, 50), [50, 60).
  let total = 0, kl = 0;
  for (const [b, [lo, hi]] of [[0, 25], [25, 50], [50, 60]].entries()) {
    tf.tidy(() => {
      const x = tf.tensor2d(data.images.slice(lo * 16, hi * 16), [hi - lo, 16]);
      const c = model.cost(x, "minibatch", deriveSeed(7, "eval", b));
      total += c.total.dataSync()[0];
      kl += c.kl.dataSync()[0];
    });
  }
  assertAllClose([ev.cost, ev.kl], [total / 60, kl / 60], 1e-4);
});

Deno.test("latentPaths: straight legs between seeded points, path after path", () => {
  const paths = latentPaths(3, { paths: 2, segments: 2, steps: 3, seed: 5 });
  assert.deepEqual(paths.shape, [2 * 2 * 3, 3]);
  const v = paths.arraySync();
  for (const p of [0, 1]) {
    const points = randomNormal([3, 3], deriveSeed(5, "paths", p))
      .arraySync() as number[][];
    const rows = v.slice(p * 6, p * 6 + 6);
    // Leg s runs from point s to point s + 1 in 3 steps: ends and midpoint.
    for (const s of [0, 1]) {
      assertAllClose(rows[3 * s], points[s], 1e-6);
      assertAllClose(rows[3 * s + 2], points[s + 1], 1e-6);
      assertAllClose(
        rows[3 * s + 1],
        points[s].map((a, j) => (a + points[s + 1][j]) / 2),
        1e-6,
      );
    }
  }
});

Deno.test("sampleVAE decodes prior codes drawn from deriveSeed(seed, 'samples')", () => {
  const model = new FFVAE(config);
  const s = sampleVAE(model, 4, { mode: "population", seed: 3 });
  const z = randomNormal([4, 3], deriveSeed(3, "samples")) as tf.Tensor2D;
  assertAllClose(s, model.decode(z, "population").dataSync(), 0);
  assert.deepEqual(s.shape, [4, 16]);
});
