/**
 * Every notebook's parameters, in one place: what each entry of a
 * notebook's `params` object may be. The notebooks check their `params`
 * against their schema in their first code cell; the headless runner and the
 * main job check command-line overrides against it before starting a kernel
 * (see lib/params.ts).
 *
 * @module
 */
import { BACKEND_NAMES } from "../backend/mod.ts";
import { OPTIMIZER_NAMES } from "../optim/mod.ts";
import type { ParamSchema } from "../params.ts";

const backend = { type: "enum", values: BACKEND_NAMES } as const;
const threads = { type: "int", min: 0 } as const;
const seed = { type: "int", min: 0 } as const;
const count = { type: "int", min: 0 } as const;
const positive = { type: "int", min: 1 } as const;
const rate = { type: "number", min: 0, exclusiveMin: true } as const;
const momentum = { type: "number", min: 0, max: 0.999 } as const;
const optimizer = { type: "enum", values: OPTIMIZER_NAMES } as const;
const weighting = { type: "enum", values: ["kingma", "batch"] } as const;
const weight = { type: "number", min: 0 } as const;

/** Week 8: the batch-normalized convnet on Dogs vs. Cats. */
export const WEEK08_PARAMETERS: ParamSchema = {
  backend,
  threads,
  dataPath: { type: "string" },
  limit: count,
  splitSeed: seed,
  trainFraction: { type: "number", min: 0, max: 1, exclusiveMin: true },
  resize: { type: "int", min: 8 },
  crop: { type: "int", min: 8 },
  epochs: positive,
  batchSize: { type: "int", min: 2 },
  optimizer,
  learningRate: rate,
  momentum,
  flipProbability: { type: "number", min: 0, max: 1 },
  widths: {
    type: "number[]",
    min: 0,
    max: 4,
    exclusiveMin: true,
    minLength: 1,
  },
  seed,
  populationStats: { type: "enum", values: ["exact", "moving"] },
  statsLimit: count,
  analysisBatches: positive,
  checkpointEvery: count,
  resume: { type: "string" },
};

/** Week 9: the feed-forward VAE with batch norm on MNIST. */
export const WEEK09_PARAMETERS: ParamSchema = {
  backend,
  threads,
  dataset: { type: "enum", values: ["mnist-full", "mnist"] },
  trainLimit: count,
  evalLimit: count,
  encSizes: { type: "int[]", min: 1, minLength: 1 },
  decSizes: { type: "int[]", min: 1, minLength: 1 },
  codeSize: positive,
  epochs: positive,
  batchSize: { type: "int", min: 2 },
  optimizer,
  learningRate: rate,
  momentum,
  seed,
  scoreSamples: { type: "int", min: 2 },
  checkpointEvery: count,
  resume: { type: "string" },
};

/** Week 10: the semi-supervised VAEs against Kingma et al. (2014). */
export const WEEK10_PARAMETERS: ParamSchema = {
  backend,
  threads,
  dataset: { type: "enum", values: ["mnist-full", "mnist"] },
  trainLimit: count,
  evalLimit: count,
  budgets: { type: "int[]", min: 10, minLength: 1 },
  draws: positive,
  models: {
    type: "enum[]",
    values: ["ss_vae", "m2", "m1m2", "supervised"],
    minLength: 1,
  },
  batchSize: { type: "int", min: 2 },
  labelledBatchSize: { type: "int", min: 2 },
  learningRate: rate,
  lrDecayEpochs: count,
  averageDecay: { type: "number", min: 0, max: 0.99999 },
  ssEncSizes: { type: "int[]", min: 1, minLength: 1 },
  ssDecSizes: { type: "int[]", min: 1, minLength: 1 },
  ssCodeSize: positive,
  ssEpochs: positive,
  ssWeighting: weighting,
  ssClassWeight: weight,
  ssEntropyWeight: weight,
  ssEntropyRampEpochs: count,
  m2Hidden: positive,
  m2CodeSize: positive,
  m2Epochs: positive,
  m2Weighting: weighting,
  m2ClassWeight: weight,
  m1Hidden: { type: "int[]", min: 1, minLength: 1 },
  m1Epochs: positive,
  m1m2Epochs: positive,
  m1m2Weighting: weighting,
  m1m2ClassWeight: weight,
  supervisedEpochs: positive,
  seed,
};

/** Week 11: optimizers for the VAEs, the sample score, the convolutional VAE. */
export const WEEK11_PARAMETERS: ParamSchema = {
  backend,
  threads,
  dataset: { type: "enum", values: ["mnist-full", "mnist"] },
  trainLimit: count,
  testLimit: count,
  statsLimit: count,
  scoreSamples: { type: "int", min: 2 },
  goodFid: rate,
  optimizers: { type: "enum[]", values: OPTIMIZER_NAMES, minLength: 1 },
  budgetSeconds: rate,
  batchSize: { type: "int", min: 2 },
  evaluateEvery: positive,
  nesterovRate: rate,
  rescaledRate: rate,
  rmspropRate: rate,
  adamRate: rate,
  momentum,
  convOptimizer: { type: "enum", values: ["best", ...OPTIMIZER_NAMES] },
  convBudgetSeconds: rate,
  convBatchSize: { type: "int", min: 2 },
  convEvaluateEvery: positive,
  seed,
};

/** Each notebook's schema, by the notebook's file name. */
export const NOTEBOOK_PARAMETERS: Readonly<Record<string, ParamSchema>> = {
  "week08_bn_convnet.ipynb": WEEK08_PARAMETERS,
  "week09_ff_vae.ipynb": WEEK09_PARAMETERS,
  "week10_semi_supervised_vae.ipynb": WEEK10_PARAMETERS,
  "week11_rmsprop_conv_vae.ipynb": WEEK11_PARAMETERS,
};
