/**
 * Our own SIMD WebAssembly kernels (lib/backend/wasm/kernels.c), instantiated
 * on the tfjs wasm backend's memory so they work on tensors in place.
 *
 * Loops in JavaScript over the heap run at several nanoseconds per element;
 * these run at a fraction of one. {@linkcode wasmKernels} returns null when
 * the module cannot share the backend's memory (a threaded build, whose
 * memory is shared), or after `setWasmKernelsEnabled(false)`; callers then use
 * their JavaScript loops.
 *
 * @module
 */
import { KERNELS_WASM_BASE64 } from "./wasm/kernels_wasm.ts";
import type { WasmBackend } from "./wasm_heap.ts";

/** The exports of kernels.c; pointers are byte offsets on the heap. */
export interface WasmKernels {
  /** Per-feature sums of `x - ref` and its square, added into `s1`, `s2` (f64; `p1`, `p2` f32 scratch). */
  bn_stats(
    x: number,
    rows: number,
    c: number,
    ref: number,
    s1: number,
    s2: number,
    p1: number,
    p2: number,
  ): void;
  /** `y = act(x * scale + shift)`: act 0 linear, 1 relu, 2 tanh, 3 hardtanh, 4 softplus. */
  bn_apply(
    x: number,
    y: number,
    rows: number,
    c: number,
    scale: number,
    shift: number,
    act: number,
  ): void;
  /** Per-feature sums `sumG`, `sumGX` of `g = dy * act'(z)` (f64; `p1`, `p2` f32 scratch; softplus stores g). */
  bn_grad_sums(
    x: number,
    dy: number,
    y: number,
    g: number,
    rows: number,
    c: number,
    scale: number,
    shift: number,
    meanx: number,
    act: number,
    sumG: number,
    sumGX: number,
    p1: number,
    p2: number,
  ): void;
  /** `dx = g * scale + x * coef + offset`, g recomputed from `dy` (softplus: read from `g`). */
  bn_grad_apply(
    x: number,
    dy: number,
    y: number,
    g: number,
    dx: number,
    rows: number,
    c: number,
    scale: number,
    shift: number,
    coef: number,
    offset: number,
    act: number,
  ): void;
  /** `n` seeded standard normal floats into `out` (see lib/nn/random_normal.ts). */
  randn(out: number, n: number, seed: number): void;
  /** `sum((x - y)^2)` (`p`: 16 floats of scratch). */
  sq_err_sum(x: number, y: number, n: number, p: number): number;
  /** `dy = scale * (y - x)`. */
  sq_err_grad(x: number, y: number, dy: number, n: number, scale: number): void;
  /** `sum(2 log(sigma + 1e-12) - sigma^2 - mu^2 + 1)` (`p`: 16 floats of scratch). */
  gauss_kl_sum(mu: number, sigma: number, n: number, p: number): number;
  /** `dmu = g mu`, `dsigma = g (sigma - 1 / (sigma + 1e-12))`. */
  gauss_kl_grad(
    mu: number,
    sigma: number,
    dmu: number,
    dsigma: number,
    n: number,
    g: number,
  ): void;
  /** Rows `[rowStart, rowEnd)` of im2col (see lib/backend/im2col.ts) into `col`. */
  im2col_rows(
    x: number,
    col: number,
    inH: number,
    inW: number,
    inC: number,
    outH: number,
    outW: number,
    fH: number,
    fW: number,
    strideH: number,
    strideW: number,
    dilationH: number,
    dilationW: number,
    padTop: number,
    padLeft: number,
    rowStart: number,
    rowEnd: number,
  ): void;
  /** Adds rows `[rowStart, rowEnd)` of `col` onto `dx`: im2col.ts's `col2im`, bit for bit. */
  col2im_rows(
    col: number,
    dx: number,
    inH: number,
    inW: number,
    inC: number,
    outH: number,
    outW: number,
    fH: number,
    fW: number,
    strideH: number,
    strideW: number,
    dilationH: number,
    dilationW: number,
    padTop: number,
    padLeft: number,
    rowStart: number,
    rowEnd: number,
  ): void;
  /**
   * Writes images `[imageStart, imageEnd)` of `dx` from their `col` rows:
   * im2col.ts's `col2imImages`, bit for bit (`rowsTab`, `colsTab`: tap tables
   * of `tapTable`; `acc`: `inC` doubles of scratch).
   */
  col2im_images(
    col: number,
    dx: number,
    inH: number,
    inW: number,
    inC: number,
    outH: number,
    outW: number,
    fH: number,
    fW: number,
    imageStart: number,
    imageEnd: number,
    rowsTab: number,
    colsTab: number,
    acc: number,
  ): void;
  /** dx of disjoint 2x2 max pooling, windows' taps written (see kernels.c). */
  max_pool_grad_2x2(
    x: number,
    dy: number,
    dx: number,
    batch: number,
    inH: number,
    inW: number,
    c: number,
    outH: number,
    outW: number,
    strideH: number,
    strideW: number,
  ): void;
  /** Zero insertion (lib/nn/depool.ts): `rows = n * h` rows of `w` pixels of `c` channels, factor `f`. */
  depool2d(
    x: number,
    y: number,
    rows: number,
    w: number,
    c: number,
    f: number,
  ): void;
  /** The top-left element of each `f x f` block of `dy` into `dx` (`rows = n * h` of dx). */
  depool2d_grad(
    dy: number,
    dx: number,
    rows: number,
    w: number,
    c: number,
    f: number,
  ): void;
  /** The Nesterov momentum update into `outP`, `outM`. */
  nesterov(
    p: number,
    mem: number,
    g: number,
    outP: number,
    outM: number,
    n: number,
    lr: number,
    m: number,
  ): void;
  /** `sum(x^2)` (`p`: 16 floats of scratch). */
  sum_sq(x: number, n: number, p: number): number;
  /** The seed's rescaling RMSProp update (gradient `scale * g`, or `0.1 * p` when `shrink` is 1). */
  rmsprop_rescaled(
    p: number,
    mem: number,
    sq: number,
    avg: number,
    g: number,
    outP: number,
    outM: number,
    outSq: number,
    outAvg: number,
    n: number,
    lr: number,
    m: number,
    scale: number,
    shrink: number,
  ): void;
  /** Centred RMSProp with momentum (Graves 2013); `nesterov` 1 for the look-ahead step. */
  rmsprop_centered(
    p: number,
    ms: number,
    mg: number,
    d: number,
    g: number,
    outP: number,
    outMs: number,
    outMg: number,
    outD: number,
    n: number,
    lr: number,
    decay: number,
    oneMinusDecay: number,
    m: number,
    eps: number,
    nesterov: number,
  ): void;
  /** The Adam update; `c1`, `c2` the bias corrections `1 - beta^t`. */
  adam(
    p: number,
    m1: number,
    m2: number,
    g: number,
    outP: number,
    outM1: number,
    outM2: number,
    n: number,
    lr: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    c1: number,
    c2: number,
    eps: number,
  ): void;
}

let compiled: WebAssembly.Module | null = null;
let enabled = true;

/** Turns the wasm kernels off (callers fall back to JavaScript) or back on. */
export function setWasmKernelsEnabled(on: boolean): void {
  enabled = on;
}
const instances = new WeakMap<WebAssembly.Memory, WasmKernels | null>();

/** The backend's `WebAssembly.Memory`, when the build exposes it. */
function backendMemory(backend: WasmBackend): WebAssembly.Memory | null {
  const asm = (backend.wasm as unknown as { asm?: { memory?: unknown } }).asm;
  const memory = asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : null;
}

/** The kernels bound to `backend`'s memory, or null (use JavaScript loops). */
export function wasmKernels(backend: WasmBackend): WasmKernels | null {
  if (!enabled) return null;
  const memory = backendMemory(backend);
  if (!memory || !(memory.buffer instanceof ArrayBuffer)) return null;
  if (instances.has(memory)) return instances.get(memory)!;
  let kernels: WasmKernels | null = null;
  try {
    compiled ??= new WebAssembly.Module(
      Uint8Array.from(atob(KERNELS_WASM_BASE64), (ch) => ch.charCodeAt(0)),
    );
    const instance = new WebAssembly.Instance(compiled, { env: { memory } });
    kernels = instance.exports as unknown as WasmKernels;
  } catch {
    kernels = null; // e.g. no SIMD support: the JavaScript loops serve.
  }
  instances.set(memory, kernels);
  return kernels;
}
