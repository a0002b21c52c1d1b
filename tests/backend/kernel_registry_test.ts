/**
 * The kernel registry (lib/backend/kernel_registry.ts) on made-up backend
 * names, so tfjs' real kernels stay untouched: installing remembers the
 * stock kernel and its setupFunc, restoring puts the very same config back,
 * register-once never replaces, and a missing stock kernel is a clear error.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import {
  callStockKernel,
  installKernel,
  type KernelArgs,
  registerKernelsOnce,
  restoreStockKernels,
  stockKernel,
} from "../../lib/backend/kernel_registry.ts";
import { registerWasmKernelsOnce } from "../../lib/backend/wasm_heap.ts";

const BACKEND = "registry-test";

/** A kernel function that returns `out` and records the args it got. */
function recorder(out: tf.TensorInfo | tf.TensorInfo[] = info(0)) {
  const calls: KernelArgs[] = [];
  const kernelFunc = (args: KernelArgs) => {
    calls.push(args);
    return out;
  };
  return { calls, kernelFunc };
}

/** A tensor record no backend holds; kernels here only pass it around. */
function info(id: number): tf.TensorInfo {
  return { dataId: { id }, shape: [1], dtype: "float32" };
}

function args(): KernelArgs {
  return { inputs: {}, backend: {}, attrs: {} } as unknown as KernelArgs;
}

function registerStock(name: string, backend = BACKEND): tf.KernelConfig {
  const config: tf.KernelConfig = {
    kernelName: name,
    backendName: backend,
    kernelFunc: recorder().kernelFunc,
    setupFunc: () => {},
  };
  tf.registerKernel(config);
  return config;
}

Deno.test("installKernel replaces a kernel, remembers the stock one and keeps its setupFunc", () => {
  const stock = registerStock("Install");
  const mine = recorder().kernelFunc;
  installKernel("Install", mine, BACKEND);
  assert.equal(tf.getKernel("Install", BACKEND)!.kernelFunc, mine);
  assert.equal(tf.getKernel("Install", BACKEND)!.setupFunc, stock.setupFunc);
  assert.equal(stockKernel("Install", BACKEND), stock);

  // A second replacement keeps the first stock kernel, not the replacement.
  const again = recorder().kernelFunc;
  installKernel("Install", again, BACKEND);
  assert.equal(tf.getKernel("Install", BACKEND)!.kernelFunc, again);
  assert.equal(tf.getKernel("Install", BACKEND)!.setupFunc, stock.setupFunc);
  assert.equal(stockKernel("Install", BACKEND), stock);
});

Deno.test("installKernel keeps each backend's stock kernel apart", () => {
  const stockA = registerStock("PerBackend", `${BACKEND}-a`);
  installKernel("PerBackend", recorder().kernelFunc, `${BACKEND}-a`);
  installKernel("PerBackend", recorder().kernelFunc, `${BACKEND}-b`);
  assert.equal(stockKernel("PerBackend", `${BACKEND}-a`), stockA);
  assert.equal(stockKernel("PerBackend", `${BACKEND}-b`), undefined);
  assert.equal(
    tf.getKernel("PerBackend", `${BACKEND}-b`)!.setupFunc,
    undefined,
    "no stock kernel, no setupFunc",
  );
});

Deno.test("installKernel defaults to the wasm backend", () => {
  const name = "RegistryTestWasmDefault";
  const mine = recorder().kernelFunc;
  installKernel(name, mine);
  try {
    assert.equal(tf.getKernel(name, "wasm")!.kernelFunc, mine);
    assert.equal(stockKernel(name), undefined);
  } finally {
    restoreStockKernels([name]);
  }
  assert.equal(tf.getKernel(name, "wasm"), undefined);
});

Deno.test("restoreStockKernels puts back the exact stock config and removes what had none", () => {
  const stock = registerStock("Restore");
  installKernel("Restore", recorder().kernelFunc, BACKEND);
  installKernel("Added", recorder().kernelFunc, BACKEND);
  const untouched = registerStock("NeverInstalled");

  restoreStockKernels(["Restore", "Added", "NeverInstalled"], BACKEND);
  assert.equal(tf.getKernel("Restore", BACKEND), stock);
  assert.equal(tf.getKernel("Added", BACKEND), undefined);
  assert.equal(tf.getKernel("NeverInstalled", BACKEND), untouched);

  // Restoring twice is harmless; installing again still knows the stock.
  restoreStockKernels(["Restore", "Added"], BACKEND);
  assert.equal(tf.getKernel("Restore", BACKEND), stock);
  installKernel("Restore", recorder().kernelFunc, BACKEND);
  assert.equal(stockKernel("Restore", BACKEND), stock);
  restoreStockKernels(["Restore"], BACKEND);
  assert.equal(tf.getKernel("Restore", BACKEND), stock);
});

Deno.test("callStockKernel runs the stock kernel with the caller's args", () => {
  const out = info(7);
  const stock = recorder(out);
  tf.registerKernel({
    kernelName: "CallStock",
    backendName: BACKEND,
    kernelFunc: stock.kernelFunc,
  });
  installKernel(
    "CallStock",
    (a) => callStockKernel("CallStock", a, { backend: BACKEND }),
    BACKEND,
  );
  const a = args();
  assert.equal(tf.getKernel("CallStock", BACKEND)!.kernelFunc(a), out);
  assert.deepEqual(stock.calls, [a]);
  assert.equal(stock.calls[0], a);
});

Deno.test("callStockKernel without a stock kernel names the kernel, the reason and the fix", () => {
  installKernel(
    "NoStock",
    (a) =>
      callStockKernel("NoStock", a, {
        backend: BACKEND,
        why: "dtype int32",
        fix: "cast the input to float32",
      }),
    BACKEND,
  );
  assert.throws(
    () => tf.getKernel("NoStock", BACKEND)!.kernelFunc(args()),
    (e: Error) =>
      e.message.startsWith(`NoStock on ${BACKEND}: dtype int32 needs`) &&
      e.message.includes("no NoStock kernel") &&
      e.message.endsWith("cast the input to float32."),
  );
  // Without a fix the message still says what to do.
  assert.throws(
    () => callStockKernel("NoStockAtAll", args(), { backend: BACKEND }),
    /NoStockAtAll on registry-test: .* run on the "cpu" backend\./,
  );
});

Deno.test("callStockKernel refuses a stock kernel with several outputs", () => {
  tf.registerKernel({
    kernelName: "TwoOutputs",
    backendName: BACKEND,
    kernelFunc: recorder([info(1), info(2)]).kernelFunc,
  });
  assert.throws(
    () => callStockKernel("TwoOutputs", args(), { backend: BACKEND }),
    /TwoOutputs on registry-test: the stock kernel returned 2 outputs/,
  );
});

Deno.test("registerKernelsOnce adds missing kernels and never replaces one", () => {
  const existing = registerStock("Once");
  const first = recorder().kernelFunc;
  registerKernelsOnce(
    [["Once", recorder().kernelFunc], ["Fresh", first]],
    BACKEND,
  );
  assert.equal(tf.getKernel("Once", BACKEND), existing);
  assert.equal(tf.getKernel("Fresh", BACKEND)!.kernelFunc, first);

  registerKernelsOnce([["Fresh", recorder().kernelFunc]], BACKEND);
  assert.equal(tf.getKernel("Fresh", BACKEND)!.kernelFunc, first);
  // Nothing was replaced, so there is nothing to restore.
  restoreStockKernels(["Fresh"], BACKEND);
  assert.equal(tf.getKernel("Fresh", BACKEND)!.kernelFunc, first);
});

Deno.test("registerWasmKernelsOnce registers once on wasm", () => {
  const name = "RegistryTestWasmOnce";
  const first = recorder().kernelFunc;
  registerWasmKernelsOnce([[name, first]]);
  registerWasmKernelsOnce([[name, recorder().kernelFunc]]);
  try {
    assert.equal(tf.getKernel(name, "wasm")!.kernelFunc, first);
  } finally {
    tf.unregisterKernel(name, "wasm");
  }
});
