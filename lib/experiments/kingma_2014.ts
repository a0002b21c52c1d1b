/**
 * The numbers Week 10 is measured against: Kingma, Rezende, Mohamed and
 * Welling, "Semi-supervised Learning with Deep Generative Models" (NIPS
 * 2014), table 1. No imports, so that the main job's report can show them
 * without loading TensorFlow.js.
 *
 * @module
 */

/** MNIST test error (%) by number of labels, as printed in the paper. */
export const KINGMA_2014: Readonly<
  Record<"m2" | "m1m2", Readonly<Record<number, string>>>
> = {
  m2: { 100: "11.97 (±1.71)", 600: "4.94", 1000: "3.60", 3000: "3.92" },
  m1m2: { 100: "3.33 (±0.14)", 600: "2.59", 1000: "2.40", 3000: "2.18" },
};

/** The paper's number for `kind` at `labels`, if it has one. */
export function kingmaReference(
  kind: string,
  labels: number,
): string | undefined {
  return kind === "m2" || kind === "m1m2"
    ? KINGMA_2014[kind][labels]
    : undefined;
}
