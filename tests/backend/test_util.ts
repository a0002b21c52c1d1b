/**
 * Shared helpers for backend tests: run code on a named backend and get
 * plain numbers back, seeded random data, and tolerance comparisons.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../lib/backend/mod.ts";
import { probeWebGPU } from "../../lib/backend/webgpu.ts";
import { seededNormalValues } from "../../lib/nn/random_normal.ts";

/** Backends the tests compare. */
export type TestBackend = "cpu" | "wasm" | "wasm+blas" | "webgpu";

/**
 * Whether the webgpu tests run: `ignore` when this machine has no WebGPU
 * adapter (a dev machine without a Vulkan driver), with a line saying so.
 * With `WEBGPU_TESTS=required` (.ci/run sets it) they always run, so a CI
 * machine without an adapter fails them instead of skipping.
 */
export async function webgpuTestGate(): Promise<{ ignore: boolean }> {
  const probe = await probeWebGPU();
  if (probe.adapter || Deno.env.get("WEBGPU_TESTS") === "required") {
    return { ignore: false };
  }
  console.warn(
    `webgpu tests skipped: ${probe.reason} (set WEBGPU_TESTS=required to ` +
      "fail instead)",
  );
  return { ignore: true };
}

/** `T` with every tensor replaced by its values as a plain `number[]`. */
export type Plain<T> = T extends tf.Tensor ? number[]
  : T extends readonly unknown[] ? { [K in keyof T]: Plain<T[K]> }
  : T extends Record<string, unknown> ? { [K in keyof T]: Plain<T[K]> }
  : T;

function toPlain(value: unknown): unknown {
  if (value instanceof tf.Tensor) return Array.from(value.dataSync());
  if (Array.isArray(value)) return value.map(toPlain);
  if (value && typeof value === "object" && value.constructor === Object) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, toPlain(v)]),
    );
  }
  return value;
}

/**
 * Switches to backend `name` (via `initBackend`), runs `fn` inside
 * `tf.tidy`, and returns its result with every tensor read back as a flat
 * `number[]`; the tensors are disposed. Create input tensors inside `fn`
 * (from plain arrays) so they live on that backend.
 */
export async function onBackend<T>(
  name: TestBackend,
  fn: () => T,
): Promise<Plain<T>> {
  await initBackend({ backend: name });
  const kept: tf.Tensor[] = [];
  let result: T | undefined;
  // Keep every tensor in the result alive past the tidy.
  const keep = (v: unknown) => {
    if (v instanceof tf.Tensor) kept.push(tf.keep(v));
    else if (Array.isArray(v)) v.forEach(keep);
    else if (v && typeof v === "object") Object.values(v).forEach(keep);
  };
  tf.tidy(() => {
    result = fn();
    keep(result);
  });
  try {
    return toPlain(result) as Plain<T>;
  } finally {
    tf.dispose(kept);
  }
}

/** `n` seeded standard-normal floats times `scale`. */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  const out = seededNormalValues(n, seed);
  for (let i = 0; i < n; i++) out[i] *= scale;
  return out;
}

/** Seeded standard-normal data for a tensor of `shape` (plain values). */
export function randnFor(
  shape: number[],
  seed: number,
  scale = 1,
): { shape: number[]; values: Float32Array } {
  return { shape, values: randn(tf.util.sizeFromShape(shape), seed, scale) };
}

/**
 * Asserts `|actual[i] - expected[i]| <= tol * (1 + |expected[i]|)` for all
 * i (and equal lengths); the message names the worst element.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  msg = "",
): void {
  if (actual.length !== expected.length) {
    throw new Error(
      `${msg}: length ${actual.length} != expected ${expected.length}`,
    );
  }
  let worst = -1, worstErr = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / (1 + Math.abs(expected[i]));
    if (!(err <= tol) && (worst < 0 || !(err <= worstErr))) {
      worst = i;
      worstErr = err;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${msg}: element ${worst} is ${actual[worst]}, expected ` +
        `${expected[worst]} (scaled error ${worstErr} > tol ${tol})`,
    );
  }
}
