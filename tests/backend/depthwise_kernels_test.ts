/**
 * The depthwise-convolution gradients on wasm (lib/backend/depthwise_kernels.ts)
 * against the cpu backend, through `tf.grads` of a depthwise convolution.
 * wasm+blas installs the same kernels, so plain wasm covers both.
 */
import * as tf from "@tensorflow/tfjs-core";
import { assertClose, onBackend, randn } from "./test_util.ts";

Deno.test("Depthwise conv gradients on wasm match cpu", async () => {
  const cases = [
    { h: 7, w: 8, c: 3, m: 2, f: 3, s: 1, pad: "same" as const },
    { h: 9, w: 9, c: 1, m: 1, f: 2, s: 2, pad: "valid" as const },
    { h: 6, w: 5, c: 5, m: 3, f: 3, s: 2, pad: "same" as const },
  ];
  for (const [i, k] of cases.entries()) {
    const xShape: [number, number, number, number] = [3, k.h, k.w, k.c];
    const fShape: [number, number, number, number] = [k.f, k.f, k.c, k.m];
    const x = randn(tf.util.sizeFromShape(xShape), 800 + i);
    const f = randn(tf.util.sizeFromShape(fShape), 810 + i);
    const run = () => {
      const xt = tf.tensor4d(x, xShape);
      const ft = tf.tensor4d(f, fShape);
      const loss = (a: tf.Tensor4D, b: tf.Tensor4D) =>
        tf.sum(tf.square(tf.depthwiseConv2d(a, b, k.s, k.pad)));
      const [dx, df] = tf.grads(
        loss as (
          ...t: tf.Tensor[]
        ) => tf.Tensor,
      )([xt, ft]);
      return [dx, df];
    };
    const expected = await onBackend("cpu", run);
    const actual = await onBackend("wasm", run);
    assertClose(actual[0], expected[0], 1e-4, `depthwise dx case ${i}`);
    assertClose(actual[1], expected[1], 1e-4, `depthwise dFilter case ${i}`);
  }
});
