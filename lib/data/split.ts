/**
 * Seeded train/valid/test splits and row gathering for datasets held as flat
 * row-major typed arrays.
 *
 * @module
 */

import { Rng } from "../random.ts";

/**
 * Splits `0..n-1` into disjoint index sets of the given sizes, cut in order
 * from one seeded permutation: the same `(n, sizes, seed)` gives the same
 * sets on every run and machine. If the sizes sum to less than `n`, the
 * remaining indices are left out. Each set keeps its permutation order
 * (it is shuffled, not sorted).
 *
 * @example
 * ```ts
 * const [train, valid, test] = seededSplit(10000, [8000, 1000, 1000], 1234);
 * ```
 * @throws {RangeError} if a size is negative or not an integer, or the sizes sum to more than `n`
 */
export function seededSplit(
  n: number,
  sizes: number[],
  seed: number,
): Int32Array[] {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(
      `seededSplit: n must be a non-negative integer, got ${n}`,
    );
  }
  for (const s of sizes) {
    if (!Number.isInteger(s) || s < 0) {
      throw new RangeError(
        `seededSplit: sizes must be non-negative integers, got [${sizes}]`,
      );
    }
  }
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total > n) {
    throw new RangeError(
      `seededSplit: sizes [${sizes}] sum to ${total}, more than the ${n} items available; ` +
        `shrink the sizes`,
    );
  }
  const perm = new Rng(seed).permutation(n);
  const sets: Int32Array[] = [];
  let start = 0;
  for (const s of sizes) {
    sets.push(perm.slice(start, start + s));
    start += s;
  }
  return sets;
}

/**
 * Gathers rows `idx` of a row-major array with `rowSize` elements per row
 * into a new array of the same type, in the order of `idx`. With
 * `rowSize = 1` it gathers single items, e.g. labels.
 *
 * @throws {RangeError} if `rowSize` does not divide the array's length or an index is out of range
 */
export function takeRows(
  images: Float32Array,
  rowSize: number,
  idx: Int32Array,
): Float32Array;
/** Gathers rows of a `Uint8Array` (e.g. labels with `rowSize = 1`); see the `Float32Array` overload. */
export function takeRows(
  images: Uint8Array,
  rowSize: number,
  idx: Int32Array,
): Uint8Array;
export function takeRows(
  images: Float32Array | Uint8Array,
  rowSize: number,
  idx: Int32Array,
): Float32Array | Uint8Array {
  if (
    !Number.isInteger(rowSize) || rowSize <= 0 || images.length % rowSize !== 0
  ) {
    throw new RangeError(
      `takeRows: rowSize ${rowSize} must be a positive integer dividing the array length ${images.length}`,
    );
  }
  const rows = images.length / rowSize;
  const out = images instanceof Float32Array
    ? new Float32Array(idx.length * rowSize)
    : new Uint8Array(idx.length * rowSize);
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i];
    if (r < 0 || r >= rows) {
      throw new RangeError(
        `takeRows: index ${r} at position ${i} is out of range [0, ${rows})`,
      );
    }
    out.set(images.subarray(r * rowSize, (r + 1) * rowSize), i * rowSize);
  }
  return out;
}
