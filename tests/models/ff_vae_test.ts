import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { FFVAE, vaeCostTerms } from "../../lib/models/ff_vae.ts";
import { assertAllClose } from "../test_util.ts";

await tf.setBackend("cpu");

Deno.test("the KL term equals the closed form KL(N(mu, sigma^2) || N(0, 1))", () => {
  const mu = [0.5, -1, 0, 2];
  const sigma = [2, 0.5, 1, 0.1];
  // Closed form per dimension: log(1 / sigma) + (sigma^2 + mu^2) / 2 - 1/2.
  const closed = mu.reduce(
    (s, m, i) =>
      s + Math.log(1 / sigma[i]) + (sigma[i] ** 2 + m ** 2) / 2 - 0.5,
    0,
  );
  const x = tf.zeros([2, 3]);
  const { kl, reconstruction, total } = vaeCostTerms(
    x,
    tf.ones([2, 3]),
    tf.tensor2d(mu, [2, 2]),
    tf.tensor2d(sigma, [2, 2]),
  );
  assertAllClose(kl, [closed], 1e-5);
  assertAllClose(reconstruction, [6]);
  assertAllClose(total, [closed + 6], 1e-5);
});

Deno.test("the KL term matches a Monte Carlo estimate", () => {
  // KL = E_q[log q(z) - log p(z)], estimated from 200,000 draws.
  const mu = 0.7, sigma = 0.6, n = 200_000;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.sqrt(-2 * Math.log(1 - Math.random())) *
      Math.cos(2 * Math.PI * Math.random());
    const z = mu + sigma * e;
    s += -Math.log(sigma) - e * e / 2 + z * z / 2;
  }
  const { kl } = vaeCostTerms(
    tf.zeros([1]),
    tf.zeros([1]),
    tf.tensor1d([mu]),
    tf.tensor1d([sigma]),
  );
  assertAllClose(kl, [s / n], 0.01);
});

Deno.test("FFVAE has the seed's layout: ReLU/tanh encoder, linear mu, softplus sigma, hard-tanh output", () => {
  const vae = new FFVAE({
    inputSize: 12,
    encSizes: [8, 6, 5],
    decSizes: [5, 6, 8],
    codeSize: 3,
    seed: 1,
  });
  const shape = (
    l: { dense: { inputs: number; outputs: number }; activation: string },
  ) => `${l.dense.inputs}->${l.dense.outputs} ${l.activation}`;
  const layout = vae.layers().map(shape);
  const expected = [
    "12->8 relu",
    "8->6 relu",
    "6->5 tanh",
    "5->3 linear",
    "5->3 softplus",
    "3->5 linear",
    "5->6 relu",
    "6->8 relu",
    "8->12 hardtanh",
  ];
  if (layout.join(", ") !== expected.join(", ")) {
    throw new Error(layout.join(", "));
  }
  // Every layer has batch norm; weights uniform in [-0.1, 0.1], biases 0.
  const sites = vae.batchNormSites();
  if (sites.length !== 9) throw new Error("expected 9 batch norms");
  if (
    sites.map((s) => s.name).join(",") !==
      "enc0,enc1,enc2,mu,sigma,dec0,dec1,dec2,dec3"
  ) {
    throw new Error(sites.map((s) => s.name).join(","));
  }
  const w = vae.encoder[0].dense.w.dataSync();
  if (
    Math.max(...w.map(Math.abs)) > 0.1 || Math.max(...w.map(Math.abs)) < 0.05
  ) {
    throw new Error("weights not uniform in [-0.1, 0.1]");
  }
  // The same seed gives the same weights.
  const again = new FFVAE({ ...vae.config });
  assertAllClose(
    again.decoder[2].dense.w,
    vae.decoder[2].dense.w.dataSync(),
    0,
  );
});

Deno.test("FFVAE cost is finite, reconstructions lie in [-1, 1], and a few steps lower the cost", async () => {
  const { NesterovMomentum } = await import("../../lib/optim/nesterov.ts");
  const vae = new FFVAE({
    inputSize: 16,
    encSizes: [12, 8],
    decSizes: [8, 12],
    codeSize: 4,
    seed: 2,
  });
  const x = tf.tidy(() =>
    tf.randomUniform([32, 16], 0, 1, "float32", 3) as tf.Tensor2D
  );
  const opt = new NesterovMomentum(0.1 / 32, 0.9);
  const cost = () => vae.cost(x, "train", 5).total;
  const first = tf.tidy(() => cost().dataSync()[0]);
  for (let i = 0; i < 30; i++) opt.minimize(cost, false, vae.trainable());
  const last = tf.tidy(() => cost().dataSync()[0]);
  if (!(last < first)) {
    throw new Error(`cost did not fall: ${first} -> ${last}`);
  }
  const y = tf.tidy(() => vae.reconstruct(x, "population", 1).dataSync());
  if (Math.max(...y) > 1 || Math.min(...y) < -1) {
    throw new Error("output outside [-1, 1]");
  }
});
