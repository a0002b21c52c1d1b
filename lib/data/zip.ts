/**
 * A random-access reader for ZIP archives on disk.
 *
 * It reads the central directory once, then each entry on demand by seeking
 * to it, so a 540 MB archive of JPEGs is never held in memory whole: only the
 * entry being read is. Stored (method 0) and deflated (method 8) entries are
 * supported, ZIP64 included; every entry is checked against its CRC-32.
 *
 * ```ts
 * using zip = ZipReader.open("data/dogs-vs-cats/train.zip");
 * for (const entry of zip.entries) console.log(entry.name, zip.read(entry).length);
 * ```
 *
 * @module
 */

import { inflateSync } from "fflate";
import { DatasetFormatError } from "./errors.ts";

/** One file in a ZIP archive, as listed in its central directory. */
export interface ZipEntry {
  /** Path inside the archive, with `/` separators, e.g. `train/cat.0.jpg`. */
  name: string;
  /** True for directory entries (names ending in `/`). */
  isDirectory: boolean;
  /** Compression method: 0 stored, 8 deflated (others cannot be read). */
  method: number;
  /** Size of the stored (compressed) bytes. */
  compressedSize: number;
  /** Size of the file once decompressed. */
  size: number;
  /** CRC-32 of the decompressed bytes. */
  crc32: number;
  /** Byte offset of the entry's local header in the archive. */
  localHeaderOffset: number;
  /** General-purpose flags (bit 0: encrypted). */
  flags: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_MIN_SIZE = 22;
const MAX_COMMENT = 0xffff;

/** A ZIP archive opened for reading; close it (or `using` it) when done. */
export class ZipReader {
  /** Every entry of the central directory, in archive order. */
  readonly entries: ZipEntry[];
  /** The archive's path, as given to `open`. */
  readonly path: string;
  #file: Deno.FsFile;
  #size: number;
  #header = new Uint8Array(30);

  private constructor(
    path: string,
    file: Deno.FsFile,
    size: number,
    entries: ZipEntry[],
  ) {
    this.path = path;
    this.#file = file;
    this.#size = size;
    this.entries = entries;
  }

  /**
   * Opens an archive and reads its central directory.
   * Throws `DatasetFormatError` (naming the file) when it is not a ZIP archive.
   */
  static open(path: string): ZipReader {
    const file = Deno.openSync(path, { read: true });
    try {
      const size = file.statSync().size;
      const entries = readCentralDirectory(path, file, size);
      return new ZipReader(path, file, size, entries);
    } catch (err) {
      file.close();
      throw err;
    }
  }

  /**
   * Reads and decompresses one entry. Throws an `Error` saying why when the
   * entry is encrypted, uses an unsupported method, lies outside the file or
   * fails its CRC check; the archive stays usable for the other entries.
   */
  read(entry: ZipEntry): Uint8Array {
    if (entry.flags & 1) {
      throw new Error(
        `${entry.name} is encrypted; only plain ZIP entries can be read`,
      );
    }
    if (entry.method !== 0 && entry.method !== 8) {
      throw new Error(
        `${entry.name} uses compression method ${entry.method}; only stored (0) and deflate (8) are supported`,
      );
    }
    const header = this.#header;
    readAt(this.#file, entry.localHeaderOffset, header, this.#size);
    const view = new DataView(header.buffer);
    if (view.getUint32(0, true) !== LOCAL_SIGNATURE) {
      throw new Error(
        `${entry.name}: bad local header signature at offset ${entry.localHeaderOffset}`,
      );
    }
    const dataStart = entry.localHeaderOffset + 30 + view.getUint16(26, true) +
      view.getUint16(28, true);
    const stored = new Uint8Array(entry.compressedSize);
    readAt(this.#file, dataStart, stored, this.#size);
    const data = entry.method === 0
      ? stored
      : inflateSync(stored, { out: new Uint8Array(entry.size) });
    if (data.length !== entry.size) {
      throw new Error(
        `${entry.name}: inflated to ${data.length} bytes, expected ${entry.size}`,
      );
    }
    if (crc32(data) !== entry.crc32) {
      throw new Error(
        `${entry.name}: CRC-32 mismatch (the archive is corrupt)`,
      );
    }
    return data;
  }

  /** Closes the underlying file. */
  close(): void {
    this.#file.close();
  }

  /** Closes the underlying file (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Fills `out` with the bytes at `offset`; throws if the file ends first. */
function readAt(
  file: Deno.FsFile,
  offset: number,
  out: Uint8Array,
  fileSize: number,
) {
  if (offset + out.length > fileSize) {
    throw new Error(
      `read of ${out.length} bytes at offset ${offset} runs past the end of the ${fileSize}-byte file (truncated archive?)`,
    );
  }
  file.seekSync(offset, Deno.SeekMode.Start);
  let done = 0;
  while (done < out.length) {
    const n = file.readSync(out.subarray(done));
    if (n === null || n === 0) {
      throw new Error(`unexpected end of file at offset ${offset + done}`);
    }
    done += n;
  }
}

function readCentralDirectory(
  path: string,
  file: Deno.FsFile,
  size: number,
): ZipEntry[] {
  const notZip = (why: string) =>
    new DatasetFormatError(
      `${path} is not a readable ZIP archive: ${why}. Re-download it, or pass the extracted folder instead.`,
    );
  if (size < EOCD_MIN_SIZE) throw notZip(`only ${size} bytes long`);

  const tailLength = Math.min(size, EOCD_MIN_SIZE + MAX_COMMENT);
  const tail = new Uint8Array(tailLength);
  readAt(file, size - tailLength, tail, size);
  const tv = new DataView(tail.buffer);
  let eocd = -1;
  for (let i = tailLength - EOCD_MIN_SIZE; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw notZip("no end-of-central-directory record");

  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locator = eocd - 20;
    if (
      locator < 0 || tv.getUint32(locator, true) !== ZIP64_LOCATOR_SIGNATURE
    ) {
      throw notZip("ZIP64 markers without a ZIP64 locator");
    }
    const z64Offset = Number(tv.getBigUint64(locator + 8, true));
    const z64 = new Uint8Array(56);
    readAt(file, z64Offset, z64, size);
    const zv = new DataView(z64.buffer);
    if (zv.getUint32(0, true) !== ZIP64_EOCD_SIGNATURE) {
      throw notZip("bad ZIP64 end record");
    }
    count = Number(zv.getBigUint64(32, true));
    cdSize = Number(zv.getBigUint64(40, true));
    cdOffset = Number(zv.getBigUint64(48, true));
  }
  if (cdOffset + cdSize > size) {
    throw notZip(
      "central directory lies past the end of the file (truncated?)",
    );
  }

  const cd = new Uint8Array(cdSize);
  readAt(file, cdOffset, cd, size);
  const v = new DataView(cd.buffer);
  const utf8 = new TextDecoder();
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdSize || v.getUint32(p, true) !== CENTRAL_SIGNATURE) {
      throw notZip(`central directory entry ${i} is damaged`);
    }
    const nameLength = v.getUint16(p + 28, true);
    const extraLength = v.getUint16(p + 30, true);
    const commentLength = v.getUint16(p + 32, true);
    const name = utf8.decode(cd.subarray(p + 46, p + 46 + nameLength));
    let compressedSize = v.getUint32(p + 20, true);
    let uncompressedSize = v.getUint32(p + 24, true);
    let localHeaderOffset = v.getUint32(p + 42, true);
    // ZIP64 extra field: the 64-bit values, in this order, for each 32-bit field set to 0xffffffff.
    let e = p + 46 + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = v.getUint16(e, true);
      const len = v.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        if (uncompressedSize === 0xffffffff) {
          uncompressedSize = Number(v.getBigUint64(q, true));
          q += 8;
        }
        if (compressedSize === 0xffffffff) {
          compressedSize = Number(v.getBigUint64(q, true));
          q += 8;
        }
        if (localHeaderOffset === 0xffffffff) {
          localHeaderOffset = Number(v.getBigUint64(q, true));
        }
      }
      e += 4 + len;
    }
    entries.push({
      name,
      isDirectory: name.endsWith("/"),
      method: v.getUint16(p + 10, true),
      compressedSize,
      size: uncompressedSize,
      crc32: v.getUint32(p + 16, true),
      localHeaderOffset,
      flags: v.getUint16(p + 8, true),
    });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (the ZIP / PNG polynomial) of `data`, as an unsigned integer. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}
