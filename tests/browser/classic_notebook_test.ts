/**
 * The notebooks in a real browser: Debian's classic Jupyter Notebook
 * (`jupyter-notebook`) with the Deno kernel, driven in Debian's `chromium`
 * through playwright-core. It opens Week 9, overrides its parameters with
 * tiny ones in a cell added after the parameters cell, runs every cell from
 * the menu, and checks from the page: no error output, no `Out[n]` line, the
 * notebook not marked modified on opening, the progress bar one output
 * updated to 100%, every plot and grid drawn at a non-zero size, every SVG
 * id unique on the page and every `<use>` showing its own figure's image,
 * and no text of any figure clipped by the figure's box or by a viewport
 * that the page's stylesheet makes clip. Then the same for
 * tests/fixtures/figures.ipynb (captioned grids with different pictures).
 * Screenshots go to `outputs/browser/`.
 *
 * Nothing is written to the notebooks: the server runs with a contents
 * manager that refuses every save, the page's write requests are blocked,
 * and the test checks that the files are byte for byte unchanged.
 *
 * Run with `deno task browser-test` (a few minutes; needs
 * `apt-get install -y jupyter-notebook chromium`). `deno task test` lists it
 * as ignored.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium, type Page } from "playwright-core";
import { ensureKernelspec, REPO_ROOT } from "../../scripts/run_notebook.ts";

const ENABLED = Deno.env.get("BROWSER_TEST") === "1";
const JUPYTER = "/usr/bin/jupyter-notebook";
const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join(REPO_ROOT, "outputs", "browser");

/** Tiny Week 9 (the parameters tests/notebooks_test.ts uses). */
const WEEK9_TINY = {
  dataset: "mnist",
  epochs: 1,
  trainLimit: 1000,
  evalLimit: 200,
  scoreSamples: 200,
};

/** Bounds of every wait, in milliseconds. */
const LIMITS = {
  server: 60_000,
  browser: 30_000,
  kernel: 120_000,
  run: 480_000,
};

/** The parts of the page's DOM the checks use (the test's own types have no DOM). */
interface PageRect {
  left: number;
  right: number;
  top: number;
  bottom: number;
  width: number;
  height: number;
}
interface PageElement {
  id: string;
  tagName: string;
  textContent: string | null;
  parentElement: PageElement | null;
  naturalWidth?: number;
  getBoundingClientRect(): PageRect;
  getAttribute(name: string): string | null;
  getAttributeNS(ns: string, name: string): string | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
  contains(other: PageElement): boolean;
  /** An <svg>'s viewport in its parent's user space. */
  x?: SvgLength;
  y?: SvgLength;
  width?: SvgLength;
  height?: SvgLength;
  /** Maps the element's user space to the page's client coordinates. */
  getScreenCTM?(): PageMatrix | null;
}
interface SvgLength {
  baseVal: { value: number };
}
interface PageMatrix {
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
  f: number;
}
interface NotebookCell {
  cell_type: string;
  input_prompt_number: number | string | null | undefined;
  metadata: { tags?: string[] };
  set_text(text: string): void;
}
/** The page's globals: the DOM and the classic Notebook's `Jupyter` object. */
interface PageGlobals {
  document: {
    querySelector(selector: string): PageElement | null;
    querySelectorAll(selector: string): Iterable<PageElement>;
    getElementById(id: string): PageElement | null;
  };
  getComputedStyle(e: PageElement): { overflow: string };
  Jupyter?: {
    notebook?: {
      _fully_loaded: boolean;
      dirty: boolean;
      kernel_busy: boolean;
      kernel?: {
        info_reply?: { language_info?: unknown };
        is_connected(): boolean;
      };
      set_autosave_interval(ms: number): void;
      get_cells(): NotebookCell[];
      insert_cell_at_index(type: string, index: number): NotebookCell;
    };
  };
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Collects a child's output (so its pipe never fills) and finds lines in it. */
class OutputLog {
  text = "";
  constructor(stream: ReadableStream<Uint8Array>) {
    (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        this.text += decoder.decode(chunk, { stream: true });
      }
    })().catch(() => {});
  }
  async waitFor(pattern: RegExp, ms: number, what: string): Promise<string> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const m = pattern.exec(this.text);
      if (m) return m[1] ?? m[0];
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `${what} did not start within ${ms / 1000} s; its output:\n${this.text}`,
    );
  }
}

async function stop(child: Deno.ChildProcess, ms = 10_000): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    return; // already gone
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, ms);
  try {
    await child.status;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A contents manager that refuses every write: the test opens the real
 * notebooks, and the classic Notebook saves a notebook it thinks modified
 * (a `pre_save_hook` cannot stop it: the server logs its exception and
 * saves anyway).
 */
const READ_ONLY_CONFIG = `
from notebook.services.contents.largefilemanager import LargeFileManager
from tornado.web import HTTPError

class ReadOnlyContentsManager(LargeFileManager):
    def _refuse(self, *args, **kwargs):
        raise HTTPError(403, "browser test: the notebooks are read-only")
    save = _refuse
    rename_file = _refuse
    delete_file = _refuse
    create_checkpoint = _refuse
    restore_checkpoint = _refuse

    def list_checkpoints(self, path):
        return []  # listing would create .ipynb_checkpoints/ next to the notebook

c.NotebookApp.contents_manager_class = ReadOnlyContentsManager
`;

interface Server {
  url: (path: string) => string;
  api: (path: string, method?: string) => Promise<unknown>;
  log: OutputLog;
  process: Deno.ChildProcess;
}

async function startServer(tmp: string): Promise<Server> {
  const port = freePort();
  const token = crypto.randomUUID().replaceAll("-", "");
  const config = join(tmp, "config");
  await Deno.mkdir(config, { recursive: true });
  await Deno.writeTextFile(
    join(config, "jupyter_notebook_config.py"),
    READ_ONLY_CONFIG,
  );
  const kernels = await ensureKernelspec(join(tmp, "kernels"));
  const args = [
    "--no-browser",
    "--ip=127.0.0.1",
    `--port=${port}`,
    "--port-retries=0",
    `--NotebookApp.token=${token}`,
    `--notebook-dir=${REPO_ROOT}`,
  ];
  if (Deno.uid?.() === 0) args.push("--allow-root");
  const process = new Deno.Command(JUPYTER, {
    args,
    env: {
      JUPYTER_PATH: kernels,
      JUPYTER_CONFIG_DIR: config,
      JUPYTER_DATA_DIR: join(tmp, "data"),
      JUPYTER_RUNTIME_DIR: join(tmp, "runtime"),
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  new OutputLog(process.stdout);
  const log = new OutputLog(process.stderr);
  const base = `http://127.0.0.1:${port}`;
  const url = (path: string) =>
    `${base}${path}${path.includes("?") ? "&" : "?"}token=${token}`;
  const api = async (path: string, method = "GET") => {
    const res = await fetch(url(path), { method });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const end = Date.now() + LIMITS.server;
  for (;;) {
    try {
      await api("/api/status");
      break;
    } catch (e) {
      if (Date.now() > end) {
        await stop(process);
        throw new Error(
          `jupyter-notebook did not answer within ${
            LIMITS.server / 1000
          } s (${e}); its log:\n${log.text}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return { url, api, log, process };
}

async function startChromium(tmp: string) {
  const args = [
    "--headless=new",
    "--remote-debugging-port=0",
    `--user-data-dir=${join(tmp, "chromium")}`,
    "--window-size=1280,1000",
    "--no-first-run",
    "--disable-gpu",
    "about:blank",
  ];
  if (Deno.uid?.() === 0) args.unshift("--no-sandbox");
  const process = new Deno.Command(CHROMIUM, {
    args,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  new OutputLog(process.stdout);
  const log = new OutputLog(process.stderr);
  try {
    const ws = await log.waitFor(
      /DevTools listening on (ws:\S+)/,
      LIMITS.browser,
      "chromium",
    );
    const browser = await chromium.connectOverCDP(ws, {
      timeout: LIMITS.browser,
    });
    return { process, browser };
  } catch (e) {
    await stop(process);
    throw e;
  }
}

/** Opens a notebook, waits for its kernel, and blocks every write request. */
async function openNotebook(page: Page, server: Server, path: string) {
  await page.route("**/api/contents/**", (route) => {
    const method = route.request().method();
    return method === "GET" ? route.continue() : route.abort();
  });
  await page.goto(server.url(`/notebooks/${path}`), {
    timeout: LIMITS.kernel,
  });
  await page.waitForFunction(
    () => {
      const nb = (globalThis as unknown as PageGlobals).Jupyter?.notebook;
      return nb?._fully_loaded && nb.kernel?.info_reply?.language_info &&
        nb.kernel.is_connected();
    },
    null,
    { timeout: LIMITS.kernel, polling: 200 },
  );
  // No autosave while the test edits and runs the notebook.
  return await page.evaluate(() => {
    const nb = (globalThis as unknown as PageGlobals).Jupyter!.notebook!;
    nb.set_autosave_interval(0);
    return { dirty: nb.dirty as boolean };
  });
}

/** Runs every cell from the Cell menu and waits until they have all run (or one failed). */
async function runAll(page: Page): Promise<string[]> {
  await page.click("#celllink");
  await page.click("#run_all_cells");
  const seen = new Set<string>();
  const end = Date.now() + LIMITS.run;
  for (;;) {
    const state = await page.evaluate(() => {
      const { document, Jupyter } = globalThis as unknown as PageGlobals;
      const nb = Jupyter!.notebook!;
      const cells = nb.get_cells().filter((c) => c.cell_type === "code");
      const bar = [...document.querySelectorAll(".output_text pre")]
        .map((e) => e.textContent ?? "").find((t) =>
          /^\S+ +\d+\/\d+ \[/.test(t)
        );
      return {
        // deno-lint-ignore no-explicit-any
        done: cells.every((c: any) =>
          typeof c.input_prompt_number === "number"
        ),
        failed: document.querySelector(".output_error") !== null,
        busy: nb.kernel_busy as boolean,
        bar: bar ?? null,
      };
    });
    if (state.bar) seen.add(state.bar);
    if ((state.done || state.failed) && !state.busy) break;
    if (Date.now() > end) {
      throw new Error(
        `the notebook did not finish within ${LIMITS.run / 1000} s`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return [...seen];
}

/** What the page shows: errors, results, bars, figures and clipped text. */
interface PageReport {
  errors: string[];
  stderr: string[];
  outPrompts: string[];
  bars: string[];
  svgs: { width: number; height: number }[];
  images: { width: number; height: number; natural: number }[];
  clipped: string[];
  duplicateIds: string[];
  badUses: string[];
  useImages: string[];
}

function inspect(page: Page): Promise<PageReport> {
  return page.evaluate(() => {
    const { document, getComputedStyle } = globalThis as unknown as PageGlobals;
    const text = (e: PageElement) => (e.textContent ?? "").trim();
    const figures = [...document.querySelectorAll(".output_svg > div > svg")];
    // A nested <svg>'s own client rect is the box of what it draws, overflow
    // included; the region it clips to is its viewport (x, y, width, height
    // in its parent's user space), mapped to the page here.
    const viewport = (svg: PageElement) => {
      const m = svg.parentElement?.getScreenCTM?.();
      if (!m || !svg.x || !svg.y || !svg.width || !svg.height) return null;
      const x0 = svg.x.baseVal.value;
      const y0 = svg.y.baseVal.value;
      const x1 = x0 + svg.width.baseVal.value;
      const y1 = y0 + svg.height.baseVal.value;
      const pts = [[x0, y0], [x1, y0], [x0, y1], [x1, y1]].map(([x, y]) => [
        m.a * x + m.c * y + m.e,
        m.b * x + m.d * y + m.f,
      ]);
      const xs = pts.map((p) => p[0]);
      const ys = pts.map((p) => p[1]);
      const box = {
        left: Math.min(...xs),
        right: Math.max(...xs),
        top: Math.min(...ys),
        bottom: Math.max(...ys),
      };
      return {
        ...box,
        width: box.right - box.left,
        height: box.bottom - box.top,
      };
    };
    const inside = (r: PageRect, box: PageRect) =>
      r.left >= box.left - 0.5 && r.right <= box.right + 0.5 &&
      r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5;
    const clipped: string[] = [];
    figures.forEach((root, f) => {
      for (const t of root.querySelectorAll("text")) {
        const r = t.getBoundingClientRect();
        if (!text(t) || r.width === 0) continue;
        for (
          let a: PageElement | null = t.parentElement;
          a && root.contains(a);
          a = a.parentElement
        ) {
          if (a.tagName.toLowerCase() !== "svg") continue;
          const clips = a === root ||
            getComputedStyle(a).overflow !== "visible";
          const b = a === root ? a.getBoundingClientRect() : viewport(a);
          if (clips && b && !inside(r, b)) {
            clipped.push(
              `figure ${f}: "${text(t)}" at x ${r.left.toFixed(1)}..${
                r.right.toFixed(1)
              } outside ${a === root ? "the figure" : "a nested viewport"} ` +
                `x ${b.left.toFixed(1)}..${b.right.toFixed(1)}`,
            );
            break;
          }
        }
      }
    });
    const ids = [...document.querySelectorAll(".output_area [id]")].map((e) =>
      e.id
    );
    const duplicateIds = [
      ...new Set(ids.filter((id, i) => ids.indexOf(id) !== i)),
    ];
    const badUses: string[] = [];
    const useImages: string[] = [];
    for (const root of figures) {
      for (const use of root.querySelectorAll("use")) {
        const href = use.getAttribute("href") ??
          use.getAttributeNS("http://www.w3.org/1999/xlink", "href") ?? "";
        const target = document.getElementById(href.replace(/^#/, ""));
        if (!target || !root.contains(target)) badUses.push(href);
        else {
          useImages.push(
            (target.getAttribute("href") ??
              target.getAttributeNS("http://www.w3.org/1999/xlink", "href") ??
              "").slice(-64),
          );
        }
      }
    }
    return {
      errors: [...document.querySelectorAll(".output_error")].map(text),
      stderr: [...document.querySelectorAll(".output_stderr")].map(text),
      outPrompts: [...document.querySelectorAll(".output_prompt")].map(text)
        .filter((t) => t.startsWith("Out")),
      bars: [...document.querySelectorAll(".output_text pre")].map(text)
        .filter((t) => /^\S+ +\d+\/\d+ \[/.test(t)),
      svgs: figures.map((s) => {
        const r = s.getBoundingClientRect();
        return { width: r.width, height: r.height };
      }),
      images: [...document.querySelectorAll(".output_png img")].map((img) => {
        const r = img.getBoundingClientRect();
        return {
          width: r.width,
          height: r.height,
          natural: img.naturalWidth ?? 0,
        };
      }),
      clipped,
      duplicateIds,
      badUses,
      useImages,
    };
  });
}

function assertFiguresSound(report: PageReport, what: string) {
  assert.deepEqual(report.errors, [], `${what}: error output`);
  assert.deepEqual(report.outPrompts, [], `${what}: stray Out[n] lines`);
  for (const s of report.svgs) {
    assert.ok(s.width > 0 && s.height > 0, `${what}: an empty SVG figure`);
  }
  for (const i of report.images) {
    assert.ok(
      i.natural > 0 && i.width > 0 && i.height > 0,
      `${what}: an image grid that did not render`,
    );
  }
  assert.deepEqual(report.clipped, [], `${what}: clipped text`);
  assert.deepEqual(report.duplicateIds, [], `${what}: ids shared on the page`);
  assert.deepEqual(report.badUses, [], `${what}: <use> showing another figure`);
}

async function screenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(SHOTS, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const path = join(SHOTS, `${name}-${stamp}.png`);
  // The notebook scrolls inside #site, not the page: make the window as
  // tall as the notebook (within reason) so one picture shows every cell.
  const height = await page.evaluate(() => {
    const { document } = globalThis as unknown as PageGlobals;
    const site = document.querySelector("#site") as unknown as {
      scrollHeight: number;
    } | null;
    return site ? site.scrollHeight : 1000;
  });
  const size = page.viewportSize() ?? { width: 1280, height: 1000 };
  await page.setViewportSize({
    width: size.width,
    height: Math.min(20_000, height + 150),
  });
  await page.screenshot({ path });
  await page.setViewportSize(size);
  // Each SVG figure on its own too, at the page's rendering, to look at.
  const figures = page.locator(".output_svg > div > svg");
  for (let i = 0; i < await figures.count(); i++) {
    await figures.nth(i).screenshot({
      path: path.replace(/\.png$/, `-figure${i + 1}.png`),
    });
  }
  console.log(`screenshot: ${path}`);
  return path;
}

/** The cell source that sets the overrides; `undefined` last, so it shows no result. */
function overridesCell(overrides: Record<string, unknown>): string {
  return `// Tiny parameters from tests/browser/classic_notebook_test.ts\n` +
    `Object.assign(params, ${JSON.stringify(overrides)});\nundefined;\n`;
}

Deno.test({
  name:
    "classic Notebook in chromium: Week 9 and the figures fixture render right",
  ignore: !ENABLED,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const missing = [JUPYTER, CHROMIUM].filter((p) => !exists(p));
    assert.deepEqual(
      missing,
      [],
      `missing ${missing.join(", ")}; install with (as root): ` +
        "apt-get install -y jupyter-notebook chromium",
    );
    const week9 = "notebooks/week09_ff_vae.ipynb";
    const fixture = "tests/fixtures/figures.ipynb";
    const before = new Map(
      [week9, fixture].map((p) => [p, Deno.readFileSync(join(REPO_ROOT, p))]),
    );
    const tmp = await Deno.makeTempDir({ prefix: "browser_test_" });
    let server: Server | null = null;
    let chrome: Awaited<ReturnType<typeof startChromium>> | null = null;
    try {
      server = await startServer(tmp);
      chrome = await startChromium(tmp);
      const context = chrome.browser.contexts()[0] ??
        await chrome.browser.newContext();
      const newPage = async () => {
        const page = await context.newPage();
        page.setDefaultTimeout(LIMITS.browser);
        // Leave modified notebooks without asking (nothing is saved anyway).
        page.on("dialog", (d) => d.accept());
        return page;
      };
      let page = await newPage();

      // Week 9 with tiny parameters.
      const opened = await openNotebook(page, server, week9);
      assert.equal(
        opened.dirty,
        false,
        "opening marked the notebook modified: its metadata.language_info " +
          "differs from what the Deno kernel reports (see tests/notebooks_test.ts)",
      );
      await page.evaluate((source) => {
        const nb = (globalThis as unknown as PageGlobals).Jupyter!.notebook!;
        const index = nb.get_cells().findIndex((c) =>
          (c.metadata.tags ?? []).includes("parameters")
        );
        nb.insert_cell_at_index("code", index + 1).set_text(source);
      }, overridesCell(WEEK9_TINY));
      const barStates = await runAll(page);
      const report = await inspect(page);
      await screenshot(page, "week09_ff_vae");
      console.log(
        `Week 9: ${report.svgs.length} SVG figures, ${report.images.length} ` +
          `image grids, progress states seen: ${barStates.length}`,
      );
      if (report.stderr.length > 0) {
        console.log(`stderr outputs:\n${report.stderr.join("\n")}`);
      }
      assertFiguresSound(report, "Week 9");
      assert.ok(report.svgs.length >= 2, "the cost and statistics plots");
      assert.ok(report.images.length >= 5, "the digit grids");
      // One training bar per epoch, each a single output updated to its end.
      assert.equal(
        report.bars.length,
        WEEK9_TINY.epochs,
        report.bars.join("\n"),
      );
      assert.match(report.bars[0], /\[#+\] 100%/);

      // The fixture: long tick labels, and two captioned grids whose
      // pictures differ (one id each, and each <use> shows its own).
      await page.close();
      page = await newPage();
      // (Its metadata is minimal, so opening it marks it modified: not checked.)
      await openNotebook(page, server, fixture);
      await runAll(page);
      const figures = await inspect(page);
      await screenshot(page, "figures_fixture");
      assertFiguresSound(figures, "figures fixture");
      assert.equal(figures.svgs.length, 3, "the plot and two captioned grids");
      assert.equal(figures.useImages.length, 4, "two rows in each grid");
      assert.notEqual(
        figures.useImages[0],
        figures.useImages[2],
        "the second captioned grid shows the first one's picture",
      );
    } finally {
      if (server) {
        try {
          const kernels = await server.api("/api/kernels") as { id: string }[];
          for (const k of kernels) {
            await server.api(`/api/kernels/${k.id}`, "DELETE");
          }
        } catch { /* the server is going anyway */ }
      }
      await chrome?.browser.close().catch(() => {});
      if (chrome) await stop(chrome.process);
      if (server) await stop(server.process);
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
    for (const [path, bytes] of before) {
      assert.deepEqual(
        Deno.readFileSync(join(REPO_ROOT, path)),
        bytes,
        `${path} was modified`,
      );
    }
    for (const dir of ["notebooks", "tests/fixtures"]) {
      assert.ok(
        !exists(join(REPO_ROOT, dir, ".ipynb_checkpoints")),
        `${dir}/.ipynb_checkpoints was created`,
      );
    }
  },
});
