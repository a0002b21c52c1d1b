import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { zipSync } from "fflate";
import jpeg from "jpeg-js";
import {
  denormalize,
  findDogsVsCats,
  loadDogsVsCats,
  prepareDogsVsCats,
  splitIndices,
} from "../../lib/data/dogs_vs_cats.ts";
import {
  DatasetFormatError,
  DatasetNotFoundError,
  DatasetPathError,
} from "../../lib/data/errors.ts";
import { describeData } from "../../lib/experiments/bn_convnet.ts";
import { centerCrop, resize, toUint8 } from "../../lib/data/image.ts";
import { ZipReader } from "../../lib/data/zip.ts";

const SHARED_ZIP = fileURLToPath(
  new URL("../../../shared/datasets/dogs-vs-cats/train.zip", import.meta.url),
);
const FIXTURES = fileURLToPath(new URL("../fixtures/dvc/", import.meta.url));
const REPO = fileURLToPath(new URL("../../", import.meta.url));
const HAVE_SHARED = (() => {
  try {
    Deno.statSync(SHARED_ZIP);
    return true;
  } catch {
    console.warn(`skipping the tests that need ${SHARED_ZIP}: it is absent`);
    return false;
  }
})();

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void> | void) {
  const dir = Deno.makeTempDirSync({ prefix: "dvc_test_" });
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** `{ "cat.0.jpg": bytes, ... }` for the first `n` cats and `n` dogs of the shared zip. */
function sharedSample(n: number): Record<string, Uint8Array> {
  using zip = ZipReader.open(SHARED_ZIP);
  const out: Record<string, Uint8Array> = {};
  for (const label of ["cat", "dog"]) {
    for (let i = 0; i < n; i++) {
      const entry = zip.entries.find((e) =>
        e.name === `train/${label}.${i}.jpg`
      )!;
      out[`${label}.${i}.jpg`] = zip.read(entry);
    }
  }
  return out;
}

/** Writes `files` as a zip in Kaggle's layout (`train/<name>`), deflated. */
function writeKaggleZip(path: string, files: Record<string, Uint8Array>) {
  const entries: Record<string, Uint8Array> = {};
  for (const [name, bytes] of Object.entries(files)) {
    entries[`train/${name}`] = bytes;
  }
  Deno.writeFileSync(path, zipSync(entries, { level: 6 }));
}

function writeFolder(dir: string, files: Record<string, Uint8Array>) {
  Deno.mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) {
    Deno.writeFileSync(join(dir, name), bytes);
  }
}

/** The expected 48×48 crop of a 64×64 JPEG: rows and columns 8..55, no resampling. */
function expectedCrop(bytes: Uint8Array): Uint8Array {
  const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
  assert.equal(img.width, 64);
  assert.equal(img.height, 64);
  return centerCrop(img.data, 64, 64, 3, 48, 48);
}

const PIXELS = 48 * 48 * 3;

function fixtureFiles(): Record<string, Uint8Array> {
  return {
    "cat.0.jpg": Deno.readFileSync(join(FIXTURES, "cat.0.jpg")),
    "dog.0.jpg": Deno.readFileSync(join(FIXTURES, "dog.0.jpg")),
    "cat.1.jpg": Deno.readFileSync(join(FIXTURES, "truncated.jpg")),
    "cat.5.jpg": new TextEncoder().encode("this is a text file, not a JPEG"),
    "README.txt": new TextEncoder().encode("ignored: not a cat or dog name"),
  };
}

Deno.test({
  name:
    "loader on a 10-image zip cut from the shared zip: labels, crops, split, normalization",
  ignore: !HAVE_SHARED,
  async fn() {
    await withTempDir(async (dir) => {
      const files = sharedSample(5);
      const zipPath = join(dir, "train.zip");
      writeKaggleZip(zipPath, files);
      const prepared = await prepareDogsVsCats({
        path: zipPath,
        cacheDir: null,
      });
      assert.equal(prepared.count, 10);
      assert.deepEqual(
        prepared.names,
        [0, 1, 2, 3, 4].map((i) => `cat.${i}.jpg`).concat(
          [0, 1, 2, 3, 4].map((i) => `dog.${i}.jpg`),
        ),
      );
      assert.deepEqual(Array.from(prepared.labels), [
        0,
        0,
        0,
        0,
        0,
        1,
        1,
        1,
        1,
        1,
      ]);
      prepared.names.forEach((name, i) => {
        assert.deepEqual(
          prepared.images.subarray(i * PIXELS, (i + 1) * PIXELS),
          expectedCrop(files[name]),
          name,
        );
      });

      const progress: number[] = [];
      const data = await loadDogsVsCats({
        path: zipPath,
        cacheDir: join(dir, "cache"),
        seed: 1,
        onProgress: (done, total) => {
          assert.equal(total, 10);
          progress.push(done);
        },
      });
      assert.equal(progress.at(-1), 10);
      assert.equal(data.source, zipPath);
      assert.equal(data.fromCache, false);
      assert.deepEqual(data.skipped, []);
      assert.equal(data.train.count, 8);
      assert.equal(data.valid.count, 2);
      assert.equal(data.train.images.length, 8 * PIXELS);
      assert.equal(data.height, 48);
      assert.equal(data.width, 48);
      assert.deepEqual(
        [...data.names.train, ...data.names.valid].sort(),
        [...prepared.names].sort(),
      );
      data.names.train.forEach((name, k) =>
        assert.equal(data.train.labels[k], name.startsWith("dog") ? 1 : 0)
      );
      data.names.valid.forEach((name, k) =>
        assert.equal(data.valid.labels[k], name.startsWith("dog") ? 1 : 0)
      );

      // Mean and std by hand from the raw crops of the training names.
      const raw = data.names.train.map((name) => expectedCrop(files[name]));
      for (const j of [0, 1, 2, 1000, PIXELS - 1]) {
        const values = raw.map((r) => r[j] / 255);
        const mean = values.reduce((s, v) => s + v, 0) / values.length;
        const std = Math.sqrt(
          values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length,
        );
        assert.ok(Math.abs(data.mean[j] - mean) < 1e-6, `mean[${j}]`);
        assert.ok(
          Math.abs(data.std[j] - Math.max(std, 1 / 255)) < 1e-6,
          `std[${j}]`,
        );
        const first = (raw[0][j] / 255 - mean) / Math.max(std, 1 / 255);
        assert.ok(
          Math.abs(data.train.images[j] - first) < 1e-4,
          `train.images[${j}]`,
        );
      }
      // Valid images use the training statistics; denormalize gives back the raw crop.
      const valid0 = denormalize(data.valid.images.subarray(0, PIXELS), data);
      const rawValid0 = expectedCrop(files[data.names.valid[0]]);
      for (let j = 0; j < PIXELS; j++) {
        assert.ok(Math.abs(valid0[j] - rawValid0[j] / 255) < 1e-5);
      }

      // Same seed, same split; another seed, another split.
      const again = await loadDogsVsCats({
        path: zipPath,
        cacheDir: join(dir, "cache"),
        seed: 1,
      });
      assert.deepEqual(again.names, data.names);
      const other = await loadDogsVsCats({
        path: zipPath,
        cacheDir: join(dir, "cache"),
        seed: 2,
      });
      assert.notDeepEqual(other.names, data.names);
    });
  },
});

Deno.test({
  name:
    "an extracted folder (train/ inside, or the jpgs directly) reads like the zip",
  ignore: !HAVE_SHARED,
  async fn() {
    await withTempDir(async (dir) => {
      const files = sharedSample(3);
      writeKaggleZip(join(dir, "train.zip"), files);
      writeFolder(join(dir, "extracted", "train"), files);
      writeFolder(join(dir, "flat"), files);
      const fromZip = await prepareDogsVsCats({
        path: join(dir, "train.zip"),
        cacheDir: null,
      });
      for (const folder of ["extracted", "flat"]) {
        const fromDir = await prepareDogsVsCats({
          path: join(dir, folder),
          cacheDir: null,
        });
        assert.deepEqual(fromDir.names, fromZip.names, folder);
        assert.deepEqual(fromDir.labels, fromZip.labels, folder);
        assert.deepEqual(fromDir.images, fromZip.images, folder);
      }
    });
  },
});

Deno.test("broken entries (truncated JPEG, text named cat.5.jpg) are skipped and listed, in a folder and a zip", async () => {
  await withTempDir(async (dir) => {
    const files = fixtureFiles();
    writeFolder(join(dir, "folder"), files);
    writeKaggleZip(join(dir, "train.zip"), files);
    for (const path of [join(dir, "folder"), join(dir, "train.zip")]) {
      const data = await loadDogsVsCats({
        path,
        cacheDir: null,
        trainFraction: 0.5,
      });
      assert.deepEqual([...data.names.train, ...data.names.valid].sort(), [
        "cat.0.jpg",
        "dog.0.jpg",
      ]);
      assert.deepEqual(
        data.skipped.map((s) => s.name.replace(/^train\//, "")),
        ["cat.1.jpg", "cat.5.jpg"],
      );
      assert.ok(data.skipped.every((s) => s.reason.length > 0));
      assert.equal(data.train.count + data.valid.count, 2);
      // What the notebook prints after loading counts and names them.
      const lines = describeData(data).split("\n");
      assert.equal(
        lines[2],
        "skipped 2 of 4 images that could not be decoded:",
        lines.join("\n"),
      );
      assert.match(lines[3], /^ {2}(train\/)?cat\.1\.jpg: \S/);
      assert.match(lines[4], /^ {2}(train\/)?cat\.5\.jpg: \S/);
      assert.equal(lines.length, 5);
    }
  });
});

Deno.test("describeData names at most five skipped images and says where the rest are", () => {
  const skipped = Array.from({ length: 7 }, (_, i) => ({
    name: `dog.${i}.jpg`,
    reason: "SOI not found",
  }));
  const base = {
    source: "/data/train.zip",
    fromCache: true,
    train: { count: 8 },
    valid: { count: 2 },
    height: 48,
    width: 48,
  };
  assert.equal(
    describeData({ ...base, skipped: [] }),
    "/data/train.zip (prepared images from the cache)\ntrain 8, valid 2, 48x48 RGB",
  );
  const lines = describeData({ ...base, skipped }).split("\n");
  assert.equal(
    lines[2],
    "skipped 7 of 17 images that could not be decoded (the first 5; metrics.json lists all):",
  );
  assert.deepEqual(
    lines.slice(3),
    [0, 1, 2, 3, 4].map((i) => `  dog.${i}.jpg: SOI not found`),
  );
});

Deno.test("the fixture folder with a truncated JPEG: every image is either loaded or listed as skipped", async () => {
  await withTempDir(async (dir) => {
    // tests/fixtures/dvc's truncated.jpg under a Kaggle name, next to the two good photos.
    writeFolder(dir, {
      "cat.0.jpg": Deno.readFileSync(join(FIXTURES, "cat.0.jpg")),
      "dog.0.jpg": Deno.readFileSync(join(FIXTURES, "dog.0.jpg")),
      "dog.7.jpg": Deno.readFileSync(join(FIXTURES, "truncated.jpg")),
    });
    const data = await loadDogsVsCats({ path: dir, cacheDir: null });
    assert.deepEqual(data.skipped.map((s) => s.name), ["dog.7.jpg"]);
    assert.equal(data.train.count + data.valid.count, 2);
    assert.match(
      describeData(data),
      /skipped 1 of 3 images.*\n {2}dog\.7\.jpg: /,
    );
  });
});

Deno.test("a folder of PNGs is a DatasetFormatError saying how many files it has and what they are called", async () => {
  await withTempDir(async (dir) => {
    const png = new Uint8Array([
      0x89,
      0x50,
      0x4e,
      0x47,
      0x0d,
      0x0a,
      0x1a,
      0x0a,
    ]);
    const names = ["cat.0.png", "cat.1.png", "dog.0.png"];
    writeFolder(dir, Object.fromEntries(names.map((n) => [n, png])));
    await assert.rejects(
      prepareDogsVsCats({ path: dir, cacheDir: null }),
      (err: Error) => {
        assert.ok(err instanceof DatasetFormatError, String(err));
        assert.ok(
          err.message.includes(
            `its 3 files are named otherwise (${names.join(", ")})`,
          ),
          err.message,
        );
        assert.doesNotMatch(err.message, /\b0 entries\b/);
        return true;
      },
    );
    const empty = join(dir, "empty");
    Deno.mkdirSync(empty);
    await assert.rejects(
      prepareDogsVsCats({ path: empty, cacheDir: null }),
      (err: Error) =>
        err instanceof DatasetFormatError &&
        err.message.includes("the folder has no files"),
    );
  });
});

Deno.test("an empty zip, a zip without cat/dog JPEGs, one with only broken ones, and a non-zip are DatasetFormatErrors naming the file", async () => {
  await withTempDir(async (dir) => {
    const empty = join(dir, "empty.zip");
    Deno.writeFileSync(empty, zipSync({}));
    const other = join(dir, "other.zip");
    Deno.writeFileSync(
      other,
      zipSync({ "README.txt": new TextEncoder().encode("hi") }),
    );
    const broken = join(dir, "broken.zip");
    writeKaggleZip(broken, { "cat.1.jpg": fixtureFiles()["cat.1.jpg"] });
    const notZip = join(dir, "train.zip");
    Deno.writeFileSync(
      notZip,
      new TextEncoder().encode("<html>a download error page</html>"),
    );
    for (const path of [empty, other, broken, notZip]) {
      await assert.rejects(
        prepareDogsVsCats({ path, cacheDir: null }),
        (err: Error) =>
          err instanceof DatasetFormatError && err.message.includes(path),
        path,
      );
    }
  });
});

Deno.test("an explicit path that does not exist is a DatasetPathError (a failure, not a skip) listing the paths searched", async () => {
  const missing = "/nonexistent/dogs-vs-cats/train.zip";
  await assert.rejects(loadDogsVsCats({ path: missing }), (err: Error) => {
    assert.ok(err instanceof DatasetPathError, String(err));
    assert.ok(!(err instanceof DatasetNotFoundError));
    assert.equal(err.name, "DatasetPathError");
    assert.ok(
      err.message.includes(`the path given, "${missing}", does not exist`),
      err.message,
    );
    assert.ok(err.message.includes(missing), err.message);
    assert.ok(
      err.message.includes("https://www.kaggle.com/c/dogs-vs-cats/data"),
    );
    assert.ok(
      err.message.includes("dataPath") && err.message.includes("DOGS_VS_CATS"),
    );
    return true;
  });
  // A relative path is tried against the working directory, then the repository root.
  const cwd = Deno.cwd();
  await withTempDir((dir) => {
    Deno.chdir(dir);
    try {
      assert.throws(() => findDogsVsCats("no/such/train.zip"), (err: Error) => {
        const listed = err.message.split("\n").filter((l) =>
          l.startsWith("  - ") && l.includes("no/such/train.zip")
        );
        assert.ok(err instanceof DatasetPathError);
        assert.equal(listed.length, 2, err.message);
        return true;
      });
      assert.equal(
        findDogsVsCats("tests/fixtures/dvc"),
        join(REPO, "tests/fixtures/dvc"),
      );
    } finally {
      Deno.chdir(cwd);
    }
  });
  const previous = Deno.env.get("DOGS_VS_CATS");
  Deno.env.set("DOGS_VS_CATS", "/nonexistent/from-env");
  try {
    assert.throws(
      () => findDogsVsCats(),
      (err: Error) =>
        err instanceof DatasetPathError &&
        err.message.includes("/nonexistent/from-env (DOGS_VS_CATS)"),
    );
    assert.equal(
      findDogsVsCats(FIXTURES),
      FIXTURES,
      "an explicit path wins over the environment",
    );
    // Nothing named and nothing in the default places: the data is simply
    // absent, which the runner reports as a skip.
    Deno.env.delete("DOGS_VS_CATS");
    const defaults = [
      "data/dogs-vs-cats/train.zip",
      "data/dogs-vs-cats/train",
      "data/train.zip",
    ].map((p) => join(REPO, p));
    const present = defaults.filter((p) => {
      try {
        Deno.statSync(p);
        return true;
      } catch {
        return false;
      }
    });
    if (present.length === 0) {
      assert.throws(
        () => findDogsVsCats(),
        (err: Error) =>
          err instanceof DatasetNotFoundError &&
          defaults.every((p) => err.message.includes(p)),
      );
    }
  } finally {
    if (previous === undefined) Deno.env.delete("DOGS_VS_CATS");
    else Deno.env.set("DOGS_VS_CATS", previous);
  }
});

Deno.test("the cache: a second call hits it with identical data; a corrupt file is rebuilt", async () => {
  await withTempDir(async (dir) => {
    writeFolder(join(dir, "folder"), fixtureFiles());
    const cacheDir = join(dir, "cache");
    const opts = { path: join(dir, "folder"), cacheDir };
    const first = await prepareDogsVsCats(opts);
    assert.equal(first.fromCache, false);
    const cacheFiles = [...Deno.readDirSync(cacheDir)].map((e) => e.name);
    assert.equal(cacheFiles.length, 1);
    assert.match(cacheFiles[0], /^dogs-vs-cats-[0-9a-f]{16}\.bin$/);

    const second = await prepareDogsVsCats(opts);
    assert.equal(second.fromCache, true);
    assert.deepEqual(second.images, first.images);
    assert.deepEqual(second.labels, first.labels);
    assert.deepEqual(second.names, first.names);
    assert.deepEqual(second.skipped, first.skipped);
    const loaded = await loadDogsVsCats(opts);
    assert.equal(loaded.fromCache, true);

    // Truncate the cache file: it is reported, ignored and rewritten.
    const cacheFile = join(cacheDir, cacheFiles[0]);
    const bytes = Deno.readFileSync(cacheFile);
    Deno.writeFileSync(cacheFile, bytes.subarray(0, bytes.length - 100));
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (msg: string) => warnings.push(msg);
    let rebuilt;
    try {
      rebuilt = await prepareDogsVsCats(opts);
    } finally {
      console.warn = warn;
    }
    assert.equal(rebuilt.fromCache, false);
    assert.deepEqual(rebuilt.images, first.images);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /unusable.*rebuilding/);
    assert.equal((await prepareDogsVsCats(opts)).fromCache, true);

    // Other preprocessing settings get their own cache file.
    const smaller = await prepareDogsVsCats({ ...opts, crop: 32 });
    assert.equal(smaller.fromCache, false);
    assert.equal(smaller.images.length, 2 * 32 * 32 * 3);
    assert.equal([...Deno.readDirSync(cacheDir)].length, 2);
  });
});

Deno.test("splitIndices: 16,000/4,000 of 20,000, a partition, the same for the same seed", () => {
  const a = splitIndices(20000, 0.8, 1999);
  assert.equal(a.train.length, 16000);
  assert.equal(a.valid.length, 4000);
  const seen = new Uint8Array(20000);
  for (const i of [...a.train, ...a.valid]) seen[i]++;
  assert.ok(seen.every((n) => n === 1), "every index exactly once");
  const b = splitIndices(20000, 0.8, 1999);
  assert.deepEqual(b.train, a.train);
  assert.notDeepEqual(splitIndices(20000, 0.8, 2000).train, a.train);
  assert.equal(splitIndices(25000, 0.8, 1).train.length, 20000);
  assert.equal(splitIndices(10, 1, 1).valid.length, 0);
  assert.throws(() => splitIndices(10, 0, 1), RangeError);
});

Deno.test({
  name:
    "limit picks a balanced, deterministic subset (lowest numbers of each class)",
  ignore: !HAVE_SHARED,
  async fn() {
    const four = await prepareDogsVsCats({
      path: SHARED_ZIP,
      limit: 4,
      cacheDir: null,
    });
    assert.deepEqual(four.names, [
      "cat.0.jpg",
      "cat.1.jpg",
      "dog.0.jpg",
      "dog.1.jpg",
    ]);
    const hundred = await prepareDogsVsCats({
      path: SHARED_ZIP,
      limit: 101,
      cacheDir: null,
    });
    assert.equal(hundred.count, 101);
    assert.equal(Array.from(hundred.labels).filter((l) => l === 1).length, 50);
    assert.equal(hundred.names[50], "cat.50.jpg");
    assert.equal(hundred.names[51], "dog.0.jpg");
  },
});

Deno.test({
  name:
    "full-size images (~500×375, Kaggle's size) shrink to crops close to the 64×64 ones",
  ignore: !HAVE_SHARED,
  async fn() {
    await withTempDir(async (dir) => {
      const small = sharedSample(2);
      const large: Record<string, Uint8Array> = {};
      for (const [name, bytes] of Object.entries(small)) {
        const img = jpeg.decode(bytes, {
          useTArray: true,
          formatAsRGBA: false,
        });
        const big = toUint8(resize(img.data, 64, 64, 3, 375, 500));
        const rgba = new Uint8Array(375 * 500 * 4);
        for (let p = 0; p < 375 * 500; p++) {
          rgba.set(big.subarray(p * 3, p * 3 + 3), p * 4);
          rgba[p * 4 + 3] = 255;
        }
        large[name] =
          jpeg.encode({ data: rgba, width: 500, height: 375 }, 95).data;
      }
      writeKaggleZip(join(dir, "small.zip"), small);
      writeKaggleZip(join(dir, "large.zip"), large);
      const a = await prepareDogsVsCats({
        path: join(dir, "small.zip"),
        cacheDir: null,
      });
      const b = await prepareDogsVsCats({
        path: join(dir, "large.zip"),
        cacheDir: null,
      });
      assert.deepEqual(b.names, a.names);
      let diff = 0;
      for (let i = 0; i < a.images.length; i++) {
        diff += Math.abs(a.images[i] - b.images[i]);
      }
      const meanAbs = diff / a.images.length / 255;
      console.log(
        `full-size vs 64×64 crops: mean |difference| = ${
          meanAbs.toFixed(4)
        } (in [0,1] units)`,
      );
      assert.ok(meanAbs < 0.02, `mean absolute difference ${meanAbs}`);
    });
  },
});
