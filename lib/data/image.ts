/**
 * Image arithmetic for preparing datasets: resizing, center cropping, and
 * per-pixel normalization. Images are interleaved HWC arrays (row by row,
 * pixel by pixel, channel by channel), the layout tfjs uses for NHWC tensors.
 *
 * @module
 */

/** Per-axis resampling taps: output `o` is the sum of `weights[o*taps + t] * input[start[o] + t]`. */
interface AxisTaps {
  start: Int32Array;
  taps: number;
  weights: Float32Array;
}

/**
 * Area averaging when shrinking (each output pixel is the mean of the input
 * area it covers, fractional pixels weighted by their overlap: this is the
 * antialiasing filter), bilinear interpolation with pixel centres at
 * `i + 0.5` when enlarging, the identity at equal sizes.
 */
function axisTaps(inSize: number, outSize: number): AxisTaps {
  const start = new Int32Array(outSize);
  if (outSize >= inSize) {
    const weights = new Float32Array(outSize * 2);
    const scale = inSize / outSize;
    for (let o = 0; o < outSize; o++) {
      const x = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), inSize - 1);
      const i0 = Math.min(Math.floor(x), Math.max(inSize - 2, 0));
      const f = x - i0;
      start[o] = i0;
      weights[2 * o] = 1 - f;
      weights[2 * o + 1] = f; // 0 when inSize is 1, so the tap past the edge is never read
    }
    return { start, taps: 2, weights };
  }
  const scale = inSize / outSize;
  const taps = Math.ceil(scale) + 1;
  const weights = new Float32Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    const lo = o * scale;
    const hi = (o + 1) * scale;
    const first = Math.floor(lo);
    start[o] = first;
    for (let t = 0; t < taps; t++) {
      const i = first + t;
      if (i >= inSize) break;
      const overlap = Math.min(i + 1, hi) - Math.max(i, lo);
      if (overlap > 0) weights[o * taps + t] = overlap / scale;
    }
  }
  return { start, taps, weights };
}

/**
 * Resizes an HWC image to `outHeight × outWidth` (not aspect-preserving: the
 * whole image is stretched to the new shape). Shrinking averages areas
 * (antialiased), enlarging interpolates bilinearly; each axis is done
 * separately. Returns unrounded floats in the input's units.
 */
export function resize(
  src: ArrayLike<number>,
  height: number,
  width: number,
  channels: number,
  outHeight: number,
  outWidth: number,
): Float32Array {
  if (src.length !== height * width * channels) {
    throw new RangeError(
      `resize: got ${src.length} values for a ${height}×${width}×${channels} image (expected ${
        height * width * channels
      })`,
    );
  }
  const cols = axisTaps(width, outWidth);
  const rows = axisTaps(height, outHeight);
  const c = channels;

  // Horizontal pass: height × outWidth × c.
  const mid = new Float32Array(height * outWidth * c);
  for (let y = 0; y < height; y++) {
    const rowIn = y * width * c;
    const rowOut = y * outWidth * c;
    for (let o = 0; o < outWidth; o++) {
      const s = cols.start[o];
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let t = 0; t < cols.taps; t++) {
          const w = cols.weights[o * cols.taps + t];
          if (w !== 0) acc += w * src[rowIn + (s + t) * c + ch];
        }
        mid[rowOut + o * c + ch] = acc;
      }
    }
  }

  // Vertical pass: outHeight × outWidth × c.
  const rowLength = outWidth * c;
  const out = new Float32Array(outHeight * rowLength);
  for (let o = 0; o < outHeight; o++) {
    const s = rows.start[o];
    const dst = o * rowLength;
    for (let t = 0; t < rows.taps; t++) {
      const w = rows.weights[o * rows.taps + t];
      if (w === 0) continue;
      const srcRow = (s + t) * rowLength;
      for (let j = 0; j < rowLength; j++) out[dst + j] += w * mid[srcRow + j];
    }
  }
  return out;
}

/**
 * Cuts the central `cropHeight × cropWidth` window out of an HWC image; when
 * the margin is odd the extra pixel is left on the bottom / right
 * (offset `floor((size - crop) / 2)`).
 */
export function centerCrop<T extends Float32Array | Uint8Array>(
  src: T,
  height: number,
  width: number,
  channels: number,
  cropHeight: number,
  cropWidth: number,
): T {
  if (cropHeight > height || cropWidth > width) {
    throw new RangeError(
      `centerCrop: a ${cropHeight}×${cropWidth} crop does not fit in a ${height}×${width} image; use a crop no larger than the image`,
    );
  }
  const top = Math.floor((height - cropHeight) / 2);
  const left = Math.floor((width - cropWidth) / 2);
  const out = new (src.constructor as { new (n: number): T })(
    cropHeight * cropWidth * channels,
  );
  const rowLength = cropWidth * channels;
  for (let y = 0; y < cropHeight; y++) {
    const from = ((top + y) * width + left) * channels;
    out.set(src.subarray(from, from + rowLength), y * rowLength);
  }
  return out;
}

/** Rounds to the nearest integer and clamps into [0, 255]. */
export function toUint8(src: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = Math.round(src[i]);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

/** Per-pixel statistics in [0, 1] units: one value per position and channel. */
export interface PixelStats {
  /** Mean of each position and channel over the images, in [0, 1] units. */
  mean: Float32Array;
  /** Standard deviation (population, floored at {@link STD_FLOOR}) of each position and channel. */
  std: Float32Array;
}

/**
 * Smallest standard deviation used for normalizing: one grey level. A pixel
 * that is constant over the training images would otherwise divide by zero.
 */
export const STD_FLOOR = 1 / 255;

/**
 * Mean and standard deviation of each pixel position and channel over the
 * uint8 images `images[indices[k]]` (each `pixels` values long), with values
 * scaled to [0, 1].
 */
export function pixelStats(
  images: Uint8Array,
  pixels: number,
  indices: ArrayLike<number>,
): PixelStats {
  const sum = new Float64Array(pixels);
  const sumSq = new Float64Array(pixels);
  for (let k = 0; k < indices.length; k++) {
    const base = indices[k] * pixels;
    for (let j = 0; j < pixels; j++) {
      const v = images[base + j];
      sum[j] += v;
      sumSq[j] += v * v;
    }
  }
  const n = indices.length;
  const mean = new Float32Array(pixels);
  const std = new Float32Array(pixels);
  for (let j = 0; j < pixels; j++) {
    const m = n > 0 ? sum[j] / n : 0;
    const variance = n > 0 ? Math.max(sumSq[j] / n - m * m, 0) : 0;
    mean[j] = m / 255;
    std[j] = Math.max(Math.sqrt(variance) / 255, STD_FLOOR);
  }
  return { mean, std };
}

/**
 * Gathers the uint8 images `images[indices[k]]` into one float array,
 * each value mapped to `(v / 255 - mean) / std` for its position and channel.
 */
export function normalizeImages(
  images: Uint8Array,
  pixels: number,
  indices: ArrayLike<number>,
  stats: PixelStats,
): Float32Array {
  const out = new Float32Array(indices.length * pixels);
  const scale = new Float32Array(pixels);
  const shift = new Float32Array(pixels);
  for (let j = 0; j < pixels; j++) {
    scale[j] = 1 / (255 * stats.std[j]);
    shift[j] = stats.mean[j] / stats.std[j];
  }
  for (let k = 0; k < indices.length; k++) {
    const from = indices[k] * pixels;
    const to = k * pixels;
    for (let j = 0; j < pixels; j++) {
      out[to + j] = images[from + j] * scale[j] - shift[j];
    }
  }
  return out;
}

/**
 * Undoes {@link normalizeImages} for display: `x * std + mean`, clamped to
 * [0, 1]. `images` may hold any number of images, each `mean.length` values.
 */
export function denormalizeImages(
  images: ArrayLike<number>,
  stats: PixelStats,
): Float32Array {
  const pixels = stats.mean.length;
  if (images.length % pixels !== 0) {
    throw new RangeError(
      `denormalize: ${images.length} values is not a whole number of ${pixels}-value images; pass images of the shape the statistics were computed on`,
    );
  }
  const out = new Float32Array(images.length);
  for (let i = 0; i < images.length; i++) {
    const j = i % pixels;
    const v = images[i] * stats.std[j] + stats.mean[j];
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return out;
}
