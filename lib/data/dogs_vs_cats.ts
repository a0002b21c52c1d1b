/**
 * Kaggle's Dogs vs. Cats training set (`train.zip`), prepared for the
 * batch-normalized convnet: each JPEG decoded, stretched to `resize × resize`
 * (the whole image, not aspect-preserving, as the original experiment did),
 * center-cropped to `crop × crop`, RGB. Labels come from the file names:
 * cat = 0, dog = 1.
 *
 * The prepared uint8 images are cached in `data/cache/`; the seeded
 * train/validation split and the per-pixel normalization are computed after
 * the cache, so changing `seed` or `trainFraction` does not rebuild it.
 *
 * ```ts
 * const data = await loadDogsVsCats({ limit: 2000 });
 * // data.train.images: Float32Array [count, 48, 48, 3] (NHWC), normalized
 * ```
 *
 * @module
 */

import jpeg from "jpeg-js";
import { basename, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Rng } from "../random.ts";
import { cacheKey, defaultCacheDir, readCache, writeCache } from "./cache.ts";
import {
  DatasetFormatError,
  DatasetNotFoundError,
  DatasetPathError,
} from "./errors.ts";
import {
  centerCrop,
  denormalizeImages,
  normalizeImages,
  pixelStats,
  resize,
  toUint8,
} from "./image.ts";
import type { LabelledImages } from "./images.ts";
import { ZipReader } from "./zip.ts";

/** The prepared, split and normalized dataset. */
export interface DogsVsCats {
  /** The first `trainCount` images of the seeded permutation: normalized NHWC. */
  train: LabelledImages;
  /** The remaining images, normalized with the training part's statistics. */
  valid: LabelledImages;
  /** Image height (the crop size). */
  height: number;
  /** Image width (the crop size). */
  width: number;
  /** Always 3 (RGB). */
  channels: 3;
  /** Per-pixel mean of the training images, `height × width × 3`, in [0, 1] units. */
  mean: Float32Array;
  /** Per-pixel standard deviation of the training images, `height × width × 3`, in [0, 1] units. */
  std: Float32Array;
  /** The resolved path the images were read from. */
  source: string;
  /** Entries that looked like images but could not be decoded, with the reason. */
  skipped: { name: string; reason: string }[];
  /** True when the prepared images came from the cache file. */
  fromCache: boolean;
  /** File names (e.g. `cat.12.jpg`) in the order of `train` and `valid`. */
  names: { train: string[]; valid: string[] };
}

/** Options of {@link prepareDogsVsCats}. */
export interface PrepareOptions {
  /** The zip or folder; see {@link findDogsVsCats} for where it is looked for when absent. */
  path?: string;
  /** Side of the square the whole image is stretched to (default 64). */
  resize?: number;
  /** Side of the central square kept (default 48). */
  crop?: number;
  /**
   * Use only this many images, half cats and half dogs (the lowest-numbered
   * of each, cats getting the odd one), for quick runs.
   */
  limit?: number;
  /** Where the cache file goes (default `<repo>/data/cache/`); `null` disables caching. */
  cacheDir?: string | null;
  /** Called as images are decoded (once with `(count, count)` on a cache hit), e.g. to drive a progress bar. */
  onProgress?: (done: number, total: number) => void;
}

/** Options of {@link loadDogsVsCats}. */
export interface LoadOptions extends PrepareOptions {
  /** Seed of the train/validation permutation (default 1999). */
  seed?: number;
  /** Fraction of the images used for training, in (0, 1] (default 0.8). */
  trainFraction?: number;
}

/** Decoded, resized and cropped images before the split: what the cache holds. */
export interface PreparedDogsVsCats {
  /** `count × crop × crop × 3` uint8 RGB values (NHWC), cats first, then dogs, by number. */
  images: Uint8Array;
  /** 0 = cat, 1 = dog. */
  labels: Uint8Array;
  /** File names, e.g. `cat.12.jpg`, in image order. */
  names: string[];
  /** Number of images. */
  count: number;
  /** The crop size (height and width). */
  size: number;
  /** The resolved path the images were read from. */
  source: string;
  /** Entries that looked like images but could not be decoded, with the reason. */
  skipped: { name: string; reason: string }[];
  /** True when the images came from the cache file. */
  fromCache: boolean;
}

const DOWNLOAD_HINT =
  "Download train.zip from https://www.kaggle.com/c/dogs-vs-cats/data (file train.zip, about 540 MB) " +
  "and put it at data/dogs-vs-cats/train.zip in the repository, or give its path (the zip or its " +
  "extracted folder) as the `dataPath` notebook parameter or the DOGS_VS_CATS environment variable.";

/** Matches Kaggle's names, `cat.123.jpg` / `dog.7.jpg`, at the end of a path. */
const NAME_PATTERN = /(?:^|\/)(cat|dog)\.(\d+)\.jpe?g$/i;

const CACHE_VERSION = 1;

function repoRoot(): string {
  return fileURLToPath(new URL("../../", import.meta.url));
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves where the dataset is: the explicit `path` if given (relative paths
 * tried against the working directory, then the repository root), else the
 * `DOGS_VS_CATS` environment variable (same rule), else the first existing of
 * `<repo>/data/dogs-vs-cats/train.zip`, `<repo>/data/dogs-vs-cats/train/`,
 * `<repo>/data/train.zip`. A path given explicitly is never replaced by a
 * default one.
 *
 * @throws {DatasetPathError} when the explicit path or `DOGS_VS_CATS` names
 *   nothing: a typo to fix, so the headless runner reports a failure
 * @throws {DatasetNotFoundError} when nothing was named and none of the
 *   default places holds the data (the runner reports a skip); both list
 *   every path searched and how to get the data
 */
export function findDogsVsCats(path?: string): string {
  const root = repoRoot();
  const searched: string[] = [];
  const tryGiven = (given: string, what: string): string => {
    const candidates = isAbsolute(given)
      ? [given]
      : [resolve(given), resolve(root, given)];
    for (const candidate of [...new Set(candidates)]) {
      searched.push(`${candidate} (${what})`);
      if (exists(candidate)) return candidate;
    }
    throw new DatasetPathError(
      `Dogs vs. Cats: ${what}, "${given}", does not exist. Searched:\n${
        listPaths(searched)
      }\nFix the path (the zip or its extracted folder), or leave it empty to use ` +
        `data/dogs-vs-cats/. ${DOWNLOAD_HINT}`,
    );
  };
  if (path) return tryGiven(path, "the path given");
  let fromEnv: string | undefined;
  try {
    fromEnv = Deno.env.get("DOGS_VS_CATS");
  } catch { /* no env permission: skip it */ }
  if (fromEnv) return tryGiven(fromEnv, "DOGS_VS_CATS");
  for (
    const candidate of [
      join(root, "data", "dogs-vs-cats", "train.zip"),
      join(root, "data", "dogs-vs-cats", "train"),
      join(root, "data", "train.zip"),
    ]
  ) {
    searched.push(candidate);
    if (exists(candidate)) return candidate;
  }
  throw new DatasetNotFoundError(
    `Dogs vs. Cats dataset not found. Searched:\n${
      listPaths(searched)
    }\n${DOWNLOAD_HINT}`,
  );
}

function listPaths(paths: string[]): string {
  return paths.map((p) => `  - ${p}`).join("\n");
}

/** One image file found in the source, not yet read. */
interface Candidate {
  name: string;
  label: number;
  number: number;
  read: () => Uint8Array;
}

/** A zip or folder listed: its images, and what identifies its contents for the cache key. */
interface Source {
  candidates: Candidate[];
  identity: { kind: string; size: number; mtime: number; files: number };
  /** Files (not folders) in the zip or the folder read, images or not. */
  fileCount: number;
  /** The file names that are not `cat.N.jpg` / `dog.N.jpg`, sorted, for messages. */
  otherNames: string[];
  close: () => void;
}

/** How many unrecognized names a "no images" message quotes. */
const OTHER_NAMES_SHOWN = 5;

function parseName(path: string): { label: number; number: number } | null {
  if (path.includes("__MACOSX/") || basename(path).startsWith("._")) {
    return null;
  }
  const m = NAME_PATTERN.exec(path);
  return m
    ? { label: m[1].toLowerCase() === "dog" ? 1 : 0, number: Number(m[2]) }
    : null;
}

function openSource(path: string): Source {
  const info = Deno.statSync(path);
  if (info.isDirectory) {
    const trainDir = join(path, "train");
    const dir = exists(trainDir) && Deno.statSync(trainDir).isDirectory
      ? trainDir
      : path;
    const candidates: Candidate[] = [];
    const otherNames: string[] = [];
    let fileCount = 0;
    let size = 0;
    let mtime = 0;
    for (const entry of Deno.readDirSync(dir)) {
      if (!entry.isFile && !entry.isSymlink) continue;
      fileCount++;
      const parsed = parseName(entry.name);
      if (!parsed) {
        otherNames.push(entry.name);
        continue;
      }
      const file = join(dir, entry.name);
      const stat = Deno.statSync(file);
      size += stat.size;
      mtime = Math.max(mtime, stat.mtime?.getTime() ?? 0);
      candidates.push({
        name: entry.name,
        ...parsed,
        read: () => Deno.readFileSync(file),
      });
    }
    return {
      candidates,
      identity: { kind: "dir", size, mtime, files: candidates.length },
      fileCount,
      otherNames: otherNames.sort(),
      close: () => {},
    };
  }
  const zip = ZipReader.open(path);
  const candidates: Candidate[] = [];
  const otherNames: string[] = [];
  let fileCount = 0;
  for (const entry of zip.entries) {
    if (entry.isDirectory) continue;
    fileCount++;
    const parsed = parseName(entry.name);
    if (!parsed) otherNames.push(entry.name);
    if (parsed) {
      candidates.push({
        name: entry.name,
        ...parsed,
        read: () => zip.read(entry),
      });
    }
  }
  return {
    candidates,
    identity: {
      kind: "zip",
      size: info.size,
      mtime: info.mtime?.getTime() ?? 0,
      files: zip.entries.length,
    },
    fileCount,
    otherNames: otherNames.sort(),
    close: () => zip.close(),
  };
}

/** "it has 3 files, none of them named so (e.g. a.png, b.png, c.png)" or "it is empty". */
function describeContents(src: Source): string {
  if (src.fileCount === 0) {
    return src.identity.kind === "dir"
      ? "the folder has no files"
      : "the zip has no files";
  }
  const shown = src.otherNames.slice(0, OTHER_NAMES_SHOWN).join(", ");
  const more = src.fileCount > OTHER_NAMES_SHOWN ? ", ..." : "";
  return `its ${src.fileCount} file${
    src.fileCount === 1 ? " is" : "s are"
  } named otherwise (${shown}${more})`;
}

/**
 * The raw JPEG bytes of the files `names` (e.g. `cat.12.jpg`, as in
 * `DogsVsCats.names`) from the dataset at `path` (a zip or folder; see
 * {@linkcode findDogsVsCats}), in the order given: photos to classify with
 * a saved model. Throws naming a file that is not there.
 */
export function readDogsVsCatsFiles(
  names: string[],
  path?: string,
): Uint8Array[] {
  const src = openSource(findDogsVsCats(path));
  try {
    const byName = new Map(src.candidates.map((c) => [basename(c.name), c]));
    return names.map((name) => {
      const c = byName.get(basename(name));
      if (!c) {
        throw new DatasetFormatError(
          `${name} is not among the images of the dataset`,
        );
      }
      return c.read();
    });
  } finally {
    src.close();
  }
}

/** Cats first, then dogs, each by number; with `limit`, the lowest-numbered half of each. */
function selectCandidates(all: Candidate[], limit?: number): Candidate[] {
  const sorted = [...all].sort((a, b) =>
    a.label - b.label || a.number - b.number || (a.name < b.name ? -1 : 1)
  );
  if (limit === undefined) return sorted;
  const cats = sorted.filter((c) => c.label === 0).slice(
    0,
    Math.ceil(limit / 2),
  );
  const dogs = sorted.filter((c) => c.label === 1).slice(
    0,
    Math.floor(limit / 2),
  );
  return [...cats, ...dogs];
}

/**
 * Decodes one JPEG and returns its `crop × crop × 3` uint8 center crop after
 * stretching the whole image to `resizeTo × resizeTo`.
 */
export function prepareImage(
  bytes: Uint8Array,
  resizeTo: number,
  crop: number,
): Uint8Array {
  const decoded = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    // Kaggle's photos are at most about 1 MP; this only guards against absurd headers.
    maxResolutionInMP: 200,
    maxMemoryUsageInMB: 2048,
  });
  const { width, height, data } = decoded;
  if (!width || !height || data.length !== width * height * 3) {
    throw new Error(
      `decoded to an empty or inconsistent ${width}×${height} image`,
    );
  }
  const resized = width === resizeTo && height === resizeTo
    ? Float32Array.from(data)
    : resize(data, height, width, 3, resizeTo, resizeTo);
  return toUint8(centerCrop(resized, resizeTo, resizeTo, 3, crop, crop));
}

function checkInt(name: string, value: number, min: number) {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer ≥ ${min}, got ${value}`);
  }
}

/**
 * Finds, decodes, resizes and crops the images (or reads them from the
 * cache): the uint8 images in a fixed order, before any split. Undecodable
 * entries are skipped and listed in `skipped`. Throws `DatasetNotFoundError`
 * when there is no dataset, `DatasetFormatError` when the zip or folder holds
 * no readable `cat.N.jpg` / `dog.N.jpg` images.
 */
export async function prepareDogsVsCats(
  opts: PrepareOptions = {},
): Promise<PreparedDogsVsCats> {
  const resizeTo = opts.resize ?? 64;
  const crop = opts.crop ?? 48;
  checkInt("resize", resizeTo, 1);
  checkInt("crop", crop, 1);
  if (crop > resizeTo) {
    throw new RangeError(`crop (${crop}) must not exceed resize (${resizeTo})`);
  }
  if (opts.limit !== undefined) checkInt("limit", opts.limit, 2);

  const source = findDogsVsCats(opts.path);
  const src = openSource(source);
  try {
    const cacheDir = opts.cacheDir === undefined
      ? defaultCacheDir()
      : opts.cacheDir;
    const key = await cacheKey({
      v: CACHE_VERSION,
      source,
      ...src.identity,
      resize: resizeTo,
      crop,
      limit: opts.limit ?? null,
    });
    const cacheFile = cacheDir === null
      ? null
      : join(cacheDir, `dogs-vs-cats-${key}.bin`);
    const pixels = crop * crop * 3;

    if (cacheFile) {
      const cached = readCache<
        {
          count: number;
          names: string[];
          skipped: { name: string; reason: string }[];
        }
      >(
        cacheFile,
        key,
      );
      if (cached.status === "hit") {
        const { count, names, skipped } = cached.header;
        if (
          cached.body.length === count * (1 + pixels) && names.length === count
        ) {
          opts.onProgress?.(count, count);
          return {
            labels: cached.body.subarray(0, count),
            images: cached.body.subarray(count),
            names,
            count,
            size: crop,
            source,
            skipped,
            fromCache: true,
          };
        }
        console.warn(
          `Cache file ${cacheFile} does not match its header; rebuilding it.`,
        );
      } else if (cached.status === "corrupt") {
        console.warn(
          `Cache file ${cacheFile} is unusable (${cached.reason}); rebuilding it.`,
        );
      }
    }

    const chosen = selectCandidates(src.candidates, opts.limit);
    if (chosen.length === 0) {
      throw new DatasetFormatError(
        `${source} holds no cat.N.jpg / dog.N.jpg images: ${
          describeContents(src)
        }. Expected Kaggle's train.zip layout (train/cat.0.jpg, ..., train/dog.12499.jpg) ` +
          `or a folder of those files (JPEGs named by class and number; other names and ` +
          `formats are not read). ` + DOWNLOAD_HINT,
      );
    }

    const images = new Uint8Array(chosen.length * pixels);
    const labels = new Uint8Array(chosen.length);
    const names: string[] = [];
    const skipped: { name: string; reason: string }[] = [];
    let lastYield = performance.now();
    for (let i = 0; i < chosen.length; i++) {
      const c = chosen[i];
      try {
        images.set(
          prepareImage(c.read(), resizeTo, crop),
          names.length * pixels,
        );
        labels[names.length] = c.label;
        names.push(basename(c.name));
      } catch (err) {
        skipped.push({
          name: c.name,
          reason: (err as Error).message || String(err),
        });
      }
      // Report and give the event loop a turn now and then, so a notebook's
      // progress display can repaint while this runs.
      if (i + 1 === chosen.length || performance.now() - lastYield > 200) {
        opts.onProgress?.(i + 1, chosen.length);
        await new Promise((r) => setTimeout(r, 0));
        lastYield = performance.now();
      }
    }
    const count = names.length;
    if (count === 0) {
      throw new DatasetFormatError(
        `${source}: none of its ${chosen.length} cat/dog JPEGs could be decoded (first: ${
          skipped[0].name
        }: ${skipped[0].reason}). Re-download the dataset.`,
      );
    }
    const prepared: PreparedDogsVsCats = {
      images: images.subarray(0, count * pixels),
      labels: labels.subarray(0, count),
      names,
      count,
      size: crop,
      source,
      skipped,
      fromCache: false,
    };
    if (cacheFile) {
      try {
        writeCache(cacheFile, key, {
          count,
          names,
          skipped,
          source,
          resize: resizeTo,
          crop,
        }, [
          prepared.labels,
          prepared.images,
        ]);
      } catch (err) {
        console.warn(
          `Could not write cache file ${cacheFile} (${
            (err as Error).message
          }); continuing without it.`,
        );
      }
    }
    return prepared;
  } finally {
    src.close();
  }
}

/**
 * A seeded split of `0..n-1`: a permutation from `Rng(seed)`, whose first
 * `round(n * trainFraction)` indices train and the rest validate.
 */
export function splitIndices(
  n: number,
  trainFraction: number,
  seed: number,
): { train: Int32Array; valid: Int32Array } {
  if (!(trainFraction > 0 && trainFraction <= 1)) {
    throw new RangeError(
      `trainFraction must be in (0, 1], got ${trainFraction}`,
    );
  }
  const order = new Rng(seed).permutation(n);
  const trainCount = Math.round(n * trainFraction);
  return {
    train: order.subarray(0, trainCount),
    valid: order.subarray(trainCount),
  };
}

/**
 * Loads Dogs vs. Cats: prepared images (see {@link prepareDogsVsCats}), split
 * by a seeded permutation (default seed 1999, 80% train), normalized with the
 * per-pixel mean and standard deviation of the training part.
 */
export async function loadDogsVsCats(
  opts: LoadOptions = {},
): Promise<DogsVsCats> {
  const prepared = await prepareDogsVsCats(opts);
  const { train, valid } = splitIndices(
    prepared.count,
    opts.trainFraction ?? 0.8,
    opts.seed ?? 1999,
  );
  const size = prepared.size;
  const pixels = size * size * 3;
  const stats = pixelStats(prepared.images, pixels, train);
  const part = (indices: Int32Array): LabelledImages => ({
    images: normalizeImages(prepared.images, pixels, indices, stats),
    labels: Uint8Array.from(indices, (i) => prepared.labels[i]),
    count: indices.length,
    height: size,
    width: size,
    channels: 3,
  });
  return {
    train: part(train),
    valid: part(valid),
    height: size,
    width: size,
    channels: 3,
    mean: stats.mean,
    std: stats.std,
    source: prepared.source,
    skipped: prepared.skipped,
    fromCache: prepared.fromCache,
    names: {
      train: Array.from(train, (i) => prepared.names[i]),
      valid: Array.from(valid, (i) => prepared.names[i]),
    },
  };
}

/**
 * Maps normalized images back to [0, 1] RGB for display: `x * std + mean`,
 * clamped. Pass the loaded dataset (or any `{ mean, std }`) as `stats`;
 * `images` may hold one image or many.
 */
export function denormalize(
  images: ArrayLike<number>,
  stats: { mean: Float32Array; std: Float32Array },
): Float32Array {
  return denormalizeImages(images, stats);
}
