/**
 * Every op the weeks use, on the "webgpu" backend against "cpu": the
 * project's own ops (fused batch norm, the VAE's cost terms, seeded noise,
 * depooling, every optimizer's update), which run as their tf-op fallbacks
 * there, and the tfjs ops under them, forward and gradients, at tiny shapes
 * (the CI's software device compiles a shader per op and shape).
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { describeBackend, initBackend } from "../../lib/backend/mod.ts";
import { activate, type Activation } from "../../lib/nn/activations.ts";
import { BatchNorm, batchNormActivation } from "../../lib/nn/batch_norm.ts";
import { depool2d, depoolConv2d, flipFilter } from "../../lib/nn/depool.ts";
import { gaussianKL, sumSquaredError } from "../../lib/nn/losses.ts";
import { randomNormal } from "../../lib/nn/random_normal.ts";
import { makeOptimizer, type OptimizerSpec } from "../../lib/optim/mod.ts";
import {
  assertClose,
  onBackend,
  randn,
  type TestBackend,
  webgpuTestGate,
} from "./test_util.ts";

const gate = await webgpuTestGate();

/** Runs `fn` on cpu and webgpu and compares every output within `tol`. */
async function compare<T extends Record<string, tf.Tensor>>(
  label: string,
  fn: () => T,
  tol = 1e-4,
): Promise<void> {
  const expected = await onBackend("cpu", fn);
  const actual = await onBackend("webgpu", fn);
  for (const key of Object.keys(expected)) {
    const e = expected[key] as unknown as number[];
    const a = actual[key] as unknown as number[];
    assertClose(a, e, tol, `${label}: ${key}`);
    // Compared values that are all zero would not test anything.
    assert.ok(e.some((v) => v !== 0), `${label}: ${key} is all zeros`);
  }
}

function test(name: string, fn: () => void | Promise<void>) {
  Deno.test({
    name: `webgpu: ${name}`,
    ignore: gate.ignore,
    async fn() {
      await initBackend({ backend: "webgpu" });
      // tfjs-webgpu runs ops on small CPU-resident inputs with the cpu
      // backend's kernels; off, every op here runs as a shader.
      tf.env().set("WEBGPU_CPU_FORWARD", false);
      try {
        await fn();
      } finally {
        tf.env().set("WEBGPU_CPU_FORWARD", true);
      }
    },
  });
}

test("initBackend names the adapter, and auto passes a software one by", async () => {
  const info = await initBackend({ backend: "webgpu" });
  assert.equal(info.name, "webgpu");
  assert.equal(tf.getBackend(), "webgpu");
  assert.ok(info.adapter, "the adapter's description");
  assert.ok(
    describeBackend(info).includes(info.adapter!),
    describeBackend(info),
  );
  const soft = info.detail.includes("software device");
  const saved = Deno.env.get("TFJS_BACKEND");
  Deno.env.delete("TFJS_BACKEND");
  try {
    const auto = await initBackend();
    if (soft) assert.notEqual(auto.name, "webgpu", describeBackend(auto));
    else assert.equal(auto.name, "webgpu", describeBackend(auto));
  } finally {
    if (saved !== undefined) Deno.env.set("TFJS_BACKEND", saved);
  }
});

test("dataSync reads float32, int32 and bool from the GPU, also past one staging chunk", async () => {
  await initBackend({ backend: "webgpu" });
  const n = (4 << 20) / 4 + 3; // one float more than a 4 MiB chunk
  const [big, ints, bools] = tf.tidy(() => [
    tf.add(tf.range(0, n), 0.5),
    tf.add(tf.tensor1d([1, -2, 3], "int32"), tf.scalar(1, "int32")),
    tf.greater(tf.tensor1d([1, 5, 2]), 2),
  ]);
  try {
    const v = big.dataSync();
    assert.equal(v.length, n);
    assert.deepEqual([v[0], v[n / 2 | 0], v[n - 1]], [
      0.5,
      (n / 2 | 0) + 0.5,
      n - 0.5,
    ]);
    assert.equal(ints.dtype, "int32");
    assert.ok(ints.dataSync() instanceof Int32Array);
    assert.deepEqual(Array.from(ints.dataSync()), [2, -1, 4]);
    assert.deepEqual(Array.from(bools.dataSync()), [0, 1, 0]);
  } finally {
    tf.dispose([big, ints, bools]);
  }
});

test("ops run as shaders here: results stay in GPU buffers until read", () => {
  const backend = tf.backend() as unknown as {
    tensorMap: { get(id: object): { resource?: unknown; values?: unknown } };
  };
  const y = tf.tidy(() => tf.add(tf.tensor1d([1, 2, 3]), 1));
  try {
    const data = backend.tensorMap.get(y.dataId);
    assert.ok(data.resource instanceof GPUBuffer, "a GPU buffer");
    assert.ok(data.values == null, "no CPU copy before a read");
    assert.deepEqual(Array.from(y.dataSync()), [2, 3, 4]);
  } finally {
    y.dispose();
  }
});

test("addN of more tensors than one shader can bind (the seed's RMSProp sums every gradient)", async () => {
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  const n = 2 * device.limits.maxStorageBuffersPerShaderStage + 3;
  const values = Array.from({ length: n }, (_, i) => randn(6, 70 + i));
  await compare(`addN of ${n}`, () => ({
    sum: tf.addN(values.map((v) => tf.tensor2d(v, [2, 3]))),
    // A scalar per input, as globalSumOfSquares passes them.
    sumOfSquares: tf.addN(values.map((v) => tf.sum(tf.square(tf.tensor1d(v))))),
  }));
});

const ACTIVATIONS: Activation[] = [
  "linear",
  "relu",
  "tanh",
  "hardtanh",
  "softplus",
];

test("fused batch norm (+ bias, each activation): values, batch statistics and gradients", async () => {
  for (const activation of ACTIVATIONS) {
    for (const shape of [[6, 5], [2, 3, 3, 4]]) {
      const c = shape[shape.length - 1];
      const n = tf.util.sizeFromShape(shape);
      const xv = randn(n, 1, 2), dyv = randn(n, 2);
      const gv = randn(c, 3, 0.5), bv = randn(c, 4), biasv = randn(c, 5);
      await compare(`${activation} [${shape}]`, () => {
        const x = tf.tensor(xv, shape), dy = tf.tensor(dyv, shape);
        const g = tf.tensor1d(gv),
          b = tf.tensor1d(bv),
          bias = tf.tensor1d(biasv);
        const run = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, bi: tf.Tensor) =>
          batchNormActivation(x, g, b, { epsilon: 1e-6, activation, bias: bi });
        const r = run(x, g, b, bias);
        const [dx, dg, db, dbias] = tf.grads((x, g, b, bi) =>
          tf.sum(tf.mul(run(x, g, b, bi).y, dy))
        )([x, g, b, bias]);
        return {
          y: r.y,
          mean: r.mean,
          variance: r.variance,
          dx,
          dg,
          db,
          dbias,
        };
      }, 2e-4);
    }
  }
});

test("BatchNorm's moving averages and population mode", async () => {
  const xv = randn(8 * 3, 7, 3);
  await compare("BatchNorm", () => {
    const bn = new BatchNorm(3, { name: "bn_webgpu_test" });
    const x = tf.tensor2d(xv, [8, 3]);
    bn.apply(x, "train");
    bn.apply(tf.mul(x, 0.5), "train");
    const y = bn.apply(x, "population", { activation: "relu" });
    const out = { popMean: bn.popMean.clone(), popVar: bn.popVar.clone(), y };
    tf.dispose([...bn.trainable(), ...bn.state()]);
    return out;
  });
});

test("the VAE cost terms (KL, squared error) and their gradients", async () => {
  const mu = randn(12, 11), sigma = randn(12, 12).map((v) => Math.abs(v) + 0.1);
  const x = randn(12, 13), y = randn(12, 14);
  await compare("costs", () => {
    const m = tf.tensor2d(mu, [3, 4]), s = tf.tensor2d(sigma, [3, 4]);
    const a = tf.tensor2d(x, [3, 4]), b = tf.tensor2d(y, [3, 4]);
    const [dmu, dsigma] = tf.grads((m, s) => gaussianKL(m, s))([m, s]);
    const [dx, dy] = tf.grads((a, b) => sumSquaredError(a, b))([a, b]);
    return {
      kl: gaussianKL(m, s),
      sse: sumSquaredError(a, b),
      dmu,
      dsigma,
      dx,
      dy,
    };
  });
});

test("seeded noise is the same on webgpu as on cpu and wasm", async () => {
  const draw = () => ({ z: randomNormal([7, 9], 1234) });
  const cpu = await onBackend("cpu", draw);
  const gpu = await onBackend("webgpu", draw);
  const wasm = await onBackend("wasm", draw);
  assert.deepEqual(gpu.z, cpu.z, "webgpu and cpu both draw in JavaScript");
  assertClose(gpu.z, wasm.z, 1e-6, "webgpu against wasm's kernel");
});

test("depool2d, flipFilter and depoolConv2d (both methods) with gradients", async () => {
  const xv = randn(2 * 3 * 3 * 2, 21), wv = randn(3 * 3 * 2 * 3, 22, 0.5);
  const dyv = randn(2 * 6 * 6 * 3, 23), dpv = randn(2 * 6 * 6 * 2, 24);
  await compare("depool", () => {
    const x = tf.tensor4d(xv, [2, 3, 3, 2]), w = tf.tensor4d(wv, [3, 3, 2, 3]);
    const dy = tf.tensor4d(dyv, [2, 6, 6, 3]);
    const dp = tf.tensor4d(dpv, [2, 6, 6, 2]);
    const [dxDepool] = tf.grads((x) =>
      tf.sum(tf.mul(depool2d(x as tf.Tensor4D), dp))
    )([x]);
    const out: Record<string, tf.Tensor> = {
      depool: depool2d(x),
      dxDepool,
      flipped: flipFilter(w),
    };
    for (const method of ["transposed", "literal"] as const) {
      const f = (x: tf.Tensor, w: tf.Tensor) =>
        depoolConv2d(x as tf.Tensor4D, w as tf.Tensor4D, { method });
      const [dx, dw] = tf.grads((x, w) => tf.sum(tf.mul(f(x, w), dy)))([x, w]);
      out[`${method} y`] = f(x, w);
      out[`${method} dx`] = dx;
      out[`${method} dw`] = dw;
    }
    return out;
  });
});

const OPTIMIZERS: OptimizerSpec[] = [
  { name: "nesterov", learningRate: 0.05, momentum: 0.9 },
  { name: "rmsprop-rescaled", learningRate: 0.05, momentum: 0.9 },
  { name: "rmsprop", learningRate: 0.01 },
  { name: "rmsprop", learningRate: 0.01, nesterov: true },
  { name: "adam", learningRate: 0.01 },
];

test("every optimizer's update over three steps, and its state", async () => {
  for (const spec of OPTIMIZERS) {
    const wv = randn(4 * 3, 31), cv = randn(4 * 3, 32);
    const run = async (backend: TestBackend) => {
      await initBackend({ backend });
      const w = tf.variable(tf.tensor2d(wv, [4, 3]));
      const c = tf.tensor2d(cv, [4, 3]);
      const opt = makeOptimizer(spec);
      try {
        for (let i = 0; i < 3; i++) {
          // A quartic so the gradient changes from step to step.
          opt.minimize(() => tf.sum(tf.mul(c, tf.pow(w, 4))), false, [w]);
        }
        const state = await opt.getWeights();
        return {
          w: Array.from(w.dataSync()),
          state: state.map((s) => Array.from(s.tensor.dataSync())),
        };
      } finally {
        opt.dispose();
        tf.dispose([w, c]);
      }
    };
    const expected = await run("cpu");
    const actual = await run("webgpu");
    const label = JSON.stringify(spec);
    assertClose(actual.w, expected.w, 1e-4, `${label} param`);
    assert.equal(actual.state.length, expected.state.length);
    expected.state.forEach((e, i) =>
      assertClose(actual.state[i], e, 1e-4, `${label} state ${i}`)
    );
  }
});

test("dense and convolution layers: matMul (transposed, fused), conv2d and pools with gradients", async () => {
  const av = randn(5 * 4, 41), bv = randn(4 * 3, 42), biasv = randn(3, 43);
  const xv = randn(2 * 7 * 7 * 3, 44), fv = randn(3 * 3 * 3 * 4, 45, 0.4);
  await compare("dense", () => {
    const a = tf.tensor2d(av, [5, 4]), b = tf.tensor2d(bv, [4, 3]);
    const bias = tf.tensor1d(biasv);
    const f = (a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor) =>
      tf.fused.matMul({
        a: a as tf.Tensor2D,
        b: b as tf.Tensor2D,
        bias,
        activation: "relu",
      });
    const [da, db, dbias] = tf.grads((a, b, bias) => tf.sum(f(a, b, bias)))([
      a,
      b,
      bias,
    ]);
    return {
      ab: tf.matMul(a, b),
      atbt: tf.matMul(b, a, true, true),
      fused: f(a, b, bias),
      da,
      db,
      dbias,
    };
  });
  for (
    const [pad, stride] of [["same", 1], ["valid", 1], ["valid", 2]] as const
  ) {
    await compare(`conv2d ${pad} stride ${stride}`, () => {
      const x = tf.tensor4d(xv, [2, 7, 7, 3]),
        f = tf.tensor4d(fv, [3, 3, 3, 4]);
      const net = (x: tf.Tensor, f: tf.Tensor) =>
        tf.maxPool(
          tf.relu(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, pad)),
          2,
          2,
          "valid",
        );
      const [dx, df] = tf.grads((x, f) => tf.sum(tf.square(net(x, f))))([x, f]);
      return { y: net(x, f), dx, df };
    });
  }
});

test("classification and reductions: logSoftmax, cross-entropy, oneHot, argMax, sums, moments", async () => {
  const lv = randn(6 * 4, 51, 2), xv = randn(2 * 3 * 4 * 5, 52);
  const labels = [0, 3, 1, 2, 3, 0];
  await compare("classification", () => {
    const logits = tf.tensor2d(lv, [6, 4]);
    const onehot = tf.oneHot(tf.tensor1d(labels, "int32"), 4);
    const [dlogits] = tf.grads((l) =>
      tf.losses.softmaxCrossEntropy(onehot, l) as tf.Scalar
    )([logits]);
    const picked = tf.sum(tf.mul(tf.logSoftmax(logits), onehot), 1);
    return {
      logSoftmax: tf.logSoftmax(logits),
      softmax: tf.softmax(logits),
      xent: tf.losses.softmaxCrossEntropy(onehot, logits),
      dlogits,
      picked,
      argMax: tf.cast(tf.argMax(logits, 1), "float32"),
      right: tf.cast(
        tf.equal(tf.argMax(logits, 1), tf.argMax(onehot, 1)),
        "float32",
      ),
    };
  });
  await compare("reductions", () => {
    const x = tf.tensor4d(xv, [2, 3, 4, 5]);
    const m = tf.moments(x, [0, 1, 2]);
    return {
      sum012: tf.sum(x, [0, 1, 2]),
      mean01: tf.mean(x, [0, 1]),
      sumAll: tf.sum(x),
      max3: tf.max(x, 3),
      mean: m.mean,
      variance: m.variance,
      act: tf.addN([
        activate(x, "softplus"),
        tf.sigmoid(x),
        tf.exp(tf.neg(tf.square(x))),
      ]),
    };
  });
});

test("reshaping ops: concat, slice, tile, transpose, pad, reverse, stridedSlice", async () => {
  const xv = randn(2 * 3 * 4, 61), yv = randn(2 * 3 * 4, 62);
  await compare("reshaping", () => {
    const x = tf.tensor3d(xv, [2, 3, 4]), y = tf.tensor3d(yv, [2, 3, 4]);
    const [dx] = tf.grads((x) =>
      tf.sum(tf.mul(tf.concat([tf.slice(x, [0, 1, 0], [2, 2, 4]), x], 1), 2))
    )([x]);
    return {
      concat: tf.concat([x, y], 2),
      slice: tf.slice(x, [1, 0, 1], [1, 3, 2]),
      tile: tf.tile(x, [1, 2, 1]),
      transpose: tf.transpose(x, [2, 0, 1]),
      pad: tf.pad(x, [[0, 1], [1, 0], [0, 0]], 0),
      reverse: tf.reverse(x, [1, 2]),
      strided: tf.stridedSlice(x, [0, 0, 0], [2, 3, 4], [1, 2, 2]),
      sqdiff: tf.squaredDifference(x, y),
      eye: tf.eye(3),
      dx,
    };
  });
});
