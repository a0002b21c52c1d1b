import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { BNConvNet } from "../../lib/models/bn_convnet.ts";
import { assertAllClose } from "../test_util.ts";

await tf.setBackend("cpu");

Deno.test("BNConvNet has the seed's shapes at full and half width, with and without BN", () => {
  const x = tf.randomNormal([2, 48, 48, 3], 0, 1, "float32", 3) as tf.Tensor4D;
  for (const width of [1, 0.5]) {
    for (const batchNorm of [true, false]) {
      const net = new BNConvNet({ seed: 1, width, batchNorm });
      const c = (n: number) => Math.round(n * width);
      // 48 -> conv 3x3/2: 23 -> pool 11 -> conv 2x2: 10 -> pool 5 -> conv 2x2: 4 -> pool 2.
      assert.equal(net.flatSize, 2 * 2 * c(128));
      assert.deepEqual(
        net.stages.map((s) => s.conv.w.shape),
        [[3, 3, 3, c(32)], [2, 2, c(32), c(64)], [2, 2, c(64), c(128)]],
      );
      assert.deepEqual(net.stages.map((s) => s.conv.stride), [2, 1, 1]);
      assert.deepEqual(
        net.hidden.map((l) => [l.dense.inputs, l.dense.outputs]),
        [[2 * 2 * c(128), c(128)], [c(128), c(16)]],
      );
      assert.equal(net.output.outputs, 2);
      const sites = net.batchNormSites();
      assert.deepEqual(
        sites.map((s) => [s.name, s.bn.features, s.valuesPerExample]),
        batchNorm
          ? [
            ["conv0", c(32), 23 * 23],
            ["conv1", c(64), 10 * 10],
            ["conv2", c(128), 4 * 4],
            ["fc0", c(128), 1],
            ["fc1", c(16), 1],
          ]
          : [],
      );
      assert.equal(net.state().length, batchNorm ? 10 : 0);
      for (const mode of ["train", "minibatch", "population"] as const) {
        assert.deepEqual(net.logits(x, mode).shape, [2, 2]);
      }
      const p = net.probabilities(x, "population").dataSync();
      assertAllClose([p[0] + p[1], p[2] + p[3]], [1, 1], 1e-6);
    }
  }
  // The full net's weights are the seed's 0.1-uniform draws.
  const w = new BNConvNet({ seed: 1 }).stages[0].conv.w.dataSync();
  assert.ok(w.every((v) => Math.abs(v) <= 0.1));
  assert.ok(Math.max(...w) > 0.09 && Math.min(...w) < -0.09);
});

Deno.test("the tap sees each batch norm's input", () => {
  const net = new BNConvNet({ seed: 2, width: 0.25 });
  const names = new Map(net.batchNormSites().map((s) => [s.bn, s.name]));
  const seen: string[] = [];
  net.forwardPass(tf.randomNormal([3, 48, 48, 3]), "minibatch", {
    tap: (bn, input) => seen.push(`${names.get(bn)}:${input.shape.join("x")}`),
  });
  assert.deepEqual(seen, [
    "conv0:3x23x23x8",
    "conv1:3x10x10x16",
    "conv2:3x4x4x32",
    "fc0:3x32",
    "fc1:3x4",
  ]);
});

Deno.test("the loss's gradient matches central differences (BN, minibatch statistics)", () => {
  // A narrow net on 32x32 inputs: 15 -> 7 -> 6 -> 3 -> 2 -> 1, flat 16.
  const net = new BNConvNet({ seed: 5, width: 0.125, inputSize: 32 });
  assert.equal(net.flatSize, 16);
  const x = tf.randomNormal([4, 32, 32, 3], 0, 1, "float32", 9) as tf.Tensor4D;
  const y = tf.tensor1d([0, 1, 1, 0]);
  const variables = net.trainable();
  const lossValue = () =>
    tf.tidy(() => net.loss(x, y, "minibatch").loss.dataSync()[0]);
  const { grads } = tf.variableGrads(
    () => net.loss(x, y, "minibatch").loss,
    variables,
  );
  // Max pooling and ReLU have kinks: an entry whose one-sided differences
  // disagree sits next to one and is skipped (at most a quarter of them).
  const h = 1e-3;
  let checked = 0, skipped = 0;
  for (const v of variables) {
    const g = grads[v.name].dataSync();
    const values = v.dataSync().slice();
    for (let k = 0; k < 4; k++) {
      const i = Math.floor((k * (values.length - 1)) / 3);
      const at = (d: number) => {
        const copy = values.slice();
        copy[i] += d;
        v.assign(tf.tensor(copy, v.shape));
        return lossValue();
      };
      const [up, mid, down] = [at(h), at(0), at(-h)];
      v.assign(tf.tensor(values, v.shape));
      const right = (up - mid) / h, left = (mid - down) / h;
      if (Math.abs(right - left) > 0.005 + 0.02 * Math.abs(right + left)) {
        skipped++;
        continue;
      }
      const numeric = (up - down) / (2 * h);
      assert.ok(
        Math.abs(g[i] - numeric) <= 2e-3 + 0.03 * Math.abs(numeric),
        `${v.name}[${i}]: analytic ${g[i]} vs numeric ${numeric}`,
      );
      checked++;
    }
  }
  assert.ok(skipped <= checked / 3, `${skipped} entries skipped at kinks`);
  // conv w, b, gamma, beta x 3; dense w, b, gamma, beta x 2; output w, b.
  assert.equal(variables.length, 3 * 4 + 2 * 4 + 2);
  assert.equal(checked + skipped, 4 * variables.length);
});
