import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  accuracyOf,
  architectureRows,
  batchImages,
  batchNormAnalysis,
  type BatchNormUnit,
  bestEpochRows,
  buildNetworks,
  confidentMistakes,
  confusionMatrix,
  confusionRows,
  correlation,
  describeData,
  describeEpoch,
  type EpochRecord,
  epochRows,
  estimateConvNetPopulationStats,
  evaluateConvNet,
  flipChoices,
  gammaBetaSummary,
  imageShape,
  type LabelledImages,
  loadData,
  mistakeTitles,
  normModeRows,
  percent,
  trainConvNet,
  trainNetworks,
} from "../../lib/experiments/bn_convnet.ts";
import { BNConvNet } from "../../lib/models/bn_convnet.ts";
import { Rng } from "../../lib/random.ts";
import { assertAllClose } from "../test_util.ts";

await tf.setBackend("cpu");

/** `count` random images of `side x side x 3` with labels alternating 0, 1. */
function randomSet(count: number, side: number, seed: number): LabelledImages {
  const rng = new Rng(seed);
  return {
    images: Float32Array.from(
      { length: count * side * side * 3 },
      () => rng.normal(),
    ),
    labels: Uint8Array.from({ length: count }, (_, i) => i % 2),
    count,
  };
}

Deno.test("a flipped image is the original with its columns reversed", () => {
  // Two 2x3 RGB images whose values encode (image, row, column, channel).
  const shape = { height: 2, width: 3, channels: 3 };
  const code = (n: number, y: number, x: number, c: number) =>
    1000 * n + 100 * y + 10 * x + c;
  const images = new Float32Array(2 * 18);
  for (let n = 0; n < 2; n++) {
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 3; x++) {
        for (let c = 0; c < 3; c++) {
          images[n * 18 + y * 9 + x * 3 + c] = code(n, y, x, c);
        }
      }
    }
  }
  const set = { images, labels: new Uint8Array(2), count: 2 };
  // Batch [image 1 flipped, image 0 as is, image 1 as is].
  const out = batchImages(set, [1, 0, 1], shape, Uint8Array.from([1, 0, 0]));
  const expected: number[] = [];
  for (const [n, flip] of [[1, true], [0, false], [1, false]] as const) {
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 3; x++) {
        for (let c = 0; c < 3; c++) {
          expected.push(code(n, y, flip ? 2 - x : x, c));
        }
      }
    }
  }
  assert.deepEqual(Array.from(out), expected);
  // It is tf.reverse along the width axis.
  const x = tf.tensor4d(images, [2, 2, 3, 3]);
  assertAllClose(
    batchImages(set, [0, 1], shape, Uint8Array.from([1, 1])),
    tf.reverse(x, 2).dataSync(),
    0,
  );
});

Deno.test("flip choices repeat with the seed and flip about half the images", () => {
  const a = flipChoices(10_000, 0.5, new Rng(4));
  const b = flipChoices(10_000, 0.5, new Rng(4));
  const c = flipChoices(10_000, 0.5, new Rng(5));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const flipped = a.reduce((s, v) => s + v, 0);
  // Binomial(10000, 0.5): std 50.
  assert.ok(Math.abs(flipped - 5000) < 250, `${flipped} flipped`);
  assert.equal(flipChoices(100, 0, new Rng(1)).reduce((s, v) => s + v, 0), 0);
  assert.equal(
    flipChoices(100, 1, new Rng(1)).reduce((s, v) => s + v, 0),
    100,
  );
});

Deno.test("accuracy, confusion matrix and confident mistakes on hand-made predictions", () => {
  const labels = [0, 0, 0, 1, 1, 1, 1, 0];
  const predictions = Int32Array.from([0, 1, 0, 1, 0, 1, 1, 1]);
  assert.equal(accuracyOf(labels, predictions), 5 / 8);
  // Rows: true class; columns: predicted.
  assert.deepEqual(confusionMatrix(labels, predictions, 2), [[2, 2], [1, 3]]);
  const p1 = [0.2, 0.7, 0.1, 0.9, 0.4, 0.6, 0.8, 0.95];
  const ev = {
    accuracy: 5 / 8,
    loss: 0,
    predictions,
    probabilities: Float32Array.from(p1.flatMap((p) => [1 - p, p])),
  };
  // Mistakes: #1 (dog 0.7), #4 (cat 0.6), #7 (dog 0.95), most confident first.
  const m = confidentMistakes(labels, ev, 2);
  assert.deepEqual(m.map((x) => [x.index, x.label, x.predicted]), [
    [7, 0, 1],
    [1, 0, 1],
  ]);
  assertAllClose(m.map((x) => x.probability), [0.95, 0.7], 1e-6);
  assert.equal(confidentMistakes(labels, ev, 10).length, 3);
});

Deno.test("correlation of hand-made lists", () => {
  assertAllClose([correlation([1, 2, 3], [2, 4, 6])], [1], 1e-12);
  assertAllClose([correlation([1, 2, 3], [3, 2, 1])], [-1], 1e-12);
  // x = [1, 2, 3, 4], y = [1, 3, 2, 4]: cov 1.0, var 1.25 each -> 0.8.
  assertAllClose([correlation([1, 2, 3, 4], [1, 3, 2, 4])], [0.8], 1e-12);
});

Deno.test("population statistics of conv layers average over batch * H * W values", async () => {
  // 32x32 inputs: conv0 gives 15x15 maps, conv1 6x6, conv2 2x2.
  const net = new BNConvNet({ seed: 3, width: 0.125, inputSize: 32 });
  const shape = { height: 32, width: 32, channels: 3 };
  const set = randomSet(6, 32, 8);
  await estimateConvNetPopulationStats(net, set, shape, 3);
  // By hand, per channel of conv0 in batches [0,1,2] and [3,4,5]: mean of the
  // batch means, and mean of the biased batch variances times m / (m - 1)
  // with m = 3 * 15 * 15 = 675.
  const conv = net.stages[0].conv;
  const features = conv.outChannels;
  const batchStats = [[0, 1, 2], [3, 4, 5]].map((idx) => {
    const x = tf.tensor4d(
      set.images.slice(idx[0] * 3072, (idx[2] + 1) * 3072),
      [3, 32, 32, 3],
    );
    const y = conv.apply(x).dataSync();
    const mean = new Array(features).fill(0);
    const sq = new Array(features).fill(0);
    const m = y.length / features;
    assert.equal(m, 675);
    for (let i = 0; i < y.length; i++) mean[i % features] += y[i] / m;
    for (let i = 0; i < y.length; i++) {
      sq[i % features] += (y[i] - mean[i % features]) ** 2 / m;
    }
    return { mean, variance: sq };
  });
  const expectedMean = batchStats[0].mean.map((a, j) =>
    (a + batchStats[1].mean[j]) / 2
  );
  const expectedVar = batchStats[0].variance.map((a, j) =>
    ((a + batchStats[1].variance[j]) / 2) * 675 / 674
  );
  const bn = net.stages[0].bn!;
  assertAllClose(bn.popMean, expectedMean, 1e-5);
  assertAllClose(
    bn.popVar.dataSync().map((v, j) => v / expectedVar[j]),
    expectedVar.map(() => 1),
    1e-4,
  );
  // The dense layers use m = batch size; without batch norm it is a no-op.
  const plain = new BNConvNet({
    seed: 3,
    width: 0.125,
    inputSize: 32,
    batchNorm: false,
  });
  await estimateConvNetPopulationStats(plain, set, shape, 3);
});

Deno.test("evaluation with population statistics does not depend on the batch size", () => {
  const net = new BNConvNet({ seed: 4, width: 0.25, inputSize: 32 });
  const shape = { height: 32, width: 32, channels: 3 };
  const set = randomSet(7, 32, 2);
  const a = evaluateConvNet(net, set, shape, {
    batchSize: 1,
    mode: "population",
  });
  const b = evaluateConvNet(net, set, shape, {
    batchSize: 4,
    mode: "population",
  });
  assertAllClose(a.probabilities, b.probabilities, 1e-5);
  // The loss is the mean of -log p(true class).
  const byHand = Array.from(set.labels).reduce(
    (s, l, i) => s - Math.log(a.probabilities[2 * i + l]),
    0,
  ) / set.count;
  assertAllClose([a.loss], [byHand], 1e-5);
  assert.equal(a.accuracy, accuracyOf(set.labels, a.predictions));
  // Minibatch statistics: the lone last example joins the batch before.
  const mb = evaluateConvNet(net, set, shape, {
    batchSize: 3,
    mode: "minibatch",
  });
  assert.ok(mb.probabilities.every(Number.isFinite));
});

Deno.test("trainConvNet learns an easy task and repeats with its seed", async () => {
  // Class 1 images are brighter overall: a cue that survives flips.
  const side = 32;
  const rng = new Rng(11);
  const count = 40;
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 2);
  const images = new Float32Array(count * side * side * 3);
  for (let n = 0; n < count; n++) {
    const shift = labels[n] ? 0.8 : -0.8;
    for (let i = 0; i < side * side * 3; i++) {
      images[n * side * side * 3 + i] = rng.normal() + shift;
    }
  }
  const set = { images, labels, count };
  const shape = { height: side, width: side, channels: 3 };
  const run = async (reportMoving: boolean) => {
    const net = new BNConvNet({ seed: 2, width: 0.125, inputSize: side });
    const history = await trainConvNet(net, set, shape, {
      epochs: 3,
      batchSize: 10,
      learningRate: 0.03,
      momentum: 0.9,
      flipProbability: 0.5,
      seed: 1,
      valid: set,
      label: false,
      reportMoving,
    });
    return { net, history };
  };
  const first = await run(true);
  const second = await run(false);
  const h = first.history;
  const keys = [
    "epoch",
    "seconds",
    "train_accuracy",
    "train_loss",
    "valid_accuracy",
    "valid_loss",
  ];
  assert.deepEqual(Object.keys(second.history[0]).sort(), keys);
  assert.deepEqual(
    Object.keys(h[0]).sort(),
    [...keys, "valid_accuracy_moving", "valid_loss_moving"].sort(),
  );
  // The last row's validation used the exact statistics now in the net.
  const last = evaluateConvNet(first.net, set, shape, {
    batchSize: 7,
    mode: "population",
  });
  assertAllClose([last.loss], [h[2].valid_loss], 1e-5);
  assert.equal(h.length, 3);
  assert.ok(h[2].train_loss < h[0].train_loss, JSON.stringify(h));
  assert.ok(h[2].valid_accuracy >= 0.95, JSON.stringify(h));
  for (let e = 0; e < 3; e++) {
    assertAllClose(
      [second.history[e].train_loss, second.history[e].valid_loss],
      [h[e].train_loss, h[e].valid_loss],
      1e-6,
    );
  }
  // After training the population statistics are the exact pass: analysis
  // over the whole set in one batch finds no mean bias, and the minibatch
  // std falls short of the population std by sqrt((m - 1) / m) for fc0.
  const units = batchNormAnalysis(first.net, set, shape, {
    batchSize: count,
    batches: 1,
    seed: 0,
  });
  await estimateConvNetPopulationStats(first.net, set, shape, count);
  const exact = batchNormAnalysis(first.net, set, shape, {
    batchSize: count,
    batches: 1,
    seed: 0,
  });
  assert.equal(units.length, exact.length);
  const fc0 = exact.filter((u) => u.layer === "fc0");
  assert.equal(fc0.length, 16);
  assert.equal(fc0[0].m, count);
  assertAllClose(fc0.map((u) => u.meanBias), fc0.map(() => 0), 1e-4);
  assertAllClose(
    fc0.map((u) => u.stdBias),
    fc0.map(() => Math.sqrt((count - 1) / count) - 1),
    1e-4,
  );
  assertAllClose(fc0.map((u) => u.meanSpread), fc0.map(() => 0), 1e-6);
});

Deno.test("buildNetworks: BN and no BN at each width, as the seed's layer sizes", () => {
  const networks = buildNetworks([1, 0.5], { seed: 3, inputSize: 48 });
  assert.deepEqual(
    networks.map(({ name, width, batchNorm }) => ({ name, width, batchNorm })),
    [
      { name: "BN, full", width: 1, batchNorm: true },
      { name: "no BN, full", width: 1, batchNorm: false },
      { name: "BN, width 0.5", width: 0.5, batchNorm: true },
      { name: "no BN, width 0.5", width: 0.5, batchNorm: false },
    ],
  );
  // Same weights as building the model directly with that seed.
  const direct = new BNConvNet({
    seed: 3,
    width: 1,
    batchNorm: true,
    inputSize: 48,
  });
  assertAllClose(
    networks[0].model.trainable()[0].dataSync(),
    direct.trainable()[0].dataSync(),
    0,
  );
  const rows = architectureRows(networks);
  assert.deepEqual(rows.map((r) => r["conv filters"]), [
    "32, 64, 128",
    "32, 64, 128",
    "16, 32, 64",
    "16, 32, 64",
  ]);
  assert.equal(rows[0].dense, "512 -> 128 -> 16 -> 2");
  assert.equal(rows[2].dense, "256 -> 64 -> 8 -> 2");
  // Full net without BN: conv 3*3*3*32+32, 2*2*32*64+64, 2*2*64*128+128;
  // dense 512*128+128, 128*16+16, 16*2+2.
  const plain = 896 + 8256 + 32896 + 65664 + 2064 + 34;
  assert.equal(rows[1].parameters, plain);
  // BN adds gamma and beta per conv channel and hidden unit.
  assert.equal(rows[0].parameters, plain + 2 * (32 + 64 + 128 + 128 + 16));
});

/** A history row with the given accuracies and losses. */
function row(
  epoch: number,
  valid: number,
  seconds = 12.4,
): EpochRecord {
  return {
    epoch,
    seconds,
    train_accuracy: 0.8745,
    valid_accuracy: valid,
    train_loss: 0.36449,
    valid_loss: 0.5,
  };
}

Deno.test("epoch lines and tables format the history", () => {
  assert.equal(percent(0.8024), "80.2%");
  assert.equal(
    describeEpoch("BN, full", row(11, 0.802)),
    "BN, full epoch 11: train 87.5%, valid 80.2%, loss 0.364 (12 s)",
  );
  const histories = {
    a: [row(1, 0.6), row(2, 0.7), row(3, 0.7)],
    b: [row(1, 0.65, 3.6)],
  };
  const rows = epochRows(histories);
  assert.equal(rows.length, 4);
  assert.deepEqual(rows[3], {
    network: "b",
    epoch: 1,
    train: "87.5%",
    valid: "65.0%",
    loss: "0.364",
    "valid loss": "0.500",
    seconds: 4,
  });
  // The first epoch reaching the best accuracy.
  assert.deepEqual(bestEpochRows(histories), [
    { network: "a", "best valid": "70.0%", "at epoch": 2 },
    { network: "b", "best valid": "65.0%", "at epoch": 1 },
  ]);
});

Deno.test("data description, image shape, confusion rows and mistake titles", () => {
  const data = {
    source: "/data/train.zip",
    fromCache: true,
    train: { count: 160 },
    valid: { count: 40 },
    height: 48,
    width: 48,
    channels: 3,
  };
  assert.equal(
    describeData(data),
    "/data/train.zip (prepared images from the cache)\n" +
      "train 160, valid 40, 48x48 RGB",
  );
  assert.deepEqual(imageShape(data), { height: 48, width: 48, channels: 3 });
  assert.deepEqual(confusionRows([[6, 10], [5, 19]], ["cat", "dog"]), [
    { "true \\ predicted": "cat", cat: 6, dog: 10 },
    { "true \\ predicted": "dog", cat: 5, dog: 19 },
  ]);
  const mistakes = [
    { index: 4, label: 0, predicted: 1, probability: 0.987 },
    { index: 1, label: 1, predicted: 0, probability: 0.6 },
  ];
  assert.deepEqual(mistakeTitles(mistakes, ["cat", "dog"]), [
    "dog 0.99",
    "cat 0.60",
  ]);
  assert.deepEqual(
    normModeRows([
      { statistics: "minibatch", batchSize: 10, accuracy: 0.575, loss: 0.6817 },
    ]),
    [{
      statistics: "minibatch",
      batchSize: 10,
      accuracy: "57.5%",
      loss: "0.682",
    }],
  );
});

Deno.test("gammaBetaSummary: per-layer means and correlations", () => {
  const unit = (
    layer: string,
    gamma: number,
    stdBias: number,
    beta: number,
    meanBias: number,
  ): BatchNormUnit => ({
    layer,
    unit: 0,
    m: layer === "fc0" ? 10 : 1000,
    gamma,
    beta,
    popMean: 0,
    popStd: 1,
    meanBias,
    stdBias,
    meanSpread: 0,
    stdSpread: 0,
  });
  const units = [
    unit("conv0", 1, -0.01, 0.3, 0.02),
    unit("conv0", 2, -0.02, 0.2, -0.04),
    unit("conv0", 3, -0.03, 0.1, 0.08),
    unit("fc0", 1, -0.1, 1, 0.1),
    unit("fc0", 1.5, -0.05, 1, 0.3),
    unit("fc0", 1, -0.1, 2, 0.2),
  ];
  const rows = gammaBetaSummary(units);
  // conv0: gamma falls as the bias grows (corr -1); beta 0.3, 0.2, 0.1
  // against mean biases 0.02, -0.04, 0.08: centered (0.1, 0, -0.1) and
  // (0, -0.06, 0.06), -0.006 / sqrt(0.02 * 0.0072) = -0.5.
  assert.deepEqual(rows[0], {
    layer: "conv0",
    m: 1000,
    "mean std bias": "-0.0200",
    "mean gamma": "2.000",
    "corr(gamma, std bias)": "-1.00",
    "mean |mean bias|": "0.0467",
    "corr(beta, mean bias)": "-0.50",
  });
  // fc0: gamma 1, 1.5, 1 against -0.1, -0.05, -0.1: corr 1; beta 1, 1, 2
  // against 0.1, 0.3, 0.2: centered (-1/3, -1/3, 2/3) . (-0.1, 0.1, 0) = 0.
  assert.deepEqual(rows[1], {
    layer: "fc0",
    m: 10,
    "mean std bias": "-0.0833",
    "mean gamma": "1.167",
    "corr(gamma, std bias)": "1.00",
    "mean |mean bias|": "0.2000",
    "corr(beta, mean bias)": "0.00",
  });
});

Deno.test("trainNetworks trains each network as trainConvNet would and logs each epoch", async () => {
  const side = 32;
  const train = randomSet(20, side, 5);
  const valid = randomSet(10, side, 6);
  const data = { train, valid, height: side, width: side, channels: 3 };
  const opts = {
    epochs: 2,
    batchSize: 10,
    learningRate: 0.01,
    momentum: 0.9,
    flipProbability: 0.5,
    seed: 4,
  };
  const lines: string[] = [];
  const networks = buildNetworks([0.125], { seed: 2, inputSize: side });
  const histories = await trainNetworks(networks, data, {
    ...opts,
    log: (line) => lines.push(line),
  });
  assert.deepEqual(Object.keys(histories), [
    "BN, width 0.125",
    "no BN, width 0.125",
  ]);
  assert.deepEqual(
    lines,
    networks.flatMap(({ name }) =>
      histories[name].map((r) => describeEpoch(name, r))
    ),
  );
  const shape = imageShape(data);
  for (const { name, width, batchNorm } of networks) {
    const net = new BNConvNet({ seed: 2, width, batchNorm, inputSize: side });
    const direct = await trainConvNet(net, train, shape, {
      ...opts,
      valid,
      label: false,
    });
    const strip = (h: EpochRecord[]) => h.map(({ seconds: _, ...r }) => r);
    assert.deepEqual(strip(histories[name]), strip(direct));
  }
});

Deno.test("loadData reads a dataset folder with a progress bar, skipping broken images", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fixtures = new URL("../fixtures/dvc/", import.meta.url);
    for (
      const [from, to] of [["cat.0.jpg", "cat.0.jpg"], [
        "dog.0.jpg",
        "dog.0.jpg",
      ], ["truncated.jpg", "cat.1.jpg"]]
    ) {
      await Deno.copyFile(new URL(from, fixtures), `${dir}/${to}`);
    }
    const data = await loadData({
      path: dir,
      cacheDir: null,
      trainFraction: 0.5,
    });
    assert.equal(data.train.count + data.valid.count, 2);
    assert.deepEqual(data.skipped.map((s) => s.name), ["cat.1.jpg"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
