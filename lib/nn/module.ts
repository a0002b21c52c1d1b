/**
 * The parameter bookkeeping every layer and model shares.
 *
 * @module
 */
// The union package registers the gradients of every op (tfjs-core alone
// does not); it shares our tfjs-core instance.
import "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs-core";

/** Anything that owns variables: a layer or a model. */
export interface Module {
  /** Trainable variables (what the optimizer updates). */
  trainable(): tf.Variable[];
  /** Non-trainable state, e.g. batch-norm population statistics. */
  state(): tf.Variable[];
}

/** Concatenates the trainable variables of several modules. */
export function trainableOf(modules: Module[]): tf.Variable[] {
  return modules.flatMap((m) => m.trainable());
}

/** Concatenates the non-trainable state of several modules. */
export function stateOf(modules: Module[]): tf.Variable[] {
  return modules.flatMap((m) => m.state());
}

/** Disposes every variable a module owns. */
export function disposeModule(m: Module): void {
  for (const v of [...m.trainable(), ...m.state()]) v.dispose();
}

/** How a batch-normalized network normalizes its activations. */
export type NormMode =
  /** Minibatch statistics, and the population estimates are updated (training). */
  | "train"
  /** Minibatch statistics, population estimates untouched (the seed's inference). */
  | "minibatch"
  /** Population statistics: the fixed point used for inference. */
  | "population";

let nextId = 0;
/** A unique variable name with a readable prefix. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${nextId++}`;
}

/**
 * Uniform weights in [-scale, scale], drawn with a seed so runs repeat
 * (the seed used 0.1).
 */
export function uniformInit(
  shape: number[],
  scale: number,
  seed: number,
  name: string,
): tf.Variable {
  return tf.tidy(() =>
    tf.variable(
      tf.randomUniform(shape, -scale, scale, "float32", seed),
      true,
      uniqueName(name),
    )
  );
}
