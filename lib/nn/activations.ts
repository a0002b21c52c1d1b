/**
 * Activations by name, so model configs can say which one a layer uses.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/** The activations the seed's models use. */
export type Activation = "linear" | "relu" | "tanh" | "hardtanh" | "softplus";

/** Applies an activation by name (`hardtanh` clips to [-1, 1]). */
export function activate<T extends tf.Tensor>(x: T, a: Activation): T {
  switch (a) {
    case "linear":
      return x;
    case "relu":
      return tf.relu(x);
    case "tanh":
      return tf.tanh(x);
    case "hardtanh":
      return tf.clipByValue(x, -1, 1);
    case "softplus":
      return tf.softplus(x);
  }
}
