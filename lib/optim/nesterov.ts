/**
 * SGD with Nesterov momentum, exactly as the seed's `sgd_nesterov`:
 *
 * ```
 * update = m * memory - lr * g
 * param += m * m * memory - (1 + m) * lr * g
 * memory = update
 * ```
 *
 * (the "look-ahead" form of Nesterov momentum, Bengio et al. 2012). The seed
 * summed its costs over a minibatch and divided the learning rate by the batch
 * size; pass `learningRate / batchSize` to do the same.
 *
 * @module
 */
// The union package registers the gradients of every op (tfjs-core alone
// does not); it shares our tfjs-core instance.
import "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs-core";

/** A named tensor, as `tf.Optimizer` exchanges them. */
type NamedTensor = { name: string; tensor: tf.Tensor };

/**
 * Name of the optional fused kernel `[param', memory'] = f(param, memory,
 * grad; learningRate, momentum)`. A backend that registers it (the wasm
 * backends do, lib/backend/optimizer_kernels.ts) gets one kernel call per
 * variable instead of six.
 */
export const NESTEROV_UPDATE = "NesterovMomentumUpdate";

/** A `tf.Optimizer`, so it plugs into `minimize` like tfjs' own. */
export class NesterovMomentum extends tf.Optimizer {
  /** Registered class name (for serialization). */
  static get className(): string {
    return "NesterovMomentum";
  }

  #memory = new Map<string, tf.Variable>();

  constructor(public learningRate: number, public momentum: number) {
    super();
  }

  override applyGradients(
    variableGradients: tf.NamedTensorMap | NamedTensor[],
  ): void {
    const list = Array.isArray(variableGradients)
      ? variableGradients
      : Object.entries(variableGradients).map(([name, tensor]) => ({
        name,
        tensor,
      }));
    const lr = this.learningRate;
    const m = this.momentum;
    for (const { name, tensor: g } of list) {
      if (g == null) continue;
      const param = tf.engine().registeredVariables[name];
      let memory = this.#memory.get(name);
      if (!memory) {
        memory = tf.tidy(() => tf.variable(tf.zerosLike(param), false));
        this.#memory.set(name, memory);
      }
      const mem = memory;
      const fused = g.dtype === "float32" &&
        tf.getKernel(NESTEROV_UPDATE, tf.getBackend()) !== undefined;
      tf.tidy(() => {
        if (fused) {
          const [p, u] = tf.engine().runKernel(
            NESTEROV_UPDATE,
            { param, memory: mem, grad: g },
            { learningRate: lr, momentum: m },
          ) as tf.Tensor[];
          param.assign(p);
          mem.assign(u);
          return;
        }
        // param += m*m*memory - (1+m)*lr*g equals m*update - lr*g.
        const step = tf.mul(g, lr);
        const update = tf.sub(tf.mul(mem, m), step);
        param.assign(tf.add(param, tf.sub(tf.mul(update, m), step)));
        mem.assign(update);
      });
    }
    this.incrementIterations();
  }

  override dispose(): void {
    super.dispose();
    for (const v of this.#memory.values()) v.dispose();
    this.#memory.clear();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    return [
      await this.saveIterations(),
      ...[...this.#memory].map(([name, tensor]) => ({
        name: `${name}/memory`,
        tensor,
      })),
    ];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    for (const { name, tensor } of rest) {
      const key = name.replace(/\/memory$/, "");
      this.#memory.get(key)?.dispose();
      this.#memory.set(key, tf.variable(tensor, false));
    }
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, momentum: this.momentum };
  }

  /** Builds an optimizer from {@linkcode getConfig}'s output. */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config.learningRate, config.momentum);
  }
}

tf.serialization.registerClass(NesterovMomentum);
