import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import type { LabelledImages } from "../../lib/data/images.ts";
import {
  labelledSplit,
  oneHotLabels,
} from "../../lib/data/labelled_subsets.ts";
import {
  entropyRamp,
  evaluateClassifier,
  meanStd,
  type ModelRun,
  type RunSummary,
  saveModels,
  stepWeights,
  targetVerdicts,
  type TrainedM1,
  trainSemiSupervised,
  trainSupervised,
} from "../../lib/experiments/semi_supervised.ts";
import {
  analogies,
  classConditionalGrid,
  codeProjection,
  errorTableRows,
  neighbourAgreement,
} from "../../lib/experiments/semi_supervised_figures.ts";
import { activeUnits, encodeFeatures, M1 } from "../../lib/models/m1.ts";
import { M2 } from "../../lib/models/m2.ts";
import { SSVAE } from "../../lib/models/ss_vae.ts";
import { randomNormal } from "../../lib/nn/random_normal.ts";
import { makeOptimizer } from "../../lib/optim/mod.ts";
import { linearDecay } from "../../lib/optim/schedule.ts";
import { deriveSeed, Rng } from "../../lib/random.ts";
import { loadRun } from "../../lib/runs.ts";
import { assertAllClose } from "../test_util.ts";

await tf.setBackend("cpu");

/**
 * `count` 4x4 "digits" of 3 classes: class c lights row c (plus noise), so
 * the classes are learnable from a few labels.
 */
function digits(count: number, seed: number): LabelledImages {
  const rng = new Rng(seed);
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 3);
  const images = new Float32Array(count * 16);
  for (let i = 0; i < count; i++) {
    for (let p = 0; p < 16; p++) {
      const on = Math.floor(p / 4) === labels[i] ? 0.8 : 0.1;
      images[i * 16 + p] = Math.min(1, on + 0.2 * rng.next());
    }
  }
  return { images, labels, count, height: 4, width: 4, channels: 1 };
}

/** 120 training and 30 validation "digits", 6 of the training labels kept. */
function tinySemiSupervised() {
  const train = digits(120, 2), valid = digits(30, 3);
  const split = labelledSplit(train.labels, {
    labels: 6,
    seed: 1,
    draw: 0,
    classes: 3,
  });
  return { train, valid, split };
}

const m2Config = {
  inputSize: 16,
  classes: 3,
  codeSize: 2,
  classifierSizes: [8],
  encoderSizes: [8],
  decoderSizes: [8],
  seed: 1,
};

Deno.test("oneHotLabels and evaluateClassifier count by hand", () => {
  const set = digits(6, 1);
  assertAllClose(oneHotLabels(set, [0, 4], 3), [1, 0, 0, 0, 1, 0]);
  const model = new M2(m2Config);
  const r = evaluateClassifier(model, set, {
    batchSize: 4,
    mode: "population",
  });
  const logits = model.classLogits(
    tf.tensor2d(set.images, [6, 16]),
    "population",
  );
  const pred = tf.argMax(logits, 1).dataSync();
  const logp = tf.logSoftmax(logits).arraySync() as number[][];
  assert.deepEqual([...r.predictions], [...pred]);
  const wrong = [...pred].filter((p, i) => p !== set.labels[i]).length;
  assert.equal(r.error, wrong / 6);
  const ce = -logp.reduce((s, row, i) => s + row[set.labels[i]], 0) / 6;
  assertAllClose([r.crossEntropy], [ce], 1e-5);
});

Deno.test("trainSemiSupervised logs per epoch, keeps the best validation epoch, and repeats with its seed", async () => {
  const { train, valid, split } = tinySemiSupervised();
  const run = async () => {
    const model = new M2(m2Config);
    const optimizer = makeOptimizer({ name: "adam", learningRate: 0.01 });
    const r = await trainSemiSupervised(model, train, split, {
      optimizer,
      epochs: 4,
      batchSize: 19,
      labelledBatchSize: 4,
      weights: { labelled: 1 / 4, unlabelled: 1 / 19, classification: 2 },
      seed: 5,
      valid,
      label: "test",
    });
    optimizer.dispose();
    return { model, r };
  };
  const { model, r } = await run();
  assert.equal(r.history.length, 4);
  for (
    const key of [
      "train_cost",
      "train_labelled_bound",
      "train_labelled_cross_entropy",
      "train_labelled_error",
      "train_unlabelled_bound",
      "valid_cross_entropy",
      "valid_error",
    ]
  ) assert.ok(Number.isFinite(r.history[0][key]), key);
  const errors = r.history.map((h) => h.valid_error);
  assert.equal(r.bestValidError, Math.min(...errors));
  assert.equal(
    errors[r.history.findIndex((h) => h.epoch === r.bestEpoch)],
    r.bestValidError,
  );
  // The restored weights are the best epoch's, its statistics too.
  const again = evaluateClassifier(model, valid, {
    batchSize: 10,
    mode: "population",
  });
  assert.equal(again.error, r.bestValidError);
  const second = await run();
  assert.deepEqual(
    second.r.history.map((h) => [h.train_cost, h.valid_error]),
    r.history.map((h) => [h.train_cost, h.valid_error]),
  );
});

Deno.test("trainSemiSupervised steps each epoch at its scheduled rate", async () => {
  const { train, valid, split } = tinySemiSupervised();
  const run = async (decayEpochs: number | null) => {
    const model = new M2(m2Config);
    const optimizer = makeOptimizer({ name: "adam", learningRate: 0.01 });
    const asked: number[] = [];
    const rate = linearDecay(0.01, {
      epochs: 4,
      decayEpochs: decayEpochs ?? 0,
    });
    const r = await trainSemiSupervised(model, train, split, {
      optimizer,
      schedule: decayEpochs === null ? undefined : (epoch) => {
        asked.push(epoch);
        return rate(epoch);
      },
      epochs: 4,
      batchSize: 19,
      labelledBatchSize: 4,
      weights: { labelled: 1 / 4, unlabelled: 1 / 19, classification: 2 },
      seed: 5,
      valid,
      label: "test",
    });
    const last = (optimizer as unknown as { learningRate: number })
      .learningRate;
    optimizer.dispose();
    return { costs: r.history.map((h) => h.train_cost), asked, last };
  };
  const plain = await run(null);
  // The last of 4 epochs at half the rate (2 decay epochs: 2/2, then 1/2).
  const decayed = await run(2);
  assert.deepEqual([...new Set(decayed.asked)], [0, 1, 2, 3]);
  assert.equal(decayed.asked.length, 4 * Math.floor(114 / 19)); // every step
  assert.equal(decayed.last, 0.005);
  assert.deepEqual(decayed.costs.slice(0, 3), plain.costs.slice(0, 3));
  assert.notEqual(decayed.costs[3], plain.costs[3]);
  // A constant schedule steps exactly as no schedule.
  assert.deepEqual((await run(0)).costs, plain.costs);
});

Deno.test("averageDecay: the weights kept are the moving average of every step's, their batch norm set for them", async () => {
  const { train, valid, split } = tinySemiSupervised();
  const model = new M2(m2Config);
  const vars = model.trainable();
  const adam = makeOptimizer({ name: "adam", learningRate: 0.01 });
  // The same optimizer, recording the trained weights after each step.
  const steps: Float32Array[][] = [];
  const optimizer = Object.create(adam) as tf.Optimizer;
  optimizer.minimize = (...args) => {
    const out = adam.minimize(...args);
    steps.push(vars.map((v) => v.dataSync().slice() as Float32Array));
    return out;
  };
  const initial = vars.map((v) => v.dataSync().slice());
  const decay = 0.8;
  const r = await trainSemiSupervised(model, train, split, {
    optimizer,
    averageDecay: decay,
    epochs: 1,
    batchSize: 19,
    labelledBatchSize: 4,
    weights: { labelled: 1 / 4, unlabelled: 1 / 19, classification: 2 },
    seed: 5,
    valid,
  });
  adam.dispose();
  assert.equal(steps.length, Math.floor(114 / 19));
  // One evaluation, so the weights kept are the average after the last step.
  const expected = initial.map((w) => Float64Array.from(w));
  steps.forEach((ws, n) => {
    const d = Math.min(decay, (2 + n) / (11 + n));
    ws.forEach((w, i) => {
      for (let j = 0; j < w.length; j++) {
        expected[i][j] = d * expected[i][j] + (1 - d) * w[j];
      }
    });
  });
  vars.forEach((v, i) => assertAllClose(v.dataSync(), expected[i], 1e-5));
  assert.notDeepEqual([...vars[0].dataSync()], [...steps.at(-1)![0]]);
  // The validation error was measured on those weights with their statistics.
  const again = evaluateClassifier(model, valid, {
    batchSize: 500,
    mode: "population",
  });
  assert.equal(again.error, r.bestValidError);
});

Deno.test("entropyRamp: the entropy weight rises linearly from 0 over the ramp's epochs", () => {
  const w = { labelled: 0.5, unlabelled: 0.25, classification: 3 };
  const ramp = entropyRamp(w, 6, 3);
  assert.equal(typeof ramp, "function");
  const at = ramp as (epoch: number) => typeof w & { entropy?: number };
  assert.deepEqual([0, 1, 2, 3, 10].map((e) => at(e).entropy), [2, 4, 6, 6, 6]);
  assert.deepEqual({ ...at(0), entropy: undefined }, {
    ...w,
    entropy: undefined,
  });
  // No ramp, or no weight: the weights as they are.
  assert.equal(entropyRamp(w, 6, 0), w);
  assert.equal(entropyRamp(w, 0, 3), w);
});

Deno.test("trainSupervised changes only the classifier's weights", async () => {
  const train = digits(60, 4), valid = digits(30, 5);
  const split = labelledSplit(train.labels, {
    labels: 9,
    seed: 1,
    draw: 0,
    classes: 3,
  });
  const model = new SSVAE({
    inputSize: 16,
    classes: 3,
    encSizes: [8],
    decSizes: [8],
    codeSize: 2,
    seed: 2,
  });
  const before = model.trainable().map((v) => v.dataSync().slice());
  const optimizer = makeOptimizer({ name: "adam", learningRate: 0.01 });
  const r = await trainSupervised(model, train, split, {
    optimizer,
    epochs: 5,
    batchSize: 100,
    seed: 3,
    valid,
  });
  assert.equal(r.history.length, 5);
  const mine = new Set(model.classifierVariables().map((v) => v.name));
  model.trainable().forEach((v, i) => {
    const same = v.dataSync().every((x, j) => x === before[i][j]);
    assert.equal(same, !mine.has(v.name), v.name);
  });
});

Deno.test("the class grid clamps the label by row and shares z by column", () => {
  const model = new M2(m2Config);
  const grid = classConditionalGrid(model, {
    columns: 4,
    seed: 6,
    mode: "population",
  });
  assert.deepEqual(grid.shape, [12, 16]);
  const rows = grid.arraySync() as number[][];
  const z = randomNormal([4, 2], deriveSeed(6, "samples")) as tf.Tensor2D;
  for (let c = 0; c < 3; c++) {
    const y = tf.oneHot(tf.fill([4], c, "int32") as tf.Tensor1D, 3)
      .toFloat() as tf.Tensor2D;
    const expected = model.decode(z, y, "population").arraySync() as number[][];
    for (let j = 0; j < 4; j++) {
      assertAllClose(rows[c * 4 + j], expected[j], 1e-6);
    }
  }
  assert.notDeepEqual(rows[0 * 4 + 2], rows[1 * 4 + 2]);
});

Deno.test("analogies start each row with the source image, then decode its style as every class", () => {
  const set = digits(5, 7);
  const model = new M2(m2Config);
  const out = analogies(model, set, [1, 3], { mode: "population" });
  assert.deepEqual(out.shape, [2 * 4, 16]);
  const rows = out.arraySync() as number[][];
  assertAllClose(rows[0], set.images.subarray(16, 32));
  assertAllClose(rows[4], set.images.subarray(48, 64));
  const x = tf.tensor2d(set.images.slice(16, 32), [1, 16]);
  const y = tf.oneHot(tf.argMax(model.classLogits(x, "population"), 1), 3)
    .toFloat() as tf.Tensor2D;
  const z = model.styleCode(x, y, "population");
  const asTwo = model.decode(z, tf.tensor2d([[0, 0, 1]]), "population");
  assertAllClose(rows[3], asTwo.dataSync() as Float32Array, 1e-5);
});

Deno.test("codeProjection centres the codes on their leading principal axes", () => {
  const set = digits(40, 8);
  const model = new M2(m2Config);
  const pts = codeProjection(model, set, { limit: 30, mode: "population" });
  assert.equal(pts.length, 30);
  assert.deepEqual(pts.map((p) => p.label), [...set.labels.subarray(0, 30)]);
  const mean = (f: (p: typeof pts[0]) => number) =>
    pts.reduce((s, p) => s + f(p), 0) / pts.length;
  assertAllClose([mean((p) => p.pc1), mean((p) => p.pc2)], [0, 0], 1e-4);
  assert.ok(mean((p) => p.pc1 ** 2) >= mean((p) => p.pc2 ** 2));
  assertAllClose([mean((p) => p.pc1 * p.pc2)], [0], 1e-4);
});

Deno.test("encodeFeatures gives M1's code means and stds of the units asked for, with the labels", () => {
  const set = digits(9, 9);
  const m1 = new M1({ inputSize: 16, hiddenSizes: [6], codeSize: 3, seed: 1 });
  const f = encodeFeatures(m1, set, { batchSize: 4, units: [2, 0] });
  const m = f.mean;
  assert.deepEqual([m.count, m.height, m.width, m.channels], [9, 1, 2, 1]);
  assert.deepEqual(m.labels, set.labels);
  const q = m1.encode(tf.tensor2d(set.images, [9, 16]), "population");
  const pick = (t: tf.Tensor) =>
    (t.arraySync() as number[][]).flatMap((r) => [r[2], r[0]]);
  assertAllClose(m.images, pick(q.mu), 1e-6);
  assertAllClose(f.std, pick(q.sigma), 1e-6);
});

Deno.test("activeUnits keeps the units whose mean varies across images", () => {
  const images = Float32Array.from([
    0,
    1,
    0.5,
    0,
    -1,
    0.5,
    0,
    1,
    0.52,
    0,
    -1,
    0.5,
  ]);
  const codes = {
    images,
    labels: new Uint8Array(4),
    count: 4,
    height: 1,
    width: 3,
    channels: 1,
  };
  assert.deepEqual(activeUnits(codes), [1]);
  assert.deepEqual(activeUnits(codes, 0), [1, 2]);
});

Deno.test("meanStd gives the sample standard deviation", () => {
  assert.deepEqual(meanStd([5]), { mean: 5, std: 0 });
  const r = meanStd([1, 2, 6]);
  assertAllClose([r.mean, r.std], [3, Math.sqrt(7)], 1e-12);
});

Deno.test("stepWeights: Kingma's per-datum weights, or every row of the batch alike", () => {
  const sizes = {
    total: 1000,
    labelled: 100,
    batchSize: 50,
    labelledBatchSize: 10,
  };
  const k = stepWeights("kingma", 0.1, sizes);
  assertAllClose([k.labelled, k.unlabelled, k.classification], [
    100 / (1000 * 10),
    900 / (1000 * 50),
    1,
  ], 1e-12);
  assert.deepEqual(stepWeights("batch", 7, sizes), {
    labelled: 1 / 60,
    unlabelled: 1 / 60,
    classification: 7,
  });
  assert.throws(
    () => stepWeights("sum" as never, 1, sizes),
    /unknown weighting "sum"; use "kingma" or "batch"/,
  );
});

const summary = (
  kind: RunSummary["kind"],
  labels: number,
  draw: number,
  testError: number,
): RunSummary => ({
  kind,
  model: kind,
  labels,
  draw,
  validError: testError - 0.01,
  testError,
  bestEpoch: 3,
  epochs: 4,
  seconds: 60,
});

Deno.test("targetVerdicts holds each measured model to its bar by the mean over draws", () => {
  const lines = targetVerdicts([
    summary("m2", 100, 0, 0.06),
    summary("m2", 100, 1, 0.09),
    summary("ss_vae", 100, 0, 0.11),
    summary("m2", 600, 0, 0.5),
  ]);
  assert.deepEqual(lines, [
    "seed's model, 100 labels: test error 11.00% (1 draw), target <= 12.0%: reached",
    "M2, 100 labels: test error 7.50% (2 draws), target <= 7.0%: NOT reached",
  ]);
});

Deno.test("errorTableRows: mean ± std over draws, beside the paper's number", () => {
  const rows = errorTableRows([
    summary("m2", 100, 0, 0.06),
    summary("m2", 100, 1, 0.08),
    summary("supervised", 100, 0, 0.3),
  ], (kind, labels) => (kind === "m2" && labels === 100 ? "11.97" : undefined));
  assert.equal(rows.length, 2);
  assert.equal(
    rows[0]["test error (%)"],
    `7.00 ± ${(100 * Math.sqrt(0.0002)).toFixed(2)}`,
  );
  assert.equal(rows[0]["Kingma et al. 2014 (%)"], "11.97");
  assert.equal(rows[0].draws, 2);
  assert.equal(rows[1]["test error (%)"], "30.00");
  assert.equal(rows[1]["Kingma et al. 2014 (%)"], "");
});

Deno.test("neighbourAgreement: the share of points whose nearest neighbours vote their class", () => {
  // Two tight clusters of classes 0 and 1, and one class-1 point among the 0s.
  const pts = [
    { pc1: 0, pc2: 0, label: 0 },
    { pc1: 0.1, pc2: 0, label: 0 },
    { pc1: 0, pc2: 0.1, label: 0 },
    { pc1: 0.05, pc2: 0.05, label: 1 },
    { pc1: 10, pc2: 10, label: 1 },
    { pc1: 10.1, pc2: 10, label: 1 },
    { pc1: 10, pc2: 10.1, label: 1 },
  ];
  // k = 2, by hand: p0, p1, p2 each have p3 and one 0 nearest, a tie that
  // goes to class 0 (agree); p3's nearest are 0s (disagree); p4-p6 agree.
  // k = 1: p0-p2's nearest is p3 and p3's is p0 (all disagree).
  assertAllClose([neighbourAgreement(pts, 2)], [6 / 7], 1e-12);
  assertAllClose([neighbourAgreement(pts, 1)], [3 / 7], 1e-12);
});

Deno.test("saveModels: an M1+M2 classifier and its M1 load in a fresh folder and classify raw images as before", async () => {
  const set = digits(12, 5);
  const m1 = new M1({ inputSize: 16, hiddenSizes: [6], codeSize: 3, seed: 2 });
  const units = [0, 2];
  const codes = encodeFeatures(m1, set, { batchSize: 4, units });
  const m2 = new M2({ ...m2Config, inputSize: 2, seed: 4 });
  const before = evaluateClassifier(m2, codes.mean, {
    batchSize: 5,
    mode: "population",
  });
  const root = await Deno.makeTempDir();
  try {
    const focus = new Map([["m1m2" as const, {
      model: m2,
      summary: { kind: "m1m2" },
      result: { history: [] },
    } as unknown as ModelRun]]);
    const trained = {
      m1,
      history: [],
      codes: { units },
    } as unknown as TrainedM1;
    const saved = await saveModels(root, focus, trained);
    assert.deepEqual(Object.keys(saved).sort(), ["m1", "m1m2"]);
    const loadedM1 = (await loadRun(saved.m1)).model as M1;
    const loadedM2 = (await loadRun(saved.m1m2)).model as M2;
    const m1Metrics = JSON.parse(
      await Deno.readTextFile(`${saved.m1}/metrics.json`),
    );
    assert.deepEqual(m1Metrics.units, units);
    const again = evaluateClassifier(
      loadedM2,
      encodeFeatures(loadedM1, set, { batchSize: 4, units: m1Metrics.units })
        .mean,
      { batchSize: 5, mode: "population" },
    );
    assert.deepEqual([...again.predictions], [...before.predictions]);
    assertAllClose([again.crossEntropy], [before.crossEntropy], 1e-6);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
