/**
 * A CBLAS `sgemm` found on the system and opened through `Deno.dlopen`.
 *
 * Search order: the `BLAS_LIBRARY` environment variable (a path), then
 * OpenBLAS and the system BLAS on Linux, Accelerate on macOS. Matrices are
 * row-major `Float32Array`s; a view (`subarray`) passes a pointer into any
 * buffer, the wasm backend's heap included, so no data is copied.
 *
 * OpenBLAS picks its kernels from the CPU model it recognizes; a release older
 * than the CPU falls back to slow generic ones (Debian 12's 0.3.21 calls
 * recent Xeons "Prescott": 3-5x slower sgemm). Unless `OPENBLAS_CORETYPE` is
 * already set, {@linkcode loadBlas} sets it from the instruction sets the CPU
 * reports (see {@linkcode coreTypeForCpu}); `BLAS_CORETYPE=openblas` keeps
 * OpenBLAS's own choice instead. Child processes inherit the setting, so a
 * PyTorch started afterwards uses the same kernels.
 *
 * @module
 */

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32",
      "i32",
      "i32", // order, transA, transB
      "i32",
      "i32",
      "i32", // M, N, K
      "f32",
      "buffer",
      "i32", // alpha, A, lda
      "buffer",
      "i32", // B, ldb
      "f32",
      "buffer",
      "i32", // beta, C, ldc
    ],
    result: "void",
  },
  openblas_set_num_threads: {
    parameters: ["i32"],
    result: "void",
    optional: true,
  },
  openblas_get_num_threads: { parameters: [], result: "i32", optional: true },
  openblas_get_config: { parameters: [], result: "pointer", optional: true },
} as const;

/** An opened CBLAS library. */
export interface Blas {
  /** The path or name it was opened from. */
  readonly path: string;
  /** A one-line description, e.g. "OpenBLAS 0.3.21 ... (2 threads)". */
  describe(): string;
  /** Threads the BLAS uses (1 when it cannot say). */
  threads(): number;
  /** Sets the BLAS thread count where the library allows it (OpenBLAS). */
  setThreads(n: number): void;
  /**
   * Row-major `C = alpha * op(A) @ op(B) + beta * C`, with op(A) `m x k`,
   * op(B) `k x n` and C `m x n`. `lda`, `ldb`, `ldc` are the row strides of the
   * stored (untransposed) arrays.
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    beta: number,
    c: Float32Array,
    ldc: number,
  ): void;
}

/** Library names tried, in order, for this operating system. */
export function blasCandidates(): string[] {
  const fromEnv = Deno.env.get("BLAS_LIBRARY");
  const list = fromEnv ? [fromEnv] : [];
  if (Deno.build.os === "darwin") {
    list.push(
      "/System/Library/Frameworks/Accelerate.framework/Accelerate",
      "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
      "/usr/local/opt/openblas/lib/libopenblas.dylib",
    );
  } else if (Deno.build.os === "windows") {
    list.push("libopenblas.dll");
  } else {
    list.push(
      "libopenblas.so.0",
      "libopenblas.so",
      "libblas.so.3",
      "libcblas.so.3",
    );
  }
  return list;
}

/**
 * The OpenBLAS core type matching the instruction sets in `cpuinfo` (the text
 * of Linux's /proc/cpuinfo): "SkylakeX" with AVX-512 (F, CD, BW, DQ, VL),
 * "Haswell" with AVX2 and FMA, else null.
 */
export function coreTypeForCpu(cpuinfo: string): string | null {
  const line = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? "";
  const flags = new Set(line.trim().split(/\s+/));
  const has = (...names: string[]) => names.every((n) => flags.has(n));
  if (has("avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl")) {
    return "SkylakeX";
  }
  if (has("avx2", "fma")) return "Haswell";
  return null;
}

/** What {@linkcode loadBlas} set `OPENBLAS_CORETYPE` to ("" if nothing). */
export let coreTypeSet = "";

function configureOpenBlasCoreType(): void {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") return;
  try {
    if (Deno.env.get("OPENBLAS_CORETYPE") !== undefined) return;
    if (Deno.env.get("BLAS_CORETYPE") === "openblas") return;
    const type = coreTypeForCpu(Deno.readTextFileSync("/proc/cpuinfo"));
    if (!type) return;
    Deno.env.set("OPENBLAS_CORETYPE", type);
    coreTypeSet = type;
  } catch {
    // No permission to read /proc or set the environment: OpenBLAS decides.
  }
}

let cached: Blas | null | undefined;
let lastError = "";

/** Options of {@linkcode loadBlas}. */
export interface LoadBlasOptions {
  /**
   * Try again when an earlier call found nothing: for a caller that has just
   * installed a BLAS (scripts/check_deps.ts), which would otherwise report the
   * failure cached before the install.
   */
  retry?: boolean;
}

/**
 * Opens the first CBLAS library that loads, or returns null (see
 * {@linkcode blasLoadError} for why). The result is cached; with `retry`, a
 * cached failure is not.
 */
export function loadBlas(opts: LoadBlasOptions = {}): Blas | null {
  if (cached === null && opts.retry) cached = undefined;
  if (cached !== undefined) return cached;
  configureOpenBlasCoreType();
  const errors: string[] = [];
  for (const path of blasCandidates()) {
    try {
      cached = openBlas(path);
      return cached;
    } catch (e) {
      errors.push(`${path}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  lastError = errors.join("; ");
  cached = null;
  return null;
}

/** Why {@linkcode loadBlas} found nothing (empty when it did). */
export function blasLoadError(): string {
  return lastError;
}

function openBlas(path: string): Blas {
  const lib = Deno.dlopen(path, SYMBOLS);
  const s = lib.symbols;
  const config = () => {
    if (!s.openblas_get_config) return "";
    const p = s.openblas_get_config();
    return p ? new Deno.UnsafePointerView(p).getCString() : "";
  };
  const threads = () =>
    s.openblas_get_num_threads ? s.openblas_get_num_threads() : 1;
  return {
    path,
    threads,
    setThreads(n: number) {
      if (s.openblas_set_num_threads) s.openblas_set_num_threads(n);
    },
    describe() {
      const name = config() || path;
      return `${name} (${threads()} thread${threads() === 1 ? "" : "s"})`;
    },
    sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
      s.cblas_sgemm(
        ROW_MAJOR,
        transA ? TRANS : NO_TRANS,
        transB ? TRANS : NO_TRANS,
        m,
        n,
        k,
        alpha,
        a,
        lda,
        b,
        ldb,
        beta,
        c,
        ldc,
      );
    },
  };
}
