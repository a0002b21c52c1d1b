import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { ConvBN } from "../../lib/nn/conv_bn.ts";
import type { NormMode } from "../../lib/nn/module.ts";
import { assertClose, onBackend, randn } from "../backend/test_util.ts";

/** The same block written as separate ops (the reference). */
function separateOps(
  layer: ConvBN,
  x: tf.Tensor4D,
  mode: NormMode,
): tf.Tensor4D {
  const { conv, bn } = layer;
  let h = tf.add(
    tf.conv2d(x, conv.w as tf.Tensor4D, conv.stride, conv.padding),
    conv.b,
  ) as tf.Tensor4D;
  if (bn) {
    const stats = mode === "population"
      ? { mean: bn.popMean, variance: bn.popVar }
      : tf.moments(h, [0, 1, 2]);
    const std = tf.add(tf.sqrt(stats.variance), bn.epsilon);
    h = tf.add(tf.mul(tf.div(tf.sub(h, stats.mean), std), bn.gamma), bn.beta);
  }
  if (layer.activation === "relu") h = tf.relu(h);
  return layer.pool ? tf.maxPool(h, layer.pool, layer.pool, "valid") : h;
}

const cases = [
  {
    name: "3x3 same, BN, ReLU, 2x2 pool",
    kernel: 3,
    padding: "same",
    pool: 2,
    batchNorm: true,
    activation: "relu",
  },
  {
    name: "3x3 stride 2 valid, BN, ReLU",
    kernel: 3,
    stride: 2,
    padding: "valid",
    pool: 0,
    batchNorm: true,
    activation: "relu",
  },
  {
    name: "2x2 valid, no BN, ReLU, pool",
    kernel: 2,
    padding: "valid",
    pool: 2,
    batchNorm: false,
    activation: "relu",
  },
  {
    name: "3x3 same, BN, linear",
    kernel: 3,
    padding: "same",
    pool: 0,
    batchNorm: true,
    activation: "linear",
  },
] as const;

for (const backend of ["cpu", "wasm+blas"] as const) {
  for (const c of cases) {
    Deno.test(`ConvBN (${c.name}) equals the separate ops on ${backend}: values and gradients`, async () => {
      const run = (fused: boolean) =>
        onBackend(backend, () => {
          const layer = new ConvBN(3, 4, {
            seed: 7,
            kernel: c.kernel,
            stride: "stride" in c ? c.stride : 1,
            padding: c.padding,
            pool: c.pool,
            batchNorm: c.batchNorm,
            activation: c.activation,
            name: "t",
          });
          // Non-trivial gamma, beta and population statistics.
          if (layer.bn) {
            layer.bn.gamma.assign(tf.tensor1d([1.5, 0.5, 1, 2]));
            layer.bn.beta.assign(tf.tensor1d([0.1, -0.2, 0.3, 0]));
            layer.bn.popMean.assign(tf.tensor1d([0.1, 0.2, -0.1, 0]));
            layer.bn.popVar.assign(tf.tensor1d([0.5, 2, 1, 0.25]));
          }
          const x = tf.tensor4d(randn(2 * 8 * 8 * 3, 3), [2, 8, 8, 3]);
          const weights = tf.tensor(randn(2 * 8 * 8 * 4, 5)); // enough for any output
          const apply = (mode: NormMode) =>
            fused ? layer.apply(x, mode) : separateOps(layer, x, mode);
          const out: Record<string, tf.Tensor> = {};
          for (const mode of ["minibatch", "population"] as const) {
            out[mode] = apply(mode);
          }
          const loss = () => {
            const y = apply("minibatch");
            return tf.sum(
              tf.mul(y, tf.reshape(weights.slice(0, y.size), y.shape)),
            );
          };
          const { grads } = tf.variableGrads(
            loss as () => tf.Scalar,
            layer.trainable(),
          );
          layer.trainable().forEach((
            v,
            i,
          ) => (out[`grad${i}`] = grads[v.name]));
          return { ...out, shape: out.minibatch.shape.join("x") };
        });
      const fused = await run(true);
      const reference = await run(false);
      const [h, w] = new ConvBN(3, 4, {
        seed: 1,
        kernel: c.kernel,
        stride: "stride" in c ? c.stride : 1,
        padding: c.padding,
        pool: c.pool,
        batchNorm: c.batchNorm,
      }).outputSize(8, 8);
      assert.equal(fused.shape, `2x${h}x${w}x4`);
      assert.equal(fused.shape, reference.shape);
      for (const key of Object.keys(reference)) {
        if (key === "shape") continue;
        const a = fused[key as keyof typeof fused] as unknown as number[];
        const b =
          reference[key as keyof typeof reference] as unknown as number[];
        assertClose(a, b, 2e-4, `${key}`);
      }
    });
  }
}

Deno.test("ConvBN output sizes: valid, same, strides and pooling", () => {
  const at = (opts: ConstructorParameters<typeof ConvBN>[2]) =>
    new ConvBN(1, 1, opts).outputSize(28, 28);
  assert.deepEqual(at({ seed: 1, kernel: 3, padding: "same", pool: 2 }), [
    14,
    14,
  ]);
  assert.deepEqual(at({ seed: 1, kernel: 3, stride: 2 }), [13, 13]);
  assert.deepEqual(at({ seed: 1, kernel: 2 }), [27, 27]);
  assert.throws(() => at({ seed: 1, kernel: 2, pool: 1.5 }), /pool must be/);
});
