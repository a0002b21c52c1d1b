import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { batchNormAnalysis } from "../../lib/eval/batch_norm_analysis.ts";
import { accuracyOf } from "../../lib/eval/metrics.ts";
import {
  buildNetworks,
  describeData,
  evaluateConvNet,
  loadData,
  trainConvNet,
  trainNetworks,
} from "../../lib/experiments/bn_convnet.ts";
import { BNConvNet } from "../../lib/models/bn_convnet.ts";
import { recalibrateBatchNorm } from "../../lib/nn/batch_norm_model.ts";
import { makeOptimizer } from "../../lib/optim/mod.ts";
import { seededNormalValues } from "../../lib/nn/random_normal.ts";
import { describeEpoch, type EpochRecord } from "../../lib/train.ts";
import { assertAllClose, randomImages } from "../test_util.ts";

await tf.setBackend("cpu");

Deno.test("evaluation with population statistics does not depend on the batch size", () => {
  const net = new BNConvNet({ seed: 4, width: 0.25, inputSize: 32 });
  const set = randomImages(7, 32, 2);
  const a = evaluateConvNet(net, set, {
    batchSize: 1,
    mode: "population",
  });
  const b = evaluateConvNet(net, set, {
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
  const mb = evaluateConvNet(net, set, {
    batchSize: 3,
    mode: "minibatch",
  });
  assert.ok(mb.probabilities.every(Number.isFinite));
});

Deno.test("trainConvNet learns an easy task and repeats with its seed", async () => {
  // Class 1 images are brighter overall: a cue that survives flips.
  const side = 32;
  const count = 40;
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 2);
  const images = seededNormalValues(count * side * side * 3, 11);
  for (let n = 0; n < count; n++) {
    const shift = labels[n] ? 0.8 : -0.8;
    for (let i = 0; i < side * side * 3; i++) {
      images[n * side * side * 3 + i] += shift;
    }
  }
  const set = { images, labels, count, height: side, width: side, channels: 3 };
  const run = async (reportMoving: boolean) => {
    const net = new BNConvNet({ seed: 2, width: 0.125, inputSize: side });
    const optimizer = makeOptimizer({
      name: "nesterov",
      learningRate: 0.03,
      momentum: 0.9,
    });
    const history = await trainConvNet(net, set, {
      optimizer,
      epochs: 3,
      batchSize: 10,
      flipProbability: 0.5,
      seed: 1,
      valid: set,
      label: false,
      reportMoving,
    });
    optimizer.dispose();
    return { net, history };
  };
  const first = await run(true);
  const second = await run(false);
  const h = first.history;
  const keys = [
    "epoch",
    "seconds",
    "step",
    "time",
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
  const last = evaluateConvNet(first.net, set, {
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
  const units = batchNormAnalysis(first.net, set, {
    batchSize: count,
    batches: 1,
    seed: 0,
  });
  await recalibrateBatchNorm(first.net, set, { batchSize: count, seed: 1 });
  const exact = batchNormAnalysis(first.net, set, {
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
});

Deno.test("describeData: the source and the split", () => {
  const data = {
    source: "/data/train.zip",
    fromCache: true,
    train: { count: 160 },
    valid: { count: 40 },
    height: 48,
    width: 48,
  };
  assert.equal(
    describeData(data),
    "/data/train.zip (prepared images from the cache)\n" +
      "train 160, valid 40, 48x48 RGB",
  );
});

Deno.test("trainNetworks trains each network as trainConvNet would and logs each epoch", async () => {
  const side = 32;
  const train = randomImages(20, side, 5);
  const valid = randomImages(10, side, 6);
  const data = { train, valid };
  const spec = { name: "nesterov", learningRate: 0.01, momentum: 0.9 } as const;
  const opts = { epochs: 2, batchSize: 10, flipProbability: 0.5, seed: 4 };
  const lines: string[] = [];
  const networks = buildNetworks([0.125], { seed: 2, inputSize: side });
  const histories = await trainNetworks(networks, data, {
    ...opts,
    optimizer: spec,
    log: (line) => lines.push(line),
  });
  assert.deepEqual(Object.keys(histories), [
    "BN, width 0.125",
    "no BN, width 0.125",
  ]);
  assert.deepEqual(
    lines,
    networks.flatMap(({ name }) =>
      histories[name].map((r) => describeEpoch(r, name))
    ),
  );
  for (const { name, width, batchNorm } of networks) {
    const net = new BNConvNet({ seed: 2, width, batchNorm, inputSize: side });
    const optimizer = makeOptimizer(spec);
    const direct = await trainConvNet(net, train, {
      ...opts,
      optimizer,
      valid,
      label: false,
    });
    optimizer.dispose();
    const strip = (h: EpochRecord[]) =>
      h.map(({ seconds: _s, time: _t, ...r }) => r);
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

Deno.test("trainNetworks resumes from a run's checkpoints: a finished network is restored, an unfinished one continues", async () => {
  const side = 32;
  const train = randomImages(20, side, 5);
  const valid = randomImages(10, side, 6);
  const optimizer = {
    name: "nesterov",
    learningRate: 0.01,
    momentum: 0.9,
  } as const;
  const opts = {
    epochs: 2,
    batchSize: 10,
    flipProbability: 0.5,
    seed: 4,
    optimizer,
  };
  const root = await Deno.makeTempDir();
  try {
    const first = join(root, "first");
    const straight = await trainNetworks(
      buildNetworks([0.125], { seed: 2, inputSize: side }),
      { train, valid },
      { ...opts, log: () => {}, checkpoint: { dir: first, every: 1 } },
    );
    assert.deepEqual(
      [...Deno.readDirSync(join(first, "checkpoints"))].map((e) => e.name)
        .sort(),
      ["bn-width-0-125", "no-bn-width-0-125"],
    );
    // Make the second network look unfinished: its checkpoint of epoch 1.
    const partial = join(root, "partial");
    await trainNetworks(
      buildNetworks([0.125], { seed: 2, inputSize: side }).slice(1),
      { train, valid },
      {
        ...opts,
        epochs: 1,
        log: () => {},
        checkpoint: { dir: partial, every: 1 },
      },
    );
    await Deno.remove(join(first, "checkpoints", "no-bn-width-0-125"), {
      recursive: true,
    });
    await Deno.rename(
      join(partial, "checkpoints", "no-bn-width-0-125"),
      join(first, "checkpoints", "no-bn-width-0-125"),
    );
    const nets = buildNetworks([0.125], { seed: 2, inputSize: side });
    const lines: string[] = [];
    const resumed = await trainNetworks(nets, { train, valid }, {
      ...opts,
      log: (l) => lines.push(l),
      resumeFrom: first,
      checkpoint: { dir: join(root, "second"), every: 1 },
    });
    const strip = (h: EpochRecord[]) =>
      h.map(({ seconds: _s, time: _t, ...r }) => r);
    for (const name of Object.keys(straight)) {
      assert.deepEqual(strip(resumed[name]), strip(straight[name]), name);
    }
    // The restored net is the trained one: the same validation result.
    const ev = evaluateConvNet(nets[0].model, valid, {
      batchSize: 10,
      mode: "population",
    });
    assertAllClose(
      [ev.loss],
      [straight["BN, width 0.125"][1].valid_loss],
      1e-6,
    );
    // Both rows of the restored net, and the one epoch the other still ran.
    assert.equal(lines.length, 3);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
