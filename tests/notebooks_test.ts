/**
 * Runs every notebook in notebooks/ headless with tiny parameters and checks
 * that it completes without an error output and shows its figures.
 *
 * Every notebook needs an entry in NOTEBOOKS: the parameters that make it
 * quick, and which kinds of figures it must show. A notebook that needs data
 * gets its path in `params` and `skipUnless`; when the path does not exist
 * the test expects the run to fail with DatasetPathError. Each notebook's
 * stored `metadata.language_info` must be what the kernel reports.
 */

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type Notebook,
  type Overrides,
  REPO_ROOT,
  runNotebook,
} from "../scripts/run_notebook.ts";

/** How one notebook is tested. */
interface NotebookCase {
  /** Parameter overrides that make the run small. */
  params: Overrides;
  /** MIME types that must appear among the outputs. */
  expect: string[];
  /**
   * A file the notebook needs, passed to it explicitly in `params`; when it
   * is absent the run must fail with a DatasetPathError (an explicit path
   * that does not exist is a mistake, not missing data).
   */
  skipUnless?: string;
  /** Per-cell timeout in seconds. */
  timeoutS?: number;
}

const DOGS_VS_CATS = resolve(
  REPO_ROOT,
  "..",
  "shared",
  "datasets",
  "dogs-vs-cats",
  "train.zip",
);

/** Tiny runs of each notebook, by file name. */
const NOTEBOOKS: Record<string, NotebookCase> = {
  "week09_ff_vae.ipynb": {
    params: {
      dataset: "mnist",
      epochs: 1,
      trainLimit: 1000,
      evalLimit: 200,
      scoreSamples: 200,
    },
    expect: ["image/png", "image/svg+xml"],
  },
  "week11_rmsprop_conv_vae.ipynb": {
    params: {
      dataset: "mnist",
      trainLimit: 1000,
      testLimit: 200,
      statsLimit: 500,
      scoreSamples: 200,
      budgetSeconds: 2,
      evaluateEvery: 5,
      convBudgetSeconds: 3,
      convEvaluateEvery: 5,
      convBatchSize: 32,
    },
    expect: ["image/png", "image/svg+xml"],
  },
  "week10_semi_supervised_vae.ipynb": {
    params: {
      dataset: "mnist",
      trainLimit: 1000,
      evalLimit: 200,
      models: ["ss_vae", "m2", "m1m2", "supervised"],
      ssEncSizes: [32, 16],
      ssDecSizes: [16, 32],
      ssEpochs: 1,
      m2Hidden: 32,
      m2Epochs: 1,
      m1Hidden: [32],
      m1Epochs: 1,
      m1m2Epochs: 1,
      supervisedEpochs: 2,
      lrDecayEpochs: 2, // runs the schedule's path (the baseline's 2nd epoch at half the rate)
      averageDecay: 0.9, // and the weight average's
    },
    expect: ["image/png", "image/svg+xml"],
  },
  "week08_bn_convnet.ipynb": {
    params: {
      dataPath: DOGS_VS_CATS,
      limit: 200,
      epochs: 1,
      analysisBatches: 5,
    },
    expect: ["image/png", "image/svg+xml"],
    skipUnless: DOGS_VS_CATS,
  },
};

const NOTEBOOK_DIR = join(REPO_ROOT, "notebooks");
const found = [...Deno.readDirSync(NOTEBOOK_DIR)]
  .filter((e) => e.isFile && e.name.endsWith(".ipynb"))
  .map((e) => e.name)
  .sort();

for (const name of found) {
  Deno.test({
    name: `notebook ${name} runs with tiny parameters`,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const testCase = NOTEBOOKS[name];
      assert.ok(
        testCase,
        `${name} has no entry in NOTEBOOKS in tests/notebooks_test.ts; add ` +
          `one with the parameters that make it run in seconds`,
      );
      const out = await Deno.makeTempDir();
      try {
        const result = await runNotebook(join(NOTEBOOK_DIR, name), {
          params: testCase.params,
          outDir: out,
          timeoutS: testCase.timeoutS ?? 600,
        });
        // Jupyter replaces the stored language_info with the kernel's, and
        // the classic Notebook marks a notebook modified on opening when the
        // two differ (a TypeScript version, even a missing field).
        const stored: Notebook = JSON.parse(
          await Deno.readTextFile(join(NOTEBOOK_DIR, name)),
        );
        const executed: Notebook = JSON.parse(
          await Deno.readTextFile(result.ipynb),
        );
        assert.deepEqual(
          stored.metadata.language_info,
          executed.metadata.language_info,
          `${name}: metadata.language_info is not what this Deno's kernel ` +
            `reports, so Jupyter would mark the notebook modified as soon as ` +
            `it is opened; copy metadata.language_info from ${result.ipynb}`,
        );
        if (testCase.skipUnless && !existsSync(testCase.skipUnless)) {
          // The case names the absent path explicitly (dataPath), which is a
          // mistake the notebook reports as a failure, not a skip.
          assert.equal(
            result.status,
            "failed",
            `${testCase.skipUnless} is absent and given explicitly, so ${name} ` +
              `should fail with DatasetPathError; got ${result.status}: ${
                result.error?.evalue ?? ""
              }`,
          );
          assert.equal(result.error?.ename, "DatasetPathError");
          return;
        }
        assert.equal(
          result.status,
          "passed",
          `${name} ${result.status}: ${result.error?.ename}: ${result.error?.evalue}\n` +
            `${(result.error?.traceback ?? []).join("\n")}`,
        );
        const nb: Notebook = JSON.parse(await Deno.readTextFile(result.ipynb));
        const outputs = nb.cells.flatMap((c) => c.outputs ?? []);
        // The injected parameters print nothing (no stray Out[n] line).
        const injected = nb.cells.find((c) =>
          c.metadata?.tags?.includes("injected-parameters")
        );
        assert.deepEqual(injected?.outputs, []);
        assert.deepEqual(
          outputs.filter((o) => o.output_type === "error"),
          [],
        );
        const mimes = new Set(
          outputs.flatMap((o) => Object.keys(o.data ?? {})),
        );
        for (const mime of testCase.expect) {
          assert.ok(mimes.has(mime), `${name} showed no ${mime} output`);
        }
      } finally {
        await Deno.remove(out, { recursive: true });
      }
    },
  });
}
