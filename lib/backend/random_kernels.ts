/**
 * The seeded normal generator of lib/nn/random_normal.ts as a wasm kernel,
 * run by our SIMD module straight into the output tensor.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  SEEDED_RANDOM_NORMAL,
  seededNormalValues,
} from "../nn/random_normal.ts";
import {
  asWasmBackend,
  f32View,
  heapOffset,
  makeF32Output,
  registerWasmKernelsOnce,
} from "./wasm_heap.ts";
import { wasmKernels } from "./wasm_kernels.ts";

function seededRandomNormal(
  args: { backend: unknown; attrs?: tf.NamedAttrMap },
): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const shape = args.attrs!.shape as number[];
  const seed = (args.attrs!.seed as number) >>> 0;
  const out = makeF32Output(backend, shape);
  const n = tf.util.sizeFromShape(shape);
  const k = wasmKernels(backend);
  if (k) k.randn(heapOffset(backend, out), n, seed);
  else f32View(backend, out).set(seededNormalValues(n, seed));
  return out;
}

/** Registers the seeded normal generator on the wasm backend (idempotent). */
export function registerWasmRandomKernels(): void {
  registerWasmKernelsOnce([[SEEDED_RANDOM_NORMAL, seededRandomNormal]]);
}
