/**
 * Depthwise-convolution gradients on the tfjs wasm backend's heap.
 *
 * tfjs-backend-wasm 4.22 has a forward `DepthwiseConv2dNative` but neither
 * backprop kernel, so `tf.grads` through a depthwise convolution fails on
 * wasm without these. Both are direct loops over the (output pixel, filter
 * tap) pairs that land inside the input, NHWC float32.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Pad, Rounding, Strides } from "./conv_attrs.ts";
import { installKernel, type KernelArgs } from "./kernel_registry.ts";
import { asWasmBackend, f32View as heapView } from "./wasm_heap.ts";

/** Kernel names {@linkcode registerWasmDepthwiseKernels} adds on wasm. */
export const DEPTHWISE_KERNEL_NAMES: readonly string[] = [
  "DepthwiseConv2dNativeBackpropFilter",
  "DepthwiseConv2dNativeBackpropInput",
];

/**
 * Installs `DepthwiseConv2dNativeBackpropFilter` and
 * `DepthwiseConv2dNativeBackpropInput` on wasm. Idempotent.
 */
export function registerWasmDepthwiseKernels(): void {
  installKernel(
    "DepthwiseConv2dNativeBackpropFilter",
    depthwiseConv2dBackpropFilter,
  );
  installKernel(
    "DepthwiseConv2dNativeBackpropInput",
    depthwiseConv2dBackpropInput,
  );
}

function depthwiseInfo(
  xShape: number[],
  filterShape: number[],
  attrs: tf.NamedAttrMap,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as Strides,
    (attrs.dilations as Strides | undefined) ?? 1,
    attrs.pad as Pad,
    attrs.dimRoundingMode as Rounding,
    true,
  );
}

/**
 * Visits every (output pixel, filter tap) pair of a depthwise convolution
 * that lands inside the input, with the flat offsets of the input pixel and
 * the output pixel (channel 0) and of the tap (channel 0, multiplier 0).
 */
function forEachDepthwiseTap(
  info: tf.backend_util.Conv2DInfo,
  visit: (xPixel: number, yPixel: number, tap: number) => void,
): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } =
    info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const { dilationHeight, dilationWidth, outChannels } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const yPixel = ((b * outHeight + oy) * outWidth + ox) * outChannels;
        for (let fy = 0; fy < filterHeight; fy++) {
          const iy = oy * strideHeight - top + fy * dilationHeight;
          if (iy < 0 || iy >= inHeight) continue;
          for (let fx = 0; fx < filterWidth; fx++) {
            const ix = ox * strideWidth - left + fx * dilationWidth;
            if (ix < 0 || ix >= inWidth) continue;
            const xPixel = ((b * inHeight + iy) * inWidth + ix) * inChannels;
            visit(xPixel, yPixel, (fy * filterWidth + fx) * outChannels);
          }
        }
      }
    }
  }
}

function depthwiseConv2dBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const attrs = args.attrs ?? {};
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const filterShape = attrs.filterShape as number[];
  const info = depthwiseInfo(x.shape, filterShape, attrs);
  const out = backend.makeOutput(filterShape, "float32");
  const dw = heapView(backend, out);
  const xs = heapView(backend, x);
  const dys = heapView(backend, dy);
  const inC = info.inChannels;
  const mult = info.outChannels / inC;
  dw.fill(0);
  forEachDepthwiseTap(info, (xp, yp, tap) => {
    for (let c = 0; c < inC; c++) {
      const v = xs[xp + c];
      for (let q = 0; q < mult; q++) {
        dw[tap + c * mult + q] += v * dys[yp + c * mult + q];
      }
    }
  });
  return out;
}

function depthwiseConv2dBackpropInput(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const attrs = args.attrs ?? {};
  const { dy, filter } = args.inputs as {
    dy: tf.TensorInfo;
    filter: tf.TensorInfo;
  };
  const inputShape = attrs.inputShape as number[];
  const info = depthwiseInfo(inputShape, filter.shape, attrs);
  const out = backend.makeOutput(inputShape, "float32");
  const dx = heapView(backend, out);
  const w = heapView(backend, filter);
  const dys = heapView(backend, dy);
  const inC = info.inChannels;
  const mult = info.outChannels / inC;
  dx.fill(0);
  forEachDepthwiseTap(info, (xp, yp, tap) => {
    for (let c = 0; c < inC; c++) {
      let s = 0;
      for (let q = 0; q < mult; q++) {
        s += w[tap + c * mult + q] * dys[yp + c * mult + q];
      }
      dx[xp + c] += s;
    }
  });
  return out;
}
