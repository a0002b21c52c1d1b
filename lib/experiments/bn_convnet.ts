/**
 * Week 8's experiment: training and evaluating the batch-normalized convnet
 * on Dogs vs. Cats, in pieces a notebook calls cell by cell.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { evaluationBatches } from "../data/batches.ts";
import {
  type DogsVsCats,
  loadDogsVsCats,
  type LoadOptions,
  prepareImage,
} from "../data/dogs_vs_cats.ts";
import { normalizeImages } from "../data/image.ts";
import {
  batchTensor,
  flipChoices,
  type LabelledImages,
  labelTensor,
} from "../data/images.ts";
import { type Progress, progress } from "../display/mod.ts";
import {
  accuracyOf,
  argMaxRows,
  type ClassifierEvaluation,
} from "../eval/metrics.ts";
import { BNConvNet } from "../models/bn_convnet.ts";
import { recalibrateBatchNorm } from "../nn/batch_norm_model.ts";
import type { NormMode } from "../nn/module.ts";
import { makeOptimizer, type OptimizerSpec } from "../optim/mod.ts";
import {
  type Checkpoint,
  checkpointing,
  loadCheckpoint,
  saveCheckpoint,
} from "../checkpoints.ts";
import { deriveSeed, Rng } from "../random.ts";
import type { LoadedRun } from "../runs.ts";
import {
  describeEpoch,
  type EpochRecord,
  fitMinibatches,
  type Metrics,
  trainStep,
} from "../train.ts";

/**
 * {@linkcode loadDogsVsCats} with a progress bar while the images are
 * decoded (a cached run shows it full at once).
 */
export async function loadData(opts: LoadOptions): Promise<DogsVsCats> {
  let bar: Progress | null = null;
  try {
    return await loadDogsVsCats({
      ...opts,
      onProgress: (done, total) => {
        bar ??= progress(total, { label: "preparing images" });
        bar.update(done);
      },
    });
  } finally {
    await (bar as Progress | null)?.close();
  }
}

/** How many skipped images {@linkcode describeData} names. */
export const SKIPPED_NAMES_SHOWN = 5;

/**
 * Lines on a loaded dataset: where it came from, and its split sizes; then,
 * when some images could not be decoded, how many were skipped and the first
 * {@linkcode SKIPPED_NAMES_SHOWN} names with their reasons (all of them are in
 * `data.skipped`, which the notebook saves in `metrics.json`), so that lost
 * data is never silent.
 */
export function describeData(data: {
  source: string;
  fromCache: boolean;
  train: { count: number };
  valid: { count: number };
  height: number;
  width: number;
  skipped?: { name: string; reason: string }[];
}): string {
  const cache = data.fromCache ? " (prepared images from the cache)" : "";
  const lines = [
    `${data.source}${cache}`,
    `train ${data.train.count}, valid ${data.valid.count}, ` +
    `${data.height}x${data.width} RGB`,
  ];
  const skipped = data.skipped ?? [];
  if (skipped.length > 0) {
    const total = data.train.count + data.valid.count + skipped.length;
    lines.push(
      `skipped ${skipped.length} of ${total} images that could not be decoded` +
        (skipped.length > SKIPPED_NAMES_SHOWN
          ? ` (the first ${SKIPPED_NAMES_SHOWN}; metrics.json lists all):`
          : ":"),
      ...skipped.slice(0, SKIPPED_NAMES_SHOWN).map((s) =>
        `  ${s.name}: ${s.reason}`
      ),
    );
  }
  return lines.join("\n");
}

/** One of the compared networks: its name, its settings and the model. */
export interface Network {
  /** "BN, full", "no BN, width 0.5", ... */
  name: string;
  width: number;
  batchNorm: boolean;
  model: BNConvNet;
}

/**
 * The networks compared: for each width, one with batch norm and one
 * without, all initialized from the same `seed`.
 */
export function buildNetworks(
  widths: number[],
  opts: { seed: number; inputSize: number },
): Network[] {
  return widths.flatMap((width) =>
    [true, false].map((batchNorm) => ({
      name: `${batchNorm ? "BN" : "no BN"}, ${
        width === 1 ? "full" : `width ${width}`
      }`,
      width,
      batchNorm,
      model: new BNConvNet({
        seed: opts.seed,
        width,
        batchNorm,
        inputSize: opts.inputSize,
      }),
    }))
  );
}

/**
 * Runs the net over a whole set in minibatches of `batchSize` with the given
 * batch-norm mode (no flips; "train" counts as "minibatch": evaluation never
 * touches the moving averages).
 */
export function evaluateConvNet(
  model: BNConvNet,
  set: LabelledImages,
  opts: { batchSize: number; mode: NormMode },
): ClassifierEvaluation {
  const classes = model.output.outputs;
  const probabilities = new Float32Array(set.count * classes);
  const mode = opts.mode === "train" ? "minibatch" : opts.mode;
  const batches = evaluationBatches(
    set.count,
    opts.batchSize,
    mode !== "population",
  );
  let loss = 0;
  let done = 0;
  for (const idx of batches) {
    const [p, l] = tf.tidy(() => {
      const logits = model.logits(batchTensor(set, idx), mode);
      const logp = tf.logSoftmax(logits);
      const picked = tf.mul(
        logp,
        tf.oneHot(labelTensor(set, idx).toInt(), classes),
      );
      return [tf.exp(logp).dataSync(), -tf.sum(picked).dataSync()[0]];
    });
    probabilities.set(p, done * classes);
    loss += l;
    done += idx.length;
  }
  const predictions = argMaxRows(probabilities, classes);
  return {
    accuracy: accuracyOf(set.labels, predictions),
    loss: loss / set.count,
    probabilities,
    predictions,
  };
}

/** Hyperparameters of {@linkcode trainConvNet}. */
export interface TrainConvNetOptions {
  /** What updates the weights (see lib/optim/mod.ts). */
  optimizer: tf.Optimizer;
  epochs: number;
  batchSize: number;
  /** Probability of mirroring each training image left-right. */
  flipProbability: number;
  /** Seed of shuffling and flips. */
  seed: number;
  /** Validation set, evaluated after each epoch (population statistics). */
  valid?: LabelledImages;
  /**
   * Population statistics for validation: "exact" (default) re-estimates
   * them after each epoch with a pass over the training set; "moving" uses
   * the moving averages kept during training (no extra pass, faster).
   */
  populationStats?: "exact" | "moving";
  /** Images of the training set used for the exact estimate (0: all). */
  statsLimit?: number;
  /**
   * With "exact" statistics, also evaluate with the moving averages first
   * (`valid_accuracy_moving`, `valid_loss_moving` in the history).
   */
  reportMoving?: boolean;
  /** Progress bar label; false hides the bar. */
  label?: string | false;
  /** Called with each history row. */
  onEpoch?: (row: EpochRecord, history: EpochRecord[]) => void;
  /**
   * Save checkpoint `name` into the run folder `dir` every `every` epochs
   * (and when stopped).
   */
  checkpoint?: { dir: string; every: number; name: string };
  /** Continue from this checkpoint (lib/checkpoints.ts `loadCheckpoint`). */
  resume?: Checkpoint | null;
}

/**
 * Trains on the mean cross-entropy with seeded random horizontal flips.
 * After each epoch the population statistics are re-estimated over the
 * training set (unless `populationStats` is "moving") and the validation set
 * is evaluated with them. Returns the history: per epoch `train_loss` and
 * `train_accuracy` (running means over the epoch's minibatches, as trained:
 * minibatch statistics, flipped images), `valid_loss` and `valid_accuracy`.
 */
export async function trainConvNet(
  model: BNConvNet,
  train: LabelledImages,
  opts: TrainConvNetOptions,
): Promise<EpochRecord[]> {
  const variables = model.trainable();
  const keep = opts.checkpoint;
  const evaluate = (valid: LabelledImages) =>
    evaluateConvNet(model, valid, { batchSize: 100, mode: "population" });
  return fitMinibatches({
    epochs: opts.epochs,
    label: opts.label ?? "training",
    count: train.count,
    batchSize: opts.batchSize,
    seed: opts.seed,
    variables: () => variables,
    ...await checkpointing(
      model,
      opts.optimizer,
      keep?.name ?? "",
      keep,
      opts.resume,
    ),
    step: (idx, epoch, i) => {
      const rng = new Rng(deriveSeed(opts.seed, "flips", epoch, i));
      const flips = flipChoices(idx.length, opts.flipProbability, rng);
      const x = batchTensor(train, idx, { flips });
      const y = labelTensor(train, idx);
      const { loss, metrics } = trainStep(opts.optimizer, variables, () => {
        const out = model.loss(x, y, "train");
        const predicted = tf.argMax(out.logits, 1);
        const correct = tf.sum(tf.equal(predicted, tf.cast(y, "int32")));
        return { loss: out.loss, metrics: { correct: correct as tf.Scalar } };
      });
      const n = idx.length;
      return { loss, accuracy: metrics.correct / n, count: n };
    },
    evaluate: async (): Promise<Metrics> => {
      const out: Metrics = {};
      if ((opts.populationStats ?? "exact") === "exact") {
        if (opts.valid && opts.reportMoving) {
          const m = evaluate(opts.valid);
          out.valid_loss_moving = m.loss;
          out.valid_accuracy_moving = m.accuracy;
        }
        await recalibrateBatchNorm(model, train, {
          batchSize: opts.batchSize,
          limit: opts.statsLimit,
          seed: opts.seed,
        });
      }
      if (!opts.valid) return out;
      const v = evaluate(opts.valid);
      return { valid_loss: v.loss, valid_accuracy: v.accuracy, ...out };
    },
    onEpoch: opts.onEpoch,
  });
}

/** A network's checkpoint name: its name in lower case, dashes for the rest. */
export function checkpointName(network: string): string {
  return network.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(
    /^-|-$/g,
    "",
  );
}

/**
 * Trains each network in turn with {@linkcode trainConvNet} and the same
 * options (hence the same shuffles and flips), each with a fresh optimizer
 * built from `optimizer`, validating on `data.valid`. Prints a
 * `describeEpoch` line after each epoch through `log` (default
 * `console.log`). With `checkpoint`, each network keeps checkpoints (named by
 * {@linkcode checkpointName}) in the run folder `checkpoint.dir`; with
 * `resumeFrom` (a run folder), each network continues from its checkpoint
 * there, and one that had finished is restored without training. Returns the
 * histories by network name.
 */
export async function trainNetworks(
  networks: Network[],
  data: { train: LabelledImages; valid?: LabelledImages },
  opts:
    & Omit<
      TrainConvNetOptions,
      "valid" | "label" | "onEpoch" | "optimizer" | "checkpoint" | "resume"
    >
    & {
      optimizer: OptimizerSpec;
      log?: (line: string) => void;
      checkpoint?: { dir: string; every: number };
      resumeFrom?: string | null;
    },
): Promise<Record<string, EpochRecord[]>> {
  const {
    log = console.log,
    optimizer: spec,
    checkpoint,
    resumeFrom,
    ...train
  } = opts;
  const histories: Record<string, EpochRecord[]> = {};
  for (const { name, model } of networks) {
    const optimizer = makeOptimizer(spec);
    const ckpt = checkpointName(name);
    try {
      const resume = resumeFrom ? await loadCheckpoint(resumeFrom, ckpt) : null;
      if (resume && resume.state.progress.epoch >= train.epochs) {
        await resume.restore(model, optimizer);
        histories[name] = resume.state.progress.history;
        for (const r of histories[name]) log(describeEpoch(r, name));
        if (checkpoint) {
          await saveCheckpoint(checkpoint.dir, ckpt, model, optimizer, {
            progress: resume.state.progress,
          });
        }
        continue;
      }
      histories[name] = await trainConvNet(model, data.train, {
        ...train,
        optimizer,
        valid: data.valid,
        label: name,
        onEpoch: (r) => log(describeEpoch(r, name)),
        checkpoint: checkpoint && { ...checkpoint, name: ckpt },
        resume,
      });
    } finally {
      optimizer.dispose();
    }
  }
  return histories;
}

/** How a saved Week 8 run prepares an image (its `weights.json` `preprocessing`). */
export interface Preprocessing {
  /** Side of the square the whole image is stretched to. */
  resize: number;
  /** Side of the central square kept. */
  crop: number;
  /** Class names, by label. */
  classes: string[];
}

/** What {@linkcode classifyImages} says of one photo. */
export interface Classification {
  /** The most probable class's name. */
  predicted: string;
  /** Each class's probability, by name. */
  probabilities: Record<string, number>;
}

/**
 * Classifies JPEG photos of any size with a saved run's net (see
 * lib/runs.ts `loadRun`): each is stretched and cropped as in training,
 * normalized with the training set's per-pixel mean and std saved in the
 * run, and evaluated with population statistics.
 */
export function classifyImages(
  run: LoadedRun,
  jpegs: Uint8Array[],
): Classification[] {
  const model = run.model;
  const prep = run.meta.preprocessing as Preprocessing | undefined;
  const { pixelMean: mean, pixelStd: std } = run.arrays;
  if (!(model instanceof BNConvNet) || !prep || !mean || !std) {
    throw new Error(
      `${run.dir} is not a Week 8 run with its preprocessing saved ` +
        "(a bn_convnet model, preprocessing, pixelMean and pixelStd)",
    );
  }
  const pixels = prep.crop * prep.crop * 3;
  const raw = new Uint8Array(jpegs.length * pixels);
  jpegs.forEach((bytes, i) => {
    raw.set(prepareImage(bytes, prep.resize, prep.crop), i * pixels);
  });
  const index = Int32Array.from(jpegs.keys());
  const images: LabelledImages = {
    images: normalizeImages(raw, pixels, index, { mean, std }),
    labels: new Uint8Array(jpegs.length),
    count: jpegs.length,
    height: prep.crop,
    width: prep.crop,
    channels: 3,
  };
  const p = tf.tidy(() =>
    model.probabilities(batchTensor(images, index), "population").dataSync()
  );
  const k = prep.classes.length;
  return Array.from(argMaxRows(p as Float32Array, k), (best, i) => ({
    predicted: prep.classes[best],
    probabilities: Object.fromEntries(
      prep.classes.map((name, c) => [name, p[i * k + c]]),
    ),
  }));
}
