/**
 * Seeded standard-normal noise that is fast and the same on every backend.
 *
 * `tf.randomNormal` draws in JavaScript at about 25 ns a number, which is
 * 8% of a VAE training step at batch 100. {@linkcode randomNormal} draws from
 * a counter-based generator instead (murmur3's mixer over the element index,
 * then Box-Muller): the wasm backend runs it in our SIMD module (kernel
 * {@linkcode SEEDED_RANDOM_NORMAL}), other backends in JavaScript, and both
 * give the same numbers to float32 rounding.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/** Kernel name: no inputs; attributes `shape` and `seed` (uint32). */
export const SEEDED_RANDOM_NORMAL = "SeededRandomNormal";

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * `n` standard normal floats for `seed`, in JavaScript: pair `i` has uniforms
 * from `fmix32(fmix32(key + 2i [+ 1]) + key)`, radius `sqrt(-2 log u1)` and
 * turn `u2`; cosines fill the first half of the output, sines the second.
 */
export function seededNormalValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  const key = fmix32((seed ^ 0x9e3779b9) >>> 0);
  const half = Math.floor(n / 2), odd = n & 1;
  const pair = (i: number): [number, number] => {
    const h1 = fmix32((fmix32((key + 2 * i) >>> 0) + key) >>> 0);
    const h2 = fmix32((fmix32((key + 2 * i + 1) >>> 0) + key) >>> 0);
    const u1 = Math.fround((h1 >>> 8) * 5.9604645e-8 + 2.98023224e-8);
    const turn = Math.fround((h2 >>> 8) * 5.9604645e-8);
    const r = Math.sqrt(-2 * Math.log(u1));
    return [r * Math.cos(2 * Math.PI * turn), r * Math.sin(2 * Math.PI * turn)];
  };
  for (let i = 0; i < half; i++) {
    const [c, s] = pair(i);
    out[i] = c;
    out[half + odd + i] = s;
  }
  if (odd) out[half] = pair(half)[0];
  return out;
}

/** A float32 tensor of standard normal noise, reproducible from `seed`. */
export function randomNormal(shape: number[], seed: number): tf.Tensor {
  const s = seed >>> 0;
  if (tf.getKernel(SEEDED_RANDOM_NORMAL, tf.getBackend())) {
    return tf.engine().runKernel(SEEDED_RANDOM_NORMAL, {}, {
      shape,
      seed: s,
    }) as tf.Tensor;
  }
  const n = tf.util.sizeFromShape(shape);
  return tf.tensor(seededNormalValues(n, s), shape);
}
