/**
 * The notebooks with tiny parameters on "webgpu", through the real Deno
 * kernel (scripts/run_notebook.ts), against the same runs on a CPU backend:
 * each completes, its backend line names the adapter, and its numbers are
 * close to the CPU run's.
 *
 * - Week 9 against "cpu": the test cost.
 * - Week 8 (when the Dogs vs. Cats zip is in ../shared) against "wasm" (the
 *   cpu backend takes 5 minutes for it): each network's losses.
 * - Week 11 is not run here: its races train for a time budget, so two
 *   backends of different speeds take different numbers of steps, and its
 *   fixed-size feed-forward VAE takes ~5 s a step on the software device
 *   (its tiny run completes on webgpu in 160 s, measured). Its models'
 *   first steps are compared in webgpu_training_test.ts.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { initBackend } from "../../lib/backend/mod.ts";
import { loadSampleScorer } from "../../lib/eval/sample_score.ts";
import { REPO_ROOT, runNotebook } from "../../scripts/run_notebook.ts";
import { webgpuTestGate } from "./test_util.ts";

const gate = await webgpuTestGate();

// Tiny, and a narrow net: the software device runs every shader on the CPU.
const PARAMS = {
  dataset: "mnist",
  epochs: 1,
  trainLimit: 500,
  evalLimit: 200,
  encSizes: [64, 32],
  decSizes: [32, 64],
  codeSize: 16,
  scoreSamples: 200,
  checkpointEvery: 0,
};

// The two runs round differently in every one of their few training
// steps; measured 0.1% apart (92.64 and 92.73 per example).
const COST_TOL = 0.02;

interface Week9Metrics {
  backend: string;
  test: { cost: number; kl: number; reconstruction: number };
}

/**
 * Runs `notebook` with `params` on `backend` and returns the metrics.json
 * of the one run folder it made (the folder is removed afterwards).
 */
async function runOn<T>(
  notebook: string,
  params: Record<string, unknown>,
  backend: string,
  out: string,
): Promise<T> {
  const result = await runNotebook(
    join(REPO_ROOT, "notebooks", notebook),
    { params: { ...params, backend }, outDir: out, timeoutS: 300 },
  );
  try {
    assert.equal(
      result.status,
      "passed",
      `${notebook} on ${backend} ${result.status}: ${result.error?.ename}: ` +
        `${result.error?.evalue}\n${
          (result.error?.traceback ?? []).join("\n")
        }`,
    );
    assert.equal(result.runs.length, 1, `run folders: ${result.runs}`);
    return JSON.parse(
      await Deno.readTextFile(join(result.runs[0], "metrics.json")),
    );
  } finally {
    for (const dir of result.runs) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
}

Deno.test({
  name: "webgpu: Week 9 with tiny parameters reaches the cpu run's test cost",
  ignore: gate.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // The sample score's classifier is trained once and cached; on a fresh
    // clone, train it here on wasm rather than in the notebook on the
    // software device (an hour there).
    await initBackend({ backend: "wasm" });
    await loadSampleScorer();
    const out = await Deno.makeTempDir();
    try {
      const nb = "week09_ff_vae.ipynb";
      const cpu = await runOn<Week9Metrics>(nb, PARAMS, "cpu", out);
      const gpu = await runOn<Week9Metrics>(nb, PARAMS, "webgpu", out);
      console.log(
        `Week 9 test cost: cpu ${cpu.test.cost}, webgpu ${gpu.test.cost}`,
      );
      assert.match(gpu.backend, /^backend: webgpu \(.+\)/);
      assert.match(cpu.backend, /^backend: cpu /);
      const rel = Math.abs(gpu.test.cost - cpu.test.cost) / cpu.test.cost;
      assert.ok(
        rel <= COST_TOL,
        `test cost ${gpu.test.cost} on webgpu, ${cpu.test.cost} on cpu ` +
          `(${(100 * rel).toFixed(2)}% apart, more than ${100 * COST_TOL}%)`,
      );
      assert.ok(Number.isFinite(gpu.test.kl) && gpu.test.kl > 0);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

const DOGS_VS_CATS = resolve(
  REPO_ROOT,
  "..",
  "shared",
  "datasets",
  "dogs-vs-cats",
  "train.zip",
);

interface Week8Metrics {
  backend: string;
  histories: Record<string, { train_loss: number; valid_loss: number }[]>;
}

// Measured 1e-7 apart from cpu; a kernel that is wrong moves them further.
const LOSS_TOL = 1e-3;

Deno.test({
  name: "webgpu: Week 8 with tiny parameters matches the wasm run's losses",
  ignore: gate.ignore || !existsSync(DOGS_VS_CATS),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const params = {
      dataPath: DOGS_VS_CATS,
      limit: 200,
      epochs: 1,
      analysisBatches: 5,
      checkpointEvery: 0,
    };
    const out = await Deno.makeTempDir();
    try {
      const nb = "week08_bn_convnet.ipynb";
      const wasm = await runOn<Week8Metrics>(nb, params, "wasm", out);
      const gpu = await runOn<Week8Metrics>(nb, params, "webgpu", out);
      assert.match(gpu.backend, /^backend: webgpu \(.+\)/);
      const nets = Object.keys(wasm.histories);
      assert.deepEqual(Object.keys(gpu.histories), nets);
      assert.ok(nets.length >= 2, `networks: ${nets}`);
      for (const net of nets) {
        const e = wasm.histories[net].at(-1)!, a = gpu.histories[net].at(-1)!;
        console.log(
          `Week 8 ${net}: train loss wasm ${e.train_loss}, webgpu ` +
            `${a.train_loss}; valid loss wasm ${e.valid_loss}, webgpu ` +
            `${a.valid_loss}`,
        );
        for (const key of ["train_loss", "valid_loss"] as const) {
          const rel = Math.abs(a[key] - e[key]) / e[key];
          assert.ok(
            rel <= LOSS_TOL,
            `${net} ${key}: ${a[key]} on webgpu, ${e[key]} on wasm`,
          );
        }
      }
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
