import assert from "node:assert/strict";
import { join } from "node:path";
import * as Plot from "@observablehq/plot";
import {
  estimateTextWidth,
  integerAxis,
  integerTicks,
  panelsToSvg,
  plot,
  plotFigure,
  plotToSvg,
} from "../../lib/display/plot.ts";
import { uniqueSvgIds, withVisibleOverflow } from "../../lib/display/svg.ts";

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

Deno.test("plotFigure writes <dir>/<name>.svg and returns the same text and its path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { svg, path } = await plotFigure({
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

Deno.test("plot resolves to nothing, so a cell ending with it has no Out[n] line; it still saves", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const result = await plot({
      marks: [Plot.dot(rows, { x: "epoch", y: "loss" })],
    }, { name: "dots", dir });
    assert.equal(result, undefined);
    assert.match(await Deno.readTextFile(join(dir, "dots.svg")), /^<svg /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("integerAxis: a one-epoch axis reads 1, not 1.000000", () => {
  const oneEpoch = (x: Plot.ScaleOptions) =>
    plotToSvg({
      x,
      marks: [Plot.dot([{ epoch: 1, loss: 2 }], { x: "epoch", y: "loss" })],
    });
  const tickLabels = (svg: string) =>
    [
      ...(svg.match(/aria-label="x-axis tick label"[^>]*>(.*?)<\/g>/)?.[1] ??
        "")
        .matchAll(/>([^<]+)<\/text>/g),
    ].map((m) => m[1]);
  // What the figures did before: Plot's own format on a degenerate domain.
  assert.deepEqual(tickLabels(oneEpoch({ ticks: integerTicks(1, 1) })), [
    "1.000000",
  ]);
  assert.deepEqual(tickLabels(oneEpoch(integerAxis(1, 1))), ["1"]);
  assert.deepEqual(integerAxis(1, 12, 6).ticks, [1, 3, 5, 7, 9, 11]);
  assert.equal(integerAxis(1, 3).tickFormat(2), "2");
});

Deno.test("uniqueSvgIds renames ids and the references to them, and only those", () => {
  const svg = '<svg><clipPath id="c"><rect/></clipPath><image id="img"/>' +
    '<g clip-path="url(#c)" style="mask:url( \'#c\' )"><use xlink:href="#img"/>' +
    '<use href="#img"/><use href="#elsewhere"/><path fill="url(#other)"/></g></svg>';
  assert.equal(
    uniqueSvgIds(svg, "p1"),
    '<svg><clipPath id="p1-c"><rect/></clipPath><image id="p1-img"/>' +
      '<g clip-path="url(#p1-c)" style="mask:url(\'#p1-c\')"><use xlink:href="#p1-img"/>' +
      '<use href="#p1-img"/><use href="#elsewhere"/><path fill="url(#other)"/></g></svg>',
  );
  assert.equal(uniqueSvgIds("<svg><g/></svg>"), "<svg><g/></svg>");
  // Without a prefix, every call gets a fresh one, even for the same text.
  const ids = new Set(
    [1, 2, 3].map(() => /id="([^"]+)"/.exec(uniqueSvgIds(svg))![1]),
  );
  assert.equal(ids.size, 3);
});

Deno.test("plotToSvg: Plot's clip-path ids differ between figures and their references follow", () => {
  const spec = {
    clip: true,
    marks: [Plot.dot(rows, { x: "epoch", y: "loss" })],
  };
  const ids = [plotToSvg(spec), plotToSvg(spec)].map((svg) => {
    const defined = [...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(defined.length > 0, "Plot defines a clip path");
    for (const m of svg.matchAll(/url\(#([^)]+)\)/g)) {
      assert.ok(defined.includes(m[1]), `url(#${m[1]}) is defined`);
    }
    return defined;
  });
  assert.equal(ids[0].filter((id) => ids[1].includes(id)).length, 0);
});

Deno.test("plotToSvg: nested viewports carry overflow:visible in a style a host stylesheet cannot override", () => {
  const svg = plotToSvg({
    color: { legend: true },
    marks: [Plot.line(rows, { x: "epoch", y: "loss", stroke: "split" })],
  });
  const nested = [...svg.matchAll(/<svg\b[^>]*>/g)].slice(1).map((m) => m[0]);
  assert.ok(nested.length >= 3, "the chart and two swatches");
  for (const tag of nested) assert.match(tag, /style="[^"]*overflow:visible/);
  const panels = panelsToSvg([{
    marks: [Plot.dot(rows, { x: "epoch", y: "loss" })],
  }]);
  assert.match(panels, /<svg x="0" y="0" style="overflow:visible" /);
  assert.equal(
    withVisibleOverflow("overflow: hidden; color: red"),
    "color: red;overflow:visible",
  );
});

/** x of the outer translate, and the leftmost estimated edge of the y tick labels in outer coordinates. */
function yLabelLeftEdge(svg: string): number {
  const shift = Number(/<g transform="translate\(([\d.]+),/.exec(svg)![1]);
  const group =
    /<g transform="translate\(([-\d.]+),0\)"[^>]*aria-label="y-axis tick label">(.*?)<\/g>/
      .exec(svg)!;
  const dx = Number(group[1]);
  let left = Infinity;
  for (
    const m of group[2].matchAll(/translate\(([-\d.]+),[^)]*\)"[^>]*>([^<]+)</g)
  ) {
    left = Math.min(
      left,
      shift + dx + Number(m[1]) - estimateTextWidth(m[2], 10),
    );
  }
  return left;
}

Deno.test("plotToSvg widens the left margin for y tick labels longer than Plot's margin", () => {
  // Ticks such as 1.0020 and −0.0015 reach past Plot's default 40 px margin.
  const spec = (values: number[]) => ({
    marks: [
      Plot.dot(values.map((v, i) => ({ i, v })), { x: "i", y: "v" }),
    ],
  });
  const long = plotToSvg(spec([1.0012, 1.0014, 1.0016, 1.0018, 1.0020]));
  const negative = plotToSvg(spec([-0.0015, -0.0005, 0.0005]));
  const short = plotToSvg(spec([1, 2, 3]));
  for (const svg of [long, negative, short]) {
    const left = yLabelLeftEdge(svg);
    assert.ok(left >= 0, `labels start at ${left}, outside the figure`);
  }
  const widthOf = (svg: string) =>
    Number(/^<svg[^>]* width="(\d+)"/.exec(svg)![1]);
  assert.ok(widthOf(long) > widthOf(short), "the long labels got more room");
  assert.equal(widthOf(short), 660, "short labels keep the usual 10 px margin");
});
