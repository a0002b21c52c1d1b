import assert from "node:assert/strict";
import {
  classCounts,
  LABEL_BUDGETS,
  labelledBatch,
  labelledSplit,
} from "../../lib/data/labelled_subsets.ts";
import { loadMnist } from "../../lib/data/mnist.ts";
import { deriveSeed, Rng } from "../../lib/random.ts";

/** 960 labels of 10 classes, unevenly: class c has 60 + 8c images, shuffled. */
function unevenLabels(): Uint8Array {
  const out: number[] = [];
  for (let c = 0; c < 10; c++) {
    for (let i = 0; i < 60 + 8 * c; i++) out.push(c);
  }
  // Interleave so that class does not follow position.
  return Uint8Array.from(
    out.map((c, i) => ({ c, k: (i * 7919) % out.length }))
      .sort((a, b) => a.k - b.k).map((e) => e.c),
  );
}

Deno.test("labelledSplit keeps the same number of images of each class", () => {
  const labels = unevenLabels();
  for (const budget of [10, 100, 600]) {
    const s = labelledSplit(labels, { labels: budget, seed: 3, draw: 0 });
    assert.equal(s.labelled.length, budget);
    assert.deepEqual(
      classCounts(labels, s.labelled),
      new Array(10).fill(budget / 10),
    );
  }
});

Deno.test("labelled and unlabelled partition the set: disjoint, ascending, complete", () => {
  const labels = unevenLabels();
  const s = labelledSplit(labels, { labels: 100, seed: 3, draw: 1 });
  assert.equal(s.labelled.length + s.unlabelled.length, labels.length);
  const seen = new Uint8Array(labels.length);
  for (const i of [...s.labelled, ...s.unlabelled]) seen[i]++;
  assert.ok(seen.every((v) => v === 1), "every image exactly once");
  for (const idx of [s.labelled, s.unlabelled]) {
    for (let j = 1; j < idx.length; j++) assert.ok(idx[j - 1] < idx[j]);
  }
});

Deno.test("a split is fixed by seed and draw; draws differ; one draw's budgets nest", () => {
  const labels = unevenLabels();
  const a = labelledSplit(labels, { labels: 100, seed: 3, draw: 0 });
  const b = labelledSplit(labels, { labels: 100, seed: 3, draw: 0 });
  assert.deepEqual(a.labelled, b.labelled);
  const other = labelledSplit(labels, { labels: 100, seed: 3, draw: 1 });
  const otherSeed = labelledSplit(labels, { labels: 100, seed: 4, draw: 0 });
  assert.notDeepEqual(a.labelled, other.labelled);
  assert.notDeepEqual(a.labelled, otherSeed.labelled);
  const big = new Set(
    labelledSplit(labels, { labels: 600, seed: 3, draw: 0 }).labelled,
  );
  assert.ok([...a.labelled].every((i) => big.has(i)), "100 within 600");
});

Deno.test("labelledSplit refuses unbalanced budgets and classes too small, naming the fix", () => {
  const labels = unevenLabels();
  assert.throws(
    () => labelledSplit(labels, { labels: 105, seed: 1, draw: 0 }),
    /positive multiple of the 10 classes/,
  );
  // Class 0 has 60 images: 61 per class cannot be balanced.
  assert.throws(
    () => labelledSplit(labels, { labels: 610, seed: 1, draw: 0 }),
    /need 61 images of each class; class 0 has 60/,
  );
});

Deno.test("on MNIST, Kingma's budgets come from the first 50,000 training images, none a validation image", async () => {
  const { train, valid } = await loadMnist({ source: "mnist-full" });
  assert.equal(train.count, 50_000);
  const key = (set: typeof train, i: number) => {
    const px = set.images.subarray(i * 784, (i + 1) * 784);
    let h = 0;
    for (let j = 0; j < 784; j++) h = (Math.imul(h, 31) + px[j] * 255) | 0;
    return h;
  };
  const validKeys = new Set(
    Array.from({ length: valid.count }, (_, i) => key(valid, i)),
  );
  for (const budget of LABEL_BUDGETS) {
    const s = labelledSplit(train.labels, { labels: budget, seed: 1, draw: 0 });
    assert.deepEqual(
      classCounts(train.labels, s.labelled),
      new Array(10).fill(budget / 10),
    );
    assert.equal(s.unlabelled.length, 50_000 - budget);
    assert.ok(s.labelled[budget - 1] < train.count);
    // Positions index the training split, which holds no validation image.
    for (const i of s.labelled) assert.ok(!validKeys.has(key(train, i)));
  }
});

Deno.test("labelledBatch reads on through seeded permutations: each pass uses every image once", () => {
  const n = 7, b = 3;
  const stream = [0, 1, 2, 3, 4].flatMap((
    s,
  ) => [...labelledBatch(n, b, 9, 2, s)]);
  // Steps 0-4 read positions 0..14: passes 0 and 1 whole, then one of pass 2.
  for (const pass of [0, 1]) {
    const order = new Rng(deriveSeed(9, "labelled", 2, pass)).permutation(n);
    assert.deepEqual(stream.slice(pass * n, pass * n + n), [...order]);
  }
  assert.deepEqual(labelledBatch(n, b, 9, 2, 4), labelledBatch(n, b, 9, 2, 4));
  assert.notDeepEqual(
    [...labelledBatch(n, n, 9, 2, 0)],
    [...labelledBatch(n, n, 9, 3, 0)],
  );
});
