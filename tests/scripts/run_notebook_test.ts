import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Cell,
  declaredParameters,
  ensureKernelspec,
  EXIT_SKIPPED,
  injectedSource,
  injectParameters,
  type Notebook,
  type Output,
  parametersObject,
  parseParam,
  parseRunnerArgs,
  REPO_ROOT,
  runNotebook,
} from "../../scripts/run_notebook.ts";

function code(source: string, tags?: string[]): Cell {
  return {
    cell_type: "code",
    source,
    metadata: tags ? { tags } : {},
    outputs: [],
    execution_count: null,
  };
}

function notebook(cells: Cell[]): Notebook {
  return { cells, metadata: {}, nbformat: 4, nbformat_minor: 5 };
}

Deno.test("parseParam reads JSON values, else strings", () => {
  assert.deepEqual(parseParam("epochs=3"), ["epochs", 3]);
  assert.deepEqual(parseParam("lr=1e-3"), ["lr", 0.001]);
  assert.deepEqual(parseParam("sizes=[512,256]"), ["sizes", [512, 256]]);
  assert.deepEqual(parseParam("flag=true"), ["flag", true]);
  assert.deepEqual(parseParam('name="x"'), ["name", "x"]);
  assert.deepEqual(parseParam("act=relu"), ["act", "relu"]);
  assert.deepEqual(parseParam("path=a=b"), ["path", "a=b"]);
  assert.throws(() => parseParam("epochs"), /-p name=value/);
  assert.throws(() => parseParam("1x=2"), /identifier/);
});

Deno.test("injectedSource assigns each override as JSON", () => {
  assert.equal(
    injectedSource({ epochs: 3, dataset: "mnist", sizes: [4, 2] }),
    "// Parameters injected by scripts/run_notebook.ts\n" +
      'epochs = 3;\ndataset = "mnist";\nsizes = [4,2];\nundefined;\n',
  );
});

Deno.test("declaredParameters finds let/const/var names at line starts", () => {
  const names = declaredParameters(
    "let epochs = 12; // note\nconst seed = 1;\n  var x: number = 2;\nfoo(let_y);",
  );
  assert.deepEqual([...names], [["epochs", "let"], ["seed", "const"], [
    "x",
    "var",
  ]]);
});

Deno.test("parametersObject reads the top-level keys of a params object literal", () => {
  const cell = [
    "// Every knob of the week",
    "const params = {",
    '  backend: "auto", // "auto" | "cpu", {not a key: 1}',
    "  sizes: [512, { inner: 1 }], /* block, comment: 2 */",
    '  "quoted": 1,',
    "  nested: { deep: 2, deeper: [3] },",
    "  seed: 1,",
    "};",
  ].join("\n");
  assert.deepEqual(parametersObject(cell), {
    name: "params",
    keys: ["backend", "sizes", "quoted", "nested", "seed"],
  });
  assert.deepEqual(
    [...declaredParameters(cell).keys()],
    ["backend", "sizes", "quoted", "nested", "seed"],
  );
  assert.equal(parametersObject("let epochs = 3;"), null);
});

Deno.test("injectParameters assigns the object form's keys", () => {
  const nb = notebook([
    code("const params = {\n  epochs: 12,\n  dataset: 'mnist',\n};", [
      "parameters",
    ]),
  ]);
  const out = injectParameters(nb, { epochs: 1, dataset: "mnist-full" });
  assert.equal(
    out.cells[1].source,
    "// Parameters injected by scripts/run_notebook.ts\n" +
      'params.epochs = 1;\nparams.dataset = "mnist-full";\nundefined;\n',
  );
  assert.throws(
    () => injectParameters(nb, { epoch: 1 }),
    /"epoch" is not declared.*declares: epochs, dataset/,
  );
});

Deno.test("injectParameters puts the cell right after the parameters cell", () => {
  const nb = notebook([
    code("import x"),
    code("let epochs = 12;\nlet batchSize = 100;", ["parameters"]),
    code("train()"),
  ]);
  const out = injectParameters(nb, { epochs: 1 });
  assert.equal(out.cells.length, 4);
  assert.equal(out.cells[1], nb.cells[1]);
  assert.deepEqual(out.cells[2].metadata?.tags, ["injected-parameters"]);
  assert.equal(
    out.cells[2].source,
    "// Parameters injected by scripts/run_notebook.ts\nepochs = 1;\nundefined;\n",
  );
  assert.equal(out.cells[2].id, "injected-parameters");
  assert.equal(out.cells[3], nb.cells[2]);
  assert.equal(nb.cells.length, 3, "the input notebook is not modified");
  // Running it again replaces the earlier injected cell.
  const again = injectParameters(out, { batchSize: 10 });
  assert.equal(again.cells.length, 4);
  assert.match(String(again.cells[2].source), /batchSize = 10;/);
  assert.doesNotMatch(String(again.cells[2].source), /epochs/);
});

Deno.test("injectParameters errors: no, two, const or unknown parameters", () => {
  assert.throws(
    () => injectParameters(notebook([code("let a = 1;")]), { a: 2 }),
    /no cell is tagged "parameters"/,
  );
  assert.throws(
    () =>
      injectParameters(
        notebook([
          code("let a = 1;", ["parameters"]),
          code("let b = 1;", ["parameters"]),
        ]),
        {},
      ),
    /2 cells are tagged "parameters" \(cells 0, 1\)/,
  );
  const nb = notebook([code("let a = 1;\nconst b = 2;", ["parameters"])]);
  assert.throws(() => injectParameters(nb, { b: 3 }), /declare it with let/);
  assert.throws(
    () => injectParameters(nb, { c: 3 }),
    /"c" is not declared.*declares: a, b/,
  );
});

Deno.test("parseRunnerArgs reads the notebook, -p, --out and --timeout", () => {
  assert.deepEqual(
    parseRunnerArgs([
      "nb.ipynb",
      "-p",
      "epochs=3",
      "-pbatchSize=100",
      "--out",
      "o",
      "--timeout",
      "60",
    ]),
    {
      notebook: "nb.ipynb",
      params: { epochs: 3, batchSize: 100 },
      outDir: "o",
      timeoutS: 60,
    },
  );
  assert.throws(() => parseRunnerArgs([]), /usage/);
  assert.throws(
    () => parseRunnerArgs(["a.ipynb", "--bogus"]),
    /unknown option/,
  );
});

Deno.test("ensureKernelspec writes a Deno kernelspec under the given dir", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await ensureKernelspec(dir), dir);
    const spec = JSON.parse(
      await Deno.readTextFile(join(dir, "kernels", "deno", "kernel.json")),
    );
    assert.deepEqual(spec, {
      argv: [
        Deno.execPath(),
        "jupyter",
        "--kernel",
        "--conn",
        "{connection_file}",
      ],
      display_name: "Deno",
      language: "typescript",
    });
    await ensureKernelspec(dir); // idempotent, no temp files left
    assert.deepEqual(
      [...Deno.readDirSync(join(dir, "kernels", "deno"))].map((e) => e.name),
      ["kernel.json"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// End to end through the real Deno kernel.

const FIXTURES = join(REPO_ROOT, "tests", "fixtures");

function outputsOf(nb: Notebook): Output[] {
  return nb.cells.flatMap((c) => c.outputs ?? []);
}

function streamText(nb: Notebook): string {
  return outputsOf(nb).filter((o) => o.output_type === "stream").map((o) =>
    Array.isArray(o.text) ? o.text.join("") : o.text ?? ""
  ).join("");
}

Deno.test({
  name: "runner executes smoke.ipynb with injected parameters and rich outputs",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const out = await Deno.makeTempDir();
    try {
      const result = await runNotebook(join(FIXTURES, "smoke.ipynb"), {
        params: { label: "injected", count: 3 },
        outDir: out,
        timeoutS: 120,
      });
      assert.equal(result.status, "passed", result.stderr);
      assert.ok(result.dir.startsWith(join(out, "smoke")));
      const nb: Notebook = JSON.parse(await Deno.readTextFile(result.ipynb));
      const outputs = outputsOf(nb);
      assert.deepEqual(outputs.filter((o) => o.output_type === "error"), []);
      assert.match(streamText(nb), /label=injected count=3 jupyter=true/);
      const mimes = outputs.flatMap((o) => Object.keys(o.data ?? {}));
      assert.ok(mimes.includes("image/png"), `no PNG among ${mimes}`);
      assert.ok(mimes.includes("image/svg+xml"), `no SVG among ${mimes}`);
      assert.ok(mimes.includes("text/html"), `no HTML table among ${mimes}`);
      // Calls ending a cell do not echo their return value as a second figure
      // or as SVG text.
      assert.equal(mimes.filter((m) => m === "image/png").length, 1);
      assert.ok(
        !outputs.some((o) =>
          String(o.data?.["text/plain"] ?? "").includes("<svg")
        ),
      );
      // The progress bar was updated in place: one output, at its final state.
      const bars = outputs.filter((o) =>
        String(o.data?.["text/plain"] ?? "").startsWith("steps ")
      );
      assert.equal(bars.length, 1);
      assert.match(
        String(bars[0].data?.["text/plain"]),
        /^steps 3\/3 \[#+\] 100%/,
      );
      const html = await Deno.readTextFile(result.html);
      assert.match(html, /<html/);
      assert.match(html, /label=injected/);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "runner CLI: a failing cell exits 1 with the error; the partial notebook is saved",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const out = await Deno.makeTempDir();
    try {
      const run = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          join(REPO_ROOT, "scripts", "run_notebook.ts"),
          join(FIXTURES, "failing.ipynb"),
          "-p",
          "message=kaput",
          "--out",
          out,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(run.stdout);
      assert.equal(run.code, 1, text);
      assert.match(text, /FAILED/);
      assert.match(text, /RangeError in cell 3: fixture failure: kaput/);
      const saved = text.match(/partial notebook: (\S+)\)/)?.[1];
      assert.ok(saved, text);
      const nb: Notebook = JSON.parse(await Deno.readTextFile(saved));
      assert.match(streamText(nb), /before the failure/);
      assert.doesNotMatch(streamText(nb), /never reached/);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "runner CLI: DatasetNotFoundError is reported as skipped with exit code 3",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const out = await Deno.makeTempDir();
    try {
      const run = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          join(REPO_ROOT, "scripts", "run_notebook.ts"),
          join(FIXTURES, "no_data.ipynb"),
          "--out",
          out,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(run.stdout);
      assert.equal(run.code, EXIT_SKIPPED, text);
      assert.match(
        text,
        /skipped: no dataset at no\/such\/file\.zip; download it first/,
      );
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test("runNotebook rejects a parameter value the notebook's schema does not allow, before any kernel starts", async () => {
  const nb = join(REPO_ROOT, "notebooks", "week09_ff_vae.ipynb");
  const out = await Deno.makeTempDir();
  try {
    for (
      const [params, message] of [
        [
          { epochs: "abc" },
          /parameter epochs \(week09_ff_vae\.ipynb\) is "abc"; it must be an integer >= 1/,
        ],
        [{ trainLimit: -3 }, /trainLimit .* is -3; it must be an integer >= 0/],
        [{ codeSize: 0 }, /codeSize .* is 0/],
        [
          { learningRate: -0.1 },
          /learningRate .* is -0\.1; it must be a number > 0/,
        ],
        [
          { batchSize: 2.5 },
          /batchSize .* is 2\.5; it must be an integer >= 2/,
        ],
        [
          { optimizer: "sgd" },
          /optimizer .* is "sgd"; it must be one of "nesterov"/,
        ],
      ] as const
    ) {
      await assert.rejects(
        runNotebook(nb, {
          params: params as Record<string, unknown>,
          outDir: out,
        }),
        message,
      );
    }
    // Nothing ran: no run folder was made.
    assert.deepEqual([...Deno.readDirSync(out)], []);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("runner CLI: SIGTERM stops the kernel, saves the partial notebook, marks the run interrupted, exits 130", async () => {
  const tmp = await Deno.makeTempDir();
  const pidFile = join(tmp, "kernel.pid");
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        join(REPO_ROOT, "scripts", "run_notebook.ts"),
        join(REPO_ROOT, "tests", "fixtures", "long.ipynb"),
        "-p",
        `pidFile=${pidFile}`,
        "-p",
        `outRoot=${join(tmp, "runs")}`,
        "--out",
        join(tmp, "notebooks"),
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Wait (at most 120 s) until the long cell runs in the kernel.
    const deadline = Date.now() + 120_000;
    while (!(await Deno.stat(pidFile).catch(() => null))) {
      if (Date.now() > deadline) throw new Error("the long cell never started");
      await new Promise((r) => setTimeout(r, 200));
    }
    const kernelPid = Number(await Deno.readTextFile(pidFile));
    child.kill("SIGTERM");
    const out = await child.output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 130, stdout + new TextDecoder().decode(out.stderr));
    const partial = /the partial notebook is (\S+\.ipynb)/.exec(stdout)?.[1];
    assert.ok(partial, stdout);
    const nb: Notebook = JSON.parse(await Deno.readTextFile(partial));
    const text = JSON.stringify(nb.cells.map((c) => c.outputs ?? []));
    assert.match(text, /started/);
    assert.doesNotMatch(text, /never reached/);
    // The kernel is gone.
    assert.equal(
      await Deno.stat(`/proc/${kernelPid}`).then(() => true, () => false),
      false,
      `kernel ${kernelPid} still running`,
    );
    // The run folder the notebook made says it was interrupted.
    const [runDir] = [...Deno.readDirSync(join(tmp, "runs", "long"))];
    const record = JSON.parse(
      await Deno.readTextFile(
        join(tmp, "runs", "long", runDir.name, "run.json"),
      ),
    );
    assert.equal(record.state, "interrupted");
    assert.match(record.reason, /SIGTERM/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("runner CLI: --timeout limits each cell; past it the cell fails, naming the limit", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const run = (extra: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          join(REPO_ROOT, "scripts", "run_notebook.ts"),
          join(REPO_ROOT, "tests", "fixtures", "long.ipynb"),
          "-p",
          `pidFile=${join(tmp, "pid")}`,
          "-p",
          `outRoot=${join(tmp, "runs")}`,
          "--out",
          join(tmp, "notebooks"),
          ...extra,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const out = await run(["--timeout", "3"]);
    const text = new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, text);
    assert.match(text, /timed out .*after 3 seconds/);
    assert.doesNotMatch(text, /never reached/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
