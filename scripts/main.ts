/**
 * The main job: check the tools, then run every `notebooks/*.ipynb` headless
 * at its default parameters, one after another, and report each as passed,
 * skipped (no data) or FAILED.
 *
 * ```sh
 * deno task main [--only week09]... [-p name=value]... [--timeout SECONDS]
 * ```
 *
 * `--only` keeps notebooks whose file name contains the text (repeatable or
 * comma-separated); each `-p` override goes to the notebooks whose
 * parameters cell declares it (a name none declares is an error), and every
 * value is checked against the notebooks' schemas before anything runs.
 * Exits 1 if any notebook failed, 2 on bad arguments or parameters or a
 * broken setup.
 *
 * @module
 */

import { basename, join } from "node:path";
import { NOTEBOOK_PARAMETERS } from "../lib/experiments/parameters.ts";
import { type ReportEntry, writeReport } from "../lib/report.ts";
import { checkParams } from "../lib/params.ts";
import {
  cellSource,
  declaredParameters,
  describeResult,
  EXIT_INTERRUPTED,
  findParametersCell,
  type Notebook,
  type Overrides,
  parseParam,
  REPO_ROOT,
  runNotebook,
} from "./run_notebook.ts";

/** Parsed command line of the main job. */
export interface MainArgs {
  only: string[];
  params: Overrides;
  timeoutS?: number;
}

/** Parses `[--only TEXT]... [-p name=value]... [--timeout S]`. */
export function parseMainArgs(args: string[]): MainArgs {
  const only: string[] = [];
  const params: Overrides = {};
  let timeoutS: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new Error(`${arg} needs a value`);
      return args[++i];
    };
    if (arg === "--only") {
      only.push(...value().split(",").filter(Boolean));
    } else if (arg.startsWith("--only=")) {
      only.push(...arg.slice(7).split(",").filter(Boolean));
    } else if (arg === "-p" || arg === "--param") {
      const [name, v] = parseParam(value());
      params[name] = v;
    } else if (arg === "--timeout") {
      timeoutS = Number(value());
      if (!(timeoutS > 0)) throw new Error("--timeout needs a positive number");
    } else {
      throw new Error(
        `unknown argument ${arg}; usage: deno task main [--only TEXT]... ` +
          `[-p name=value]... [--timeout SECONDS]`,
      );
    }
  }
  return { only, params, timeoutS };
}

/** The notebooks in `dir`, sorted, keeping those whose name contains one of `only`. */
export async function listNotebooks(
  dir: string,
  only: string[] = [],
): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".ipynb")) names.push(entry.name);
  }
  return names
    .filter((n) => only.length === 0 || only.some((o) => n.includes(o)))
    .sort()
    .map((n) => join(dir, n));
}

/**
 * Splits `-p` overrides among the notebooks: each gets the ones its
 * parameters cell declares, checked against its schema. Throws naming an
 * override no notebook declares (with every notebook's parameters), or a
 * value a notebook does not allow.
 */
export async function routeOverrides(
  notebooks: string[],
  overrides: Overrides,
): Promise<Map<string, Overrides>> {
  const declared = new Map<string, string[]>();
  for (const path of notebooks) {
    const nb: Notebook = JSON.parse(await Deno.readTextFile(path));
    const cell = nb.cells[findParametersCell(nb)];
    declared.set(path, [...declaredParameters(cellSource(cell)).keys()]);
  }
  for (const name of Object.keys(overrides)) {
    if ([...declared.values()].some((names) => names.includes(name))) continue;
    throw new Error(
      `no notebook declares the parameter "${name}"; they declare:\n${
        [...declared].map(([p, names]) =>
          `  ${basename(p)}: ${names.join(", ")}`
        ).join("\n")
      }`,
    );
  }
  const routed = new Map<string, Overrides>();
  for (const [path, names] of declared) {
    const mine = Object.fromEntries(
      Object.entries(overrides).filter(([k]) => names.includes(k)),
    );
    const schema = NOTEBOOK_PARAMETERS[basename(path)];
    if (schema) {
      checkParams(mine, schema, { partial: true, where: basename(path) });
    }
    routed.set(path, mine);
  }
  return routed;
}

async function checkDeps(): Promise<boolean> {
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(REPO_ROOT, "scripts", "check_deps.ts"), "main"],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  return status.success;
}

if (import.meta.main) {
  let args: MainArgs;
  try {
    args = parseMainArgs(Deno.args);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(2);
  }
  if (!await checkDeps()) Deno.exit(2);
  const notebooks = await listNotebooks(
    join(REPO_ROOT, "notebooks"),
    args.only,
  );
  if (notebooks.length === 0) {
    console.error(
      `no notebooks in notebooks/${
        args.only.length ? ` matching ${args.only.join(", ")}` : ""
      }`,
    );
    Deno.exit(2);
  }
  let routed: Map<string, Overrides>;
  try {
    routed = await routeOverrides(notebooks, args.params);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(2);
  }
  const entries: ReportEntry[] = [];
  const counts = {
    passed: 0,
    skipped: 0,
    failed: 0,
    rejected: 0,
    interrupted: 0,
  };
  for (const path of notebooks) {
    const name = path.slice(path.lastIndexOf("/") + 1);
    console.log(`${name}: running...`);
    try {
      const result = await runNotebook(path, {
        params: routed.get(path),
        timeoutS: args.timeoutS,
        live: true,
      });
      counts[result.status] += 1;
      console.log(describeResult(name, result));
      entries.push({
        notebook: name,
        status: result.status,
        reason: result.error
          ? `${result.error.ename}: ${result.error.evalue}`
          : undefined,
        wallSeconds: result.wallMs / 1000,
        ipynb: result.ipynb,
        html: result.html,
        runs: result.runs,
      });
      if (result.status === "interrupted") break;
    } catch (e) {
      counts.failed += 1;
      console.log(`${name}: FAILED: ${(e as Error).message}`);
    }
  }
  console.log(
    `${notebooks.length} notebook${notebooks.length === 1 ? "" : "s"}: ` +
      `${counts.passed} passed, ` +
      `${counts.skipped} skipped, ${counts.failed + counts.rejected} failed`,
  );
  const report = await writeReport(
    join(REPO_ROOT, "outputs", "report"),
    entries,
  );
  console.log(`report: ${report}`);
  if (counts.interrupted > 0) {
    console.log("interrupted: the notebooks after it did not run");
    Deno.exit(EXIT_INTERRUPTED);
  }
  Deno.exit(counts.failed + counts.rejected > 0 ? 1 : 0);
}
