import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import {
  describeEpoch,
  DivergenceError,
  fit,
  fitMinibatches,
  type FitProgress,
  TrainingInterrupted,
  trainStep,
} from "../lib/train.ts";
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
  assert.deepEqual(history.map((r) => r.step), [2, 5]);
  assert.ok(history[0].seconds >= 0);
  assert.ok(history[1].time >= history[0].time);
});

Deno.test("fit: evaluateEvery writes rows inside an epoch, each with the means since the last row", async () => {
  const evaluatedAt: number[] = [];
  const history = await fit({
    epochs: 2,
    label: false,
    steps: () => 4,
    step: (epoch, i) => ({ cost: 10 * epoch + i }),
    evaluate: (epoch) => {
      evaluatedAt.push(epoch);
      return { valid: epoch };
    },
    evaluateEvery: 3,
  });
  // Epoch 1: a row after step 3 (epoch 0.75) and at its end; the same in epoch 2.
  assert.deepEqual(history.map((r) => [r.epoch, r.step, r.train_cost]), [
    [0.75, 3, (0 + 1 + 2) / 3],
    [1, 4, 3],
    [1.75, 7, (10 + 11 + 12) / 3],
    [2, 8, 13],
  ]);
  assert.deepEqual(evaluatedAt, [0, 0, 1, 1]);
});

Deno.test("fit: budgetSeconds stops training and writes the last row at once", async () => {
  let steps = 0;
  const history = await fit({
    epochs: 100,
    label: false,
    steps: () => 1000,
    step: () => {
      steps++;
      const until = performance.now() + 2; // 2 ms of "training" a step
      while (performance.now() < until) { /* busy */ }
      return { cost: 1 };
    },
    budgetSeconds: 0.1,
  });
  assert.equal(history.length, 1);
  assert.equal(history[0].step, steps);
  assert.ok(history[0].time >= 0.1 && history[0].epoch < 1);
  // Each step takes at least 2 ms, so the budget allows at most 51.
  assert.ok(steps >= 1 && steps <= 51, `${steps} steps`);
  await assert.rejects(
    fit({ epochs: 1, steps: () => 1, step: () => ({}), budgetSeconds: 0 }),
    /budgetSeconds must be positive/,
  );
});

Deno.test("fit names the epoch and step where training diverged", async () => {
  await assert.rejects(
    fit({
      epochs: 1,
      label: false,
      steps: () => 3,
      step: (_e, i) => ({ cost: i === 1 ? NaN : 1 }),
    }),
    (e: Error) =>
      e instanceof DivergenceError &&
      /cost is NaN at epoch 1, step 2\. Lower the learning rate/.test(
        e.message,
      ),
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
    step: 30,
    time: 11.9,
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
    describeEpoch(
      { epoch: 1, step: 9, time: 1.5, seconds: 2, loss: 0.5 },
      "BN, full",
    ),
    "BN, full epoch 1: loss 0.500 (2.0 s)",
  );
  assert.match(
    describeEpoch({ epoch: 1.5, step: 9, time: 1.5, seconds: 2 }),
    /^epoch 1\.50: /,
  );
});

/** A fit whose steps follow from (epoch, step) alone, like the weeks' (deriveSeed). */
function toyFit(extra: Partial<Parameters<typeof fit>[0]>) {
  return fit({
    epochs: 3,
    label: false,
    steps: () => 4,
    step: (epoch, i) => ({ cost: 10 / (1 + epoch) + i, count: 1 + (i % 2) }),
    evaluate: (epoch) => ({ valid_cost: epoch }),
    ...extra,
  });
}

Deno.test("fit: a run resumed from a checkpoint gives the rows of one never stopped", async () => {
  const strip = (h: { seconds: number; time: number }[]) =>
    h.map(({ seconds: _s, time: _t, ...r }) => r);
  const straight = await toyFit({});
  // Checkpoints after each epoch; resume from the one after epoch 1.
  const saved: FitProgress[] = [];
  await toyFit({
    checkpoint: { every: 1, save: (p) => Promise.resolve(void saved.push(p)) },
  });
  assert.deepEqual(saved.map((p) => [p.epoch, p.stepInEpoch, p.step]), [
    [1, 0, 4],
    [2, 0, 8],
    [3, 0, 12],
  ]);
  const resumed = await toyFit({ resume: saved[0] });
  assert.deepEqual(strip(resumed), strip(straight));
  // A mid-epoch point (with evaluateEvery, its partial means) resumes too.
  const mid: FitProgress[] = [];
  const every = await toyFit({
    evaluateEvery: 3,
    checkpoint: { every: 1, save: (p) => Promise.resolve(void mid.push(p)) },
  });
  const half: FitProgress = {
    ...mid[0],
    epoch: 1,
    stepInEpoch: 2,
    step: 6,
    history: mid[1].history.slice(0, 2),
    partial: { sums: { cost: 10 / 2 * 1 + (10 / 2 + 1) * 2 }, weight: 3 },
  };
  const fromHalf = await toyFit({ evaluateEvery: 3, resume: half });
  assert.deepEqual(strip(fromHalf), strip(every));
});

Deno.test("fit: SIGTERM (or SIGINT) stops after the step in progress, saves a checkpoint, and says how to resume", async () => {
  const saved: FitProgress[] = [];
  let steps = 0;
  await assert.rejects(
    fit({
      epochs: 5,
      label: false,
      steps: () => 1000,
      step: () => {
        if (++steps === 30) Deno.kill(Deno.pid, "SIGTERM");
        const until = performance.now() + 1;
        while (performance.now() < until) { /* a step's work */ }
        return { cost: 1 };
      },
      checkpoint: {
        every: 1,
        save: (p) => Promise.resolve(void saved.push(p)),
      },
    }),
    (e: Error) =>
      e instanceof TrainingInterrupted &&
      /stopped by SIGTERM after epoch 1, step \d+; a checkpoint was saved/.test(
        e.message,
      ),
  );
  assert.equal(saved.length, 1);
  assert.equal(saved[0].epoch, 0);
  assert.equal(saved[0].stepInEpoch, saved[0].step);
  assert.ok(saved[0].step >= 30 && saved[0].step < 1000);
  assert.equal(saved[0].partial.weight, saved[0].step);
});

Deno.test("fit: a finite blow-up far above the start stops training, naming where", async () => {
  await assert.rejects(
    fit({
      epochs: 1,
      label: false,
      steps: () => 100,
      // Cost 50 for 40 steps, then it explodes.
      step: (_e, i) => ({ cost: i < 40 ? 50 : 5e14 }),
    }),
    (e: Error) =>
      e instanceof DivergenceError &&
      /cost is 5\.000e\+14 at epoch 1, step 41, over 100 times its start \(50\.00\)\. Lower the learning rate/
        .test(e.message),
  );
  // A blow-up from the first update on (a learning rate of 3 on Week 9's
  // VAE: 4.7e12 as the first epoch's mean) stops at the second step.
  await assert.rejects(
    fit({
      epochs: 1,
      label: false,
      steps: () => 100,
      step: (_e, i) => ({ cost: 200 * 10 ** (3 * i) }),
    }),
    /cost is 2\.000e\+5 at epoch 1, step 2, over 100 times its start \(200\.0\)/,
  );
  // A cost that only falls is left alone, and a factor can be given.
  await fit({
    epochs: 1,
    label: false,
    steps: () => 50,
    step: (_e, i) => ({ cost: 100 / (1 + i) }),
  });
  await assert.rejects(
    fit({
      epochs: 1,
      label: false,
      steps: () => 50,
      guardFactor: 2,
      step: (_e, i) => ({ cost: i < 30 ? 1 : 3 }),
    }),
    /over 2 times its start/,
  );
});

Deno.test("fit: a non-finite metric names the first variable holding a non-finite value", async () => {
  const a = tf.variable(tf.tensor1d([1, 2]), true, "guard_a");
  const b = tf.variable(tf.tensor1d([1, NaN]), true, "guard_b");
  await assert.rejects(
    fit({
      epochs: 1,
      label: false,
      steps: () => 3,
      step: (_e, i) => ({ cost: i === 2 ? Infinity : 1 }),
      variables: () => [a, b],
    }),
    /cost is Infinity at epoch 1, step 3; guard_b is the first variable holding a non-finite value\. Lower/,
  );
  await assert.rejects(
    fit({
      epochs: 1,
      label: false,
      steps: () => 1,
      step: () => ({ cost: NaN }),
      variables: () => [a],
    }),
    /every variable is still finite \(the cost overflowed\)/,
  );
});
