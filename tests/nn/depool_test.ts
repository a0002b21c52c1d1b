/**
 * lib/nn/depool.ts: zero insertion and its gradient against a hand
 * computation, the wasm kernels (SIMD module and JavaScript loops) against
 * the composite on cpu, flipFilter, and depoolConv2d's transposed
 * convolution against the literal conv2d(depool2d(x)), values and gradients.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { loadBlas } from "../../lib/backend/blas.ts";
import { setWasmKernelsEnabled } from "../../lib/backend/wasm_kernels.ts";
import {
  depool2d,
  depool2dComposite,
  depool2dGradComposite,
  DEPOOL_2D,
  DEPOOL_2D_GRAD,
  depoolConv2d,
  FLIP_FILTER,
  flipFilter,
} from "../../lib/nn/depool.ts";
import {
  assertClose,
  onBackend,
  randn,
  type TestBackend,
} from "../backend/test_util.ts";

const WASM: TestBackend[] = loadBlas() !== null
  ? ["wasm", "wasm+blas"]
  : ["wasm"];

Deno.test("depool2d puts each value at the top-left of a block of zeros; its gradient takes the top-left of dy", async () => {
  // x: [1, 2, 2, 2], channels (a, b): pixel (i, j) = (10 (i, j) + 1, ... + 2).
  const x = [11, 12, 21, 22, 31, 32, 41, 42];
  // dy: [1, 4, 4, 2], element index as its value.
  const dy = Array.from({ length: 32 }, (_, i) => i);
  for (const backend of ["cpu", ...WASM] as TestBackend[]) {
    const out = await onBackend(backend, () => {
      const xt = tf.tensor4d(x, [1, 2, 2, 2]);
      const y = depool2d(xt);
      const dx = tf.grad((t: tf.Tensor) =>
        tf.sum(tf.mul(depool2d(t as tf.Tensor4D), tf.tensor4d(dy, y.shape)))
      )(xt);
      return { y, shape: y.shape, dx };
    });
    assert.deepEqual(out.shape, [1, 4, 4, 2], backend);
    // Rows of the 4x4 output, channel pairs per pixel.
    const expected = [
      [11, 12, 0, 0, 21, 22, 0, 0],
      [0, 0, 0, 0, 0, 0, 0, 0],
      [31, 32, 0, 0, 41, 42, 0, 0],
      [0, 0, 0, 0, 0, 0, 0, 0],
    ].flat();
    assert.deepEqual(out.y, expected, backend);
    // dy at rows 0 and 2, columns 0 and 2: indices (r * 4 + c) * 2 + ch.
    assert.deepEqual(out.dx, [0, 1, 4, 5, 16, 17, 20, 21], backend);
  }
});

Deno.test("depool2d with factor 3, and factor 1 is the identity", async () => {
  const out = await onBackend("cpu", () => {
    const x = tf.tensor4d([1, 2], [1, 1, 2, 1]);
    return { f3: depool2d(x, 3), f1: depool2d(x, 1) };
  });
  assert.deepEqual(out.f3, [1, 0, 0, 2, 0, 0, ...new Array(12).fill(0)]);
  assert.deepEqual(out.f1, [1, 2]);
  assert.throws(() => depool2d(tf.ones([1, 2, 2, 1]) as tf.Tensor4D, 0));
  assert.throws(() => depool2d(tf.ones([2, 2, 1]) as unknown as tf.Tensor4D));
});

Deno.test("the wasm depool kernels equal the composite on cpu (SIMD module and JavaScript loops)", async () => {
  const cases: [number[], number][] = [
    [[2, 3, 5, 7], 2],
    [[3, 7, 7, 16], 2],
    [[1, 4, 3, 1], 3],
    [[2, 14, 14, 4], 2],
  ];
  for (const [shape, f] of cases) {
    const x = randn(tf.util.sizeFromShape(shape), 7);
    const outShape = [shape[0], shape[1] * f, shape[2] * f, shape[3]];
    const dy = randn(tf.util.sizeFromShape(outShape), 8);
    const run = () => ({
      y: depool2dComposite(tf.tensor4d(x, shape as never), f),
      dx: depool2dGradComposite(tf.tensor4d(dy, outShape as never), f),
    });
    const expected = await onBackend("cpu", run);
    for (const backend of WASM) {
      for (const simd of [true, false]) {
        setWasmKernelsEnabled(simd);
        try {
          const actual = await onBackend(backend, () => {
            assert.ok(tf.getKernel(DEPOOL_2D, "wasm"), "kernel registered");
            assert.ok(tf.getKernel(DEPOOL_2D_GRAD, "wasm"), "grad registered");
            return {
              y: tf.engine().runKernel(DEPOOL_2D, {
                x: tf.tensor4d(x, shape as never),
              }, { factor: f }) as tf.Tensor,
              dx: tf.engine().runKernel(DEPOOL_2D_GRAD, {
                dy: tf.tensor4d(dy, outShape as never),
              }, { factor: f }) as tf.Tensor,
            };
          });
          const label = `${backend}${simd ? "" : " (js)"} [${shape}] x${f}`;
          assertClose(actual.y, expected.y, 0, `depool ${label}`);
          assertClose(actual.dx, expected.dx, 0, `depool grad ${label}`);
        } finally {
          setWasmKernelsEnabled(true);
        }
      }
    }
  }
});

Deno.test("flipFilter flips both spatial axes and swaps the channel axes; its gradient is itself", async () => {
  const shape: [number, number, number, number] = [3, 2, 4, 5];
  const w = randn(tf.util.sizeFromShape(shape), 3);
  const dy = randn(w.length, 4);
  // By hand: out[kh-1-i, kw-1-j, o, c] = w[i, j, c, o].
  const expected = new Array(w.length);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 2; j++) {
      for (let c = 0; c < 4; c++) {
        for (let o = 0; o < 5; o++) {
          expected[(((2 - i) * 2 + (1 - j)) * 5 + o) * 4 + c] =
            w[((i * 2 + j) * 4 + c) * 5 + o];
        }
      }
    }
  }
  for (const backend of ["cpu", ...WASM] as TestBackend[]) {
    const out = await onBackend(backend, () => {
      const wt = tf.tensor4d(w, shape);
      const y = flipFilter(wt);
      const g = tf.grad((t: tf.Tensor) =>
        tf.sum(tf.mul(flipFilter(t as tf.Tensor4D), tf.tensor(dy, y.shape)))
      )(wt);
      return {
        y,
        shape: y.shape,
        g,
        twice: flipFilter(y),
        gy: flipFilter(g as tf.Tensor4D),
      };
    });
    assert.deepEqual(out.shape, [3, 2, 5, 4], backend);
    assertClose(out.y, expected, 0, `${backend} flipFilter`);
    assertClose(out.twice, w, 0, `${backend} flipFilter twice`);
    // g = flip(dy): flipping it back gives dy.
    assertClose(out.gy, dy, 0, `${backend} flipFilter gradient`);
  }
  if (WASM.length) {
    await onBackend(
      "wasm",
      () => assert.ok(tf.getKernel(FLIP_FILTER, "wasm"), "kernel registered"),
    );
  }
});

Deno.test("depoolConv2d equals conv2d(depool2d(x)) with its gradients, on every backend", async () => {
  // [x shape, filter side, out channels, factor]
  const cases: [[number, number, number, number], number, number, number][] = [
    [[2, 5, 6, 3], 3, 4, 2],
    [[2, 4, 4, 3], 1, 2, 2],
    [[1, 4, 5, 2], 2, 3, 2],
    [[2, 3, 4, 2], 5, 2, 3],
    [[3, 7, 7, 8], 3, 1, 2],
    [[2, 7, 7, 16], 3, 8, 2],
  ];
  for (const [shape, k, o, f] of cases) {
    const [n, h, w, c] = shape;
    const x = randn(n * h * w * c, 11);
    const filt = randn(k * k * c * o, 12, 0.5);
    const dy = randn(n * h * f * w * f * o, 13);
    const run = (method: "transposed" | "literal") => () => {
      const xt = tf.tensor4d(x, shape);
      const wt = tf.tensor4d(filt, [k, k, c, o]);
      const f1 = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          tf.mul(
            depoolConv2d(a as tf.Tensor4D, b as tf.Tensor4D, {
              factor: f,
              method,
            }),
            tf.tensor4d(dy, [n, h * f, w * f, o]),
          ),
        );
      const [dx, dw] = tf.grads(f1)([xt, wt]);
      const y = depoolConv2d(xt, wt, { factor: f, method });
      return { y, shape: y.shape, dx, dw };
    };
    const expected = await onBackend("cpu", run("literal"));
    assert.deepEqual(expected.shape, [n, h * f, w * f, o]);
    for (const backend of ["cpu", ...WASM] as TestBackend[]) {
      const actual = await onBackend(backend, run("transposed"));
      const label = `${backend} [${shape}] k${k} o${o} x${f}`;
      assert.deepEqual(actual.shape, expected.shape, label);
      assertClose(actual.y, expected.y, 1e-5, `depoolConv2d ${label}`);
      assertClose(actual.dx, expected.dx, 1e-5, `depoolConv2d dx ${label}`);
      assertClose(actual.dw, expected.dw, 1e-5, `depoolConv2d dw ${label}`);
    }
  }
});
