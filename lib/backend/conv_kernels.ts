/**
 * Convolution kernels for the tfjs wasm backend.
 *
 * - {@linkcode registerWasmConvKernels} (plain "wasm"): adds
 *   `Conv2DBackpropFilter`, which stock wasm lacks, and replaces the slow
 *   stock `Conv2DBackpropInput` (im2col-style via the wasm matmul). Stock
 *   `Conv2D`/`FusedConv2D` stay, behind a guard against a tfjs-core sizing
 *   bug that corrupts the heap. It also installs the other kernels a
 *   batch-normalized convnet's training step leans on, which live in their
 *   own modules: depthwise-conv gradients (depthwise_kernels.ts),
 *   `MaxPoolGrad` (pool_kernels.ts), `Tile`/`Identity`/`Cast`
 *   (array_kernels.ts) and `Sum`/`Mean`/`UnsortedSegmentSum`
 *   (reduce_kernels.ts).
 * - {@linkcode registerBlasConvKernels} ("wasm+blas", on top of the above):
 *   `Conv2D`, `FusedConv2D`, `Conv2DBackpropInput` and `Conv2DBackpropFilter`
 *   as im2col + CBLAS sgemm, on the wasm heap in place.
 * - {@linkcode restoreWasmConvKernels}: back to exactly what
 *   `@tensorflow/tfjs-backend-wasm` registered for all of those names.
 *
 * Backend setup (lib/backend/mod.ts) calls, every time it activates:
 * plain "wasm" → `registerWasmConvKernels()`; "wasm+blas" →
 * `registerWasmConvKernels()` then `registerBlasConvKernels(blas)`. Each call
 * is idempotent and overrides the others' kernels, so backends can be
 * switched back and forth in one process.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import {
  ARRAY_KERNEL_NAMES,
  registerWasmArrayKernels,
} from "./array_kernels.ts";
import type { Blas } from "./blas.ts";
import type { Pad, Rounding, Strides } from "./conv_attrs.ts";
import {
  DEPTHWISE_KERNEL_NAMES,
  registerWasmDepthwiseKernels,
} from "./depthwise_kernels.ts";
import {
  col2im,
  col2imImages,
  colCols,
  colRows,
  type ConvGeometry,
  convGeometry,
  im2col,
  im2colTransposed,
  isPointwise,
  tapTable,
} from "./im2col.ts";
import {
  callStockKernel,
  installKernel,
  type KernelArgs,
  restoreStockKernels,
} from "./kernel_registry.ts";
import { applyBiasAndActivation } from "./matmul_kernels.ts";
import { POOL_KERNEL_NAMES, registerWasmPoolKernels } from "./pool_kernels.ts";
import {
  REDUCE_KERNEL_NAMES,
  registerWasmReduceKernels,
} from "./reduce_kernels.ts";
import { type WasmKernels, wasmKernels } from "./wasm_kernels.ts";
import {
  allocScratch,
  asWasmBackend,
  disposeIntermediate,
  f32View as heapView,
  runWasmKernel,
  type Scratch,
  type WasmBackend,
} from "./wasm_heap.ts";

/**
 * Kernel names {@linkcode registerWasmConvKernels} and
 * {@linkcode registerBlasConvKernels} may replace or add on the wasm
 * backend: the convolutions here and the other modules' kernels that
 * `registerWasmConvKernels` installs along.
 */
export const CONV_KERNEL_NAMES: readonly string[] = [
  "Conv2D",
  "FusedConv2D",
  "Conv2DBackpropInput",
  "Conv2DBackpropFilter",
  ...DEPTHWISE_KERNEL_NAMES,
  ...REDUCE_KERNEL_NAMES,
  ...POOL_KERNEL_NAMES,
  ...ARRAY_KERNEL_NAMES,
];

/** At most this many floats of im2col scratch per chunk (16 MiB). */
const SCRATCH_FLOATS = 1 << 22;

/**
 * Below this many input channels the gathering col2im spends more on finding
 * each input pixel's taps than it saves; the scattering one is used.
 */
const GATHER_MIN_CHANNELS = 8;

/**
 * The BLAS kernels' im2col chunks: at most this many floats (1 MiB), so that
 * a chunk is still in the core's cache when sgemm reads it (or, for
 * `Conv2DBackpropInput`, when col2im reads sgemm's product). On the conv
 * VAE's 14x14x64 "same" convolution at batch 128 its three kernels measured
 * about a fifth faster than with chunks of SCRATCH_FLOATS (a busy 2-core
 * machine: the figures scattered). Rows of a product do not depend on how
 * the rows are chunked, so this changes no result of `Conv2D` or
 * `Conv2DBackpropInput`; `Conv2DBackpropFilter` sums its chunks, so it
 * chunks by this bound only where it already chunked (im2col over
 * SCRATCH_FLOATS).
 */
const CACHE_FLOATS = 1 << 18;

/** Output rows per chunk so one chunk of im2col fits `bound` floats. */
function rowsPerChunk(cols: number, bound = SCRATCH_FLOATS): number {
  return Math.max(1, Math.floor(bound / Math.max(1, cols)));
}

/**
 * Images per chunk of the gathering {@linkcode col2imImages} (as many as fit
 * `bound` floats, at least one), or 0 when the row-chunked scatter applies
 * instead (few channels, or one image's im2col over SCRATCH_FLOATS).
 */
function imagesPerChunk(g: ConvGeometry, bound = SCRATCH_FLOATS): number {
  const perImage = g.outH * g.outW * colCols(g);
  if (g.inC < GATHER_MIN_CHANNELS || perImage > SCRATCH_FLOATS) return 0;
  return Math.max(1, Math.floor(bound / Math.max(1, perImage)));
}

/**
 * Rows `[rowStart, rowEnd)` of our SIMD module's `im2col_rows` or
 * `col2im_rows` (the same arguments) from `from` into `to`, both on the heap.
 */
function heapRowKernel(
  k: WasmKernels,
  kernel: "im2col_rows" | "col2im_rows",
  from: Float32Array,
  to: Float32Array,
  g: ConvGeometry,
  rowStart: number,
  rowEnd: number,
): void {
  k[kernel](
    from.byteOffset,
    to.byteOffset,
    g.inH,
    g.inW,
    g.inC,
    g.outH,
    g.outW,
    g.fH,
    g.fW,
    g.strideH,
    g.strideW,
    g.dilationH,
    g.dilationW,
    g.padTop,
    g.padLeft,
    rowStart,
    rowEnd,
  );
}

/**
 * {@linkcode im2col} for `x` and `col` on the wasm heap: in our SIMD module
 * when it loads (several times faster on short runs, e.g. 3x3 filters over 3
 * channels), else in JavaScript.
 */
function heapIm2col(
  backend: WasmBackend,
  x: Float32Array,
  g: ConvGeometry,
  col: Float32Array,
  rowStart: number,
  rowEnd: number,
): void {
  const k = wasmKernels(backend);
  if (!k || x.buffer !== col.buffer) {
    im2col(x, g, col, rowStart, rowEnd);
    return;
  }
  heapRowKernel(k, "im2col_rows", x, col, g, rowStart, rowEnd);
}

/**
 * {@linkcode col2im} for `col` and `dx` on the wasm heap: in our SIMD module
 * when it loads (the same sums, bit for bit), else in JavaScript.
 */
function heapCol2im(
  backend: WasmBackend,
  col: Float32Array,
  g: ConvGeometry,
  dx: Float32Array,
  rowStart: number,
  rowEnd: number,
): void {
  const k = wasmKernels(backend);
  if (!k || col.buffer !== dx.buffer) {
    col2im(col, g, dx, rowStart, rowEnd);
    return;
  }
  heapRowKernel(k, "col2im_rows", col, dx, g, rowStart, rowEnd);
}

/**
 * The heap scratch of {@linkcode heapCol2imImages} for geometry `g`: the
 * gather's tap tables and `inC` doubles; null without our SIMD module.
 * Allocate it before taking heap views (an allocation may move the heap) and
 * free it after the last chunk.
 */
function gatherScratch(backend: WasmBackend, g: ConvGeometry): Scratch | null {
  if (!wasmKernels(backend)) return null;
  const rows = tapTable(g.inH, g.outH, g.fH, g.strideH, g.dilationH, g.padTop);
  const cols = tapTable(
    g.inW,
    g.outW,
    g.fW,
    g.strideW,
    g.dilationW,
    g.padLeft,
  );
  // The tables, then inC doubles at an 8-byte boundary (malloc aligns to 8).
  const ints = rows.length + cols.length;
  const scratch = allocScratch(backend, ints + (ints % 2) + 2 * g.inC);
  const table = new Int32Array(
    backend.wasm.HEAPU8.buffer,
    scratch.offset,
    ints,
  );
  table.set(rows);
  table.set(cols, rows.length);
  return scratch;
}

/**
 * {@linkcode col2imImages} for `col` and `dx` on the wasm heap: in our SIMD
 * module when `scratch` (from {@linkcode gatherScratch}) is there (the same
 * sums, bit for bit, several times faster), else in JavaScript.
 */
function heapCol2imImages(
  backend: WasmBackend,
  scratch: Scratch | null,
  col: Float32Array,
  g: ConvGeometry,
  dx: Float32Array,
  imageStart: number,
  imageEnd: number,
): void {
  const k = wasmKernels(backend);
  if (!k || !scratch || col.buffer !== dx.buffer) {
    col2imImages(col, g, dx, imageStart, imageEnd);
    return;
  }
  const rowInts = g.inH * (1 + 2 * g.fH);
  const ints = rowInts + g.inW * (1 + 2 * g.fW);
  k.col2im_images(
    col.byteOffset,
    dx.byteOffset,
    g.inH,
    g.inW,
    g.inC,
    g.outH,
    g.outW,
    g.fH,
    g.fW,
    imageStart,
    imageEnd,
    scratch.offset,
    scratch.offset + 4 * rowInts,
    scratch.offset + 4 * (ints + (ints % 2)),
  );
}

/**
 * A float32 scratch tensor of n floats on the wasm heap (free it with
 * `disposeIntermediate`). On the heap rather than in JS so im2col can move
 * runs with `copyWithin` from the input, which shares the buffer.
 */
function heapScratch(
  backend: ReturnType<typeof asWasmBackend>,
  n: number,
): tf.TensorInfo {
  return backend.makeOutput([Math.max(1, n)], "float32");
}

/** Calls the stock kernel, or explains that wasm has none for this case. */
function callStock(
  name: string,
  args: KernelArgs,
  why: string,
): tf.TensorInfo {
  return callStockKernel(name, args, {
    why,
    fix: 'use NHWC float32 tensors, or run on the "cpu" backend',
  });
}

/**
 * Puts back exactly the kernels `@tensorflow/tfjs-backend-wasm` registered for
 * the names in {@linkcode CONV_KERNEL_NAMES} (removing the ones it lacks).
 */
export function restoreWasmConvKernels(): void {
  restoreStockKernels(CONV_KERNEL_NAMES);
}

/**
 * Installs the plain-wasm kernel set. Adds `Conv2DBackpropFilter`
 * (transposed im2col in JS + the wasm `BatchMatMul`), which stock wasm
 * lacks, and replaces `Conv2DBackpropInput` (`dy @ filterᵀ` on the wasm
 * matmul + col2im), slow in a convnet's training step. `Conv2D` and
 * `FusedConv2D` stay stock behind a guard: with a numeric `pad`, unequal
 * strides or a non-square filter, tfjs-core 4.22 mis-sizes the output and
 * the stock kernel writes past it, so that case throws a clear error
 * instead. Also installs the other kernels that training step needs, from
 * their own modules: the depthwise-conv gradients, `MaxPoolGrad`, `Tile`,
 * `Identity`/`Cast`, `Sum`/`Mean` and `UnsortedSegmentSum`. Replaces BLAS
 * versions if those were installed. Idempotent.
 */
export function registerWasmConvKernels(): void {
  installKernel("Conv2D", (args) => guardedStock("Conv2D", args));
  installKernel("FusedConv2D", (args) => guardedStock("FusedConv2D", args));
  installKernel("Conv2DBackpropInput", wasmConv2DBackpropInput);
  installKernel("Conv2DBackpropFilter", wasmConv2DBackpropFilter);
  registerWasmDepthwiseKernels();
  registerWasmReduceKernels();
  registerWasmPoolKernels();
  registerWasmArrayKernels();
}

/**
 * Registers `Conv2D`, `FusedConv2D`, `Conv2DBackpropInput` and
 * `Conv2DBackpropFilter` on wasm as im2col + `blas.sgemm` (NHWC, any strides,
 * dilations and `same`/`valid`/explicit padding; NCHW and non-float32 inputs
 * go to the stock kernel). Call {@linkcode registerWasmConvKernels} first for
 * the kernels BLAS does not replace. Idempotent; the last `blas` wins.
 */
export function registerBlasConvKernels(blas: Blas): void {
  installKernel("Conv2D", (args) => blasConv2D(blas, args));
  installKernel("FusedConv2D", (args) => blasFusedConv2D(blas, args));
  installKernel(
    "Conv2DBackpropInput",
    (args) => blasConv2DBackpropInput(blas, args),
  );
  installKernel(
    "Conv2DBackpropFilter",
    (args) => blasConv2DBackpropFilter(blas, args),
  );
}

// ---------------------------------------------------------------------------
// Shared helpers.

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

/** out = conv(x, filter) as im2col + sgemm, into the tensor `y` (NHWC). */
function blasConvInto(
  blas: Blas,
  backend: ReturnType<typeof asWasmBackend>,
  g: ConvGeometry,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  y: tf.TensorInfo,
): void {
  const m = colRows(g);
  const k = colCols(g);
  const n = g.outC;
  if (m === 0 || n === 0) return;
  if (k === 0) {
    heapView(backend, y).fill(0);
    return;
  }
  if (isPointwise(g)) {
    const [xs, w, ys] = [x, filter, y].map((t) => heapView(backend, t));
    blas.sgemm(false, false, m, n, k, 1, xs, k, w, n, 0, ys, n);
    return;
  }
  const step = Math.min(m, rowsPerChunk(k, CACHE_FLOATS));
  const scratchT = heapScratch(backend, step * k);
  // Views only after the last allocation: heap growth replaces the buffer.
  const [xs, w, ys, col] = [x, filter, y, scratchT].map((t) =>
    heapView(backend, t)
  );
  for (let r0 = 0; r0 < m; r0 += step) {
    const r1 = Math.min(m, r0 + step);
    heapIm2col(backend, xs, g, col, r0, r1);
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
      ys.subarray(r0 * n),
      n,
    );
  }
  disposeIntermediate(backend, scratchT);
}

/**
 * Runs the stock wasm kernel, refusing the one input it mishandles: with a
 * numeric `pad`, tfjs-core 4.22's `computeConv2DInfo` sizes the output width
 * from the row stride and filter height, so unequal strides or a non-square
 * (dilated) filter give a wrong output shape; the C++ kernel then computes
 * the true size and writes past the buffer, corrupting the wasm heap.
 */
function guardedStock(name: string, args: KernelArgs): tf.TensorInfo {
  const attrs = args.attrs ?? {};
  if (typeof attrs.pad === "number") {
    const { filter } = args.inputs as { filter: tf.TensorInfo };
    const [sh, sw] = pair(attrs.strides as Strides);
    const [dh, dw] = pair((attrs.dilations as Strides | undefined) ?? 1);
    const fh = (filter.shape[0] - 1) * dh + 1;
    const fw = (filter.shape[1] - 1) * dw + 1;
    if (sh !== sw || fh !== fw) {
      throw new Error(
        `${name} on wasm: a numeric pad (${attrs.pad}) with strides ` +
          `[${sh}, ${sw}] and a ${fh}x${fw} (dilated) filter gets a wrong ` +
          `output shape from tfjs-core 4.22 and would corrupt memory; pass ` +
          `explicit padding [[0, 0], [${attrs.pad}, ${attrs.pad}], ` +
          `[${attrs.pad}, ${attrs.pad}], [0, 0]] or "same"/"valid" instead.`,
      );
    }
  }
  return callStockKernel(name, args);
}

function pair(v: Strides): [number, number] {
  return typeof v === "number" ? [v, v] : v;
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
  if (why) return callStock("Conv2D", args, why);
  const out = backend.makeOutput(info.outShape, "float32");
  blasConvInto(blas, backend, convGeometry(info), x, filter, out);
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
  if (why) return callStock("FusedConv2D", args, why);

  const out = backend.makeOutput(info.outShape, "float32");
  blasConvInto(blas, backend, convGeometry(info), x, filter, out);
  applyBiasAndActivation(
    backend,
    out,
    bias,
    activation,
    alphaT,
    (attrs.leakyreluAlpha as number | undefined) ?? 0.2,
  );
  return out;
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
    return callStock("Conv2DBackpropInput", args, why);
  }
  const g = convGeometry(info);
  const out = backend.makeOutput(info.inShape, "float32");
  const m = colRows(g);
  const k = colCols(g);
  const n = g.outC;
  if (m === 0 || k === 0 || n === 0) {
    heapView(backend, out).fill(0);
    return out;
  }
  if (isPointwise(g)) {
    // dx = dy @ Wᵀ directly; W is [inC, outC] here.
    const [dys, w, dx] = [dy, filter, out].map((t) => heapView(backend, t));
    blas.sgemm(false, true, m, k, n, 1, dys, n, w, n, 0, dx, k);
    return out;
  }
  // dCol = dy @ Wᵀ a chunk at a time, folded back onto dx: by whole images
  // with the gathering col2im (each dx element written once), else by rows
  // with the scattering one onto a zeroed dx.
  const perImage = g.outH * g.outW;
  const images = imagesPerChunk(g, CACHE_FLOATS);
  const step = images > 0
    ? images * perImage
    : Math.min(m, rowsPerChunk(k, CACHE_FLOATS));
  const scratchT = heapScratch(backend, Math.min(m, step) * k);
  const gather = images > 0 ? gatherScratch(backend, g) : null;
  const [dys, w, dx, col] = [dy, filter, out, scratchT].map((t) =>
    heapView(backend, t)
  );
  if (images === 0) dx.fill(0);
  for (let r0 = 0; r0 < m; r0 += step) {
    const r1 = Math.min(m, r0 + step);
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
    if (images > 0) {
      const [b0, b1] = [r0 / perImage, r1 / perImage];
      heapCol2imImages(backend, gather, col, g, dx, b0, b1);
    } else heapCol2im(backend, col, g, dx, r0, r1);
  }
  gather?.free();
  disposeIntermediate(backend, scratchT);
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
    return callStock("Conv2DBackpropFilter", args, why);
  }
  const g = convGeometry(info);
  const out = backend.makeOutput(filterShape, "float32");
  const m = colRows(g);
  const k = colCols(g);
  const n = g.outC;
  if (m === 0 || k === 0 || n === 0) {
    heapView(backend, out).fill(0);
    return out;
  }
  if (isPointwise(g)) {
    const [xs, dys, dw] = [x, dy, out].map((t) => heapView(backend, t));
    blas.sgemm(true, false, k, n, m, 1, xs, k, dys, n, 0, dw, n);
    return out;
  }
  // One product over all rows when im2col fits SCRATCH_FLOATS (as before the
  // cache-sized chunks: the same sums), else cache-sized chunks.
  const whole = m * k <= SCRATCH_FLOATS;
  const step = whole ? m : Math.min(m, rowsPerChunk(k, CACHE_FLOATS));
  const scratchT = heapScratch(backend, step * k);
  const [xs, dys, dw, col] = [x, dy, out, scratchT].map((t) =>
    heapView(backend, t)
  );
  for (let r0 = 0; r0 < m; r0 += step) {
    const r1 = Math.min(m, r0 + step);
    heapIm2col(backend, xs, g, col, r0, r1);
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
  disposeIntermediate(backend, scratchT);
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
    return callStock("Conv2DBackpropFilter", args, why);
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

/**
 * dx = col2im(dy @ filterᵀ): the transposed filter is materialized in JS (it
 * is small) so the wasm BatchMatMul runs untransposed; the stock kernel is a
 * direct loop several times slower.
 */
function wasmConv2DBackpropInput(args: KernelArgs): tf.TensorInfo {
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
    return callStock("Conv2DBackpropInput", args, why);
  }
  const g = convGeometry(info);
  const m = colRows(g);
  const k = colCols(g);
  const n = g.outC;
  if (m === 0 || k === 0 || n === 0) {
    const out = backend.makeOutput(inputShape, "float32");
    heapView(backend, out).fill(0);
    return out;
  }
  const product = (a: tf.TensorInfo, b: tf.TensorInfo) =>
    runWasmKernel("BatchMatMul", { a, b }, backend, {
      transposeA: false,
      transposeB: false,
    });
  const filterT = backend.makeOutput([1, n, k], "float32");
  {
    const w = heapView(backend, filter);
    const wT = heapView(backend, filterT);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < n; j++) wT[j * k + i] = w[i * n + j];
    }
  }
  const step = rowsPerChunk(k);
  if (isPointwise(g) && step >= m) {
    const dy3 = { dataId: dy.dataId, shape: [1, m, n], dtype: dy.dtype };
    const prod = product(dy3, filterT);
    disposeIntermediate(backend, filterT);
    return { dataId: prod.dataId, shape: inputShape, dtype: "float32" };
  }
  // Whole images per chunk for the gathering col2im (no zeroing of dx),
  // else rows with the scattering one.
  const perImage = g.outH * g.outW;
  const images = imagesPerChunk(g);
  const chunk = images > 0 ? images * perImage : step;
  const out = backend.makeOutput(inputShape, "float32");
  if (images === 0) heapView(backend, out).fill(0);
  const gather = images > 0 ? gatherScratch(backend, g) : null;
  for (let r0 = 0; r0 < m; r0 += chunk) {
    const r1 = Math.min(m, r0 + chunk);
    const rows = r1 - r0;
    let dyPart: tf.TensorInfo = {
      dataId: dy.dataId,
      shape: [1, m, n],
      dtype: dy.dtype,
    };
    if (rows < m) {
      dyPart = backend.makeOutput([1, rows, n], "float32");
      heapView(backend, dyPart).set(
        heapView(backend, dy).subarray(r0 * n, r1 * n),
      );
    }
    const prod = product(dyPart, filterT);
    const [col, dx] = [prod, out].map((t) => heapView(backend, t));
    if (images > 0) {
      const [b0, b1] = [r0 / perImage, r1 / perImage];
      heapCol2imImages(backend, gather, col, g, dx, b0, b1);
    } else heapCol2im(backend, col, g, dx, r0, r1);
    disposeIntermediate(backend, prod);
    if (rows < m) disposeIntermediate(backend, dyPart);
  }
  gather?.free();
  disposeIntermediate(backend, filterT);
  return out;
}
