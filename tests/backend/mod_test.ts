import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { mayHaveGpu, probeWebGPU } from "../../lib/backend/webgpu.ts";
import { loadBlas } from "../../lib/backend/blas.ts";
import {
  activeMatMulKernels,
  restoreOriginalMatMulKernels,
} from "../../lib/backend/matmul_kernels.ts";
import { describeBackend, initBackend } from "../../lib/backend/mod.ts";

/** Runs fn with the given environment variables set (undefined: unset). */
async function withEnv<T>(
  vars: Record<string, string | undefined>,
  fn: () => Promise<T>,
): Promise<T> {
  const saved = Object.fromEntries(
    Object.keys(vars).map((k) => [k, Deno.env.get(k)]),
  );
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, val] of Object.entries(v)) {
      if (val === undefined) Deno.env.delete(k);
      else Deno.env.set(k, val);
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

const NO_ENV = { TFJS_BACKEND: undefined, TFJS_THREADS: undefined };

Deno.test("an explicit backend option beats TFJS_BACKEND", async () => {
  await withEnv({ ...NO_ENV, TFJS_BACKEND: "wasm" }, async () => {
    const info = await initBackend({ backend: "cpu" });
    assert.equal(info.name, "cpu");
    assert.equal(tf.getBackend(), "cpu");
  });
});

Deno.test(
  "TFJS_BACKEND applies when the option is missing or auto",
  async () => {
    await withEnv({ ...NO_ENV, TFJS_BACKEND: "cpu" }, async () => {
      assert.equal((await initBackend()).name, "cpu");
      await initBackend({ backend: "wasm" });
      assert.equal((await initBackend({ backend: "auto" })).name, "cpu");
      assert.equal(tf.getBackend(), "cpu");
    });
    await withEnv({ ...NO_ENV, TFJS_BACKEND: "wasm" }, async () => {
      const info = await initBackend();
      assert.equal(info.name, "wasm");
      assert.equal(tf.getBackend(), "wasm");
    });
  },
);

Deno.test("auto picks wasm+blas here when a BLAS loads and no hardware GPU is there", async () => {
  const hardware = mayHaveGpu() &&
    (await probeWebGPU()).summary?.software === false;
  await withEnv(NO_ENV, async () => {
    const info = await initBackend();
    // tfjs-node is not installed in this project, so auto falls through to
    // webgpu on a hardware adapter, else to the wasm backends.
    if (hardware) {
      assert.equal(info.name, "webgpu");
      return;
    }
    assert.equal(info.name, loadBlas() ? "wasm+blas" : "wasm");
    assert.equal(info.tfBackend, "wasm");
    assert.equal(tf.getBackend(), "wasm");
  });
});

Deno.test(
  "an unavailable explicit backend throws what to install",
  async () => {
    await withEnv(NO_ENV, async () => {
      await initBackend({ backend: "cpu" });
      await assert.rejects(
        initBackend({ backend: "tensorflow" }),
        /tensorflow.*@tensorflow\/tfjs-node@4\.22\.0/s,
      );
      await assert.rejects(
        initBackend({ backend: "tensorflow-gpu" }),
        /@tensorflow\/tfjs-node-gpu@4\.22\.0/,
      );
      await withEnv({ TFJS_BACKEND: "tensorflow" }, async () => {
        await assert.rejects(initBackend(), /tfjs-node/);
      });
      // The failed attempts left the previous backend in place.
      assert.equal(tf.getBackend(), "cpu");
    });
  },
);

Deno.test(
  "unknown names and bad thread counts are rejected",
  async () => {
    await withEnv(NO_ENV, async () => {
      await assert.rejects(
        initBackend({ backend: "webgl" }),
        /Unknown backend "webgl".*wasm\+blas/s,
      );
      await withEnv({ TFJS_BACKEND: "gpu" }, async () => {
        await assert.rejects(
          initBackend(),
          /Unknown backend "gpu" \(from TFJS_BACKEND\)/,
        );
      });
      await assert.rejects(
        initBackend({ threads: 0 }),
        /Invalid thread count 0/,
      );
      await withEnv({ TFJS_THREADS: "two" }, async () => {
        await assert.rejects(initBackend(), /TFJS_THREADS/);
      });
    });
  },
);

Deno.test("threads come from the option, then TFJS_THREADS", async () => {
  const blas = loadBlas();
  if (!blas) return; // nothing to set without a BLAS
  await withEnv({ ...NO_ENV, TFJS_THREADS: "2" }, async () => {
    const one = await initBackend({ backend: "wasm+blas", threads: 1 });
    assert.equal(one.threads, 1);
    assert.equal(blas.threads(), 1);
    assert.match(
      describeBackend(one),
      /^backend: wasm\+blas \(.*, 1 thread\)$/,
    );
    const two = await initBackend({ backend: "wasm+blas" });
    assert.equal(two.threads, 2);
    assert.equal(blas.threads(), 2);
    assert.match(describeBackend(two), /, 2 threads\)$/);
  });
});

Deno.test(
  "initBackend is idempotent and switching restores kernels",
  async () => {
    await withEnv(NO_ENV, async () => {
      const hand = [26, 30, 38, 44]; // [[1,2],[3,4]]ᵀ @ [[5,6],[7,8]]
      const product = () =>
        tf.tidy(() =>
          Array.from(
            tf.matMul(
              tf.tensor2d([1, 2, 3, 4], [2, 2]),
              tf.tensor2d([5, 6, 7, 8], [2, 2]),
              true,
            ).dataSync(),
          )
        );
      const modes: [string, string][] = [
        ["wasm+blas", "blas"],
        ["wasm", "wasm"],
        ["wasm+blas", "blas"],
        ["cpu", "blas"], // cpu leaves the wasm kernels alone
        ["wasm", "wasm"],
      ];
      for (const [backend, kernels] of modes) {
        if (backend === "wasm+blas" && !loadBlas()) continue;
        const info = await initBackend({ backend });
        assert.strictEqual(await initBackend({ backend }), info, "idempotent");
        assert.equal(info.name, backend);
        assert.equal(activeMatMulKernels(), kernels, `after ${backend}`);
        assert.deepEqual(product(), hand, backend);
      }
      // Kernels swapped behind initBackend's back are put back next call.
      restoreOriginalMatMulKernels();
      assert.equal(activeMatMulKernels(), "original");
      await initBackend({ backend: "wasm" });
      assert.equal(activeMatMulKernels(), "wasm");
    });
  },
);
