import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Check,
  type DepsEnvironment,
  ensureDeps,
  INSTALL_COMMAND,
} from "../../scripts/check_deps.ts";
import { blasCandidates } from "../../lib/backend/blas.ts";
import { fileURLToPath } from "node:url";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

const PY_OK: Check = {
  name: "python",
  ok: true,
  required: true,
  detail: "nbclient 0.7.2",
};
const PY_MISSING: Check = { ...PY_OK, ok: false, detail: "No module" };
const BLAS_OK: Check = {
  name: "BLAS",
  ok: true,
  required: false,
  detail: "OpenBLAS",
};
const BLAS_MISSING: Check = {
  ...BLAS_OK,
  ok: false,
  detail: "libopenblas.so.0: cannot open",
};

/** A scripted environment: `states[i]` is what the i-th check finds. */
function fake(states: Check[][], canInstall: boolean, installs = true) {
  const calls: string[] = [];
  const lines: string[] = [];
  let checks = 0;
  const env: DepsEnvironment = {
    check: (afterInstall) => {
      calls.push(`check(${afterInstall})`);
      const state = states[Math.min(checks++, states.length - 1)];
      return Promise.resolve(state);
    },
    canInstall: () => Promise.resolve(canInstall),
    install: () => {
      calls.push("install");
      return Promise.resolve(installs);
    },
    log: (line) => lines.push(line),
    error: (line) => lines.push(`error: ${line}`),
  };
  return { env, calls, lines };
}

Deno.test("ensureDeps on a fresh machine: installs, then checks again with a fresh look for the BLAS", async () => {
  const { env, calls, lines } = fake([
    [PY_MISSING, BLAS_MISSING],
    [PY_OK, BLAS_OK],
  ], true);
  assert.equal(await ensureDeps("test", env), 0);
  // The second check is told an install happened, so it does not report a
  // BLAS failure cached from before the install.
  assert.deepEqual(calls, ["check(false)", "install", "check(true)"]);
  const after = lines.slice(
    lines.findIndex((l) => l.startsWith("installing")) + 1,
  );
  assert.deepEqual(after, [
    "ok      python: nbclient 0.7.2",
    "ok      BLAS: OpenBLAS",
  ]);
});

Deno.test("ensureDeps installs when only the BLAS is missing, and never when nothing is", async () => {
  const blasOnly = fake([[PY_OK, BLAS_MISSING], [PY_OK, BLAS_OK]], true);
  assert.equal(await ensureDeps("main", blasOnly.env), 0);
  assert.deepEqual(blasOnly.calls, ["check(false)", "install", "check(true)"]);
  const none = fake([[PY_OK, BLAS_OK]], true);
  assert.equal(await ensureDeps("main", none.env), 0);
  assert.deepEqual(none.calls, ["check(false)"]);
});

Deno.test("ensureDeps without root: what is missing, the command, exit 1; a missing BLAS alone is a warning", async () => {
  const missing = fake([[PY_MISSING, BLAS_OK]], false);
  assert.equal(await ensureDeps("test", missing.env), 1);
  assert.deepEqual(missing.calls, ["check(false)"]);
  assert.ok(
    missing.lines.includes(
      `error: missing for test: python\ninstall with (as root): ${INSTALL_COMMAND}`,
    ),
    missing.lines.join("\n"),
  );
  const warn = fake([[PY_OK, BLAS_MISSING]], false);
  assert.equal(await ensureDeps("test", warn.env), 0);
  assert.ok(warn.lines.includes(`warning BLAS: ${BLAS_MISSING.detail}`));
  const failing = fake([[PY_MISSING, BLAS_OK]], true, false);
  assert.equal(await ensureDeps("test", failing.env), 1);
});

// The real thing, without touching the machine: in a private mount namespace
// the BLAS files are hidden behind /dev/null, so the first check fails to
// load them; the "install" unhides them; the second check must then find
// the BLAS. Before the fix it printed the cached failure.
const BLAS_FILES = (() => {
  const files = new Set<string>();
  for (const name of blasCandidates()) {
    for (const dir of ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu"]) {
      try {
        files.add(Deno.realPathSync(join(dir, name)));
      } catch { /* not installed under that name */ }
    }
  }
  return [...files];
})();
const CAN_UNSHARE = (() => {
  if (Deno.build.os !== "linux" || Deno.uid?.() !== 0) return false;
  if (BLAS_FILES.length === 0 || Deno.env.get("BLAS_LIBRARY")) return false;
  try {
    return new Deno.Command("unshare", {
      args: ["-m", "--propagation", "private", "true"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "check_deps after installing OpenBLAS in the same process reports it loaded, not a false warning",
  ignore: !CAN_UNSHARE,
  async fn() {
    const script = `
      import { ensureDeps, SYSTEM } from "${
      join(REPO_ROOT, "scripts", "check_deps.ts")
    }";
      const files = JSON.parse(Deno.env.get("BLAS_FILES"));
      const code = await ensureDeps("test", {
        ...SYSTEM,
        canInstall: () => Promise.resolve(true),
        install: async () => {
          for (const f of files) {
            await new Deno.Command("umount", { args: [f] }).output();
          }
          return true;
        },
      });
      Deno.exit(code);
    `;
    const mounts = BLAS_FILES.map((f) => `mount --bind /dev/null '${f}'`)
      .join(" && ");
    const out = await new Deno.Command("unshare", {
      args: [
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        `${mounts} && exec "$0" eval "$1"`,
        Deno.execPath(),
        script,
      ],
      cwd: REPO_ROOT,
      env: { BLAS_FILES: JSON.stringify(BLAS_FILES) },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text + err);
    const [before, after] = text.split(/^installing .*$/m);
    assert.ok(after !== undefined, text);
    assert.match(before, /^warning BLAS: /m, "the BLAS was hidden at first");
    assert.match(after, /^ok {6}BLAS: /m, text);
    assert.doesNotMatch(after, /warning BLAS/, text);
  },
});
