/**
 * The labelled subsets of semi-supervised learning: a seeded, class-balanced
 * choice of which training images keep their labels, the rest forming the
 * unlabelled pool (Kingma et al. 2014's protocol: 100, 600, 1000 or 3000
 * labels among MNIST's first 50,000 training images, the labelled ones
 * removed from the unlabelled pool; the 10,000 validation images are a
 * separate set, used only for model selection).
 *
 * Draw `d` ranks every image by one seeded permutation
 * (`deriveSeed(seed, "labels", d)`) and keeps, for each class, the first
 * `labels / classes` images of that class in that order. The subsets of
 * one draw are therefore nested: its 100 labelled images are among its 600.
 *
 * ```ts
 * const split = labelledSplit(data.train.labels, { labels: 100, seed, draw: 0 });
 * split.labelled.length; // 100, ten of each digit
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { deriveSeed, Rng } from "../random.ts";
import type { LabelledImages } from "./images.ts";

/** The label budgets of Kingma et al. (2014)'s MNIST table. */
export const LABEL_BUDGETS: readonly number[] = [100, 600, 1000, 3000];

/** Options of {@linkcode labelledSplit}. */
export interface LabelledSplitOptions {
  /** How many images keep their labels; a multiple of `classes`. */
  labels: number;
  /** The run's seed. */
  seed: number;
  /** Which draw (0, 1, 2, ...): each draw is an independent choice. */
  draw: number;
  /** Number of classes; default 10. */
  classes?: number;
}

/** Which images of a training set are labelled. */
export interface LabelledSplit {
  /** Positions of the labelled images in the training set, ascending. */
  labelled: Int32Array;
  /** Positions of every other image (the unlabelled pool), ascending. */
  unlabelled: Int32Array;
  /** The budget, the draw and the class count it was made with. */
  labels: number;
  draw: number;
  classes: number;
}

/**
 * Splits the images whose classes are `labels` into a class-balanced
 * labelled subset and the unlabelled rest (see the module's notes). Throws
 * when the budget is not a multiple of the class count, or a class has too
 * few images.
 */
export function labelledSplit(
  labels: Uint8Array,
  opts: LabelledSplitOptions,
): LabelledSplit {
  const classes = opts.classes ?? 10;
  const budget = opts.labels;
  if (!(Number.isInteger(budget) && budget > 0 && budget % classes === 0)) {
    throw new RangeError(
      `labelledSplit: labels must be a positive multiple of the ${classes} ` +
        `classes (balanced subsets), got ${budget}`,
    );
  }
  const perClass = budget / classes;
  const order = new Rng(deriveSeed(opts.seed, "labels", opts.draw))
    .permutation(labels.length);
  const taken = new Int32Array(classes);
  const isLabelled = new Uint8Array(labels.length);
  let kept = 0;
  for (let r = 0; r < order.length && kept < budget; r++) {
    const i = order[r];
    const c = labels[i];
    if (c >= classes) {
      throw new RangeError(
        `labelledSplit: image ${i} has class ${c}, but classes is ${classes}`,
      );
    }
    if (taken[c] < perClass) {
      taken[c]++;
      isLabelled[i] = 1;
      kept++;
    }
  }
  if (kept < budget) {
    const short = [...taken].map((t, c) => [c, t]).filter(([, t]) =>
      t < perClass
    );
    throw new RangeError(
      `labelledSplit: ${budget} balanced labels need ${perClass} images of ` +
        `each class; class ${
          short.map(([c, t]) => `${c} has ${t}`).join(", class ")
        }; use a smaller budget or a larger training set`,
    );
  }
  const labelled = new Int32Array(budget);
  const unlabelled = new Int32Array(labels.length - budget);
  let a = 0, b = 0;
  for (let i = 0; i < labels.length; i++) {
    if (isLabelled[i]) labelled[a++] = i;
    else unlabelled[b++] = i;
  }
  return { labelled, unlabelled, labels: budget, draw: opts.draw, classes };
}

/** Images per class among `idx` of `labels`: `counts[c]`. */
export function classCounts(
  labels: Uint8Array,
  idx: ArrayLike<number>,
  classes = 10,
): number[] {
  const counts = new Array(classes).fill(0);
  for (let j = 0; j < idx.length; j++) counts[labels[idx[j]]]++;
  return counts;
}

/** One-hot labels of images `idx` of `set`, `[idx.length, classes]`. */
export function oneHotLabels(
  set: LabelledImages,
  idx: ArrayLike<number>,
  classes: number,
): tf.Tensor2D {
  const out = new Float32Array(idx.length * classes);
  for (let j = 0; j < idx.length; j++) {
    out[j * classes + set.labels[idx[j]]] = 1;
  }
  return tf.tensor2d(out, [idx.length, classes]);
}

/**
 * The labelled minibatch of step `step` of `epoch`: positions `0..n-1`
 * (of the labelled subset), `batchSize` of them, read on from where the
 * step before stopped through a stream of seeded permutations of the `n`
 * positions (`deriveSeed(seed, "labelled", epoch, pass)`), so every labelled
 * image is used equally often and no step depends on the ones before.
 */
export function labelledBatch(
  n: number,
  batchSize: number,
  seed: number,
  epoch: number,
  step: number,
): Int32Array {
  if (!(n > 0)) throw new RangeError("labelledBatch: no labelled images");
  const out = new Int32Array(batchSize);
  let pass = -1;
  let order: Int32Array = new Int32Array(0);
  for (let j = 0; j < batchSize; j++) {
    const p = step * batchSize + j;
    const q = Math.floor(p / n);
    if (q !== pass) {
      pass = q;
      order = new Rng(deriveSeed(seed, "labelled", epoch, q)).permutation(n);
    }
    out[j] = order[p % n];
  }
  return out;
}
