/**
 * Run directories: one fresh folder per experiment run under
 * `outputs/<group>/<run-id>/`, written atomically and never overwritten.
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

/** Options for {@linkcode createRunDir}. */
export interface RunDirOptions {
  /** Parent of the group folders; default `<repo>/outputs`. */
  root?: string;
  /** The run id; default a timestamp plus a random suffix. If taken, `-2`, `-3`... is appended. */
  runId?: string;
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
  };
}
