/**
 * Kernels replaced on the "webgpu" backend, where the stock one is wrong for
 * inputs the project passes.
 *
 * - **AddN** binds every input as a storage buffer of one shader, and a
 *   device allows `maxStorageBuffersPerShaderStage` of them (8 unless more
 *   are asked for; the output takes one). Past that the pipeline is invalid
 *   and the output is left as whatever its buffer held, with no exception:
 *   the seed's RMSProp sums the squares of every gradient of a model in one
 *   `addN`, and got a global norm of 0.12 for 7308. Ours sums groups the
 *   device can bind, then the groups' sums.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import {
  callStockKernel,
  installKernel,
  type KernelArgs,
} from "./kernel_registry.ts";

const BACKEND = "webgpu";

/** The part of tfjs' WebGPU backend the replacements use. */
interface WebGPUBackendLike {
  device: GPUDevice;
  disposeData(dataId: object): boolean;
}

/** Inputs one AddN shader may take on `backend`'s device (one binding is the output's). */
export function maxAddNInputs(backend: WebGPUBackendLike): number {
  return Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1);
}

function addN(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as unknown as WebGPUBackendLike;
  const max = maxAddNInputs(backend);
  const stock = (inputs: tf.TensorInfo[]) =>
    callStockKernel("AddN", {
      ...args,
      inputs: inputs as unknown as tf.NamedTensorInfoMap,
    }, { backend: BACKEND });
  let parts = args.inputs as unknown as tf.TensorInfo[];
  if (parts.length <= max) return stock(parts);
  const partials: tf.TensorInfo[] = [];
  while (parts.length > max) {
    const next: tf.TensorInfo[] = [];
    for (let i = 0; i < parts.length; i += max) {
      const group = parts.slice(i, i + max);
      if (group.length === 1) {
        next.push(group[0]);
        continue;
      }
      const sum = stock(group);
      partials.push(sum);
      next.push(sum);
    }
    parts = next;
  }
  const out = stock(parts);
  // Queued work keeps its buffers until it is submitted (tfjs-webgpu defers
  // the release), so the partial sums can go now.
  for (const p of partials) backend.disposeData(p.dataId);
  return out;
}

/**
 * Installs the replacements above on "webgpu" (idempotent). Call after the
 * package has registered its kernels, so the stock ones can be reached.
 */
export function registerWebGPUKernels(): void {
  installKernel("AddN", addN as unknown as tf.KernelFunc, BACKEND);
}
