/**
 * im2col / col2im for NHWC 2-D convolution, on plain `Float32Array`s.
 *
 * A convolution is a matrix product once every output pixel's receptive field
 * is laid out as a row: `col` has one row per output pixel `(b, oy, ox)` and
 * one column per filter tap `(fy, fx, c)` — the same order as a tfjs filter
 * `[fH, fW, inC, outC]` flattened to `[fH * fW * inC, outC]`. So
 * `out = col @ filter`, `dFilter = colᵀ @ dy` and `dCol = dy @ filterᵀ`
 * (scattered back with {@linkcode col2im}).
 *
 * Every function works on a range of rows so callers can bound scratch memory
 * by processing the output pixels in chunks.
 *
 * @module
 */

import type { backend_util } from "@tensorflow/tfjs-core";

/** Sizes, strides and padding of one NHWC convolution. */
export interface ConvGeometry {
  /** Images in the batch. */
  batch: number;
  /** Input height. */
  inH: number;
  /** Input width. */
  inW: number;
  /** Input channels. */
  inC: number;
  /** Output height. */
  outH: number;
  /** Output width. */
  outW: number;
  /** Output channels (filters). */
  outC: number;
  /** Filter height. */
  fH: number;
  /** Filter width. */
  fW: number;
  /** Vertical stride. */
  strideH: number;
  /** Horizontal stride. */
  strideW: number;
  /** Vertical dilation (1: dense filter). */
  dilationH: number;
  /** Horizontal dilation (1: dense filter). */
  dilationW: number;
  /** Zero rows added above the input (from tfjs's `padInfo.top`). */
  padTop: number;
  /** Zero columns added left of the input (from tfjs's `padInfo.left`). */
  padLeft: number;
}

/** The geometry of a convolution described by tfjs's `computeConv2DInfo`. */
export function convGeometry(info: backend_util.Conv2DInfo): ConvGeometry {
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    fH: info.filterHeight,
    fW: info.filterWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    dilationH: info.dilationHeight,
    dilationW: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** (image, output row, output column) of im2col row r. */
function pixelOf(g: ConvGeometry, r: number): [number, number, number] {
  const ox = r % g.outW;
  const t = (r - ox) / g.outW;
  const oy = t % g.outH;
  return [(t - oy) / g.outH, oy, ox];
}

/** Rows of the im2col matrix: one per output pixel, `batch * outH * outW`. */
export function colRows(g: ConvGeometry): number {
  return g.batch * g.outH * g.outW;
}

/** Columns of the im2col matrix: one per filter tap, `fH * fW * inC`. */
export function colCols(g: ConvGeometry): number {
  return g.fH * g.fW * g.inC;
}

/**
 * True when the convolution is a plain matrix product of the input, so no
 * im2col copy is needed: a 1x1 filter, stride 1 and no padding.
 */
export function isPointwise(g: ConvGeometry): boolean {
  return g.fH === 1 && g.fW === 1 && g.strideH === 1 && g.strideW === 1 &&
    g.padTop === 0 && g.padLeft === 0 && g.outH === g.inH &&
    g.outW === g.inW;
}

/**
 * Runs at least this long are moved with `copyWithin` when source and
 * destination share a buffer (the wasm heap); shorter ones by a loop, which
 * beats the call overhead below about 24 floats here.
 */
const COPY_WITHIN_MIN = 24;

/**
 * Writes rows `[rowStart, rowEnd)` of the im2col matrix of `x` (NHWC, laid
 * out from index 0) into `col` from index 0, row-major with row length
 * `colCols(g)`. Taps that fall in the padding are zero. Fastest when `x` and
 * `col` are views of one buffer (e.g. both on the wasm heap): long runs then
 * move with `copyWithin`.
 */
export function im2col(
  x: Float32Array,
  g: ConvGeometry,
  col: Float32Array,
  rowStart: number,
  rowEnd: number,
): void {
  if (rowEnd <= rowStart) return;
  const tapRow = g.fW * g.inC;
  if (
    x.buffer === col.buffer && g.dilationW === 1 &&
    tapRow >= COPY_WITHIN_MIN
  ) {
    const heap = new Float32Array(x.buffer);
    im2colRuns(
      heap,
      x.byteOffset >> 2,
      g,
      heap,
      col.byteOffset >> 2,
      rowStart,
      rowEnd,
      true,
    );
  } else {
    im2colRuns(x, 0, g, col, 0, rowStart, rowEnd, false);
  }
}

/**
 * im2col from `src[xBase...]` into `dst[colBase...]`, one output row at a
 * time and, inside it, one filter row (`fW * inC` floats, contiguous in NHWC
 * when the window row lies inside the image) at a time. `useCopyWithin`
 * requires `src === dst`.
 */
function im2colRuns(
  src: Float32Array,
  xBase: number,
  g: ConvGeometry,
  dst: Float32Array,
  colBase: number,
  rowStart: number,
  rowEnd: number,
  useCopyWithin: boolean,
): void {
  const { inH, inW, inC, outH, outW, fH, fW, strideH, strideW } = g;
  const { dilationH, dilationW, padTop, padLeft } = g;
  const tapRow = fW * inC;
  const k = fH * tapRow;
  const rowStep = inW * inC;
  const imageStep = inH * rowStep;
  const [b0, oy0, ox0] = pixelOf(g, rowStart);
  let b = b0;
  let oy = oy0;
  let ox = ox0;
  let o = colBase;
  let r = rowStart;
  while (r < rowEnd) {
    // One output row (or the part of it in range) at a time.
    const oxEnd = Math.min(outW, ox + (rowEnd - r));
    const xImage = xBase + b * imageStep;
    const iy0 = oy * strideH - padTop;
    for (let fy = 0; fy < fH; fy++) {
      const iy = iy0 + fy * dilationH;
      let d = o + fy * tapRow;
      if (iy < 0 || iy >= inH) {
        for (let q = ox; q < oxEnd; q++, d += k) dst.fill(0, d, d + tapRow);
        continue;
      }
      const xRow = xImage + iy * rowStep;
      for (let q = ox; q < oxEnd; q++, d += k) {
        const ix0 = q * strideW - padLeft;
        if (dilationW === 1 && ix0 >= 0 && ix0 + fW <= inW) {
          // NHWC: the whole filter row is one contiguous run of the input.
          const s = xRow + ix0 * inC;
          if (useCopyWithin) {
            dst.copyWithin(d, s, s + tapRow);
          } else {
            for (let i = 0; i < tapRow; i++) dst[d + i] = src[s + i];
          }
          continue;
        }
        for (let fx = 0, e = d; fx < fW; fx++, e += inC) {
          const ix = ix0 + fx * dilationW;
          if (ix < 0 || ix >= inW) {
            for (let c = 0; c < inC; c++) dst[e + c] = 0;
          } else {
            const s = xRow + ix * inC;
            for (let c = 0; c < inC; c++) dst[e + c] = src[s + c];
          }
        }
      }
    }
    const n = oxEnd - ox;
    o += n * k;
    r += n;
    ox = 0;
    if (++oy === outH) {
      oy = 0;
      b++;
    }
  }
}

/**
 * Like {@linkcode im2col} but writes the transpose: element (row r, tap k)
 * goes to `colT[k * ld + (r - rowStart)]`. Lets `dFilter = colT @ dy` run
 * as an untransposed matrix product.
 */
export function im2colTransposed(
  x: Float32Array,
  g: ConvGeometry,
  colT: Float32Array,
  ld: number,
  rowStart: number,
  rowEnd: number,
): void {
  const { inH, inW, inC, outH, outW, fH, fW, strideH, strideW } = g;
  const { dilationH, dilationW, padTop, padLeft } = g;
  let [b, oy, ox] = pixelOf(g, rowStart);
  for (let r = rowStart; r < rowEnd; r++, ox++) {
    if (ox === outW) {
      ox = 0;
      if (++oy === outH) {
        oy = 0;
        b++;
      }
    }
    const j = r - rowStart;
    const iy0 = oy * strideH - padTop;
    const ix0 = ox * strideW - padLeft;
    const xImage = b * inH * inW * inC;
    let k = 0;
    for (let fy = 0; fy < fH; fy++) {
      const iy = iy0 + fy * dilationH;
      for (let fx = 0; fx < fW; fx++) {
        const ix = ix0 + fx * dilationW;
        if (iy < 0 || iy >= inH || ix < 0 || ix >= inW) {
          for (let c = 0; c < inC; c++) colT[(k + c) * ld + j] = 0;
        } else {
          const s = xImage + (iy * inW + ix) * inC;
          for (let c = 0; c < inC; c++) colT[(k + c) * ld + j] = x[s + c];
        }
        k += inC;
      }
    }
  }
}

/**
 * Adds rows `[rowStart, rowEnd)` of an im2col-shaped gradient `col` (from
 * index 0) back onto the input-shaped `dx` (NHWC, from index 0): the adjoint
 * of {@linkcode im2col}. Taps in the padding are dropped. `dx` must be
 * zeroed by the caller before the first chunk.
 */
export function col2im(
  col: Float32Array,
  g: ConvGeometry,
  dx: Float32Array,
  rowStart: number,
  rowEnd: number,
): void {
  const { inH, inW, inC, outH, outW, fH, fW, strideH, strideW } = g;
  const { dilationH, dilationW, padTop, padLeft } = g;
  const tapRow = fW * inC;
  let o = 0;
  let [b, oy, ox] = pixelOf(g, rowStart);
  for (let r = rowStart; r < rowEnd; r++, ox++) {
    if (ox === outW) {
      ox = 0;
      if (++oy === outH) {
        oy = 0;
        b++;
      }
    }
    const iy0 = oy * strideH - padTop;
    const ix0 = ox * strideW - padLeft;
    const xImage = b * inH * inW * inC;
    for (let fy = 0; fy < fH; fy++) {
      const iy = iy0 + fy * dilationH;
      if (iy < 0 || iy >= inH) {
        o += tapRow;
        continue;
      }
      const xRow = xImage + iy * inW * inC;
      if (dilationW === 1 && ix0 >= 0 && ix0 + fW <= inW) {
        const s = xRow + ix0 * inC;
        for (let i = 0; i < tapRow; i++) dx[s + i] += col[o + i];
        o += tapRow;
        continue;
      }
      for (let fx = 0; fx < fW; fx++) {
        const ix = ix0 + fx * dilationW;
        if (ix >= 0 && ix < inW) {
          const s = xRow + ix * inC;
          for (let c = 0; c < inC; c++) dx[s + c] += col[o + c];
        }
        o += inC;
      }
    }
  }
}

/**
 * Like {@linkcode col2im} for whole images, but gathering: every element of
 * images `[imageStart, imageEnd)` of `dx` (NHWC, from index 0) is written
 * once with the sum of the `col` entries (rows of those images, from index
 * 0) that im2col copied it to, so `dx` needs no zeroing and no
 * read-modify-write passes. Other images of `dx` are left alone.
 */
export function col2imImages(
  col: Float32Array,
  g: ConvGeometry,
  dx: Float32Array,
  imageStart: number,
  imageEnd: number,
): void {
  const { inH, inW, inC, outH, outW, fH, fW, strideH, strideW } = g;
  const { dilationH, dilationW, padTop, padLeft } = g;
  const k = fH * fW * inC;
  // For each input row (column): the (output row, filter row) pairs that
  // read it, as col offsets. They do not depend on the image.
  const rows = tapsAlong(inH, outH, fH, strideH, dilationH, padTop);
  const cols = tapsAlong(inW, outW, fW, strideW, dilationW, padLeft);
  const src = new Int32Array(fH * fW);
  const perImage = outH * outW * k;
  let d = imageStart * inH * inW * inC;
  for (let b = imageStart; b < imageEnd; b++) {
    const image = (b - imageStart) * perImage;
    for (let iy = 0; iy < inH; iy++) {
      const ry = rows[iy];
      for (let ix = 0; ix < inW; ix++, d += inC) {
        const rx = cols[ix];
        let n = 0;
        for (let i = 0; i < ry.length; i += 2) {
          const base = image + ry[i] * outW * k + ry[i + 1] * fW * inC;
          for (let j = 0; j < rx.length; j += 2) {
            src[n++] = base + rx[j] * k + rx[j + 1] * inC;
          }
        }
        if (n === 0) {
          for (let c = 0; c < inC; c++) dx[d + c] = 0;
        } else if (n === 1) {
          const a = src[0];
          for (let c = 0; c < inC; c++) dx[d + c] = col[a + c];
        } else if (n === 2) {
          const a = src[0], e = src[1];
          for (let c = 0; c < inC; c++) dx[d + c] = col[a + c] + col[e + c];
        } else if (n === 4) {
          const a = src[0], e = src[1], f = src[2], h = src[3];
          for (let c = 0; c < inC; c++) {
            dx[d + c] = (col[a + c] + col[e + c]) + (col[f + c] + col[h + c]);
          }
        } else {
          for (let c = 0; c < inC; c++) {
            let sum = 0;
            for (let t = 0; t < n; t++) sum += col[src[t] + c];
            dx[d + c] = sum;
          }
        }
      }
    }
  }
}

/**
 * The pairs of {@linkcode col2imImages}'s gather along one axis as one
 * table, for our SIMD module: `1 + 2 * filterSize` ints per input index, the
 * number of pairs (output index, filter tap) whose window reads it, then the
 * pairs in the order the JavaScript gather sums them.
 */
export function tapTable(
  inSize: number,
  outSize: number,
  filterSize: number,
  stride: number,
  dilation: number,
  pad: number,
): Int32Array {
  const taps = tapsAlong(inSize, outSize, filterSize, stride, dilation, pad);
  const width = 1 + 2 * filterSize;
  const table = new Int32Array(inSize * width);
  taps.forEach((pairs, i) => {
    table[i * width] = pairs.length / 2;
    table.set(pairs, i * width + 1);
  });
  return table;
}

/**
 * For each input index along one axis, the pairs (output index, filter tap)
 * whose window reads it, flattened.
 */
function tapsAlong(
  inSize: number,
  outSize: number,
  filterSize: number,
  stride: number,
  dilation: number,
  pad: number,
): number[][] {
  const taps: number[][] = Array.from({ length: inSize }, () => []);
  for (let o = 0; o < outSize; o++) {
    for (let f = 0; f < filterSize; f++) {
      const i = o * stride - pad + f * dilation;
      if (i >= 0 && i < inSize) taps[i].push(o, f);
    }
  }
  return taps;
}
