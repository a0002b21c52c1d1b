import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { ConvVAE, type ConvVAEConfig } from "../../lib/models/conv_vae.ts";
import { buildModel } from "../../lib/models/mod.ts";
import { disposeModule } from "../../lib/nn/module.ts";
import { makeOptimizer } from "../../lib/optim/mod.ts";
import { assertAllClose } from "../test_util.ts";

await tf.setBackend("cpu");

/** A narrow net on 8x8 images: 8 -> 4 -> 2, and back. */
const NARROW: ConvVAEConfig = {
  seed: 3,
  imageSize: 8,
  encChannels: [3, 4],
  hiddenSize: 6,
  codeSize: 5,
  decChannels: [4, 3],
};

Deno.test("ConvVAE has the seed's layers, shapes and 0.05-uniform weights", () => {
  const vae = new ConvVAE({ seed: 1 });
  assert.equal(vae.kind, "conv_vae");
  assert.equal(vae.inputLayout, "nhwc");
  assert.deepEqual(vae.config, {
    seed: 1,
    imageSize: 28,
    imageChannels: 1,
    encChannels: [64, 128],
    hiddenSize: 512,
    codeSize: 512,
    decChannels: [128, 64],
    kernel: 3,
    initScale: 0.05,
    depoolConv: "transposed",
  });
  const layout = vae.layers().map((l) =>
    "conv" in l
      ? `${l.name} conv ${l.conv.w.shape.join("x")} ${l.conv.padding} ` +
        `${l.activation} pool ${l.pool}`
      : `${l.name} dense ${l.dense.inputs}->${l.dense.outputs} ${l.activation}`
  );
  assert.deepEqual(layout, [
    "enc0 conv 3x3x1x64 same relu pool 2",
    "enc1 conv 3x3x64x128 same relu pool 2",
    "enc2 dense 6272->512 tanh",
    "mu dense 512->512 linear",
    "sigma dense 512->512 softplus",
    "dec0 dense 512->6272 relu",
    "dec1 conv 3x3x128x64 same relu pool 0",
    "dec2 conv 3x3x64x1 same hardtanh pool 0",
  ]);
  // Batch norm at every layer, with H*W values per example for the convs.
  assert.deepEqual(
    vae.batchNormSites().map((
      s,
    ) => [s.name, s.bn.features, s.valuesPerExample]),
    [
      ["enc0", 64, 28 * 28],
      ["enc1", 128, 14 * 14],
      ["enc2", 512, 1],
      ["mu", 512, 1],
      ["sigma", 512, 1],
      ["dec0", 6272, 1],
      ["dec1", 64, 14 * 14],
      ["dec2", 1, 28 * 28],
    ],
  );
  // conv/dense w and b plus gamma and beta per layer; population mean and
  // variance per batch norm.
  assert.equal(vae.trainable().length, 8 * 4);
  assert.equal(vae.state().length, 8 * 2);
  const params = vae.trainable().reduce((s, v) => s + v.size, 0);
  assert.equal(
    params,
    (9 * 64 + 64 + 128) + (9 * 64 * 128 + 128 + 256) +
      (6272 * 512 + 512 + 1024) + 2 * (512 * 512 + 512 + 1024) +
      (512 * 6272 + 6272 + 2 * 6272) + (9 * 128 * 64 + 64 + 128) +
      (9 * 64 + 1 + 2),
  );
  for (const l of vae.layers()) {
    const w = ("conv" in l ? l.conv.w : l.dense.w).dataSync();
    const b = ("conv" in l ? l.conv.b : l.dense.b!).dataSync();
    let lo = Infinity, hi = -Infinity;
    for (const v of w) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    assert.ok(lo >= -0.05 && hi <= 0.05, `${l.name} within 0.05`);
    assert.ok(hi > 0.04 && lo < -0.04, `${l.name} spans [-0.05, 0.05]`);
    assert.ok(b.every((v) => v === 0), `${l.name} biases 0`);
  }
  disposeModule(vae);
});

Deno.test("ConvVAE: the same seed gives the same weights; saved runs rebuild it by kind", () => {
  const a = new ConvVAE(NARROW);
  const b = new ConvVAE({ ...NARROW });
  const c = buildModel("conv_vae", JSON.parse(JSON.stringify(a.config)));
  assert.ok(c instanceof ConvVAE);
  assert.deepEqual(c.config, a.config);
  const other = new ConvVAE({ ...NARROW, seed: 4 });
  const [va, vb, vc, vo] = [a, b, c, other].map((m) => m.trainable());
  for (let i = 0; i < va.length; i++) {
    assertAllClose(vb[i], va[i].dataSync(), 0, va[i].name);
    assertAllClose(vc[i], va[i].dataSync(), 0, va[i].name);
  }
  assert.notDeepEqual(vo[0].dataSync(), va[0].dataSync());
  for (const m of [a, b, c, other]) disposeModule(m);
});

Deno.test("ConvVAE rejects configurations it cannot build", () => {
  assert.throws(
    () => new ConvVAE({ seed: 1, decChannels: [128] }),
    /same, non-zero length/,
  );
  assert.throws(() => new ConvVAE({ seed: 1, imageSize: 30 }), /divisible/);
  assert.throws(() => new ConvVAE({ seed: 1, codeSize: 0 }), /codeSize/);
});

Deno.test("ConvVAE shapes, [-1, 1] outputs, a finite cost and the tap at every batch norm", () => {
  const vae = new ConvVAE(NARROW);
  const x = tf.randomUniform([4, 8, 8, 1], 0, 1, "float32", 5) as tf.Tensor4D;
  for (const mode of ["train", "minibatch", "population"] as const) {
    tf.tidy(() => {
      const { mu, sigma, z, y } = vae.forward(x, mode, 7);
      assert.deepEqual(mu.shape, [4, 5]);
      assert.deepEqual(sigma.shape, [4, 5]);
      assert.deepEqual(z.shape, [4, 5]);
      assert.deepEqual(y.shape, [4, 8, 8, 1]);
      const yv = y.dataSync();
      assert.ok(yv.every((v) => v >= -1 && v <= 1), `${mode}: y in [-1, 1]`);
      assert.ok(sigma.dataSync().every((v) => v > 0), "sigma > 0");
      const { total, kl, reconstruction } = vae.cost(x, mode, 7);
      for (const t of [total, kl, reconstruction]) {
        assert.ok(Number.isFinite(t.dataSync()[0]), `${mode}: finite cost`);
      }
      assertAllClose(
        total,
        [kl.dataSync()[0] + reconstruction.dataSync()[0]],
        1e-3,
      );
    });
  }
  // Decoding alone: codes to images.
  const img = tf.tidy(() => vae.decode(tf.zeros([2, 5]), "minibatch").shape);
  assert.deepEqual(img, [2, 8, 8, 1]);
  const names = new Map(vae.batchNormSites().map((s) => [s.bn, s.name]));
  const seen: string[] = [];
  tf.tidy(() =>
    vae.forwardPass(x, "minibatch", {
      seed: 1,
      tap: (bn, input) =>
        seen.push(`${names.get(bn)}:${input.shape.join("x")}`),
    })
  );
  assert.deepEqual(seen, [
    "enc0:4x8x8x3",
    "enc1:4x4x4x4",
    "enc2:4x6",
    "mu:4x5",
    "sigma:4x5",
    "dec0:4x16",
    "dec1:4x4x4x3",
    "dec2:4x8x8x1",
  ]);
  assert.deepEqual(
    vae.batchNormSites().map((s) => s.valuesPerExample),
    [64, 16, 1, 1, 1, 1, 16, 64],
  );
  x.dispose();
  disposeModule(vae);
});

/** Every layer of the ConvVAE has batch norm, so each bias feeds one. */
function isBiasBeforeBatchNorm(name: string): boolean {
  return /_b_\d+$/.test(name) && !/_bn_b_\d+$/.test(name);
}

Deno.test("ConvVAE: the transposed and the literal depool + conv give the same cost and gradients", () => {
  const a = new ConvVAE(NARROW);
  const b = new ConvVAE({ ...NARROW, depoolConv: "literal" });
  const x = tf.randomUniform([3, 8, 8, 1], 0, 1, "float32", 6) as tf.Tensor4D;
  const ga = tf.variableGrads(() => a.cost(x, "minibatch", 2).total);
  const gb = tf.variableGrads(() => b.cost(x, "minibatch", 2).total);
  assertAllClose(ga.value, [gb.value.dataSync()[0]], 1e-3);
  const [va, vb] = [a.trainable(), b.trainable()];
  const largest = Math.max(
    ...vb.map((v) => Math.max(...gb.grads[v.name].dataSync().map(Math.abs))),
  );
  for (let i = 0; i < va.length; i++) {
    const expected = gb.grads[vb[i].name].dataSync();
    if (isBiasBeforeBatchNorm(va[i].name)) {
      // Batch norm removes any shift: the true gradient is 0, and what
      // either form computes is rounding.
      for (const g of [ga.grads[va[i].name].dataSync(), expected]) {
        assert.ok(Math.max(...g.map(Math.abs)) <= 1e-4 * largest, va[i].name);
      }
      continue;
    }
    const scale = Math.max(1, ...expected.map(Math.abs));
    assertAllClose(ga.grads[va[i].name], expected, 1e-4 * scale, va[i].name);
  }
  tf.dispose([ga.value, gb.value, ...Object.values(ga.grads)]);
  tf.dispose(Object.values(gb.grads));
  x.dispose();
  disposeModule(a);
  disposeModule(b);
});

Deno.test("a few Nesterov steps lower the ConvVAE's cost on a tiny batch", () => {
  const vae = new ConvVAE(NARROW);
  const x = tf.randomUniform([8, 8, 8, 1], 0, 1, "float32", 9) as tf.Tensor4D;
  const opt = makeOptimizer({ name: "nesterov", learningRate: 0.05 / 8 });
  const cost = () => vae.cost(x, "train", 11).total;
  const first = tf.tidy(() => cost().dataSync()[0]);
  for (let i = 0; i < 20; i++) {
    tf.tidy(() => {
      opt.minimize(cost, false, vae.trainable());
    });
  }
  const last = tf.tidy(() => cost().dataSync()[0]);
  assert.ok(last < first, `cost did not fall: ${first} -> ${last}`);
  opt.dispose();
  x.dispose();
  disposeModule(vae);
});

Deno.test("the ConvVAE cost's gradient matches central differences (minibatch statistics)", () => {
  // Two channels per conv, 4x4 images: 4 -> 2 -> 1 and back.
  const vae = new ConvVAE({
    seed: 5,
    imageSize: 4,
    encChannels: [2, 2],
    hiddenSize: 3,
    codeSize: 2,
    decChannels: [2, 2],
    initScale: 0.5,
  });
  const x = tf.randomUniform([4, 4, 4, 1], 0, 1, "float32", 8) as tf.Tensor4D;
  const variables = vae.trainable();
  const lossValue = () =>
    tf.tidy(() => vae.cost(x, "minibatch", 3).total.dataSync()[0]);
  const { value, grads } = tf.variableGrads(
    () => vae.cost(x, "minibatch", 3).total,
    variables,
  );
  value.dispose();
  // ReLU, max pooling and hard tanh have kinks: an entry whose one-sided
  // differences disagree sits next to one and is skipped.
  const h = 1e-3;
  let checked = 0, skipped = 0;
  for (const v of variables) {
    const g = grads[v.name].dataSync();
    const values = v.dataSync().slice();
    for (let k = 0; k < 3; k++) {
      const i = Math.floor((k * (values.length - 1)) / 2);
      const at = (d: number) => {
        const copy = values.slice();
        copy[i] += d;
        v.assign(tf.tensor(copy, v.shape));
        return lossValue();
      };
      const [up, mid, down] = [at(h), at(0), at(-h)];
      v.assign(tf.tensor(values, v.shape));
      const right = (up - mid) / h, left = (mid - down) / h;
      if (Math.abs(right - left) > 0.01 + 0.02 * Math.abs(right + left)) {
        skipped++;
        continue;
      }
      const numeric = (up - down) / (2 * h);
      assert.ok(
        Math.abs(g[i] - numeric) <= 5e-3 + 0.03 * Math.abs(numeric),
        `${v.name}[${i}]: analytic ${g[i]} vs numeric ${numeric}`,
      );
      checked++;
    }
  }
  assert.ok(skipped <= checked / 3, `${skipped} entries skipped at kinks`);
  assert.equal(checked + skipped, 3 * variables.length);
  tf.dispose(Object.values(grads));
  x.dispose();
  disposeModule(vae);
});

Deno.test("ConvVAE's cost and gradients on wasm and wasm+blas match cpu", async () => {
  const { onBackend, assertClose } = await import("../backend/test_util.ts");
  const { loadBlas } = await import("../../lib/backend/blas.ts");
  const backends = loadBlas()
    ? ["wasm", "wasm+blas"] as const
    : ["wasm"] as const;
  const x = Float32Array.from(
    { length: 6 * 8 * 8 },
    (_, i) => (i * 37 % 101) / 100,
  );
  const run = () => {
    const vae = new ConvVAE(NARROW);
    const xt = tf.tensor4d(x, [6, 8, 8, 1]);
    const { value, grads } = tf.variableGrads(
      () => vae.cost(xt, "train", 4).total,
      vae.trainable(),
    );
    const out = {
      cost: value,
      grads: vae.trainable().map((v) => grads[v.name]),
      popVar: vae.state().filter((_, i) => i % 2 === 1).map((v) => v.clone()),
    };
    disposeModule(vae);
    return out;
  };
  try {
    const expected = await onBackend("cpu", run);
    const names = new ConvVAE(NARROW).trainable().map((v) => v.name);
    const largest = Math.max(
      ...expected.grads.map((g) => Math.max(...g.map(Math.abs))),
    );
    for (const backend of backends) {
      const actual = await onBackend(backend, run);
      assertClose(actual.cost, expected.cost, 1e-4, `${backend} cost`);
      actual.grads.forEach((g, i) => {
        if (isBiasBeforeBatchNorm(names[i])) {
          // The true gradient is 0 (batch norm removes any shift): the fused
          // kernels give exactly 0, the separate ops on cpu rounding.
          for (const v of [g, expected.grads[i]]) {
            assert.ok(Math.max(...v.map(Math.abs)) <= 1e-4 * largest, names[i]);
          }
          return;
        }
        const scale = Math.max(1, ...expected.grads[i].map(Math.abs));
        assertClose(
          g.map((v) => v / scale),
          expected.grads[i].map((v) => v / scale),
          2e-4,
          `${backend} gradient ${i}`,
        );
      });
      actual.popVar.forEach((v, i) =>
        assertClose(v, expected.popVar[i], 1e-4, `${backend} popVar ${i}`)
      );
    }
  } finally {
    await tf.setBackend("cpu");
  }
});
