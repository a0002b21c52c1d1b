import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  bernoulliNLL,
  enumeratedLabels,
  gaussianNLL,
  M2,
  type M2Config,
  unlabelledCost,
} from "../../lib/models/m2.ts";
import { M1 } from "../../lib/models/m1.ts";
import { gaussianKLRows } from "../../lib/nn/losses.ts";
import { randomNormal } from "../../lib/nn/random_normal.ts";
import { assertAllClose } from "../test_util.ts";

await tf.setBackend("cpu");

const config: M2Config = {
  inputSize: 6,
  classes: 3,
  codeSize: 2,
  classifierSizes: [5],
  encoderSizes: [4],
  decoderSizes: [5],
  seed: 3,
};

const xs = [
  [0.1, 0.9, 0.4, 0.0, 1.0, 0.5],
  [1.0, 0.2, 0.3, 0.7, 0.0, 0.5],
  [0.5, 0.5, 0.8, 0.1, 0.3, 0.9],
  [0.0, 0.0, 0.2, 0.6, 0.9, 0.4],
];

Deno.test("the likelihoods and the KL per row match their formulas", () => {
  const l = [[0.3, -1.2, 2.0], [0, 4, -3]];
  const x = [[1, 0, 0.25], [0.5, 1, 0]];
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const bern = l.map((r, i) =>
    r.reduce(
      (s, v, j) =>
        s - x[i][j] * Math.log(sig(v)) - (1 - x[i][j]) * Math.log(1 - sig(v)),
      0,
    )
  );
  assertAllClose(bernoulliNLL(tf.tensor2d(l), tf.tensor2d(x)), bern, 1e-5);
  const sd = [[0.5, 2, 1], [1, 0.1, 3]];
  const gauss = l.map((r, i) =>
    r.reduce(
      (s, m, j) =>
        s + 0.5 * Math.log(2 * Math.PI * sd[i][j] ** 2) +
        (x[i][j] - m) ** 2 / (2 * sd[i][j] ** 2),
      0,
    )
  );
  assertAllClose(
    gaussianNLL(tf.tensor2d(l), tf.tensor2d(sd), tf.tensor2d(x)),
    gauss,
    1e-4,
  );
  const kl = l.map((r, i) =>
    r.reduce(
      (s, m, j) => s - Math.log(sd[i][j]) + (sd[i][j] ** 2 + m * m) / 2 - 0.5,
      0,
    )
  );
  assertAllClose(gaussianKLRows(tf.tensor2d(l), tf.tensor2d(sd)), kl, 1e-5);
});

Deno.test("enumeratedLabels lists every class for every example, class-major", () => {
  assertAllClose(
    enumeratedLabels(2, 3),
    [1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1],
  );
});

Deno.test("q(z|x,y)'s first layer computes x Wx once and broadcasts it: the same as on [x, y]", () => {
  const m = new M2(config);
  const x = tf.tensor2d(xs);
  const K = 3;
  const y = enumeratedLabels(4, K);
  const { mu } = m.encodeRows([{ x, copies: K, y }], "population");
  // The plain way: every (x, y) pair as a concatenated row.
  const xt = tf.tile(x, [K, 1]) as tf.Tensor2D;
  const h = m.encoder[0].apply(tf.concat([xt, y], 1), "population");
  assertAllClose(mu, m.muHead.apply(h).dataSync() as Float32Array, 1e-5);
});

Deno.test("the unlabelled cost sums over all labels: sum_y q(y|x) (L(x,y) + log q(y|x))", () => {
  const m = new M2(config);
  const K = 3, n = 4, seed = 5;
  const x = tf.tensor2d(xs);
  const w = { labelled: 1, unlabelled: 1, classification: 1 };
  const c = m.cost(
    { labelled: { x: tf.zeros([0, 6]), y: tf.zeros([0, 3]) }, unlabelled: x },
    "population",
    seed,
    w,
  );
  // By hand: the bound under each label from the labelled path, with the
  // same noise rows the enumeration drew for that label.
  const eps = randomNormal([K * n, 2], seed) as tf.Tensor2D;
  const q = tf.softmax(m.classLogits(x, "population"))
    .arraySync() as number[][];
  let expected = 0;
  for (let k = 0; k < K; k++) {
    const y = tf.oneHot(tf.fill([n], k, "int32") as tf.Tensor1D, K)
      .toFloat() as tf.Tensor2D;
    const [b] = m.bound([{ x, copies: 1, y }], "population", 0, {
      eps: tf.slice(eps, [k * n, 0], [n, 2]),
    });
    const L = tf.add(b.nll, b.kl).dataSync();
    for (let i = 0; i < n; i++) {
      expected += q[i][k] * (L[i] + Math.log(K) + Math.log(q[i][k]));
    }
  }
  assertAllClose(c.terms.unlabelled_bound, [expected], 1e-3);
  assertAllClose(c.total, [expected], 1e-3);
});

Deno.test("the labelled cost: L(x, y) + log K per example, plus the weighted cross-entropy", () => {
  const m = new M2(config);
  const seed = 9;
  const x = tf.tensor2d(xs.slice(0, 2));
  const y = tf.oneHot([2, 0], 3).toFloat() as tf.Tensor2D;
  const w = { labelled: 0.5, unlabelled: 7, classification: 4 };
  const c = m.cost(
    { labelled: { x, y }, unlabelled: tf.zeros([0, 6]) },
    "population",
    seed,
    w,
  );
  const [b] = m.bound([{ x, copies: 1, y }], "population", seed);
  const bound = tf.sum(tf.add(b.nll, b.kl)).dataSync()[0] + 2 * Math.log(3);
  const logq = tf.logSoftmax(m.classLogits(x, "population"))
    .arraySync() as number[][];
  const ce = -logq[0][2] - logq[1][0];
  assertAllClose(c.terms.labelled_bound, [bound], 1e-4);
  assertAllClose(c.terms.labelled_cross_entropy, [ce], 1e-5);
  assertAllClose(c.total, [0.5 * (bound + 4 * ce)], 1e-4);
  assertAllClose(c.terms.unlabelled_bound, [0]);
});

Deno.test("unlabelledCost is the expected bound minus the entropy of q(y|x)", () => {
  const logits = [[0, Math.log(3)]]; // q = (1/4, 3/4)
  const perLabel = [[10, 2]];
  const q = [0.25, 0.75];
  const expected = q[0] * 10 + q[1] * 2 + q[0] * Math.log(q[0]) +
    q[1] * Math.log(q[1]);
  assertAllClose(
    unlabelledCost(tf.tensor2d(logits), tf.tensor2d(perLabel)),
    [expected],
    1e-5,
  );
});

Deno.test("the classifier learns from unlabelled images (through q(y|x)) but not from a labelled bound", () => {
  const m = new M2(config);
  const wq = m.classOut.w;
  // With a decoder weight in the list, so that a loss unconnected to wq is legal.
  const grad = (f: () => tf.Scalar) =>
    tf.variableGrads(f, [wq, m.outHead.w]).grads[wq.name] ?? tf.zeros(wq.shape);
  const w = { labelled: 1, unlabelled: 1, classification: 1 };
  const x = tf.tensor2d(xs);
  const none = { x: tf.zeros([0, 6]), y: tf.zeros([0, 3]) } as const;
  const gU = grad(() =>
    m.cost(
      { labelled: none as never, unlabelled: x },
      "population",
      1,
      w,
    ).terms.unlabelled_bound
  );
  assert.ok(tf.max(tf.abs(gU)).dataSync()[0] > 1e-4);
  const gL = grad(() =>
    m.cost(
      {
        labelled: { x, y: tf.oneHot([0, 1, 2, 0], 3).toFloat() as tf.Tensor2D },
        unlabelled: tf.zeros([0, 6]),
      },
      "population",
      1,
      w,
    ).terms.labelled_bound
  );
  assertAllClose(gL, new Array(5 * 3).fill(0));
});

Deno.test("the Gaussian M2 (for M1's codes) decodes the mean and has a finite cost", () => {
  const m = new M2({ ...config, likelihood: "gaussian", batchNorm: false });
  assert.ok(m.outSigma);
  const x = tf.tensor2d(xs);
  const c = m.cost(
    {
      labelled: { x: tf.tensor2d(xs.slice(0, 1)), y: tf.tensor2d([[0, 1, 0]]) },
      unlabelled: x,
    },
    "train",
    2,
    { labelled: 1, unlabelled: 1, classification: 1 },
  );
  assert.ok(Number.isFinite(c.total.dataSync()[0]));
  const z = tf.zeros([1, 2]) as tf.Tensor2D, y = tf.tensor2d([[0, 0, 1]]);
  assertAllClose(
    m.decode(z, y, "train"),
    m.decodeParams(z, y, "train").out.dataSync() as Float32Array,
  );
  assert.throws(
    () => new M2({ ...config, encoderSizes: [] }),
    /the label enters through the first one/,
  );
});

Deno.test("M1 (for M1+M2): Bernoulli NLL + KL of one sampled code, and softplus layers of the sizes asked", () => {
  const m1 = new M1({
    inputSize: 6,
    hiddenSizes: [5, 4],
    codeSize: 2,
    seed: 2,
  });
  assert.deepEqual(
    [...m1.encoder, ...m1.decoder].map((l) =>
      `${l.dense.inputs}->${l.dense.outputs} ${l.activation}`
    ),
    ["6->5 softplus", "5->4 softplus", "2->4 softplus", "4->5 softplus"],
  );
  const x = tf.tensor2d(xs);
  const seed = 4;
  const c = m1.cost(x, "population", seed);
  const { mu, sigma } = m1.encode(x, "population");
  const z = tf.add(
    mu,
    tf.mul(sigma, randomNormal([4, 2], seed)),
  ) as tf.Tensor2D;
  const p = tf.sigmoid(m1.decodeLogits(z, "population"))
    .arraySync() as number[][];
  const nll = xs.reduce(
    (s, row, i) =>
      s -
      row.reduce(
        (t, v, j) =>
          t + v * Math.log(p[i][j]) + (1 - v) * Math.log(1 - p[i][j]),
        0,
      ),
    0,
  );
  const kl = tf.sum(gaussianKLRows(mu, sigma)).dataSync()[0];
  assertAllClose(c.reconstruction, [nll], 1e-3);
  assertAllClose(c.kl, [kl], 1e-4);
  assertAllClose(c.total, [nll + kl], 1e-3);
});
