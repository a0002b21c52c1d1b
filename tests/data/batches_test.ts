import assert from "node:assert/strict";
import {
  epochMinibatches,
  evaluationBatches,
  minibatches,
} from "../../lib/data/batches.ts";
import { Rng } from "../../lib/random.ts";

Deno.test("minibatches in order: full batches then the remainder", () => {
  const b = minibatches(7, 3).map((x) => [...x]);
  assert.deepEqual(b, [[0, 1, 2], [3, 4, 5], [6]]);
  assert.deepEqual(minibatches(7, 3, undefined, true).map((x) => [...x]), [
    [0, 1, 2],
    [3, 4, 5],
  ]);
  assert.throws(() => minibatches(7, 0), /batch size must be at least 1/);
});

Deno.test("shuffled minibatches cover every index once and repeat with the seed", () => {
  const a = minibatches(100, 8, new Rng(3)).flatMap((x) => [...x]);
  assert.deepEqual([...a].sort((x, y) => x - y), [...Array(100).keys()]);
  assert.notDeepEqual(a, [...Array(100).keys()]);
  assert.deepEqual(minibatches(100, 8, new Rng(3)).flatMap((x) => [...x]), a);
});

Deno.test("epochMinibatches: a new seeded order each epoch, full batches only", () => {
  const e0 = epochMinibatches(10, 4, 1, 0);
  assert.equal(e0.length, 2);
  assert.ok(e0.every((b) => b.length === 4));
  assert.deepEqual(epochMinibatches(10, 4, 1, 0), e0);
  const flat = (bs: Int32Array[]) => bs.flatMap((b) => [...b]);
  assert.notDeepEqual(flat(epochMinibatches(10, 4, 1, 1)), flat(e0));
});

Deno.test("evaluationBatches: every example once; a last batch of one joins the one before under minibatch statistics", () => {
  const plain = (bs: Int32Array[]) => bs.map((b) => [...b]);
  assert.deepEqual(plain(evaluationBatches(7, 3, true)), [
    [0, 1, 2],
    [3, 4, 5, 6],
  ]);
  // Population statistics do not need a second example.
  assert.deepEqual(plain(evaluationBatches(7, 3, false)), [
    [0, 1, 2],
    [3, 4, 5],
    [6],
  ]);
  // A smaller last batch of two or more stays as it is.
  assert.deepEqual(plain(evaluationBatches(8, 3, true)), [
    [0, 1, 2],
    [3, 4, 5],
    [6, 7],
  ]);
  assert.deepEqual(plain(evaluationBatches(1, 3, true)), [[0]]);
});
