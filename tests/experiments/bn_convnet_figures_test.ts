import assert from "node:assert/strict";
import { confusionRows, plotToSvg } from "../../lib/display/mod.ts";
import type { BatchNormUnit } from "../../lib/eval/batch_norm_analysis.ts";
import { buildNetworks } from "../../lib/experiments/bn_convnet.ts";
import {
  architectureRows,
  bestEpochRows,
  betaFigure,
  confusionFigure,
  curvesFigure,
  epochRows,
  gammaFigure,
  mistakeTitles,
  normModeRows,
} from "../../lib/experiments/bn_convnet_figures.ts";
import type { EpochRecord } from "../../lib/train.ts";

/**
 * The markup of each mark or axis group labelled `name`, in order: from its
 * `aria-label` to the next group's (faceted marks nest a group per facet).
 */
function groups(svg: string, name: string): string[] {
  const parts = svg.split(/(?=<g[^>]*aria-label=")/);
  return parts.filter((p) =>
    new RegExp(`^<g[^>]*aria-label="${name}"`).test(p)
  );
}

/** Three epochs with accuracy `a` (train a bit higher) and falling loss. */
function history(a: number): EpochRecord[] {
  return [1, 2, 3].map((epoch) => ({
    epoch,
    step: 10 * epoch,
    time: epoch,
    seconds: 1,
    train_accuracy: a + epoch / 10,
    valid_accuracy: a,
    train_loss: 1 / epoch,
    valid_loss: 0.5,
  }));
}

function unit(layer: string, x: number): BatchNormUnit {
  return {
    layer,
    unit: 0,
    m: 10,
    gamma: 1 + x,
    beta: -x,
    popMean: 0,
    popStd: 1,
    meanBias: x / 2,
    stdBias: x,
    meanSpread: 0,
    stdSpread: 0,
  };
}

Deno.test("curvesFigure: a solid and a dashed line per network and metric", () => {
  const svg = plotToSvg(
    curvesFigure({ "BN, full": history(0.5), "no BN, full": history(0.4) }),
  );
  assert.match(svg, />Accuracy and loss per epoch \(solid: valid/);
  assert.match(svg, /<text[^>]*>BN, full<\/text>/);
  assert.match(svg, /<text[^>]*>no BN, full<\/text>/);
  assert.match(svg, />accuracy<\/text>/);
  assert.match(svg, />loss<\/text>/);
  assert.match(svg, />epoch →</);
  // Valid lines (with dot markers) first, then train lines: 2 networks x 2
  // metrics each, and no Plot warning in the figure.
  const [valid, train] = groups(svg, "line");
  assert.equal([...valid.matchAll(/<path [^>]*marker-mid/g)].length, 4);
  assert.equal([...train.matchAll(/<path /g)].length, 4);
  assert.doesNotMatch(valid, /stroke-dasharray/);
  assert.match(train, /stroke-dasharray="4 3"/);
  assert.doesNotMatch(svg, /warning/i);
  // One epoch makes one point per series: Plot would warn (and draw a
  // warning sign) about an implicit z channel of high cardinality.
  const one = { a: history(0.5).slice(0, 1), b: history(0.4).slice(0, 1) };
  assert.doesNotMatch(plotToSvg(curvesFigure(one)), /warning/i);
});

Deno.test("curvesFigure plots the history's values on the y axis", () => {
  // One network, one epoch per point: valid accuracy 0.5 at every epoch
  // draws a horizontal line; train loss 1, 1/2, 1/3 falls.
  const svg = plotToSvg(curvesFigure({ net: history(0.5) }));
  const [valid, train] = groups(svg, "line");
  const paths = (group: string) =>
    [...group.matchAll(/\sd="(M[^"]*)"/g)].map((m) => m[1]);
  const ys = (path: string) =>
    [...path.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((m) => Number(m[1]));
  const [accuracy] = paths(valid);
  const accuracyYs = ys(accuracy);
  assert.equal(accuracyYs.length, 3);
  assert.ok(accuracyYs.every((y) => y === accuracyYs[0]));
  const [, loss] = paths(train);
  const lossYs = ys(loss);
  assert.ok(lossYs[0] < lossYs[1] && lossYs[1] < lossYs[2]); // y grows down
});

Deno.test("confusionFigure: one cell per (true, predicted) pair with its count", () => {
  const svg = plotToSvg(
    confusionFigure([[3, 1], [2, 4]], ["cat", "dog"], "BN, full: 70.0%"),
  );
  assert.match(svg, /font-weight="bold"[^>]*>BN, full: 70\.0%<\/text>/);
  const [cells] = groups(svg, "cell");
  assert.equal([...cells.matchAll(/<rect /g)].length, 4);
  const [text] = groups(svg, "text");
  const counts = [...text.matchAll(/>(\d+)<\/text>/g)].map((m) => m[1]);
  assert.deepEqual(counts, ["3", "1", "2", "4"]); // row by row
  assert.match(svg, />true<\/text>/);
  assert.match(svg, />predicted<\/text>/);
});

Deno.test("gammaFigure and betaFigure: a dot per feature, colored by layer", () => {
  const units = [unit("conv0", 0.01), unit("conv0", -0.02), unit("fc0", 0.1)];
  for (
    const [spec, title, xLabel] of [
      [
        gammaFigure(units),
        "gamma vs. the bias of the minibatch std",
        "E[std_B]",
      ],
      [
        betaFigure(units),
        "beta vs. the bias of the minibatch mean",
        "E[mean_B]",
      ],
    ] as const
  ) {
    const svg = plotToSvg(spec);
    assert.match(svg, new RegExp(`font-weight="bold"[^>]*>${title}<`));
    assert.ok(svg.includes(xLabel), `${title}: no x label ${xLabel}`);
    const [dots] = groups(svg, "dot");
    assert.equal([...dots.matchAll(/<circle /g)].length, 3);
    assert.match(svg, /<text[^>]*>conv0<\/text>/);
    assert.match(svg, /<text[^>]*>fc0<\/text>/);
    assert.equal(groups(svg, "rule").length, 1); // the x = 0 reference
  }
});

/** A history row with the given accuracies and losses. */
function row(
  epoch: number,
  valid: number,
  seconds = 12.4,
): EpochRecord {
  return {
    epoch,
    step: 10 * epoch,
    time: seconds * epoch,
    seconds,
    train_accuracy: 0.8745,
    valid_accuracy: valid,
    train_loss: 0.36449,
    valid_loss: 0.5,
  };
}

Deno.test("architectureRows: the seed's layer sizes and parameter counts", () => {
  const networks = buildNetworks([1, 0.5], { seed: 3, inputSize: 48 });
  const rows = architectureRows(networks);
  assert.deepEqual(rows.map((r) => r["conv filters"]), [
    "32, 64, 128",
    "32, 64, 128",
    "16, 32, 64",
    "16, 32, 64",
  ]);
  assert.equal(rows[0].dense, "512 -> 128 -> 16 -> 2");
  assert.equal(rows[2].dense, "256 -> 64 -> 8 -> 2");
  // Full net without BN: conv 3*3*3*32+32, 2*2*32*64+64, 2*2*64*128+128;
  // dense 512*128+128, 128*16+16, 16*2+2.
  const plain = 896 + 8256 + 32896 + 65664 + 2064 + 34;
  assert.equal(rows[1].parameters, plain);
  // BN adds gamma and beta per conv channel and hidden unit.
  assert.equal(rows[0].parameters, plain + 2 * (32 + 64 + 128 + 128 + 16));
});

Deno.test("epochRows and bestEpochRows format the history", () => {
  const histories = {
    a: [row(1, 0.6), row(2, 0.7), row(3, 0.7)],
    b: [row(1, 0.65, 3.6)],
  };
  const rows = epochRows(histories);
  assert.equal(rows.length, 4);
  assert.deepEqual(rows[3], {
    network: "b",
    epoch: 1,
    train: "87.5%",
    valid: "65.0%",
    loss: "0.364",
    "valid loss": "0.500",
    seconds: 4,
  });
  // The first epoch reaching the best accuracy.
  assert.deepEqual(bestEpochRows(histories), [
    { network: "a", "best valid": "70.0%", "at epoch": 2 },
    { network: "b", "best valid": "65.0%", "at epoch": 1 },
  ]);
});

Deno.test("confusion rows, mistake titles and statistics rows", () => {
  assert.deepEqual(confusionRows([[6, 10], [5, 19]], ["cat", "dog"]), [
    { "true \\ predicted": "cat", cat: 6, dog: 10 },
    { "true \\ predicted": "dog", cat: 5, dog: 19 },
  ]);
  const mistakes = [
    { index: 4, label: 0, predicted: 1, probability: 0.987 },
    { index: 1, label: 1, predicted: 0, probability: 0.6 },
  ];
  assert.deepEqual(mistakeTitles(mistakes, ["cat", "dog"]), [
    "dog 0.99",
    "cat 0.60",
  ]);
  assert.deepEqual(
    normModeRows([
      { statistics: "minibatch", batchSize: 10, accuracy: 0.575, loss: 0.6817 },
    ]),
    [{
      statistics: "minibatch",
      batchSize: 10,
      accuracy: "57.5%",
      loss: "0.682",
    }],
  );
});
