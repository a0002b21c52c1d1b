/**
 * IDX files, the format MNIST ships in.
 *
 * An IDX file is a 4-byte magic number (two zero bytes, a data type code and
 * the number of dimensions), one big-endian uint32 per dimension, then the
 * data in row-major order, big-endian for the multi-byte types. See
 * http://yann.lecun.com/exdb/mnist/ ("FILE FORMATS FOR THE MNIST DATABASE").
 *
 * @module
 */

import { gunzipSync } from "node:zlib";
import { DatasetFormatError, DatasetPathError } from "./errors.ts";

/** The element types an IDX file can hold. */
export type IdxType =
  | "uint8"
  | "int8"
  | "int16"
  | "int32"
  | "float32"
  | "float64";

/** The typed array that holds each {@link IdxType}. */
export type IdxData =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** A parsed IDX file: its dimensions, element type and data (row-major). */
export interface IdxArray {
  /** The dimensions, outermost first, e.g. `[60000, 28, 28]`. */
  dims: number[];
  /** The element type. */
  type: IdxType;
  /** The elements in row-major order, in native byte order. */
  data: IdxData;
}

/** What a caller expects of a file; a mismatch is a format error. */
export interface IdxExpectation {
  /** The element type the file must hold. */
  type?: IdxType;
  /** The number of dimensions the file must have. */
  ndims?: number;
}

const TYPES: Record<number, { type: IdxType; size: number }> = {
  0x08: { type: "uint8", size: 1 },
  0x09: { type: "int8", size: 1 },
  0x0b: { type: "int16", size: 2 },
  0x0c: { type: "int32", size: 4 },
  0x0d: { type: "float32", size: 4 },
  0x0e: { type: "float64", size: 8 },
};

const TYPE_CODES: Record<IdxType, number> = {
  uint8: 0x08,
  int8: 0x09,
  int16: 0x0b,
  int32: 0x0c,
  float32: 0x0d,
  float64: 0x0e,
};

function hex(value: number, digits: number): string {
  return "0x" + value.toString(16).padStart(digits, "0");
}

/**
 * Parses the bytes of an IDX file.
 *
 * @param bytes the whole file (already decompressed)
 * @param name the file's name or path, used in error messages
 * @param expect the type and number of dimensions the caller needs, if any
 * @throws {DatasetFormatError} naming the file and the fault: empty or short
 *   header, bad magic number, unknown type code, unexpected type or number of
 *   dimensions, truncated data or trailing bytes.
 */
export function parseIdx(
  bytes: Uint8Array,
  name: string,
  expect: IdxExpectation = {},
): IdxArray {
  const fail = (what: string) => new DatasetFormatError(`${name}: ${what}`);
  if (bytes.length === 0) {
    throw fail(
      "file is empty (an IDX file starts with a 4-byte magic number); re-download it",
    );
  }
  if (bytes.length < 4) {
    throw fail(
      `file is ${bytes.length} bytes, too short for the 4-byte IDX magic number; re-download it`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const typeCode = bytes[2];
  const ndims = bytes[3];
  const known = TYPES[typeCode];

  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const wanted = expect.type !== undefined && expect.ndims !== undefined
      ? hex(TYPE_CODES[expect.type] * 256 + expect.ndims, 8)
      : "0x0000 followed by a type code and a dimension count";
    throw fail(
      `bad magic number ${
        hex(magic, 8)
      }, expected ${wanted} (is this an IDX file?` +
        (bytes[0] === 0x1f && bytes[1] === 0x8b
          ? " It looks gzipped: decompress it first)"
          : ")"),
    );
  }
  if (known === undefined) {
    throw fail(
      `unknown data type code ${hex(typeCode, 2)} in magic number ${
        hex(magic, 8)
      }, ` +
        `expected one of 0x08 (uint8), 0x09 (int8), 0x0b (int16), 0x0c (int32), ` +
        `0x0d (float32), 0x0e (float64)`,
    );
  }
  if (expect.type !== undefined && known.type !== expect.type) {
    throw fail(
      `data type is ${known.type} (code ${
        hex(typeCode, 2)
      }), expected ${expect.type} ` +
        `(code ${hex(TYPE_CODES[expect.type], 2)}); is this the right file?`,
    );
  }
  if (ndims === 0) {
    throw fail(
      `magic number ${
        hex(magic, 8)
      } says 0 dimensions; an IDX file needs at least 1`,
    );
  }
  if (expect.ndims !== undefined && ndims !== expect.ndims) {
    throw fail(
      `has ${ndims} dimensions, expected ${expect.ndims}; is this the right file ` +
        `(images are idx3, labels idx1)?`,
    );
  }

  const headerSize = 4 + 4 * ndims;
  if (bytes.length < headerSize) {
    throw fail(
      `truncated header: ${ndims} dimensions need ${headerSize} header bytes, ` +
        `file has ${bytes.length}; re-download it`,
    );
  }
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const dataBytes = count * known.size;
  const have = bytes.length - headerSize;
  const shape = dims.join("x");
  const sizeNote = known.size === 1 ? "" : ` x ${known.size}`;
  if (have < dataBytes) {
    throw fail(
      `truncated: header says ${shape}${sizeNote} = ${dataBytes} bytes of data, ` +
        `file has ${have}; re-download it`,
    );
  }
  if (have > dataBytes) {
    throw fail(
      `${
        have - dataBytes
      } trailing bytes: header says ${shape}${sizeNote} = ${dataBytes} ` +
        `bytes of data, file has ${have}; the file is corrupt or not what its header says`,
    );
  }

  return {
    dims,
    type: known.type,
    data: readData(bytes, view, headerSize, count, known.type),
  };
}

function readData(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  count: number,
  type: IdxType,
): IdxData {
  switch (type) {
    case "uint8":
      // A plain Uint8Array copy: bytes may be a Node Buffer, whose slice() is a view.
      return new Uint8Array(bytes.buffer, bytes.byteOffset + offset, count)
        .slice();
    case "int8":
      return new Int8Array(bytes.buffer, bytes.byteOffset + offset, count)
        .slice();
    case "int16": {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) {
        out[i] = view.getInt16(offset + 2 * i, false);
      }
      return out;
    }
    case "int32": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        out[i] = view.getInt32(offset + 4 * i, false);
      }
      return out;
    }
    case "float32": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        out[i] = view.getFloat32(offset + 4 * i, false);
      }
      return out;
    }
    case "float64": {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) {
        out[i] = view.getFloat64(offset + 8 * i, false);
      }
      return out;
    }
  }
}

/**
 * Reads and parses an IDX file. Gzipped files (`.gz`, recognised by their
 * content, not their name) are decompressed transparently.
 *
 * @param path the file to read
 * @param expect the type and number of dimensions the caller needs, if any
 * @throws {DatasetPathError} if the file does not exist: a path given
 *   explicitly that names nothing is a mistake to fix, not missing data
 * @throws {DatasetFormatError} if it is not a valid (optionally gzipped) IDX file
 */
export async function readIdxFile(
  path: string,
  expect: IdxExpectation = {},
): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DatasetPathError(
        `${path}: no such file; check the path, or download the file there`,
      );
    }
    throw e;
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new DatasetFormatError(
        `${path}: gzip data is corrupt (${
          (e as Error).message
        }); re-download it`,
      );
    }
  }
  return parseIdx(bytes, path, expect);
}
