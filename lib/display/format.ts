/**
 * How numbers read in tables and logs.
 *
 * @module
 */

/** `v` as a percentage with one decimal ("80.2%"). */
export function percent(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}

/**
 * A metric as the logs print it: accuracies and error rates as percentages,
 * other values with 2 decimals from 10 up and 3 below.
 */
export function formatMetric(name: string, v: number): string {
  if (/accuracy|error/.test(name)) return percent(v);
  return v.toFixed(Math.abs(v) >= 10 ? 2 : 3);
}

/**
 * A confusion matrix as table rows: one per true class, a column per
 * predicted class.
 */
export function confusionRows(
  matrix: number[][],
  names: string[],
): Record<string, string | number>[] {
  return names.map((t, i) => ({
    "true \\ predicted": t,
    ...Object.fromEntries(names.map((p, j) => [p, matrix[i][j]])),
  }));
}
