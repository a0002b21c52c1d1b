import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { describeEpoch, fit, fitMinibatches, trainStep } from "../lib/train.ts";
import { NesterovMomentum } from "../lib/optim/nesterov.ts";

await tf.setBackend("cpu");

Deno.test("fit: per-epoch means weighted by count, evaluation merged, one row per epoch", async () => {
  const seen: number[][] = [];
  const history = await fit({
    epochs: 2,
    label: false,
    steps: (epoch) => epoch + 2, // 2 steps, then 3
    step: (epoch, i) => {
      seen.push([epoch, i]);
      // Batches of 1 and 3 examples with per-example costs 10 and 2.
      return i === 0 ? { cost: 10, count: 1 } : { cost: 2, count: 3 };
    },
    evaluate: (epoch) => ({ valid_cost: 100 + epoch }),
  });
  assert.deepEqual(seen, [[0, 0], [0, 1], [1, 0], [1, 1], [1, 2]]);
  assert.equal(history.length, 2);
  assert.equal(history[0].train_cost, (10 * 1 + 2 * 3) / 4);
  assert.equal(history[1].train_cost, (10 * 1 + 2 * 3 + 2 * 3) / 7);
  assert.equal(history[1].valid_cost, 101);
  assert.equal(history[1].epoch, 2);
  assert.ok(history[0].seconds >= 0);
});

Deno.test("fit names the epoch and step where training diverged", async () => {
  await assert.rejects(
    fit({
      epochs: 1,
      label: false,
      steps: () => 3,
      step: (_e, i) => ({ cost: i === 1 ? NaN : 1 }),
    }),
    /cost is NaN at epoch 1, step 2\. Lower the learning rate/,
  );
});

Deno.test("fitMinibatches visits each full batch once per epoch, reshuffled, repeatably", async () => {
  const run = async () => {
    const epochs: number[][][] = [[], []];
    await fitMinibatches({
      epochs: 2,
      label: false,
      count: 10,
      batchSize: 3,
      seed: 5,
      step: (idx, epoch) => {
        epochs[epoch].push([...idx]);
        return { count: idx.length };
      },
    });
    return epochs;
  };
  const a = await run();
  for (const e of a) {
    assert.equal(e.length, 3); // 10 examples: three full batches of 3
    assert.equal(new Set(e.flat()).size, 9);
  }
  assert.notDeepEqual(a[0], a[1]);
  assert.deepEqual(await run(), a);
});

Deno.test("trainStep applies one optimizer step and returns the loss and metrics", () => {
  const w = tf.variable(tf.scalar(3));
  const opt = new NesterovMomentum(0.1, 0);
  const before = tf.memory().numTensors;
  // loss = w^2 = 9; gradient 6; w <- 3 - 0.6. The metric is read before
  // the update: 2 * w = 6.
  const { loss, metrics } = trainStep(opt, [w], () => ({
    loss: tf.square(w) as tf.Scalar,
    metrics: { double: tf.mul(w, 2) as tf.Scalar },
  }));
  assert.equal(loss, 9);
  assert.deepEqual(metrics, { double: 6 });
  assert.ok(Math.abs(w.dataSync()[0] - 2.4) < 1e-6);
  // Only the optimizer's memory stays.
  assert.equal(tf.memory().numTensors - before, 1);
  const plain = trainStep(
    opt,
    [w],
    () => ({ loss: tf.square(w) as tf.Scalar }),
  );
  assert.deepEqual(plain.metrics, {});
});

Deno.test("describeEpoch lists train, then valid metrics, accuracies as percentages", () => {
  const row = {
    epoch: 3,
    seconds: 12.34,
    train_cost: 45.214,
    train_kl: 1.5234,
    valid_accuracy: 0.7581,
    valid_cost: 44.98,
  };
  assert.equal(
    describeEpoch(row),
    "epoch 3: train cost 45.21, kl 1.523 | valid accuracy 75.8%, cost 44.98 (12.3 s)",
  );
  assert.equal(
    describeEpoch({ epoch: 1, seconds: 2, loss: 0.5 }, "BN, full"),
    "BN, full epoch 1: loss 0.500 (2.0 s)",
  );
});
