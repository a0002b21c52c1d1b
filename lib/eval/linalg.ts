/**
 * Small dense linear algebra in float64 JavaScript, enough for the Fréchet
 * distance between two Gaussians: a symmetric eigendecomposition (cyclic
 * Jacobi), the square root of a positive semi-definite matrix, and
 * `tr(sqrtm(S1 S2))`.
 *
 * Matrices are square, row-major `Float64Array`s (or plain arrays) of
 * `n * n` values. The sizes here are small (the score's features are 128-D),
 * so clarity wins over speed: a 128x128 eigendecomposition takes well under
 * a second.
 *
 * @module
 */

/** A square matrix, row-major, `n * n` values. */
export type Matrix = ArrayLike<number>;

/** What {@linkcode symmetricEigen} returns. */
export interface SymmetricEigen {
  /** Eigenvalues, in ascending order. */
  values: Float64Array;
  /**
   * Eigenvectors, row-major `n * n`: column `j` (entries `j, n + j, ...`)
   * is the unit eigenvector of `values[j]`.
   */
  vectors: Float64Array;
}

/** The side of a square matrix of `length` values (throws if not square). */
export function sideOf(a: Matrix, name = "matrix"): number {
  const n = Math.round(Math.sqrt(a.length));
  if (n * n !== a.length) {
    throw new RangeError(`${name} has ${a.length} values, not a square's`);
  }
  return n;
}

/** `a @ b` for square `n x n` matrices. */
export function matMul(a: Matrix, b: Matrix): Float64Array {
  const n = sideOf(a, "a");
  if (b.length !== a.length) {
    throw new RangeError(`matMul: a is ${n}x${n}, b has ${b.length} values`);
  }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b[k * n + j];
    }
  }
  return out;
}

/** The trace of a square matrix. */
export function trace(a: Matrix): number {
  const n = sideOf(a);
  let t = 0;
  for (let i = 0; i < n; i++) t += a[i * n + i];
  return t;
}

/** `(a + a^T) / 2`, which removes rounding asymmetry. */
export function symmetrize(a: Matrix): Float64Array {
  const n = sideOf(a);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      out[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
    }
  }
  return out;
}

/**
 * Eigenvalues and eigenvectors of a symmetric matrix by the cyclic Jacobi
 * method (rotations zero each off-diagonal entry in turn until the
 * off-diagonal mass is negligible). Only the symmetric part of `a` is used.
 * Accurate to about machine precision relative to the largest eigenvalue.
 *
 * @throws {RangeError} if `a` is not square or holds a non-finite value
 */
export function symmetricEigen(a: Matrix, maxSweeps = 100): SymmetricEigen {
  const n = sideOf(a);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) {
      throw new RangeError(
        `symmetricEigen: entry ${i} is ${a[i]}; the matrix must be finite`,
      );
    }
  }
  const m = symmetrize(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < m.length; i++) total += m[i] * m[i];
  // Stop when the off-diagonal mass is below (1e-15 * ||A||_F)^2.
  const tol = total * 1e-30;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) off += m[p * n + q] * m[p * n + q];
    }
    if (off <= tol || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (apq === 0) continue;
        const app = m[p * n + p], aqq = m[q * n + q];
        // The rotation P with P_pp = P_qq = c, P_pq = s, P_qp = -s makes
        // (P^T A P)_pq = 0 (Numerical Recipes' jacobi).
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) /
          (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // Columns p and q of A P, then rows p and q of P^T (A P).
        for (let k = 0; k < n; k++) {
          const akp = m[k * n + p], akq = m[k * n + q];
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = m[p * n + k], aqk = m[q * n + k];
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
        m[p * n + q] = 0;
        m[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  // Sort ascending, permuting the eigenvector columns alike.
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) =>
    m[i * n + i] - m[j * n + j]
  );
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = m[src * n + src];
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src];
  });
  return { values, vectors };
}

/** `V diag(d) V^T` for eigenvectors `V` (columns) of side `n`. */
export function fromEigen(vectors: Matrix, d: ArrayLike<number>): Float64Array {
  const n = d.length;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) {
        sum += vectors[i * n + k] * d[k] * vectors[j * n + k];
      }
      out[i * n + j] = sum;
      out[j * n + i] = sum;
    }
  }
  return out;
}

/**
 * The symmetric square root of a positive semi-definite matrix. Eigenvalues
 * within rounding of zero (at most `n * epsilon * max |lambda|`, negative
 * ones included) count as 0.
 */
export function sqrtmPsd(a: Matrix): Float64Array {
  const n = sideOf(a);
  const { values, vectors } = symmetricEigen(a);
  const floor = rankFloor(values, n);
  return fromEigen(vectors, values.map((l) => l > floor ? Math.sqrt(l) : 0));
}

/**
 * Eigenvalues at or below this are rounding noise of a zero eigenvalue
 * (`n * epsilon * max |lambda|`, the usual numerical-rank threshold); their
 * square roots would otherwise add noise of order `sqrt(epsilon)`.
 */
function rankFloor(values: Float64Array, n: number): number {
  let max = 0;
  for (const l of values) max = Math.max(max, Math.abs(l));
  return n * Number.EPSILON * max;
}

/**
 * `tr(sqrtm(S1 S2))` for positive semi-definite `S1`, `S2`. `S1 S2` is not
 * symmetric, but it is similar to `sqrtm(S1) S2 sqrtm(S1)`, which is
 * symmetric PSD; the trace is the sum of the square roots of its
 * eigenvalues. Eigenvalues within rounding of zero (at most
 * `n * epsilon * max |lambda|`, negative ones included) count as 0, here and
 * in `sqrtm(S1)`.
 */
export function traceSqrtProduct(s1: Matrix, s2: Matrix): number {
  const n = sideOf(s1, "S1");
  if (s2.length !== n * n) {
    throw new RangeError(
      `traceSqrtProduct: S1 is ${n}x${n}, S2 has ${s2.length} values`,
    );
  }
  const r = sqrtmPsd(s1);
  const m = symmetrize(matMul(matMul(r, s2), r));
  const { values } = symmetricEigen(m);
  const floor = rankFloor(values, n);
  let t = 0;
  for (const l of values) if (l > floor) t += Math.sqrt(l);
  return t;
}

/**
 * The Fréchet (2-Wasserstein squared) distance between the Gaussians
 * N(mu1, S1) and N(mu2, S2):
 * `|mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrtm(S1 S2))`. Zero for identical
 * Gaussians; for 1-D ones it is `(m1 - m2)^2 + (s1 - s2)^2` with `s` the
 * standard deviations. Clamped at 0 against rounding.
 *
 * @throws {RangeError} if the sizes disagree
 */
export function frechetDistance(
  mu1: ArrayLike<number>,
  s1: Matrix,
  mu2: ArrayLike<number>,
  s2: Matrix,
): number {
  const d = mu1.length;
  if (mu2.length !== d || s1.length !== d * d || s2.length !== d * d) {
    throw new RangeError(
      `frechetDistance: means of ${d} and ${mu2.length} values, covariances ` +
        `of ${s1.length} and ${s2.length}; need d, d, d*d, d*d`,
    );
  }
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (mu1[i] - mu2[i]) ** 2;
  const covTerm = trace(s1) + trace(s2) - 2 * traceSqrtProduct(s1, s2);
  return Math.max(0, meanTerm + covTerm);
}
