/**
 * The "webgpu" backend: `@tensorflow/tfjs-backend-webgpu` on Deno's built-in
 * WebGPU (`navigator.gpu`: Vulkan on Linux, Metal on macOS, Direct3D 12 on
 * Windows), installed from npm alone.
 *
 * ```ts
 * const probe = await probeWebGPU();        // which adapter, if any; never throws
 * const setup = await activateWebGPU();     // tf.setBackend("webgpu") with sync reads
 * ```
 *
 * What differs from loading the package as is:
 *
 * - **One adapter, asked for once and quietly.** The adapter found by
 *   {@linkcode probeWebGPU} is the one the backend runs on (the package's
 *   own factory asks again, and fails with a TypeError when there is none).
 *   On Linux, Mesa's Vulkan loader prints "XDG_RUNTIME_DIR is invalid or not
 *   set" to stderr for every adapter request made without that variable
 *   (containers, CI); it looks for a Wayland display there and finds none
 *   either way, so the variable is set to a path that does not exist for
 *   the duration of the request, then removed again.
 * - **Synchronous reads.** tfjs' `dataSync()` on webgpu reads through an
 *   `OffscreenCanvas`, which Deno does not have, and this project reads
 *   synchronously everywhere (a step's cost, checkpoints, evaluation). Deno's
 *   `GPUBuffer.mapAsync` waits for the device and maps the buffer before it
 *   returns its promise (the promise itself settles ~10 ms later), and
 *   `getMappedRange` works on a mapped buffer whose map mode is known, which
 *   it is for a buffer that has been mapped for reading once. So reads go
 *   through one staging buffer, mapped and unmapped once when the backend
 *   starts, then mapped and read in the same turn, in chunks of
 *   {@linkcode SYNC_READ_CHUNK_BYTES}. This relies on Deno's implementation
 *   (ext/webgpu/buffer.rs: `map_async` polls the device with a wait before
 *   its first await; `get_mapped_range` unwraps the map mode that a
 *   completed map sets and `unmap` keeps, and panics on a buffer never
 *   mapped, hence the priming), checked on Deno 2.9.6;
 *   {@linkcode activateWebGPU} tests it and says so when it does not hold.
 * - **Rejected work is an error.** WebGPU reports an invalid pipeline as an
 *   event, not an exception, and the output keeps whatever its buffer held;
 *   the next read throws {@linkcode WebGPUValidationError} with the GPU's
 *   message instead of returning such values.
 * - **AddN of many tensors** is summed in groups the device can bind
 *   (lib/backend/webgpu_kernels.ts), and the device is asked for the
 *   adapter's storage-buffer limit rather than WebGPU's default 8.
 * - **A software adapter is named as such** ({@linkcode isSoftwareAdapter}),
 *   so `initBackend`'s "auto" can pass it by: Mesa's llvmpipe (lavapipe)
 *   runs the shaders on the CPU, many times slower than "wasm+blas".
 *
 * The project's own kernels (fused batch norm, the VAE's cost terms, the
 * optimizers' updates, seeded noise, depooling) are not registered here:
 * each op falls back to tfjs ops when the active backend lacks its kernel,
 * and those run as the package's WGSL kernels.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { registerWebGPUKernels } from "./webgpu_kernels.ts";

/** What {@linkcode probeWebGPU} found out about the adapter. */
export interface WebGPUAdapterSummary {
  /** The adapter's name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** Vendor (a PCI id or a name, as the platform reports it). */
  vendor: string;
  /** Architecture, often empty. */
  architecture: string;
  /** WebGPU's `isFallbackAdapter`. */
  fallback: boolean;
  /** A CPU implementation (see {@linkcode isSoftwareAdapter}). */
  software: boolean;
}

/** {@linkcode probeWebGPU}'s answer: an adapter and its summary, or why there is none. */
export type WebGPUProbe =
  | { adapter: GPUAdapter; summary: WebGPUAdapterSummary; reason?: undefined }
  | { adapter: null; summary?: undefined; reason: string };

/** Bytes one synchronous read moves per map of the staging buffer. */
export const SYNC_READ_CHUNK_BYTES = 4 << 20;

// Names of CPU implementations of WebGPU's native APIs: Mesa's llvmpipe /
// lavapipe and softpipe, Google's SwiftShader, Microsoft's WARP ("Basic
// Render Driver").
const SOFTWARE_NAMES =
  /llvmpipe|lavapipe|softpipe|swiftshader|basic render|\bwarp\b/i;

/**
 * Whether an adapter is a software (CPU) implementation: WebGPU says so
 * (`isFallbackAdapter`), or its description, vendor or architecture names
 * one of llvmpipe, lavapipe, softpipe, SwiftShader or WARP.
 */
export function isSoftwareAdapter(info: {
  description?: string;
  vendor?: string;
  architecture?: string;
  isFallbackAdapter?: boolean;
}): boolean {
  if (info.isFallbackAdapter) return true;
  const text = [info.description, info.vendor, info.architecture].join(" ");
  return SOFTWARE_NAMES.test(text);
}

/** Installs the driver that gives WebGPU an adapter, by platform. */
export function webgpuInstallHint(): string {
  switch (Deno.build.os) {
    case "darwin":
      return "macOS provides WebGPU through Metal on any Mac since 2015; " +
        "check that this process may use the GPU";
    case "windows":
      return "Windows provides WebGPU through Direct3D 12; install the " +
        "GPU vendor's current driver";
    default:
      return "on Linux WebGPU needs a Vulkan driver: the GPU vendor's " +
        "(NVIDIA's driver, or Mesa's mesa-vulkan-drivers for AMD and Intel), " +
        "or Mesa's software device for testing (Debian/Ubuntu: apt-get " +
        "install mesa-vulkan-drivers)";
  }
}

function envGet(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env
  }
}

function envSet(name: string, value: string | undefined): boolean {
  try {
    if (value === undefined) Deno.env.delete(name);
    else Deno.env.set(name, value);
    return true;
  } catch {
    return false;
  }
}

// The variable's value while the adapter is requested: an absolute path, so
// the loader's check passes, that holds no Wayland socket.
const QUIET_RUNTIME_DIR = "/nonexistent-xdg-runtime-dir";

async function requestAdapter(): Promise<WebGPUProbe> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    return {
      adapter: null,
      reason: `this Deno (${Deno.version.deno}) has no navigator.gpu; ` +
        "use Deno 2.9 or later",
    };
  }
  const quiet = Deno.build.os === "linux" && !envGet("XDG_RUNTIME_DIR") &&
    envSet("XDG_RUNTIME_DIR", QUIET_RUNTIME_DIR);
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (e) {
    return {
      adapter: null,
      reason: `navigator.gpu.requestAdapter() failed (${
        (e as Error).message
      }); ${webgpuInstallHint()}`,
    };
  } finally {
    if (quiet) envSet("XDG_RUNTIME_DIR", undefined);
  }
  if (!adapter) {
    return {
      adapter: null,
      reason:
        `navigator.gpu.requestAdapter() found no adapter; ${webgpuInstallHint()}`,
    };
  }
  const info = adapter.info;
  return {
    adapter,
    summary: {
      description: info.description || "unnamed adapter",
      vendor: info.vendor,
      architecture: info.architecture,
      fallback: Boolean(info.isFallbackAdapter),
      software: isSoftwareAdapter(info),
    },
  };
}

let probing: Promise<WebGPUProbe> | null = null;

/**
 * The WebGPU adapter of this process (asked for once, with "high-performance"
 * preference) and its summary, or why there is none. Never throws, and
 * prints nothing: a machine without a GPU driver gets `adapter: null`.
 */
export function probeWebGPU(): Promise<WebGPUProbe> {
  probing ??= requestAdapter();
  return probing;
}

/**
 * Whether this machine may have a GPU for WebGPU. On Linux a GPU driver
 * shows a device node (`/dev/dri/renderD*` for Mesa's and AMD's, Intel's,
 * `/dev/nvidia0` for NVIDIA's, `/dev/dxg` under WSL2); without one the only
 * adapter would be a software one, and asking for it loads Mesa's LLVM
 * (~70 ms, ~90 MB) for nothing. Elsewhere, and when /dev cannot be read,
 * true.
 */
export function mayHaveGpu(): boolean {
  if (Deno.build.os !== "linux") return true;
  try {
    for (const node of ["/dev/nvidia0", "/dev/dxg"]) {
      try {
        Deno.statSync(node);
        return true;
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    try {
      for (const entry of Deno.readDirSync("/dev/dri")) {
        if (entry.name.startsWith("renderD")) return true;
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return false;
  } catch {
    return true; // no --allow-read: ask WebGPU
  }
}

/** One line naming the adapter, e.g. "llvmpipe (LLVM 15.0.6, 256 bits), a software device". */
export function describeAdapter(summary: WebGPUAdapterSummary): string {
  const arch =
    summary.architecture && !summary.description.includes(summary.architecture)
      ? ` [${summary.architecture}]`
      : "";
  const kind = summary.software ? ", a software device on the CPU" : "";
  return `${summary.description}${arch}${kind}`;
}

/** What tfjs' WebGPU backend class offers that the synchronous read uses. */
interface WebGPUBackendInternals extends tf.KernelBackend {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  tensorMap: {
    get(dataId: object): {
      values: tf.backend_util.BackendValues | null;
      dtype: tf.DataType;
      resource?: unknown;
    };
  };
  read(dataId: object): Promise<tf.backend_util.BackendValues>;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  convertAndCacheOnCPU(
    dataId: object,
    values: tf.backend_util.BackendValues,
  ): tf.backend_util.BackendValues;
}

type WebGPUBackendClass = new (
  device: GPUDevice,
  adapterInfo?: GPUAdapterInfo,
) => WebGPUBackendInternals;

/** Reads GPU buffers synchronously through one primed staging buffer. */
class SyncReader {
  readonly #staging: GPUBuffer;

  private constructor(staging: GPUBuffer) {
    this.#staging = staging;
  }

  /** A reader whose staging buffer has been mapped for reading once. */
  static async create(device: GPUDevice): Promise<SyncReader> {
    const staging = device.createBuffer({
      label: "sync-read staging",
      size: SYNC_READ_CHUNK_BYTES,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    // Deno records the map mode only when a map completes; after this the
    // mode is known, which getMappedRange needs.
    await staging.mapAsync(GPUMapMode.READ);
    staging.unmap();
    return new SyncReader(staging);
  }

  /** The bytes of `source` (a STORAGE | COPY_SRC buffer), read now. */
  read(backend: WebGPUBackendInternals, source: GPUBuffer): ArrayBuffer {
    const size = source.size;
    const out = new Uint8Array(size);
    for (let offset = 0; offset < size; offset += SYNC_READ_CHUNK_BYTES) {
      const n = Math.min(SYNC_READ_CHUNK_BYTES, size - offset);
      backend.ensureCommandEncoderReady();
      backend.endComputePassEncoder();
      backend.commandEncoder!.copyBufferToBuffer(
        source,
        offset,
        this.#staging,
        0,
        n,
      );
      backend.submitQueue();
      // Deno maps the buffer before returning; the promise settles later
      // and has nothing left to say (a rejection means the map was
      // cancelled by the unmap below after a failure already reported).
      this.#staging.mapAsync(GPUMapMode.READ, 0, n).catch(() => {});
      let bytes: ArrayBuffer;
      try {
        bytes = this.#staging.getMappedRange(0, n);
        out.set(new Uint8Array(bytes), offset);
      } catch (e) {
        throw new Error(
          `webgpu: cannot read a GPU buffer synchronously on Deno ` +
            `${Deno.version.deno} (${(e as Error).message}): the backend ` +
            "relies on GPUBuffer.mapAsync mapping before it returns, as Deno " +
            "2.9 does; use Deno 2.9, or another backend (TFJS_BACKEND=wasm+blas)",
        );
      } finally {
        this.#staging.unmap();
      }
    }
    return out.buffer;
  }

  destroy(): void {
    this.#staging.destroy();
  }
}

/**
 * The GPU rejected work (an invalid pipeline, a buffer past a limit): the
 * results of that work are wrong, not just slow.
 */
export class WebGPUValidationError extends Error {
  override name = "WebGPUValidationError";
}

/**
 * Collects the device's uncaptured errors. WebGPU reports them as events
 * after the work was queued, never as exceptions, and the output buffers of
 * rejected work keep whatever they held; `check()` turns the first one into
 * an exception at the next read, which is the first place a wrong value
 * could be seen.
 */
function trackErrors(device: GPUDevice): { check(): void } {
  let first: string | null = null;
  let count = 0;
  device.addEventListener("uncapturederror", (e) => {
    const message = (e as GPUUncapturedErrorEvent).error.message;
    count++;
    if (first === null) {
      first = message;
      console.error(`webgpu: the GPU rejected work: ${message}`);
    }
  });
  return {
    check() {
      if (first === null) return;
      throw new WebGPUValidationError(
        `webgpu: the GPU rejected ${count} piece${count === 1 ? "" : "s"} ` +
          `of work, so values computed since are wrong; the first: ${first}. ` +
          "This is a bug of tfjs-backend-webgpu or of lib/backend/webgpu*.ts " +
          "on this GPU: use another backend (TFJS_BACKEND=wasm+blas) and " +
          "report it.",
      );
    },
  };
}

// The adapter the backend was set up on, once it has been.
let activated: { summary: WebGPUAdapterSummary } | null = null;

/**
 * Replaces the package's "webgpu" backend factory with one that runs on the
 * probed adapter and reads synchronously. Importing the package registers
 * its WGSL kernels under "webgpu" and its own factory (priority 3, above
 * every other backend); ours has priority 0, so tfjs never picks it by
 * itself.
 */
async function registerFactory(adapter: GPUAdapter): Promise<void> {
  // A variable specifier: the package is loaded only when webgpu is used.
  const pkg = "@tensorflow/tfjs-backend-webgpu";
  const mod = await import(pkg) as { WebGPUBackend: WebGPUBackendClass };
  if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", async () => {
    // The limits tfjs' own factory asks for (the adapter's, not WebGPU's
    // defaults), and the storage buffers per shader, which its AddN and
    // Concat need more of than the default 8.
    const limits = adapter.limits;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension:
          limits.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup:
          limits.maxComputeInvocationsPerWorkgroup,
      },
    });
    const backend = new mod.WebGPUBackend(device, adapter.info);
    const reader = await SyncReader.create(device);
    const errors = trackErrors(device);
    const stockReadSync = backend.readSync.bind(backend);
    const stockRead = backend.read.bind(backend);
    backend.read = async (dataId: object) => {
      const values = await stockRead(dataId);
      errors.check();
      return values;
    };
    backend.readSync = (dataId: object) => {
      errors.check();
      const data = backend.tensorMap.get(dataId);
      const resource = data.resource;
      if (
        data.values != null || data.dtype === "string" ||
        data.dtype === "complex64" || !(resource instanceof GPUBuffer)
      ) {
        // Values on the CPU, or complex parts (read back through here).
        return stockReadSync(dataId);
      }
      const values = tf.util.convertBackendValuesAndArrayBuffer(
        reader.read(backend, resource),
        data.dtype,
      );
      return backend.convertAndCacheOnCPU(dataId, values);
    };
    const stockDispose = backend.dispose.bind(backend);
    backend.dispose = () => {
      stockDispose();
      reader.destroy();
    };
    return backend;
  }, 0);
}

/**
 * Makes "webgpu" the active tfjs backend on the probed adapter and returns
 * the adapter's summary. With `hardwareOnly`, a software adapter is refused.
 * Throws an Error naming the cause and the fix when there is no adapter,
 * the backend fails to start, or synchronous reads do not work.
 */
export async function activateWebGPU(
  opts: { hardwareOnly?: boolean } = {},
): Promise<{ summary: WebGPUAdapterSummary }> {
  if (opts.hardwareOnly && !activated && !mayHaveGpu()) {
    throw new WebGPUUnavailable(
      'Backend "webgpu": no GPU device node (/dev/dri/renderD*, ' +
        "/dev/nvidia0, /dev/dxg), so no hardware adapter.",
    );
  }
  const probe = await probeWebGPU();
  if (!probe.adapter) {
    throw new WebGPUUnavailable(`Backend "webgpu": ${probe.reason}.`);
  }
  if (opts.hardwareOnly && probe.summary.software) {
    throw new WebGPUUnavailable(
      `Backend "webgpu": the only adapter is ${
        describeAdapter(probe.summary)
      }, slower than wasm+blas; choose it explicitly (backend "webgpu") to ` +
        "use it anyway.",
    );
  }
  if (!activated) {
    await registerFactory(probe.adapter);
    let ok: boolean;
    try {
      ok = await tf.setBackend("webgpu");
    } catch (e) {
      throw new Error(
        `Backend "webgpu" failed to start on ${
          describeAdapter(probe.summary)
        }: ${(e as Error).message}. Update the GPU driver, or use another ` +
          "backend (TFJS_BACKEND=wasm+blas).",
      );
    }
    if (!ok) {
      throw new Error(
        `Backend "webgpu" failed to start on ${
          describeAdapter(probe.summary)
        } (tf.setBackend returned false; tfjs logged why above). Update ` +
          "the GPU driver, or use another backend (TFJS_BACKEND=wasm+blas).",
      );
    }
    registerWebGPUKernels();
    checkSyncRead();
    activated = { summary: probe.summary };
  } else if (!(await tf.setBackend("webgpu"))) {
    throw new Error(
      'Backend "webgpu" was set up earlier but no longer starts; restart ' +
        "the process (the GPU device may have been lost).",
    );
  }
  return { summary: activated.summary };
}

// A value computed on the GPU, read synchronously: fails loudly here
// rather than at a training step's first dataSync(). 2048 elements: tfjs
// computes ops on small CPU-resident inputs (< 1000) on the CPU.
function checkSyncRead(): void {
  const n = 2048;
  const got = tf.tidy(() => tf.add(tf.range(0, n), 1).dataSync());
  const bad = got.findIndex((v, i) => v !== i + 1);
  if (got.length !== n || bad >= 0) {
    throw new Error(
      `Backend "webgpu": a synchronous read of a GPU buffer returned ` +
        `${got[bad]} at index ${bad} for ${bad + 1} on Deno ` +
        `${Deno.version.deno}; use Deno 2.9, or another backend ` +
        "(TFJS_BACKEND=wasm+blas).",
    );
  }
}

/** No adapter (or only a software one where a hardware one is required). */
export class WebGPUUnavailable extends Error {
  override name = "WebGPUUnavailable";
}
