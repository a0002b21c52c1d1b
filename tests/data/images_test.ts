import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  batchImages,
  batchTensor,
  flipChoices,
  imageSize,
  labelTensor,
  subset,
} from "../../lib/data/images.ts";
import { Rng } from "../../lib/random.ts";
import { assertAllClose } from "../test_util.ts";

await tf.setBackend("cpu");

/** Two 2x3 RGB images whose values encode (image, row, column, channel). */
function codedImages() {
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
  const set = {
    images,
    labels: Uint8Array.from([3, 7]),
    count: 2,
    height: 2,
    width: 3,
    channels: 3,
  };
  return { set, code };
}

Deno.test("a flipped image is the original with its columns reversed", () => {
  const { set, code } = codedImages();
  // Batch [image 1 flipped, image 0 as is, image 1 as is].
  const out = batchImages(set, [1, 0, 1], {
    flips: Uint8Array.from([1, 0, 0]),
  });
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
  const x = tf.tensor4d(set.images, [2, 2, 3, 3]);
  assertAllClose(
    batchImages(set, [0, 1], { flips: Uint8Array.from([1, 1]) }),
    tf.reverse(x, 2).dataSync(),
    0,
  );
  assert.throws(() => batchImages(set, [2]), /index 2 .*outside the 2 images/);
});

Deno.test("batchTensor gives NHWC images or flat rows; labelTensor and subset follow idx", () => {
  const { set } = codedImages();
  assert.equal(imageSize(set), 18);
  const nhwc = batchTensor(set, [1, 0]);
  assert.deepEqual(nhwc.shape, [2, 2, 3, 3]);
  const flat = batchTensor(set, [1, 0], { layout: "flat" });
  assert.deepEqual(flat.shape, [2, 18]);
  assert.deepEqual(Array.from(flat.dataSync()), Array.from(nhwc.dataSync()));
  assert.deepEqual(Array.from(flat.dataSync().slice(0, 18)), [
    ...set.images.slice(18),
  ]);
  assert.deepEqual(Array.from(labelTensor(set, [1, 0, 1]).dataSync()), [
    7,
    3,
    7,
  ]);
  const sub = subset(set, [1]);
  assert.equal(sub.count, 1);
  assert.deepEqual([...sub.labels], [7]);
  assert.deepEqual([...sub.images], [...set.images.slice(18)]);
  assert.deepEqual([sub.height, sub.width, sub.channels], [2, 3, 3]);
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
