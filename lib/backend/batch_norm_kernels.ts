/**
 * Training-mode batch normalization fused with the bias before it and the
 * activation after it, as two wasm kernels that each make two passes over the
 * activations on the heap.
 *
 * Through separate ops, `act(BN(x + b))` and its gradient cost about 25
 * kernel calls per layer, each allocating a full-size temporary; on the wasm
 * backend those calls, not the arithmetic, dominate a training step. The ops
 * in lib/nn/batch_norm.ts use these kernels whenever the active backend has
 * them and fall back to the separate ops otherwise. The passes run in our SIMD
 * module (lib/backend/wasm_kernels.ts) when it loads, else in JavaScript.
 *
 * Layout: `x` is any shape whose last axis holds the C features (dense
 * `[batch, C]`, NHWC `[batch, h, w, C]`); statistics are over the other axes.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  BATCH_NORM_ACT_GRAD,
  BATCH_NORM_ACT_TRAIN,
  BATCH_NORM_MOVING_AVERAGES,
  type BatchNormActAttrs,
} from "../nn/batch_norm.ts";
import type { Activation } from "../nn/activations.ts";
import {
  allocScratch,
  asWasmBackend,
  f32View,
  heapOffset,
  makeF32Output,
  registerWasmKernelsOnce,
  requireFloat32,
  type Scratch,
  type WasmBackend,
} from "./wasm_heap.ts";
import { type WasmKernels, wasmKernels } from "./wasm_kernels.ts";

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

type Inputs = Record<string, tf.TensorInfo | undefined>;

// Codes shared with kernels.c.
const ACTIVATIONS: readonly Activation[] = [
  "linear",
  "relu",
  "tanh",
  "hardtanh",
  "softplus",
];
const RELU = 1, TANH = 2, HARDTANH = 3, SOFTPLUS = 4;

function activationCode(a: Activation): number {
  const code = ACTIVATIONS.indexOf(a);
  if (code < 0) {
    throw new Error(
      `batch norm kernel: unknown activation "${a}"; expected one of ` +
        ACTIVATIONS.join(", "),
    );
  }
  return code;
}

/** Checks dtypes and per-feature shapes; returns the feature count C. */
function checkInputs(kernel: string, inputs: Inputs): number {
  const x = inputs.x!;
  const c = x.shape[x.shape.length - 1];
  for (const [name, t] of Object.entries(inputs)) {
    if (!t) continue;
    requireFloat32(t, kernel);
    const full = name === "x" || name === "dy" || name === "y";
    if (full ? t.shape.join() !== x.shape.join() : t.shape.join() !== `${c}`) {
      throw new Error(
        `${kernel}: "${name}" has shape [${t.shape}], expected ` +
          (full ? `[${x.shape}] (the shape of x)` : `[${c}] (one per feature)`),
      );
    }
  }
  return c;
}

/** `log(1 + exp(z))` without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/**
 * Per-feature scratch on the heap for the wasm module: `doubles` float64
 * arrays, then `floats` float32 arrays, each of `c` entries.
 */
class HeapScratch {
  readonly offset: number;
  readonly #memory: Scratch;
  constructor(
    private backend: WasmBackend,
    private c: number,
    private doubles: number,
    floats: number,
  ) {
    // emscripten's malloc aligns to 8 bytes, as the float64 arrays need.
    this.#memory = allocScratch(backend, c * (2 * doubles + floats));
    this.offset = this.#memory.offset;
  }
  f64Ptr(i: number): number {
    return this.offset + 8 * this.c * i;
  }
  f32Ptr(i: number): number {
    return this.offset + 8 * this.c * this.doubles + 4 * this.c * i;
  }
  f64(i: number): Float64Array {
    return new Float64Array(
      this.backend.wasm.HEAPU8.buffer,
      this.f64Ptr(i),
      this.c,
    );
  }
  f32(i: number): Float32Array {
    return new Float32Array(
      this.backend.wasm.HEAPU8.buffer,
      this.f32Ptr(i),
      this.c,
    );
  }
  zeroDoubles(): void {
    for (let i = 0; i < this.doubles; i++) this.f64(i).fill(0);
  }
  free(): void {
    this.#memory.free();
  }
}

/** The per-feature sums of `x - ref` and `(x - ref)^2`, `ref` = first row. */
function featureSums(
  k: WasmKernels | null,
  backend: WasmBackend,
  x: tf.TensorInfo,
  c: number,
): { ref: Float64Array; s1: Float64Array; s2: Float64Array } {
  const xv = f32View(backend, x);
  const rows = xv.length / c;
  const ref = Float64Array.from(xv.subarray(0, c));
  if (k) {
    // doubles: s1, s2; floats: ref and the module's two partial sums.
    const s = new HeapScratch(backend, c, 2, 3);
    try {
      s.zeroDoubles();
      s.f32(0).set(ref);
      k.bn_stats(
        heapOffset(backend, x),
        rows,
        c,
        s.f32Ptr(0),
        s.f64Ptr(0),
        s.f64Ptr(1),
        s.f32Ptr(1),
        s.f32Ptr(2),
      );
      return {
        ref,
        s1: Float64Array.from(s.f64(0)),
        s2: Float64Array.from(s.f64(1)),
      };
    } finally {
      s.free();
    }
  }
  const s1 = new Float64Array(c), s2 = new Float64Array(c);
  for (let o = 0; o < xv.length; o += c) {
    for (let j = 0; j < c; j++) {
      const v = xv[o + j] - ref[j];
      s1[j] += v;
      s2[j] += v * v;
    }
  }
  return { ref, s1, s2 };
}

/**
 * Forward: `y = act(gamma * (x + bias - mean) / (std + eps) + beta)` with the
 * batch mean and biased std of `x + bias`; outputs `[y, mean, variance,
 * scale, shift]`, the last two the float32 factors of `z = x * scale + shift`
 * that the backward pass reuses so that its z is bit-identical.
 */
function batchNormActTrain(args: KernelArgs): tf.TensorInfo[] {
  const backend = asWasmBackend(args.backend);
  const inputs = args.inputs as Inputs;
  const c = checkInputs(BATCH_NORM_ACT_TRAIN, inputs);
  const { epsilon, activation } = args.attrs as unknown as BatchNormActAttrs;
  const act = activationCode(activation);
  const x = inputs.x!;
  const out = makeF32Output(backend, x.shape);
  const meanOut = makeF32Output(backend, [c]);
  const varOut = makeF32Output(backend, [c]);
  const scaleOut = makeF32Output(backend, [c]);
  const shiftOut = makeF32Output(backend, [c]);
  const rows = tf.util.sizeFromShape(x.shape) / c;
  const k = wasmKernels(backend);

  // Sums of x - x[0] in float64: the shift keeps E[v^2] - E[v]^2 accurate
  // when the mean is large against the spread.
  const { ref, s1, s2 } = featureSums(k, backend, x, c);
  const mean = new Float64Array(c), variance = new Float64Array(c);
  const scale = new Float32Array(c), shift = new Float32Array(c);
  const gamma = f32View(backend, inputs.gamma!);
  const beta = f32View(backend, inputs.beta!);
  for (let j = 0; j < c; j++) {
    const m1 = s1[j] / rows;
    variance[j] = Math.max(0, s2[j] / rows - m1 * m1);
    mean[j] = ref[j] + m1;
    scale[j] = gamma[j] / (Math.sqrt(variance[j]) + epsilon);
    shift[j] = beta[j] - mean[j] * scale[j];
  }

  if (k) {
    const s = new HeapScratch(backend, c, 0, 2);
    s.f32(0).set(scale);
    s.f32(1).set(shift);
    k.bn_apply(
      heapOffset(backend, x),
      heapOffset(backend, out),
      rows,
      c,
      s.f32Ptr(0),
      s.f32Ptr(1),
      act,
    );
    s.free();
  } else {
    affineActivationJs(
      f32View(backend, x),
      f32View(backend, out),
      scale,
      shift,
      act,
    );
  }

  const bias = inputs.bias ? f32View(backend, inputs.bias) : null;
  const mv = f32View(backend, meanOut), vv = f32View(backend, varOut);
  for (let j = 0; j < c; j++) {
    mv[j] = mean[j] + (bias ? bias[j] : 0);
    vv[j] = variance[j];
  }
  f32View(backend, scaleOut).set(scale);
  f32View(backend, shiftOut).set(shift);
  return [out, meanOut, varOut, scaleOut, shiftOut];
}

function affineActivationJs(
  xv: Float32Array,
  yv: Float32Array,
  scale: Float32Array,
  shift: Float32Array,
  act: number,
): void {
  const c = scale.length;
  for (let o = 0; o < xv.length; o += c) {
    for (let j = 0; j < c; j++) {
      const z = xv[o + j] * scale[j] + shift[j];
      yv[o + j] = act === RELU
        ? (z > 0 ? z : 0)
        : act === TANH
        ? Math.tanh(z)
        : act === HARDTANH
        ? (z < -1 ? -1 : z > 1 ? 1 : z)
        : act === SOFTPLUS
        ? softplus(z)
        : z;
    }
  }
}

/** Per-feature values the backward passes share. */
interface FeatureParams {
  /** Batch mean of x (without the bias). */
  meanX: Float32Array;
  /** `gamma / (std + eps)`, as the forward used it. */
  scale: Float32Array;
  /** `beta - meanX * scale`, as the forward used it: `z = x * scale + shift`. */
  shift: Float32Array;
}

/**
 * Backward of {@linkcode batchNormActTrain}: from `dy` and the forward's `x`,
 * `y`, `mean`, `variance`, `scale`, `shift` (and `bias` when the forward had
 * one) outputs `[dx, dgamma, dbeta, dbias]`. With `g = dy * act'(z)`, `xc = x + bias -
 * mean`, `d = std + eps`:
 * `dx = (gamma / d) * (g - mean(g) - xc * mean(g * xc) / (d * std))`,
 * `dgamma = sum(g * xc) / d`, `dbeta = sum(g)`, and `dbias = 0`: the batch
 * mean absorbs any bias, so its exact gradient is zero (summing dx would only
 * add rounding noise).
 */
function batchNormActGrad(args: KernelArgs): tf.TensorInfo[] {
  const backend = asWasmBackend(args.backend);
  const inputs = args.inputs as Inputs;
  const c = checkInputs(BATCH_NORM_ACT_GRAD, inputs);
  const { epsilon, activation } = args.attrs as unknown as BatchNormActAttrs;
  const act = activationCode(activation);
  const x = inputs.x!;
  const dxOut = makeF32Output(backend, x.shape);
  const dgOut = makeF32Output(backend, [c]);
  const dbOut = makeF32Output(backend, [c]);
  const dbiasOut = makeF32Output(backend, [c]);
  const rows = tf.util.sizeFromShape(x.shape) / c;

  const view = (t: tf.TensorInfo) => f32View(backend, t);
  const meanIn = view(inputs.mean!), varIn = view(inputs.variance!);
  const bias = inputs.bias ? view(inputs.bias) : null;
  const p: FeatureParams = {
    meanX: new Float32Array(c),
    scale: Float32Array.from(view(inputs.scale!)),
    shift: Float32Array.from(view(inputs.shift!)),
  };
  const std = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    // The bias cancels: xc = x + bias - mean = x - (mean - bias).
    p.meanX[j] = meanIn[j] - (bias ? bias[j] : 0);
    std[j] = Math.sqrt(varIn[j]);
  }

  // Pass 1 sums g = dy * act'(z) and g * xc; pass 2 writes
  // dx = g * scale + x * coef + offset.
  const coefs = (sumG: Float64Array, sumGX: Float64Array) => {
    const coef = new Float32Array(c), offset = new Float32Array(c);
    for (let j = 0; j < c; j++) {
      const d = std[j] + epsilon;
      // A feature constant over the batch has xc = 0 and std = 0: keep it finite.
      coef[j] = -p.scale[j] * sumGX[j] / (d * Math.max(std[j], 1e-12) * rows);
      offset[j] = -p.scale[j] * sumG[j] / rows - p.meanX[j] * coef[j];
    }
    return { coef, offset };
  };
  const k = wasmKernels(backend);
  const sums = k
    ? gradPassesWasm(k, backend, inputs, dxOut, act, p, coefs)
    : gradPassesJs(backend, inputs, dxOut, act, p, coefs);

  const dg = view(dgOut), db = view(dbOut);
  view(dbiasOut).fill(0);
  for (let j = 0; j < c; j++) {
    dg[j] = sums.sumGX[j] / (std[j] + epsilon);
    db[j] = sums.sumG[j];
  }
  return [dxOut, dgOut, dbOut, dbiasOut];
}

type Coefs = (
  sumG: Float64Array,
  sumGX: Float64Array,
) => { coef: Float32Array; offset: Float32Array };

interface GradSums {
  sumG: Float64Array;
  sumGX: Float64Array;
}

function gradPassesWasm(
  k: WasmKernels,
  backend: WasmBackend,
  inputs: Inputs,
  dxOut: tf.TensorInfo,
  act: number,
  p: FeatureParams,
  coefs: Coefs,
): GradSums {
  const c = p.scale.length;
  const x = heapOffset(backend, inputs.x!), dx = heapOffset(backend, dxOut);
  const rows = tf.util.sizeFromShape(inputs.x!.shape) / c;
  // doubles: sumG, sumGX; floats: scale, shift, meanX, coef, offset and the
  // module's two partial sums.
  const s = new HeapScratch(backend, c, 2, 7);
  try {
    s.zeroDoubles();
    s.f32(0).set(p.scale);
    s.f32(1).set(p.shift);
    s.f32(2).set(p.meanX);
    k.bn_grad_sums(
      x,
      heapOffset(backend, inputs.dy!),
      heapOffset(backend, inputs.y!),
      dx,
      rows,
      c,
      s.f32Ptr(0),
      s.f32Ptr(1),
      s.f32Ptr(2),
      act,
      s.f64Ptr(0),
      s.f64Ptr(1),
      s.f32Ptr(5),
      s.f32Ptr(6),
    );
    const sumG = Float64Array.from(s.f64(0));
    const sumGX = Float64Array.from(s.f64(1));
    const { coef, offset } = coefs(sumG, sumGX);
    s.f32(3).set(coef);
    s.f32(4).set(offset);
    k.bn_grad_apply(
      x,
      heapOffset(backend, inputs.dy!),
      heapOffset(backend, inputs.y!),
      dx,
      dx,
      rows,
      c,
      s.f32Ptr(0),
      s.f32Ptr(1),
      s.f32Ptr(3),
      s.f32Ptr(4),
      act,
    );
    return { sumG, sumGX };
  } finally {
    s.free();
  }
}

function gradPassesJs(
  backend: WasmBackend,
  inputs: Inputs,
  dxOut: tf.TensorInfo,
  act: number,
  p: FeatureParams,
  coefs: Coefs,
): GradSums {
  const c = p.scale.length;
  const xv = f32View(backend, inputs.x!), dyv = f32View(backend, inputs.dy!);
  const yv = f32View(backend, inputs.y!), g = f32View(backend, dxOut);
  const sumG = new Float64Array(c), sumGX = new Float64Array(c);
  for (let o = 0; o < xv.length; o += c) {
    for (let j = 0; j < c; j++) {
      const i = o + j, d = dyv[i];
      const z = xv[i] * p.scale[j] + p.shift[j];
      const v = act === RELU
        ? (yv[i] > 0 ? d : 0)
        : act === TANH
        ? d * (1 - yv[i] * yv[i])
        : act === HARDTANH
        ? (z >= -1 && z <= 1 ? d : 0)
        : act === SOFTPLUS
        ? d / (1 + Math.exp(-z))
        : d;
      g[i] = v;
      sumG[j] += v;
      sumGX[j] += v * (xv[i] - p.meanX[j]);
    }
  }
  const { coef, offset } = coefs(sumG, sumGX);
  for (let o = 0; o < xv.length; o += c) {
    for (let j = 0; j < c; j++) {
      g[o + j] = g[o + j] * p.scale[j] + xv[o + j] * coef[j] + offset[j];
    }
  }
  return { sumG, sumGX };
}

/** The population statistics' moving averages (small: one value a feature). */
function movingAverages(args: KernelArgs): tf.TensorInfo[] {
  const backend = asWasmBackend(args.backend);
  const { popMean, popVar, mean, variance } = args.inputs as Record<
    string,
    tf.TensorInfo
  >;
  const a = args.attrs!.momentum as number;
  const unbiased = args.attrs!.unbiased as number;
  const c = tf.util.sizeFromShape(popMean.shape);
  for (const t of [popVar, mean, variance]) {
    if (tf.util.sizeFromShape(t.shape) !== c) {
      throw new Error(
        `${BATCH_NORM_MOVING_AVERAGES}: statistics of ${c} features expected, ` +
          `got shape [${t.shape}]`,
      );
    }
  }
  const outMean = makeF32Output(backend, popMean.shape);
  const outVar = makeF32Output(backend, popVar.shape);
  const [pm, pv, m, v, om, ov] = [
    popMean,
    popVar,
    mean,
    variance,
    outMean,
    outVar,
  ]
    .map((t) => f32View(backend, t));
  for (let j = 0; j < c; j++) {
    om[j] = pm[j] * (1 - a) + m[j] * a;
    ov[j] = pv[j] * (1 - a) + v[j] * (a * unbiased);
  }
  return [outMean, outVar];
}

/** Registers the fused batch-norm kernels on the wasm backend (idempotent). */
export function registerWasmBatchNormKernels(): void {
  registerWasmKernelsOnce([
    [BATCH_NORM_ACT_TRAIN, batchNormActTrain],
    [BATCH_NORM_ACT_GRAD, batchNormActGrad],
    [BATCH_NORM_MOVING_AVERAGES, movingAverages],
  ]);
}
