/**
 * Conventions of the notebooks' parameters.
 *
 * @module
 */

/**
 * The notebooks' "0 means all" (or "every core"): `undefined` for 0, the
 * count itself otherwise, for options whose absence means no limit.
 */
export function zeroMeansAll(n: number): number | undefined {
  return n === 0 ? undefined : n;
}
