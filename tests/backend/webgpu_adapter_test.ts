/**
 * How the webgpu backend tells a software adapter from a GPU, and what
 * `initBackend` says and does without a usable one. These run on every
 * machine (no adapter needed).
 */
import assert from "node:assert/strict";
import { BACKEND_NAMES, initBackend } from "../../lib/backend/mod.ts";
import {
  describeAdapter,
  isSoftwareAdapter,
  probeWebGPU,
} from "../../lib/backend/webgpu.ts";

Deno.test("software adapters are recognized by WebGPU's flag or by name", () => {
  const software = [
    { description: "llvmpipe (LLVM 15.0.6, 256 bits)" },
    { description: "Lavapipe" },
    { description: "SwiftShader Device (Subzero)", vendor: "google" },
    { description: "Microsoft Basic Render Driver" },
    { description: "WARP" },
    { description: "some GPU", isFallbackAdapter: true },
    { description: "", architecture: "softpipe" },
  ];
  for (const info of software) {
    assert.equal(isSoftwareAdapter(info), true, JSON.stringify(info));
  }
  const hardware = [
    { description: "NVIDIA GeForce RTX 4090", vendor: "4318" },
    { description: "AMD Radeon RX 7900 XTX (RADV NAVI31)", vendor: "4098" },
    { description: "Intel(R) Arc(tm) A770 Graphics (DG2)", vendor: "32902" },
    { description: "Apple M2 Pro", vendor: "apple", architecture: "metal-3" },
    // "warp" as part of a word is not Microsoft's WARP.
    { description: "Warpspeed X1000" },
  ];
  for (const info of hardware) {
    assert.equal(isSoftwareAdapter(info), false, JSON.stringify(info));
  }
});

Deno.test("the adapter line names the architecture once and says 'software'", () => {
  const line = (architecture: string, software: boolean) =>
    describeAdapter({
      description: "Apple M2 Pro",
      vendor: "apple",
      architecture,
      fallback: false,
      software,
    });
  assert.equal(line("", false), "Apple M2 Pro");
  assert.equal(line("metal-3", false), "Apple M2 Pro [metal-3]");
  assert.equal(line("M2", false), "Apple M2 Pro");
  assert.equal(
    line("", true),
    "Apple M2 Pro, a software device on the CPU",
  );
});

Deno.test("webgpu is a backend name, and auto never lands on a software adapter", async () => {
  assert.ok((BACKEND_NAMES as readonly string[]).includes("webgpu"));
  const saved = Deno.env.get("TFJS_BACKEND");
  Deno.env.delete("TFJS_BACKEND");
  try {
    const info = await initBackend({ backend: "auto" });
    if (!probe.adapter || probe.summary.software) {
      assert.notEqual(info.name, "webgpu");
    }
  } finally {
    if (saved !== undefined) Deno.env.set("TFJS_BACKEND", saved);
  }
});

// Where an adapter exists, webgpu_ops_test.ts covers the explicit choice.
const probe = await probeWebGPU();

Deno.test({
  name: "an explicit webgpu without any adapter says what to install",
  ignore: probe.adapter !== null,
  async fn() {
    await assert.rejects(
      initBackend({ backend: "webgpu" }),
      /no adapter.*(Vulkan|Metal|Direct3D)/s,
    );
  },
});
