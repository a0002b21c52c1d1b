import assert from "node:assert/strict";
import { join } from "node:path";
import { plotToSvg } from "../../lib/display/mod.ts";
import {
  compareFigure,
  lastValues,
  runSeries,
  sharedMetrics,
} from "../../lib/experiments/compare.ts";

const row = (epoch: number, v: number) => ({
  epoch,
  step: 10 * epoch,
  time: epoch,
  seconds: 1,
  valid_cost: v,
  train_cost: v + 1,
});

Deno.test("runSeries reads a run's histories, and compareFigure plots a metric of several runs", async () => {
  const root = await Deno.makeTempDir();
  try {
    const a = join(root, "run-a"), b = join(root, "run-b");
    await Deno.mkdir(a);
    await Deno.mkdir(b);
    await Deno.writeTextFile(
      join(a, "metrics.json"),
      JSON.stringify({ history: [row(1, 50), row(2, 40)] }),
    );
    await Deno.writeTextFile(
      join(b, "metrics.json"),
      JSON.stringify({
        histories: { "BN, full": [row(1, 45)], "no BN, full": [row(1, 47)] },
      }),
    );
    const series = [...await runSeries(a), ...await runSeries(b)];
    assert.deepEqual(series.map((s) => s.name), [
      "run-a",
      "run-b BN, full",
      "run-b no BN, full",
    ]);
    assert.deepEqual(sharedMetrics(series), ["valid_cost", "train_cost"]);
    assert.deepEqual(
      lastValues(series, "valid_cost").map((r) => r.valid_cost),
      [40, 45, 47],
    );
    const svg = plotToSvg(compareFigure(series, "valid_cost", "time"));
    assert.match(svg, /valid_cost by training time/);
    assert.match(svg, /run-b no BN, full/);
    assert.throws(
      () => compareFigure(series, "valid_acc"),
      /no run has "valid_acc"; they share: valid_cost, train_cost/,
    );
    await assert.rejects(
      runSeries(join(root, "none")),
      /has no readable metrics\.json/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
