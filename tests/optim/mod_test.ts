import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { Adam } from "../../lib/optim/adam.ts";
import {
  makeOptimizer,
  OPTIMIZER_NAMES,
  OPTIMIZER_OPTIONS,
  type OptimizerSpec,
} from "../../lib/optim/mod.ts";
import { NesterovMomentum } from "../../lib/optim/nesterov.ts";
import { CenteredRMSProp } from "../../lib/optim/rmsprop.ts";
import { RescaledRMSProp } from "../../lib/optim/rmsprop_rescaled.ts";

await tf.setBackend("cpu");

Deno.test("makeOptimizer: every name, with its defaults and with options", () => {
  assert.deepEqual([...OPTIMIZER_NAMES], [
    "nesterov",
    "rmsprop-rescaled",
    "rmsprop",
    "adam",
  ]);
  const cases: [OptimizerSpec, unknown, Record<string, unknown>][] = [
    [{ name: "nesterov", learningRate: 0.01 }, NesterovMomentum, {
      learningRate: 0.01,
      momentum: 0.9,
    }],
    [{ name: "nesterov", learningRate: 0.01, momentum: 0 }, NesterovMomentum, {
      learningRate: 0.01,
      momentum: 0,
    }],
    [{ name: "rmsprop-rescaled", learningRate: 0.02 }, RescaledRMSProp, {
      learningRate: 0.02,
      momentum: 0.9,
      rescale: 5,
    }],
    [
      {
        name: "rmsprop-rescaled",
        learningRate: 0.02,
        momentum: 0.5,
        rescale: 2,
      },
      RescaledRMSProp,
      { learningRate: 0.02, momentum: 0.5, rescale: 2 },
    ],
    [{ name: "rmsprop", learningRate: 1e-3 }, CenteredRMSProp, {
      learningRate: 1e-3,
      decay: 0.95,
      momentum: 0.9,
      epsilon: 1e-4,
      nesterov: false,
    }],
    [
      {
        name: "rmsprop",
        learningRate: 1e-3,
        decay: 0.9,
        momentum: 0,
        epsilon: 1e-6,
        nesterov: true,
      },
      CenteredRMSProp,
      {
        learningRate: 1e-3,
        decay: 0.9,
        momentum: 0,
        epsilon: 1e-6,
        nesterov: true,
      },
    ],
    [{ name: "adam", learningRate: 1e-3 }, Adam, {
      learningRate: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
    }],
    [
      {
        name: "adam",
        learningRate: 1e-3,
        beta1: 0.5,
        beta2: 0.9,
        epsilon: 1e-7,
      },
      Adam,
      { learningRate: 1e-3, beta1: 0.5, beta2: 0.9, epsilon: 1e-7 },
    ],
  ];
  for (const [spec, cls, config] of cases) {
    const opt = makeOptimizer(spec);
    assert.ok(opt instanceof (cls as typeof tf.Optimizer), spec.name);
    assert.deepEqual(opt.getConfig(), config, JSON.stringify(spec));
    opt.dispose();
  }
  // Options left undefined count as not given.
  const opt = makeOptimizer({
    name: "adam",
    learningRate: 0.1,
    momentum: undefined,
  });
  assert.ok(opt instanceof Adam);
  opt.dispose();
});

Deno.test("makeOptimizer: every optimizer takes learningRate, the rest per name", () => {
  for (const name of OPTIMIZER_NAMES) {
    assert.equal(OPTIMIZER_OPTIONS[name][0], "learningRate");
  }
});

Deno.test("makeOptimizer: RangeErrors name the option, the value and what is allowed", () => {
  const bad = (spec: Record<string, unknown>, message: RegExp) =>
    assert.throws(
      () => makeOptimizer(spec as unknown as OptimizerSpec),
      (e: unknown) => e instanceof RangeError && message.test(e.message),
      `${JSON.stringify(spec)} should throw ${message}`,
    );
  bad(
    { name: "sgd", learningRate: 0.1 },
    /^unknown optimizer "sgd"; use one of nesterov, rmsprop-rescaled, rmsprop, adam$/,
  );
  bad({ learningRate: 0.1 }, /^unknown optimizer undefined; use one of/);
  for (const name of OPTIMIZER_NAMES) {
    for (const lr of [0, -1, NaN, Infinity, undefined]) {
      bad(
        { name, learningRate: lr },
        new RegExp(
          `^optimizer "${name}": learningRate must be a positive number, got ${lr}$`,
        ),
      );
    }
  }
  bad(
    { name: "rmsprop", learningRate: "0.1" },
    /^optimizer "rmsprop": learningRate must be a positive number, got "0.1"$/,
  );
  for (const name of ["nesterov", "rmsprop-rescaled", "rmsprop"]) {
    for (const momentum of [1, -0.1, NaN]) {
      bad(
        { name, learningRate: 0.1, momentum },
        new RegExp(
          `^optimizer "${name}": momentum must be in \\[0, 1\\), got ${momentum}$`,
        ),
      );
    }
  }
  bad(
    { name: "rmsprop-rescaled", learningRate: 0.1, rescale: 0 },
    /^optimizer "rmsprop-rescaled": rescale must be a positive number, got 0$/,
  );
  bad(
    { name: "rmsprop", learningRate: 0.1, decay: 1 },
    /^optimizer "rmsprop": decay must be in \[0, 1\), got 1$/,
  );
  bad(
    { name: "rmsprop", learningRate: 0.1, epsilon: 0 },
    /^optimizer "rmsprop": epsilon must be a positive number, got 0$/,
  );
  bad(
    { name: "rmsprop", learningRate: 0.1, nesterov: "yes" },
    /^optimizer "rmsprop": nesterov must be true or false, got "yes"$/,
  );
  bad(
    { name: "adam", learningRate: 0.1, beta1: 1 },
    /^optimizer "adam": beta1 must be in \[0, 1\), got 1$/,
  );
  bad(
    { name: "adam", learningRate: 0.1, beta2: -0.5 },
    /^optimizer "adam": beta2 must be in \[0, 1\), got -0.5$/,
  );
  bad(
    { name: "adam", learningRate: 0.1, epsilon: -1 },
    /^optimizer "adam": epsilon must be a positive number, got -1$/,
  );
  // Options another optimizer takes, and typos, are refused by name.
  bad(
    { name: "adam", learningRate: 0.1, momentum: 0.9 },
    /^optimizer "adam": option momentum is not one it takes \(learningRate, beta1, beta2, epsilon\), got 0.9$/,
  );
  bad(
    { name: "nesterov", learningRate: 0.1, beta1: 0.9 },
    /^optimizer "nesterov": option beta1 is not one it takes \(learningRate, momentum\), got 0.9$/,
  );
  bad(
    { name: "rmsprop-rescaled", learningRate: 0.1, epsilon: 1e-4 },
    /^optimizer "rmsprop-rescaled": option epsilon is not one it takes \(learningRate, momentum, rescale\), got 0.0001$/,
  );
  bad(
    { name: "rmsprop", learningRate: 0.1, learningrate: 0.1 },
    /^optimizer "rmsprop": option learningrate is not one it takes \(learningRate, decay, momentum, epsilon, nesterov\), got 0.1$/,
  );
});

Deno.test("makeOptimizer: each optimizer it builds takes a step", () => {
  for (const name of OPTIMIZER_NAMES) {
    const p = tf.variable(tf.tensor1d([1, -1]));
    const opt = makeOptimizer({ name, learningRate: 0.01 });
    opt.minimize(() => tf.sum(tf.square(p)), false, [p]);
    const [a, b] = p.dataSync();
    assert.ok(a < 1 && a > 0.9 && b > -1 && b < -0.9, `${name}: ${a}, ${b}`);
    opt.dispose();
    p.dispose();
  }
});
