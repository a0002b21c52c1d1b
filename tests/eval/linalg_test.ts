import assert from "node:assert/strict";
import {
  frechetDistance,
  matMul,
  sqrtmPsd,
  symmetricEigen,
  trace,
  traceSqrtProduct,
} from "../../lib/eval/linalg.ts";
import { Rng } from "../../lib/random.ts";
import { assertAllClose } from "../test_util.ts";

/** A random symmetric PSD matrix `B B^T` (rank `rank`) of side n. */
function randomPsd(n: number, rank: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const b = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < rank; k++) b[i * n + k] = 2 * rng.next() - 1;
  }
  const bt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) bt[i * n + j] = b[j * n + i];
  }
  return matMul(b, bt);
}

/** Checks A V = V diag(values) and V^T V = I. */
function assertEigen(a: ArrayLike<number>, n: number, tol: number) {
  const { values, vectors } = symmetricEigen(a);
  const av = matMul(a, vectors);
  const vl = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) vl[i * n + j] = vectors[i * n + j] * values[j];
  }
  assertAllClose(av, vl, tol, "A V = V L");
  const vt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) vt[i * n + j] = vectors[j * n + i];
  }
  const eye = new Float64Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  assertAllClose(matMul(vt, vectors), eye, tol, "V^T V = I");
  for (let i = 1; i < n; i++) assert.ok(values[i] >= values[i - 1]);
}

Deno.test("symmetricEigen: 2x2 and 3x3 matrices with hand-computed eigenvalues", () => {
  // [[2, 1], [1, 2]]: 1 with (1, -1)/sqrt(2), 3 with (1, 1)/sqrt(2).
  const a = [2, 1, 1, 2];
  const { values, vectors } = symmetricEigen(a);
  assertAllClose(values, [1, 3], 1e-14);
  const h = Math.SQRT1_2;
  // Columns up to sign.
  assertAllClose(
    [Math.abs(vectors[0]), Math.abs(vectors[2])],
    [h, h],
    1e-14,
  );
  assertAllClose([vectors[0] * vectors[2]], [-0.5], 1e-14);
  assertAllClose([vectors[1] * vectors[3]], [0.5], 1e-14);
  assertEigen(a, 2, 1e-14);

  // The second-difference matrix: 2 - sqrt(2), 2, 2 + sqrt(2).
  const t = [2, -1, 0, -1, 2, -1, 0, -1, 2];
  assertAllClose(
    symmetricEigen(t).values,
    [2 - Math.SQRT2, 2, 2 + Math.SQRT2],
    1e-14,
  );
  assertEigen(t, 3, 1e-14);

  // 3 I + ones: a repeated eigenvalue, 3, 3, 6.
  const r = [4, 1, 1, 1, 4, 1, 1, 1, 4];
  assertAllClose(symmetricEigen(r).values, [3, 3, 6], 1e-14);
  assertEigen(r, 3, 1e-14);

  // Already diagonal, unsorted, with a negative entry.
  assertAllClose(symmetricEigen([5, 0, 0, -2]).values, [-2, 5], 0);
  // Rejects non-square and non-finite input.
  assert.throws(() => symmetricEigen([1, 2, 3]), /not a square/);
  assert.throws(() => symmetricEigen([1, NaN, NaN, 1]), /must be finite/);
});

Deno.test("symmetricEigen: a random 128x128 PSD matrix, rank-deficient too", () => {
  for (const rank of [128, 40]) {
    const a = randomPsd(128, rank, 7 + rank);
    assertEigen(a, 128, 1e-9);
    const { values } = symmetricEigen(a);
    assertAllClose([values.reduce((s, v) => s + v, 0)], [trace(a)], 1e-8);
    if (rank < 128) {
      // 88 eigenvalues are 0 up to rounding.
      assert.ok(values.slice(0, 128 - rank).every((v) => Math.abs(v) < 1e-9));
      assert.ok(values[128 - rank] > 1e-3);
    }
  }
});

Deno.test("sqrtmPsd: hand-computed roots, and R R = A for a random matrix", () => {
  // [[2, 1], [1, 2]]^2 = [[5, 4], [4, 5]].
  assertAllClose(sqrtmPsd([5, 4, 4, 5]), [2, 1, 1, 2], 1e-14);
  assertAllClose(sqrtmPsd([9, 0, 0, 4]), [3, 0, 0, 2], 1e-15);
  // A singular one: [[1, 1], [1, 1]] = 2 u u^T, root sqrt(2) u u^T.
  const h = Math.SQRT1_2;
  assertAllClose(sqrtmPsd([1, 1, 1, 1]), [h, h, h, h], 1e-15);
  const a = randomPsd(20, 20, 3);
  const r = sqrtmPsd(a);
  assertAllClose(matMul(r, r), a, 1e-10);
});

Deno.test("traceSqrtProduct: commuting and non-commuting hand examples", () => {
  // Diagonal: sum of sqrt(d1 * d2) = sqrt(2 * 8) + sqrt(3 * 12) = 4 + 6.
  assertAllClose([traceSqrtProduct([2, 0, 0, 3], [8, 0, 0, 12])], [10], 1e-14);
  // S1 = I: tr sqrtm(S2), and sqrtm([[2, 1], [1, 2]]) has eigenvalues sqrt(3), 1.
  assertAllClose(
    [traceSqrtProduct([1, 0, 0, 1], [2, 1, 1, 2])],
    [Math.sqrt(3) + 1],
    1e-14,
  );
  // Non-commuting: S1 = diag(4, 0), S2 = [[1, 1], [1, 2]]. sqrtm(S1) S2
  // sqrtm(S1) = [[4, 0], [0, 0]], so tr sqrtm(S1 S2) = 2.
  assertAllClose([traceSqrtProduct([4, 0, 0, 0], [1, 1, 1, 2])], [2], 1e-14);
  // S1 = diag(1, 4), S2 = [[2, 1], [1, 2]]: sqrtm(S1) S2 sqrtm(S1) =
  // [[2, 2], [2, 8]], eigenvalues 5 +- sqrt(13); the trace of its root is
  // sqrt(10 + 2 sqrt(det)) = sqrt(10 + 2 sqrt(12)).
  assertAllClose(
    [traceSqrtProduct([1, 0, 0, 4], [2, 1, 1, 2])],
    [Math.sqrt(10 + 2 * Math.sqrt(12))],
    1e-13,
  );
  // It is symmetric in its arguments.
  const a = randomPsd(16, 16, 11), b = randomPsd(16, 10, 12);
  assertAllClose([traceSqrtProduct(a, b)], [traceSqrtProduct(b, a)], 1e-9);
});

Deno.test("frechetDistance: 1-D Gaussians, identical ones, and a hand 2-D case", () => {
  // (m1 - m2)^2 + (s1 - s2)^2 with s the standard deviations.
  for (
    const [m1, s1, m2, s2] of [[0, 1, 3, 2], [1.5, 0.5, -1, 4], [2, 3, 2, 3]]
  ) {
    assertAllClose(
      [frechetDistance([m1], [s1 * s1], [m2], [s2 * s2])],
      [(m1 - m2) ** 2 + (s1 - s2) ** 2],
      1e-13,
    );
  }
  // Identical Gaussians, including singular covariances: 0.
  for (const rank of [128, 30]) {
    const s = randomPsd(128, rank, rank);
    const mu = Array.from({ length: 128 }, (_, i) => Math.sin(i));
    const d = frechetDistance(mu, s, mu, s);
    assert.ok(d >= 0 && d < 1e-8, `identical, rank ${rank}: ${d}`);
  }
  // Means (0, 0) and (1, 2); S1 = I, S2 = [[2, 1], [1, 2]]:
  // 5 + tr(I) + tr(S2) - 2 (sqrt(3) + 1) = 5 + 2 + 4 - 2 sqrt(3) - 2.
  assertAllClose(
    [frechetDistance([0, 0], [1, 0, 0, 1], [1, 2], [2, 1, 1, 2])],
    [9 - 2 * Math.sqrt(3)],
    1e-13,
  );
  assert.throws(
    () => frechetDistance([0, 0], [1, 0, 0, 1], [0], [1]),
    /need d, d, d\*d, d\*d/,
  );
});
