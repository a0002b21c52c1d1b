/**
 * Convolution kernels for the tfjs wasm backend.
 *
 * - {@linkcode registerWasmConvKernels}: the training kernels stock wasm lacks
 *   (`Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropFilter`,
 *   `DepthwiseConv2dNativeBackpropInput`, `UnsortedSegmentSum`), and puts back
 *   the stock `Conv2D`, `FusedConv2D`, `Conv2DBackpropInput`.
 * - {@linkcode registerBlasConvKernels}: `Conv2D`, `FusedConv2D`,
 *   `Conv2DBackpropInput` and `Conv2DBackpropFilter` as im2col + CBLAS sgemm,
 *   reading and writing the wasm heap in place.
 * - {@linkcode restoreWasmConvKernels}: back to exactly what
 *   `@tensorflow/tfjs-backend-wasm` registered.
 *
 * Backend setup (lib/backend/mod.ts) calls, every time it activates:
 * plain "wasm" → `registerWasmConvKernels()`; "wasm+blas" →
 * `registerWasmConvKernels()` then `registerBlasConvKernels(blas)`. Every
 * function is idempotent and undoes the others, so backends can be switched
 * back and forth in one process.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import type { Blas } from "./blas.ts";
import {
  col2im,
  colCols,
  colRows,
  type ConvGeometry,
  convGeometry,
  im2col,
  im2colTransposed,
  isPointwise,
} from "./im2col.ts";
import {
  asWasmBackend,
  disposeIntermediate,
  f32View as heapView,
  heapOffset,
  runWasmKernel,
} from "./wasm_heap.ts";

const BACKEND = "wasm";

/** Kernel names this module may replace or add on the wasm backend. */
export const CONV_KERNEL_NAMES: readonly string[] = [
  "Conv2D",
  "FusedConv2D",
  "Conv2DBackpropInput",
  "Conv2DBackpropFilter",
  "DepthwiseConv2dNativeBackpropFilter",
  "DepthwiseConv2dNativeBackpropInput",
  "UnsortedSegmentSum",
];

/** At most this many floats of im2col scratch per chunk (16 MiB). */
const SCRATCH_FLOATS = 1 << 22;

type KernelArgs = Parameters<tf.KernelFunc>[0];

let scratch = new Float32Array(0);

/** Reused im2col scratch of at least n floats (grows, never shrinks). */
function scratchOf(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch.subarray(0, n);
}

/** Output rows per chunk so one chunk of im2col fits the scratch bound. */
function rowsPerChunk(cols: number): number {
  return Math.max(1, Math.floor(SCRATCH_FLOATS / Math.max(1, cols)));
}

// ---------------------------------------------------------------------------
// Registration bookkeeping.

/** The stock wasm kernels, captured before this module first replaced any. */
let originals: Map<string, tf.KernelConfig | undefined> | null = null;

function captureOriginals(): Map<string, tf.KernelConfig | undefined> {
  if (originals === null) {
    originals = new Map();
    for (const name of CONV_KERNEL_NAMES) {
      originals.set(name, tf.getKernel(name, BACKEND));
    }
  }
  return originals;
}

function original(name: string): tf.KernelConfig | undefined {
  return captureOriginals().get(name);
}

function install(name: string, kernelFunc: tf.KernelFunc): void {
  captureOriginals();
  if (tf.getKernel(name, BACKEND)) tf.unregisterKernel(name, BACKEND);
  tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc });
}

function reinstate(name: string): void {
  const stock = original(name);
  const current = tf.getKernel(name, BACKEND);
  if (current === stock) return;
  if (current) tf.unregisterKernel(name, BACKEND);
  if (stock) tf.registerKernel(stock);
}

/** Calls the stock kernel, or explains that wasm has none for this case. */
function callOriginal(name: string, args: KernelArgs, why: string) {
  const stock = original(name);
  if (!stock) {
    throw new Error(
      `${name} on wasm: ${why}, and tfjs-backend-wasm has no kernel to fall ` +
        `back to. Use NHWC float32 tensors, or run on the "cpu" backend.`,
    );
  }
  return stock.kernelFunc(args);
}

/**
 * Puts back exactly the kernels `@tensorflow/tfjs-backend-wasm` registered for
 * the names in {@linkcode CONV_KERNEL_NAMES} (removing the ones it lacks).
 */
export function restoreWasmConvKernels(): void {
  for (const name of CONV_KERNEL_NAMES) reinstate(name);
}

/**
 * Registers the training kernels plain wasm lacks: `Conv2DBackpropFilter`
 * (im2col in JS + the wasm `BatchMatMul` kernel),
 * `DepthwiseConv2dNativeBackpropFilter`, `DepthwiseConv2dNativeBackpropInput`
 * and `UnsortedSegmentSum` (direct loops); and restores the stock `Conv2D`,
 * `FusedConv2D` and `Conv2DBackpropInput` if BLAS versions were installed.
 * Idempotent.
 */
export function registerWasmConvKernels(): void {
  for (const name of ["Conv2D", "FusedConv2D", "Conv2DBackpropInput"]) {
    reinstate(name);
  }
  install("Conv2DBackpropFilter", wasmConv2DBackpropFilter);
  install(
    "DepthwiseConv2dNativeBackpropFilter",
    depthwiseConv2dBackpropFilter,
  );
  install("DepthwiseConv2dNativeBackpropInput", depthwiseConv2dBackpropInput);
  install("UnsortedSegmentSum", unsortedSegmentSum);
}

/**
 * Registers `Conv2D`, `FusedConv2D`, `Conv2DBackpropInput` and
 * `Conv2DBackpropFilter` on wasm as im2col + `blas.sgemm` (NHWC, any strides,
 * dilations and `same`/`valid`/explicit padding; NCHW and non-float32 inputs
 * go to the stock kernel). Call {@linkcode registerWasmConvKernels} first for
 * the kernels BLAS does not replace. Idempotent; the last `blas` wins.
 */
export function registerBlasConvKernels(blas: Blas): void {
  install("Conv2D", (args) => blasConv2D(blas, args));
  install("FusedConv2D", (args) => blasFusedConv2D(blas, args));
  install("Conv2DBackpropInput", (args) => blasConv2DBackpropInput(blas, args));
  install(
    "Conv2DBackpropFilter",
    (args) => blasConv2DBackpropFilter(blas, args),
  );
}

// ---------------------------------------------------------------------------
// Shared helpers.

type Strides = [number, number] | number;
type Pad = "valid" | "same" | number | tf.backend_util.ExplicitPadding;
type Rounding = "floor" | "round" | "ceil" | undefined;

function conv2DInfo(
  xShape: number[],
  filterShape: number[],
  attrs: tf.NamedAttrMap,
  withDilations: boolean,
): tf.backend_util.Conv2DInfo {
  const format = tf.backend_util.convertConv2DDataFormat(
    (attrs.dataFormat as "NHWC" | "NCHW" | undefined) ?? "NHWC",
  );
  const dilations = withDilations
    ? (attrs.dilations as Strides | undefined) ?? 1
    : 1;
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as Strides,
    dilations,
    attrs.pad as Pad,
    attrs.dimRoundingMode as Rounding,
    false,
    format,
  );
}

/** Why these kernels cannot take a call, or null when they can. */
function unsupported(
  info: tf.backend_util.Conv2DInfo,
  tensors: tf.TensorInfo[],
): string | null {
  if (info.dataFormat !== "channelsLast") return "NCHW data format";
  for (const t of tensors) {
    if (t.dtype !== "float32") return `dtype ${t.dtype}`;
  }
  return null;
}

/** out = conv(x, filter), written into `y` (NHWC). */
function blasConvInto(
  blas: Blas,
  g: ConvGeometry,
  x: Float32Array,
  w: Float32Array,
  y: Float32Array,
): void {
  const m = colRows(g);
  const k = colCols(g);
  const n = g.outC;
  if (m === 0 || n === 0) return;
  if (k === 0) {
    y.fill(0);
    return;
  }
  if (isPointwise(g)) {
    blas.sgemm(false, false, m, n, k, 1, x, k, w, n, 0, y, n);
    return;
  }
  const step = rowsPerChunk(k);
  for (let r0 = 0; r0 < m; r0 += step) {
    const r1 = Math.min(m, r0 + step);
    const col = scratchOf((r1 - r0) * k);
    im2col(x, g, col, r0, r1);
    blas.sgemm(
      false,
      false,
      r1 - r0,
      n,
      k,
      1,
      col,
      k,
      w,
      n,
      0,
      y.subarray(r0 * n),
      n,
    );
  }
}

// ---------------------------------------------------------------------------
// BLAS kernels.

function blasConv2D(blas: Blas, args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { x, filter } = args.inputs as {
    x: tf.TensorInfo;
    filter: tf.TensorInfo;
  };
  const info = conv2DInfo(x.shape, filter.shape, args.attrs ?? {}, true);
  const why = unsupported(info, [x, filter]);
  if (why) return callOriginal("Conv2D", args, why) as tf.TensorInfo;
  const out = backend.makeOutput(info.outShape, "float32");
  blasConvInto(
    blas,
    convGeometry(info),
    heapView(backend, x),
    heapView(backend, filter),
    heapView(backend, out),
  );
  return out;
}

const ACTIVATIONS = new Set([
  "linear",
  "relu",
  "relu6",
  "elu",
  "leakyrelu",
  "prelu",
  "sigmoid",
  "tanh",
]);

function blasFusedConv2D(blas: Blas, args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const attrs = args.attrs ?? {};
  const { x, filter, bias, preluActivationWeights: alphaT } = args
    .inputs as {
      x: tf.TensorInfo;
      filter: tf.TensorInfo;
      bias?: tf.TensorInfo;
      preluActivationWeights?: tf.TensorInfo;
    };
  const activation = (attrs.activation as string | undefined) ?? "linear";
  const info = conv2DInfo(x.shape, filter.shape, attrs, true);
  const outSize = tf.util.sizeFromShape(info.outShape);
  const c = info.outChannels;
  const fits = (t: tf.TensorInfo | undefined) => {
    if (!t) return true;
    const n = tf.util.sizeFromShape(t.shape);
    return n === 1 || n === c || n === outSize;
  };
  let why = unsupported(
    info,
    [x, filter, bias, alphaT].filter((t): t is tf.TensorInfo => t != null),
  );
  if (!why && !ACTIVATIONS.has(activation)) {
    why = `activation "${activation}"`;
  }
  if (!why && (!fits(bias) || !fits(alphaT))) {
    why = "bias or prelu weights that do not broadcast per channel";
  }
  if (why) return callOriginal("FusedConv2D", args, why) as tf.TensorInfo;

  const out = backend.makeOutput(info.outShape, "float32");
  const y = heapView(backend, out);
  blasConvInto(
    blas,
    convGeometry(info),
    heapView(backend, x),
    heapView(backend, filter),
    y,
  );
  if (bias) addBroadcast(y, heapView(backend, bias), c);
  applyActivation(
    y,
    c,
    activation,
    (attrs.leakyreluAlpha as number | undefined) ?? 0.2,
    alphaT ? heapView(backend, alphaT) : null,
  );
  return out;
}

/** y += b, where b has 1, `channels` or y.length elements. */
function addBroadcast(y: Float32Array, b: Float32Array, channels: number) {
  if (b.length === 1) {
    const v = b[0];
    for (let i = 0; i < y.length; i++) y[i] += v;
  } else if (b.length === y.length) {
    for (let i = 0; i < y.length; i++) y[i] += b[i];
  } else {
    for (let i = 0; i < y.length; i += channels) {
      for (let j = 0; j < channels; j++) y[i + j] += b[j];
    }
  }
}

/** The fused activations of tfjs (plus tanh), in place on NHWC `y`. */
function applyActivation(
  y: Float32Array,
  channels: number,
  activation: string,
  leakyAlpha: number,
  preluAlpha: Float32Array | null,
): void {
  const n = y.length;
  switch (activation) {
    case "linear":
      return;
    case "relu":
      for (let i = 0; i < n; i++) if (y[i] < 0) y[i] = 0;
      return;
    case "relu6":
      for (let i = 0; i < n; i++) y[i] = Math.min(Math.max(y[i], 0), 6);
      return;
    case "elu":
      for (let i = 0; i < n; i++) if (y[i] < 0) y[i] = Math.expm1(y[i]);
      return;
    case "leakyrelu":
      for (let i = 0; i < n; i++) if (y[i] < 0) y[i] *= leakyAlpha;
      return;
    case "sigmoid":
      for (let i = 0; i < n; i++) y[i] = 1 / (1 + Math.exp(-y[i]));
      return;
    case "tanh":
      for (let i = 0; i < n; i++) y[i] = Math.tanh(y[i]);
      return;
    case "prelu": {
      const a = preluAlpha;
      if (!a) {
        throw new Error(
          `FusedConv2D: activation "prelu" needs preluActivationWeights; ` +
            `pass them to tf.fused.conv2d.`,
        );
      }
      const m = a.length === 1 ? 0 : a.length === n ? n : channels;
      for (let i = 0; i < n; i++) {
        if (y[i] < 0) y[i] *= a[m === 0 ? 0 : i % m];
      }
      return;
    }
  }
}

function blasConv2DBackpropInput(
  blas: Blas,
  args: KernelArgs,
): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const attrs = args.attrs ?? {};
  const { dy, filter } = args.inputs as {
    dy: tf.TensorInfo;
    filter: tf.TensorInfo;
  };
  const inputShape = attrs.inputShape as number[];
  const info = conv2DInfo(inputShape, filter.shape, attrs, false);
  const why = unsupported(info, [dy, filter]);
  if (why) {
    return callOriginal("Conv2DBackpropInput", args, why) as tf.TensorInfo;
  }
  const g = convGeometry(info);
  const out = backend.makeOutput(info.inShape, "float32");
  const dx = heapView(backend, out);
  const dys = heapView(backend, dy);
  const w = heapView(backend, filter);
  const m = colRows(g);
  const k = colCols(g);
  const n = g.outC;
  if (isPointwise(g) && m > 0 && k > 0) {
    // dx = dy @ Wᵀ directly; W is [inC, outC] here.
    if (n === 0) dx.fill(0);
    else blas.sgemm(false, true, m, k, n, 1, dys, n, w, n, 0, dx, k);
    return out;
  }
  dx.fill(0);
  if (m === 0 || k === 0 || n === 0) return out;
  const step = rowsPerChunk(k);
  for (let r0 = 0; r0 < m; r0 += step) {
    const r1 = Math.min(m, r0 + step);
    const col = scratchOf((r1 - r0) * k);
    blas.sgemm(
      false,
      true,
      r1 - r0,
      k,
      n,
      1,
      dys.subarray(r0 * n),
      n,
      w,
      n,
      0,
      col,
      k,
    );
    col2im(col, g, dx, r0, r1);
  }
  return out;
}

function blasConv2DBackpropFilter(
  blas: Blas,
  args: KernelArgs,
): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const attrs = args.attrs ?? {};
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const filterShape = attrs.filterShape as number[];
  const info = conv2DInfo(x.shape, filterShape, attrs, false);
  const why = unsupported(info, [x, dy]);
  if (why) {
    return callOriginal("Conv2DBackpropFilter", args, why) as tf.TensorInfo;
  }
  const g = convGeometry(info);
  const out = backend.makeOutput(filterShape, "float32");
  const dw = heapView(backend, out);
  const xs = heapView(backend, x);
  const dys = heapView(backend, dy);
  const m = colRows(g);
  const k = colCols(g);
  const n = g.outC;
  if (m === 0 || k === 0 || n === 0) {
    dw.fill(0);
    return out;
  }
  if (isPointwise(g)) {
    blas.sgemm(true, false, k, n, m, 1, xs, k, dys, n, 0, dw, n);
    return out;
  }
  const step = rowsPerChunk(k);
  for (let r0 = 0; r0 < m; r0 += step) {
    const r1 = Math.min(m, r0 + step);
    const col = scratchOf((r1 - r0) * k);
    im2col(xs, g, col, r0, r1);
    blas.sgemm(
      true,
      false,
      k,
      n,
      r1 - r0,
      1,
      col,
      k,
      dys.subarray(r0 * n),
      n,
      r0 === 0 ? 0 : 1,
      dw,
      n,
    );
  }
  return out;
}

// ---------------------------------------------------------------------------
// Plain-wasm kernels.

/**
 * dFilter = colᵀ @ dy with the transposed im2col built in JS straight into a
 * wasm tensor, so the wasm BatchMatMul runs untransposed (its transposed
 * variants are an order of magnitude slower).
 */
function wasmConv2DBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const attrs = args.attrs ?? {};
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const filterShape = attrs.filterShape as number[];
  const info = conv2DInfo(x.shape, filterShape, attrs, false);
  const why = unsupported(info, [x, dy]);
  if (why) {
    return callOriginal("Conv2DBackpropFilter", args, why) as tf.TensorInfo;
  }
  const g = convGeometry(info);
  const m = colRows(g);
  const k = colCols(g);
  const n = g.outC;
  const product = (a: tf.TensorInfo, b: tf.TensorInfo) =>
    runWasmKernel("BatchMatMul", { a, b }, backend, {
      transposeA: false,
      transposeB: false,
    });

  if (m === 0 || k === 0 || n === 0) {
    const out = backend.makeOutput(filterShape, "float32");
    heapView(backend, out).fill(0);
    return out;
  }
  const step = rowsPerChunk(k);
  if (step >= m) {
    const colT = backend.makeOutput([1, k, m], "float32");
    im2colTransposed(heapView(backend, x), g, heapView(backend, colT), m, 0, m);
    const dy3 = { dataId: dy.dataId, shape: [1, m, n], dtype: dy.dtype };
    const out = product(colT, dy3);
    disposeIntermediate(backend, colT);
    return { dataId: out.dataId, shape: filterShape, dtype: "float32" };
  }
  // Large inputs: bound the scratch by summing chunk products.
  const out = backend.makeOutput(filterShape, "float32");
  heapView(backend, out).fill(0);
  for (let r0 = 0; r0 < m; r0 += step) {
    const r1 = Math.min(m, r0 + step);
    const rows = r1 - r0;
    const colT = backend.makeOutput([1, k, rows], "float32");
    const dyPart = backend.makeOutput([1, rows, n], "float32");
    im2colTransposed(
      heapView(backend, x),
      g,
      heapView(backend, colT),
      rows,
      r0,
      r1,
    );
    heapView(backend, dyPart).set(
      heapView(backend, dy).subarray(r0 * n, r1 * n),
    );
    const part = product(colT, dyPart);
    const acc = heapView(backend, out);
    const p = heapView(backend, part);
    for (let i = 0; i < acc.length; i++) acc[i] += p[i];
    disposeIntermediate(backend, colT);
    disposeIntermediate(backend, dyPart);
    disposeIntermediate(backend, part);
  }
  return out;
}

function depthwiseInfo(
  xShape: number[],
  filterShape: number[],
  attrs: tf.NamedAttrMap,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as Strides,
    (attrs.dilations as Strides | undefined) ?? 1,
    attrs.pad as Pad,
    attrs.dimRoundingMode as Rounding,
    true,
  );
}

/**
 * Visits every (output pixel, filter tap) pair of a depthwise convolution
 * that lands inside the input, with the flat offsets of the input pixel and
 * the output pixel (channel 0) and of the tap (channel 0, multiplier 0).
 */
function forEachDepthwiseTap(
  info: tf.backend_util.Conv2DInfo,
  visit: (xPixel: number, yPixel: number, tap: number) => void,
): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } =
    info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const { dilationHeight, dilationWidth, outChannels } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const yPixel = ((b * outHeight + oy) * outWidth + ox) * outChannels;
        for (let fy = 0; fy < filterHeight; fy++) {
          const iy = oy * strideHeight - top + fy * dilationHeight;
          if (iy < 0 || iy >= inHeight) continue;
          for (let fx = 0; fx < filterWidth; fx++) {
            const ix = ox * strideWidth - left + fx * dilationWidth;
            if (ix < 0 || ix >= inWidth) continue;
            const xPixel = ((b * inHeight + iy) * inWidth + ix) * inChannels;
            visit(xPixel, yPixel, (fy * filterWidth + fx) * outChannels);
          }
        }
      }
    }
  }
}

function depthwiseConv2dBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const attrs = args.attrs ?? {};
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const filterShape = attrs.filterShape as number[];
  const info = depthwiseInfo(x.shape, filterShape, attrs);
  const out = backend.makeOutput(filterShape, "float32");
  const dw = heapView(backend, out);
  const xs = heapView(backend, x);
  const dys = heapView(backend, dy);
  const inC = info.inChannels;
  const mult = info.outChannels / inC;
  dw.fill(0);
  forEachDepthwiseTap(info, (xp, yp, tap) => {
    for (let c = 0; c < inC; c++) {
      const v = xs[xp + c];
      for (let q = 0; q < mult; q++) {
        dw[tap + c * mult + q] += v * dys[yp + c * mult + q];
      }
    }
  });
  return out;
}

function depthwiseConv2dBackpropInput(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const attrs = args.attrs ?? {};
  const { dy, filter } = args.inputs as {
    dy: tf.TensorInfo;
    filter: tf.TensorInfo;
  };
  const inputShape = attrs.inputShape as number[];
  const info = depthwiseInfo(inputShape, filter.shape, attrs);
  const out = backend.makeOutput(inputShape, "float32");
  const dx = heapView(backend, out);
  const w = heapView(backend, filter);
  const dys = heapView(backend, dy);
  const inC = info.inChannels;
  const mult = info.outChannels / inC;
  dx.fill(0);
  forEachDepthwiseTap(info, (xp, yp, tap) => {
    for (let c = 0; c < inC; c++) {
      let s = 0;
      for (let q = 0; q < mult; q++) {
        s += w[tap + c * mult + q] * dys[yp + c * mult + q];
      }
      dx[xp + c] += s;
    }
  });
  return out;
}

function unsortedSegmentSum(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { x, segmentIds } = args.inputs as {
    x: tf.TensorInfo;
    segmentIds: tf.TensorInfo;
  };
  const numSegments = (args.attrs ?? {}).numSegments as number;
  if (x.dtype !== "float32" && x.dtype !== "int32") {
    throw new Error(
      `UnsortedSegmentSum on wasm supports float32 and int32, got ` +
        `${x.dtype}; cast the input first.`,
    );
  }
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  const inner = tf.util.sizeFromShape(outShape.slice(1));
  const out = backend.makeOutput(outShape, x.dtype);
  const buffer = backend.wasm.HEAPU8.buffer as ArrayBuffer;
  const Typed = x.dtype === "int32" ? Int32Array : Float32Array;
  const view = (
    t: tf.TensorInfo,
    ctor: typeof Int32Array | typeof Float32Array,
  ) =>
    new ctor(
      buffer,
      heapOffset(backend, t),
      tf.util.sizeFromShape(t.shape),
    );
  const ys = view(out, Typed);
  const xs = view(x, Typed);
  const ids = view(segmentIds, Int32Array);
  ys.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue; // TF drops out-of-range ids.
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) ys[dst + j] += xs[src + j];
  }
  return out;
}
