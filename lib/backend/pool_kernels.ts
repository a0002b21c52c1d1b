/**
 * Max-pooling gradient on the tfjs wasm backend's heap.
 *
 * `MaxPoolGrad` sends each window's `dy` to the window's first maximum of
 * the input, scanning rows then columns and keeping a value only when it is
 * strictly greater, exactly as tfjs-backend-cpu does (so ties go to the
 * first maximum, NaN is never a maximum, and a window of only NaN or
 * `-Infinity` passes no gradient). It reads `dy` and `input` only; the
 * pooled `output` tfjs also passes is not needed.
 *
 * Windows that cannot overlap (stride at least the window, no padding, no
 * dilation: the usual 2x2 stride 2 "valid" pooling) take a single pass over
 * `dy` that writes each gradient once (2x2 windows in our SIMD module when it
 * loads, lib/backend/wasm/kernels.c); any other pooling takes a general loop
 * that accumulates.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Pad, Rounding, Strides } from "./conv_attrs.ts";
import {
  callStockKernel,
  installKernel,
  type KernelArgs,
} from "./kernel_registry.ts";
import { asWasmBackend, f32View, heapOffset } from "./wasm_heap.ts";
import { wasmKernels } from "./wasm_kernels.ts";

/** Kernel names {@linkcode registerWasmPoolKernels} replaces on wasm. */
export const POOL_KERNEL_NAMES: readonly string[] = ["MaxPoolGrad"];

/**
 * Installs `MaxPoolGrad` on wasm: {@linkcode wasmMaxPoolGrad} for float32,
 * the stock kernel for other dtypes. Idempotent.
 */
export function registerWasmPoolKernels(): void {
  installKernel(
    "MaxPoolGrad",
    (args) =>
      wasmMaxPoolGrad(args) ??
        callStockKernel("MaxPoolGrad", args, { why: "non-float32 input" }),
  );
}

/**
 * The `MaxPoolGrad` kernel for float32 `dy` and `input` on wasm; returns
 * null for other dtypes so the caller can fall back to the stock kernel.
 */
export function wasmMaxPoolGrad(args: KernelArgs): tf.TensorInfo | null {
  const backend = asWasmBackend(args.backend);
  const attrs = args.attrs ?? {};
  const { dy, input } = args.inputs as {
    dy: tf.TensorInfo;
    input: tf.TensorInfo;
  };
  if (dy.dtype !== "float32" || input.dtype !== "float32") return null;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize as [number, number] | number,
    attrs.strides as Strides,
    1,
    attrs.pad as Pad,
    attrs.dimRoundingMode as Rounding,
  );
  const out = backend.makeOutput(input.shape, "float32");
  // Views only after the allocation: heap growth replaces the buffer.
  const dx = f32View(backend, out);
  const xs = f32View(backend, input);
  const dys = f32View(backend, dy);
  const k = wasmKernels(backend);
  const simd2x2 = k !== null && isDisjoint(info) &&
    info.filterHeight === 2 && info.filterWidth === 2;
  // The 2x2 kernel writes every tap of every window: when the windows tile
  // the input, nothing is left to zero.
  if (!(simd2x2 && tiles(info)) || dys.length === 0) dx.fill(0);
  if (dx.length === 0 || dys.length === 0) return out;
  if (isDisjoint(info)) {
    if (k && simd2x2) {
      k.max_pool_grad_2x2(
        heapOffset(backend, input),
        heapOffset(backend, dy),
        heapOffset(backend, out),
        info.batchSize,
        info.inHeight,
        info.inWidth,
        info.inChannels,
        info.outHeight,
        info.outWidth,
        info.strideHeight,
        info.strideWidth,
      );
    } else {
      maxPoolGradDisjoint(info, xs, dys, dx);
    }
  } else {
    maxPoolGradGeneral(info, xs, dys, dx);
  }
  return out;
}

/** True when the windows cover the input exactly, edge to edge (stride = window). */
function tiles(info: tf.backend_util.Conv2DInfo): boolean {
  return info.strideHeight === info.filterHeight &&
    info.strideWidth === info.filterWidth &&
    info.outHeight * info.strideHeight === info.inHeight &&
    info.outWidth * info.strideWidth === info.inWidth;
}

/** True when every window lies inside the input and no two overlap. */
export function isDisjoint(info: tf.backend_util.Conv2DInfo): boolean {
  return info.dilationHeight === 1 && info.dilationWidth === 1 &&
    info.padInfo.top === 0 && info.padInfo.left === 0 &&
    info.strideHeight >= info.filterHeight &&
    info.strideWidth >= info.filterWidth &&
    (info.outHeight - 1) * info.strideHeight + info.filterHeight <=
      info.inHeight &&
    (info.outWidth - 1) * info.strideWidth + info.filterWidth <= info.inWidth;
}

/** Windows of any size that do not overlap: one write per value. */
function maxPoolGradDisjoint(
  info: tf.backend_util.Conv2DInfo,
  xs: Float32Array,
  dys: Float32Array,
  dx: Float32Array,
): void {
  const { batchSize, inHeight, inWidth, inChannels: c } = info;
  const { outHeight, outWidth, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth } = info;
  const rowStep = inWidth * c;
  let y = 0;
  for (let b = 0; b < batchSize; b++) {
    const image = b * inHeight * rowStep;
    for (let oy = 0; oy < outHeight; oy++) {
      const row = image + oy * strideHeight * rowStep;
      for (let ox = 0; ox < outWidth; ox++, y += c) {
        const corner = row + ox * strideWidth * c;
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let where = -1;
          for (let fy = 0; fy < filterHeight; fy++) {
            let p = corner + fy * rowStep + ch;
            for (let fx = 0; fx < filterWidth; fx++, p += c) {
              const v = xs[p];
              if (v > best) {
                best = v;
                where = p;
              }
            }
          }
          if (where >= 0) dx[where] = dys[y + ch];
        }
      }
    }
  }
}

/** Any pooling geometry: overlapping windows add into dx. */
function maxPoolGradGeneral(
  info: tf.backend_util.Conv2DInfo,
  xs: Float32Array,
  dys: Float32Array,
  dx: Float32Array,
): void {
  const { batchSize, inHeight, inWidth, inChannels: c } = info;
  const { outHeight, outWidth, strideHeight, strideWidth } = info;
  const { effectiveFilterHeight, effectiveFilterWidth } = info;
  const { dilationHeight, dilationWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Input offsets of the window's taps inside the image, in scan order
  // (rows, then columns) so ties go to the first maximum as on cpu.
  const taps = new Int32Array(
    Math.ceil(effectiveFilterHeight / dilationHeight) *
      Math.ceil(effectiveFilterWidth / dilationWidth),
  );
  let y = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++, y += c) {
        let nTaps = 0;
        for (let fy = 0; fy < effectiveFilterHeight; fy += dilationHeight) {
          const iy = oy * strideHeight - top + fy;
          if (iy < 0 || iy >= inHeight) continue;
          for (let fx = 0; fx < effectiveFilterWidth; fx += dilationWidth) {
            const ix = ox * strideWidth - left + fx;
            if (ix < 0 || ix >= inWidth) continue;
            taps[nTaps++] = ((b * inHeight + iy) * inWidth + ix) * c;
          }
        }
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let where = -1;
          for (let t = 0; t < nTaps; t++) {
            const v = xs[taps[t] + ch];
            if (v > best) {
              best = v;
              where = taps[t] + ch;
            }
          }
          if (where >= 0) dx[where] += dys[y + ch];
        }
      }
    }
  }
}
