/**
 * Saving and loading a module's variables: `<name>.json` (names, shapes,
 * offsets) beside `<name>.bin` (float32 values, little-endian).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Module } from "./module.ts";

/** One variable's place in the weights file. */
export interface WeightEntry {
  /** Position in `[...trainable(), ...state()]`. */
  index: number;
  name: string;
  shape: number[];
  /** Offset in float32 elements. */
  offset: number;
}

/** Packs every variable of a module (trainable, then state) into one buffer. */
export function packWeights(
  m: Module,
): { manifest: WeightEntry[]; data: Float32Array } {
  const vars = [...m.trainable(), ...m.state()];
  const size = vars.reduce((s, v) => s + v.size, 0);
  const data = new Float32Array(size);
  const manifest: WeightEntry[] = [];
  let offset = 0;
  vars.forEach((v, index) => {
    data.set(v.dataSync() as Float32Array, offset);
    manifest.push({ index, name: v.name, shape: v.shape, offset });
    offset += v.size;
  });
  return { manifest, data };
}

/**
 * Restores a module's variables from {@linkcode packWeights}'s output; the
 * module must have the same architecture (checked shape by shape).
 */
export function unpackWeights(
  m: Module,
  manifest: WeightEntry[],
  data: Float32Array,
): void {
  const vars = [...m.trainable(), ...m.state()];
  if (vars.length !== manifest.length) {
    throw new Error(
      `weights have ${manifest.length} variables, the model ${vars.length}: ` +
        `build the model with the configuration it was saved with`,
    );
  }
  manifest.forEach((e, i) => {
    const v = vars[i];
    if (v.shape.join("x") !== e.shape.join("x")) {
      throw new Error(
        `variable ${i} (${e.name}) has shape [${e.shape}] in the weights ` +
          `but [${v.shape}] in the model`,
      );
    }
    const size = e.shape.reduce((a, b) => a * b, 1);
    tf.tidy(() =>
      v.assign(tf.tensor(data.subarray(e.offset, e.offset + size), e.shape))
    );
  });
}

/** Where {@linkcode saveWeights} writes: a run directory (see lib/run_dir.ts). */
export interface WeightsWriter {
  writeBytes(name: string, bytes: Uint8Array): Promise<string>;
  writeJson(name: string, value: unknown): Promise<string>;
}

/** A named float32 array stored beside the variables (e.g. input statistics). */
export interface ArrayEntry {
  name: string;
  /** Offset in float32 elements, after the variables. */
  offset: number;
  length: number;
}

/**
 * Writes `weights.bin` and `weights.json` (the manifest plus `meta`, e.g.
 * the model's configuration) into a run directory. `arrays` (e.g. the
 * per-pixel statistics the inputs were normalized with) follow the variables
 * in `weights.bin`, listed under `arrays` in the manifest. The manifest is
 * written first, then the values: a reader that finds `weights.bin` finds
 * its manifest too.
 */
export async function saveWeights(
  dir: WeightsWriter,
  m: Module,
  meta: Record<string, unknown> = {},
  arrays: Record<string, Float32Array> = {},
): Promise<void> {
  const { manifest, data } = packWeights(m);
  const extra = Object.entries(arrays);
  const total = data.length + extra.reduce((n, [, a]) => n + a.length, 0);
  const all = new Float32Array(total);
  all.set(data);
  let offset = data.length;
  const arrayEntries: ArrayEntry[] = extra.map(([name, a]) => {
    all.set(a, offset);
    const e = { name, offset, length: a.length };
    offset += a.length;
    return e;
  });
  await dir.writeJson("weights.json", {
    ...meta,
    format: "float32 little-endian, concatenated in manifest order",
    variables: manifest,
    arrays: arrayEntries,
  });
  await dir.writeBytes("weights.bin", new Uint8Array(all.buffer));
}

/** What {@linkcode loadWeights} read besides the variables. */
export interface LoadedWeights {
  /** `weights.json` without the manifests. */
  meta: Record<string, unknown>;
  /** The named arrays saved beside the variables. */
  arrays: Record<string, Float32Array>;
}

/**
 * Reads a directory written by {@linkcode saveWeights} into `m`; returns the
 * rest of `weights.json` and the named arrays.
 */
export async function loadWeights(
  dir: string,
  m: Module,
): Promise<LoadedWeights> {
  const { variables, arrays, format: _, ...meta } = await readWeightsMeta(dir);
  const bytes = await Deno.readFile(`${dir}/weights.bin`);
  const data = new Float32Array(
    bytes.buffer,
    bytes.byteOffset,
    bytes.byteLength / 4,
  );
  unpackWeights(m, variables as WeightEntry[], data);
  const named: Record<string, Float32Array> = {};
  for (const e of (arrays ?? []) as ArrayEntry[]) {
    named[e.name] = data.slice(e.offset, e.offset + e.length);
  }
  return { meta, arrays: named };
}

/** `weights.json` of a run directory, parsed; the error names the folder. */
export async function readWeightsMeta(
  dir: string,
): Promise<Record<string, unknown>> {
  const path = `${dir}/weights.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(
      `${dir} holds no saved model (${path}: ${(e as Error).message}); ` +
        "give the folder of a finished run, e.g. outputs/week09/<run-id>",
    );
  }
  return JSON.parse(text);
}
