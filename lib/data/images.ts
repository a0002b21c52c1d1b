/**
 * Labelled images, the one type every dataset loads into (MNIST, Dogs vs.
 * Cats), and the batches models take from them.
 *
 * ```ts
 * const x = batchTensor(data.train, idx);                      // [n, h, w, c]
 * const rows = batchTensor(data.train, idx, { layout: "flat" }); // [n, h * w * c]
 * const y = labelTensor(data.train, idx);
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "../random.ts";

/** Images with their labels, row-major NHWC. */
export interface LabelledImages {
  /** `count * height * width * channels` values, image after image (NHWC). */
  images: Float32Array;
  /** The class of each image (MNIST: the digit; Dogs vs. Cats: 0 cat, 1 dog). */
  labels: Uint8Array;
  /** Number of images. */
  count: number;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Channels per pixel (1 for MNIST, 3 for RGB). */
  channels: number;
}

/** How a model takes a batch: NHWC images or flattened rows. */
export type ImageLayout = "nhwc" | "flat";

/** Values per image: `height * width * channels`. */
export function imageSize(set: LabelledImages): number {
  return set.height * set.width * set.channels;
}

/** Options of {@linkcode batchImages} and {@linkcode batchTensor}. */
export interface BatchOptions {
  /** Per image of the batch, 1 mirrors it left-right (its columns reversed). */
  flips?: Uint8Array;
}

/**
 * Copies images `idx` of `set` into one batch, in the order of `idx`; image
 * `j` is mirrored left-right where `flips[j]` is 1.
 */
export function batchImages(
  set: LabelledImages,
  idx: ArrayLike<number>,
  opts: BatchOptions = {},
): Float32Array {
  const { height: h, width: w, channels: c } = set;
  const size = h * w * c;
  const row = w * c;
  const out = new Float32Array(idx.length * size);
  for (let j = 0; j < idx.length; j++) {
    const i = idx[j];
    if (!(i >= 0 && i < set.count)) {
      throw new RangeError(
        `batch index ${i} at position ${j} is outside the ${set.count} images`,
      );
    }
    const src = set.images.subarray(i * size, (i + 1) * size);
    if (!opts.flips?.[j]) {
      out.set(src, j * size);
      continue;
    }
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const from = y * row + (w - 1 - x) * c;
        const to = j * size + y * row + x * c;
        for (let k = 0; k < c; k++) out[to + k] = src[from + k];
      }
    }
  }
  return out;
}

/** {@linkcode batchImages} as a `[n, height, width, channels]` tensor. */
export function batchTensor(
  set: LabelledImages,
  idx: ArrayLike<number>,
  opts?: BatchOptions & { layout?: "nhwc" },
): tf.Tensor4D;
/** {@linkcode batchImages} as `[n, height * width * channels]` rows. */
export function batchTensor(
  set: LabelledImages,
  idx: ArrayLike<number>,
  opts: BatchOptions & { layout: "flat" },
): tf.Tensor2D;
/** {@linkcode batchImages} in either layout. */
export function batchTensor(
  set: LabelledImages,
  idx: ArrayLike<number>,
  opts?: BatchOptions & { layout?: ImageLayout },
): tf.Tensor2D | tf.Tensor4D;
export function batchTensor(
  set: LabelledImages,
  idx: ArrayLike<number>,
  opts: BatchOptions & { layout?: ImageLayout } = {},
): tf.Tensor2D | tf.Tensor4D {
  const values = batchImages(set, idx, opts);
  return opts.layout === "flat"
    ? tf.tensor2d(values, [idx.length, imageSize(set)])
    : tf.tensor4d(values, [idx.length, set.height, set.width, set.channels]);
}

/** The labels of images `idx` as a float32 tensor (what the losses take). */
export function labelTensor(
  set: LabelledImages,
  idx: ArrayLike<number>,
): tf.Tensor1D {
  return tf.tensor1d(Array.from(idx, (i) => set.labels[i]), "float32");
}

/** The images `idx` of `set` as a new set, in the order of `idx`. */
export function subset(
  set: LabelledImages,
  idx: ArrayLike<number>,
): LabelledImages {
  return {
    images: batchImages(set, idx),
    labels: Uint8Array.from(idx, (i) => set.labels[i]),
    count: idx.length,
    height: set.height,
    width: set.width,
    channels: set.channels,
  };
}

/**
 * Draws, for each of `count` images, whether to mirror it (1) or not (0):
 * the random horizontal flips of training-time augmentation.
 */
export function flipChoices(
  count: number,
  probability: number,
  rng: Rng,
): Uint8Array {
  return Uint8Array.from(
    { length: count },
    () => (rng.next() < probability ? 1 : 0),
  );
}
