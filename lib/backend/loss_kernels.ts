/**
 * The VAE cost terms of lib/nn/losses.ts as wasm kernels: one pass forward,
 * one backward, in our SIMD module when it loads, else in JavaScript.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  GAUSSIAN_KL,
  GAUSSIAN_KL_GRAD,
  SUM_SQUARED_ERROR,
  SUM_SQUARED_ERROR_GRAD,
} from "../nn/losses.ts";
import {
  allocScratch,
  asWasmBackend,
  f32View,
  heapOffset,
  makeF32Output,
  registerWasmKernelsOnce,
  requireFloat32,
  type WasmBackend,
} from "./wasm_heap.ts";
import { wasmKernels } from "./wasm_kernels.ts";

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
}

/** The two same-shaped float32 inputs `a` and `b` of `kernel`. */
function pair(
  kernel: string,
  inputs: tf.NamedTensorInfoMap,
  a: string,
  b: string,
): [tf.TensorInfo, tf.TensorInfo] {
  const [ta, tb] = [inputs[a], inputs[b]] as tf.TensorInfo[];
  requireFloat32(ta, kernel);
  requireFloat32(tb, kernel);
  if (ta.shape.join() !== tb.shape.join()) {
    throw new Error(
      `${kernel}: "${a}" [${ta.shape}] and "${b}" [${tb.shape}] must have ` +
        "the same shape.",
    );
  }
  return [ta, tb];
}

function scalarOut(backend: WasmBackend, value: number): tf.TensorInfo {
  const out = makeF32Output(backend, []);
  f32View(backend, out)[0] = value;
  return out;
}

function scalarIn(backend: WasmBackend, t: tf.TensorInfo): number {
  return f32View(backend, t)[0];
}

/** A sum in the module with 16 floats of heap scratch. */
function moduleSum(
  backend: WasmBackend,
  sum: (p: number) => number,
): number {
  const p = allocScratch(backend, 16);
  try {
    return sum(p.offset);
  } finally {
    p.free();
  }
}

function sumSquaredError(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const [x, y] = pair(SUM_SQUARED_ERROR, args.inputs, "x", "y");
  const n = tf.util.sizeFromShape(x.shape);
  const k = wasmKernels(backend);
  let total = 0;
  if (k) {
    const [px, py] = [heapOffset(backend, x), heapOffset(backend, y)];
    total = moduleSum(backend, (p) => k.sq_err_sum(px, py, n, p));
  } else {
    const xv = f32View(backend, x), yv = f32View(backend, y);
    for (let i = 0; i < n; i++) total += (xv[i] - yv[i]) ** 2;
  }
  return scalarOut(backend, total);
}

function sumSquaredErrorGrad(args: KernelArgs): tf.TensorInfo[] {
  const backend = asWasmBackend(args.backend);
  const [x, y] = pair(SUM_SQUARED_ERROR_GRAD, args.inputs, "x", "y");
  const g = scalarIn(backend, args.inputs.dy as tf.TensorInfo);
  const n = tf.util.sizeFromShape(x.shape);
  const dx = makeF32Output(backend, x.shape);
  const dy = makeF32Output(backend, y.shape);
  const k = wasmKernels(backend);
  const at = (t: tf.TensorInfo) => heapOffset(backend, t);
  // d/dy = 2 g (y - x); d/dx is its negative.
  if (k) {
    k.sq_err_grad(at(x), at(y), at(dy), n, 2 * g);
    k.sq_err_grad(at(y), at(x), at(dx), n, 2 * g);
  } else {
    const xv = f32View(backend, x), yv = f32View(backend, y);
    const dxv = f32View(backend, dx), dyv = f32View(backend, dy);
    for (let i = 0; i < n; i++) {
      dyv[i] = 2 * g * (yv[i] - xv[i]);
      dxv[i] = -dyv[i];
    }
  }
  return [dx, dy];
}

function gaussianKL(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const [mu, sigma] = pair(GAUSSIAN_KL, args.inputs, "mu", "sigma");
  const n = tf.util.sizeFromShape(mu.shape);
  const k = wasmKernels(backend);
  let total = 0;
  if (k) {
    const [pm, ps] = [heapOffset(backend, mu), heapOffset(backend, sigma)];
    total = moduleSum(backend, (p) => k.gauss_kl_sum(pm, ps, n, p));
  } else {
    const m = f32View(backend, mu), s = f32View(backend, sigma);
    for (let i = 0; i < n; i++) {
      total += 2 * Math.log(s[i] + 1e-12) - s[i] * s[i] - m[i] * m[i] + 1;
    }
  }
  return scalarOut(backend, -0.5 * total);
}

function gaussianKLGrad(args: KernelArgs): tf.TensorInfo[] {
  const backend = asWasmBackend(args.backend);
  const [mu, sigma] = pair(GAUSSIAN_KL_GRAD, args.inputs, "mu", "sigma");
  const g = scalarIn(backend, args.inputs.dy as tf.TensorInfo);
  const n = tf.util.sizeFromShape(mu.shape);
  const dmu = makeF32Output(backend, mu.shape);
  const dsigma = makeF32Output(backend, sigma.shape);
  const k = wasmKernels(backend);
  if (k) {
    const at = (t: tf.TensorInfo) => heapOffset(backend, t);
    k.gauss_kl_grad(at(mu), at(sigma), at(dmu), at(dsigma), n, g);
  } else {
    const m = f32View(backend, mu), s = f32View(backend, sigma);
    const dm = f32View(backend, dmu), ds = f32View(backend, dsigma);
    for (let i = 0; i < n; i++) {
      dm[i] = g * m[i];
      ds[i] = g * (s[i] - 1 / (s[i] + 1e-12));
    }
  }
  return [dmu, dsigma];
}

/** Registers the VAE cost kernels on the wasm backend (idempotent). */
export function registerWasmLossKernels(): void {
  registerWasmKernelsOnce([
    [SUM_SQUARED_ERROR, sumSquaredError],
    [SUM_SQUARED_ERROR_GRAD, sumSquaredErrorGrad],
    [GAUSSIAN_KL, gaussianKL],
    [GAUSSIAN_KL_GRAD, gaussianKLGrad],
  ]);
}
