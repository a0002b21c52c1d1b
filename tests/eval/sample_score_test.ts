import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../lib/backend/mod.ts";
import { loadMnist } from "../../lib/data/mnist.ts";
import {
  classifierReadout,
  entropy,
  forgetSampleScorers,
  gaussianStats,
  loadSampleScorer,
  MAX_CLASS_ENTROPY,
  type SampleScore,
} from "../../lib/eval/sample_score.ts";
import {
  forgetScoreClassifiers,
  MnistClassifier,
} from "../../lib/models/mnist_classifier.ts";
import { Rng } from "../../lib/random.ts";
import { assertAllClose } from "../test_util.ts";

// The score's classifier trains on first use (the suite's one ~2-minute
// training, shared with tests/models/mnist_classifier_test.ts through the
// cache) on the fastest backend here.
await initBackend();

const fmt = (s: SampleScore) =>
  `fid ${s.fid.toPrecision(4)}, confidence ${s.confidence.toFixed(4)}, ` +
  `class entropy ${s.classEntropy.toFixed(4)} nats`;

Deno.test("gaussianStats: mean and (n - 1) covariance by hand", () => {
  // Rows (1, 2), (3, 6), (5, 4): mean (3, 4); deviations (-2, -2), (0, 2),
  // (2, 0); sums of products 8, 4, 8, over n - 1 = 2.
  const s = gaussianStats([1, 2, 3, 6, 5, 4], 3, 2);
  assert.equal(s.count, 3);
  assert.equal(s.dim, 2);
  assertAllClose(s.mean, [3, 4], 1e-15);
  assertAllClose(s.cov, [4, 2, 2, 4], 1e-15);
  assert.throws(() => gaussianStats([1, 2], 1, 2), /at least 2 rows/);
  assert.throws(() => gaussianStats([1, 2, 3], 2, 2), /not 2 rows of 2/);
});

Deno.test("entropy: ln 10 for balanced digits, 0 for one class", () => {
  assertAllClose(
    [entropy(new Array(10).fill(0.1))],
    [MAX_CLASS_ENTROPY],
    1e-15,
  );
  assert.equal(entropy([0, 0, 1, 0]), 0);
  assertAllClose([entropy([0.5, 0.5])], [Math.LN2], 1e-15);
});

Deno.test("classifierReadout: clamps to [0, 1], takes tensors and arrays, rejects bad input", () => {
  const net = new MnistClassifier({ seed: 1, filters: [4, 8], features: 16 });
  const rng = new Rng(3);
  const x = Float32Array.from({ length: 20 * 784 }, () => rng.next());
  const tensors = tf.memory().numTensors;
  const r = classifierReadout(net, x);
  assert.equal(tf.memory().numTensors, tensors, "no tensor leaks");
  assert.equal(r.features.count, 20);
  assert.equal(r.features.dim, 16);
  assertAllClose([r.classHistogram.reduce((a, b) => a + b, 0)], [1], 1e-12);
  assert.ok(r.confidence >= 0.1 && r.confidence <= 1);
  // The same images as a [n, 28, 28, 1] tensor.
  const t = classifierReadout(net, tf.tensor4d(x, [20, 28, 28, 1]));
  assertAllClose(t.features.mean, r.features.mean, 0);
  // Stretched to [-1, 2]: clamping gives back the image with 0s and 1s.
  const clamped = x.map((v) => (v < 0.25 ? 0 : v > 0.75 ? 1 : v));
  const stretched = x.map((v) => (v < 0.25 ? -1 : v > 0.75 ? 2 : v));
  assertAllClose(
    classifierReadout(net, stretched).features.mean,
    classifierReadout(net, clamped).features.mean,
    0,
  );
  assert.throws(() => classifierReadout(net, new Float32Array(785)), /28x28/);
  const bad = x.slice();
  bad[784 * 3 + 5] = NaN;
  assert.throws(() => classifierReadout(net, bad), /sample 3 holds NaN/);
  assert.throws(() => classifierReadout(net, x.subarray(0, 784)), /2 rows/);
});

Deno.test("the sample score: test ~0, training digits near 0, noise and one repeated digit bad", async () => {
  const scorer = await loadSampleScorer();
  const mnist = await loadMnist({ source: "mnist-full" });
  const ref = scorer.reference;
  assert.equal(ref.features.count, 10000);
  assert.equal(ref.features.dim, 128);

  // The test set against its own statistics.
  const test = scorer.score(mnist.test.images);
  console.log(`test vs test: ${fmt(test)}`);
  assert.ok(test.fid < 1e-4, `test vs test fid ${test.fid}`);
  assert.ok(test.confidence > 0.98, `test confidence ${test.confidence}`);
  assert.ok(test.classEntropy > 2.29, `test entropy ${test.classEntropy}`);
  // The reference may come from the cache, written by another process whose
  // float32 sums ran in another order (thread count): equal to ~1e-9, not bits.
  assertAllClose([test.confidence], [ref.confidence], 1e-6);

  // 10,000 training digits: real digits, not the test set's (the
  // classifier trained on them; the reference never saw training).
  const trainImages = mnist.train.images.subarray(0, 10000 * 784);
  const train = scorer.score(trainImages);
  console.log(`train (first 10,000) vs test: ${fmt(train)}`);

  // The same digits blurred (3x3 box filter): VAE-like blurry samples.
  const blurred = tf.tidy(() =>
    tf.avgPool(tf.tensor4d(trainImages, [10000, 28, 28, 1]), 3, 1, "same")
  );
  const blurry = scorer.score(blurred);
  blurred.dispose();
  console.log(`train blurred 3x3 vs test: ${fmt(blurry)}`);

  // Uniform noise.
  const noise = scorer.score(
    tf.randomUniform([10000, 784], 0, 1, "float32", 11) as tf.Tensor2D,
  );
  console.log(`uniform noise (10,000) vs test: ${fmt(noise)}`);

  // One digit, repeated 1000 times.
  const one = new Float32Array(1000 * 784);
  for (let i = 0; i < 1000; i++) {
    one.set(mnist.test.images.subarray(0, 784), i * 784);
  }
  const repeated = scorer.score(one);
  console.log(`test digit 0 repeated 1000 times vs test: ${fmt(repeated)}`);

  // A thousand distinct training digits, for the sample-size effect.
  const train1k = scorer.score(mnist.train.images.subarray(0, 1000 * 784));
  console.log(`train (first 1,000) vs test: ${fmt(train1k)}`);

  // Measured (wasm+blas): test 1.5e-6, train 1.38 (1,000 of them 5.9),
  // blurred 190, noise 790 (confidence 0.84), one digit repeated 1057.
  assert.ok(
    train.fid < 0.01 * noise.fid,
    `train ${train.fid} vs noise ${noise.fid}`,
  );
  assert.ok(train.fid < 3, `train fid ${train.fid}`);
  assert.ok(
    blurry.fid > 3 * train.fid && blurry.fid < noise.fid,
    `blurred ${blurry.fid}: between train and noise`,
  );
  assert.ok(train.confidence > 0.98 && train.classEntropy > 2.29);
  assert.ok(noise.fid > 100, `noise fid ${noise.fid}`);
  assert.ok(noise.confidence < 0.9, `noise confidence ${noise.confidence}`);
  assert.ok(repeated.fid > 50 * train.fid && repeated.fid > 50);
  assert.ok(repeated.fid > 10 * train1k.fid, "not just the sample size");
  assert.ok(repeated.classEntropy < 1e-9);
  assert.equal(Math.max(...repeated.classHistogram), 1);
  assert.equal(repeated.count, 1000);
});

Deno.test("corrupt reference statistics are reported and recomputed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mnist_fid_cache_" });
  try {
    const mnist = await loadMnist({ source: "mnist-full" });
    // A tiny classifier schedule (its own cache) so this takes seconds.
    const opts = {
      cacheDir: dir,
      mnist,
      quiet: true,
      training: { epochs: 1, limit: 1000, batchSize: 100 },
    };
    const fresh = () => {
      forgetSampleScorers();
      forgetScoreClassifiers();
      return loadSampleScorer(opts);
    };
    const first = await fresh();
    const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.equal(files.length, 2, `${files}`);
    const refFile = `${dir}/${
      files.find((f) => f.startsWith("mnist-fid-reference-"))
    }`;
    assert.equal(await loadSampleScorer(opts), first, "shared in the process");
    const cached = await fresh();
    assertAllClose(
      cached.reference.features.cov,
      first.reference.features.cov,
      0,
    );

    await Deno.writeFile(refFile, new Uint8Array([1, 2, 3]));
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (...a: unknown[]) => warnings.push(a.join(" "));
    let again;
    try {
      again = await fresh();
    } finally {
      console.warn = warn;
    }
    assert.equal(warnings.length, 1, `${warnings}`);
    assert.match(warnings[0], /reference statistics .* corrupt.*recomputing/);
    assertAllClose(
      again.reference.features.mean,
      first.reference.features.mean,
      1e-12,
    );
    assertAllClose(
      again.reference.features.cov,
      first.reference.features.cov,
      1e-12,
    );
    assert.ok(Deno.statSync(refFile).size > 128 * 128 * 8, "rewritten");
  } finally {
    forgetSampleScorers();
    forgetScoreClassifiers();
    await Deno.remove(dir, { recursive: true });
  }
});
