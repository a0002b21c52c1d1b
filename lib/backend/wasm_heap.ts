/**
 * Helpers for kernels that work directly on the tfjs wasm backend's heap.
 *
 * The wasm backend keeps every tensor in one `WebAssembly.Memory`; each
 * tensor's bytes start at `dataIdMap.get(dataId).memoryOffset`. A
 * `Float32Array` view of that range can be read and written in place, or
 * passed to native code (`Deno.dlopen` "buffer" parameters) without a copy.
 *
 * Views go stale when the heap grows: any allocation (`makeOutput`,
 * `allocScratch`, another kernel) may replace the underlying buffer. Take
 * views after the last allocation, or take them again.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { registerKernelsOnce } from "./kernel_registry.ts";

/** What the wasm backend stores per tensor (`backend.dataIdMap.get(dataId)`). */
export interface WasmTensorData {
  /** Id the C++ side knows the tensor by. */
  id: number;
  /** Byte offset of the first element in the wasm heap. */
  memoryOffset: number;
  /** Shape the data was written with (not always the tensor's shape). */
  shape: number[];
  /** Element type. */
  dtype: tf.DataType;
  /** References held by tensors sharing this data. */
  refCount: number;
}

/** The parts of the Emscripten module the helpers use. */
export interface WasmModule {
  /** The heap as float32 (replaced when memory grows: re-read it). */
  HEAPF32: Float32Array;
  /** The heap as bytes (replaced when memory grows: re-read it). */
  HEAPU8: Uint8Array;
  /** Allocates `bytes` on the heap; returns the byte offset. */
  _malloc(bytes: number): number;
  /** Frees what `_malloc` returned. */
  _free(offset: number): void;
}

/** The parts of tfjs' `BackendWasm` that kernels on the heap use. */
export interface WasmBackend extends tf.KernelBackend {
  /** The Emscripten module. */
  wasm: WasmModule;
  /** Per-tensor storage records. */
  dataIdMap: {
    get(dataId: tf.DataId): WasmTensorData | undefined;
    has(dataId: tf.DataId): boolean;
  };
  /** Allocates an output tensor on the heap (uninitialized). */
  makeOutput(
    shape: number[],
    dtype: tf.DataType,
    memoryOffset?: number,
  ): tf.TensorInfo;
  /** Drops one reference to a tensor's data, freeing it at zero. */
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/**
 * Returns `backend` typed as the wasm backend, or throws when it is not one
 * (for example when a kernel registered on "wasm" is handed another backend).
 */
export function asWasmBackend(backend: unknown): WasmBackend {
  const b = backend as Partial<WasmBackend> | null;
  if (!b || !b.wasm || !b.wasm.HEAPF32 || !b.dataIdMap) {
    throw new Error(
      "Expected the tfjs wasm backend (an object with .wasm and .dataIdMap); " +
        'call initBackend({ backend: "wasm" }) or tf.setBackend("wasm") first.',
    );
  }
  return b as WasmBackend;
}

/** The active wasm backend instance, initializing nothing. */
export function currentWasmBackend(): WasmBackend {
  return asWasmBackend(tf.findBackend("wasm"));
}

/** Byte offset of a tensor's data in the wasm heap. */
export function heapOffset(backend: WasmBackend, info: tf.TensorInfo): number {
  const data = backend.dataIdMap.get(info.dataId);
  if (!data) {
    throw new Error(
      "Tensor data is not on the wasm backend (disposed, or created on another " +
        "backend); create the tensor after switching to wasm.",
    );
  }
  return data.memoryOffset;
}

/**
 * A `Float32Array` view of a float32 tensor's data on the heap, of length
 * `tf.util.sizeFromShape(info.shape)`. Writes go straight to the tensor.
 * Stale after the next heap allocation.
 */
export function f32View(
  backend: WasmBackend,
  info: tf.TensorInfo,
): Float32Array {
  requireFloat32(info, "f32View");
  const offset = heapOffset(backend, info);
  const size = tf.util.sizeFromShape(info.shape);
  return new Float32Array(backend.wasm.HEAPF32.buffer, offset, size);
}

/** Throws when `info` is not float32, naming the kernel that needs it. */
export function requireFloat32(info: tf.TensorInfo, kernel: string): void {
  if (info.dtype !== "float32") {
    throw new Error(
      `${kernel}: expected a float32 tensor, got ${info.dtype}; ` +
        "cast it first with tf.cast(x, 'float32').",
    );
  }
}

/** Allocates an uninitialized float32 output tensor on the heap. */
export function makeF32Output(
  backend: WasmBackend,
  shape: number[],
): tf.TensorInfo {
  return backend.makeOutput(shape, "float32");
}

/** Frees an intermediate tensor a kernel made and does not return. */
export function disposeIntermediate(
  backend: WasmBackend,
  info: tf.TensorInfo,
): void {
  backend.disposeData(info.dataId);
}

/** Scratch float32 memory on the heap, outside any tensor. */
export interface Scratch {
  /** Byte offset on the heap. */
  readonly offset: number;
  /** Number of float32 elements. */
  readonly length: number;
  /** A fresh view (stale after the next heap allocation). */
  view(): Float32Array;
  /** Frees the memory; the scratch must not be used afterwards. */
  free(): void;
}

/** Allocates `length` float32 elements of scratch memory on the heap. */
export function allocScratch(backend: WasmBackend, length: number): Scratch {
  const offset = backend.wasm._malloc(Math.max(1, length) * 4) >>> 0;
  if (offset === 0) {
    throw new Error(
      `wasm heap allocation of ${length * 4} bytes failed; use smaller ` +
        "batches or free tensors (tf.dispose) before this call.",
    );
  }
  return {
    offset,
    length,
    view: () => new Float32Array(backend.wasm.HEAPF32.buffer, offset, length),
    free: () => backend.wasm._free(offset),
  };
}

/**
 * Runs another kernel registered on "wasm" (e.g. "Transpose", "Add") from
 * inside a kernel, returning its output `TensorInfo` (dispose it with
 * {@linkcode disposeIntermediate} when it is not returned).
 */
export function runWasmKernel(
  kernelName: string,
  inputs: tf.NamedTensorInfoMap,
  backend: WasmBackend,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const kernel = tf.getKernel(kernelName, "wasm");
  if (!kernel) {
    throw new Error(
      `No "${kernelName}" kernel is registered on wasm; import ` +
        '"@tensorflow/tfjs-backend-wasm" before calling it.',
    );
  }
  const out = kernel.kernelFunc({ inputs, backend, attrs });
  return Array.isArray(out) ? out[0] : out;
}

/**
 * {@linkcode registerKernelsOnce} on "wasm": registers each
 * `[kernelName, kernelFunc]` unless a kernel of that name is there already.
 * Lives here too because the heap-kernel modules import their helpers from
 * this one.
 */
export function registerWasmKernelsOnce(
  kernels: readonly (readonly [string, unknown])[],
): void {
  registerKernelsOnce(kernels, "wasm");
}
