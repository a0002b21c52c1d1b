/**
 * Data-movement kernels on the tfjs wasm backend's heap that a
 * batch-normalized convnet's training step leans on.
 *
 * - `Tile` by block copies: the batch-norm gradient tiles per-channel
 *   values to the full activation every step.
 * - `Identity` and same-dtype `Cast` share the input's data (one more
 *   reference) like the cpu backend, where stock wasm copies it.
 *
 * Other dtypes or casts go to the stock kernels.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  callStockKernel,
  installKernel,
  type KernelArgs,
} from "./kernel_registry.ts";
import { asWasmBackend, heapOffset } from "./wasm_heap.ts";

/** Kernel names {@linkcode registerWasmArrayKernels} replaces. */
export const ARRAY_KERNEL_NAMES: readonly string[] = [
  "Tile",
  "Identity",
  "Cast",
];

/** Installs `Tile`, `Identity` and `Cast` on wasm. Idempotent. */
export function registerWasmArrayKernels(): void {
  installKernel("Tile", tile);
  installKernel("Identity", identity);
  installKernel("Cast", cast);
}

/** A typed view of a float32, int32 or bool tensor on the heap. */
function typedView(
  backend: ReturnType<typeof asWasmBackend>,
  t: tf.TensorInfo,
): Float32Array | Int32Array | Uint8Array {
  const buffer = backend.wasm.HEAPU8.buffer as ArrayBuffer;
  const offset = heapOffset(backend, t);
  const size = tf.util.sizeFromShape(t.shape);
  if (t.dtype === "int32") return new Int32Array(buffer, offset, size);
  if (t.dtype === "bool") return new Uint8Array(buffer, offset, size);
  return new Float32Array(buffer, offset, size);
}

/** Repeats x `reps[i]` times along each axis, by block copies. */
function tile(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { x } = args.inputs as { x: tf.TensorInfo };
  const reps = (args.attrs ?? {}).reps as number[];
  if (x.dtype === "string" || x.dtype === "complex64") {
    return callStockKernel("Tile", args, { why: `dtype ${x.dtype}` });
  }
  const shape = x.shape;
  const rank = shape.length;
  const outShape = shape.map((s, i) => s * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  const dst = typedView(backend, out);
  const src = typedView(backend, x);
  if (dst.length === 0) return out;
  if (rank === 0) {
    dst[0] = src[0];
    return out;
  }
  const inStride = tf.util.computeStrides(shape).concat(1);
  const outStride = tf.util.computeStrides(outShape).concat(1);
  const fill = (d: number, si: number, di: number) => {
    const n = shape[d];
    if (d === rank - 1) {
      for (let i = 0; i < n; i++) dst[di + i] = src[si + i];
    } else {
      for (let i = 0; i < n; i++) {
        fill(d + 1, si + i * inStride[d], di + i * outStride[d]);
      }
    }
    const block = n * outStride[d];
    for (let r = 1; r < reps[d]; r++) {
      dst.copyWithin(di + r * block, di, di + block);
    }
  };
  fill(0, 0, 0);
  return out;
}

/** Shares x's data (one more reference) instead of copying it. */
function identity(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { x } = args.inputs as { x: tf.TensorInfo };
  if (x.dtype === "string") return callStockKernel("Identity", args);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Cast to the same dtype is an identity; other casts go to the stock kernel. */
function cast(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  if ((args.attrs ?? {}).dtype === x.dtype) return identity(args);
  return callStockKernel("Cast", args);
}
