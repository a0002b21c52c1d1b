/**
 * Display helpers for the notebooks: one import for plots, image grids,
 * progress bars, tables and markdown. Inside the Deno Jupyter kernel they show
 * inline outputs; elsewhere (the terminal, the headless runner's logs) they
 * print text and save figures under `outputs/figures/` or a given `dir`.
 *
 * @example
 * ```ts
 * import { imageGrid, plot, progress, table } from "../lib/display/mod.ts";
 * ```
 *
 * @module
 */

import { displayBundle } from "./jupyter.ts";

export { displayBundle, isJupyter, type MimeBundle } from "./jupyter.ts";
export { DEFAULT_FIGURE_DIR, type SaveOptions } from "./output_file.ts";
export {
  type Figure,
  figureToSvg,
  integerAxis,
  integerTicks,
  panelsToSvg,
  plot,
  plotFigure,
  type PlotOutputOptions,
  plotToSvg,
} from "./plot.ts";
export {
  type GridFigure,
  type GridImage,
  gridImage,
  type ImageBatch,
  imageGrid,
  imageGridFigure,
  type ImageGridOptions,
} from "./image_grid.ts";
export { uniqueSvgIds } from "./svg.ts";
export {
  formatDuration,
  formatNumber,
  formatProgress,
  type Progress,
  progress,
  type ProgressInfo,
  type ProgressOptions,
} from "./progress.ts";
export { formatTable, table, tableHtml, type TableOptions } from "./table.ts";
export { confusionRows, formatMetric, percent } from "./format.ts";

/** Shows Markdown in Jupyter (text/markdown); prints it as is elsewhere. */
export async function markdown(text: string): Promise<void> {
  const shown = await displayBundle({
    "text/markdown": text,
    "text/plain": text,
  });
  if (!shown) console.log(text);
}
