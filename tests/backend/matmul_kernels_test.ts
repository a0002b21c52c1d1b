import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import {
  activeMatMulKernels,
  matMulGeometry,
  registerWasmMatMulKernels,
  restoreOriginalMatMulKernels,
} from "../../lib/backend/matmul_kernels.ts";
import {
  assertClose,
  onBackend,
  randn,
  type TestBackend,
} from "./test_util.ts";

// Taken at import, before any backend setup has replaced a kernel.
const STOCK = new Map(
  ["BatchMatMul", "_FusedMatMul"].map((n) => [n, tf.getKernel(n, "wasm")!]),
);

const PAIRS = [[false, false], [true, false], [false, true], [true, true]];

// [batchA, batchB, m, k, n]: odd sizes and batch broadcasting both ways.
const CASES: [number[], number[], number, number, number][] = [
  [[], [], 1, 1, 1],
  [[], [], 7, 33, 5],
  [[], [], 33, 7, 129],
  [[], [], 129, 1, 7],
  [[3], [1], 7, 33, 5],
  [[1], [3], 5, 7, 33],
  [[2], [2], 33, 5, 7],
  [[4], [], 7, 5, 3],
  [[], [4], 3, 5, 7],
  [[2, 3], [1, 1], 5, 7, 3],
];

function operandShape(batch: number[], rows: number, cols: number, t: boolean) {
  return [...batch, ...(t ? [cols, rows] : [rows, cols])];
}

// Every case and transpose pair, as plain data built once.
const problems = CASES.flatMap(([ba, bb, m, k, n], i) =>
  PAIRS.map(([ta, tb], j) => {
    const aShape = operandShape(ba, m, k, ta);
    const bShape = operandShape(bb, k, n, tb);
    const seed = 100 * i + 10 * j;
    return {
      ta,
      tb,
      aShape,
      bShape,
      a: randn(tf.util.sizeFromShape(aShape), seed + 1),
      b: randn(tf.util.sizeFromShape(bShape), seed + 2),
      label: `a[${aShape}]${ta ? "ᵀ" : ""} b[${bShape}]${tb ? "ᵀ" : ""}`,
    };
  })
);

const allMatMuls = () =>
  problems.map((p) =>
    tf.matMul(
      tf.tensor(p.a, p.aShape),
      tf.tensor(p.b, p.bShape),
      p.ta,
      p.tb,
    )
  );

for (const backend of ["wasm", "wasm+blas"] as TestBackend[]) {
  Deno.test(`BatchMatMul on ${backend} matches cpu`, async () => {
    const expected = await onBackend("cpu", allMatMuls);
    const actual = await onBackend(backend, allMatMuls);
    assert.equal(activeMatMulKernels(), backend === "wasm" ? "wasm" : "blas");
    problems.forEach((p, i) =>
      assertClose(actual[i], expected[i], 1e-4, p.label)
    );
  });
}

const ACTIVATIONS = [
  "linear",
  "relu",
  "relu6",
  "elu",
  "leakyrelu",
  "prelu",
  "sigmoid",
] as const;

// [m, k, n, bias shape or null, transposeA, transposeB]
const FUSED: [number, number, number, number[] | null, boolean, boolean][] = [
  [7, 33, 5, [5], false, false],
  [33, 7, 129, [129], true, false],
  [5, 9, 7, [5, 7], false, true],
  [1, 3, 7, [1], true, true],
  [9, 4, 3, null, false, false],
];

function allFused() {
  const out: tf.Tensor[] = [];
  FUSED.forEach(([m, k, n, biasShape, ta, tb], i) => {
    ACTIVATIONS.forEach((activation, j) => {
      const seed = 1000 + 50 * i + j;
      const a = tf.tensor(randn(m * k, seed, 0.3), ta ? [k, m] : [m, k]);
      const b = tf.tensor(randn(k * n, seed + 1, 0.3), tb ? [n, k] : [k, n]);
      const bias = biasShape
        ? tf.tensor(
          randn(tf.util.sizeFromShape(biasShape), seed + 2, 3),
          biasShape,
        )
        : undefined;
      const prelu = tf.tensor(randn(n, seed + 3), [n]);
      out.push(tf.fused.matMul({
        a,
        b,
        transposeA: ta,
        transposeB: tb,
        bias,
        activation,
        preluActivationWeights: activation === "prelu" ? prelu : undefined,
        leakyreluAlpha: 0.15,
      }));
    });
  });
  return out;
}

for (const backend of ["wasm", "wasm+blas"] as TestBackend[]) {
  Deno.test(`_FusedMatMul on ${backend} matches cpu`, async () => {
    const expected = await onBackend("cpu", allFused);
    const actual = await onBackend(backend, allFused);
    let i = 0;
    for (const [m, k, n, biasShape, ta, tb] of FUSED) {
      for (const activation of ACTIVATIONS) {
        assertClose(
          actual[i],
          expected[i],
          1e-4,
          `${activation} m=${m} k=${k} n=${n} bias=[${biasShape}] ` +
            `ta=${ta} tb=${tb}`,
        );
        i++;
      }
    }
    // The activations really differ (guards against an ignored attribute).
    assert.notDeepEqual(actual[1], actual[0]);
  });
}

Deno.test("fused bias broadcasts over a batched 3D product", async () => {
  const f = () =>
    tf.fused.matMul({
      a: tf.tensor(randn(3 * 4 * 5, 7), [3, 4, 5]),
      b: tf.tensor(randn(5 * 6, 8), [1, 5, 6]),
      bias: tf.tensor(randn(4 * 6, 9), [4, 6]),
      activation: "relu",
    });
  const expected = await onBackend("cpu", f);
  assertClose(await onBackend("wasm+blas", f), expected, 1e-4, "blas");
  assertClose(await onBackend("wasm", f), expected, 1e-4, "wasm");
});

Deno.test("a 2x2 product checked by hand on each backend", async () => {
  // [[1,2],[3,4]]ᵀ @ [[5,6],[7,8]] = [[1*5+3*7, 1*6+3*8], [2*5+4*7, 2*6+4*8]]
  const hand = [26, 30, 38, 44];
  for (const backend of ["cpu", "wasm", "wasm+blas"] as TestBackend[]) {
    const r = await onBackend(backend, () =>
      tf.matMul(
        tf.tensor2d([1, 2, 3, 4], [2, 2]),
        tf.tensor2d([5, 6, 7, 8], [2, 2]),
        true,
        false,
      ));
    assert.deepEqual(r, hand, backend);
  }
});

Deno.test("matMulGeometry broadcasts batch dims numpy-style", () => {
  const g = matMulGeometry([2, 1, 4, 3], [3, 3, 5], false, false);
  assert.deepEqual([g.m, g.k, g.n], [4, 3, 5]);
  assert.deepEqual(g.batchShape, [2, 3]);
  // out batch (i, j) uses a batch i (its second dim is 1) and b batch j.
  assert.deepEqual(Array.from(g.aBatch), [0, 0, 0, 1, 1, 1]);
  assert.deepEqual(Array.from(g.bBatch), [0, 1, 2, 0, 1, 2]);
  const t = matMulGeometry([6, 2], [7, 6], true, true);
  assert.deepEqual([t.m, t.k, t.n], [2, 6, 7]);
  assert.throws(() => matMulGeometry([2, 3], [4, 5], false, false), /inner/);
  assert.throws(() => matMulGeometry([2, 3, 4], [3, 4, 5], false, false));
});

Deno.test(
  "BLAS matMul on 4D operands with general broadcasting",
  async () => {
    // cpu folds batches as i % batch, so compare with explicit per-batch 2D products.
    const a = randn(2 * 1 * 4 * 3, 21), b = randn(1 * 3 * 3 * 5, 22);
    const batched = await onBackend(
      "wasm+blas",
      () => tf.matMul(tf.tensor(a, [2, 1, 4, 3]), tf.tensor(b, [1, 3, 3, 5])),
    );
    const expected = await onBackend("cpu", () => {
      const out: tf.Tensor[] = [];
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 3; j++) {
          out.push(tf.matMul(
            tf.tensor(a.subarray(i * 12, (i + 1) * 12), [4, 3]),
            tf.tensor(b.subarray(j * 15, (j + 1) * 15), [3, 5]),
          ));
        }
      }
      return tf.concat(out.map((t) => tf.reshape(t, [-1])));
    });
    assertClose(batched, expected, 1e-5, "4D broadcast");
  },
);

Deno.test(
  "_FusedMatMul applies tanh (not in tf.fused's own list)",
  async () => {
    // tf.fused.matMul rejects "tanh", so call the kernel directly.
    const a = randn(2 * 7 * 5, 31), b = randn(5 * 6, 32), bias = randn(6, 33);
    const expected = await onBackend("cpu", () =>
      tf.tanh(tf.add(
        tf.matMul(tf.tensor(a, [2, 7, 5]), tf.tensor(b, [1, 5, 6])),
        tf.tensor(bias, [6]),
      )));
    for (const backend of ["wasm", "wasm+blas"] as TestBackend[]) {
      const actual = await onBackend(
        backend,
        () =>
          tf.engine().runKernel("_FusedMatMul", {
            a: tf.tensor(a, [2, 7, 5]),
            b: tf.tensor(b, [1, 5, 6]),
            bias: tf.tensor(bias, [6]),
          }, {
            transposeA: false,
            transposeB: false,
            activation: "tanh",
            leakyreluAlpha: 0.2,
          }) as tf.Tensor,
      );
      assertClose(actual, expected, 1e-5, backend);
    }
  },
);

Deno.test("fused bias with transposeA, checked by hand", async () => {
  // Stock tfjs-backend-wasm 4.22 gets this wrong ([11, 24, 22, 25, 23, 26]).
  // aᵀ = [[1,4],[2,5],[3,6]], b = I, bias = [10, 20].
  const hand = [11, 24, 12, 25, 13, 26];
  for (const backend of ["cpu", "wasm", "wasm+blas"] as TestBackend[]) {
    const r = await onBackend(backend, () =>
      tf.fused.matMul({
        a: tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]),
        b: tf.tensor2d([1, 0, 0, 1], [2, 2]),
        transposeA: true,
        bias: tf.tensor1d([10, 20]),
      }));
    assert.deepEqual(r, hand, backend);
  }
});

Deno.test("the matmul replacements keep the stock setupFunc, and restoring puts tfjs' own kernels back", async () => {
  await onBackend("wasm", () => tf.scalar(0));
  for (const [name, stock] of STOCK) {
    const installed = tf.getKernel(name, "wasm")!;
    assert.notEqual(installed.kernelFunc, stock.kernelFunc, name);
    assert.equal(installed.setupFunc, stock.setupFunc, `${name} setupFunc`);
  }
  restoreOriginalMatMulKernels();
  assert.equal(activeMatMulKernels(), "original");
  for (const [name, stock] of STOCK) {
    assert.equal(tf.getKernel(name, "wasm"), stock, `${name} restored`);
  }
  // Back to what the active "wasm" setup installed.
  registerWasmMatMulKernels();
});
