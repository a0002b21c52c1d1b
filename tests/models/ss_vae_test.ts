import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { classifierOf, kingmaWeights, SSVAE } from "../../lib/models/ss_vae.ts";
import type { DenseBN } from "../../lib/nn/dense_bn.ts";
import { seededNormalValues } from "../../lib/nn/random_normal.ts";
import { assertAllClose } from "../test_util.ts";

await tf.setBackend("cpu");

const config = {
  inputSize: 4,
  classes: 3,
  encSizes: [5],
  decSizes: [5],
  codeSize: 2,
  seed: 7,
};

type Rows = number[][];

/** One DenseBN layer in population mode, by hand from its variables. */
function layerByHand(l: DenseBN, x: Rows): Rows {
  const w = l.dense.w.arraySync() as Rows;
  const b = l.dense.b!.arraySync() as number[];
  const bn = l.bn!;
  const [g, be, m, v] = [bn.gamma, bn.beta, bn.popMean, bn.popVar].map((t) =>
    t.arraySync() as number[]
  );
  const act = (z: number) => {
    switch (l.activation) {
      case "linear":
        return z;
      case "relu":
        return Math.max(0, z);
      case "tanh":
        return Math.tanh(z);
      case "hardtanh":
        return Math.min(1, Math.max(-1, z));
      case "softplus":
        return Math.log1p(Math.exp(z));
    }
  };
  return x.map((row) =>
    b.map((bj, j) => {
      const pre = row.reduce((s, xi, i) => s + xi * w[i][j], bj);
      return act((pre - m[j]) / (Math.sqrt(v[j]) + bn.epsilon) * g[j] + be[j]);
    })
  );
}

const softmax = (r: number[]) => {
  const mx = Math.max(...r);
  const e = r.map((v) => Math.exp(v - mx));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

/** Gives batch norm non-trivial population statistics and affine parameters. */
function perturb(model: SSVAE) {
  for (const [k, l] of model.layers().entries()) {
    const bn = l.bn!;
    const n = bn.features;
    bn.popMean.assign(tf.tensor1d(seededNormalValues(n, 100 + k)).mul(0.1));
    bn.popVar.assign(
      tf.tensor1d(seededNormalValues(n, 200 + k)).square().add(0.5),
    );
    bn.gamma.assign(
      tf.tensor1d(seededNormalValues(n, 300 + k)).mul(0.2).add(1),
    );
    bn.beta.assign(tf.tensor1d(seededNormalValues(n, 400 + k)).mul(0.1));
  }
}

const x = [
  [0.1, 0.9, 0.4, 0.0],
  [1.0, 0.2, 0.3, 0.7],
  [0.5, 0.5, 0.8, 0.1],
];
const labels = [2, 0]; // rows 0 and 1 labelled, row 2 not
const seed = 11;

Deno.test("the seed's cost: squared error + KL + 1{labelled} * CE, against a hand computation", () => {
  const model = new SSVAE(config);
  perturb(model);
  // By hand: encoder, heads, the decoder's label input, the sampled code.
  const h = layerByHand(model.encoder[0], x);
  const logits = layerByHand(model.classHead, h);
  const mu = layerByHand(model.muHead, h);
  const sigma = layerByHand(model.sigmaHead, h);
  const eps = seededNormalValues(3 * 2, seed);
  const yIn = x.map((_, i) =>
    i < 2 ? [0, 1, 2].map((c) => (c === labels[i] ? 1 : 0)) : softmax(logits[i])
  );
  const z = mu.map((r, i) => r.map((m, j) => m + sigma[i][j] * eps[i * 2 + j]));
  const rec = layerByHand(
    model.decoder[1],
    layerByHand(model.decoder[0], z.map((r, i) => [...r, ...yIn[i]])),
  );
  const sse = x.map((r, i) =>
    r.reduce((s, v, j) => s + (v - rec[i][j]) ** 2, 0)
  );
  const kl = mu.map((r, i) =>
    r.reduce(
      (s, m, j) =>
        s - 0.5 * (1 + 2 * Math.log(sigma[i][j]) - m * m - sigma[i][j] ** 2),
      0,
    )
  );
  const ce = labels.map((c, i) => -Math.log(softmax(logits[i])[c]));
  const errors =
    labels.filter((c, i) => logits[i].indexOf(Math.max(...logits[i])) !== c)
      .length;
  const labelledBound = sse[0] + kl[0] + sse[1] + kl[1];
  const unlabelledBound = sse[2] + kl[2];
  const w = { labelled: 0.5, unlabelled: 2, classification: 3 };
  const total =
    w.labelled * (labelledBound + w.classification * (ce[0] + ce[1])) +
    w.unlabelled * unlabelledBound;

  const c = model.cost(
    {
      labelled: {
        x: tf.tensor2d(x.slice(0, 2)),
        y: tf.oneHot(labels, 3).toFloat() as tf.Tensor2D,
      },
      unlabelled: tf.tensor2d(x.slice(2)),
    },
    "population",
    seed,
    w,
  );
  assertAllClose(c.terms.labelled_bound, [labelledBound], 1e-4);
  assertAllClose(c.terms.unlabelled_bound, [unlabelledBound], 1e-4);
  assertAllClose(c.terms.labelled_cross_entropy, [ce[0] + ce[1]], 1e-4);
  assertAllClose(c.terms.labelled_errors, [errors]);
  assertAllClose(c.total, [total], 1e-4);
});

Deno.test("entropyWeight adds w * H(y') of each unlabelled row to the total, weighted as the unlabelled rows are; the logged terms are unchanged", () => {
  const batch = {
    labelled: {
      x: tf.tensor2d(x.slice(0, 2)),
      y: tf.oneHot(labels, 3).toFloat() as tf.Tensor2D,
    },
    unlabelled: tf.tensor2d(x.slice(2)),
  };
  const w = { labelled: 0.5, unlabelled: 2, classification: 3 };
  const plain = new SSVAE(config);
  const withEntropy = new SSVAE({ ...config, entropyWeight: 4 });
  perturb(plain);
  perturb(withEntropy);
  // By hand: the unlabelled row's y' and its entropy.
  const h = layerByHand(withEntropy.encoder[0], x.slice(2));
  const p = softmax(layerByHand(withEntropy.classHead, h)[0]);
  const entropy = -p.reduce((s, q) => s + q * Math.log(q), 0);
  assert.ok(entropy > 0.01, `y' is nearly one-hot (H = ${entropy})`);

  const a = plain.cost(batch, "population", seed, w);
  const b = withEntropy.cost(batch, "population", seed, w);
  assertAllClose(b.total, [a.total.dataSync()[0] + 2 * 4 * entropy], 1e-4);
  for (const k of Object.keys(a.terms) as (keyof typeof a.terms)[]) {
    assertAllClose(b.terms[k], a.terms[k].dataSync() as Float32Array, 1e-6);
  }
  // A step's weights.entropy takes the config's place (a schedule's value).
  assertAllClose(
    plain.cost(batch, "population", seed, { ...w, entropy: 1.5 }).total,
    [a.total.dataSync()[0] + 2 * 1.5 * entropy],
    1e-4,
  );
  assertAllClose(
    withEntropy.cost(batch, "population", seed, { ...w, entropy: 0 }).total,
    a.total.dataSync() as Float32Array,
    1e-6,
  );
  // Without unlabelled rows there is nothing to add.
  const labelledOnly = {
    ...batch,
    unlabelled: tf.zeros([0, 4]) as tf.Tensor2D,
  };
  assertAllClose(
    withEntropy.cost(labelledOnly, "population", seed, w).total,
    plain.cost(labelledOnly, "population", seed, w).total
      .dataSync() as Float32Array,
    1e-5,
  );
});

Deno.test("the labelled mask: one-hot labels into the decoder and CE for labelled rows only; an unlabelled row's label is never read", () => {
  const model = new SSVAE(config);
  const xs = tf.tensor2d(x);
  const mask = tf.tensor1d([1, 0, 1]);
  const y = tf.oneHot([2, 1, 0], 3).toFloat() as tf.Tensor2D;
  const r = model.costRows(xs, y, mask, "population", seed);
  const probs = tf.softmax(r.logits).arraySync() as Rows;
  assertAllClose(r.decoderLabels, [0, 0, 1, ...probs[1], 1, 0, 0], 1e-6);
  const logp = tf.logSoftmax(r.logits).arraySync() as Rows;
  assertAllClose(r.crossEntropy, [-logp[0][2], 0, -logp[2][0]], 1e-5);
  // Another "label" for the unlabelled row changes nothing.
  const y2 = tf.oneHot([2, 2, 0], 3).toFloat() as tf.Tensor2D;
  const r2 = model.costRows(xs, y2, mask, "population", seed);
  assertAllClose(
    r2.reconstruction,
    r.reconstruction.dataSync() as Float32Array,
  );
  assertAllClose(r2.crossEntropy, r.crossEntropy.dataSync() as Float32Array);
});

Deno.test("unlabelled images train the softmax head through the decoder; labelled ones only through the CE", () => {
  const model = new SSVAE(config);
  const head = model.classHead.dense.w;
  const grad = (f: () => tf.Scalar) =>
    tf.variableGrads(f, [head]).grads[head.name];
  const batch = (nl: number) => ({
    labelled: {
      x: tf.tensor2d(x.slice(0, nl), [nl, 4]),
      y: tf.oneHot(labels.slice(0, nl), 3).toFloat() as tf.Tensor2D,
    },
    unlabelled: tf.tensor2d(x.slice(nl), [3 - nl, 4]),
  });
  const w = { labelled: 1, unlabelled: 1, classification: 1 };
  const gU = grad(() =>
    model.cost(batch(0), "population", seed, w).terms.unlabelled_bound
  );
  assert.ok(
    tf.max(tf.abs(gU)).dataSync()[0] > 1e-4,
    "reconstruction reaches y'",
  );
  const gL = grad(() =>
    model.cost(batch(2), "population", seed, w).terms.labelled_bound
  );
  assertAllClose(gL, new Array(5 * 3).fill(0), 1e-7);
});

Deno.test("Kingma's weighting counts each example once per epoch and each label 0.1 N / N_l times", () => {
  const w = kingmaWeights({
    total: 50_000,
    labelledCount: 100,
    labelledBatch: 100,
    unlabelledBatch: 100,
  });
  assertAllClose([w.labelled, w.unlabelled, w.classification], [
    100 / (50_000 * 100),
    49_900 / (50_000 * 100),
    50,
  ], 1e-12);
  // One batch holding every example: the cost is the mean over the set.
  const all = kingmaWeights({
    total: 10,
    labelledCount: 2,
    labelledBatch: 2,
    unlabelledBatch: 8,
  });
  assertAllClose([all.labelled, all.unlabelled], [0.1, 0.1], 1e-12);
  assert.throws(
    () =>
      kingmaWeights({
        total: 10,
        labelledCount: 0,
        labelledBatch: 1,
        unlabelledBatch: 1,
      }),
    /labelledCount must be in \(0, total = 10\)/,
  );
});

Deno.test("the classifier view recalibrates only the encoder and softmax head", () => {
  const model = new SSVAE(config);
  const view = classifierOf(model);
  assert.deepEqual(view.batchNormSites().map((s) => s.name), ["enc0", "class"]);
  assert.equal(
    view.trainable().length,
    model.encoder.length * 4 + 4,
    "dense w, b and BN gamma, beta per layer",
  );
});
