import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import type { LabelledImages } from "../../lib/data/images.ts";
import { BNConvNet } from "../../lib/models/bn_convnet.ts";
import { BatchNorm } from "../../lib/nn/batch_norm.ts";
import {
  type BatchNormModel,
  compareNormModes,
  recalibrateBatchNorm,
} from "../../lib/nn/batch_norm_model.ts";
import type { NormMode } from "../../lib/nn/module.ts";
import { deriveSeed } from "../../lib/random.ts";
import { assertAllClose, randomImages } from "../test_util.ts";

await tf.setBackend("cpu");

/** A "network" that is one batch norm over its two flat inputs. */
class OneBatchNorm implements BatchNormModel {
  readonly inputLayout = "flat" as const;
  readonly bn = new BatchNorm(2);
  seeds: number[] = [];
  batchSizes: number[] = [];
  batchNormSites() {
    return [{ name: "bn", bn: this.bn, valuesPerExample: 1 }];
  }
  forwardPass(x: tf.Tensor, mode: NormMode, opts: { seed?: number } = {}) {
    this.seeds.push(opts.seed!);
    this.batchSizes.push(x.shape[0]);
    this.bn.apply(x, mode);
  }
  trainable() {
    return this.bn.trainable();
  }
  state() {
    return this.bn.state();
  }
}

function rows(values: number[][]): LabelledImages {
  return {
    images: Float32Array.from(values.flat()),
    labels: new Uint8Array(values.length),
    count: values.length,
    height: 1,
    width: 2,
    channels: 1,
  };
}

Deno.test("recalibrateBatchNorm: mean of batch means, mean batch variance * m/(m-1), by hand", async () => {
  const model = new OneBatchNorm();
  // Batches [[1, 2], [3, 6]] and [[5, 0], [7, 0]]; the fifth row is a smaller
  // last batch and is left out. Batch means [2, 4] and [6, 0]; biased
  // variances [1, 4] and [1, 0]; m = 2.
  const data = rows([[1, 2], [3, 6], [5, 0], [7, 0], [100, 100]]);
  await recalibrateBatchNorm(model, data, { batchSize: 2, seed: 5 });
  assertAllClose(model.bn.popMean, [4, 2]);
  assertAllClose(model.bn.popVar, [(1 + 1) / 2 * 2, (4 + 0) / 2 * 2]);
  assert.deepEqual(model.batchSizes, [2, 2]);
  // Batch i draws its noise from deriveSeed(seed, "recalibration", i).
  assert.deepEqual(model.seeds, [
    deriveSeed(5, "recalibration", 0),
    deriveSeed(5, "recalibration", 1),
  ]);
  // `limit` keeps the first images only: one batch, [[1, 2], [3, 6]].
  await recalibrateBatchNorm(model, data, { batchSize: 2, limit: 2, seed: 0 });
  assertAllClose(model.bn.popMean, [2, 4]);
  assertAllClose(model.bn.popVar, [2, 8]);
});

Deno.test("recalibrateBatchNorm of conv layers averages over batch * H * W values", async () => {
  // 32x32 inputs: conv0 gives 15x15 maps, conv1 6x6, conv2 2x2.
  const net = new BNConvNet({ seed: 3, width: 0.125, inputSize: 32 });
  assert.deepEqual(
    net.batchNormSites().map((s) => [s.name, s.valuesPerExample]),
    [["conv0", 225], ["conv1", 36], ["conv2", 4], ["fc0", 1], ["fc1", 1]],
  );
  const set = randomImages(6, 32, 8);
  await recalibrateBatchNorm(net, set, { batchSize: 3, seed: 0 });
  // By hand, per channel of conv0 in batches [0,1,2] and [3,4,5]: mean of the
  // batch means, and mean of the biased batch variances times m / (m - 1)
  // with m = 3 * 15 * 15 = 675.
  const conv = net.stages[0].conv;
  const features = conv.outChannels;
  const batchStats = [[0, 1, 2], [3, 4, 5]].map((idx) => {
    const x = tf.tensor4d(
      set.images.slice(idx[0] * 3072, (idx[2] + 1) * 3072),
      [3, 32, 32, 3],
    );
    const y = conv.apply(x).dataSync();
    const mean = new Array(features).fill(0);
    const sq = new Array(features).fill(0);
    const m = y.length / features;
    assert.equal(m, 675);
    for (let i = 0; i < y.length; i++) mean[i % features] += y[i] / m;
    for (let i = 0; i < y.length; i++) {
      sq[i % features] += (y[i] - mean[i % features]) ** 2 / m;
    }
    return { mean, variance: sq };
  });
  const expectedMean = batchStats[0].mean.map((a, j) =>
    (a + batchStats[1].mean[j]) / 2
  );
  const expectedVar = batchStats[0].variance.map((a, j) =>
    ((a + batchStats[1].variance[j]) / 2) * 675 / 674
  );
  const bn = net.stages[0].bn!;
  assertAllClose(bn.popMean, expectedMean, 1e-5);
  assertAllClose(
    bn.popVar.dataSync().map((v, j) => v / expectedVar[j]),
    expectedVar.map(() => 1),
    1e-4,
  );
  // Without batch norm it is a no-op.
  const plain = new BNConvNet({
    seed: 3,
    width: 0.125,
    inputSize: 32,
    batchNorm: false,
  });
  assert.deepEqual(plain.batchNormSites(), []);
  await recalibrateBatchNorm(plain, set, { batchSize: 3, seed: 0 });
});

Deno.test("compareNormModes: the population row first, labelled with the batch size it ran at", () => {
  const calls: string[] = [];
  const rows = compareNormModes((mode, b) => {
    calls.push(`${mode}@${b}`);
    return { cost: mode === "population" ? 1 : 10 / b };
  }, [10, 100]);
  assert.deepEqual(calls, ["population@100", "minibatch@10", "minibatch@100"]);
  assert.deepEqual(rows, [
    { statistics: "population", batchSize: 100, cost: 1 },
    { statistics: "minibatch", batchSize: 10, cost: 1 },
    { statistics: "minibatch", batchSize: 100, cost: 0.1 },
  ]);
  const at = compareNormModes(() => ({ cost: 0 }), [10], {
    populationBatchSize: 7,
  });
  assert.equal(at[0].batchSize, 7);
  assert.throws(() => compareNormModes(() => ({}), []), /at least one/);
});
