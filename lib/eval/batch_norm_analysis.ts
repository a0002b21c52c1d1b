/**
 * What batch norm's gamma and beta learned, next to how the minibatch
 * statistics seen in training differ from the population statistics used at
 * inference: the data for testing Week 8's hypothesis that gamma and beta
 * "are correcting for the bias in the minibatch estimates of mean and
 * variance". Works on any {@linkcode BatchNormModel}.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { minibatches } from "../data/batches.ts";
import { batchTensor, type LabelledImages } from "../data/images.ts";
import type { BatchNormModel } from "../nn/batch_norm_model.ts";
import { deriveSeed, Rng } from "../random.ts";
import { correlation } from "./metrics.ts";

/** What one batch-norm feature learned and how its minibatch statistics behave. */
export interface BatchNormUnit {
  /** Layer name (a {@linkcode BatchNormSite}'s, e.g. "conv0" or "fc1"). */
  layer: string;
  /** Feature (channel or unit) index. */
  unit: number;
  /** Values per minibatch statistic (m = batch size * H * W). */
  m: number;
  gamma: number;
  beta: number;
  /** Population mean and standard deviation (what inference uses). */
  popMean: number;
  popStd: number;
  /** Mean over minibatches of (minibatch mean - population mean), in population stds. */
  meanBias: number;
  /** Mean over minibatches of (minibatch std / population std) - 1 (the eps included in both). */
  stdBias: number;
  /** Spread (std over minibatches) of the minibatch mean, in population stds. */
  meanSpread: number;
  /** Spread of the minibatch std, relative to the population std. */
  stdSpread: number;
}

/**
 * Compares, for every batch-norm feature, the minibatch statistics seen in
 * training with the population statistics currently in the model, next to
 * the learned gamma and beta. Uses `batches` minibatches of `batchSize`
 * images of `data` (a seeded shuffle, no augmentation).
 */
export function batchNormAnalysis(
  model: BatchNormModel,
  data: LabelledImages,
  opts: { batchSize: number; batches: number; seed: number },
): BatchNormUnit[] {
  const sites = model.batchNormSites();
  if (sites.length === 0) return [];
  const all = minibatches(
    data.count,
    opts.batchSize,
    new Rng(deriveSeed(opts.seed, "analysis")),
    data.count > opts.batchSize,
  );
  const batches = all.slice(0, Math.max(1, opts.batches));
  // Per layer: sums over batches of the minibatch mean, mean^2, std, std^2.
  const sums = new Map(sites.map((s) => [s.bn, {
    mean: new Float64Array(s.bn.features),
    mean2: new Float64Array(s.bn.features),
    std: new Float64Array(s.bn.features),
    std2: new Float64Array(s.bn.features),
  }]));
  for (const idx of batches) {
    tf.tidy(() => {
      const x = batchTensor(data, idx, { layout: model.inputLayout });
      model.forwardPass(x, "minibatch", {
        seed: deriveSeed(opts.seed, "noise"),
        tap: (bn, input) => {
          const axes = input.shape.map((_, i) => i).slice(0, -1);
          const { mean, variance } = tf.moments(input, axes);
          const mu = mean.dataSync();
          const sd = tf.add(tf.sqrt(variance), bn.epsilon).dataSync();
          const s = sums.get(bn)!;
          for (let j = 0; j < mu.length; j++) {
            s.mean[j] += mu[j];
            s.mean2[j] += mu[j] * mu[j];
            s.std[j] += sd[j];
            s.std2[j] += sd[j] * sd[j];
          }
        },
      });
    });
  }
  const n = batches.length;
  const units: BatchNormUnit[] = [];
  for (const site of sites) {
    const bn = site.bn;
    const gamma = bn.gamma.dataSync();
    const beta = bn.beta.dataSync();
    const popMean = bn.popMean.dataSync();
    const popVar = bn.popVar.dataSync();
    const s = sums.get(bn)!;
    for (let j = 0; j < bn.features; j++) {
      const popStd = Math.sqrt(popVar[j]) + bn.epsilon;
      const meanAvg = s.mean[j] / n;
      const stdAvg = s.std[j] / n;
      const spread = (sum: number, sum2: number) =>
        Math.sqrt(Math.max(0, sum2 / n - (sum / n) ** 2));
      units.push({
        layer: site.name,
        unit: j,
        m: batches[0].length * site.valuesPerExample,
        gamma: gamma[j],
        beta: beta[j],
        popMean: popMean[j],
        popStd,
        meanBias: (meanAvg - popMean[j]) / popStd,
        stdBias: stdAvg / popStd - 1,
        meanSpread: spread(s.mean[j], s.mean2[j]) / popStd,
        stdSpread: spread(s.std[j], s.std2[j]) / popStd,
      });
    }
  }
  return units;
}

/** Per-layer summary of {@linkcode batchNormAnalysis}: is gamma or beta tied to the bias? */
export interface GammaBetaRow {
  layer: string;
  /** Values per minibatch statistic. */
  m: number;
  "mean std bias": string;
  "mean gamma": string;
  "corr(gamma, std bias)": string;
  "mean |mean bias|": string;
  "corr(beta, mean bias)": string;
}

/**
 * For each layer, in order: the mean bias of the minibatch std and the mean
 * gamma with their correlation across features, then the mean absolute bias
 * of the minibatch mean and its correlation with beta.
 */
export function gammaBetaSummary(units: BatchNormUnit[]): GammaBetaRow[] {
  const layers = [...new Set(units.map((u) => u.layer))];
  return layers.map((layer) => {
    const us = units.filter((u) => u.layer === layer);
    const mean = (f: (u: BatchNormUnit) => number) =>
      us.reduce((s, u) => s + f(u), 0) / us.length;
    const corr = (f: (u: BatchNormUnit) => number, g: typeof f) =>
      correlation(us.map(f), us.map(g)).toFixed(2);
    return {
      layer,
      m: us[0].m,
      "mean std bias": mean((u) => u.stdBias).toFixed(4),
      "mean gamma": mean((u) => u.gamma).toFixed(3),
      "corr(gamma, std bias)": corr((u) => u.gamma, (u) => u.stdBias),
      "mean |mean bias|": mean((u) => Math.abs(u.meanBias)).toFixed(4),
      "corr(beta, mean bias)": corr((u) => u.beta, (u) => u.meanBias),
    };
  });
}
