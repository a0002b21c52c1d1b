/**
 * Classification metrics over plain arrays: accuracy, the confusion matrix,
 * the most confident mistakes, and Pearson's correlation.
 *
 * @module
 */

/** Fraction of `predictions` equal to `labels` (NaN for none). */
export function accuracyOf(
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
): number {
  if (labels.length === 0) return NaN;
  let right = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === predictions[i]) right++;
  }
  return right / labels.length;
}

/**
 * Counts of (true class, predicted class): `matrix[t][p]` is the number of
 * examples of class `t` predicted as `p`.
 */
export function confusionMatrix(
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
  classes: number,
): number[][] {
  const m = Array.from({ length: classes }, () => new Array(classes).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]][predictions[i]]++;
  return m;
}

/** Class of the largest probability in each row of `[n, classes]` values. */
export function argMaxRows(
  probabilities: Float32Array,
  classes: number,
): Int32Array {
  const n = probabilities.length / classes;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) {
      if (
        probabilities[i * classes + k] > probabilities[i * classes + best]
      ) best = k;
    }
    out[i] = best;
  }
  return out;
}

/** A classifier's predictions over a set. */
export interface ClassifierEvaluation {
  /** Fraction classified right. */
  accuracy: number;
  /** Mean cross-entropy per example. */
  loss: number;
  /** `[count, classes]` class probabilities. */
  probabilities: Float32Array;
  /** The most probable class of each example. */
  predictions: Int32Array;
}

/** One misclassified example. */
export interface Mistake {
  /** Index in the evaluated set. */
  index: number;
  /** True class. */
  label: number;
  /** Predicted class. */
  predicted: number;
  /** Probability the classifier gave its (wrong) prediction. */
  probability: number;
}

/** The `k` misclassified examples the classifier was most confident about. */
export function confidentMistakes(
  labels: ArrayLike<number>,
  ev: Pick<ClassifierEvaluation, "probabilities" | "predictions">,
  k: number,
): Mistake[] {
  const classes = ev.probabilities.length / labels.length;
  const out: Mistake[] = [];
  for (let i = 0; i < labels.length; i++) {
    const p = ev.predictions[i];
    if (p === labels[i]) continue;
    out.push({
      index: i,
      label: labels[i],
      predicted: p,
      probability: ev.probabilities[i * classes + p],
    });
  }
  out.sort((a, b) => b.probability - a.probability || a.index - b.index);
  return out.slice(0, k);
}

/** Pearson correlation of two equally long lists (NaN if either is constant). */
export function correlation(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}
