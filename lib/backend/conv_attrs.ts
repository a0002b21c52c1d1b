/**
 * Types of the attributes tfjs hands convolution and pooling kernels, which
 * reach a kernel untyped (`tf.NamedAttrMap`) and must be cast before they
 * go to `tf.backend_util`'s geometry functions.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";

/** `strides` or `dilations`: one value for both axes, or [height, width]. */
export type Strides = [number, number] | number;

/** `pad`: a mode, one number for every side, or explicit [before, after]s. */
export type Pad = "valid" | "same" | number | tf.backend_util.ExplicitPadding;

/** `dimRoundingMode`, used with a numeric `pad`. */
export type Rounding = "floor" | "round" | "ceil" | undefined;
