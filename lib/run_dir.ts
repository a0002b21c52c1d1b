/**
 * Run directories: one fresh folder per experiment run under
 * `outputs/<group>/<run-id>/`, written atomically and never overwritten.
 *
 * An experiment's run folder also says where it stands: `run.json` holds its
 * state ("running", then "complete", "failed" or "interrupted"), when it
 * started and last changed, its provenance (git commit and whether the tree
 * was dirty, Deno, tfjs, the backend) and its parameters. It is the one file
 * that is rewritten, always whole (written aside, then renamed). A process
 * that creates run folders while the environment variable
 * {@linkcode RUN_REGISTRY_ENV} names a file appends each folder's path to it,
 * so that the headless runner can mark the runs of a notebook that failed or
 * was interrupted.
 *
 * @module
 */

import { dirname, isAbsolute, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** `<repo>/outputs`, resolved from this module's location (not the cwd). */
export const DEFAULT_OUTPUT_ROOT: string = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "outputs",
);

/** Where a run stands, as its `run.json` says. */
export type RunState = "running" | "complete" | "failed" | "interrupted";

/** `run.json`: a run's state, times, provenance and parameters. */
export interface RunRecord {
  state: RunState;
  /** ISO times. */
  started: string;
  updated: string;
  /** Why it failed or stopped, for "failed" and "interrupted". */
  reason?: string;
  /** Anything else the run records (provenance, parameters, ...). */
  [key: string]: unknown;
}

/** The environment variable naming a file that collects created run folders. */
export const RUN_REGISTRY_ENV = "IFT6266_RUN_REGISTRY";

/** Options for {@linkcode createRunDir}. */
export interface RunDirOptions {
  /** Parent of the group folders; default `<repo>/outputs`. */
  root?: string;
  /** The run id; default a timestamp plus a random suffix. If taken, `-2`, `-3`... is appended. */
  runId?: string;
  /**
   * Keep a `run.json` (state "running" from now): what to record beside the
   * state, e.g. `{ provenance, params }`.
   */
  record?: Record<string, unknown>;
}

/** A fresh directory for one run's files. */
export interface RunDir {
  /** Absolute path of the directory. */
  readonly path: string;
  /** The run id (the directory's name), e.g. `2026-11-27T10-55-01-ab12`. */
  readonly id: string;
  /** Absolute path of `name` inside the run directory (nothing is written). */
  file(name: string): string;
  /** Writes `value` as indented JSON; returns the file's path. */
  writeJson(name: string, value: unknown): Promise<string>;
  /** Writes UTF-8 text; returns the file's path. */
  writeText(name: string, text: string): Promise<string>;
  /** Writes bytes; returns the file's path. */
  writeBytes(name: string, bytes: Uint8Array): Promise<string>;
  /**
   * Records a new state in `run.json` (with `extra` merged in); a no-op for
   * a folder made without `record`.
   */
  setState(state: RunState, extra?: Record<string, unknown>): Promise<void>;
}

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(2));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A run id for `date`: `YYYY-MM-DDTHH-MM-SS-xxxx` (UTC, 4 random hex digits). */
export function makeRunId(date: Date = new Date()): string {
  const stamp = date.toISOString().slice(0, 19).replace(/:/g, "-");
  return `${stamp}-${randomSuffix()}`;
}

/** Resolves a relative file name inside `dir`, refusing names that leave it. */
function resolveInside(dir: string, name: string): string {
  const clean = normalize(name);
  if (
    name === "" || isAbsolute(name) || clean === ".." ||
    clean.startsWith(`..${sep}`)
  ) {
    throw new Error(
      `run dir: "${name}" is not a relative file name inside ${dir}; ` +
        `use a name like "metrics.json" or "figures/loss.svg"`,
    );
  }
  return join(dir, clean);
}

/**
 * Writes `data` to `path` atomically without overwriting: the data goes to
 * a temporary file in the same folder, which is then hard-linked to `path`
 * (failing if `path` exists) and removed. A failure (a stream that errors, a
 * full disk) leaves no partial file.
 */
export async function writeNewFileAtomic(
  path: string,
  data: Uint8Array | ReadableStream<Uint8Array>,
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomSuffix()}${randomSuffix()}.tmp`;
  try {
    await Deno.writeFile(tmp, data, { createNew: true });
    try {
      await Deno.link(tmp, path);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) {
        throw new Deno.errors.AlreadyExists(
          `run dir: ${path} already exists; files in a run directory are ` +
            `never overwritten, so pick another name or start a new run`,
        );
      }
      throw e;
    }
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/**
 * Creates a fresh run directory `<root>/<group>/<run-id>/`. The directory is
 * created exclusively: if the id is taken (another process, or a given
 * `runId` used before), another id is chosen, so a run never writes into an
 * existing one.
 *
 * @example
 * ```ts
 * const run = await createRunDir("week09");
 * await run.writeJson("config.json", { epochs, batchSize });
 * ```
 */
export async function createRunDir(
  group: string,
  opts: RunDirOptions = {},
): Promise<RunDir> {
  const root = opts.root ?? DEFAULT_OUTPUT_ROOT;
  const parent = resolveInside(root, group);
  await Deno.mkdir(parent, { recursive: true });
  let id = "";
  let path = "";
  for (let attempt = 1;; attempt++) {
    if (attempt > 1000) {
      throw new Error(`run dir: could not create a new directory in ${parent}`);
    }
    id = opts.runId === undefined
      ? makeRunId()
      : attempt === 1
      ? opts.runId
      : `${opts.runId}-${attempt}`;
    path = resolveInside(parent, id);
    try {
      await Deno.mkdir(path); // not recursive: fails if it exists
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
  }
  let record: RunRecord | null = null;
  if (opts.record) {
    const now = new Date().toISOString();
    record = { state: "running", started: now, updated: now, ...opts.record };
    await writeRunRecord(path, record);
    await register(path);
  }
  const encoder = new TextEncoder();
  const write = async (name: string, bytes: Uint8Array) => {
    const file = resolveInside(path, name);
    await writeNewFileAtomic(file, bytes);
    return file;
  };
  return {
    path,
    id,
    file: (name) => resolveInside(path, name),
    writeBytes: write,
    writeText: (name, text) => write(name, encoder.encode(text)),
    writeJson: (name, value) =>
      write(name, encoder.encode(JSON.stringify(value, null, 2) + "\n")),
    setState: async (state, extra = {}) => {
      if (!record) return;
      record = {
        ...record,
        ...extra,
        state,
        updated: new Date().toISOString(),
      };
      await writeRunRecord(path, record);
    },
  };
}

/** The name of a run folder's record. */
export const RUN_RECORD = "run.json";

async function writeRunRecord(dir: string, record: RunRecord): Promise<void> {
  const file = join(dir, RUN_RECORD);
  const tmp = `${file}.${randomSuffix()}${randomSuffix()}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(record, null, 2) + "\n");
  // rename() replaces run.json in one step: a reader sees the old or the new.
  await Deno.rename(tmp, file);
}

async function register(dir: string): Promise<void> {
  let registry: string | undefined;
  try {
    registry = Deno.env.get(RUN_REGISTRY_ENV);
  } catch { /* no env permission: nobody to tell */ }
  if (registry) {
    await Deno.writeTextFile(registry, dir + "\n", { append: true });
  }
}

/** A run folder's `run.json`, or null when it has none (or it is unreadable). */
export async function readRunRecord(dir: string): Promise<RunRecord | null> {
  try {
    return JSON.parse(await Deno.readTextFile(join(dir, RUN_RECORD)));
  } catch {
    return null;
  }
}

/**
 * Marks a run folder "failed" or "interrupted" with a reason, unless its
 * record already says it ended; returns whether it changed anything.
 */
export async function markRunEnded(
  dir: string,
  state: "failed" | "interrupted",
  reason: string,
): Promise<boolean> {
  const record = await readRunRecord(dir);
  if (!record || record.state !== "running") return false;
  await writeRunRecord(dir, {
    ...record,
    state,
    reason,
    updated: new Date().toISOString(),
  });
  return true;
}
