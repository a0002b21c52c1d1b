/**
 * Convolution kernels for the wasm backend: BLAS-backed (im2col + sgemm) and
 * the training kernels plain wasm lacks. (Placeholder: being implemented.)
 *
 * @module
 */
import type { Blas } from "./blas.ts";

/** Registers BLAS-backed Conv2D, FusedConv2D, Conv2DBackpropInput and Conv2DBackpropFilter on wasm. */
export function registerBlasConvKernels(_blas: Blas): void {}

/** Registers the training kernels plain wasm lacks (Conv2DBackpropFilter, ...). */
export function registerWasmConvKernels(): void {}
