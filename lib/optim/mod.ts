/**
 * Optimizers by name, so a notebook's parameters can choose one:
 *
 * ```ts
 * const optimizer = makeOptimizer({ name: "nesterov", learningRate: 0.001, momentum: 0.9 });
 * ```
 *
 * | name               | class             | options (default)                                               |
 * | ------------------ | ----------------- | --------------------------------------------------------------- |
 * | `nesterov`         | NesterovMomentum  | momentum (0.9)                                                  |
 * | `rmsprop-rescaled` | RescaledRMSProp   | momentum (0.9), rescale (5)                                     |
 * | `rmsprop`          | CenteredRMSProp   | decay (0.95), momentum (0.9), epsilon (1e-4), nesterov (false)  |
 * | `adam`             | Adam              | beta1 (0.9), beta2 (0.999), epsilon (1e-8)                      |
 *
 * Every one takes `learningRate`, used as given: a caller whose cost is
 * summed over a minibatch (the seed's VAEs) passes `learningRate / batchSize`
 * to "nesterov" and "rmsprop-rescaled", as the seed did ("rmsprop" and "adam"
 * normalize the gradient's scale away, so they need no such division).
 * "rmsprop-rescaled" is the seed's `rmsprop` with its quirks
 * (lib/optim/rmsprop_rescaled.ts); "rmsprop" is the corrected, centred
 * RMSProp of Graves (2013) (lib/optim/rmsprop.ts).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import { Adam } from "./adam.ts";
import { NesterovMomentum } from "./nesterov.ts";
import { CenteredRMSProp } from "./rmsprop.ts";
import { RescaledRMSProp } from "./rmsprop_rescaled.ts";
import { checkPositive } from "./slots.ts";

/** Names {@linkcode makeOptimizer} accepts. */
export const OPTIMIZER_NAMES = [
  "nesterov",
  "rmsprop-rescaled",
  "rmsprop",
  "adam",
] as const;

/** An optimizer's name: see {@linkcode OPTIMIZER_NAMES}. */
export type OptimizerName = typeof OPTIMIZER_NAMES[number];

/** What {@linkcode makeOptimizer} builds. Options an optimizer does not take must be left out. */
export interface OptimizerSpec {
  /** Which optimizer. */
  name: OptimizerName;
  /** Step size, used as given (every optimizer). */
  learningRate: number;
  /** Momentum coefficient in [0, 1) ("nesterov", "rmsprop-rescaled", "rmsprop"); default 0.9. */
  momentum?: number;
  /** "rmsprop-rescaled": gradients scale by `rescale / max(rescale, sqrt(norm))`, > 0; default 5. */
  rescale?: number;
  /** "rmsprop": decay of the running averages, in [0, 1); default 0.95. */
  decay?: number;
  /** "rmsprop" (under the square root; default 1e-4) and "adam" (default 1e-8), > 0. */
  epsilon?: number;
  /** "rmsprop": the seed's Nesterov look-ahead step instead of Graves' plain momentum; default false. */
  nesterov?: boolean;
  /** "adam": decay of the first moment, in [0, 1); default 0.9. */
  beta1?: number;
  /** "adam": decay of the second moment, in [0, 1); default 0.999. */
  beta2?: number;
}

/** The options (besides `name`) each optimizer takes. */
export const OPTIMIZER_OPTIONS: Readonly<
  Record<OptimizerName, readonly (keyof OptimizerSpec)[]>
> = {
  nesterov: ["learningRate", "momentum"],
  "rmsprop-rescaled": ["learningRate", "momentum", "rescale"],
  rmsprop: ["learningRate", "decay", "momentum", "epsilon", "nesterov"],
  adam: ["learningRate", "beta1", "beta2", "epsilon"],
};

/**
 * Builds the optimizer `spec` names. Throws a RangeError naming an unknown
 * name and the known ones; an option the optimizer does not take (set to
 * anything but undefined) and the ones it does; or an option's bad value and
 * what is allowed.
 */
export function makeOptimizer(spec: OptimizerSpec): tf.Optimizer {
  const { name } = spec;
  if (!Object.hasOwn(OPTIMIZER_OPTIONS, name)) {
    throw new RangeError(
      `unknown optimizer ${
        typeof name === "string" ? `"${name}"` : String(name)
      }; use one of ${OPTIMIZER_NAMES.join(", ")}`,
    );
  }
  const takes: readonly string[] = OPTIMIZER_OPTIONS[name];
  for (const [option, value] of Object.entries(spec)) {
    if (option === "name" || value === undefined || takes.includes(option)) {
      continue;
    }
    throw new RangeError(
      `optimizer "${name}": option ${option} is not one it takes (${
        takes.join(", ")
      }), got ${typeof value === "string" ? JSON.stringify(value) : value}`,
    );
  }
  if (name === "nesterov") {
    const { learningRate } = spec;
    const momentum = spec.momentum ?? 0.9;
    if (!(Number.isFinite(learningRate) && learningRate > 0)) {
      throw new RangeError(
        `optimizer "${name}": learningRate must be a positive number, got ${learningRate}`,
      );
    }
    if (!(Number.isFinite(momentum) && momentum >= 0 && momentum < 1)) {
      throw new RangeError(
        `optimizer "${name}": momentum must be in [0, 1), got ${momentum}`,
      );
    }
    return new NesterovMomentum(learningRate, momentum);
  }
  // The classes default it; a spec must say it (as for "nesterov").
  checkPositive(name, "learningRate", spec.learningRate);
  switch (name) {
    case "rmsprop-rescaled":
      return new RescaledRMSProp({
        learningRate: spec.learningRate,
        momentum: spec.momentum,
        rescale: spec.rescale,
      });
    case "rmsprop":
      return new CenteredRMSProp({
        learningRate: spec.learningRate,
        decay: spec.decay,
        momentum: spec.momentum,
        epsilon: spec.epsilon,
        nesterov: spec.nesterov,
      });
    case "adam":
      return new Adam({
        learningRate: spec.learningRate,
        beta1: spec.beta1,
        beta2: spec.beta2,
        epsilon: spec.epsilon,
      });
  }
}
