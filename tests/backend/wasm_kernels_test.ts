import assert from "node:assert/strict";
import { initBackend } from "../../lib/backend/mod.ts";
import { currentWasmBackend } from "../../lib/backend/wasm_heap.ts";
import { wasmKernels } from "../../lib/backend/wasm_kernels.ts";

/** Runs `bn_apply` (one feature, scale 1, shift 0) or the softplus gradient on `z`. */
async function onModule(z: number[], act: number, grad = false) {
  await initBackend({ backend: "wasm" });
  const backend = currentWasmBackend();
  const k = wasmKernels(backend);
  assert.ok(k, "the SIMD module loads on the wasm backend");
  const n = z.length;
  // x, y, scale, shift, dy, meanx, then two float64 sums (8-byte aligned).
  const base = backend.wasm._malloc(4 * (5 * n + 3) + 16 + 16) >>> 0;
  try {
    const at = (i: number) => base + 4 * n * i;
    const scalars = base + 4 * 5 * n;
    const sums = (scalars + 12 + 7) & ~7;
    const f32 = (ptr: number, len: number) =>
      new Float32Array(backend.wasm.HEAPU8.buffer, ptr, len);
    f32(at(0), n).set(z);
    f32(scalars, 3).set([1, 0, 0]); // scale, shift, meanx
    f32(at(3), n).fill(1); // dy
    new Float64Array(backend.wasm.HEAPU8.buffer, sums, 2).fill(0);
    // Rows of one feature each, so scale/shift/meanx are single values.
    if (grad) {
      k.bn_grad_sums(
        at(0),
        at(3),
        at(1),
        at(2),
        n,
        1,
        scalars,
        scalars + 4,
        scalars + 8,
        act,
        sums,
        sums + 8,
        at(4),
        at(4) + 4,
      );
      return Array.from(f32(at(2), n));
    }
    k.bn_apply(at(0), at(1), n, 1, scalars, scalars + 4, act);
    return Array.from(f32(at(1), n));
  } finally {
    backend.wasm._free(base);
  }
}

const Z = [
  -100,
  -88.5,
  -30,
  -10,
  -3,
  -1,
  -0.5,
  -1e-3,
  -1e-6,
  0,
  1e-7,
  1e-4,
  0.1,
  0.7,
  1,
  2.5,
  9,
  20,
  50,
  88.5,
  100,
];

function check(
  got: number[],
  want: (z: number) => number,
  tol: number,
  name: string,
) {
  Z.forEach((z, i) => {
    const w = want(z);
    const err = Math.abs(got[i] - w);
    assert.ok(
      err <= tol * Math.max(1, Math.abs(w)) || err <= 1e-30,
      `${name}(${z}) = ${got[i]}, expected ${w}`,
    );
  });
}

Deno.test("wasm module tanh matches Math.tanh over a wide range", async () => {
  check(await onModule(Z, 2), Math.tanh, 3e-7, "tanh");
});

Deno.test("wasm module softplus matches log(1 + exp(z)), tiny values relatively", async () => {
  const softplus = (z: number) =>
    Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
  const got = await onModule(Z, 4);
  check(got, softplus, 3e-7, "softplus");
  // Where softplus is tiny its relative error must stay small too.
  for (const [i, z] of Z.entries()) {
    if (z < -20 && z > -85) {
      assert.ok(
        Math.abs(got[i] / softplus(z) - 1) < 1e-5,
        `softplus(${z}) = ${got[i]}`,
      );
    }
  }
});

Deno.test("wasm module softplus gradient is sigmoid(z)", async () => {
  const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
  check(await onModule(Z, 4, true), sigmoid, 3e-7, "sigmoid");
});

Deno.test("wasm module relu and hardtanh clip exactly", async () => {
  assert.deepEqual(await onModule([-2, -1, -0.5, 0, 0.5, 1, 2], 1), [
    0,
    0,
    0,
    0,
    0.5,
    1,
    2,
  ]);
  assert.deepEqual(await onModule([-2, -1, -0.5, 0, 0.5, 1, 2], 3), [
    -1,
    -1,
    -0.5,
    0,
    0.5,
    1,
    1,
  ]);
});
