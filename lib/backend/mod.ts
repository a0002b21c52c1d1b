/**
 * Picks and sets up the tfjs backend for the notebooks.
 *
 * ```ts
 * const info = await initBackend();          // or { backend: "wasm", threads: 2 }
 * console.log(describeBackend(info));        // backend: wasm+blas (OpenBLAS ..., 2 threads)
 * ```
 *
 * Backends, fastest first: "tensorflow-gpu" (`@tensorflow/tfjs-node-gpu`),
 * "tensorflow" (`@tensorflow/tfjs-node`), "webgpu" (tfjs' WebGPU backend on
 * Deno's `navigator.gpu`, lib/backend/webgpu.ts; "auto" takes it only on a
 * hardware adapter), "wasm+blas" (the wasm backend with matmul and
 * convolution computed by a system CBLAS on the wasm heap), "wasm" (wasm
 * with the transposed-matmul fix), "cpu" (pure JS).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
// The union package registers the gradients of every op (tfjs-core alone
// registers none), which any training on the chosen backend needs.
import "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { type Blas, blasLoadError, loadBlas } from "./blas.ts";
import {
  registerBlasConvKernels,
  registerWasmConvKernels,
} from "./conv_kernels.ts";
import { registerWasmBatchNormKernels } from "./batch_norm_kernels.ts";
import { registerWasmDepoolKernels } from "./depool_kernels.ts";
import { registerWasmLossKernels } from "./loss_kernels.ts";
import { registerWasmOptimizerKernels } from "./optimizer_kernels.ts";
import { registerWasmRandomKernels } from "./random_kernels.ts";
import {
  activateWebGPU,
  describeAdapter,
  WebGPUUnavailable,
} from "./webgpu.ts";
import {
  activeMatMulKernels,
  registerBlasMatMulKernels,
  registerWasmMatMulKernels,
} from "./matmul_kernels.ts";

/** What {@linkcode initBackend} set up. */
export interface BackendInfo {
  /** Our name for it: "tensorflow-gpu", "tensorflow", "webgpu", "wasm+blas", "wasm" or "cpu". */
  name: string;
  /** The tfjs backend name that is active (`tf.getBackend()`). */
  tfBackend: string;
  /** Threads the heavy kernels use. */
  threads: number;
  /** The BLAS library's description, for "wasm+blas". */
  blas?: string;
  /** The GPU adapter's description, for "webgpu". */
  adapter?: string;
  /** One line of specifics (library versions, threads). */
  detail: string;
}

/** Backend names {@linkcode initBackend} accepts. */
export const BACKEND_NAMES = [
  "auto",
  "tensorflow-gpu",
  "tensorflow",
  "webgpu",
  "wasm+blas",
  "wasm",
  "cpu",
] as const;

const AUTO_ORDER = [
  "tensorflow-gpu",
  "tensorflow",
  "webgpu",
  "wasm+blas",
  "wasm",
  "cpu",
];

const NODE_PACKAGES: Record<string, string> = {
  "tensorflow-gpu": "@tensorflow/tfjs-node-gpu",
  "tensorflow": "@tensorflow/tfjs-node",
};

// Thrown when a backend cannot be set up here; auto moves on to the next.
class BackendUnavailable extends Error {}

let current: { key: string; info: BackendInfo } | null = null;
let warnedNoBlas = false;

/**
 * Selects, initializes and returns the tfjs backend.
 *
 * The backend is `opts.backend` unless it is "auto" or missing, then the
 * `TFJS_BACKEND` environment variable, then "auto": the first of
 * tensorflow-gpu, tensorflow, webgpu (on a hardware adapter only), wasm+blas,
 * wasm, cpu that loads. An explicit backend that cannot load throws an Error
 * saying what to install.
 * Threads: `opts.threads`, else `TFJS_THREADS`, else
 * `navigator.hardwareConcurrency`. Calling it again with the same choice
 * returns the same info without redoing work; a different choice switches
 * (tensors made before stay readable).
 */
export async function initBackend(
  opts: { backend?: string; threads?: number } = {},
): Promise<BackendInfo> {
  const requested = resolveRequested(opts.backend);
  const threads = resolveThreads(opts.threads);
  const key = `${requested}/${threads}`;
  if (current?.key === key && stillActive(current.info)) return current.info;
  let info: BackendInfo | undefined;
  if (requested !== "auto") {
    info = await activate(requested, threads);
  } else {
    for (const name of AUTO_ORDER) {
      try {
        info = await activate(name, threads, true);
        break;
      } catch (e) {
        if (!(e instanceof BackendUnavailable)) throw e;
        if (name === "wasm+blas" && !warnedNoBlas && !loadBlas()) {
          warnedNoBlas = true;
          console.warn(
            `backend: no BLAS library found, using plain wasm (slower ` +
              `training). ${e.message}`,
          );
        }
      }
    }
  }
  current = { key, info: Object.freeze(info!) };
  return current.info;
}

// Whether `info`'s backend and kernels are still the ones in use (code may
// have switched backends or kernels without initBackend).
function stillActive(info: BackendInfo): boolean {
  if (tf.getBackend() !== info.tfBackend) return false;
  if (info.name === "wasm") return activeMatMulKernels() === "wasm";
  if (info.name === "wasm+blas") return activeMatMulKernels() === "blas";
  return true;
}

/** One line for logs and notebooks, e.g. "backend: wasm+blas (OpenBLAS 0.3.21 ..., 2 threads)". */
export function describeBackend(info: BackendInfo): string {
  return `backend: ${info.name} (${info.detail})`;
}

// An environment variable, or undefined when unset or not permitted.
function envVar(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: behave as unset
  }
}

function resolveRequested(option: string | undefined): string {
  const fromEnv = envVar("TFJS_BACKEND");
  const raw = option && option !== "auto" ? option : fromEnv || "auto";
  const name = raw.trim().toLowerCase();
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    const source = option && option !== "auto"
      ? "initBackend({ backend })"
      : "TFJS_BACKEND";
    throw new Error(
      `Unknown backend "${raw}" (from ${source}); use one of ` +
        `${BACKEND_NAMES.join(", ")}.`,
    );
  }
  return name;
}

function resolveThreads(option: number | undefined): number {
  const fromEnv = envVar("TFJS_THREADS");
  const value = option ??
    (fromEnv ? Number(fromEnv) : navigator.hardwareConcurrency || 1);
  if (!Number.isInteger(value) || value < 1) {
    const source = option != null ? "initBackend({ threads })" : "TFJS_THREADS";
    throw new Error(
      `Invalid thread count ${option ?? fromEnv} (from ${source}); use a ` +
        "positive integer.",
    );
  }
  return value;
}

function activate(
  name: string,
  threads: number,
  auto = false,
): Promise<BackendInfo> {
  switch (name) {
    case "tensorflow-gpu":
    case "tensorflow":
      return activateNode(name, threads);
    case "webgpu":
      return activateGpu(auto);
    case "wasm+blas":
      return activateWasm(threads, requireBlas());
    case "wasm":
      return activateWasm(threads, null);
    default:
      return activateCpu();
  }
}

function requireBlas(): Blas {
  const blas = loadBlas();
  if (!blas) {
    throw new BackendUnavailable(
      `Backend "wasm+blas" needs a CBLAS library, none loaded ` +
        `(${blasLoadError()}). Install one (Debian/Ubuntu: apt-get install ` +
        "libopenblas0-pthread) or set BLAS_LIBRARY=/path/to/libopenblas.so.",
    );
  }
  return blas;
}

async function activateNode(
  name: string,
  threads: number,
): Promise<BackendInfo> {
  const pkg = NODE_PACKAGES[name];
  const howTo = `add "${pkg}": "npm:${pkg}@4.22.0" to deno.json's imports ` +
    `and run \`deno install --allow-scripts=npm:${pkg}\` (or \`npm install ` +
    `${pkg}@4.22.0\`) with internet access; it downloads a native libtensorflow`;
  // Only a package mapped in deno.json is tried: an unmapped npm: specifier
  // would make Deno fetch it from the registry on the spot.
  try {
    import.meta.resolve(pkg);
  } catch {
    throw new BackendUnavailable(
      `Backend "${name}" needs ${pkg}, which is not installed: ${howTo}.`,
    );
  }
  try {
    const specifier = pkg; // a variable keeps deno from prefetching it
    await import(specifier);
  } catch (e) {
    throw new BackendUnavailable(
      `Backend "${name}": ${pkg} failed to load ` +
        `(${(e as Error).message.split("\n")[0]}): ${howTo}.`,
    );
  }
  if (
    !tf.findBackendFactory("tensorflow") || !(await tf.setBackend("tensorflow"))
  ) {
    throw new BackendUnavailable(
      `Backend "${name}": ${pkg} loaded but registered no "tensorflow" ` +
        "backend with this tfjs-core; it must resolve to " +
        "@tensorflow/tfjs-core@4.22.0, the same version as deno.json's.",
    );
  }
  return {
    name,
    tfBackend: "tensorflow",
    threads,
    detail: `${pkg} ${tf.version_core}, libtensorflow sets its own threads`,
  };
}

// "auto" passes a software adapter by (it runs the shaders on the CPU, many
// times slower than wasm+blas), and moves on, with a warning, from a GPU
// that fails to start: the CPU backends still give the same results.
async function activateGpu(auto: boolean): Promise<BackendInfo> {
  let summary;
  try {
    ({ summary } = await activateWebGPU({ hardwareOnly: auto }));
  } catch (e) {
    if (e instanceof WebGPUUnavailable) {
      throw new BackendUnavailable(e.message);
    }
    if (!auto) throw e;
    console.warn(
      `backend: skipping webgpu: ${(e as Error).message} Set ` +
        "TFJS_BACKEND to choose a backend and not see this.",
    );
    throw new BackendUnavailable((e as Error).message);
  }
  return {
    name: "webgpu",
    tfBackend: "webgpu",
    threads: 1,
    adapter: summary.description,
    detail: `${describeAdapter(summary)}, tfjs-backend-webgpu ` +
      tf.version_core,
  };
}

async function activateWasm(
  threads: number,
  blas: Blas | null,
): Promise<BackendInfo> {
  if (!(await tf.setBackend("wasm"))) {
    throw new BackendUnavailable(
      "The tfjs wasm backend failed to initialize; check that " +
        "node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm exist " +
        "(run `deno install`).",
    );
  }
  registerWasmConvKernels();
  registerWasmMatMulKernels();
  registerWasmOptimizerKernels();
  registerWasmBatchNormKernels();
  registerWasmRandomKernels();
  registerWasmLossKernels();
  registerWasmDepoolKernels();
  const simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT") ? " SIMD" : "";
  if (!blas) {
    return {
      name: "wasm",
      tfBackend: "wasm",
      threads: 1,
      detail: `tfjs-backend-wasm ${tf.version_core}${simd}, 1 thread, no BLAS`,
    };
  }
  registerBlasMatMulKernels(blas);
  registerBlasConvKernels(blas);
  blas.setThreads(threads);
  const described = blas.describe().replace(/ \(\d+ threads?\)$/, "");
  const n = blas.threads();
  return {
    name: "wasm+blas",
    tfBackend: "wasm",
    threads: n,
    blas: blas.describe(),
    detail: `${described}, ${n} thread${n === 1 ? "" : "s"}`,
  };
}

async function activateCpu(): Promise<BackendInfo> {
  if (!(await tf.setBackend("cpu"))) {
    throw new Error(
      "The tfjs cpu backend failed to initialize; reinstall " +
        "@tensorflow/tfjs-backend-cpu (deno install).",
    );
  }
  return {
    name: "cpu",
    tfBackend: "cpu",
    threads: 1,
    detail: `tfjs-backend-cpu ${tf.version_core}, 1 thread`,
  };
}
