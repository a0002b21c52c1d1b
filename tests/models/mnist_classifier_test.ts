import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../lib/backend/mod.ts";
import { loadMnist } from "../../lib/data/mnist.ts";
import { packWeights } from "../../lib/nn/checkpoint.ts";
import {
  classifierAccuracy,
  forgetScoreClassifiers,
  loadScoreClassifier,
  MnistClassifier,
  SCORE_CLASSIFIER_CONFIG,
  SCORE_TRAINING_CONFIG,
  trainMnistClassifier,
} from "../../lib/models/mnist_classifier.ts";
import { assertAllClose } from "../test_util.ts";

// The trained-classifier tests train it on first use (the suite's one
// ~2-minute training) on the fastest backend here (wasm+blas if it loads).
await initBackend();

/** Runs `fn` with console.warn captured; returns the warnings. */
async function captureWarnings(fn: () => Promise<unknown>): Promise<string[]> {
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
  try {
    await fn();
  } finally {
    console.warn = original;
  }
  return warnings;
}

Deno.test("MnistClassifier: shapes, flat and NHWC input agree, seeded He init", () => {
  const net = new MnistClassifier({ seed: 3 });
  assert.equal(net.flatSize, 5 * 5 * 64);
  assert.equal(net.featureSize, 128);
  assert.deepEqual(net.trainable().map((v) => v.shape), [
    [3, 3, 1, 32],
    [32],
    [3, 3, 32, 64],
    [64],
    [1600, 128],
    [128],
    [128, 10],
    [10],
  ]);
  assert.deepEqual(net.state(), []);
  const x = tf.randomUniform([3, 784], 0, 1, "float32", 5) as tf.Tensor2D;
  const f = net.features(x);
  assert.deepEqual(f.shape, [3, 128]);
  assert.ok(f.dataSync().every((v) => v >= 0), "features are post-ReLU");
  const l = net.logits(x);
  assert.deepEqual(l.shape, [3, 10]);
  assertAllClose(
    net.logits(tf.reshape(x, [3, 28, 28, 1]) as tf.Tensor4D),
    l.dataSync(),
    1e-5,
  );
  const both = net.featuresAndLogits(x);
  assertAllClose(both.features, f.dataSync(), 1e-6);
  assertAllClose(both.logits, l.dataSync(), 1e-6);

  // Same seed, same weights; another seed, others. He-uniform bounds.
  const again = new MnistClassifier({ seed: 3 });
  assertAllClose(packWeights(again).data, packWeights(net).data, 0);
  const other = packWeights(new MnistClassifier({ seed: 4 })).data;
  assert.notDeepEqual(
    other.subarray(0, 50),
    packWeights(net).data.subarray(0, 50),
  );
  const w1 = net.conv1.w.dataSync();
  const a1 = Math.sqrt(6 / 9);
  assert.ok(w1.every((v) => Math.abs(v) <= a1) && Math.max(...w1) > 0.9 * a1);
  const w3 = net.hidden.w.dataSync();
  assert.ok(w3.every((v) => Math.abs(v) <= Math.sqrt(6 / 1600)));
  // Narrower variants.
  const small = new MnistClassifier({ seed: 1, filters: [4, 8], features: 16 });
  assert.deepEqual(small.features(x).shape, [3, 16]);
  assert.equal(small.flatSize, 5 * 5 * 8);
});

Deno.test("trainMnistClassifier learns a small subset (loss falls, accuracy rises)", async () => {
  const mnist = await loadMnist({ source: "mnist-full", trainLimit: 1024 });
  const net = new MnistClassifier({ seed: 1, filters: [8, 16], features: 32 });
  const before = classifierAccuracy(net, mnist.train);
  const tensors = tf.memory().numTensors;
  const { epochLoss, seconds } = await trainMnistClassifier(
    net,
    mnist.train,
    { epochs: 3, batchSize: 64, learningRate: 3e-3, decay: 0.7, seed: 1 },
    { label: false },
  );
  assert.equal(tf.memory().numTensors, tensors, "no tensor leaks");
  assert.equal(epochLoss.length, 3);
  assert.ok(epochLoss[2] < epochLoss[0] * 0.7, `losses ${epochLoss}`);
  assert.ok(seconds > 0);
  const after = classifierAccuracy(net, mnist.train);
  assert.ok(after > 0.8 && after > before + 0.3, `${before} -> ${after}`);
});

Deno.test("the score classifier: cached, > 99% test accuracy, identical on reload", async () => {
  const clf = await loadScoreClassifier();
  assert.equal(clf.mnist.test.count, 10000);
  const accuracy = classifierAccuracy(clf.model, clf.mnist.test);
  console.log(
    `score classifier: test accuracy ${accuracy}, trained in ` +
      `${clf.trainSeconds.toFixed(0)} s (${clf.trained ? "now" : "earlier"})`,
  );
  assert.ok(accuracy > 0.99, `test accuracy ${accuracy}`);
  // It trained on train + valid: it fits the validation digits better than
  // the test digits it never saw.
  assert.ok(classifierAccuracy(clf.model, clf.mnist.valid) > accuracy);
  // Shared within the process.
  assert.equal(await loadScoreClassifier(), clf);
  // A fresh load reads the cache: no training, the same weights.
  forgetScoreClassifiers();
  const reloaded = await loadScoreClassifier({ mnist: clf.mnist, quiet: true });
  assert.equal(reloaded.trained, false);
  assert.equal(reloaded.path, clf.path);
  assert.match(clf.path, /data\/cache\/mnist-classifier-[0-9a-f]{16}\.bin$/);
  assertAllClose(
    packWeights(reloaded.model).data,
    packWeights(clf.model).data,
    0,
  );
  // The key covers architecture, seed, schedule and data.
  assert.deepEqual(SCORE_CLASSIFIER_CONFIG.filters, [32, 64]);
  assert.ok(SCORE_TRAINING_CONFIG.epochs >= 1);
});

Deno.test("a corrupt or damaged classifier cache is reported and retrained", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mnist_clf_cache_" });
  try {
    const mnist = await loadMnist({ source: "mnist-full" });
    // A tiny schedule (its own cache key) so that retraining takes seconds.
    const training = { epochs: 1, limit: 1000, batchSize: 100 };
    const load = () => {
      forgetScoreClassifiers();
      return loadScoreClassifier({
        cacheDir: dir,
        mnist,
        quiet: true,
        training,
      });
    };
    const first = await load();
    assert.equal(first.trained, true);
    assert.ok(first.path.startsWith(dir));
    const weights = packWeights(first.model).data;
    assert.equal((await load()).trained, false);

    const good = await Deno.readFile(first.path);
    const damages: [string, Uint8Array, RegExp][] = [
      ["garbage", new TextEncoder().encode("not a cache file"), /corrupt/],
      ["truncated", good.subarray(0, good.length - 100), /corrupt/],
      [
        "NaN weights",
        (() => {
          const b = good.slice();
          new DataView(b.buffer).setFloat32(b.length - 4, NaN, true);
          return b;
        })(),
        /unusable.*NaN/,
      ],
    ];
    for (const [what, bytes, message] of damages) {
      await Deno.writeFile(first.path, bytes);
      let again: Awaited<ReturnType<typeof load>> | undefined;
      const warnings = await captureWarnings(async () => {
        again = await load();
      });
      assert.equal(warnings.length, 1, `${what}: ${warnings}`);
      assert.match(warnings[0], message, what);
      assert.match(warnings[0], /retraining/);
      assert.equal(again!.trained, true, what);
      // Seeded: the retrained weights are the same as the first ones.
      assertAllClose(packWeights(again!.model).data, weights, 1e-4, what);
      assert.equal((await load()).trained, false, `${what}: cache rewritten`);
    }
  } finally {
    forgetScoreClassifiers();
    await Deno.remove(dir, { recursive: true });
  }
});
