import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { loadCheckpoint, saveCheckpoint } from "../lib/checkpoints.ts";
import { FFVAE } from "../lib/models/ff_vae.ts";
import { makeOptimizer } from "../lib/optim/mod.ts";
import type { FitProgress } from "../lib/train.ts";

await tf.setBackend("cpu");

const CHILD = fileURLToPath(
  new URL("./fixtures/train_vae_child.ts", import.meta.url),
);

const config = {
  inputSize: 6,
  encSizes: [5],
  decSizes: [5],
  codeSize: 2,
  seed: 3,
};

function progress(epoch: number): FitProgress {
  return {
    epoch,
    stepInEpoch: 0,
    step: 10 * epoch,
    time: epoch,
    history: [],
    partial: { sums: {}, weight: 0 },
    reference: 5,
  };
}

Deno.test("a checkpoint restores the model and the optimizer's state into new variables", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = new FFVAE(config);
    const optimizer = makeOptimizer({ name: "adam", learningRate: 0.01 });
    const x = tf.randomUniform([4, 6], 0, 1, "float32", 1) as tf.Tensor2D;
    const step = (m: FFVAE, o: tf.Optimizer) =>
      o.minimize(() => m.cost(x, "train", 1).total, false, m.trainable());
    step(model, optimizer);
    step(model, optimizer);
    await saveCheckpoint(dir, "vae", model, optimizer, {
      progress: progress(1),
    });
    await saveCheckpoint(dir, "vae", model, optimizer, {
      progress: progress(2),
    });
    // Only the latest is kept.
    assert.deepEqual(
      [...Deno.readDirSync(join(dir, "checkpoints", "vae"))].map((e) => e.name)
        .sort(),
      ["epoch-2", "latest.json"],
    );
    // A second model (other variable names) and optimizer take the state...
    const copy = new FFVAE({ ...config, seed: 99 });
    const copyOpt = makeOptimizer({ name: "adam", learningRate: 0.01 });
    const ckpt = (await loadCheckpoint(dir, "vae"))!;
    assert.equal(ckpt.state.progress.epoch, 2);
    await ckpt.restore(copy, copyOpt);
    const values = (m: FFVAE) =>
      [...m.trainable(), ...m.state()].map((v) => [...v.dataSync()]);
    assert.deepEqual(values(copy), values(model));
    // ... and both then take the very same next step (Adam's moments and step count came along).
    step(model, optimizer);
    step(copy, copyOpt);
    assert.deepEqual(values(copy), values(model));
    // A model of another shape is refused with the reason.
    const other = new FFVAE({ ...config, encSizes: [4] });
    await assert.rejects(
      ckpt.restore(other, makeOptimizer({ name: "adam", learningRate: 0.01 })),
      /has shape \[6,5\] but the model's is \[6,4\]; resume with the parameters/,
    );
    assert.equal(await loadCheckpoint(dir, "none"), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function runChild(args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

function rows(stdout: string) {
  return stdout.trim().split("\n").map((l) => JSON.parse(l))
    .filter((r) => "epoch" in r)
    .map(({ seconds: _s, time: _t, ...r }) => r);
}

Deno.test("a run killed with SIGKILL during a save resumes from the last complete checkpoint, with the numbers of a run never stopped", async () => {
  const root = await Deno.makeTempDir();
  try {
    const straight = await (runChild([join(root, "straight")])).output();
    assert.equal(straight.code, 0, new TextDecoder().decode(straight.stderr));
    const expected = rows(new TextDecoder().decode(straight.stdout));
    assert.equal(expected.length, 4);

    // Each save pauses 1.5 s between writing and publishing; kill the
    // process during the save after epoch 2.
    const killed = join(root, "killed");
    const child = runChild([killed], {
      IFT6266_CHECKPOINT_PAUSE_MS: "1500",
    });
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let seen = "";
    while (!/"epoch":2[,}]/.test(seen)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the child ended early:\n${seen}`);
      seen += value;
    }
    // Epoch 2's row is printed before its checkpoint is saved.
    await new Promise((r) => setTimeout(r, 500));
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
    const base = join(killed, "checkpoints", "vae");
    const latest = JSON.parse(
      await Deno.readTextFile(join(base, "latest.json")),
    );
    assert.equal(
      latest.latest,
      "epoch-1",
      "the half-saved epoch 2 is not the latest",
    );
    assert.ok(
      [...Deno.readDirSync(base)].some((e) => e.name.endsWith(".tmp")),
      "the interrupted save left its temporary folder",
    );

    const resumed = await (runChild([join(root, "resumed"), killed]))
      .output();
    const out = new TextDecoder().decode(resumed.stdout);
    assert.equal(resumed.code, 0, new TextDecoder().decode(resumed.stderr));
    assert.match(out, /"resumedAt":1/);
    // The resumed run's history holds epoch 1 (from the checkpoint) and
    // epochs 2-4, identical to the run that was never stopped.
    assert.deepEqual(rows(out), expected.slice(1));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
