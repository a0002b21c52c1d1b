/**
 * The data-movement kernels on wasm (lib/backend/array_kernels.ts): `Tile`
 * against the cpu backend, and `Identity` / `Cast`, which share the input's
 * data for same-dtype calls and leave other casts to the stock kernel.
 * wasm+blas installs the same kernels, so plain wasm covers both.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backend/mod.ts";
import { assertClose, onBackend, randn } from "./test_util.ts";

Deno.test("Tile matches cpu for float32, int32 and bool", async () => {
  const cases: [number[], number[]][] = [
    [[1, 1, 1, 5], [3, 4, 2, 1]],
    [[2, 3], [2, 3]],
    [[4], [3]],
    [[2, 1, 3], [1, 4, 1]],
  ];
  for (const [shape, reps] of cases) {
    const v = randn(tf.util.sizeFromShape(shape), 1100);
    const inputs = {
      float32: () => tf.tensor(v, shape),
      int32: () =>
        tf.tensor(Array.from(v, (a) => Math.round(a * 10)), shape, "int32"),
      bool: () =>
        tf.tensor(Array.from(v, (a) => (a > 0 ? 1 : 0)), shape, "bool"),
    };
    for (const [dtype, make] of Object.entries(inputs)) {
      const run = () => tf.tile(make(), reps);
      const expected = await onBackend("cpu", run);
      assertClose(
        await onBackend("wasm", run),
        expected,
        0,
        `Tile ${dtype} ${shape} x ${reps}`,
      );
    }
  }
});

Deno.test("Identity and same-dtype Cast on wasm share the input's data", async () => {
  await initBackend({ backend: "wasm" });
  for (const dtype of ["float32", "int32", "bool"] as const) {
    const x = tf.tensor([1, 0, 3], [3], dtype);
    const same = [
      tf.engine().runKernel("Identity", { x }) as tf.Tensor,
      tf.engine().runKernel("Cast", { x }, { dtype }) as tf.Tensor,
    ];
    const data = x.dataId;
    x.dispose();
    const want = dtype === "bool" ? [1, 0, 1] : [1, 0, 3];
    for (const [i, y] of same.entries()) {
      const label = `${i === 0 ? "Identity" : "Cast"} ${dtype}`;
      assert.equal(y.dataId, data, `${label} shares the input's data`);
      assert.equal(y.dtype, dtype, label);
      // Still readable: the shared data outlives the disposed input.
      assert.deepEqual(Array.from(y.dataSync()), want, label);
    }
    tf.dispose(same);
  }
});

Deno.test("Cast to another dtype matches cpu", async () => {
  const v = [-2.7, -0.5, 0, 0.5, 1.9, 3];
  // Not to bool: stock tfjs-backend-wasm 4.22 truncates to an integer and
  // keeps its low byte there (-2.7 becomes 254, 0.5 becomes 0).
  const casts: [tf.DataType, tf.DataType][] = [
    ["float32", "int32"],
    ["int32", "float32"],
    ["bool", "float32"],
    ["bool", "int32"],
  ];
  for (const [from, to] of casts) {
    const run = () => tf.cast(tf.tensor(v, [v.length], from), to);
    const expected = await onBackend("cpu", run);
    assertClose(await onBackend("wasm", run), expected, 0, `${from}->${to}`);
  }
});
