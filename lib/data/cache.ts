/**
 * A small on-disk cache for prepared datasets: one binary file per key,
 * holding a JSON header and raw bytes.
 *
 * File layout: the 8 bytes `TSNBC001`, a little-endian uint32 header length,
 * the header as UTF-8 JSON (`{ key, bodyLength, ...yours }`), then the body.
 * Files are written to a temporary name and renamed into place, so a run
 * killed mid-write never leaves a half-written cache behind.
 *
 * @module
 */

import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const MAGIC = new TextEncoder().encode("TSNBC001");

/** The repository's `data/cache/` folder (resolved from this module's location). */
export function defaultCacheDir(): string {
  return fileURLToPath(new URL("../../data/cache/", import.meta.url));
}

/** A short, filesystem-safe hash (hex SHA-256, 16 characters) of `parts` as JSON. */
export async function cacheKey(parts: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(parts));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(
    digest.subarray(0, 8),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** What {@link readCache} found. */
export type CacheRead<H> =
  | { status: "hit"; header: H; body: Uint8Array }
  | { status: "missing" }
  | { status: "corrupt"; reason: string };

/**
 * Reads a cache file written by {@link writeCache}. A file that is absent
 * gives `missing`; one that is damaged, truncated or holds another key gives
 * `corrupt` with the reason, so the caller can say so and rebuild it.
 */
export function readCache<H extends object>(
  path: string,
  key: string,
): CacheRead<H> {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { status: "missing" };
    return {
      status: "corrupt",
      reason: `cannot read it (${(err as Error).message})`,
    };
  }
  const headerStart = MAGIC.length + 4;
  if (bytes.length < headerStart || MAGIC.some((b, i) => bytes[i] !== b)) {
    return {
      status: "corrupt",
      reason: "it does not start with the cache file signature",
    };
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(
    MAGIC.length,
    true,
  );
  if (headerStart + headerLength > bytes.length) {
    return { status: "corrupt", reason: "its header is cut short" };
  }
  let header: H & { key?: unknown; bodyLength?: unknown };
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(
        bytes.subarray(headerStart, headerStart + headerLength),
      ),
    );
  } catch (err) {
    return {
      status: "corrupt",
      reason: `its header is not valid JSON (${(err as Error).message})`,
    };
  }
  if (header === null || typeof header !== "object") {
    return { status: "corrupt", reason: "its header is not a JSON object" };
  }
  if (header.key !== key) {
    return {
      status: "corrupt",
      reason: `it holds key ${String(header.key)}, not ${key}`,
    };
  }
  const body = bytes.subarray(headerStart + headerLength);
  if (header.bodyLength !== body.length) {
    return {
      status: "corrupt",
      reason: `its body has ${body.length} bytes, the header says ${
        String(header.bodyLength)
      }`,
    };
  }
  return { status: "hit", header, body };
}

/**
 * Writes `header` (plus `key` and `bodyLength`) and the concatenated `body`
 * parts to `path`, via a temporary file renamed into place. Creates the
 * folder if needed.
 */
export function writeCache(
  path: string,
  key: string,
  header: object,
  body: Uint8Array[],
): void {
  const bodyLength = body.reduce((n, part) => n + part.length, 0);
  const json = new TextEncoder().encode(
    JSON.stringify({ ...header, key, bodyLength }),
  );
  const prefix = new Uint8Array(MAGIC.length + 4);
  prefix.set(MAGIC);
  new DataView(prefix.buffer).setUint32(MAGIC.length, json.length, true);

  Deno.mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${Deno.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    const file = Deno.openSync(tmp, {
      write: true,
      create: true,
      truncate: true,
    });
    try {
      for (const part of [prefix, json, ...body]) writeAll(file, part);
    } finally {
      file.close();
    }
    Deno.renameSync(tmp, path);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch { /* already gone */ }
    throw err;
  }
}

function writeAll(file: Deno.FsFile, data: Uint8Array) {
  let done = 0;
  while (done < data.length) done += file.writeSync(data.subarray(done));
}
