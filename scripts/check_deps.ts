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
 * When something required is missing and this runs as root with apt-get
 * available, it installs the Debian packages (saying so); otherwise it prints
 * what is missing and the command to get it, and exits 1. The argument only
 * names the caller in the messages.
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

function blas(): Check {
  const lib = loadBlas();
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

/** Runs every check (no installing). */
export async function runChecks(): Promise<Check[]> {
  return [await pythonModules(), blas()];
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

function print(checks: Check[]) {
  for (const c of checks) {
    const mark = c.ok ? "ok     " : c.required ? "MISSING" : "warning";
    console.log(`${mark} ${c.name}: ${c.detail}`);
  }
}

if (import.meta.main) {
  const caller = Deno.args[0] ?? "notebooks";
  let checks = await runChecks();
  print(checks);
  const missing = checks.filter((c) => !c.ok && c.required);
  if (missing.length > 0) {
    if (isRoot() && await hasAptGet()) {
      console.log(
        `installing the missing tools for ${caller}: ${INSTALL_COMMAND}`,
      );
      const status = await new Deno.Command("sh", {
        args: ["-c", `DEBIAN_FRONTEND=noninteractive ${INSTALL_COMMAND}`],
        stdout: "inherit",
        stderr: "inherit",
      }).spawn().status;
      if (!status.success) {
        console.error(`install failed (exit ${status.code})`);
        Deno.exit(1);
      }
      checks = await runChecks();
      print(checks);
    }
    const still = checks.filter((c) => !c.ok && c.required);
    if (still.length > 0) {
      console.error(
        `missing for ${caller}: ${still.map((c) => c.name).join("; ")}\n` +
          `install with (as root): ${INSTALL_COMMAND}`,
      );
      Deno.exit(1);
    }
  }
}
