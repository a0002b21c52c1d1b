import assert from "node:assert/strict";
import {
  type BatchNormUnit,
  gammaBetaSummary,
} from "../../lib/eval/batch_norm_analysis.ts";

Deno.test("gammaBetaSummary: per-layer means and correlations", () => {
  const unit = (
    layer: string,
    gamma: number,
    stdBias: number,
    beta: number,
    meanBias: number,
  ): BatchNormUnit => ({
    layer,
    unit: 0,
    m: layer === "fc0" ? 10 : 1000,
    gamma,
    beta,
    popMean: 0,
    popStd: 1,
    meanBias,
    stdBias,
    meanSpread: 0,
    stdSpread: 0,
  });
  const units = [
    unit("conv0", 1, -0.01, 0.3, 0.02),
    unit("conv0", 2, -0.02, 0.2, -0.04),
    unit("conv0", 3, -0.03, 0.1, 0.08),
    unit("fc0", 1, -0.1, 1, 0.1),
    unit("fc0", 1.5, -0.05, 1, 0.3),
    unit("fc0", 1, -0.1, 2, 0.2),
  ];
  const rows = gammaBetaSummary(units);
  // conv0: gamma falls as the bias grows (corr -1); beta 0.3, 0.2, 0.1
  // against mean biases 0.02, -0.04, 0.08: centered (0.1, 0, -0.1) and
  // (0, -0.06, 0.06), -0.006 / sqrt(0.02 * 0.0072) = -0.5.
  assert.deepEqual(rows[0], {
    layer: "conv0",
    m: 1000,
    "mean std bias": "-0.0200",
    "mean gamma": "2.000",
    "corr(gamma, std bias)": "-1.00",
    "mean |mean bias|": "0.0467",
    "corr(beta, mean bias)": "-0.50",
  });
  // fc0: gamma 1, 1.5, 1 against -0.1, -0.05, -0.1: corr 1; beta 1, 1, 2
  // against 0.1, 0.3, 0.2: centered (-1/3, -1/3, 2/3) . (-0.1, 0.1, 0) = 0.
  assert.deepEqual(rows[1], {
    layer: "fc0",
    m: 10,
    "mean std bias": "-0.0833",
    "mean gamma": "1.167",
    "corr(gamma, std bias)": "1.00",
    "mean |mean bias|": "0.2000",
    "corr(beta, mean bias)": "0.00",
  });
});
