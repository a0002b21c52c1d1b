/** Shared assertions and fixtures for the tests. @module */
import * as tf from "@tensorflow/tfjs-core";
import type { LabelledImages } from "../lib/data/images.ts";
import { seededNormalValues } from "../lib/nn/random_normal.ts";

/** Asserts every element of `actual` is within `tol` of `expected`. */
export function assertAllClose(
  actual: ArrayLike<number> | tf.Tensor,
  expected: ArrayLike<number>,
  tol = 1e-5,
  msg = "",
): void {
  const a = actual instanceof tf.Tensor ? actual.dataSync() : actual;
  if (a.length !== expected.length) {
    throw new Error(`${msg} length ${a.length} != expected ${expected.length}`);
  }
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - expected[i]) <= tol)) {
      throw new Error(
        `${msg} element ${i}: ${a[i]} != expected ${
          expected[i]
        } (tol ${tol})\n` +
          `actual:   [${Array.from(a).slice(0, 12).join(", ")}]\n` +
          `expected: [${Array.from(expected).slice(0, 12).join(", ")}]`,
      );
    }
  }
}

/**
 * `count` random `side x side x channels` images (standard normal values)
 * with labels alternating 0, 1.
 */
export function randomImages(
  count: number,
  side: number,
  seed: number,
  channels = 3,
): LabelledImages {
  return {
    images: seededNormalValues(count * side * side * channels, seed),
    labels: Uint8Array.from({ length: count }, (_, i) => i % 2),
    count,
    height: side,
    width: side,
    channels,
  };
}
