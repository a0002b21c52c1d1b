/**
 * The seed's zero-insertion upsampling (lib/nn/depool.ts) as wasm kernels:
 * one pass over the output, in our SIMD module when it loads, else a
 * JavaScript loop on the heap views.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { DEPOOL_2D, DEPOOL_2D_GRAD, FLIP_FILTER } from "../nn/depool.ts";
import {
  asWasmBackend,
  f32View,
  heapOffset,
  makeF32Output,
  registerWasmKernelsOnce,
  requireFloat32,
} from "./wasm_heap.ts";
import { wasmKernels } from "./wasm_kernels.ts";

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

function factorOf(kernel: string, attrs: tf.NamedAttrMap | undefined): number {
  const f = (attrs?.factor as number | undefined) ?? 2;
  if (!(Number.isInteger(f) && f >= 1)) {
    throw new RangeError(
      `${kernel}: factor must be a positive integer, got ${f}`,
    );
  }
  return f;
}

function check4D(kernel: string, t: tf.TensorInfo): void {
  requireFloat32(t, kernel);
  if (t.shape.length !== 4) {
    throw new Error(
      `${kernel}: expected an NHWC tensor, got shape [${t.shape}]`,
    );
  }
}

/** `[n, h, w, c]` to `[n, h f, w f, c]`, each value at its block's top-left. */
function depool2d(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const x = args.inputs.x as tf.TensorInfo;
  check4D(DEPOOL_2D, x);
  const f = factorOf(DEPOOL_2D, args.attrs);
  const [n, h, w, c] = x.shape;
  const out = makeF32Output(backend, [n, h * f, w * f, c]);
  if (n * h * w * c === 0) return out;
  const k = wasmKernels(backend);
  if (k) {
    k.depool2d(
      heapOffset(backend, x),
      heapOffset(backend, out),
      n * h,
      w,
      c,
      f,
    );
    return out;
  }
  const xs = f32View(backend, x), ys = f32View(backend, out);
  ys.fill(0);
  const outRow = w * f * c;
  for (let r = 0, s = 0; r < n * h; r++) {
    const o = r * f * outRow;
    for (let j = 0; j < w; j++, s += c) {
      ys.set(xs.subarray(s, s + c), o + j * f * c);
    }
  }
  return out;
}

/** The gradient: `[n, h f, w f, c]` to the top-left element of each block. */
function depool2dGrad(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const dy = args.inputs.dy as tf.TensorInfo;
  check4D(DEPOOL_2D_GRAD, dy);
  const f = factorOf(DEPOOL_2D_GRAD, args.attrs);
  const [n, hf, wf, c] = dy.shape;
  if (hf % f !== 0 || wf % f !== 0) {
    throw new Error(
      `${DEPOOL_2D_GRAD}: dy's height and width [${hf}, ${wf}] must be ` +
        `multiples of the factor ${f}`,
    );
  }
  const h = hf / f, w = wf / f;
  const out = makeF32Output(backend, [n, h, w, c]);
  if (n * h * w * c === 0) return out;
  const k = wasmKernels(backend);
  if (k) {
    k.depool2d_grad(
      heapOffset(backend, dy),
      heapOffset(backend, out),
      n * h,
      w,
      c,
      f,
    );
    return out;
  }
  const dys = f32View(backend, dy), dx = f32View(backend, out);
  const outRow = w * f * c;
  for (let r = 0, d = 0; r < n * h; r++) {
    const s = r * f * outRow;
    for (let j = 0; j < w; j++, d += c) {
      dx.set(dys.subarray(s + j * f * c, s + j * f * c + c), d);
    }
  }
  return out;
}

/** `[kh, kw, c, o]` to `[kh, kw, o, c]`, flipped in both spatial axes. */
function flipFilter(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const w = args.inputs.filter as tf.TensorInfo;
  check4D(FLIP_FILTER, w);
  const [kh, kw, c, o] = w.shape;
  const out = makeF32Output(backend, [kh, kw, o, c]);
  const src = f32View(backend, w), dst = f32View(backend, out);
  const taps = kh * kw, plane = c * o;
  for (let t = 0; t < taps; t++) {
    // Reversing both spatial axes reverses the row-major tap order.
    const s0 = t * plane, d0 = (taps - 1 - t) * plane;
    for (let i = 0; i < c; i++) {
      for (let j = 0, s = s0 + i * o, d = d0 + i; j < o; j++, s++, d += c) {
        dst[d] = src[s];
      }
    }
  }
  return out;
}

/** Registers the depool kernels on the wasm backend (idempotent). */
export function registerWasmDepoolKernels(): void {
  registerWasmKernelsOnce([
    [DEPOOL_2D, depool2d],
    [DEPOOL_2D_GRAD, depool2dGrad],
    [FLIP_FILTER, flipFilter],
  ]);
}
