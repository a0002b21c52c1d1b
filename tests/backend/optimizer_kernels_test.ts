import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backend/mod.ts";
import { setWasmKernelsEnabled } from "../../lib/backend/wasm_kernels.ts";
import { Adam, ADAM_UPDATE } from "../../lib/optim/adam.ts";
import { NESTEROV_UPDATE, NesterovMomentum } from "../../lib/optim/nesterov.ts";
import { CenteredRMSProp, RMSPROP_UPDATE } from "../../lib/optim/rmsprop.ts";
import {
  globalSumOfSquares,
  RESCALED_RMSPROP_UPDATE,
  RescaledRMSProp,
  SUM_OF_SQUARES,
} from "../../lib/optim/rmsprop_rescaled.ts";
import { HAND_CASES } from "../optim/hand_cases.ts";
import { assertClose, randn } from "./test_util.ts";

const FUSED = [
  NESTEROV_UPDATE,
  SUM_OF_SQUARES,
  RESCALED_RMSPROP_UPDATE,
  RMSPROP_UPDATE,
  ADAM_UPDATE,
];

Deno.test("wasm registers the fused optimizer kernels; cpu falls back to tf ops", async () => {
  await initBackend({ backend: "wasm" });
  for (const name of FUSED) {
    assert.ok(tf.getKernel(name, "wasm"), name);
    assert.equal(tf.getKernel(name, "cpu"), undefined, name);
  }
});

Deno.test("fused Nesterov update: three steps of the seed's rule, by hand", async () => {
  // Same hand computation as tests/optim/nesterov_test.ts.
  await initBackend({ backend: "wasm" });
  const p = tf.variable(tf.tensor1d([1, 2]));
  const c = tf.tensor1d([1, 3]);
  const opt = new NesterovMomentum(0.1, 0.9);
  const expected = [[0.81, 0.86], [0.5751, -0.1162], [0.327321, -0.696346]];
  for (const e of expected) {
    opt.minimize(() => tf.sum(tf.mul(0.5, tf.mul(c, tf.square(p)))), false, [
      p,
    ]);
    assertClose(Array.from(p.dataSync()), e, 1e-5, "param");
  }
  opt.dispose();
  p.dispose();
  c.dispose();
});

for (const useModule of [true, false]) {
  Deno.test(`fused Nesterov update (${useModule ? "SIMD module" : "JavaScript loop"}) equals the tf-ops path over 5 steps, without leaks`, async () => {
    // The same gradients each time, so only the update arithmetic differs.
    const run = async (backend: "wasm" | "cpu") => {
      await initBackend({ backend });
      const w = tf.variable(tf.tensor2d(randn(64 * 33, 1), [64, 33]));
      const grads = [0, 1, 2, 3, 4].map((k) =>
        tf.tensor2d(randn(64 * 33, 10 + k), [64, 33])
      );
      const opt = new NesterovMomentum(0.05, 0.95);
      opt.applyGradients({ [w.name]: grads[0] });
      const before = tf.memory().numTensors;
      for (const g of grads.slice(1)) opt.applyGradients({ [w.name]: g });
      assert.equal(
        tf.memory().numTensors,
        before,
        `${backend}: tensors leaked`,
      );
      const values = Array.from(w.dataSync());
      opt.dispose();
      w.dispose();
      grads.forEach((g) => g.dispose());
      return values;
    };
    setWasmKernelsEnabled(useModule);
    const fused = await run("wasm").finally(() => setWasmKernelsEnabled(true));
    const reference = await run("cpu");
    assertClose(fused, reference, 1e-6, "parameters after 5 steps");
  });
}

/** Runs `fn` with the SIMD module on or off (the JavaScript loops). */
async function withModule<T>(
  useModule: boolean,
  fn: () => Promise<T>,
): Promise<T> {
  setWasmKernelsEnabled(useModule);
  try {
    return await fn();
  } finally {
    setWasmKernelsEnabled(true);
  }
}

const MODES = [[true, "SIMD module"], [false, "JavaScript loop"]] as const;

for (const [useModule, mode] of MODES) {
  for (const [name, run] of Object.entries(HAND_CASES)) {
    Deno.test(`fused ${name} (${mode}): the hand-computed steps`, async () => {
      await initBackend({ backend: "wasm" });
      await withModule(useModule, run);
    });
  }
}

/** The optimizers, each with a second setting that exercises other branches. */
const OPTIMIZERS: [string, () => tf.Optimizer][] = [
  [
    "rmsprop-rescaled",
    () => new RescaledRMSProp({ learningRate: 0.05, momentum: 0.95 }),
  ],
  [
    "rmsprop-rescaled, rescale 2",
    () => new RescaledRMSProp({ learningRate: 0.01, rescale: 2 }),
  ],
  ["rmsprop", () => new CenteredRMSProp({ learningRate: 0.01 })],
  [
    "rmsprop, nesterov",
    () =>
      new CenteredRMSProp({
        learningRate: 0.02,
        decay: 0.9,
        momentum: 0.5,
        epsilon: 1e-3,
        nesterov: true,
      }),
  ],
  ["adam", () => new Adam({ learningRate: 0.05 })],
  [
    "adam, other betas",
    () =>
      new Adam({ learningRate: 0.01, beta1: 0.5, beta2: 0.9, epsilon: 1e-6 }),
  ],
];

for (const [useModule, mode] of MODES) {
  for (const [name, make] of OPTIMIZERS) {
    Deno.test(`fused ${name} (${mode}) equals the tf-ops path on cpu over 6 steps, without leaks`, async () => {
      // Two variables (the rescaled norm is global); the same gradients on
      // both backends: norms above 25 (so the rescaling acts), and for the
      // rescaled RMSProp an Inf in one gradient at step 4 (the shrink branch).
      const shrinkStep = name.startsWith("rmsprop-rescaled") ? 3 : -1;
      const run = async (backend: "wasm" | "cpu") => {
        await initBackend({ backend });
        const w = tf.variable(tf.tensor2d(randn(64 * 33, 1), [64, 33]));
        const b = tf.variable(tf.tensor1d(randn(33, 2)));
        const steps = [0, 1, 2, 3, 4, 5].map((k) => {
          const gw = randn(64 * 33, 10 + k, 1 + k);
          if (k === shrinkStep) gw[100] = Infinity;
          return {
            [w.name]: tf.tensor2d(gw, [64, 33]),
            [b.name]: tf.tensor1d(randn(33, 20 + k)),
          };
        });
        const opt = make();
        opt.applyGradients(steps[0]);
        const before = tf.memory().numTensors;
        const after: number[][] = [];
        for (const grads of steps.slice(1)) {
          opt.applyGradients(grads);
          after.push([...w.dataSync(), ...b.dataSync()]);
        }
        assert.equal(
          tf.memory().numTensors,
          before,
          `${backend}: tensors leaked`,
        );
        const state = await opt.getWeights();
        const slots = state.slice(1).map((s) => [
          s.name.replace(/^.*\//, ""),
          Array.from(s.tensor.dataSync()),
        ]);
        opt.dispose();
        tf.dispose([w, b, ...steps.flatMap((g) => Object.values(g))]);
        return { after, slots };
      };
      const fused = await withModule(useModule, () => run("wasm"));
      const reference = await run("cpu");
      for (const [k, values] of fused.after.entries()) {
        // Adam and centred RMSProp divide by small roots: a few ulps more.
        assertClose(values, reference.after[k], 2e-6, `step ${k + 2}`);
      }
      assert.equal(fused.slots.length, reference.slots.length);
      for (const [k, [slot, values]] of fused.slots.entries()) {
        assert.equal(slot, reference.slots[k][0]);
        assertClose(
          values as number[],
          reference.slots[k][1] as number[],
          2e-6,
          slot as string,
        );
      }
    });
  }
}

Deno.test("fused optimizers on wasm: one update kernel per variable (rescaled: plus one sum of squares each and an AddN)", async () => {
  await initBackend({ backend: "wasm" });
  const cases: [() => tf.Optimizer, string[]][] = [
    [() => new NesterovMomentum(0.1, 0.9), [NESTEROV_UPDATE, NESTEROV_UPDATE]],
    [() => new RescaledRMSProp({ learningRate: 0.1 }), [
      SUM_OF_SQUARES,
      SUM_OF_SQUARES,
      "AddN",
      RESCALED_RMSPROP_UPDATE,
      RESCALED_RMSPROP_UPDATE,
    ]],
    [() => new CenteredRMSProp(), [RMSPROP_UPDATE, RMSPROP_UPDATE]],
    [() => new Adam(), [ADAM_UPDATE, ADAM_UPDATE]],
  ];
  for (const [make, expected] of cases) {
    const a = tf.variable(tf.tensor2d(randn(12, 3), [3, 4]));
    const b = tf.variable(tf.tensor1d(randn(4, 4)));
    const grads = { [a.name]: tf.onesLike(a), [b.name]: tf.onesLike(b) };
    const opt = make();
    opt.applyGradients(grads); // creates the state
    const info = await tf.profile(() => opt.applyGradients(grads));
    assert.deepEqual(info.kernels.map((k) => k.name), expected, expected[0]);
    opt.dispose();
    tf.dispose([a, b, ...Object.values(grads)]);
  }
});

for (const [useModule, mode] of MODES) {
  Deno.test(`SumOfSquares kernel (${mode}): sums of any length, float32 overflow to Inf`, async () => {
    await initBackend({ backend: "wasm" });
    await withModule(useModule, () => {
      for (const n of [0, 1, 15, 16, 17, 255, 256, 257, 1000]) {
        const values = randn(n, 30 + n);
        let expected = 0;
        for (const v of values) expected += Math.fround(v * v);
        const x = tf.tensor1d(values);
        const sum = tf.engine().runKernel(
          SUM_OF_SQUARES,
          { x },
          {},
        ) as tf.Tensor;
        assert.deepEqual(sum.shape, []);
        assertClose(sum.dataSync(), [expected], 1e-6, `n = ${n}`);
        tf.dispose([x, sum]);
      }
      const big = [tf.tensor1d([1e20]), tf.tensor1d([1.5e19, 0, 0])];
      assert.equal(globalSumOfSquares([big[0]]), Infinity);
      assert.ok(globalSumOfSquares([big[1]]) < Infinity);
      assert.equal(globalSumOfSquares([big[1], big[1]]), Infinity);
      assert.ok(Number.isNaN(globalSumOfSquares([tf.tensor1d([NaN, 1])])));
      tf.dispose(big);
      return Promise.resolve();
    });
  });
}

Deno.test("fused optimizer kernels refuse inputs of different shapes, naming them", async () => {
  await initBackend({ backend: "wasm" });
  const p = tf.zeros([2, 3]), g = tf.zeros([3, 2]);
  assert.throws(
    () =>
      tf.engine().runKernel(
        ADAM_UPDATE,
        { param: p, m: p, v: p, grad: g },
        { learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, step: 1 },
      ),
    /FusedAdamUpdate: "grad" \[3,2\] must have the shape of "param" \[2,3\]/,
  );
  tf.dispose([p, g]);
});
