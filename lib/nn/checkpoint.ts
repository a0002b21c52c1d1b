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

/**
 * Writes `weights.bin` and `weights.json` (the manifest plus `meta`, e.g.
 * the model's configuration) into a run directory.
 */
export async function saveWeights(
  dir: WeightsWriter,
  m: Module,
  meta: Record<string, unknown> = {},
): Promise<void> {
  const { manifest, data } = packWeights(m);
  await dir.writeBytes("weights.bin", new Uint8Array(data.buffer));
  await dir.writeJson("weights.json", {
    ...meta,
    format: "float32 little-endian, concatenated in manifest order",
    variables: manifest,
  });
}

/** Reads a directory written by {@linkcode saveWeights} into `m`. */
export async function loadWeights(dir: string, m: Module): Promise<void> {
  const meta = JSON.parse(await Deno.readTextFile(`${dir}/weights.json`));
  const bytes = await Deno.readFile(`${dir}/weights.bin`);
  unpackWeights(
    m,
    meta.variables,
    new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4),
  );
}
