/**
 * Checks what the notebooks and their tests need outside npm:
 * `/usr/bin/python3` with nbclient and nbconvert (to run notebooks headless)
 * and a CBLAS library (optional; without it the slower pure-wasm matmul is
 * used).
 *
 * ```sh
 * deno run -A scripts/check_deps.ts [test|main]
 * ```
 *
 * When something is missing (OpenBLAS included) and this runs as root with
 * apt-get available, it installs the Debian packages (saying so) and checks
 * again; when something required is still missing it prints what and the
 * command to get it, and exits 1. The argument only names the caller in the
 * messages.
 *
 * @module
 */

import { blasLoadError, loadBlas } from "../lib/backend/blas.ts";
import { PYTHON } from "./run_notebook.ts";

/** Debian packages providing everything checked here. */
export const APT_PACKAGES = [
  "jupyter-nbconvert",
  "python3-nbclient",
  "libopenblas0-pthread",
];

/** The install command printed or run when something is missing. */
export const INSTALL_COMMAND = `apt-get update && apt-get install -y ${
  APT_PACKAGES.join(" ")
}`;

/** One check's outcome. */
export interface Check {
  name: string;
  ok: boolean;
  /** Whether the notebooks cannot run without it. */
  required: boolean;
  detail: string;
}

async function pythonModules(): Promise<Check> {
  const name = `${PYTHON} with nbclient and nbconvert`;
  try {
    const out = await new Deno.Command(PYTHON, {
      args: [
        "-c",
        "import nbclient, nbconvert; print(nbclient.__version__, nbconvert.__version__)",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.success ? out.stdout : out.stderr)
      .trim();
    return out.success
      ? {
        name,
        ok: true,
        required: true,
        detail: `nbclient ${text.split(" ")[0]}, nbconvert ${
          text.split(" ")[1]
        }`,
      }
      : {
        name,
        ok: false,
        required: true,
        detail: text.split("\n").pop() ?? "import failed",
      };
  } catch (e) {
    return {
      name,
      ok: false,
      required: true,
      detail: `cannot run ${PYTHON}: ${(e as Error).message}`,
    };
  }
}

function blas(retry: boolean): Check {
  const lib = loadBlas({ retry });
  return lib
    ? { name: "BLAS", ok: true, required: false, detail: lib.describe() }
    : {
      name: "BLAS",
      ok: false,
      required: false,
      detail:
        `${blasLoadError()} (matmuls fall back to the slower wasm kernels)`,
    };
}

/**
 * Runs every check (no installing). `afterInstall` looks again for a BLAS
 * that failed to load earlier in this process: `loadBlas` caches a failure,
 * and after an install that cached answer would be a false warning.
 */
export async function runChecks(afterInstall = false): Promise<Check[]> {
  return [await pythonModules(), blas(afterInstall)];
}

function isRoot(): boolean {
  return Deno.uid?.() === 0;
}

async function hasAptGet(): Promise<boolean> {
  try {
    await Deno.stat("/usr/bin/apt-get");
    return true;
  } catch {
    return false;
  }
}

/** A check's line as printed: `ok     BLAS: OpenBLAS ...`. */
export function formatCheck(c: Check): string {
  const mark = c.ok ? "ok     " : c.required ? "MISSING" : "warning";
  return `${mark} ${c.name}: ${c.detail}`;
}

/** What {@linkcode ensureDeps} runs; replaced in tests. */
export interface DepsEnvironment {
  /** Runs the checks; `afterInstall` after an install in this process. */
  check: (afterInstall: boolean) => Promise<Check[]>;
  /** Whether installing is possible here (root with apt-get). */
  canInstall: () => Promise<boolean>;
  /** Installs the packages; true on success. */
  install: () => Promise<boolean>;
  /** Prints a line. */
  log: (line: string) => void;
  /** Prints an error line. */
  error: (line: string) => void;
}

/** The real environment: the checks above, apt-get, the console. */
export const SYSTEM: DepsEnvironment = {
  check: runChecks,
  canInstall: async () => isRoot() && await hasAptGet(),
  install: async () => {
    const status = await new Deno.Command("sh", {
      args: ["-c", `DEBIAN_FRONTEND=noninteractive ${INSTALL_COMMAND}`],
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    if (!status.success) console.error(`install failed (exit ${status.code})`);
    return status.success;
  },
  log: (line) => console.log(line),
  error: (line) => console.error(line),
};

/**
 * Checks, and when something is missing (a BLAS included) and installing is
 * possible, installs the packages and checks again, with a fresh look for
 * the BLAS. Returns the exit code: 0 when everything required is there, 1
 * otherwise (after printing what is missing and the command to get it).
 */
export async function ensureDeps(
  caller: string,
  env: DepsEnvironment = SYSTEM,
): Promise<number> {
  let checks = await env.check(false);
  for (const c of checks) env.log(formatCheck(c));
  if (checks.some((c) => !c.ok) && await env.canInstall()) {
    env.log(`installing the missing tools for ${caller}: ${INSTALL_COMMAND}`);
    if (!await env.install()) return 1;
    checks = await env.check(true);
    for (const c of checks) env.log(formatCheck(c));
  }
  const still = checks.filter((c) => !c.ok && c.required);
  if (still.length > 0) {
    env.error(
      `missing for ${caller}: ${still.map((c) => c.name).join("; ")}\n` +
        `install with (as root): ${INSTALL_COMMAND}`,
    );
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  const code = await ensureDeps(Deno.args[0] ?? "notebooks");
  if (code !== 0) Deno.exit(code);
}
