/**
 * Plots two or more runs' histories together:
 *
 * ```sh
 * deno task compare outputs/week09/A outputs/week09/B [--metric valid_cost] [--x epoch|time]
 * ```
 *
 * Writes the figure to `outputs/compare/<metric>-<time>.svg` and prints each
 * run's last value. Without `--metric`, the first metric the runs share.
 *
 * @module
 */
import { join } from "node:path";
import { formatTable, plotToSvg } from "../lib/display/mod.ts";
import {
  compareFigure,
  lastValues,
  type RunSeries,
  runSeries,
  sharedMetrics,
} from "../lib/experiments/compare.ts";
import { makeRunId, writeNewFileAtomic } from "../lib/run_dir.ts";
import { REPO_ROOT } from "./run_notebook.ts";

if (import.meta.main) {
  const dirs: string[] = [];
  let metric: string | undefined;
  let x: "epoch" | "time" = "epoch";
  for (let i = 0; i < Deno.args.length; i++) {
    const a = Deno.args[i];
    if (a === "--metric") metric = Deno.args[++i];
    else if (a === "--x") x = Deno.args[++i] === "time" ? "time" : "epoch";
    else dirs.push(a);
  }
  if (dirs.length < 1) {
    console.error(
      "usage: deno task compare RUN_DIR [RUN_DIR]... [--metric NAME] [--x epoch|time]",
    );
    Deno.exit(2);
  }
  try {
    const series: RunSeries[] = (await Promise.all(dirs.map(runSeries))).flat();
    const chosen = metric ?? sharedMetrics(series)[0];
    const svg = plotToSvg(compareFigure(series, chosen, x));
    const file = join(
      REPO_ROOT,
      "outputs",
      "compare",
      `${chosen}-${makeRunId()}.svg`,
    );
    await writeNewFileAtomic(file, new TextEncoder().encode(svg));
    console.log(formatTable(lastValues(series, chosen)));
    console.log(`figure: ${file}`);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(2);
  }
}
