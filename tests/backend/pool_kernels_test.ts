/**
 * MaxPoolGrad on wasm and wasm+blas (lib/backend/pool_kernels.ts) against
 * the cpu backend, kernel by kernel: the 2x2 and other non-overlapping
 * fast paths and the general loop, with ties, NaN and -Infinity windows.
 */
import { setWasmKernelsEnabled } from "../../lib/backend/wasm_kernels.ts";
import * as tf from "@tensorflow/tfjs-core";
import { loadBlas } from "../../lib/backend/blas.ts";
import { isDisjoint } from "../../lib/backend/pool_kernels.ts";
import { Rng } from "../../lib/random.ts";
import {
  assertClose,
  onBackend,
  randn,
  type TestBackend,
} from "./test_util.ts";

const BACKENDS: TestBackend[] = loadBlas() !== null
  ? ["wasm", "wasm+blas"]
  : ["wasm"];

type Shape4 = [number, number, number, number];

interface PoolCase {
  shape: Shape4;
  filter: number | [number, number];
  strides: number | [number, number];
  pad: "valid" | "same" | number;
  /** Whether the case takes a non-overlapping fast path. */
  disjoint: boolean;
}

const CASES: PoolCase[] = [
  // 2x2 stride 2 valid: odd sizes leave the last row/column uncovered.
  { shape: [3, 9, 7, 5], filter: 2, strides: 2, pad: "valid", disjoint: true },
  { shape: [1, 8, 8, 32], filter: 2, strides: 2, pad: "valid", disjoint: true },
  { shape: [2, 5, 6, 1], filter: 2, strides: 2, pad: "valid", disjoint: true },
  // 2x2 windows with gaps between them; 3x3 and 1x2 windows that tile.
  { shape: [2, 9, 8, 3], filter: 2, strides: 3, pad: "valid", disjoint: true },
  { shape: [3, 9, 10, 4], filter: 3, strides: 3, pad: "valid", disjoint: true },
  {
    shape: [2, 6, 7, 3],
    filter: [1, 2],
    strides: [1, 2],
    pad: "valid",
    disjoint: true,
  },
  // Padding, or overlapping windows: the general loop.
  { shape: [1, 7, 8, 3], filter: 2, strides: 2, pad: "same", disjoint: false },
  { shape: [3, 7, 8, 3], filter: 3, strides: 2, pad: "same", disjoint: false },
  { shape: [3, 6, 6, 2], filter: 3, strides: 1, pad: "valid", disjoint: false },
  { shape: [2, 7, 7, 2], filter: 3, strides: 2, pad: 1, disjoint: false },
];

function poolInfo(c: PoolCase): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(
    c.shape,
    c.filter,
    c.strides,
    1,
    c.pad,
  );
}

/**
 * Inputs full of ties (small integers, as after relu and rounding), with
 * a few NaN, +-Infinity and -0 values, and one window of only -Infinity.
 */
function tiedInput(shape: Shape4, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(tf.util.sizeFromShape(shape));
  for (let i = 0; i < x.length; i++) {
    const u = rng.next();
    x[i] = u < 0.03
      ? NaN
      : u < 0.05
      ? -Infinity
      : u < 0.06
      ? Infinity
      : u < 0.1
      ? -0
      : Math.max(0, rng.int(4) - 1);
  }
  // The first window of channel 0 (at least 1x1): all -Infinity.
  const c = shape[3];
  x[0] = -Infinity;
  if (shape[2] > 1) x[c] = -Infinity;
  if (shape[1] > 1) {
    x[shape[2] * c] = -Infinity;
    if (shape[2] > 1) x[(shape[2] + 1) * c] = -Infinity;
  }
  return x;
}

/** Runs `run` on cpu and on every wasm flavour and compares the results. */
async function matchesCpu(run: () => tf.Tensor, tol: number, label: string) {
  const expected = await onBackend("cpu", run);
  for (const backend of BACKENDS) {
    const actual = await onBackend(backend, run);
    assertClose(actual, expected, tol, `${backend} ${label}`);
  }
}

async function compare(c: PoolCase, x: Float32Array, label: string) {
  const info = poolInfo(c);
  const dy = randn(tf.util.sizeFromShape(info.outShape), 77);
  const run = () => {
    const xt = tf.tensor4d(x, c.shape);
    const y = tf.maxPool(xt, c.filter, c.strides, c.pad);
    return tf.engine().runKernel("MaxPoolGrad", {
      dy: tf.tensor4d(dy, info.outShape as Shape4),
      input: xt,
      output: y,
    }, { filterSize: c.filter, strides: c.strides, pad: c.pad }) as tf.Tensor;
  };
  // Disjoint windows: each dx value is one dy value, exactly. Overlapping
  // ones sum in float32 here, in float64 on cpu.
  await matchesCpu(run, c.disjoint ? 0 : 1e-6, label);
}

Deno.test("the pooling cases take the intended paths", () => {
  for (const c of CASES) {
    if (isDisjoint(poolInfo(c)) !== c.disjoint) {
      throw new Error(`${JSON.stringify(c)}: isDisjoint is not ${c.disjoint}`);
    }
  }
});

Deno.test("MaxPoolGrad matches cpu on random inputs", async () => {
  for (const [i, c] of CASES.entries()) {
    const x = randn(tf.util.sizeFromShape(c.shape), 3000 + i);
    await compare(c, x, `random ${JSON.stringify(c)}`);
  }
});

Deno.test("MaxPoolGrad matches cpu with ties, NaN and infinities", async () => {
  for (const [i, c] of CASES.entries()) {
    const x = tiedInput(c.shape, 3100 + i);
    await compare(c, x, `ties ${JSON.stringify(c)}`);
  }
});

Deno.test("MaxPoolGrad's JavaScript paths (no SIMD module) match cpu too", async () => {
  setWasmKernelsEnabled(false);
  try {
    for (const [i, c] of CASES.entries()) {
      await compare(
        c,
        tiedInput(c.shape, 3200 + i),
        `js ties ${JSON.stringify(c)}`,
      );
      const x = randn(tf.util.sizeFromShape(c.shape), 3300 + i);
      await compare(c, x, `js random ${JSON.stringify(c)}`);
    }
  } finally {
    setWasmKernelsEnabled(true);
  }
});

Deno.test("MaxPoolGrad sends a tie to the first maximum in scan order", async () => {
  // One 2x2 window per channel; channel k has its ties at the taps in mask.
  const masks = [0b1111, 0b1110, 0b1100, 0b1000, 0b0110, 0b1010, 0b0101];
  const c = masks.length;
  const x = new Float32Array(4 * c);
  for (const [ch, mask] of masks.entries()) {
    for (let t = 0; t < 4; t++) x[t * c + ch] = mask & (1 << t) ? 5 : 1;
  }
  const dy = Array.from({ length: c }, (_, ch) => ch + 1);
  for (const backend of BACKENDS) {
    const actual = await onBackend(
      backend,
      () =>
        tf.engine().runKernel("MaxPoolGrad", {
          dy: tf.tensor4d(dy, [1, 1, 1, c]),
          input: tf.tensor4d(x, [1, 2, 2, c]),
          output: tf.fill([1, 1, 1, c], 5),
        }, { filterSize: 2, strides: 2, pad: "valid" }) as tf.Tensor,
    );
    const expected = new Array(4 * c).fill(0);
    for (const [ch, mask] of masks.entries()) {
      let first = 0;
      while (!(mask & (1 << first))) first++;
      expected[first * c + ch] = ch + 1;
    }
    assertClose(actual, expected, 0, `${backend} first maximum`);
  }
});

Deno.test("MaxPoolGrad through tf.grad of maxPool matches cpu", async () => {
  const cases = [
    { shape: [3, 9, 7, 5], f: 2, s: 2, pad: "valid" as const },
    { shape: [1, 7, 8, 3], f: 3, s: 2, pad: "same" as const },
    { shape: [3, 6, 6, 1], f: 3, s: 1, pad: "valid" as const }, // overlapping
  ];
  for (const [i, c] of cases.entries()) {
    const x = randn(tf.util.sizeFromShape(c.shape), 1000 + i);
    const run = () => {
      const xt = tf.tensor4d(x, c.shape as Shape4);
      // d/dx sum(maxPool(x)^2): dy = 2 * maxPool(x) flows to each max.
      return tf.grad((t: tf.Tensor) =>
        tf.sum(tf.square(tf.maxPool(t as tf.Tensor4D, c.f, c.s, c.pad)))
      )(xt);
    };
    await matchesCpu(run, 1e-4, `tf.grad case ${i}`);
  }
});
