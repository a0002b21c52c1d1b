/**
 * Where figures go on disk: `<dir>/<name>.<ext>` when a directory is given,
 * else `outputs/figures/` (repository root) when not in a notebook.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isJupyter } from "./jupyter.ts";

/** `<repo>/outputs/figures`, resolved from this module's location. */
export const DEFAULT_FIGURE_DIR: string = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "outputs",
  "figures",
);

/** Where to save a figure; see {@linkcode saveFigure}. */
export interface SaveOptions {
  /** File name without extension; default a fresh `figure-<time>-<n>`. */
  name?: string;
  /** Directory to write into (created if needed). */
  dir?: string;
}

let counter = 0;

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
}

/**
 * Writes a figure and returns its path, or null when nothing was written
 * (inside Jupyter with no `dir`). A given `name` overwrites a previous file of
 * that name; without a name a fresh one is picked, never overwriting.
 * Outside Jupyter without `dir` it writes under `outputs/figures/` and prints
 * the path.
 */
export async function saveFigure(
  content: Uint8Array | string,
  ext: string,
  opts: SaveOptions = {},
): Promise<string | null> {
  const inNotebook = isJupyter();
  if (opts.dir === undefined && inNotebook) return null;
  const dir = opts.dir ?? DEFAULT_FIGURE_DIR;
  await Deno.mkdir(dir, { recursive: true });
  const bytes = typeof content === "string"
    ? new TextEncoder().encode(content)
    : content;
  let path: string;
  if (opts.name !== undefined) {
    path = join(dir, `${opts.name}.${ext}`);
    await Deno.writeFile(path, bytes);
  } else {
    for (;;) {
      counter += 1;
      path = join(dir, `figure-${stamp()}-${counter}.${ext}`);
      try {
        await Deno.writeFile(path, bytes, { createNew: true });
        break;
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
    }
  }
  if (opts.dir === undefined && !inNotebook) console.log(`figure: ${path}`);
  return path;
}
