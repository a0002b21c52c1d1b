import assert from "node:assert/strict";
import { join } from "node:path";
import * as Plot from "@observablehq/plot";
import {
  integerTicks,
  panelsToSvg,
  plot,
  plotToSvg,
} from "../../lib/display/plot.ts";

const rows = [
  { epoch: 1, loss: 2, split: "train" },
  { epoch: 2, loss: 1, split: "train" },
  { epoch: 1, loss: 3, split: "valid" },
  { epoch: 2, loss: 2.5, split: "valid" },
];

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}

Deno.test("plotToSvg gives a standalone SVG with marks and axis labels", () => {
  const svg = plotToSvg({
    x: { label: "epoch" },
    y: { label: "loss" },
    marks: [Plot.line(rows, { x: "epoch", y: "loss", z: "split" })],
  });
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>$/);
  // One path per series inside the line mark's group.
  const lineGroup =
    svg.match(/<g[^>]*aria-label="line"[^>]*>(.*?)<\/g>/)?.[1] ??
      "";
  assert.equal(count(lineGroup, /<path /g), 2);
  assert.match(svg, />epoch →</);
  assert.match(svg, />↑ loss</);
  // Tick labels of the y axis from 1.0 to 3.0.
  assert.match(svg, />1\.0</);
  assert.match(svg, />3\.0</);
});

Deno.test("plotToSvg draws a categorical legend and title inside the SVG", () => {
  const svg = plotToSvg({
    title: "Loss per epoch",
    color: { legend: true },
    marks: [Plot.line(rows, { x: "epoch", y: "loss", stroke: "split" })],
  });
  assert.doesNotMatch(svg, /<(div|span|figure|h2)\b/); // no HTML left
  assert.match(svg, /<text[^>]*font-weight="bold"[^>]*>Loss per epoch<\/text>/);
  assert.match(svg, /<text[^>]*>train<\/text>/);
  assert.match(svg, /<text[^>]*>valid<\/text>/);
  // The swatches use the same colors as the lines.
  const strokes = [...svg.matchAll(/<path[^>]*stroke="(#[0-9a-f]{6})"/g)].map((
    m,
  ) => m[1]);
  const swatches = [...svg.matchAll(/<svg[^>]*fill="(#[0-9a-f]{6})"/g)].map((
    m,
  ) => m[1]);
  assert.equal(swatches.length, 2);
  assert.deepEqual(new Set(strokes), new Set(swatches));
});

Deno.test("plotToSvg renders a continuous color legend as an embedded ramp", () => {
  const svg = plotToSvg({
    color: { legend: true, type: "linear" },
    marks: [Plot.dot(rows, { x: "epoch", y: "loss", fill: "loss" })],
  });
  assert.match(svg, /<image[^>]*href="data:image\/png;base64,iVBORw0KGgo/);
});

Deno.test("plot writes <dir>/<name>.svg and returns the same text and its path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { svg, path } = await plot({
      marks: [Plot.dot(rows, { x: "epoch", y: "loss" })],
    }, {
      name: "dots",
      dir,
    });
    assert.equal(path, join(dir, "dots.svg"));
    assert.equal(await Deno.readTextFile(join(dir, "dots.svg")), svg);
    assert.equal(count(svg, /<circle /g), 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("integerTicks steps whole numbers to at most maxTicks", () => {
  assert.deepEqual(integerTicks(1, 2), [1, 2]);
  assert.deepEqual(integerTicks(1, 12, 6), [1, 3, 5, 7, 9, 11]);
  assert.deepEqual(integerTicks(1, 500).length, 10);
});

Deno.test("panelsToSvg puts plots side by side, each with its own scale", () => {
  const a = {
    width: 300,
    height: 200,
    marks: [Plot.dot(rows, { x: "epoch", y: "loss" })],
  };
  const b = {
    width: 250,
    height: 240,
    y: { label: "score" },
    marks: [
      Plot.dot([{ t: 0, score: 500 }, { t: 1, score: 900 }], {
        x: "t",
        y: "score",
      }),
    ],
  };
  const svg = panelsToSvg([a, b], 10);
  const widths = [plotToSvg(a), plotToSvg(b)].map((p) =>
    Number(/^<svg[^>]* width="(\d+)"/.exec(p)![1])
  );
  const heights = [plotToSvg(a), plotToSvg(b)].map((p) =>
    Number(/^<svg[^>]* height="(\d+)"/.exec(p)![1])
  );
  assert.match(
    svg,
    new RegExp(
      `^<svg [^>]*width="${widths[0] + 10 + widths[1]}" height="${
        Math.max(...heights)
      }"`,
    ),
  );
  // The second panel starts after the first and the gap.
  assert.match(svg, new RegExp(`<svg x="${widths[0] + 10}" y="0" `));
  // Each keeps its own y ticks: the loss's and the score's.
  assert.match(svg, />3\.0</);
  assert.match(svg, />900</);
});
