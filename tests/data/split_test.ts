import assert from "node:assert/strict";
import { seededSplit, takeRows } from "../../lib/data/split.ts";
import { Rng } from "../../lib/random.ts";

Deno.test("seededSplit is deterministic for a seed", () => {
  const a = seededSplit(1000, [800, 100, 100], 42);
  const b = seededSplit(1000, [800, 100, 100], 42);
  assert.equal(a.length, 3);
  for (let i = 0; i < 3; i++) assert.deepEqual(a[i], b[i]);
});

Deno.test("seededSplit sets are disjoint and cover 0..n-1 when sizes sum to n", () => {
  const sets = seededSplit(1000, [800, 100, 100], 7);
  assert.deepEqual(sets.map((s) => s.length), [800, 100, 100]);
  const all = sets.flatMap((s) => Array.from(s)).sort((x, y) => x - y);
  assert.deepEqual(all, Array.from({ length: 1000 }, (_, i) => i));
});

Deno.test("seededSplit leaves out the rest when sizes sum to less than n", () => {
  const sets = seededSplit(100, [30, 20], 3);
  assert.deepEqual(sets.map((s) => s.length), [30, 20]);
  const seen = new Set([...sets[0], ...sets[1]]);
  assert.equal(seen.size, 50);
  for (const i of seen) assert.ok(i >= 0 && i < 100);
});

Deno.test("seededSplit cuts one Rng permutation in order", () => {
  const perm = new Rng(5).permutation(10);
  const [a, b] = seededSplit(10, [4, 6], 5);
  assert.deepEqual(Array.from(a), Array.from(perm.subarray(0, 4)));
  assert.deepEqual(Array.from(b), Array.from(perm.subarray(4)));
});

Deno.test("seededSplit differs between seeds", () => {
  const [a] = seededSplit(1000, [500], 1);
  const [b] = seededSplit(1000, [500], 2);
  assert.notDeepEqual(Array.from(a), Array.from(b));
});

Deno.test("seededSplit rejects sizes larger than n or invalid", () => {
  assert.throws(
    () => seededSplit(10, [6, 5], 0),
    /sum to 11, more than the 10/,
  );
  assert.throws(() => seededSplit(10, [-1], 0), RangeError);
  assert.throws(() => seededSplit(10, [1.5], 0), RangeError);
});

Deno.test("takeRows gathers rows in index order", () => {
  const images = new Float32Array([0, 1, 2, 3, 4, 5]); // 3 rows of 2
  const out = takeRows(images, 2, new Int32Array([2, 0, 2]));
  assert.ok(out instanceof Float32Array);
  assert.deepEqual(Array.from(out), [4, 5, 0, 1, 4, 5]);
  const labels = takeRows(new Uint8Array([7, 8, 9]), 1, new Int32Array([1, 2]));
  assert.ok(labels instanceof Uint8Array);
  assert.deepEqual(Array.from(labels), [8, 9]);
  assert.equal(takeRows(images, 3, new Int32Array(0)).length, 0);
});

Deno.test("takeRows rejects out-of-range indices and a bad row size", () => {
  const images = new Float32Array(6);
  assert.throws(
    () => takeRows(images, 2, new Int32Array([3])),
    /index 3 .* out of range \[0, 3\)/,
  );
  assert.throws(() => takeRows(images, 2, new Int32Array([-1])), RangeError);
  assert.throws(() => takeRows(images, 4, new Int32Array([0])), /rowSize 4/);
});
