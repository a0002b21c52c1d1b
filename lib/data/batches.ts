/**
 * Minibatch index lists: in order, or shuffled with a seeded generator.
 *
 * @module
 */
import { deriveSeed, Rng } from "../random.ts";

/**
 * Splits `0..n-1` into batches of `batchSize` (the last one may be smaller),
 * shuffled by `rng` when given. `dropLast` drops a smaller last batch, which
 * matters for batch norm: a batch of one has no variance.
 */
export function minibatches(
  n: number,
  batchSize: number,
  rng?: Rng,
  dropLast = false,
): Int32Array[] {
  if (!(batchSize >= 1)) {
    throw new RangeError(`batch size must be at least 1, got ${batchSize}`);
  }
  const order = rng
    ? rng.permutation(n)
    : Int32Array.from({ length: n }, (_, i) => i);
  const out: Int32Array[] = [];
  for (let s = 0; s < n; s += batchSize) {
    const b = order.subarray(s, Math.min(n, s + batchSize));
    if (dropLast && b.length < batchSize) break;
    out.push(b);
  }
  return out;
}

/**
 * The batches an evaluation runs over: `0..n-1` in order, every example
 * once. With minibatch statistics (`perBatchStatistics`) a last batch of a
 * single example would have no variance for batch norm to divide by, so it
 * joins the batch before it; that is the project's one rule for a batch of
 * one (training drops a smaller last batch instead, see
 * {@linkcode epochMinibatches}).
 */
export function evaluationBatches(
  n: number,
  batchSize: number,
  perBatchStatistics: boolean,
): Int32Array[] {
  const batches = minibatches(n, batchSize);
  const last = batches[batches.length - 1];
  if (perBatchStatistics && batches.length > 1 && last.length === 1) {
    batches.pop();
    const prev = batches.pop()!;
    batches.push(Int32Array.from([...prev, ...last]));
  }
  return batches;
}

/**
 * The shuffled minibatches of one training epoch: a fresh seeded order per
 * epoch (`seed` and `epoch` fix it), smaller last batch dropped so that batch
 * norm always sees a full batch.
 */
export function epochMinibatches(
  n: number,
  batchSize: number,
  seed: number,
  epoch: number,
): Int32Array[] {
  const rng = new Rng(deriveSeed(seed, "shuffle", epoch));
  return minibatches(n, batchSize, rng, true);
}
