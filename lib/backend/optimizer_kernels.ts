/**
 * The optimizers' updates as wasm kernels: a single pass over parameter,
 * state and gradient on the wasm heap instead of a chain of elementwise
 * kernels, each with a full-size temporary (in our SIMD module when it loads,
 * else a JavaScript loop). The optimizers (lib/optim/) use them whenever the
 * active backend has them: Nesterov momentum, the seed's rescaling RMSProp
 * (with the sum of squares its global gradient norm needs), centred RMSProp
 * and Adam.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { ADAM_UPDATE } from "../optim/adam.ts";
import { NESTEROV_UPDATE } from "../optim/nesterov.ts";
import { RMSPROP_UPDATE } from "../optim/rmsprop.ts";
import {
  RESCALED_RMSPROP_UPDATE,
  SUM_OF_SQUARES,
} from "../optim/rmsprop_rescaled.ts";
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

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

/**
 * The inputs `names` of `kernel`, each float32 and of the first one's shape
 * (they are elementwise updates), or an error naming the input.
 */
function sameShapeInputs(
  kernel: string,
  inputs: tf.NamedTensorInfoMap,
  names: readonly string[],
): tf.TensorInfo[] {
  const infos = names.map((name) => {
    const info = inputs[name] as tf.TensorInfo | undefined;
    if (!info) throw new Error(`${kernel}: missing input "${name}".`);
    requireFloat32(info, kernel);
    return info;
  });
  const shape = infos[0].shape.join();
  infos.forEach((info, i) => {
    if (info.shape.join() !== shape) {
      throw new Error(
        `${kernel}: "${names[i]}" [${info.shape}] must have the shape of ` +
          `"${names[0]}" [${infos[0].shape}].`,
      );
    }
  });
  return infos;
}

/** `count` uninitialized float32 outputs of `shape`. */
function outputs(
  backend: WasmBackend,
  shape: number[],
  count: number,
): tf.TensorInfo[] {
  return Array.from({ length: count }, () => makeF32Output(backend, shape));
}

/** `sum(x^2)` of float32 `x` as a float32 scalar (squares in float32, summed in float64). */
function sumOfSquares(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const [x] = sameShapeInputs(SUM_OF_SQUARES, args.inputs, ["x"]);
  const n = tf.util.sizeFromShape(x.shape);
  const k = wasmKernels(backend);
  let total = 0;
  if (k) {
    const p = allocScratch(backend, 16);
    try {
      total = k.sum_sq(heapOffset(backend, x), n, p.offset);
    } finally {
      p.free();
    }
  } else {
    const v = f32View(backend, x);
    for (let i = 0; i < n; i++) total += Math.fround(v[i] * v[i]);
  }
  const out = makeF32Output(backend, []);
  f32View(backend, out)[0] = total;
  return out;
}

/**
 * `[param', memory', runningSquare', runningAvg']`, the seed's rescaling
 * RMSProp (lib/optim/rmsprop_rescaled.ts): gradient `scale * grad`, or
 * `0.1 * param` when `shrink`; running square and average with coefficient
 * 0.9; then the Nesterov step.
 */
function rescaledRMSPropUpdate(args: KernelArgs): tf.TensorInfo[] {
  const backend = asWasmBackend(args.backend);
  const ins = sameShapeInputs(RESCALED_RMSPROP_UPDATE, args.inputs, [
    "param",
    "memory",
    "runningSquare",
    "runningAvg",
    "grad",
  ]);
  const lr = args.attrs!.learningRate as number;
  const m = args.attrs!.momentum as number;
  const scale = args.attrs!.scale as number;
  const shrink = args.attrs!.shrink as boolean;
  const outs = outputs(backend, ins[0].shape, 4);
  const n = tf.util.sizeFromShape(ins[0].shape);
  const k = wasmKernels(backend);
  if (k) {
    const [p, mem, sq, avg, g, oP, oM, oSq, oAvg] = [...ins, ...outs].map((
      t,
    ) => heapOffset(backend, t));
    k.rmsprop_rescaled(
      p,
      mem,
      sq,
      avg,
      g,
      oP,
      oM,
      oSq,
      oAvg,
      n,
      lr,
      m,
      scale,
      shrink ? 1 : 0,
    );
    return outs;
  }
  // Views only after the allocations: heap growth replaces the buffer.
  const [p, mem, sq, avg, g, oP, oM, oSq, oAvg] = [...ins, ...outs].map((t) =>
    f32View(backend, t)
  );
  for (let i = 0; i < n; i++) {
    const gi = shrink ? 0.1 * p[i] : scale * g[i];
    oSq[i] = 0.9 * sq[i] + 0.1 * gi * gi;
    oAvg[i] = 0.9 * avg[i] + 0.1 * gi;
    const step = lr * gi;
    const u = m * mem[i] - step;
    oM[i] = u;
    oP[i] = p[i] + m * u - step;
  }
  return outs;
}

/**
 * `[param', meanSquare', meanGrad', delta']`, centred RMSProp with momentum
 * (Graves 2013; lib/optim/rmsprop.ts), plain or (`nesterov`) look-ahead step.
 */
function centeredRMSPropUpdate(args: KernelArgs): tf.TensorInfo[] {
  const backend = asWasmBackend(args.backend);
  const ins = sameShapeInputs(RMSPROP_UPDATE, args.inputs, [
    "param",
    "meanSquare",
    "meanGrad",
    "delta",
    "grad",
  ]);
  const lr = args.attrs!.learningRate as number;
  const decay = args.attrs!.decay as number;
  const m = args.attrs!.momentum as number;
  const eps = args.attrs!.epsilon as number;
  const nesterov = args.attrs!.nesterov as boolean;
  const outs = outputs(backend, ins[0].shape, 4);
  const n = tf.util.sizeFromShape(ins[0].shape);
  const k = wasmKernels(backend);
  if (k) {
    const [p, ms, mg, d, g, oP, oMs, oMg, oD] = [...ins, ...outs].map((t) =>
      heapOffset(backend, t)
    );
    k.rmsprop_centered(
      p,
      ms,
      mg,
      d,
      g,
      oP,
      oMs,
      oMg,
      oD,
      n,
      lr,
      decay,
      1 - decay,
      m,
      eps,
      nesterov ? 1 : 0,
    );
    return outs;
  }
  const [p, ms, mg, d, g, oP, oMs, oMg, oD] = [...ins, ...outs].map((t) =>
    f32View(backend, t)
  );
  const keep = 1 - decay;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const s2 = decay * ms[i] + keep * gi * gi;
    const s1 = decay * mg[i] + keep * gi;
    const variance = s2 - s1 * s1;
    const step = (lr * gi) / Math.sqrt((variance < 0 ? 0 : variance) + eps);
    const u = m * d[i] - step;
    oMs[i] = s2;
    oMg[i] = s1;
    oD[i] = u;
    oP[i] = nesterov ? p[i] + m * u - step : p[i] + u;
  }
  return outs;
}

/** `[param', m', v']`, Adam's update at step `step` (lib/optim/adam.ts). */
function adamUpdate(args: KernelArgs): tf.TensorInfo[] {
  const backend = asWasmBackend(args.backend);
  const ins = sameShapeInputs(ADAM_UPDATE, args.inputs, [
    "param",
    "m",
    "v",
    "grad",
  ]);
  const lr = args.attrs!.learningRate as number;
  const b1 = args.attrs!.beta1 as number;
  const b2 = args.attrs!.beta2 as number;
  const eps = args.attrs!.epsilon as number;
  const t = args.attrs!.step as number;
  const c1 = 1 - b1 ** t, c2 = 1 - b2 ** t;
  const outs = outputs(backend, ins[0].shape, 3);
  const n = tf.util.sizeFromShape(ins[0].shape);
  const k = wasmKernels(backend);
  if (k) {
    const [p, m1, m2, g, oP, oM1, oM2] = [...ins, ...outs].map((t) =>
      heapOffset(backend, t)
    );
    k.adam(
      p,
      m1,
      m2,
      g,
      oP,
      oM1,
      oM2,
      n,
      lr,
      b1,
      1 - b1,
      b2,
      1 - b2,
      c1,
      c2,
      eps,
    );
    return outs;
  }
  const [p, m1, m2, g, oP, oM1, oM2] = [...ins, ...outs].map((t) =>
    f32View(backend, t)
  );
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const a = b1 * m1[i] + (1 - b1) * gi;
    const b = b2 * m2[i] + (1 - b2) * gi * gi;
    oM1[i] = a;
    oM2[i] = b;
    oP[i] = p[i] - (a / c1 / (Math.sqrt(b / c2) + eps)) * lr;
  }
  return outs;
}

/** Registers the fused optimizer updates on the wasm backend (idempotent). */
export function registerWasmOptimizerKernels(): void {
  registerWasmKernelsOnce([
    [NESTEROV_UPDATE, nesterovUpdate],
    [SUM_OF_SQUARES, sumOfSquares],
    [RESCALED_RMSPROP_UPDATE, rescaledRMSPropUpdate],
    [RMSPROP_UPDATE, centeredRMSPropUpdate],
    [ADAM_UPDATE, adamUpdate],
  ]);
}
