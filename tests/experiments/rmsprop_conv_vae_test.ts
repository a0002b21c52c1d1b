import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  classifierReadout,
  SampleScorer,
} from "../../lib/eval/sample_score.ts";
import {
  firstGood,
  macsPerExample,
  raceOptimizers,
  raceRows,
  speedRows,
  timeToGood,
} from "../../lib/experiments/rmsprop_conv_vae.ts";
import { raceFigure } from "../../lib/experiments/rmsprop_conv_vae_figures.ts";
import { plotToSvg } from "../../lib/display/mod.ts";
import { ConvVAE } from "../../lib/models/conv_vae.ts";
import { FFVAE } from "../../lib/models/ff_vae.ts";
import { MnistClassifier } from "../../lib/models/mnist_classifier.ts";
import type { EpochRecord } from "../../lib/train.ts";

await tf.setBackend("cpu");

function row(step: number, time: number, fid: number, cost = 50): EpochRecord {
  return {
    epoch: step / 10,
    step,
    time,
    seconds: 1,
    test_cost: cost,
    sample_fid: fid,
  };
}

Deno.test("timeToGood, firstGood and raceRows read when the FID first reached the threshold", () => {
  const history = [
    row(10, 5, 900),
    row(20, 10, 400),
    row(30, 15, 350),
    row(40, 20, 360),
  ];
  assert.equal(timeToGood(history, 376.8), 15);
  assert.equal(timeToGood(history, 100), null);
  const snapshots = history.map((r) => ({
    step: r.step,
    time: r.time,
    samples: new Float32Array([r.step]),
  }));
  assert.deepEqual(
    firstGood({ history, snapshots }, 376.8)?.samples,
    new Float32Array([30]),
  );
  assert.equal(firstGood({ history, snapshots }, 1), null);
  const races = [{ name: "adam", history, snapshots, model: null as never }];
  assert.deepEqual(raceRows(races, 376.8), [{
    optimizer: "adam",
    "time to good (s)": "15",
    "best FID": "350.00",
    "last FID": "360.00",
    "last test cost": "50.00",
    steps: 40,
    "training (s)": 20,
  }]);
  assert.equal(raceRows(races, 1)[0]["time to good (s)"], "not reached");
  const [cost, fid] = raceFigure(races, 376.8).map(plotToSvg);
  assert.match(cost, /test cost per example/);
  assert.match(fid, /good: &lt;= 376\.8/);
});

Deno.test("macsPerExample counts the dense and convolution products by hand", () => {
  const ff = new FFVAE({
    inputSize: 784,
    encSizes: [512, 512, 256],
    decSizes: [256, 512, 512],
    codeSize: 384,
    seed: 1,
  });
  // Encoder, mu, sigma, decoder.
  const ffMacs = 784 * 512 + 512 * 512 + 512 * 256 + 2 * 256 * 384 +
    384 * 256 + 256 * 512 + 512 * 512 + 512 * 784;
  assert.equal(macsPerExample(ff), ffMacs);
  const conv = new ConvVAE({ seed: 1 });
  // 3x3 "same" convs: 28x28x1 -> 64, 14x14x64 -> 128; dense 6272 -> 512,
  // 512 -> 512 twice, 512 -> 6272; the decoder's convs on depooled maps
  // count only their non-zero inputs: 14x14x9x128x64 / 4 and 28x28x9x64x1 / 4.
  const convMacs = 28 * 28 * 9 * 64 + 14 * 14 * 9 * 64 * 128 + 6272 * 512 +
    2 * 512 * 512 + 512 * 6272 + (14 * 14 * 9 * 128 * 64) / 4 +
    (28 * 28 * 9 * 64) / 4;
  assert.equal(macsPerExample(conv), convMacs);
  const rows = speedRows([
    { name: "ff", model: ff, history: [row(100, 2, 1)], batchSize: 100 },
    { name: "conv", model: conv, history: [row(100, 40, 1)], batchSize: 128 },
  ], 50_000);
  assert.equal(rows[0]["examples / s"], 5000);
  assert.equal(rows[0]["s / epoch"], "10");
  assert.equal(
    rows[1]["time ratio"],
    `${((40 / 12800) / (2 / 10000)).toFixed(1)}x`,
  );
  assert.equal(rows[1]["MACs ratio"], `${(convMacs / ffMacs).toFixed(1)}x`);
});

Deno.test("raceOptimizers: each contender trains a fresh model for the budget, scored along the way", async () => {
  // A small real scorer: an untrained classifier and a reference from random digits.
  const classifier = new MnistClassifier({
    seed: 1,
    filters: [4, 8],
    features: 8,
  });
  const images = Float32Array.from(
    { length: 60 * 784 },
    (_, i) => ((i * 7919) % 97) / 97,
  );
  const data = {
    images,
    labels: new Uint8Array(60),
    count: 60,
    height: 28,
    width: 28,
    channels: 1,
  };
  const scorer = new SampleScorer(
    classifier,
    classifierReadout(classifier, images.slice(0, 20 * 784)),
  );
  const build = () =>
    new FFVAE({
      inputSize: 784,
      encSizes: [16],
      decSizes: [16],
      codeSize: 4,
      seed: 2,
    });
  const races = await raceOptimizers(
    [
      {
        name: "nesterov",
        optimizer: { name: "nesterov", learningRate: 0.001, momentum: 0.9 },
      },
      { name: "adam", optimizer: { name: "adam", learningRate: 0.001 } },
    ],
    build,
    data,
    {
      budgetSeconds: 0.5,
      batchSize: 10,
      seed: 1,
      evaluateEvery: 3,
      test: data,
      statsLimit: 20,
      scorer,
      sampleCount: 12,
      keepSamples: 2,
    },
  );
  assert.deepEqual(races.map((r) => r.name), ["nesterov", "adam"]);
  for (const r of races) {
    const last = r.history[r.history.length - 1];
    assert.ok(last.time >= 0.5, `${r.name} stopped before its budget`);
    assert.equal(r.snapshots.length, r.history.length);
    assert.equal(r.snapshots[0].samples.length, 2 * 784);
    for (const h of r.history) {
      assert.ok(Number.isFinite(h.sample_fid) && Number.isFinite(h.test_cost));
    }
  }
});
