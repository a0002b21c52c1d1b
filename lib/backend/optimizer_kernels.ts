/**
 * The Nesterov momentum update as one wasm kernel: a single pass over
 * parameter, memory and gradient on the wasm heap instead of six elementwise
 * kernels, each with a full-size temporary (in our SIMD module when it loads,
 * else a JavaScript loop). The optimizer
 * (lib/optim/nesterov.ts) uses it whenever the active backend has it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { NESTEROV_UPDATE } from "../optim/nesterov.ts";
import {
  asWasmBackend,
  f32View,
  heapOffset,
  makeF32Output,
  registerWasmKernelsOnce,
} from "./wasm_heap.ts";
import { wasmKernels } from "./wasm_kernels.ts";

/**
 * `[param', memory']` from `param`, `memory`, `grad` and the attributes
 * `learningRate`, `momentum`: `update = m * memory - lr * g`,
 * `param' = param + m * update - lr * g`, `memory' = update`.
 */
function nesterovUpdate(
  args: {
    inputs: tf.NamedTensorInfoMap;
    backend: unknown;
    attrs?: tf.NamedAttrMap;
  },
): tf.TensorInfo[] {
  const backend = asWasmBackend(args.backend);
  const { param, memory, grad } = args.inputs as Record<string, tf.TensorInfo>;
  const lr = args.attrs!.learningRate as number;
  const m = args.attrs!.momentum as number;
  const newParam = makeF32Output(backend, param.shape);
  const newMemory = makeF32Output(backend, param.shape);
  const k = wasmKernels(backend);
  if (k) {
    const at = (t: tf.TensorInfo) => heapOffset(backend, t);
    const n = tf.util.sizeFromShape(param.shape);
    k.nesterov(
      at(param),
      at(memory),
      at(grad),
      at(newParam),
      at(newMemory),
      n,
      lr,
      m,
    );
    return [newParam, newMemory];
  }
  // Views only after the allocations: heap growth replaces the buffer.
  const p = f32View(backend, param), mem = f32View(backend, memory);
  const g = f32View(backend, grad);
  const outP = f32View(backend, newParam), outM = f32View(backend, newMemory);
  for (let i = 0; i < p.length; i++) {
    const step = lr * g[i];
    const update = m * mem[i] - step;
    outM[i] = update;
    outP[i] = p[i] + m * update - step;
  }
  return [newParam, newMemory];
}

/** Registers the fused Nesterov update on the wasm backend (idempotent). */
export function registerWasmOptimizerKernels(): void {
  registerWasmKernelsOnce([[NESTEROV_UPDATE, nesterovUpdate]]);
}
