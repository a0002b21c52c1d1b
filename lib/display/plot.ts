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

/** Standalone SVG for one <svg> element: namespaces added, placed at (x, y). */
function placeSvg(svg: Node, x: number, y: number): string {
  svg.setAttribute("x", String(x));
  svg.setAttribute("y", String(y));
  svg.setAttribute("overflow", "visible");
  if (!svg.getAttribute("xmlns")) svg.setAttribute("xmlns", SVG_NS);
  return svg.outerHTML;
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
 * are redrawn here as SVG text and shapes, stacked above the chart.
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
  for (const child of children) {
    const name = child.tagName?.toLowerCase();
    const text = escapeXml((child.textContent ?? "").trim());
    if (name === "h2" || name === "h3" || name === "figcaption") {
      const size = name === "h2" ? 16 : 12;
      const weight = name === "h2" ? ` font-weight="bold"` : "";
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
      parts.push(placeSvg(child, 0, y));
      y += Number(child.getAttribute("height") ?? 0) + 4;
    }
  }
  // A white margin keeps edge labels inside the image and the figure legible
  // on dark notebook themes.
  const w = width + 2 * MARGIN;
  const h = Math.ceil(y) + 2 * MARGIN;
  return `<svg xmlns="${SVG_NS}" xmlns:xlink="${XLINK_NS}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="system-ui, sans-serif" font-size="10" fill="black" color="black">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<g transform="translate(${MARGIN},${MARGIN})">${parts.join("")}</g></svg>`;
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
  const parts = panels.map((p) => {
    const nested = p.svg.replace(/^<svg /, `<svg x="${x}" y="0" `);
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
 * SVG, shows it inline in Jupyter (image/svg+xml) and
 * saves `<dir>/<name>.svg` when `dir` is given (outside Jupyter with no dir:
 * a fresh file under `outputs/figures/`, path printed). Returns the SVG and
 * the path; when the call ends a notebook cell, the kernel shows a one-line
 * summary rather than the figure twice.
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
 * values for an epoch axis (Plot's default ticks would include 1.5).
 */
export function integerTicks(lo: number, hi: number, maxTicks = 10): number[] {
  const step = Math.max(1, Math.ceil((hi - lo + 1) / maxTicks));
  const ticks: number[] = [];
  for (let t = lo; t <= hi; t += step) ticks.push(t);
  return ticks;
}
