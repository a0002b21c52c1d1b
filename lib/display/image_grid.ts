/**
 * A batch of images (digits, samples, photos) tiled into one PNG, shown
 * inline in Jupyter and saved to disk.
 *
 * @module
 */

import type { Tensor } from "@tensorflow/tfjs-core";
import { encode as encodePng } from "fast-png";
import { basename, dirname } from "node:path";
import { displayBundle, toBase64 } from "./jupyter.ts";
import { saveFigure, type SaveOptions } from "./output_file.ts";
import { uniqueSvgIds } from "./svg.ts";

/** Images accepted by {@linkcode imageGrid}. */
export type ImageBatch = Tensor | Float32Array | ArrayLike<number>;

/** Options for {@linkcode imageGrid} and {@linkcode gridImage}. */
export interface ImageGridOptions extends SaveOptions {
  /**
   * `[N, H, W]` or `[N, H, W, C]` with C 1 or 3; required unless a tensor is
   * given, and it reshapes one when given (e.g. `[N, 784]` digits as
   * `[N, 28, 28]`).
   */
  shape?: number[];
  /** Images per row; default `ceil(sqrt(N))`. */
  cols?: number;
  /** Integer upscaling; default `floor(64 / max(H, W))` in 1..8 (2 for 28px digits). */
  scale?: number;
  /** Values mapped to black and white; default `[0, 1]`; values outside are clipped. */
  range?: [number, number];
  /** Pixels of border around and between images (after scaling); default 2. */
  pad?: number;
  /** Gray level 0..255 of the border; default 128. */
  padColor?: number;
  /** One caption per image (e.g. "cat 0.93"), drawn in an SVG version of the grid. */
  titles?: string[];
}

/** A decoded 8-bit image, rows top to bottom, channels interleaved. */
export interface GridImage {
  width: number;
  height: number;
  /** 1 (gray) or 3 (RGB). */
  channels: number;
  data: Uint8Array;
  /** Where image `i` starts: its top-left pixel is `(x[i], y[i])`. */
  x: number[];
  y: number[];
  /** Size of one scaled image cell. */
  cellWidth: number;
  cellHeight: number;
}

function isTensor(x: unknown): x is Tensor {
  return typeof x === "object" && x !== null && "shape" in x &&
    typeof (x as Tensor).dataSync === "function";
}

/**
 * Tiles a batch of images into one 8-bit image (pure; no I/O). Image `i` goes
 * to row `floor(i / cols)`, column `i % cols`; each pixel becomes a
 * `scale x scale` block; values map linearly from `range` to 0..255.
 */
export function gridImage(
  images: ImageBatch,
  opts: ImageGridOptions = {},
): GridImage {
  const shape = opts.shape ?? (isTensor(images) ? images.shape : undefined);
  if (!shape) {
    throw new Error(
      "imageGrid: the shape of the images is unknown; pass opts.shape " +
        "([N, H, W] or [N, H, W, C]) with a flat array, or pass a tensor",
    );
  }
  if (shape.length !== 3 && shape.length !== 4) {
    throw new Error(
      `imageGrid: expected shape [N, H, W] or [N, H, W, C], got [${shape}]`,
    );
  }
  const [n, h, w] = shape;
  const c = shape.length === 4 ? shape[3] : 1;
  if (c !== 1 && c !== 3) {
    throw new Error(
      `imageGrid: expected 1 or 3 channels, got ${c} (shape [${shape}])`,
    );
  }
  const values = isTensor(images) ? images.dataSync() : images;
  if (values.length !== n * h * w * c) {
    throw new Error(
      `imageGrid: ${values.length} values do not match shape [${shape}] ` +
        `(${n * h * w * c} values)`,
    );
  }
  const cols = Math.max(1, Math.min(n, opts.cols ?? Math.ceil(Math.sqrt(n))));
  const rows = Math.max(1, Math.ceil(n / cols));
  const scale = opts.scale ??
    Math.max(1, Math.min(8, Math.floor(64 / Math.max(h, w))));
  if (!Number.isInteger(scale) || scale < 1) {
    throw new Error(
      `imageGrid: scale must be a positive integer, got ${scale}`,
    );
  }
  const pad = opts.pad ?? 2;
  const [lo, hi] = opts.range ?? [0, 1];
  const cellWidth = w * scale;
  const cellHeight = h * scale;
  const width = cols * cellWidth + (cols + 1) * pad;
  const height = rows * cellHeight + (rows + 1) * pad;
  const data = new Uint8Array(width * height * c).fill(opts.padColor ?? 128);
  const xs: number[] = [];
  const ys: number[] = [];
  const span = hi - lo || 1;
  for (let i = 0; i < n; i++) {
    const x0 = pad + (i % cols) * (cellWidth + pad);
    const y0 = pad + Math.floor(i / cols) * (cellHeight + pad);
    xs.push(x0);
    ys.push(y0);
    for (let py = 0; py < h; py++) {
      for (let px = 0; px < w; px++) {
        for (let ch = 0; ch < c; ch++) {
          const v = values[((i * h + py) * w + px) * c + ch];
          const byte = Math.round(
            Math.min(1, Math.max(0, (v - lo) / span)) * 255,
          );
          for (let sy = 0; sy < scale; sy++) {
            const row = (y0 + py * scale + sy) * width;
            for (let sx = 0; sx < scale; sx++) {
              data[(row + x0 + px * scale + sx) * c + ch] = byte;
            }
          }
        }
      }
    }
  }
  return {
    width,
    height,
    channels: c,
    data,
    x: xs,
    y: ys,
    cellWidth,
    cellHeight,
  };
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(
    />/g,
    "&gt;",
  );
}

const CAPTION_HEIGHT = 14;

/**
 * An SVG of the grid with a caption under each image: the PNG is embedded
 * once and each row of images is shown through its own viewport, leaving a
 * caption band below it. The embedded image's id is unique to this SVG, so
 * that grids shown on one page never display each other's pictures; the row
 * viewports are meant to clip, so a host stylesheet's `overflow: hidden`
 * changes nothing.
 */
export function captionedGridSvg(
  grid: GridImage,
  png: Uint8Array,
  titles: string[],
): string {
  const rowTops = [...new Set(grid.y)];
  const rowPitch = grid.cellHeight + CAPTION_HEIGHT;
  const pad = rowTops[0] ?? 0;
  const height = pad + rowTops.length * (rowPitch + pad);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${grid.width}" height="${height}" font-family="system-ui, sans-serif" font-size="10">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<defs><image id="grid" width="${grid.width}" height="${grid.height}" style="image-rendering:pixelated" xlink:href="data:image/png;base64,${
      toBase64(png)
    }"/></defs>`,
  ];
  rowTops.forEach((top, r) => {
    const y = pad + r * (rowPitch + pad);
    parts.push(
      `<svg x="0" y="${y}" width="${grid.width}" height="${grid.cellHeight}" viewBox="0 ${top} ${grid.width} ${grid.cellHeight}"><use xlink:href="#grid"/></svg>`,
    );
  });
  titles.forEach((title, i) => {
    if (i >= grid.x.length) return;
    const r = rowTops.indexOf(grid.y[i]);
    const x = grid.x[i] + grid.cellWidth / 2;
    const y = pad + r * (rowPitch + pad) + grid.cellHeight + 11;
    parts.push(
      `<text x="${x}" y="${y}" text-anchor="middle">${escapeXml(title)}</text>`,
    );
  });
  parts.push("</svg>");
  return uniqueSvgIds(parts.join(""));
}

/** What {@linkcode imageGridFigure} returns. */
export interface GridFigure {
  /** The grid as a PNG file's bytes. */
  png: Uint8Array;
  /** The captioned SVG, when `titles` were given; else null. */
  svg: string | null;
  /** The saved PNG, or null when nothing was written. */
  path: string | null;
  /** Width of the PNG in pixels. */
  width: number;
  /** Height of the PNG in pixels. */
  height: number;
}

/**
 * Tiles images into a PNG (see {@linkcode gridImage} for the layout), shows
 * it inline in Jupyter (image/png) and writes `<dir>/<name>.png` when `dir` is
 * given (outside Jupyter with no dir: a fresh file under `outputs/figures/`).
 * With `titles`, the notebook shows an SVG with captions (the PNG stays in the
 * same output) and `<name>.svg` is written next to the PNG. Resolves to
 * nothing, so a cell ending in `await imageGrid(...)` shows the grid and no
 * `Out[n]` line; use {@linkcode imageGridFigure} for the bytes and paths.
 *
 * @example
 * ```ts
 * await imageGrid(samples, { cols: 10, name: "samples", dir: run.path });
 * ```
 */
export async function imageGrid(
  images: ImageBatch,
  opts: ImageGridOptions = {},
): Promise<void> {
  await imageGridFigure(images, opts);
}

/**
 * {@linkcode imageGrid}, returning the PNG bytes, the captioned SVG and where
 * the PNG was saved. Ending a notebook cell with it shows a one-line summary
 * as the cell's result (the grid itself is already shown).
 */
export async function imageGridFigure(
  images: ImageBatch,
  opts: ImageGridOptions = {},
): Promise<GridFigure> {
  const grid = gridImage(images, opts);
  const png = encodePng({
    width: grid.width,
    height: grid.height,
    data: grid.data,
    channels: grid.channels,
    depth: 8,
  });
  const bundle: Record<string, string> = { "image/png": toBase64(png) };
  const svg = opts.titles ? captionedGridSvg(grid, png, opts.titles) : null;
  if (svg) bundle["image/svg+xml"] = svg;
  await displayBundle(bundle);
  const path = await saveFigure(png, "png", opts);
  if (svg && path) {
    const name = basename(path).replace(/\.png$/, "");
    await saveFigure(svg, "svg", {
      name,
      dir: dirname(path),
    });
  }
  const figure: GridFigure = {
    png,
    svg,
    path,
    width: grid.width,
    height: grid.height,
  };
  // The grid is already shown; without this the kernel would print the
  // object's fields, PNG bytes included, as the cell's result.
  const summary = `PNG ${grid.width}x${grid.height}, ${png.length} bytes` +
    (path ? `: ${path}` : "");
  Object.defineProperty(figure, Symbol.for("Jupyter.display"), {
    value: () => ({ "text/plain": summary }),
  });
  return figure;
}
