/**
 * Runs a notebook headless through the real Deno Jupyter kernel, with
 * parameters overridden like papermill:
 *
 * ```sh
 * deno task run notebooks/week09_ff_vae.ipynb -p epochs=3 -p batchSize=100 \
 *   [--out DIR] [--timeout SECONDS]
 * ```
 *
 * The notebook must have exactly one code cell tagged `parameters` that
 * declares its parameters, either as one object literal
 * (`const params = { epochs: 16, ... };`, the notebooks' form) or with `let`
 * (a `const` cannot be reassigned). After it, a cell tagged
 * `injected-parameters` assigns the overrides (`params.epochs = 3;`, or
 * `epochs = 3;`); values are parsed as JSON when valid, else taken as
 * strings (`-p name=relu` gives "relu"). Relative paths passed as values are
 * seen from the notebook's folder, the kernel's working directory.
 *
 * The executed notebook and an HTML export are saved under
 * `outputs/notebooks/<notebook-name>/<run-id>/` (with `--out DIR`:
 * `DIR/<notebook-name>/<run-id>/`), also when a cell fails. Exit codes:
 * 0 passed, 1 a cell failed (its error is printed), 3 skipped because a
 * `DatasetNotFoundError` stopped it, 2 bad arguments, a parameter value the
 * notebook's schema (lib/experiments/parameters.ts) does not allow (checked
 * before the kernel starts), or a broken setup.
 *
 * The kernel is registered in the project-local `.jupyter/` (see
 * {@linkcode ensureKernelspec}), not in the user's Jupyter setup.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { NOTEBOOK_PARAMETERS } from "../lib/experiments/parameters.ts";
import { checkParams } from "../lib/params.ts";
import {
  createRunDir,
  makeRunId,
  markRunEnded,
  RUN_REGISTRY_ENV,
} from "../lib/run_dir.ts";

/** The repository root (this script's parent folder). */
export const REPO_ROOT: string = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "..",
);
/** The Python with nbclient and nbconvert (Debian's packages). */
export const PYTHON: string = Deno.env.get("NOTEBOOK_PYTHON") ??
  "/usr/bin/python3";
/** Exit code for a notebook skipped for lack of data. */
export const EXIT_SKIPPED = 3;
/** Exit code for bad arguments or parameters, and a broken setup. */
export const EXIT_USAGE = 2;
/** Exit code for a run stopped by Ctrl-C or SIGTERM (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;
/**
 * Seconds a stopped run's kernel gets to finish its step and save a
 * checkpoint (lib/train.ts `fit` stops on SIGINT), then the executor to save
 * the partial notebook, before each is forced.
 */
const KERNEL_GRACE_S = 20;
const STOP_GRACE_S = 15;
/** Tag of the cell holding the notebook's default parameters. */
export const PARAMETERS_TAG = "parameters";
/** Tag of the cell the runner adds with the overrides. */
export const INJECTED_TAG = "injected-parameters";

/** The parts of an nbformat-4 cell the runner reads and writes. */
export interface Cell {
  cell_type: string;
  source: string | string[];
  metadata?: { tags?: string[]; [key: string]: unknown };
  outputs?: Output[];
  id?: string;
  [key: string]: unknown;
}

/** One cell output as nbformat stores it. */
export interface Output {
  output_type: string;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
  text?: string | string[];
  [key: string]: unknown;
}

/** An nbformat-4 notebook. */
export interface Notebook {
  cells: Cell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

/** Parameter overrides, name to value. */
export type Overrides = Record<string, unknown>;

/** A cell's source as one string. */
export function cellSource(cell: Cell): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

/** Index of the one cell tagged `parameters`; throws for none or several. */
export function findParametersCell(nb: Notebook): number {
  const found = nb.cells.flatMap((cell, i) =>
    cell.metadata?.tags?.includes(PARAMETERS_TAG) ? [i] : []
  );
  if (found.length === 0) {
    throw new Error(
      `no cell is tagged "${PARAMETERS_TAG}"; tag the code cell that declares ` +
        `the parameters with \`let\` (cell metadata: {"tags": ["parameters"]})`,
    );
  }
  if (found.length > 1) {
    throw new Error(
      `${found.length} cells are tagged "${PARAMETERS_TAG}" (cells ${
        found.join(", ")
      }); keep the tag on exactly one`,
    );
  }
  if (nb.cells[found[0]].cell_type !== "code") {
    throw new Error(`the cell tagged "${PARAMETERS_TAG}" is not a code cell`);
  }
  return found[0];
}

/**
 * Names declared at the start of a line in the parameters cell, with their
 * keyword: `let epochs = 10;` gives `epochs -> let`. A declaration listing
 * several names on one line (`let a = 1, b = 2;`) yields only the first. A
 * cell that declares its parameters as one object literal
 * (`const params = { epochs: 10, ... };`, see {@linkcode parametersObject})
 * gives that object's keys, with the keyword `key`.
 */
export function declaredParameters(source: string): Map<string, string> {
  const object = parametersObject(source);
  if (object) return new Map(object.keys.map((k) => [k, "key"]));
  const names = new Map<string, string>();
  for (
    const m of source.matchAll(/^\s*(let|const|var)\s+([A-Za-z_$][\w$]*)/gm)
  ) {
    names.set(m[2], m[1]);
  }
  return names;
}

/**
 * The object-literal form of a parameters cell: `const params = { ... };`
 * as its first declaration. Returns the variable's name and the object's
 * top-level keys in order, or null when the cell has another form.
 */
export function parametersObject(
  source: string,
): { name: string; keys: string[] } | null {
  const head =
    /^\s*(?:\/\/[^\n]*\n\s*)*(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::[^=]*)?=\s*\{/
      .exec(source);
  if (!head) return null;
  const keys: string[] = [];
  let depth = 1;
  let expectKey = true;
  let i = head[0].length;
  while (i < source.length && depth > 0) {
    const c = source[i];
    if (c === "/" && source[i + 1] === "/") {
      i = source.indexOf("\n", i);
      if (i < 0) break;
      continue;
    }
    if (c === "/" && source[i + 1] === "*") {
      i = source.indexOf("*/", i + 2) + 2;
      if (i < 2) break;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < source.length && source[j] !== c) {
        j += source[j] === "\\" ? 2 : 1;
      }
      if (depth === 1 && expectKey) keys.push(source.slice(i + 1, j));
      expectKey = false;
      i = j + 1;
      continue;
    }
    if ("{[(".includes(c)) depth++;
    else if ("}])".includes(c)) depth--;
    else if (c === "," && depth === 1) {
      expectKey = true;
      i++;
      continue;
    } else if (depth === 1 && expectKey) {
      const id = /^[A-Za-z_$][\w$]*/.exec(source.slice(i));
      if (id) {
        keys.push(id[0]);
        expectKey = false;
        i += id[0].length;
        continue;
      }
    }
    expectKey = false;
    i++;
  }
  return { name: head[1], keys };
}

/** Parses `name=value` from `-p`: the value as JSON when valid, else the raw string. */
export function parseParam(text: string): [string, unknown] {
  const eq = text.indexOf("=");
  if (eq <= 0) {
    throw new Error(`bad parameter "${text}"; write -p name=value`);
  }
  const name = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1);
  if (!/^[A-Za-z_$][\w$]*$/.test(name)) {
    throw new Error(
      `bad parameter name "${name}"; use a TypeScript identifier`,
    );
  }
  try {
    return [name, JSON.parse(raw)];
  } catch {
    return [name, raw];
  }
}

/**
 * The source of the injected cell: one assignment per override, to the
 * parameter itself or, for the object form, to `<object>.<name>`.
 */
export function injectedSource(overrides: Overrides, object?: string): string {
  const lines = ["// Parameters injected by scripts/run_notebook.ts"];
  for (const [name, value] of Object.entries(overrides)) {
    const target = object ? `${object}.${name}` : name;
    lines.push(`${target} = ${JSON.stringify(value)};`);
  }
  // The kernel would show the last assignment's value as the cell's result.
  lines.push("undefined;");
  return lines.join("\n") + "\n";
}

/**
 * A copy of the notebook with a cell tagged `injected-parameters` right after
 * the `parameters` cell (replacing one left by an earlier run). Throws when
 * the parameters cell is missing or repeated, when an override names a
 * parameter the cell does not declare, or one declared with `const`.
 */
export function injectParameters(nb: Notebook, overrides: Overrides): Notebook {
  const cells = nb.cells.filter((c) =>
    !c.metadata?.tags?.includes(INJECTED_TAG)
  );
  const copy: Notebook = { ...nb, cells };
  const index = findParametersCell(copy);
  const source = cellSource(cells[index]);
  const declared = declaredParameters(source);
  for (const name of Object.keys(overrides)) {
    const keyword = declared.get(name);
    if (keyword === undefined) {
      throw new Error(
        `parameter "${name}" is not declared in the parameters cell; it ` +
          `declares: ${[...declared.keys()].join(", ") || "(nothing)"}`,
      );
    }
    if (keyword === "const") {
      throw new Error(
        `parameter "${name}" is declared with const in the parameters cell; ` +
          `declare it with let so that it can be overridden`,
      );
    }
  }
  if (Object.keys(overrides).length === 0) return copy;
  const cell: Cell = {
    cell_type: "code",
    execution_count: null,
    metadata: { tags: [INJECTED_TAG] },
    outputs: [],
    source: injectedSource(overrides, parametersObject(source)?.name),
  };
  if (nb.nbformat > 4 || (nb.nbformat === 4 && nb.nbformat_minor >= 5)) {
    cell.id = "injected-parameters";
  }
  copy.cells = [...cells.slice(0, index + 1), cell, ...cells.slice(index + 1)];
  return copy;
}

/**
 * Writes the Deno kernelspec into `<dir>/kernels/deno/kernel.json` (default
 * `<repo>/.jupyter`, git-ignored) and returns `dir`, to be put in
 * `JUPYTER_PATH` for the executor. The user's own Jupyter setup is left
 * alone; JupyterLab users can register the kernel globally with
 * `deno jupyter --install` instead.
 */
export async function ensureKernelspec(
  dir: string = join(REPO_ROOT, ".jupyter"),
): Promise<string> {
  const kernelDir = join(dir, "kernels", "deno");
  await Deno.mkdir(kernelDir, { recursive: true });
  const spec = {
    argv: [
      Deno.execPath(),
      "jupyter",
      "--kernel",
      "--conn",
      "{connection_file}",
    ],
    display_name: "Deno",
    language: "typescript",
  };
  const file = join(kernelDir, "kernel.json");
  const text = JSON.stringify(spec, null, 2) + "\n";
  const current = await Deno.readTextFile(file).catch(() => "");
  if (current !== text) {
    // Written aside and renamed, so a run starting meanwhile never reads half a file.
    const tmp = `${file}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, file);
  }
  return dir;
}

/** Options for {@linkcode runNotebook}. */
export interface RunOptions {
  /** Parameter overrides. */
  params?: Overrides;
  /** Replaces `<repo>/outputs/notebooks`: the run goes to `<outDir>/<notebook-name>/<run-id>/`. */
  outDir?: string;
  /** Per-cell timeout in seconds; default none (as papermill). */
  timeoutS?: number;
  /** Show the cells' printed output on stderr while they run. */
  live?: boolean;
}

/** The first error a run hit. */
export interface CellError {
  /** Index of the failing cell in the executed notebook, or null (kernel death, timeout). */
  cell: number | null;
  ename: string;
  evalue: string;
  traceback: string[];
}

/** What {@linkcode runNotebook} reports. */
export interface RunResult {
  /**
   * "rejected": a parameter's value is not allowed (exit 2); "interrupted":
   * Ctrl-C or SIGTERM stopped it (exit 130).
   */
  status: "passed" | "failed" | "skipped" | "rejected" | "interrupted";
  /** The folder holding the executed notebook and its HTML. */
  dir: string;
  ipynb: string;
  html: string;
  wallMs: number;
  /** The error, for "failed" and "skipped". */
  error?: CellError;
  /** The executor's stderr, for diagnosing setup problems. */
  stderr: string;
  /** The experiment run folders the notebook made (lib/runs.ts `startRun`). */
  runs: string[];
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/** Removes terminal color codes (tracebacks from the kernel carry them). */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, "");
}

/** A human-readable form of a cell error: name, message and traceback. */
export function formatCellError(error: CellError): string {
  const where = error.cell === null ? "" : ` in cell ${error.cell}`;
  const trace = error.traceback.map(stripAnsi).join("\n");
  return `${error.ename}${where}: ${error.evalue}` +
    (trace ? `\n${trace}` : "");
}

/**
 * Executes a notebook with nbclient and the Deno kernel (cwd: the notebook's
 * folder) and saves the executed notebook and an HTML export in a fresh run
 * folder. Throws for setup faults (unreadable notebook, bad parameters, a
 * broken executor); cell failures come back as `status: "failed"`.
 */
export async function runNotebook(
  notebookPath: string,
  opts: RunOptions = {},
): Promise<RunResult> {
  const path = resolve(notebookPath);
  const name = basename(path).replace(/\.ipynb$/, "");
  let nb: Notebook;
  try {
    nb = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(`cannot read notebook ${path}: ${(e as Error).message}`);
  }
  const injected = injectParameters(nb, opts.params ?? {});
  const schema = NOTEBOOK_PARAMETERS[basename(path)];
  if (schema) {
    checkParams(opts.params ?? {}, schema, {
      partial: true,
      where: basename(path),
    });
  }
  const run = await createRunDir(name, {
    root: opts.outDir ?? join(REPO_ROOT, "outputs", "notebooks"),
    runId: makeRunId(),
  });
  const input = run.file(`.${name}.input.ipynb`);
  await Deno.writeTextFile(input, JSON.stringify(injected, null, 1));
  const ipynb = run.file(`${name}.ipynb`);
  const html = run.file(`${name}.html`);
  const jupyterPath = await ensureKernelspec();
  // The kernel's connection file goes to a folder of this run's own, which
  // names it on the kernel's command line: how a stop finds the kernel.
  const runtimeDir = await Deno.makeTempDir({ prefix: "nb-runtime-" });
  const registry = join(runtimeDir, "runs.txt");
  const start = performance.now();
  const child = (() => {
    try {
      return new Deno.Command(PYTHON, {
        args: [
          join(REPO_ROOT, "scripts", "execute_notebook.py"),
          input,
          ipynb,
          html,
          "--cwd",
          dirname(path),
          "--kernel",
          "deno",
          ...(opts.timeoutS ? ["--timeout", String(opts.timeoutS)] : []),
          ...(opts.live ? ["--echo"] : []),
        ],
        env: {
          JUPYTER_PATH: jupyterPath,
          JUPYTER_RUNTIME_DIR: runtimeDir,
          [RUN_REGISTRY_ENV]: registry,
          PYDEVD_DISABLE_FILE_VALIDATION: "1",
        },
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (e) {
      throw new Error(
        `cannot start ${PYTHON}: ${(e as Error).message}; ` +
          `run \`deno run -A scripts/check_deps.ts\` to see what is missing`,
      );
    }
  })();
  // With `live`, the cells' printed output is shown as it arrives.
  const errChunks: Uint8Array[] = [];
  const errDone = (async () => {
    for await (const chunk of child.stderr) {
      errChunks.push(chunk);
      if (opts.live) await Deno.stderr.write(chunk);
    }
  })();
  let stopped: string | null = null;
  const timers: ReturnType<typeof setTimeout>[] = [];
  const force = () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    timers.push(setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      void signalProcessesMentioning(runtimeDir, "SIGKILL");
    }, STOP_GRACE_S * 1000));
  };
  const stop = (signal: Deno.Signal) => {
    if (stopped) {
      // A second Ctrl-C: do not wait for the kernel.
      console.error(`${signal} again: stopping now`);
      for (const t of timers.splice(0)) clearTimeout(t);
      force();
      return;
    }
    stopped = signal;
    console.error(
      `\n${signal}: stopping ${basename(path)}; its kernel gets ` +
        `${KERNEL_GRACE_S} s to finish the step and save a checkpoint ` +
        "(press Ctrl-C again to stop at once)...",
    );
    // First the kernel: training stops after its step and checkpoints, the
    // cell fails and the executor ends by itself. Then the executor, which
    // saves the partial notebook and shuts the kernel down; then force.
    void signalProcessesMentioning(runtimeDir, "SIGINT");
    timers.push(setTimeout(force, KERNEL_GRACE_S * 1000));
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const listeners = signals.map((s) => [s, () => stop(s)] as const);
  for (const [s, f] of listeners) Deno.addSignalListener(s, f);
  let status: Deno.CommandStatus, outBytes: ArrayBuffer;
  try {
    [status, outBytes] = await Promise.all([
      child.status,
      new Response(child.stdout).arrayBuffer(),
      errDone,
    ]);
  } finally {
    for (const [s, f] of listeners) Deno.removeSignalListener(s, f);
    for (const t of timers) clearTimeout(t);
    // Whatever happened, no kernel of this run outlives it.
    await signalProcessesMentioning(runtimeDir, "SIGKILL");
  }
  const runs = (await Deno.readTextFile(registry).catch(() => ""))
    .split("\n").filter(Boolean);
  await Deno.remove(runtimeDir, { recursive: true }).catch(() => {});
  const wallMs = performance.now() - start;
  await Deno.remove(input).catch(() => {});
  const stdout = new TextDecoder().decode(outBytes).trim();
  const stderr = await new Blob(errChunks as BlobPart[]).text();
  let summary: { status: string } & Partial<CellError>;
  try {
    summary = JSON.parse(stdout.split("\n").pop() ?? "");
  } catch {
    if (stopped) {
      summary = { status: "interrupted", ename: "Interrupted", evalue: "" };
    } else {
      for (const dir of runs) {
        await markRunEnded(dir, "failed", "executor failed");
      }
      throw new Error(
        `the notebook executor failed (exit ${status.code}):\n${
          stripAnsi(stderr).trim() || stdout
        }`,
      );
    }
  }
  const result: RunResult = {
    status: "passed",
    dir: run.path,
    ipynb,
    html,
    wallMs,
    stderr,
    runs,
  };
  if (summary.status !== "ok") {
    result.error = {
      cell: summary.cell ?? null,
      ename: summary.ename ?? "Error",
      evalue: summary.evalue ?? "",
      traceback: summary.traceback ?? [],
    };
    result.status = stopped || summary.status === "interrupted"
      ? "interrupted"
      : result.error.ename === "DatasetNotFoundError"
      ? "skipped"
      : result.error.ename === "ParameterError"
      ? "rejected"
      : "failed";
    if (stopped) {
      result.error.evalue = `stopped by ${stopped}` +
        (result.error.evalue ? `: ${result.error.evalue}` : "");
    }
  }
  // The runs the notebook started but did not finish say why.
  if (result.status === "interrupted" || result.status === "failed") {
    const reason = result.status === "interrupted"
      ? `stopped by ${stopped ?? "a signal"}`
      : `${result.error?.ename}: ${result.error?.evalue}`;
    for (const dir of runs) {
      await markRunEnded(
        dir,
        result.status === "interrupted" ? "interrupted" : "failed",
        reason,
      );
    }
  }
  return result;
}

/**
 * Sends `signal` to every process whose command line mentions `text` (a
 * run's private runtime folder names its kernel's connection file): found
 * through Linux's /proc, else with `pkill -f`. Returns how many were found.
 */
export async function signalProcessesMentioning(
  text: string,
  signal: "SIGINT" | "SIGKILL",
): Promise<number> {
  let killed = 0;
  try {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) {
        continue;
      }
      let cmdline: string;
      try {
        cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
      } catch {
        continue; // gone, or not ours
      }
      if (!cmdline.includes(text)) continue;
      try {
        Deno.kill(Number(entry.name), signal);
        killed++;
      } catch { /* already gone */ }
    }
    return killed;
  } catch {
    // No /proc (macOS): pkill does the same.
    const flag = signal === "SIGKILL" ? "-KILL" : "-INT";
    await new Deno.Command("pkill", { args: [flag, "-f", text] }).output()
      .catch(() => {});
    return killed;
  }
}

/** Parsed command line of the runner. */
export interface RunnerArgs {
  notebook: string;
  params: Overrides;
  outDir?: string;
  timeoutS?: number;
}

/** Parses `NOTEBOOK [-p name=value]... [--out DIR] [--timeout S]`. */
export function parseRunnerArgs(args: string[]): RunnerArgs {
  const params: Overrides = {};
  const positional: string[] = [];
  let outDir: string | undefined;
  let timeoutS: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new Error(`${arg} needs a value`);
      return args[++i];
    };
    if (arg === "-p" || arg === "--param") {
      const [name, v] = parseParam(value());
      params[name] = v;
    } else if (arg.startsWith("-p") && arg.includes("=")) {
      const [name, v] = parseParam(arg.slice(2));
      params[name] = v;
    } else if (arg === "--out") {
      outDir = value();
    } else if (arg === "--timeout") {
      timeoutS = Number(value());
      if (!(timeoutS > 0)) throw new Error("--timeout needs a positive number");
    } else if (arg.startsWith("-")) {
      throw new Error(`unknown option ${arg}`);
    } else {
      positional.push(arg);
    }
  }
  if (positional.length !== 1) {
    throw new Error(
      "usage: deno task run NOTEBOOK.ipynb [-p name=value]... [--out DIR] [--timeout SECONDS]",
    );
  }
  return { notebook: positional[0], params, outDir, timeoutS };
}

/** One run's outcome as text: passed (time, path), skipped (why) or FAILED (the error). */
export function describeResult(label: string, result: RunResult): string {
  const seconds = (result.wallMs / 1000).toFixed(1);
  if (result.status === "passed") {
    return `${label}: passed in ${seconds}s -> ${result.ipynb}`;
  }
  if (result.status === "skipped") {
    return `${label}: skipped: ${result.error?.evalue}`;
  }
  if (result.status === "rejected") {
    return `${label}: bad parameter: ${result.error?.evalue}`;
  }
  if (result.status === "interrupted") {
    return `${label}: interrupted after ${seconds}s; the partial notebook ` +
      `is ${result.ipynb}`;
  }
  return `${label}: FAILED after ${seconds}s (partial notebook: ${result.ipynb})` +
    (result.error ? `\n${formatCellError(result.error)}` : "");
}

/** The runner's exit code for a result: 0 passed, 1 failed, 2 rejected, 3 skipped. */
export function exitCode(result: RunResult): number {
  return {
    passed: 0,
    failed: 1,
    rejected: EXIT_USAGE,
    skipped: EXIT_SKIPPED,
    interrupted: EXIT_INTERRUPTED,
  }[result.status];
}

if (import.meta.main) {
  let args: RunnerArgs;
  try {
    args = parseRunnerArgs(Deno.args);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(2);
  }
  try {
    const result = await runNotebook(args.notebook, { ...args, live: true });
    console.log(describeResult(args.notebook, result));
    Deno.exit(exitCode(result));
  } catch (e) {
    console.error(`${args.notebook}: ${(e as Error).message}`);
    Deno.exit(EXIT_USAGE);
  }
}
