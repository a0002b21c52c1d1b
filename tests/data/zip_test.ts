import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { zipSync } from "fflate";
import { DatasetFormatError } from "../../lib/data/errors.ts";
import { crc32, ZipReader } from "../../lib/data/zip.ts";
import { Rng } from "../../lib/random.ts";

const SHARED_ZIP = fileURLToPath(
  new URL("../../../shared/datasets/dogs-vs-cats/train.zip", import.meta.url),
);
const FIXTURES = fileURLToPath(new URL("../fixtures/dvc/", import.meta.url));

function haveSharedZip(): boolean {
  try {
    Deno.statSync(SHARED_ZIP);
    return true;
  } catch {
    console.warn(`skipping shared-zip tests: ${SHARED_ZIP} is absent`);
    return false;
  }
}

function writeTemp(bytes: Uint8Array, name = "test.zip"): string {
  const dir = Deno.makeTempDirSync({ prefix: "zip_test_" });
  const path = join(dir, name);
  Deno.writeFileSync(path, bytes);
  return path;
}

Deno.test("crc32 matches the standard check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

Deno.test("ZipReader reads stored and deflated entries back byte for byte", () => {
  const rng = new Rng(7);
  const text = new TextEncoder().encode("hello, zip ".repeat(50));
  const noise = Uint8Array.from({ length: 5000 }, () => rng.int(256));
  const path = writeTemp(zipSync({
    "a.txt": [text, { level: 0 }],
    "dir/b.bin": [noise, { level: 6 }],
    "dir/c.txt": [text, { level: 9 }],
    "empty.txt": new Uint8Array(0),
  }));
  using zip = ZipReader.open(path);
  assert.deepEqual(zip.entries.map((e) => e.name), [
    "a.txt",
    "dir/b.bin",
    "dir/c.txt",
    "empty.txt",
  ]);
  const [a, b, c, empty] = zip.entries;
  assert.equal(a.method, 0);
  assert.equal(c.method, 8);
  assert.ok(c.compressedSize < c.size, "repetitive text compresses");
  assert.deepEqual(zip.read(a), text);
  assert.deepEqual(zip.read(b), noise);
  assert.deepEqual(zip.read(c), text);
  assert.equal(zip.read(empty).length, 0);
  // Reading again, out of order, gives the same bytes.
  assert.deepEqual(zip.read(a), text);
});

Deno.test("ZipReader: an empty archive has no entries", () => {
  using zip = ZipReader.open(writeTemp(zipSync({})));
  assert.equal(zip.entries.length, 0);
});

Deno.test("ZipReader: a non-zip or truncated file is a DatasetFormatError naming it", () => {
  const text = writeTemp(
    new TextEncoder().encode("not a zip archive at all, just some text"),
  );
  assert.throws(
    () => ZipReader.open(text),
    (err: Error) =>
      err instanceof DatasetFormatError && err.message.includes(text),
  );
  const tiny = writeTemp(new Uint8Array([1, 2, 3]));
  assert.throws(() => ZipReader.open(tiny), DatasetFormatError);
  const whole = zipSync({ "x.txt": new TextEncoder().encode("x".repeat(100)) });
  // Drop the 30 bytes before the end record: the central directory now runs past the file's end.
  const cut = new Uint8Array(whole.length - 30);
  cut.set(whole.subarray(0, whole.length - 22 - 30));
  cut.set(whole.subarray(whole.length - 22), cut.length - 22);
  assert.throws(() => ZipReader.open(writeTemp(cut)), DatasetFormatError);
});

Deno.test("ZipReader: a corrupt entry fails its CRC check, the others still read", () => {
  const good = new TextEncoder().encode("good entry");
  const bad = new TextEncoder().encode("this one gets a flipped byte");
  const bytes = zipSync({
    "good.txt": [good, { level: 0 }],
    "bad.txt": [bad, { level: 0 }],
  });
  // Flip a byte inside bad.txt's stored data (found by searching for its text).
  const start = findBytes(bytes, bad);
  assert.ok(start > 0);
  bytes[start + 5] ^= 0xff;
  using zip = ZipReader.open(writeTemp(bytes));
  assert.throws(() => zip.read(zip.entries[1]), /CRC-32 mismatch/);
  assert.deepEqual(zip.read(zip.entries[0]), good);
});

function findBytes(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

Deno.test({
  name: "ZipReader lists the shared Dogs vs. Cats zip and reads an entry",
  ignore: !haveSharedZip(),
  fn() {
    using zip = ZipReader.open(SHARED_ZIP);
    const files = zip.entries.filter((e) => !e.isDirectory);
    assert.equal(files.length, 20000);
    assert.ok(files.every((e) => /^train\/(cat|dog)\.\d+\.jpg$/.test(e.name)));
    const cat0 = files.find((e) => e.name === "train/cat.0.jpg")!;
    assert.deepEqual(
      zip.read(cat0),
      Deno.readFileSync(join(FIXTURES, "cat.0.jpg")),
    );
  },
});
