/**
 * Observable Plot figures rendered to standalone SVG without a browser
 * (linkedom supplies the DOM), shown inline in Jupyter and saved to disk.
 *
 * @module
 */

import * as Plot from "@observablehq/plot";
import { encode as encodePng } from "fast-png";
import { parseHTML } from "linkedom";
import { displayBundle, toBase64 } from "./jupyter.ts";
import { saveFigure, type SaveOptions } from "./output_file.ts";
import { uniqueSvgIds, withVisibleOverflow } from "./svg.ts";

const SVG_NS = "http://www.w3.org/2000/svg";
const XLINK_NS = "http://www.w3.org/1999/xlink";

/** Options for {@linkcode plot}: where to save the SVG. */
export type PlotOutputOptions = SaveOptions;

// Minimal DOM node shape used while flattening the figure.
interface Node {
  tagName?: string;
  textContent: string | null;
  children: ArrayLike<Node>;
  outerHTML: string;
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(
    />/g,
    "&gt;",
  ).replace(/"/g, "&quot;");
}

/** Parses "rgb(r, g, b)", "rgba(...)", "#rgb" or "#rrggbb"; black otherwise. */
function parseColor(css: string): [number, number, number, number] {
  const s = css.trim();
  const m = s.match(/^rgba?\(([^)]*)\)$/);
  if (m) {
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? Math.round(p[3] * 255) : 255];
  }
  if (/^#[0-9a-f]{6}$/i.test(s)) {
    const v = parseInt(s.slice(1), 16);
    return [v >> 16, (v >> 8) & 255, v & 255, 255];
  }
  if (/^#[0-9a-f]{3}$/i.test(s)) {
    const [r, g, b] = [...s.slice(1)].map((c) => parseInt(c + c, 16));
    return [r, g, b, 255];
  }
  return [0, 0, 0, 255];
}

/**
 * Just enough of a 2D canvas for Plot's continuous color legend (a 256x1
 * ramp filled pixel by pixel, then read back with toDataURL).
 */
class PixelCanvas {
  width = 1;
  height = 1;
  private pixels: Uint8Array | null = null;
  private readonly context = {
    fillStyle: "#000",
    fillRect: (x: number, y: number, w: number, h: number) => {
      const [r, g, b, a] = parseColor(this.context.fillStyle);
      const px = this.data();
      for (let j = Math.max(0, y); j < Math.min(this.height, y + h); j++) {
        for (let i = Math.max(0, x); i < Math.min(this.width, x + w); i++) {
          px.set([r, g, b, a], (j * this.width + i) * 4);
        }
      }
    },
  };
  private data(): Uint8Array {
    if (!this.pixels || this.pixels.length !== this.width * this.height * 4) {
      this.pixels = new Uint8Array(this.width * this.height * 4);
    }
    return this.pixels;
  }
  getContext(): typeof this.context {
    return this.context;
  }
  toDataURL(): string {
    const png = encodePng({
      width: this.width,
      height: this.height,
      data: this.data(),
      channels: 4,
      depth: 8,
    });
    return `data:image/png;base64,${toBase64(png)}`;
  }
}

type PlotDocument = NonNullable<Plot.PlotOptions["document"]>;

interface MinimalDocument {
  createElement(tag: string, options?: unknown): unknown;
}

function createDocument(): PlotDocument {
  const { document } = parseHTML(
    "<!DOCTYPE html><html><body></body></html>",
  ) as unknown as { document: MinimalDocument };
  const create = document.createElement.bind(document);
  document.createElement = (tag: string, options?: unknown) =>
    tag.toLowerCase() === "canvas" ? new PixelCanvas() : create(tag, options);
  return document as unknown as PlotDocument;
}

/**
 * Standalone SVG for one <svg> element: namespaces added, placed at (x, y),
 * its overflow visible through an inline style, which outranks a host page's
 * `svg:not(:root) { overflow: hidden }` where the attribute alone does not
 * (Plot draws tick labels in the margin, partly outside its viewport).
 */
function placeSvg(svg: Node, x: number, y: number): string {
  svg.setAttribute("x", String(x));
  svg.setAttribute("y", String(y));
  svg.setAttribute("overflow", "visible");
  svg.setAttribute("style", withVisibleOverflow(svg.getAttribute("style")));
  if (!svg.getAttribute("xmlns")) svg.setAttribute("xmlns", SVG_NS);
  return svg.outerHTML;
}

/**
 * Advance widths in em of the widest common sans-serif (DejaVu Sans, what
 * `system-ui` is on a stock Debian), so that estimates err on the wide side.
 */
function charWidthEm(c: string): number {
  if (/[0-9]/.test(c)) return 0.64;
  if (c === "\u2212") return 0.84; // Plot's minus sign
  if (/[.,:;'|!il ]/.test(c)) return 0.32;
  if (/[A-Z]/.test(c)) return 0.74;
  if (/[a-z]/.test(c)) return 0.62;
  return 0.9; // arrows, symbols
}

/** Estimated width in pixels of `text` at `fontSize`. */
export function estimateTextWidth(text: string, fontSize: number): number {
  let em = 0;
  for (const c of text) em += charWidthEm(c);
  return em * fontSize;
}

function translateOf(node: Node): [number, number] | null {
  const t = node.getAttribute("transform");
  if (!t) return [0, 0];
  const m = /^\s*translate\(\s*([-\d.e]+)(?:[\s,]+([-\d.e]+))?\s*\)\s*$/.exec(
    t,
  );
  return m ? [Number(m[1]), Number(m[2] ?? 0)] : null;
}

function lengthOf(value: string | null, fontSize: number): number {
  if (!value) return 0;
  const v = value.trim();
  if (v.endsWith("em")) return Number(v.slice(0, -2)) * fontSize;
  const n = Number(v.replace(/px$/, ""));
  return Number.isFinite(n) ? n : 0;
}

/**
 * The horizontal extent of the text drawn in `root` (Plot's <svg>), in its
 * coordinates, estimated from the characters: where tick and axis labels
 * reach past the viewport. Elements under a transform other than a
 * translation (rotated labels) are left out.
 */
export function textExtentX(
  root: Node,
): { min: number; max: number } | null {
  let min = Infinity;
  let max = -Infinity;
  const walk = (
    node: Node,
    x: number,
    fontSize: number,
    anchor: string,
  ) => {
    const t = translateOf(node);
    if (!t) return;
    const size = lengthOf(node.getAttribute("font-size"), fontSize) ||
      fontSize;
    const a = node.getAttribute("text-anchor") ?? anchor;
    const here = x + t[0];
    const tag = node.tagName?.toLowerCase();
    if (tag === "text") {
      const left = here + lengthOf(node.getAttribute("x"), size) +
        lengthOf(node.getAttribute("dx"), size);
      const width = estimateTextWidth((node.textContent ?? "").trim(), size);
      const start = a === "end"
        ? left - width
        : a === "middle"
        ? left - width / 2
        : left;
      min = Math.min(min, start);
      max = Math.max(max, start + width);
      return;
    }
    if (tag === "style" || tag === "clippath" || tag === "defs") return;
    for (const child of Array.from(node.children)) {
      walk(child, here, size, a);
    }
  };
  for (const child of Array.from(root.children)) {
    walk(
      child,
      0,
      lengthOf(root.getAttribute("font-size"), 10) || 10,
      root.getAttribute("text-anchor") ?? "start",
    );
  }
  return Number.isFinite(min) ? { min, max } : null;
}

const MARGIN = 10;
const TEXT_WIDTH = 6; // rough advance of a 10px system-ui glyph, for wrapping swatches

/** Lays out Plot's HTML swatch legend as SVG rows; returns [svg, height]. */
function swatchesToSvg(
  div: Node,
  top: number,
  width: number,
): [string, number] {
  const parts: string[] = [];
  const rowHeight = 20;
  let x = 0;
  let y = top;
  for (const span of Array.from(div.children)) {
    if (span.tagName?.toLowerCase() !== "span") continue;
    const swatch = Array.from(span.children).find((c) =>
      c.tagName?.toLowerCase() === "svg"
    );
    const label = (span.textContent ?? "").trim();
    const w = Number(swatch?.getAttribute("width") ?? 15);
    const h = Number(swatch?.getAttribute("height") ?? 15);
    const itemWidth = w + 6 + label.length * TEXT_WIDTH + 14;
    if (x > 0 && x + itemWidth > width) {
      x = 0;
      y += rowHeight;
    }
    if (swatch) parts.push(placeSvg(swatch, x, y + (rowHeight - h) / 2));
    parts.push(
      `<text x="${x + w + 6}" y="${
        y + rowHeight / 2
      }" dy="0.32em" text-anchor="start">${escapeXml(label)}</text>`,
    );
    x += itemWidth;
  }
  return [parts.join(""), y - top + rowHeight + 6];
}

/**
 * Flattens the element Plot returns into one standalone SVG document. Plot
 * returns a bare <svg> for a simple chart but an HTML <figure> when there is
 * a title, subtitle, caption or legend; swatch legends are HTML there, so they
 * are redrawn here as SVG text and shapes, stacked above the chart. Labels
 * that Plot lets reach past its viewport (a long y tick label beyond its
 * left margin) get room in the white margin, so nothing needs to draw
 * outside the figure's box, and every id is made unique to the figure.
 */
export function figureToSvg(element: Node): string {
  const tag = element.tagName?.toLowerCase();
  const children = tag === "svg" ? [element] : Array.from(element.children);
  const svgs = children.filter((c) => c.tagName?.toLowerCase() === "svg");
  const main = svgs[svgs.length - 1];
  if (!main) throw new Error("plot: Plot.plot returned no <svg> element");
  const width = Number(main.getAttribute("width") ?? 640);
  const parts: string[] = [];
  let y = 0;
  let minX = 0;
  let maxX = width;
  for (const child of children) {
    const name = child.tagName?.toLowerCase();
    const raw = (child.textContent ?? "").trim();
    const text = escapeXml(raw);
    if (name === "h2" || name === "h3" || name === "figcaption") {
      const size = name === "h2" ? 16 : 12;
      const weight = name === "h2" ? ` font-weight="bold"` : "";
      maxX = Math.max(maxX, estimateTextWidth(raw, size));
      y += size + 6;
      parts.push(
        `<text x="0" y="${
          y - 4
        }" font-size="${size}"${weight} text-anchor="start">${text}</text>`,
      );
    } else if (name === "div") {
      const [svg, height] = swatchesToSvg(child, y, width);
      parts.push(svg);
      y += height;
    } else if (name === "svg") {
      const extent = textExtentX(child);
      if (extent) {
        minX = Math.min(minX, extent.min);
        maxX = Math.max(maxX, extent.max);
      }
      parts.push(placeSvg(child, 0, y));
      y += Number(child.getAttribute("height") ?? 0) + 4;
    }
  }
  // A white margin keeps edge labels inside the image and the figure legible
  // on dark notebook themes; it widens where labels reach past the chart.
  const left = MARGIN + Math.ceil(-minX);
  const w = Math.ceil(maxX - minX) + 2 * MARGIN;
  const h = Math.ceil(y) + 2 * MARGIN;
  return uniqueSvgIds(
    `<svg xmlns="${SVG_NS}" xmlns:xlink="${XLINK_NS}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="system-ui, sans-serif" font-size="10" fill="black" color="black">` +
      `<rect width="100%" height="100%" fill="white"/>` +
      `<g transform="translate(${left},${MARGIN})">${parts.join("")}</g></svg>`,
  );
}

/**
 * Renders an Observable Plot spec (the options object of `Plot.plot`) to a
 * standalone SVG string, legends and titles included. No I/O.
 */
export function plotToSvg(spec: Plot.PlotOptions): string {
  const document = createDocument();
  const element = Plot.plot({ ...spec, document }) as unknown as Node;
  return figureToSvg(element);
}

/**
 * Several Plot specs side by side in one standalone SVG: one figure whose
 * panels keep their own scales (Plot's facets share theirs), e.g. a cost
 * and a score against the same time axis.
 */
export function panelsToSvg(specs: Plot.PlotOptions[], gap = 12): string {
  const panels = specs.map((spec) => {
    const svg = plotToSvg(spec);
    const size = (name: string) =>
      Number(new RegExp(`^<svg[^>]* ${name}="([\\d.]+)"`).exec(svg)?.[1] ?? 0);
    return { svg, width: size("width"), height: size("height") };
  });
  let x = 0;
  // Each panel's ids are already its own (plotToSvg); its content stays
  // within its box, and the style keeps a host stylesheet from clipping it
  // should an estimate fall short.
  const parts = panels.map((p) => {
    const nested = p.svg.replace(
      /^<svg /,
      `<svg x="${x}" y="0" style="overflow:visible" `,
    );
    x += p.width + gap;
    return nested;
  });
  const w = Math.max(0, x - gap);
  const h = Math.max(...panels.map((p) => p.height));
  return `<svg xmlns="${SVG_NS}" xmlns:xlink="${XLINK_NS}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">` +
    `<rect width="100%" height="100%" fill="white"/>${parts.join("")}</svg>`;
}

/** What {@linkcode plot} returns: the SVG and where it was saved. */
export interface Figure {
  /** The standalone SVG text. */
  svg: string;
  /** The saved file, or null when nothing was written. */
  path: string | null;
}

/**
 * Renders a Plot spec (or several, side by side: {@linkcode panelsToSvg}) to
 * SVG, shows it inline in Jupyter (image/svg+xml) and saves `<dir>/<name>.svg`
 * when `dir` is given (outside Jupyter with no dir: a fresh file under
 * `outputs/figures/`, path printed). Resolves to nothing, so a cell ending in
 * `await plot(...)` shows the figure and no `Out[n]` line; use
 * {@linkcode plotFigure} for the SVG text and the path.
 *
 * @example
 * ```ts
 * await plot({
 *   color: { legend: true },
 *   marks: [Plot.line(rows, { x: "epoch", y: "loss", stroke: "split" })],
 * }, { name: "loss", dir: run.path });
 * ```
 */
export async function plot(
  spec: Plot.PlotOptions | Plot.PlotOptions[],
  opts: PlotOutputOptions = {},
): Promise<void> {
  await plotFigure(spec, opts);
}

/**
 * {@linkcode plot}, returning the figure: its SVG text and where it was
 * saved. Ending a notebook cell with it shows a one-line summary as the
 * cell's result (the figure itself is already shown).
 */
export async function plotFigure(
  spec: Plot.PlotOptions | Plot.PlotOptions[],
  opts: PlotOutputOptions = {},
): Promise<Figure> {
  const svg = Array.isArray(spec) ? panelsToSvg(spec) : plotToSvg(spec);
  await displayBundle({ "image/svg+xml": svg });
  const path = await saveFigure(svg, "svg", opts);
  const figure = { svg, path: path ?? null };
  Object.defineProperty(figure, Symbol.for("Jupyter.display"), {
    value: () => ({
      "text/plain": `SVG figure, ${svg.length} bytes${path ? `: ${path}` : ""}`,
    }),
  });
  return figure;
}

/**
 * At most `maxTicks` whole numbers from `lo` to `hi`, evenly stepped: tick
 * values for an epoch axis (Plot's default ticks would include 1.5). Pair
 * them with a whole-number format, as {@linkcode integerAxis} does: with
 * `lo === hi` Plot's default format reads `1.000000`.
 */
export function integerTicks(lo: number, hi: number, maxTicks = 10): number[] {
  const step = Math.max(1, Math.ceil((hi - lo + 1) / maxTicks));
  const ticks: number[] = [];
  for (let t = lo; t <= hi; t += step) ticks.push(t);
  return ticks;
}

/**
 * Scale options for an axis of whole numbers such as epochs: the ticks of
 * {@linkcode integerTicks} and a format that writes them as integers, also
 * for a one-epoch run, whose degenerate domain makes Plot's own format print
 * `1.000000`. Spread it into a scale: `x: { label: "epoch", ...integerAxis(1, n) }`.
 */
export function integerAxis(
  lo: number,
  hi: number,
  maxTicks = 10,
): { ticks: number[]; tickFormat: (d: number) => string } {
  return {
    ticks: integerTicks(lo, hi, maxTicks),
    tickFormat: (d: number) => Number.isInteger(d) ? String(d) : "",
  };
}
