/**
 * Checkpoints: everything a training run needs to continue exactly where it
 * stood, saved into its run folder every few epochs (and when a run is asked
 * to stop).
 *
 * A checkpoint is a folder `checkpoints/<name>/epoch-<n>/` holding
 * `state.json` (the epochs done, the history, the manifest) and
 * `weights.bin` (the model's variables, then the optimizer's state), and
 * `checkpoints/<name>/latest.json` names the newest complete one. A
 * checkpoint is written under a temporary name and renamed into place, and
 * only then does `latest.json` (itself renamed into place) point at it: a
 * process killed at any moment of a save leaves the previous checkpoint the
 * latest. Nothing else needs saving: every random draw of a run follows from
 * its seed and the (epoch, step) it is made at (lib/random.ts `deriveSeed`),
 * so epoch `n + 1` of a resumed run draws what it would have.
 *
 * The optimizer's state is saved by the position of each variable in
 * `model.trainable()`, not by variable name: names carry a counter that
 * differs from process to process.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import type { Module } from "./nn/module.ts";
import type { FitOptions, FitProgress } from "./train.ts";

/** What a checkpoint says besides the weights. */
export interface CheckpointState {
  /** Where training stood (lib/train.ts `fit` resumes from it). */
  progress: FitProgress;
  /** Whatever else the caller keeps. */
  extra?: Record<string, unknown>;
}

interface Entry {
  /** "var:<index>" for a model variable, "opt:<slot name>" for optimizer state. */
  key: string;
  shape: number[];
  dtype: tf.DataType;
  offset: number;
  size: number;
}

/** Milliseconds a save pauses between writing and publishing (tests use it to kill a save midway). */
const PAUSE_ENV = "IFT6266_CHECKPOINT_PAUSE_MS";

function slotKey(name: string, index: Map<string, number>): string {
  const slash = name.indexOf("/");
  const variable = slash < 0 ? name : name.slice(0, slash);
  const i = index.get(variable);
  return i === undefined ? `opt:${name}` : `opt:${i}${name.slice(slash)}`;
}

/**
 * Saves `model` and `optimizer` with `state` as checkpoint `epoch-<n>` (or
 * `epoch-<n>-step-<i>` inside an epoch) of `checkpoints/<name>/` in
 * `runDir`, then makes it the latest; older checkpoints of that name are
 * removed.
 */
export async function saveCheckpoint(
  runDir: string,
  name: string,
  model: Module,
  optimizer: tf.Optimizer,
  state: CheckpointState,
): Promise<string> {
  const base = join(runDir, "checkpoints", name);
  await Deno.mkdir(base, { recursive: true });
  const variables = [...model.trainable(), ...model.state()];
  const index = new Map(variables.map((v, i) => [v.name, i]));
  const slots = await optimizer.getWeights();
  const tensors: [string, tf.Tensor][] = [
    ...variables.map((v, i) => [`var:${i}`, v] as [string, tf.Tensor]),
    ...slots.map((s) =>
      [slotKey(s.name, index), s.tensor] as [string, tf.Tensor]
    ),
  ];
  const entries: Entry[] = [];
  let offset = 0;
  for (const [key, t] of tensors) {
    entries.push({ key, shape: t.shape, dtype: t.dtype, offset, size: t.size });
    offset += t.size;
  }
  const data = new Float32Array(offset);
  tensors.forEach(([, t], i) => data.set(t.dataSync(), entries[i].offset));
  const { epoch, stepInEpoch } = state.progress;
  const folder = `epoch-${epoch}${stepInEpoch ? `-step-${stepInEpoch}` : ""}`;
  const tmp = join(base, `.${folder}.${crypto.randomUUID()}.tmp`);
  await Deno.mkdir(tmp);
  await Deno.writeFile(join(tmp, "weights.bin"), new Uint8Array(data.buffer));
  await Deno.writeTextFile(
    join(tmp, "state.json"),
    JSON.stringify({ ...state, entries }, null, 1) + "\n",
  );
  const pause = Number(Deno.env.get(PAUSE_ENV) ?? 0);
  if (pause > 0) await new Promise((r) => setTimeout(r, pause));
  const final = join(base, folder);
  await Deno.remove(final, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, final);
  const latest = join(base, "latest.json");
  const latestTmp = `${latest}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(
    latestTmp,
    JSON.stringify({ latest: folder }) + "\n",
  );
  await Deno.rename(latestTmp, latest);
  // Older checkpoints and leftovers of interrupted saves go.
  for (const e of Deno.readDirSync(base)) {
    if (e.isDirectory && e.name !== folder) {
      await Deno.remove(join(base, e.name), { recursive: true }).catch(
        () => {},
      );
    }
  }
  return final;
}

/** A checkpoint found by {@linkcode loadCheckpoint}. */
export interface Checkpoint {
  /** Its folder. */
  path: string;
  state: CheckpointState;
  /**
   * Puts the saved variables into `model` (built with the same
   * configuration) and the saved state into `optimizer` (the same kind).
   */
  restore(model: Module, optimizer: tf.Optimizer): Promise<void>;
}

/**
 * The latest complete checkpoint `name` of the run folder `runDir`, or null
 * when it has none.
 */
export async function loadCheckpoint(
  runDir: string,
  name: string,
): Promise<Checkpoint | null> {
  const base = join(runDir, "checkpoints", name);
  let folder: string;
  try {
    folder = JSON.parse(await Deno.readTextFile(join(base, "latest.json")))
      .latest;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new Error(
      `${base}/latest.json is unreadable (${(e as Error).message}); ` +
        "delete the checkpoints folder to start over",
    );
  }
  const path = join(base, folder);
  const saved = JSON.parse(await Deno.readTextFile(join(path, "state.json")));
  const bytes = await Deno.readFile(join(path, "weights.bin"));
  const data = new Float32Array(
    bytes.buffer,
    bytes.byteOffset,
    bytes.byteLength / 4,
  );
  const { entries, ...state } = saved as CheckpointState & { entries: Entry[] };
  const values = (e: Entry) =>
    tf.tensor(data.subarray(e.offset, e.offset + e.size), e.shape, "float32")
      .cast(e.dtype);
  return {
    path,
    state,
    async restore(model, optimizer) {
      const variables = [...model.trainable(), ...model.state()];
      const slots: { name: string; tensor: tf.Tensor }[] = [];
      for (const e of entries) {
        if (e.key.startsWith("var:")) {
          const v = variables[Number(e.key.slice(4))];
          if (!v || v.shape.join("x") !== e.shape.join("x")) {
            throw new Error(
              `checkpoint ${path}: variable ${e.key.slice(4)} has shape ` +
                `[${e.shape}] but the model's is [${v?.shape ?? "missing"}]; ` +
                "resume with the parameters the run was started with",
            );
          }
          tf.tidy(() => v.assign(values(e)));
          continue;
        }
        const name = e.key.slice(4);
        const m = /^(\d+)(\/.*)$/.exec(name);
        slots.push({
          name: m ? `${variables[Number(m[1])].name}${m[2]}` : name,
          tensor: values(e),
        });
      }
      await optimizer.setWeights(slots);
      tf.dispose(slots.map((s) => s.tensor));
    },
  };
}

/**
 * A training loop's `checkpoint` and `resume` options for `fit`: restores
 * `resume` (when given) into `model` and `optimizer`, and saves checkpoint
 * `name` into the run folder `keep.dir` every `keep.every` epochs.
 */
export async function checkpointing(
  model: Module,
  optimizer: tf.Optimizer,
  name: string,
  keep?: { dir: string; every: number },
  resume?: Checkpoint | null,
): Promise<Pick<FitOptions, "checkpoint" | "resume">> {
  await resume?.restore(model, optimizer);
  return {
    resume: resume?.state.progress,
    checkpoint: keep && {
      every: keep.every,
      save: async (progress) => {
        await saveCheckpoint(keep.dir, name, model, optimizer, { progress });
      },
    },
  };
}
