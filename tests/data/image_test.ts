import assert from "node:assert/strict";
import {
  centerCrop,
  denormalizeImages,
  normalizeImages,
  pixelStats,
  resize,
  STD_FLOOR,
  toUint8,
} from "../../lib/data/image.ts";
import { Rng } from "../../lib/random.ts";

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol = 1e-5,
) {
  assert.equal(actual.length, expected.length, "length");
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol,
      `index ${i}: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

Deno.test("resize: 4×4 → 2×2 averages each 2×2 block", () => {
  const src = Float32Array.from({ length: 16 }, (_, i) => i);
  // Blocks {0,1,4,5}, {2,3,6,7}, {8,9,12,13}, {10,11,14,15}.
  assertClose(resize(src, 4, 4, 1, 2, 2), [2.5, 4.5, 10.5, 12.5]);
});

Deno.test("resize: 3 → 2 weights fractional pixels by overlap", () => {
  // Each output covers 1.5 inputs: (3·1 + 6·0.5) / 1.5 = 4, (6·0.5 + 9·1) / 1.5 = 8.
  assertClose(resize([3, 6, 9], 1, 3, 1, 1, 2), [4, 8]);
  assertClose(resize([3, 6, 9], 3, 1, 1, 2, 1), [4, 8]);
});

Deno.test("resize: 2 → 4 enlarges bilinearly with half-pixel centres", () => {
  // Sample points (o + 0.5)/2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
  assertClose(resize([0, 8], 1, 2, 1, 1, 4), [0, 2, 6, 8]);
  assertClose(resize([5], 1, 1, 1, 3, 2), [5, 5, 5, 5, 5, 5]);
});

Deno.test("resize: channels stay separate", () => {
  // 2×2×2: channel 0 is 1,2,3,4 and channel 1 is 10,20,30,40.
  assertClose(resize([1, 10, 2, 20, 3, 30, 4, 40], 2, 2, 2, 1, 1), [2.5, 25]);
});

Deno.test("resize: area shrinking keeps constants and the mean; same size is the identity", () => {
  assertClose(
    resize(new Float32Array(375 * 500 * 3).fill(100), 375, 500, 3, 64, 64),
    new Float32Array(64 * 64 * 3).fill(100),
    1e-3,
  );
  const rng = new Rng(3);
  const src = Float32Array.from({ length: 10 * 7 }, () => rng.int(256));
  const out = resize(src, 10, 7, 1, 3, 4);
  const mean = (a: ArrayLike<number>) =>
    Array.from(a).reduce((s, v) => s + v, 0) / a.length;
  assert.ok(
    Math.abs(mean(out) - mean(src)) < 1e-3,
    `${mean(out)} vs ${mean(src)}`,
  );
  assertClose(resize(src, 10, 7, 1, 10, 7), src);
  assert.throws(() => resize(src, 10, 8, 1, 2, 2), RangeError);
});

Deno.test("centerCrop: takes the central window, extra margin pixel bottom/right", () => {
  const four = Uint8Array.from({ length: 16 }, (_, i) => i);
  assert.deepEqual(Array.from(centerCrop(four, 4, 4, 1, 2, 2)), [5, 6, 9, 10]);
  const five = Float32Array.from({ length: 25 }, (_, i) => i);
  // Margin 3: offset floor(3/2) = 1, so rows and columns 1..2.
  const cropped = centerCrop(five, 5, 5, 1, 2, 2);
  assert.ok(cropped instanceof Float32Array);
  assert.deepEqual(Array.from(cropped), [6, 7, 11, 12]);
  // 3×3×2: the centre pixel's two channels.
  const rgb = Uint8Array.from({ length: 18 }, (_, i) => i);
  assert.deepEqual(Array.from(centerCrop(rgb, 3, 3, 2, 1, 1)), [8, 9]);
  assert.throws(() => centerCrop(four, 4, 4, 1, 5, 2), RangeError);
});

Deno.test("toUint8 rounds and clamps", () => {
  assert.deepEqual(Array.from(toUint8([-3, 0.4, 0.5, 254.6, 300])), [
    0,
    0,
    1,
    255,
    255,
  ]);
});

Deno.test("pixelStats: per-pixel mean and population std in [0,1] units", () => {
  // Three 2-value images; pixel 0 is 0, 1, 0.2 and pixel 1 is 1, 1, 0 in [0,1] units.
  const images = Uint8Array.from([0, 255, 255, 255, 51, 0]);
  const all = pixelStats(images, 2, [0, 1, 2]);
  assertClose(all.mean, [0.4, 2 / 3]);
  assertClose(all.std, [Math.sqrt((0.16 + 0.36 + 0.04) / 3), Math.sqrt(2 / 9)]);
  // Only images 2 and 0: pixel 0 is 0.2, 0 and pixel 1 is 0, 1.
  const some = pixelStats(images, 2, [2, 0]);
  assertClose(some.mean, [0.1, 0.5]);
  assertClose(some.std, [0.1, 0.5]);
  // A pixel constant over the images gets the floor, not 0.
  assertClose(pixelStats(images, 2, [0, 1]).std, [0.5, STD_FLOOR]);
});

Deno.test("normalizeImages gathers in index order and maps (v/255 - mean)/std", () => {
  const images = Uint8Array.from([0, 255, 255, 255, 51, 0]);
  const stats = pixelStats(images, 2, [2, 0]); // mean [0.1, 0.5], std [0.1, 0.5]
  // Image 2 = (0.2, 0) → (1, -1); image 0 = (0, 1) → (-1, 1); image 1 = (1, 1) → (9, 1).
  assertClose(normalizeImages(images, 2, [2, 0, 1], stats), [
    1,
    -1,
    -1,
    1,
    9,
    1,
  ], 1e-4);
});

Deno.test("denormalizeImages undoes normalization and clamps to [0,1]", () => {
  const images = Uint8Array.from([0, 255, 255, 255, 51, 0]);
  const stats = pixelStats(images, 2, [0, 1, 2]);
  const normalized = normalizeImages(images, 2, [0, 1, 2], stats);
  assertClose(
    denormalizeImages(normalized, stats),
    Array.from(images, (v) => v / 255),
    1e-6,
  );
  assertClose(denormalizeImages([100, -100], stats), [1, 0]);
  assert.throws(() => denormalizeImages([1, 2, 3], stats), RangeError);
});
