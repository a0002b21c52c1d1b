/**
 * Faster `BatchMatMul` and `_FusedMatMul` kernels for the tfjs wasm backend.
 *
 * tfjs-backend-wasm 4.22 multiplies at ~24 GFLOP/s untransposed but ~1.5
 * GFLOP/s when either operand is transposed, and every dense layer's backward
 * pass asks for a transposed operand. Two replacements:
 *
 * - {@linkcode registerWasmMatMulKernels}: plain wasm; transposes the operand
 *   first (wasm `Transpose` kernel), then calls the original kernel
 *   untransposed.
 * - {@linkcode registerBlasMatMulKernels}: `cblas_sgemm` straight on the wasm
 *   heap (no copies), every transpose pair, batch broadcasting, fused bias and
 *   activations.
 *
 * {@linkcode restoreOriginalMatMulKernels} puts tfjs' own kernels back, so a
 * process can switch between variants.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import type { Blas } from "./blas.ts";
import {
  callStockKernel,
  installKernel,
  type KernelArgs,
  restoreStockKernels,
} from "./kernel_registry.ts";
import {
  asWasmBackend,
  disposeIntermediate,
  f32View,
  requireFloat32,
  runWasmKernel,
  type WasmBackend,
} from "./wasm_heap.ts";

const KERNEL_NAMES = ["BatchMatMul", "_FusedMatMul"] as const;

/** Which matmul kernels are installed on wasm. */
export type MatMulKernelVariant = "original" | "wasm" | "blas";

let active: MatMulKernelVariant = "original";

/** Activations that `tf.fused.matMul` can ask a kernel to apply. */
export type FusedActivation =
  | "linear"
  | "relu"
  | "relu6"
  | "elu"
  | "leakyrelu"
  | "prelu"
  | "sigmoid"
  | "tanh";

// Activations the original wasm _FusedMatMul kernel applies itself.
const WASM_FUSABLE = new Set([
  "linear",
  "relu",
  "relu6",
  "prelu",
  "leakyrelu",
  "sigmoid",
  "elu",
]);

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

interface FusedAttrs extends MatMulAttrs {
  activation: FusedActivation;
  leakyreluAlpha?: number;
}

/** Runs tfjs' own wasm kernel `name`, which our wrappers build on. */
function original(name: string, args: KernelArgs): tf.TensorInfo {
  return callStockKernel(name, args, {
    fix: 'import "@tensorflow/tfjs-backend-wasm" (4.22.0) before registering',
  });
}

/** The matmul kernel variant currently registered on wasm. */
export function activeMatMulKernels(): MatMulKernelVariant {
  return active;
}

/** Re-registers tfjs' own wasm `BatchMatMul` and `_FusedMatMul`. */
export function restoreOriginalMatMulKernels(): void {
  restoreStockKernels(KERNEL_NAMES);
  active = "original";
}

/**
 * Plain wasm: registers `BatchMatMul` and `_FusedMatMul` wrappers that
 * materialize a transposed operand, then run the original kernel
 * untransposed. Replaces whatever matmul kernels were registered before.
 */
export function registerWasmMatMulKernels(): void {
  installKernel("BatchMatMul", wasmBatchMatMul as unknown as tf.KernelFunc);
  installKernel("_FusedMatMul", wasmFusedMatMul as unknown as tf.KernelFunc);
  active = "wasm";
}

/**
 * Registers `BatchMatMul` and `_FusedMatMul` on wasm computed by
 * `blas.sgemm` directly on the wasm heap. Replaces whatever matmul kernels
 * were registered before.
 */
export function registerBlasMatMulKernels(blas: Blas): void {
  installKernel("BatchMatMul", (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const attrs = args.attrs as unknown as MatMulAttrs;
    return blasMatMul(blas, asWasmBackend(args.backend), a, b, attrs);
  });
  installKernel("_FusedMatMul", (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<
      string,
      tf.TensorInfo | undefined
    >;
    const attrs = args.attrs as unknown as FusedAttrs;
    const backend = asWasmBackend(args.backend);
    const out = blasMatMul(blas, backend, a!, b!, attrs);
    applyBiasAndActivation(
      backend,
      out,
      bias,
      attrs.activation,
      preluActivationWeights,
      attrs.leakyreluAlpha ?? 0.2,
    );
    return out;
  });
  active = "blas";
}

/** Sizes of one matmul problem and how batches map onto the operands. */
export interface MatMulGeometry {
  /** Rows of op(A) and of the output. */
  m: number;
  /** Columns of op(B) and of the output. */
  n: number;
  /** Shared inner dimension. */
  k: number;
  /** Broadcast batch shape of the output (may be empty). */
  batchShape: number[];
  /** For each output batch, the batch index into A. */
  aBatch: Int32Array;
  /** For each output batch, the batch index into B. */
  bBatch: Int32Array;
}

/**
 * Works out `BatchMatMul` shapes the way tfjs does: the last two dims are
 * the matrices, the leading dims broadcast numpy-style (right-aligned, a 1
 * stretches). Throws on mismatched inner or batch dims.
 */
export function matMulGeometry(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeA: boolean,
  transposeB: boolean,
): MatMulGeometry {
  if (aShape.length < 2 || bShape.length < 2) {
    throw new Error(
      `matMul needs operands of rank >= 2, got shapes [${aShape}] and ` +
        `[${bShape}]; reshape vectors to [1, n] or [n, 1] first.`,
    );
  }
  const ar = aShape.length, br = bShape.length;
  const m = transposeA ? aShape[ar - 1] : aShape[ar - 2];
  const kA = transposeA ? aShape[ar - 2] : aShape[ar - 1];
  const kB = transposeB ? bShape[br - 1] : bShape[br - 2];
  const n = transposeB ? bShape[br - 2] : bShape[br - 1];
  if (kA !== kB) {
    throw new Error(
      `matMul inner dimensions differ: ${kA} vs ${kB} for shapes [${aShape}] ` +
        `and [${bShape}] with transposeA=${transposeA}, ` +
        `transposeB=${transposeB}; check the operands' layout.`,
    );
  }
  const aOuter = aShape.slice(0, -2), bOuter = bShape.slice(0, -2);
  const batchShape = tf.broadcast_util.assertAndGetBroadcastShape(
    aOuter,
    bOuter,
  );
  const total = tf.util.sizeFromShape(batchShape);
  const aBatch = new Int32Array(total), bBatch = new Int32Array(total);
  const rank = batchShape.length;
  for (let i = 0; i < total; i++) {
    let rem = i, ia = 0, ib = 0, sa = 1, sb = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const idx = rem % batchShape[d];
      rem = Math.floor(rem / batchShape[d]);
      const da = d - (rank - aOuter.length), db = d - (rank - bOuter.length);
      if (da >= 0) {
        if (aOuter[da] !== 1) ia += idx * sa;
        sa *= aOuter[da];
      }
      if (db >= 0) {
        if (bOuter[db] !== 1) ib += idx * sb;
        sb *= bOuter[db];
      }
    }
    aBatch[i] = ia;
    bBatch[i] = ib;
  }
  return { m, n, k: kA, batchShape, aBatch, bBatch };
}

function blasMatMul(
  blas: Blas,
  backend: WasmBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  { transposeA, transposeB }: MatMulAttrs,
): tf.TensorInfo {
  requireFloat32(a, "BatchMatMul (BLAS)");
  requireFloat32(b, "BatchMatMul (BLAS)");
  const g = matMulGeometry(a.shape, b.shape, transposeA, transposeB);
  const { m, n, k } = g;
  const out = backend.makeOutput([...g.batchShape, m, n], "float32");
  // Views are taken after the allocation above: it may have grown the heap.
  const av = f32View(backend, a), bv = f32View(backend, b);
  const ov = f32View(backend, out);
  const batches = g.aBatch.length;
  if (ov.length === 0) return out;
  if (k === 0) {
    ov.fill(0);
    return out;
  }
  const lda = Math.max(1, transposeA ? m : k);
  const ldb = Math.max(1, transposeB ? k : n);
  const aSize = m * k, bSize = k * n, oSize = m * n;
  // One B shared by consecutive A matrices stored row after row: a single
  // call with all batches stacked into the rows of A and C.
  const sharedB = !transposeA && g.bBatch.every((j) => j === 0) &&
    g.aBatch.every((j, i) => j === i);
  if (sharedB) {
    blas.sgemm(
      false,
      transposeB,
      batches * m,
      n,
      k,
      1,
      av,
      lda,
      bv,
      ldb,
      0,
      ov,
      n,
    );
    return out;
  }
  for (let i = 0; i < batches; i++) {
    const ia = g.aBatch[i] * aSize, ib = g.bBatch[i] * bSize;
    blas.sgemm(
      transposeA,
      transposeB,
      m,
      n,
      k,
      1,
      av.subarray(ia, ia + aSize),
      lda,
      bv.subarray(ib, ib + bSize),
      ldb,
      0,
      ov.subarray(i * oSize, (i + 1) * oSize),
      n,
    );
  }
  return out;
}

// Below this many multiply-adds the original kernel's transposed path is
// as fast as transposing first (measured: crossover near 32x32x32).
const SMALL_MATMUL = 32 * 32 * 32;

// Transposes the last two dims of x with the wasm Transpose kernel.
function transposeLastTwo(backend: WasmBackend, x: tf.TensorInfo) {
  const r = x.shape.length;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return runWasmKernel("Transpose", { x }, backend, { perm });
}

// Calls `kernel` with operands it can multiply untransposed (materializing
// the transposes), or as given when the product is below `small` multiply-adds.
function withUntransposed(
  backend: WasmBackend,
  inputs: tf.NamedTensorInfoMap,
  { transposeA, transposeB }: MatMulAttrs,
  small: number,
  kernel: (
    inputs: tf.NamedTensorInfoMap,
    transposeA: boolean,
    transposeB: boolean,
  ) => tf.TensorInfo,
): tf.TensorInfo {
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const aSize = tf.util.sizeFromShape(a.shape);
  const bSize = tf.util.sizeFromShape(b.shape);
  const n = b.shape[b.shape.length - (transposeB ? 2 : 1)];
  const m = a.shape[a.shape.length - (transposeA ? 1 : 2)];
  const macs = Math.max(aSize * n, bSize * m);
  if ((!transposeA && !transposeB) || macs < small) {
    return kernel(inputs, transposeA, transposeB);
  }
  const temps: tf.TensorInfo[] = [];
  const at = transposeA ? transposeLastTwo(backend, a) : a;
  if (transposeA) temps.push(at);
  const bt = transposeB ? transposeLastTwo(backend, b) : b;
  if (transposeB) temps.push(bt);
  try {
    return kernel({ ...inputs, a: at, b: bt }, false, false);
  } finally {
    for (const t of temps) disposeIntermediate(backend, t);
  }
}

function wasmBatchMatMul(
  args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: MatMulAttrs },
): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  return withUntransposed(
    backend,
    args.inputs,
    args.attrs,
    SMALL_MATMUL,
    (inputs, transposeA, transposeB) =>
      original("BatchMatMul", {
        inputs,
        backend,
        attrs: { transposeA, transposeB },
      }),
  );
}

function wasmFusedMatMul(
  args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: FusedAttrs },
): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { bias, preluActivationWeights } = args.inputs;
  const { activation } = args.attrs;
  const leakyreluAlpha = args.attrs.leakyreluAlpha ?? 0.2;
  const bShape = args.inputs.b!.shape;
  const n = bShape[bShape.length - (args.attrs.transposeB ? 2 : 1)];
  // The original kernel reads bias and prelu weights as one value per
  // column and knows a fixed set of activations; anything else runs linear
  // and gets its epilogue here.
  const perColumn = (t: tf.TensorInfo | undefined) =>
    t == null || (t.shape.length === 1 && t.shape[0] === n);
  const native = WASM_FUSABLE.has(activation) && perColumn(bias) &&
    perColumn(preluActivationWeights);
  // Always untransposed: tfjs-backend-wasm 4.22's _FusedMatMul adds the
  // bias at wrong positions when transposeA is set.
  const out = withUntransposed(
    backend,
    args.inputs,
    args.attrs,
    0,
    (inputs, transposeA, transposeB) =>
      original("_FusedMatMul", {
        inputs: native ? inputs : { a: inputs.a, b: inputs.b },
        backend,
        attrs: {
          transposeA,
          transposeB,
          activation: native ? activation : "linear",
          leakyreluAlpha,
        },
      }),
  );
  if (!native) {
    applyBiasAndActivation(
      backend,
      out,
      bias,
      activation,
      preluActivationWeights,
      leakyreluAlpha,
    );
  }
  return out;
}

// Element strides of `shape` broadcast (right-aligned) against `outShape`:
// 0 where the dim is missing or 1.
function broadcastStrides(shape: readonly number[], outShape: number[]) {
  const strides = new Array<number>(outShape.length).fill(0);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const od = d + outShape.length - shape.length;
    if (od < 0) {
      if (shape[d] !== 1) throw broadcastError(shape, outShape);
      continue;
    }
    if (shape[d] !== 1) {
      if (shape[d] !== outShape[od]) throw broadcastError(shape, outShape);
      strides[od] = s;
    }
    s *= shape[d];
  }
  return strides;
}

function broadcastError(shape: readonly number[], outShape: number[]) {
  return new Error(
    `fused matMul: bias or prelu weights of shape [${shape}] do not ` +
      `broadcast to the output shape [${outShape}]; use shape ` +
      `[${outShape[outShape.length - 1]}] for a per-column bias.`,
  );
}

// `src` (of `shape`) broadcast to `outShape`, as a new flat array.
function broadcastTo(
  src: Float32Array,
  shape: readonly number[],
  outShape: number[],
): Float32Array {
  const strides = broadcastStrides(shape, outShape);
  const rank = outShape.length;
  const full = new Float32Array(tf.util.sizeFromShape(outShape));
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let j = 0; j < full.length; j++) {
    full[j] = src[off];
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      off += strides[d];
      if (idx[d] < outShape[d]) break;
      off -= strides[d] * outShape[d];
      idx[d] = 0;
    }
  }
  return full;
}

/**
 * Adds `bias` (broadcast to `out`) and applies `activation` in place on the
 * heap, as `tf.fused.matMul` defines them (`leakyreluAlpha` for leakyrelu,
 * `preluWeights` broadcast to `out` for prelu).
 */
export function applyBiasAndActivation(
  backend: WasmBackend,
  out: tf.TensorInfo,
  bias: tf.TensorInfo | undefined | null,
  activation: FusedActivation | string,
  preluWeights: tf.TensorInfo | undefined | null,
  leakyreluAlpha: number,
): void {
  const size = tf.util.sizeFromShape(out.shape);
  const n = out.shape[out.shape.length - 1];
  if (bias != null) {
    const bSize = tf.util.sizeFromShape(bias.shape);
    if (
      bSize === n &&
      bias.shape.every((d, i) => i === bias.shape.length - 1 || d === 1)
    ) {
      const o = f32View(backend, out), bv = f32View(backend, bias);
      for (let r = 0; r < size; r += n) {
        for (let c = 0; c < n; c++) o[r + c] += bv[c];
      }
    } else {
      requireFloat32(bias, "_FusedMatMul bias");
      const full = broadcastTo(f32View(backend, bias), bias.shape, out.shape);
      const o = f32View(backend, out);
      for (let j = 0; j < size; j++) o[j] += full[j];
    }
  }
  const o = f32View(backend, out);
  switch (activation) {
    case "linear":
      return;
    case "relu":
      for (let j = 0; j < size; j++) if (o[j] < 0) o[j] = 0;
      return;
    case "relu6":
      for (let j = 0; j < size; j++) o[j] = Math.min(Math.max(o[j], 0), 6);
      return;
    case "elu":
      for (let j = 0; j < size; j++) if (o[j] < 0) o[j] = Math.expm1(o[j]);
      return;
    case "leakyrelu":
      for (let j = 0; j < size; j++) if (o[j] < 0) o[j] *= leakyreluAlpha;
      return;
    case "sigmoid":
      for (let j = 0; j < size; j++) o[j] = 1 / (1 + Math.exp(-o[j]));
      return;
    case "tanh":
      for (let j = 0; j < size; j++) o[j] = Math.tanh(o[j]);
      return;
    case "prelu": {
      if (preluWeights == null) {
        throw new Error(
          "fused matMul: activation 'prelu' needs preluActivationWeights; " +
            "pass them to tf.fused.matMul.",
        );
      }
      requireFloat32(preluWeights, "_FusedMatMul prelu weights");
      const full = broadcastTo(
        f32View(backend, preluWeights),
        preluWeights.shape,
        out.shape,
      );
      for (let j = 0; j < size; j++) if (o[j] < 0) o[j] *= full[j];
      return;
    }
    default:
      throw new Error(
        `fused matMul: unknown activation '${activation}'; use one of linear, ` +
          "relu, relu6, elu, leakyrelu, prelu, sigmoid, tanh.",
      );
  }
}
