import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import jpeg from "jpeg-js";
import { fileURLToPath } from "node:url";
import { prepareImage } from "../lib/data/dogs_vs_cats.ts";
import { normalizeImages } from "../lib/data/image.ts";
import { classifyImages } from "../lib/experiments/bn_convnet.ts";
import { sampleVAE } from "../lib/experiments/ff_vae.ts";
import { BNConvNet } from "../lib/models/bn_convnet.ts";
import { FFVAE } from "../lib/models/ff_vae.ts";
import { recalibrateBatchNorm } from "../lib/nn/batch_norm_model.ts";
import type { Provenance } from "../lib/provenance.ts";
import { createRunDir, readRunRecord } from "../lib/run_dir.ts";
import { findResume, loadRun, saveRun, startRun } from "../lib/runs.ts";
import { randomImages } from "./test_util.ts";

await tf.setBackend("cpu");

const CHILD = fileURLToPath(new URL("./fixtures/load_run.ts", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./fixtures/dvc/", import.meta.url));

/** Runs tests/fixtures/load_run.ts on `dir` in a fresh Deno process. */
async function inFreshProcess(dir: string, args: string[] = []) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, dir, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop()!;
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(text);
}

Deno.test("loadRun rebuilds a Week 9 VAE in a fresh process: identical samples and reconstructions", async () => {
  const root = await Deno.makeTempDir();
  try {
    const model = new FFVAE({
      inputSize: 16,
      encSizes: [12],
      decSizes: [12],
      codeSize: 4,
      seed: 9,
    });
    // Population statistics away from their initial 0 and 1.
    const data = randomImages(40, 4, 2, 1);
    await recalibrateBatchNorm(model, data, { batchSize: 10, seed: 1 });
    const run = await createRunDir("week09", { root });
    await saveRun(run, { model, metrics: { params: { epochs: 0 } } });
    const x = tf.tensor2d(
      Float32Array.from({ length: 3 * 16 }, (_, i) => (i % 7) / 7),
      [3, 16],
    );
    const child = await inFreshProcess(run.path);
    assert.equal(child.kind, "ff_vae");
    assert.deepEqual(child.metrics, { params: { epochs: 0 } });
    assert.deepEqual(child.samples, [
      ...sampleVAE(model, 4, { mode: "population", seed: 3 }).dataSync(),
    ]);
    assert.deepEqual(child.reconstruction, [
      ...model.reconstruct(x, "population", 5).dataSync(),
    ]);
    // And in this process, every variable comes back bit for bit.
    const loaded = await loadRun(run.path);
    const a = [...model.trainable(), ...model.state()];
    const b = [...loaded.model.trainable(), ...loaded.model.state()];
    assert.equal(a.length, b.length);
    a.forEach((v, i) => assert.deepEqual(b[i].dataSync(), v.dataSync()));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("classifyImages with a Week 8 run loaded in a fresh process: photos of any size, as the model in training", async () => {
  const root = await Deno.makeTempDir();
  try {
    const model = new BNConvNet({ seed: 4, width: 0.125, inputSize: 32 });
    await recalibrateBatchNorm(model, randomImages(20, 32, 3), {
      batchSize: 10,
      seed: 1,
    });
    const pixels = 32 * 32 * 3;
    const mean = Float32Array.from(
      { length: pixels },
      (_, i) => 0.3 + (i % 5) / 20,
    );
    const std = Float32Array.from(
      { length: pixels },
      (_, i) => 0.2 + (i % 3) / 10,
    );
    const run = await createRunDir("week08", { root });
    await saveRun(run, {
      model,
      metrics: {},
      meta: {
        preprocessing: { resize: 40, crop: 32, classes: ["cat", "dog"] },
      },
      arrays: { pixelMean: mean, pixelStd: std },
    });
    // A 53x37 photo besides the 64x64 fixtures.
    const odd = jpeg.encode({
      width: 53,
      height: 37,
      data: Uint8Array.from({ length: 53 * 37 * 4 }, (_, i) => (i * 7) % 256),
    }, 90).data;
    const oddFile = `${root}/odd.jpg`;
    await Deno.writeFile(oddFile, odd);
    const files = [`${FIXTURES}cat.0.jpg`, `${FIXTURES}dog.0.jpg`, oddFile];
    const child = await inFreshProcess(run.path, files);
    assert.equal(child.kind, "bn_convnet");
    // What the model gives the same photos prepared by hand.
    const raw = new Uint8Array(files.length * pixels);
    files.forEach((f, i) =>
      raw.set(prepareImage(Deno.readFileSync(f), 40, 32), i * pixels)
    );
    const x = normalizeImages(raw, pixels, [0, 1, 2], { mean, std });
    const p = model.probabilities(
      tf.tensor4d(x, [3, 32, 32, 3]),
      "population",
    ).dataSync();
    assert.deepEqual(
      child.classes.map((c: { probabilities: Record<string, number> }) => [
        c.probabilities.cat,
        c.probabilities.dog,
      ]).flat(),
      [...p],
    );
    child.classes.forEach((c: { predicted: string }, i: number) =>
      assert.equal(c.predicted, p[2 * i + 1] > p[2 * i] ? "dog" : "cat")
    );
    // A run without preprocessing is refused with the reason.
    const bare = await createRunDir("week08", { root });
    await saveRun(bare, { model, metrics: {} });
    await assert.rejects(
      async () => classifyImages(await loadRun(bare.path), []),
      /not a Week 8 run with its preprocessing saved/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadRun names the folder when it holds no saved model", async () => {
  const root = await Deno.makeTempDir();
  try {
    await assert.rejects(() => loadRun(root), /holds no saved model/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("startRun records provenance, backend and parameters; saveRun marks the run complete", async () => {
  const root = await Deno.makeTempDir();
  try {
    const run = await startRun("week09", {
      root,
      params: { epochs: 1 },
      backend: "backend: cpu",
    });
    const started = await readRunRecord(run.path);
    assert.equal(started?.state, "running");
    assert.deepEqual(started?.params, { epochs: 1 });
    assert.equal(started?.backend, "backend: cpu");
    const prov = started?.provenance as Provenance;
    // This checkout is a git repository: the commit is 40 hex digits.
    assert.match(String(prov.git.commit), /^[0-9a-f]{40}$/);
    assert.equal(typeof prov.git.dirty, "boolean");
    assert.equal(prov.deno, Deno.version.deno);
    assert.equal(prov.tfjs, tf.version_core);
    const model = new FFVAE({
      inputSize: 4,
      encSizes: [3],
      decSizes: [3],
      codeSize: 2,
      seed: 1,
    });
    await saveRun(run, { model, metrics: {} });
    assert.equal((await readRunRecord(run.path))?.state, "complete");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("findResume: '' is a fresh run, 'latest' the newest unfinished run with checkpoints, a path must hold checkpoints", async () => {
  const root = await Deno.makeTempDir();
  try {
    assert.equal(await findResume("week09", "", root), null);
    await assert.rejects(
      findResume("week09", "latest", root),
      /found no unfinished run with checkpoints/,
    );
    const old = await createRunDir("week09", {
      root,
      runId: "2026-01-01T00-00-00-aaaa",
      record: {},
    });
    const done = await createRunDir("week09", {
      root,
      runId: "2026-01-02T00-00-00-bbbb",
      record: {},
    });
    await createRunDir("week09", {
      root,
      runId: "2026-01-03T00-00-00-cccc",
      record: {},
    }); // no checkpoints
    for (const r of [old, done]) await Deno.mkdir(join(r.path, "checkpoints"));
    await done.setState("complete");
    assert.equal(await findResume("week09", "latest", root), old.path);
    assert.equal(await findResume("week09", done.path, root), done.path);
    await assert.rejects(
      findResume("week09", join(root, "nowhere"), root),
      /holds no checkpoints\/ folder/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
