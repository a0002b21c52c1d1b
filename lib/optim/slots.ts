/**
 * What the optimizers of this folder share: the gradients as a list, the
 * per-variable state ("slots", non-trainable variables, exposed by
 * `getWeights`/`setWeights` as `<variable>/<slot>`), the test for a fused
 * kernel, and the option checks whose messages name the optimizer, the
 * option, its value and what is allowed.
 *
 * @module
 */
// The union package registers the gradients of every op (tfjs-core alone
// does not); it shares our tfjs-core instance.
import "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs-core";

/** A named tensor, as `tf.Optimizer` exchanges them. */
export type NamedTensor = { name: string; tensor: tf.Tensor };

/** `applyGradients`' argument as a list, gradients that are null left out. */
export function gradientList(
  variableGradients: tf.NamedTensorMap | NamedTensor[],
): NamedTensor[] {
  const list = Array.isArray(variableGradients)
    ? variableGradients
    : Object.entries(variableGradients).map(([name, tensor]) => ({
      name,
      tensor,
    }));
  return list.filter(({ tensor }) => tensor != null);
}

/**
 * True when the active backend registers `kernel` and every tensor is
 * float32 (the fused kernels' only type); otherwise use tf ops.
 */
export function hasFusedKernel(
  kernel: string,
  ...tensors: tf.Tensor[]
): boolean {
  return tensors.every((t) => t.dtype === "float32") &&
    tf.getKernel(kernel, tf.getBackend()) !== undefined;
}

/** Runs a kernel with several outputs through the engine (tracked by tidy). */
export function runKernel(
  kernel: string,
  inputs: Record<string, tf.Tensor>,
  attrs: Record<string, number | boolean>,
): tf.Tensor[] {
  return tf.engine().runKernel(
    kernel,
    inputs as unknown as tf.NamedTensorMap,
    attrs,
  ) as tf.Tensor[];
}

/** The registered variable `name`, or an error that says what is wrong. */
function variableNamed(name: string): tf.Variable {
  const param = tf.engine().registeredVariables[name];
  if (!param) {
    throw new Error(
      `applyGradients: no variable named "${name}" is registered; pass ` +
        "gradients keyed by tf.Variable names (what computeGradients returns).",
    );
  }
  return param;
}

/**
 * Per-variable optimizer state: for each variable name, one zero-initialized
 * non-trainable variable per slot name, created on the variable's first
 * gradient.
 */
export class Slots<K extends string> {
  readonly #names: readonly K[];
  #state = new Map<string, Record<K, tf.Variable>>();

  constructor(names: readonly K[]) {
    this.#names = names;
  }

  /** The variable `name` and its slots (created as zeros if new). */
  of(name: string): { param: tf.Variable; slots: Record<K, tf.Variable> } {
    const param = variableNamed(name);
    let slots = this.#state.get(name);
    if (!slots) {
      slots = {} as Record<K, tf.Variable>;
      for (const k of this.#names) {
        slots[k] = tf.tidy(() => tf.variable(tf.zerosLike(param), false));
      }
      this.#state.set(name, slots);
    }
    return { param, slots };
  }

  /** Every slot as `{ name: "<variable>/<slot>", tensor }`. */
  weights(): NamedTensor[] {
    return [...this.#state].flatMap(([name, slots]) =>
      this.#names.map((k) => ({ name: `${name}/${k}`, tensor: slots[k] }))
    );
  }

  /**
   * Replaces the state from {@linkcode weights}' format. A variable's slots
   * missing from `weights` are zeros.
   */
  restore(weights: NamedTensor[]): void {
    for (const { name, tensor } of weights) {
      const k = this.#names.find((k) => name.endsWith(`/${k}`));
      if (k === undefined) {
        throw new Error(
          `setWeights: "${name}" does not end in /${
            this.#names.join(", /")
          }, the slots this optimizer keeps.`,
        );
      }
      const key = name.slice(0, name.length - k.length - 1);
      let slots = this.#state.get(key);
      if (!slots) {
        slots = {} as Record<K, tf.Variable>;
        for (const j of this.#names) {
          slots[j] = tf.tidy(() => tf.variable(tf.zerosLike(tensor), false));
        }
        this.#state.set(key, slots);
      }
      slots[k].dispose();
      slots[k] = tf.variable(tensor, false);
    }
  }

  /** Disposes every slot. */
  dispose(): void {
    for (const slots of this.#state.values()) {
      for (const k of this.#names) slots[k].dispose();
    }
    this.#state.clear();
  }
}

/**
 * A `tf.Optimizer` whose state is {@linkcode Slots}: disposing, saving
 * (`[iterations, <variable>/<slot>, ...]`), restoring and rebuilding from
 * its config are the same for all of them.
 */
export abstract class SlottedOptimizer<K extends string> extends tf.Optimizer {
  /** The per-variable state. */
  protected readonly slots: Slots<K>;

  constructor(names: readonly K[]) {
    super();
    this.slots = new Slots(names);
  }

  override dispose(): void {
    super.dispose();
    this.slots.dispose();
  }

  /** `[iterations, <variable>/<slot>, ...]`. */
  override async getWeights(): Promise<NamedTensor[]> {
    return [await this.saveIterations(), ...this.slots.weights()];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    this.slots.restore(await this.extractIterations(weightValues));
  }

  /** Builds an optimizer from its `getConfig()` (its constructor's options). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config);
  }
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** Throws unless `value` is a finite number > 0. */
export function checkPositive(
  optimizer: string,
  option: string,
  value: unknown,
): number {
  if (!(typeof value === "number" && Number.isFinite(value) && value > 0)) {
    throw new RangeError(
      `optimizer "${optimizer}": ${option} must be a positive number, got ${
        show(value)
      }`,
    );
  }
  return value;
}

/** Throws unless `value` is a number in [0, 1). */
export function checkFraction(
  optimizer: string,
  option: string,
  value: unknown,
): number {
  if (!(typeof value === "number" && value >= 0 && value < 1)) {
    throw new RangeError(
      `optimizer "${optimizer}": ${option} must be in [0, 1), got ${
        show(value)
      }`,
    );
  }
  return value;
}

/** Throws unless `value` is true or false. */
export function checkBoolean(
  optimizer: string,
  option: string,
  value: unknown,
): boolean {
  if (typeof value !== "boolean") {
    throw new RangeError(
      `optimizer "${optimizer}": ${option} must be true or false, got ${
        show(value)
      }`,
    );
  }
  return value;
}
