/**
 * The reductions on wasm (lib/backend/reduce_kernels.ts) against the cpu
 * backend or a hand computation: `Sum`/`Mean` over leading axes (ours) and
 * other axes or dtypes (the stock kernel), and `UnsortedSegmentSum`.
 * wasm+blas installs the same kernels, so plain wasm covers both.
 */
import * as tf from "@tensorflow/tfjs-core";
import { assertClose, onBackend, randn } from "./test_util.ts";

Deno.test("Sum and Mean over leading or other axes match cpu", async () => {
  const shape = [3, 5, 4, 6];
  const v = randn(tf.util.sizeFromShape(shape), 1200);
  const ints = Array.from(v, (a) => Math.round(a * 10));
  const axesList: number[][] = [
    [0],
    [0, 1],
    [0, 1, 2],
    [1, 2],
    [3],
    [0, 3],
    [0, 1, 2, 3],
  ];
  const reductions = { Sum: tf.sum, Mean: tf.mean };
  for (const axes of axesList) {
    for (const keepDims of [false, true]) {
      for (const [name, reduce] of Object.entries(reductions)) {
        for (const dtype of ["float32", "int32"] as const) {
          const label = `${name} ${dtype} ${axes} keep=${keepDims}`;
          // Values, then the shape, so a wrong output shape fails too.
          const run = () => {
            const x = tf.tensor(dtype === "int32" ? ints : v, shape, dtype);
            const r = reduce(x, axes, keepDims);
            return tf.concat([
              tf.cast(tf.reshape(r, [-1]), "float32"),
              tf.tensor1d(r.shape),
            ]);
          };
          const expected = await onBackend("cpu", run);
          assertClose(await onBackend("wasm", run), expected, 1e-4, label);
        }
      }
    }
  }
});

Deno.test("UnsortedSegmentSum on wasm matches a hand computation", async () => {
  const run = () =>
    tf.unsortedSegmentSum(
      tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]),
      tf.tensor1d([2, 0, 2, 1], "int32"),
      3,
    );
  const actual = await onBackend("wasm", run);
  // segment 0: row 1; segment 1: row 3; segment 2: rows 0 + 2.
  assertClose(actual, [3, 4, 7, 8, 6, 8], 0, "unsortedSegmentSum");
});

Deno.test("UnsortedSegmentSum on wasm sums int32 and drops out-of-range ids", async () => {
  const run = () =>
    tf.unsortedSegmentSum(
      tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2], "int32"),
      tf.tensor1d([2, -1, 2, 3], "int32"),
      3,
    );
  const actual = await onBackend("wasm", run);
  // Rows 1 and 3 have no segment; segment 2: rows 0 + 2.
  assertClose(actual, [0, 0, 0, 0, 6, 8], 0, "unsortedSegmentSum int32");
});
