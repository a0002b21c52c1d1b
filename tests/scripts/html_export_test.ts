/**
 * End to end through the real Deno kernel: the figures a notebook shows are
 * all in the runner's HTML export (Debian's nbconvert 6.5 drops inline SVG),
 * no figure call leaves an `Out[n]` result behind, and no two SVG outputs
 * share an id.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Notebook,
  type Output,
  REPO_ROOT,
  runNotebook,
} from "../../scripts/run_notebook.ts";
import { toBase64 } from "../../lib/display/jupyter.ts";

const FIXTURE = join(REPO_ROOT, "tests", "fixtures", "figures.ipynb");

function text(value: unknown): string {
  return Array.isArray(value) ? value.join("") : String(value ?? "");
}

Deno.test({
  name:
    "runner on figures.ipynb: the HTML export keeps every figure, and figure calls leave no Out[n]",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const out = await Deno.makeTempDir();
    try {
      const result = await runNotebook(FIXTURE, {
        params: { count: 4 },
        outDir: out,
        timeoutS: 120,
      });
      assert.equal(result.status, "passed", result.stderr);
      const nb: Notebook = JSON.parse(await Deno.readTextFile(result.ipynb));
      const outputs: Output[] = nb.cells.flatMap((c) => c.outputs ?? []);
      assert.deepEqual(outputs.filter((o) => o.output_type === "error"), []);

      // Cells ending in `await plot(...)` / `await imageGrid(...)` have no
      // result, so Jupyter shows no Out[n] line for them. (The injected
      // parameters cell's assignment is the runner's, not a figure's.)
      const results = nb.cells.filter((c) =>
        !c.metadata?.tags?.includes("injected-parameters")
      ).flatMap((c) => c.outputs ?? []).filter((o) =>
        o.output_type === "execute_result"
      );
      assert.deepEqual(results, []);

      const figures = outputs.filter((o) =>
        o.data?.["image/svg+xml"] !== undefined ||
        o.data?.["image/png"] !== undefined
      );
      // The plot, two captioned grids (SVG + PNG) and one plain grid (PNG).
      assert.equal(figures.length, 4);
      const html = await Deno.readTextFile(result.html);
      for (const figure of figures) {
        const svg = figure.data?.["image/svg+xml"];
        if (svg !== undefined) {
          const b64 = toBase64(new TextEncoder().encode(text(svg)));
          assert.ok(
            html.includes(`src="data:image/svg+xml;base64,${b64}"`),
            "an SVG figure is missing from the HTML export",
          );
        } else {
          const png = text(figure.data?.["image/png"]).replace(/\s/g, "");
          assert.ok(
            html.includes(png),
            "a PNG figure is missing from the HTML export",
          );
        }
      }
      // Debian's nbconvert would have dropped inline SVG: none is left to drop.
      assert.doesNotMatch(html, /<svg\b/);

      // Every id in every SVG output is unique on the page.
      const ids = figures.flatMap((f) =>
        [...text(f.data?.["image/svg+xml"]).matchAll(/\sid="([^"]+)"/g)].map((
          m,
        ) => m[1])
      );
      assert.ok(ids.length >= 3, `expected ids in the SVGs, got ${ids}`);
      assert.equal(new Set(ids).size, ids.length, `repeated ids: ${ids}`);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
