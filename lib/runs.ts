/**
 * Self-contained runs: a run folder holds what is needed to use its model
 * later without the training data, and {@linkcode loadRun} rebuilds the
 * model from it.
 *
 * ```ts
 * await saveRun(run, { model, metrics: { params, history }, meta: { preprocessing } });
 * const loaded = await loadRun("outputs/week09/2026-12-01T20-04-30-dc65");
 * ```
 *
 * A run folder then holds `metrics.json` (written first, so a failure while
 * saving the weights never loses the results), `weights.json` (the model's
 * kind and configuration, `meta`, and the manifest) and `weights.bin`.
 *
 * @module
 */
import { buildModel, type SavableModel } from "./models/mod.ts";
import { loadWeights, readWeightsMeta, saveWeights } from "./nn/checkpoint.ts";
import { provenance } from "./provenance.ts";
import {
  createRunDir,
  DEFAULT_OUTPUT_ROOT,
  readRunRecord,
  type RunDir,
  type RunDirOptions,
} from "./run_dir.ts";
import { join, resolve } from "node:path";

/**
 * The run folder a notebook's `resume` parameter names, or null for "":
 * "latest" is the newest folder of `outputs/<group>/` that did not complete
 * and holds checkpoints; anything else is a run folder's path, which must
 * hold checkpoints. Throws saying what was looked for.
 */
export async function findResume(
  group: string,
  resume: string,
  root: string = DEFAULT_OUTPUT_ROOT,
): Promise<string | null> {
  if (resume === "") return null;
  const hasCheckpoints = (dir: string) =>
    Deno.stat(join(dir, "checkpoints")).then((s) => s.isDirectory, () => false);
  if (resume !== "latest") {
    const dir = resolve(resume);
    if (!(await hasCheckpoints(dir))) {
      throw new Error(
        `resume: ${dir} holds no checkpoints/ folder; give a run folder of ` +
          `outputs/${group}/ that saved checkpoints, or "latest"`,
      );
    }
    return dir;
  }
  const parent = join(root, group);
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(parent)) {
      if (e.isDirectory) names.push(e.name);
    }
  } catch { /* no runs yet */ }
  // Run ids start with their UTC time: the last in order is the newest.
  for (const name of names.sort().reverse()) {
    const dir = join(parent, name);
    const record = await readRunRecord(dir);
    if (record?.state !== "complete" && await hasCheckpoints(dir)) return dir;
  }
  throw new Error(
    `resume: "latest" found no unfinished run with checkpoints in ${parent}`,
  );
}

/**
 * A fresh run folder for `group` (`outputs/<group>/<run-id>/`) whose
 * `run.json` records its state ("running" until {@linkcode saveRun}), its
 * provenance, the backend and the parameters.
 */
export async function startRun(
  group: string,
  opts: {
    params: Record<string, unknown>;
    backend: string;
    /** The run folder this one continues (see {@linkcode findResume}). */
    resumedFrom?: string | null;
  } & Pick<RunDirOptions, "root">,
): Promise<RunDir> {
  return await createRunDir(group, {
    root: opts.root,
    record: {
      provenance: await provenance(),
      backend: opts.backend,
      params: opts.params,
      ...(opts.resumedFrom ? { resumedFrom: opts.resumedFrom } : {}),
    },
  });
}

/** What {@linkcode saveRun} writes. */
export interface SaveRunOptions {
  /** The trained model. */
  model: SavableModel;
  /** The run's results for `metrics.json` (parameters, history, final metrics). */
  metrics: Record<string, unknown>;
  /** Anything else the model needs in use, e.g. how inputs are prepared. */
  meta?: Record<string, unknown>;
  /** Named float32 arrays saved with the weights (e.g. normalization statistics). */
  arrays?: Record<string, Float32Array>;
}

/**
 * Writes `metrics.json`, then the model (see the module's notes), then
 * marks the run "complete".
 */
export async function saveRun(
  run: RunDir,
  opts: SaveRunOptions,
): Promise<void> {
  await run.writeJson("metrics.json", opts.metrics);
  await saveWeights(
    run,
    opts.model,
    {
      model: { kind: opts.model.kind, config: opts.model.config },
      ...opts.meta,
    },
    opts.arrays,
  );
  await run.setState("complete");
}

/** A run rebuilt by {@linkcode loadRun}. */
export interface LoadedRun {
  /** The run folder. */
  dir: string;
  /** The model, with every saved variable restored (population statistics included). */
  model: SavableModel;
  /** `weights.json`'s other entries (e.g. `preprocessing`). */
  meta: Record<string, unknown>;
  /** The arrays saved with the weights. */
  arrays: Record<string, Float32Array>;
  /** `metrics.json`, or null when the run has none. */
  metrics: Record<string, unknown> | null;
}

/**
 * Rebuilds a run's model from its saved kind, configuration and weights.
 * Throws naming the folder when it holds no saved model.
 */
export async function loadRun(dir: string): Promise<LoadedRun> {
  const saved = await readWeightsMeta(dir);
  const spec = saved.model as { kind?: string; config?: unknown } | undefined;
  if (!spec?.kind) {
    throw new Error(
      `${dir}/weights.json names no model kind (saved before runs were ` +
        "self-contained?); rerun the notebook to save it again",
    );
  }
  const model = buildModel(spec.kind, spec.config);
  const { meta, arrays } = await loadWeights(dir, model);
  const { model: _, ...rest } = meta;
  let metrics: Record<string, unknown> | null = null;
  try {
    metrics = JSON.parse(await Deno.readTextFile(`${dir}/metrics.json`));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return { dir, model, meta: rest, arrays, metrics };
}
