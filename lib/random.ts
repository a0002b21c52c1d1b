/**
 * Seeded pseudo-random numbers for reproducible splits, shuffles and seeds.
 *
 * One rule gives every random draw of a run its seed: {@linkcode deriveSeed}
 * turns the notebook's one `seed` and a purpose (and an index: epoch, step)
 * into the seed of that draw. `Rng` is a small, fast uniform generator
 * (mulberry32 state, splitmix32 seeding) for shuffles, splits and flips; the
 * same seed gives the same sequence on every machine and every run. Normal
 * noise comes from one source, the counter-based `randomNormal` of
 * lib/nn/random_normal.ts.
 *
 * @module
 */

/**
 * The purposes a run draws random numbers for, each its own stream:
 * - `init`: a layer's initial weights (indexed by the layer's name);
 * - `shuffle`: the order of an epoch's minibatches (by epoch);
 * - `flips`: the mirrored images of a training step (by epoch and step);
 * - `noise`: a VAE's code noise in a training step (by epoch and step);
 * - `eval`: the code noise of an evaluation batch (by batch);
 * - `recalibration`: the code noise of a batch of the population-statistics pass;
 * - `analysis`: the minibatches of a batch-norm analysis;
 * - `samples` and `paths`: codes decoded for figures and sample scores;
 * - `labels`: which examples of a semi-supervised run keep their labels (by draw);
 * - `labelled`: the order of the labelled minibatches (by epoch).
 * - `run`: the seed of one run among several of a notebook (by model, label
 *   budget and draw), from which that run derives all of its own.
 */
export type SeedPurpose =
  | "init"
  | "shuffle"
  | "flips"
  | "noise"
  | "eval"
  | "recalibration"
  | "analysis"
  | "samples"
  | "paths"
  | "labels"
  | "labelled"
  | "run";

function mix32(h: number, k: number): number {
  // murmur3's block step, then its finalizer at the end.
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/**
 * The seed of one purpose's draws, from a run's `seed`: a hash of the seed,
 * the purpose and any indices (an epoch, a step, a layer's name), as a
 * 31-bit integer. Each (purpose, indices) gets an independent stream, so a
 * change in how one purpose draws leaves the others alone, and step k's
 * draws do not depend on the steps before it (a resumed run draws what an
 * uninterrupted one would).
 *
 * ```ts
 * const order = new Rng(deriveSeed(seed, "shuffle", epoch)).permutation(n);
 * ```
 */
export function deriveSeed(
  seed: number,
  purpose: SeedPurpose,
  ...index: (number | string)[]
): number {
  if (!Number.isInteger(seed)) {
    throw new RangeError(`a seed must be an integer, got ${seed}`);
  }
  let h = mix32(0x2545f491, seed | 0);
  h = mix32(h, Math.floor(seed / 2 ** 32) | 0);
  for (const part of [purpose, ...index]) {
    if (typeof part === "string") {
      for (let i = 0; i < part.length; i++) h = mix32(h, part.charCodeAt(i));
      h = mix32(h, 0x5f); // ends the string: ("ab", "c") != ("a", "bc")
    } else {
      h = mix32(h, part | 0);
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x7fffffff;
}

/** A seeded random number generator. */
export class Rng {
  #state: number;

  /** Creates a generator; equal seeds give equal sequences. */
  constructor(seed: number) {
    // splitmix32 scrambles small or similar seeds into well-spread states.
    let z = (Math.floor(seed) + 0x9e3779b9) | 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    this.#state = (z ^ (z >>> 16)) >>> 0;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** A 31-bit integer seed. */
  seed(): number {
    return this.int(0x7fffffff);
  }
}
