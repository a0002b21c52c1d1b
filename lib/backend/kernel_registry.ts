/**
 * The one way our modules put kernels on a tfjs backend.
 *
 * tfjs keeps one global table of kernels per (kernel name, backend name).
 * Our replacements often fall back to the stock kernel for inputs they do
 * not handle, and backends can be switched back and forth in one process,
 * so the table needs bookkeeping that every kernel module would otherwise
 * repeat:
 *
 * - {@linkcode installKernel} replaces a kernel, remembering the stock one
 *   (absent included) the first time that name is replaced, and carries the
 *   stock `setupFunc` over;
 * - {@linkcode callStockKernel} / {@linkcode stockKernel} reach the stock
 *   kernel from inside a replacement;
 * - {@linkcode restoreStockKernels} puts the stock table entries back;
 * - {@linkcode registerKernelsOnce} adds kernels no backend package has,
 *   leaving any registration already there alone.
 *
 * Every function takes the backend name last, "wasm" by default.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/** The argument tfjs passes to every kernel function. */
export type KernelArgs = Parameters<tf.KernelFunc>[0];

const DEFAULT_BACKEND = "wasm";

/**
 * Per backend, per kernel name: what was registered before we first
 * replaced it (`undefined` when nothing was). Only names we replaced are
 * keys, so restoring never touches kernels we did not install.
 */
const stock = new Map<string, Map<string, tf.KernelConfig | undefined>>();

function stockTable(backend: string): Map<string, tf.KernelConfig | undefined> {
  let table = stock.get(backend);
  if (!table) {
    table = new Map();
    stock.set(backend, table);
  }
  return table;
}

/**
 * Registers `kernelFunc` as kernel `name` on `backend`, replacing whatever
 * is registered. The first time a name is replaced the registration found
 * is remembered as the stock kernel (later calls keep that first one, so
 * replacements can replace each other). The stock `setupFunc` is
 * registered along with the replacement: replacements fall back to the
 * stock kernel, whose setup must still run when the backend is
 * (re)activated after this call.
 */
export function installKernel(
  name: string,
  kernelFunc: tf.KernelFunc,
  backend: string = DEFAULT_BACKEND,
): void {
  const table = stockTable(backend);
  const current = tf.getKernel(name, backend);
  if (!table.has(name)) table.set(name, current);
  if (current) tf.unregisterKernel(name, backend);
  tf.registerKernel({
    kernelName: name,
    backendName: backend,
    kernelFunc,
    setupFunc: table.get(name)?.setupFunc,
  });
}

/**
 * The stock kernel `name` on `backend`: the one remembered when the name
 * was first replaced, else the one registered now; `undefined` when there
 * is none.
 */
export function stockKernel(
  name: string,
  backend: string = DEFAULT_BACKEND,
): tf.KernelConfig | undefined {
  const table = stockTable(backend);
  return table.has(name) ? table.get(name) : tf.getKernel(name, backend);
}

/** Why a replacement calls the stock kernel, for the error when there is none. */
export interface StockCallOptions {
  /** Backend name (default "wasm"). */
  backend?: string;
  /** The input the replacement does not handle, e.g. "dtype int32". */
  why?: string;
  /** What the caller can do instead (default: run on the "cpu" backend). */
  fix?: string;
}

/**
 * Runs the stock kernel `name` with `args` and returns its one output.
 * Throws an Error naming the kernel, the reason and the fix when the
 * backend has no stock kernel of that name, or when it returns several
 * outputs (call `stockKernel(name).kernelFunc` for those).
 */
export function callStockKernel(
  name: string,
  args: KernelArgs,
  opts: StockCallOptions = {},
): tf.TensorInfo {
  const backend = opts.backend ?? DEFAULT_BACKEND;
  const config = stockKernel(name, backend);
  if (!config) {
    const reason = opts.why ? `${opts.why} needs` : "this call needs";
    const fix = opts.fix ??
      `import the package that registers the "${backend}" backend's ` +
        `kernels before installing replacements, or run on the "cpu" backend`;
    throw new Error(
      `${name} on ${backend}: ${reason} the stock kernel, and ${backend} ` +
        `has no ${name} kernel of its own to fall back to; ${fix}.`,
    );
  }
  const out = config.kernelFunc(args);
  if (Array.isArray(out)) {
    throw new Error(
      `${name} on ${backend}: the stock kernel returned ${out.length} ` +
        `outputs where one was expected; call stockKernel("${name}")` +
        `.kernelFunc for multi-output kernels.`,
    );
  }
  return out;
}

/**
 * Puts back exactly the stock registration of each of `names` on `backend`
 * (the same config object, or no kernel where there was none). Names never
 * replaced through {@linkcode installKernel} are left as they are.
 */
export function restoreStockKernels(
  names: readonly string[],
  backend: string = DEFAULT_BACKEND,
): void {
  const table = stockTable(backend);
  for (const name of names) {
    if (!table.has(name)) continue;
    const original = table.get(name);
    const current = tf.getKernel(name, backend);
    if (current === original) continue;
    if (current) tf.unregisterKernel(name, backend);
    if (original) tf.registerKernel(original);
  }
}

/**
 * Registers each `[kernelName, kernelFunc]` on `backend` unless a kernel of
 * that name is there already, so registering twice is harmless. For kernels
 * that exist only in our modules; nothing is remembered for restoring.
 */
export function registerKernelsOnce(
  kernels: readonly (readonly [string, unknown])[],
  backend: string = DEFAULT_BACKEND,
): void {
  for (const [kernelName, kernelFunc] of kernels) {
    if (tf.getKernel(kernelName, backend)) continue;
    tf.registerKernel({
      kernelName,
      backendName: backend,
      kernelFunc: kernelFunc as tf.KernelFunc,
    });
  }
}
