/**
 * Convolution kernels on plain wasm and wasm+blas against the cpu backend,
 * kernel by kernel (via `tf.engine().runKernel`, so each attribute is the
 * one under test), the im2col helpers against a direct loop, and which
 * kernels the registration functions install and restore.
 */
import { setWasmKernelsEnabled } from "../../lib/backend/wasm_kernels.ts";
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { loadBlas } from "../../lib/backend/blas.ts";
import {
  CONV_KERNEL_NAMES,
  registerBlasConvKernels,
  registerWasmConvKernels,
  restoreWasmConvKernels,
} from "../../lib/backend/conv_kernels.ts";
import {
  col2im,
  col2imImages,
  colCols,
  colRows,
  type ConvGeometry,
  im2col,
  im2colTransposed,
} from "../../lib/backend/im2col.ts";
import {
  assertClose,
  onBackend,
  randn,
  type TestBackend,
} from "./test_util.ts";

// Taken at import, before any backend setup has replaced a kernel.
const STOCK_WASM = wasmKernelTable();

const hasBlas = loadBlas() !== null;
const BACKENDS: TestBackend[] = hasBlas ? ["wasm", "wasm+blas"] : ["wasm"];
if (!hasBlas) {
  console.warn("conv_kernels_test: no BLAS found, wasm+blas cases skipped");
}

type Pad = "same" | "valid" | number | [
  [number, number],
  [number, number],
  [number, number],
  [number, number],
];

interface Case {
  batch: number;
  h: number;
  w: number;
  inC: number;
  outC: number;
  fh: number;
  fw: number;
  strides: number | [number, number];
  pad: Pad;
  dilations?: number;
}

// Odd sizes, channels 1/3/5, strides 1 and 2, every padding kind, batch 1
// and 3, plus the target net's layers (3x3 stride 2 and 2x2 stride 1).
// A numeric pad only with equal strides: tfjs-core 4.22 computes the output
// width from the row stride there, and stock wasm Conv2D then writes past
// its output.
const CASES: Case[] = [
  {
    batch: 1,
    h: 7,
    w: 9,
    inC: 1,
    outC: 4,
    fh: 3,
    fw: 3,
    strides: 1,
    pad: "same",
  },
  {
    batch: 3,
    h: 7,
    w: 9,
    inC: 3,
    outC: 5,
    fh: 3,
    fw: 3,
    strides: 1,
    pad: "valid",
  },
  {
    batch: 3,
    h: 9,
    w: 8,
    inC: 5,
    outC: 7,
    fh: 3,
    fw: 2,
    strides: 2,
    pad: "same",
  },
  {
    batch: 1,
    h: 11,
    w: 11,
    inC: 3,
    outC: 2,
    fh: 3,
    fw: 3,
    strides: 2,
    pad: "valid",
  },
  {
    batch: 3,
    h: 6,
    w: 7,
    inC: 5,
    outC: 3,
    fh: 2,
    fw: 2,
    strides: 1,
    pad: "valid",
  },
  {
    batch: 3,
    h: 6,
    w: 7,
    inC: 3,
    outC: 4,
    fh: 2,
    fw: 2,
    strides: 2,
    pad: "same",
  },
  {
    batch: 1,
    h: 8,
    w: 5,
    inC: 5,
    outC: 6,
    fh: 1,
    fw: 1,
    strides: 1,
    pad: "valid",
  },
  {
    batch: 3,
    h: 8,
    w: 5,
    inC: 3,
    outC: 2,
    fh: 1,
    fw: 1,
    strides: 2,
    pad: "same",
  },
  { batch: 3, h: 7, w: 7, inC: 1, outC: 3, fh: 3, fw: 3, strides: 2, pad: 1 },
  {
    batch: 3,
    h: 7,
    w: 8,
    inC: 3,
    outC: 3,
    fh: 3,
    fw: 3,
    strides: [2, 1],
    pad: "same",
  },
  {
    batch: 1,
    h: 6,
    w: 9,
    inC: 3,
    outC: 4,
    fh: 3,
    fw: 2,
    strides: 2,
    pad: [[0, 0], [1, 0], [0, 2], [0, 0]],
  },
  {
    batch: 3,
    h: 17,
    w: 17,
    inC: 3,
    outC: 8,
    fh: 3,
    fw: 3,
    strides: 2,
    pad: "valid",
  },
  {
    batch: 3,
    h: 5,
    w: 5,
    inC: 8,
    outC: 16,
    fh: 2,
    fw: 2,
    strides: 1,
    pad: "valid",
  },
  // Filter rows of >= 24 floats (copied with copyWithin on the heap) and
  // >= 8 input channels (the gathering col2im), with every padding kind.
  {
    batch: 3,
    h: 9,
    w: 8,
    inC: 13,
    outC: 6,
    fh: 2,
    fw: 2,
    strides: 1,
    pad: "same",
  },
  {
    batch: 1,
    h: 8,
    w: 9,
    inC: 9,
    outC: 5,
    fh: 3,
    fw: 3,
    strides: 2,
    pad: "same",
  },
  {
    batch: 2,
    h: 7,
    w: 6,
    inC: 12,
    outC: 4,
    fh: 3,
    fw: 3,
    strides: [1, 2],
    pad: [[0, 0], [2, 1], [1, 0], [0, 0]],
  },
  {
    batch: 3,
    h: 11,
    w: 11,
    inC: 32,
    outC: 7,
    fh: 2,
    fw: 2,
    strides: 1,
    pad: "valid",
  },
]; // deno-fmt-ignore

function describe(c: Case): string {
  return `x[${c.batch},${c.h},${c.w},${c.inC}] f[${c.fh},${c.fw},${c.inC},` +
    `${c.outC}] s=${JSON.stringify(c.strides)} pad=${JSON.stringify(c.pad)}` +
    (c.dilations ? ` d=${c.dilations}` : "");
}

function outShape(c: Case): number[] {
  const info = tf.backend_util.computeConv2DInfo(
    [c.batch, c.h, c.w, c.inC],
    [c.fh, c.fw, c.inC, c.outC],
    c.strides,
    c.dilations ?? 1,
    c.pad,
  );
  return info.outShape;
}

/** Runs `fn` on cpu and on every wasm flavour and compares the results. */
async function compareWithCpu(
  label: string,
  fn: () => tf.Tensor,
  tol = 1e-4,
): Promise<void> {
  const expected = await onBackend("cpu", fn);
  for (const backend of BACKENDS) {
    const actual = await onBackend(backend, fn);
    assertClose(actual, expected, tol, `${backend} ${label}`);
  }
}

function inputs(c: Case, seed: number) {
  const xShape = [c.batch, c.h, c.w, c.inC];
  const fShape = [c.fh, c.fw, c.inC, c.outC];
  const yShape = outShape(c);
  return {
    xShape,
    fShape,
    yShape,
    x: randn(tf.util.sizeFromShape(xShape), seed),
    f: randn(tf.util.sizeFromShape(fShape), seed + 1, 0.5),
    dy: randn(tf.util.sizeFromShape(yShape), seed + 2),
    bias: randn(c.outC, seed + 3),
  };
}

/** Conv2D on every backend against cpu, for `cases` (seeds from `seed`). */
async function conv2dMatchesCpu(cases: Case[], seed: number, label = "") {
  for (const [i, c] of cases.entries()) {
    const d = inputs(c, seed + i);
    await compareWithCpu(
      `Conv2D${label} ${describe(c)}`,
      () =>
        tf.engine().runKernel("Conv2D", {
          x: tf.tensor(d.x, d.xShape),
          filter: tf.tensor(d.f, d.fShape),
        }, {
          strides: c.strides,
          pad: c.pad,
          dataFormat: "NHWC",
          dilations: c.dilations ?? 1,
        }) as tf.Tensor,
    );
  }
}

/** Conv2DBackpropFilter on every backend against cpu, for every case. */
async function backpropFilterMatchesCpu(seed: number, label = "") {
  for (const [i, c] of CASES.entries()) {
    const d = inputs(c, seed + i);
    await compareWithCpu(
      `Conv2DBackpropFilter${label} ${describe(c)}`,
      () =>
        tf.engine().runKernel("Conv2DBackpropFilter", {
          x: tf.tensor(d.x, d.xShape),
          dy: tf.tensor(d.dy, d.yShape),
        }, {
          strides: c.strides,
          pad: c.pad,
          dataFormat: "NHWC",
          filterShape: d.fShape,
        }) as tf.Tensor,
    );
  }
}

Deno.test("Conv2D matches cpu", async () => {
  const cases = [...CASES, { ...CASES[1], dilations: 2 }, {
    ...CASES[0],
    dilations: 2,
  }, { ...CASES[12], dilations: 2 }];
  await conv2dMatchesCpu(cases, 100);
});

Deno.test("Conv2DBackpropInput matches cpu", async () => {
  for (const [i, c] of CASES.entries()) {
    const d = inputs(c, 200 + i);
    await compareWithCpu(
      `Conv2DBackpropInput ${describe(c)}`,
      () =>
        tf.engine().runKernel("Conv2DBackpropInput", {
          dy: tf.tensor(d.dy, d.yShape),
          filter: tf.tensor(d.f, d.fShape),
        }, {
          strides: c.strides,
          pad: c.pad,
          dataFormat: "NHWC",
          inputShape: d.xShape,
        }) as tf.Tensor,
    );
  }
});

Deno.test("Conv2DBackpropFilter matches cpu", async () => {
  await backpropFilterMatchesCpu(300);
});

Deno.test("Conv2D and Conv2DBackpropFilter with JavaScript im2col (no SIMD module) match cpu", async () => {
  setWasmKernelsEnabled(false);
  try {
    await conv2dMatchesCpu(CASES, 400, " (js im2col)");
    await backpropFilterMatchesCpu(400, " (js im2col)");
  } finally {
    setWasmKernelsEnabled(true);
  }
});

const ACTIVATIONS = [
  "linear",
  "relu",
  "relu6",
  "elu",
  "leakyrelu",
  "prelu",
  "sigmoid",
] as const;

Deno.test("FusedConv2D with bias and each activation matches cpu", async () => {
  const picks = [CASES[2], CASES[4], CASES[9]];
  for (const [i, c] of picks.entries()) {
    const d = inputs(c, 400 + i);
    const alpha = randn(c.outC, 500 + i, 0.3);
    for (const activation of ACTIVATIONS) {
      await compareWithCpu(
        `FusedConv2D ${activation} ${describe(c)}`,
        () =>
          tf.fused.conv2d({
            x: tf.tensor4d(d.x, d.xShape as [number, number, number, number]),
            filter: tf.tensor4d(
              d.f,
              d.fShape as [number, number, number, number],
            ),
            strides: c.strides,
            pad: c.pad as "same" | "valid" | number,
            bias: tf.tensor1d(d.bias),
            activation,
            preluActivationWeights: activation === "prelu"
              ? tf.tensor1d(alpha)
              : undefined,
            leakyreluAlpha: 0.15,
          }),
      );
    }
  }
});

Deno.test("FusedConv2D without bias, scalar prelu weights", async () => {
  const c = CASES[5];
  const d = inputs(c, 600);
  await compareWithCpu(
    `FusedConv2D prelu scalar ${describe(c)}`,
    () =>
      tf.fused.conv2d({
        x: tf.tensor4d(d.x, d.xShape as [number, number, number, number]),
        filter: tf.tensor4d(d.f, d.fShape as [number, number, number, number]),
        strides: c.strides,
        pad: c.pad as "same",
        activation: "prelu",
        preluActivationWeights: tf.scalar(0.25),
      }),
  );
});

Deno.test("FusedConv2D tanh on wasm+blas equals tanh(conv + bias) on cpu", {
  ignore: !hasBlas,
}, async () => {
  const c = CASES[2];
  const d = inputs(c, 700);
  const run = (fused: boolean) => () => {
    const x = tf.tensor4d(d.x, d.xShape as [number, number, number, number]);
    const f = tf.tensor4d(d.f, d.fShape as [number, number, number, number]);
    const b = tf.tensor1d(d.bias);
    if (!fused) return tf.tanh(tf.add(tf.conv2d(x, f, c.strides, "same"), b));
    return tf.engine().runKernel("FusedConv2D", { x, filter: f, bias: b }, {
      strides: c.strides,
      pad: "same",
      dataFormat: "NHWC",
      dilations: 1,
      activation: "tanh",
    }) as tf.Tensor;
  };
  const expected = await onBackend("cpu", run(false));
  const actual = await onBackend("wasm+blas", run(true));
  assertClose(actual, expected, 1e-4, "FusedConv2D tanh");
});

Deno.test("switching wasm+blas -> wasm restores the stock forward kernels", {
  ignore: !hasBlas,
}, async () => {
  await onBackend("wasm+blas", () => tf.scalar(0));
  const blasConv = tf.getKernel("Conv2D", "wasm")!.kernelFunc;
  await onBackend("wasm", () => tf.scalar(0));
  const plainConv = tf.getKernel("Conv2D", "wasm")!.kernelFunc;
  if (blasConv === plainConv) {
    throw new Error("Conv2D on plain wasm is still the BLAS kernel");
  }
  if (!tf.getKernel("Conv2DBackpropFilter", "wasm")) {
    throw new Error("plain wasm lost Conv2DBackpropFilter");
  }
  await onBackend("wasm+blas", () => tf.scalar(0));
  if (tf.getKernel("Conv2D", "wasm")!.kernelFunc === plainConv) {
    throw new Error("wasm+blas did not reinstall the BLAS Conv2D");
  }
});

// ---------------------------------------------------------------------------
// im2col helpers against the definition.

function geometry(c: Case): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    [c.batch, c.h, c.w, c.inC],
    [c.fh, c.fw, c.inC, c.outC],
    c.strides,
    c.dilations ?? 1,
    c.pad,
  );
  return {
    batch: c.batch,
    inH: c.h,
    inW: c.w,
    inC: c.inC,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: c.outC,
    fH: c.fh,
    fW: c.fw,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    dilationH: info.dilationHeight,
    dilationW: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** x at (b, iy, ix, ch), or 0 outside the image: the definition of im2col. */
function tap(x: Float32Array, g: ConvGeometry, r: number, k: number): number {
  const b = Math.floor(r / (g.outH * g.outW));
  const oy = Math.floor(r / g.outW) % g.outH;
  const ox = r % g.outW;
  const fy = Math.floor(k / (g.fW * g.inC));
  const fx = Math.floor(k / g.inC) % g.fW;
  const ch = k % g.inC;
  const iy = oy * g.strideH - g.padTop + fy * g.dilationH;
  const ix = ox * g.strideW - g.padLeft + fx * g.dilationW;
  if (iy < 0 || iy >= g.inH || ix < 0 || ix >= g.inW) return 0;
  return x[((b * g.inH + iy) * g.inW + ix) * g.inC + ch];
}

Deno.test("im2col, its transpose and col2im follow the definition", () => {
  const dilated = [{ ...CASES[2], dilations: 2 }, {
    ...CASES[14],
    dilations: 2,
  }];
  for (const c of [...CASES, ...dilated]) {
    const g = geometry(c);
    const m = colRows(g);
    const k = colCols(g);
    const x = randn(g.batch * g.inH * g.inW * g.inC, 900);
    const expected = new Float32Array(m * k);
    for (let r = 0; r < m; r++) {
      for (let j = 0; j < k; j++) expected[r * k + j] = tap(x, g, r, j);
    }
    // In two chunks, as the kernels do.
    const half = Math.floor(m / 2);
    const col = new Float32Array(m * k).fill(NaN);
    im2col(x, g, col, 0, half);
    im2col(x, g, col.subarray(half * k), half, m);
    assertClose(col, expected, 0, `im2col ${describe(c)}`);

    // Input and output in one buffer, as on the wasm heap (copyWithin path).
    const heap = new Float32Array(7 + x.length + m * k).fill(NaN);
    const xIn = heap.subarray(3, 3 + x.length);
    xIn.set(x);
    const colIn = heap.subarray(7 + x.length);
    im2col(xIn, g, colIn, 0, half);
    im2col(xIn, g, colIn.subarray(half * k), half, m);
    assertClose(colIn, expected, 0, `im2col in one buffer ${describe(c)}`);

    const colT = new Float32Array(m * k).fill(NaN);
    im2colTransposed(x, g, colT, m, 0, m);
    const back = new Float32Array(m * k);
    for (let r = 0; r < m; r++) {
      for (let j = 0; j < k; j++) back[r * k + j] = colT[j * m + r];
    }
    assertClose(back, expected, 0, `im2colTransposed ${describe(c)}`);

    // col2im is the adjoint: <im2col(x), y> == <x, col2im(y)>.
    const y = randn(m * k, 901);
    const dx = new Float32Array(x.length);
    col2im(y, g, dx, 0, half);
    col2im(y.subarray(half * k), g, dx, half, m);
    let lhs = 0, rhs = 0;
    for (let i = 0; i < m * k; i++) lhs += expected[i] * y[i];
    for (let i = 0; i < x.length; i++) rhs += x[i] * dx[i];
    assertClose([lhs], [rhs], 1e-4, `col2im adjoint ${describe(c)}`);

    // The gathering col2im equals the scattering one, image chunk by chunk,
    // and leaves images outside its range alone.
    const perImage = g.outH * g.outW * k;
    const firstImages = Math.floor(g.batch / 2);
    const gathered = new Float32Array(x.length).fill(NaN);
    col2imImages(y, g, gathered, 0, firstImages);
    const imageSize = g.inH * g.inW * g.inC;
    if (!gathered.subarray(firstImages * imageSize).every(Number.isNaN)) {
      throw new Error(`col2imImages wrote past its images ${describe(c)}`);
    }
    col2imImages(
      y.subarray(firstImages * perImage),
      g,
      gathered,
      firstImages,
      g.batch,
    );
    assertClose(gathered, dx, 1e-5, `col2imImages ${describe(c)}`);
  }
});

Deno.test("plain wasm refuses the numeric-pad case tfjs-core mis-sizes", async () => {
  await onBackend("wasm", () => {
    const before = tf.memory().numTensors;
    let message = "";
    try {
      tf.conv2d(
        tf.ones([1, 7, 7, 1]) as tf.Tensor4D,
        tf.ones([3, 3, 1, 2]) as tf.Tensor4D,
        [2, 1],
        1,
      );
    } catch (e) {
      message = (e as Error).message;
    }
    if (!message.includes("explicit padding")) {
      throw new Error(`expected the numeric-pad error, got "${message}"`);
    }
    // The heap is intact: allocating and reading still works.
    const y = tf.conv2d(
      tf.ones([1, 7, 7, 1]) as tf.Tensor4D,
      tf.ones([3, 3, 1, 2]) as tf.Tensor4D,
      2,
      1,
    );
    assertClose(y.dataSync().slice(0, 2), [4, 4], 0, "corner of 3x3 ones conv");
    return tf.scalar(tf.memory().numTensors - before);
  });
});

// ---------------------------------------------------------------------------
// Registration.

/** The kernels registered on wasm now, by name. */
function wasmKernelTable(): Map<string, tf.KernelConfig> {
  return new Map(tf.getKernelsForBackend("wasm").map((k) => [k.kernelName, k]));
}

/** Names whose registration differs between two tables, sorted. */
function changedNames(
  before: Map<string, tf.KernelConfig>,
  after: Map<string, tf.KernelConfig>,
): string[] {
  const names = new Set([...before.keys(), ...after.keys()]);
  return [...names].filter((n) => before.get(n) !== after.get(n)).sort();
}

// What plain-wasm setup has installed since before the kernels moved out
// of conv_kernels.ts into modules of their own.
const PLAIN_WASM_SET = [
  "Cast",
  "Conv2D",
  "Conv2DBackpropFilter",
  "Conv2DBackpropInput",
  "DepthwiseConv2dNativeBackpropFilter",
  "DepthwiseConv2dNativeBackpropInput",
  "FusedConv2D",
  "Identity",
  "MaxPoolGrad",
  "Mean",
  "Sum",
  "Tile",
  "UnsortedSegmentSum",
];

Deno.test("registerWasmConvKernels installs exactly the plain-wasm set, and restoreWasmConvKernels puts tfjs' own kernels back", async () => {
  await onBackend("wasm", () => tf.scalar(0));
  assert.deepEqual([...CONV_KERNEL_NAMES].sort(), PLAIN_WASM_SET);
  restoreWasmConvKernels();
  const restored = wasmKernelTable();
  for (const name of PLAIN_WASM_SET) {
    assert.equal(restored.get(name), STOCK_WASM.get(name), `${name} restored`);
  }
  registerWasmConvKernels();
  const installed = wasmKernelTable();
  assert.deepEqual(changedNames(restored, installed), PLAIN_WASM_SET);
  for (const name of PLAIN_WASM_SET) {
    assert.equal(
      installed.get(name)!.setupFunc,
      STOCK_WASM.get(name)?.setupFunc,
      `${name} keeps the stock setupFunc`,
    );
  }
});

Deno.test("registerBlasConvKernels replaces exactly the four convolutions", {
  ignore: !hasBlas,
}, async () => {
  await onBackend("wasm", () => tf.scalar(0));
  const plain = wasmKernelTable();
  registerBlasConvKernels(loadBlas()!);
  assert.deepEqual(changedNames(plain, wasmKernelTable()), [
    "Conv2D",
    "Conv2DBackpropFilter",
    "Conv2DBackpropInput",
    "FusedConv2D",
  ]);
  // Back to what the active "wasm" setup installed.
  registerWasmConvKernels();
});
