/** Shared assertions for the tests. @module */
import * as tf from "@tensorflow/tfjs-core";

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
