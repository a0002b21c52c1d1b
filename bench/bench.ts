/**
 * `deno task bench`: training throughput of the seed's models on every
 * backend present, against PyTorch on the same machine in the same run, and
 * matmul GFLOP/s against the BLAS's own peak.
 *
 * ```sh
 * deno task bench                                     # full run
 * deno task bench --quick                              # smoke run
 * deno task bench --models ffvae_bs100 --backends wasm+blas --threads 1
 * deno task bench --markdown                           # README table
 * deno task bench --backends webgpu --no-torch --no-matmul   # a GPU
 * ```
 *
 * For each backend and model, our step and PyTorch's (bench/torch_ref.py,
 * kept running as a server) are timed alternately, `--rounds` times, and the
 * best of each is kept, so the ratio compares runs under the same machine
 * load. PyTorch gets the same thread count (`torch.set_num_threads`, and
 * OpenBLAS/OpenMP threads through the environment of its process).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { coreTypeSet, loadBlas } from "../lib/backend/blas.ts";
import {
  type BackendInfo,
  describeBackend,
  initBackend,
} from "../lib/backend/mod.ts";
import { probeWebGPU } from "../lib/backend/webgpu.ts";
import {
  type BenchCase,
  buildWorkload,
  caseName,
  DEFAULT_CASES,
  parseCase,
  timeSteps,
  type Timing,
  type TimingOptions,
  type Workload,
} from "./models.ts";

/**
 * Backends measured when `--backends` is not given. cpu is opt-in (~10 s a
 * step), and so is webgpu: on a machine without a GPU driver its adapter is
 * a software device, slower still.
 */
export const DEFAULT_BACKENDS = [
  "tensorflow-gpu",
  "tensorflow",
  "wasm+blas",
  "wasm",
] as const;

/** The four transpose pairs of a matmul, as "NN", "NT", "TN", "TT". */
export const TRANSPOSE_PAIRS = ["NN", "NT", "TN", "TT"] as const;

/** Parsed command line of the bench. */
export interface BenchOptions {
  /** Models and batch sizes to time. */
  cases: BenchCase[];
  /** Backends to time, in order. */
  backends: string[];
  /** Whether `--backends` named them (then one that fails to load is an error). */
  explicitBackends: boolean;
  /** Threads for our BLAS and for PyTorch. */
  threads: number;
  /** Warm-up and length of each measurement. */
  timing: TimingOptions;
  /** Alternations of ours and PyTorch's measurement; the best of each is kept. */
  rounds: number;
  /** Whether to run PyTorch. */
  torch: boolean;
  /** PyTorch's OpenMP wait policies to try ("both": keep the faster). */
  torchWait: "both" | TorchWaitPolicy;
  /** Python to run torch_ref.py with; null: /usr/bin/python3, then python3. */
  python: string | null;
  /**
   * PyTorch's OpenBLAS kernels: "same" as ours (OPENBLAS_CORETYPE as this
   * process has it), or "auto" (unset: OpenBLAS's own detection, as a stock
   * PyTorch gets them).
   */
  torchCoretype: "same" | "auto";
  /** Whether to time the matmuls. */
  matmul: boolean;
  /** Side of the square matmuls. */
  matmulSize: number;
  /** Print markdown tables on stdout (progress on stderr). */
  markdown: boolean;
  /** Print a tf.profile breakdown under each line. */
  profile: boolean;
}

const HELP = `deno task bench [options]

  --models LIST     comma-separated, default ${
  DEFAULT_CASES.map(caseName).join(",")
}
  --backends LIST   default: every one of ${
  DEFAULT_BACKENDS.join(",")
} that loads (cpu, webgpu: add them;
                    webgpu on a software adapter is a smoke test only)
  --threads N       threads for our BLAS and for PyTorch (default: all cores)
  --steps N         time exactly N steps (default: as many as fit in --seconds)
  --seconds S       time each measurement at least S seconds (default 2)
  --rounds R        alternate ours/PyTorch R times, keep the best (default 3)
  --warmup N        untimed steps before each measurement (default 2)
  --quick           smoke run: 1 round, 0.3 s, 1 warm-up step, 2 matmul repeats
  --no-torch        skip PyTorch
  --python PATH     Python with torch (default /usr/bin/python3, then python3)
  --torch-wait W    PyTorch's OpenMP wait: both (default: run both, keep the
                    faster), default (libgomp's spin), passive (OMP_WAIT_POLICY)
  --torch-coretype C  PyTorch's OpenBLAS kernels: same (default: the core type
                    our BLAS uses), auto (OpenBLAS's own CPU detection, as a
                    stock PyTorch runs)
  --no-matmul       skip the matmul lines
  --matmul-size N   matmul side (default 1000)
  --markdown        print markdown tables (for README's "Speed" section)
  --profile         also print the top kernels by time (tf.profile) per line
`;

function torchWait(raw: string): "both" | TorchWaitPolicy {
  if (raw === "both" || raw === "default" || raw === "passive") return raw;
  throw new Error(`--torch-wait ${raw}: use both, default or passive`);
}

function torchCoretype(raw: string): "same" | "auto" {
  if (raw === "same" || raw === "auto") return raw;
  throw new Error(`--torch-coretype ${raw}: use same or auto`);
}

/** Parses the bench's flags; throws on bad values, naming the flag. */
export function parseOptions(args: string[]): BenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      models: { type: "string" },
      backends: { type: "string" },
      threads: { type: "string" },
      steps: { type: "string" },
      seconds: { type: "string" },
      rounds: { type: "string" },
      warmup: { type: "string" },
      quick: { type: "boolean", default: false },
      "no-torch": { type: "boolean", default: false },
      "torch-wait": { type: "string", default: "both" },
      "torch-coretype": { type: "string", default: "same" },
      python: { type: "string" },
      "no-matmul": { type: "boolean", default: false },
      "matmul-size": { type: "string" },
      markdown: { type: "boolean", default: false },
      profile: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  const quick = values.quick;
  const num = (flag: string, raw: string | undefined, dflt: number) => {
    if (raw === undefined) return dflt;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < 0) {
      throw new Error(`--${flag} ${raw}: expected a non-negative number`);
    }
    return v;
  };
  const threads = num(
    "threads",
    values.threads,
    navigator.hardwareConcurrency || 1,
  );
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`--threads ${values.threads}: expected an integer >= 1`);
  }
  return {
    cases: values.models
      ? values.models.split(",").map(parseCase)
      : [...DEFAULT_CASES],
    backends: values.backends
      ? values.backends.split(",").map((s) => s.trim().toLowerCase())
      : [...DEFAULT_BACKENDS],
    explicitBackends: values.backends !== undefined,
    threads,
    timing: {
      warmup: Math.round(num("warmup", values.warmup, quick ? 1 : 2)),
      seconds: num("seconds", values.seconds, quick ? 0.3 : 2),
      steps: Math.round(num("steps", values.steps, 0)),
    },
    rounds: Math.max(
      1,
      Math.round(num("rounds", values.rounds, quick ? 1 : 3)),
    ),
    torch: !values["no-torch"],
    torchWait: torchWait(values["torch-wait"]),
    torchCoretype: torchCoretype(values["torch-coretype"]),
    python: values.python ?? null,
    matmul: !values["no-matmul"],
    matmulSize: Math.round(num("matmul-size", values["matmul-size"], 1000)),
    markdown: values.markdown,
    profile: values.profile,
  };
}

// ---------------------------------------------------------------- PyTorch

/**
 * How PyTorch's OpenMP threads wait between parallel regions. libgomp's
 * default spins first; on a busy machine a spinning thread that gets
 * descheduled stalls every op (we measured PyTorch 15x slower at 2 threads
 * under load 8), which "passive" (sleep at once) avoids, at some cost on an
 * idle machine. The bench keeps the best of both by default.
 */
export type TorchWaitPolicy = "default" | "passive";

/** A running bench/torch_ref.py server, answering one JSON request a line. */
export class TorchRef {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #lines: AsyncIterator<string>;
  #stderr: Promise<string>;

  private constructor(
    child: Deno.ChildProcess,
    readonly waitPolicy: TorchWaitPolicy,
  ) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = readLines(child.stdout)[Symbol.asyncIterator]();
    this.#stderr = new Response(child.stderr).text();
  }

  /**
   * Starts the server with `threads` threads, or explains why it cannot
   * (no Python, no torch) in the returned string. `waitPolicy` "passive"
   * sets `OMP_WAIT_POLICY=PASSIVE` for its OpenMP threads; "default" leaves
   * libgomp's spin-then-sleep.
   */
  static async start(
    python: string | null,
    threads: number,
    waitPolicy: TorchWaitPolicy = "default",
    coretype: string | null = Deno.env.get("OPENBLAS_CORETYPE") ?? null,
  ): Promise<{ torch: TorchRef; info: Record<string, unknown> } | string> {
    const script = fileURLToPath(new URL("./torch_ref.py", import.meta.url));
    const candidates = python ? [python] : ["/usr/bin/python3", "python3"];
    const reasons: string[] = [];
    for (const exe of candidates) {
      let child: Deno.ChildProcess;
      try {
        // The same thread count for torch's OpenMP pool and its OpenBLAS;
        // OPENBLAS_CORETYPE as given, or removed (null): even an empty value
        // changes what OpenBLAS picks.
        const env = Deno.env.toObject();
        delete env.OPENBLAS_CORETYPE;
        if (coretype !== null) env.OPENBLAS_CORETYPE = coretype;
        env.OMP_NUM_THREADS = String(threads);
        env.OPENBLAS_NUM_THREADS = String(threads);
        if (waitPolicy === "passive") env.OMP_WAIT_POLICY = "PASSIVE";
        child = new Deno.Command(exe, {
          args: [script, "--serve", "--threads", String(threads)],
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
          clearEnv: true,
          env,
        }).spawn();
      } catch (e) {
        reasons.push(`${exe}: ${(e as Error).message.split("\n")[0]}`);
        continue;
      }
      const torch = new TorchRef(child, waitPolicy);
      try {
        const info = await torch.request({ op: "info" });
        return { torch, info };
      } catch (e) {
        reasons.push(`${exe}: ${(e as Error).message}`);
        await torch.close();
      }
    }
    return reasons.join("; ");
  }

  /** Sends one request and returns the JSON answer; throws on an error answer. */
  async request(
    req: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    await this.#writer.write(
      new TextEncoder().encode(JSON.stringify(req) + "\n"),
    );
    const next = await this.#lines.next();
    if (next.done) {
      const err = (await this.#stderr).trim().split("\n").pop() ?? "";
      throw new Error(`torch_ref.py exited (${err || "no message"})`);
    }
    const out = JSON.parse(next.value);
    if (out.error) throw new Error(`torch_ref.py: ${out.error}`);
    return out;
  }

  /** Ends the server process. */
  async close(): Promise<void> {
    try {
      await this.#writer.close();
    } catch {
      // already gone
    }
    await this.#child.status;
    await this.#stderr.catch(() => "");
  }
}

async function* readLines(stream: ReadableStream<Uint8Array>) {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let i;
    while ((i = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
    }
  }
  if (buffer) yield buffer;
}

// ---------------------------------------------------------------- training

/** One output line: a model on a backend, ours against PyTorch. */
export interface TrainResult {
  name: string;
  backend: string;
  samplesPerS: number;
  torchSamplesPerS: number | null;
  /** The OpenMP wait policy of PyTorch's best run. */
  torchWaitPolicy?: TorchWaitPolicy;
  /** Where the time goes (with `--profile`). */
  profile?: StepProfile;
}

/** Time spent in one kernel, per training step. */
export interface KernelTime {
  /** Kernel name, or a `tf.customGrad` function's name (e.g. "forward"). */
  name: string;
  /** Median ms per step. */
  msPerStep: number;
  /** Calls per step. */
  callsPerStep: number;
  /**
   * True for a `tf.customGrad` op: its time includes the kernels it runs,
   * which are listed too, so it is left out of the step's kernel sum.
   */
  composite: boolean;
}

function samplesPerS(t: Timing, batch: number): number {
  return (t.steps * batch) / t.seconds;
}

async function benchCase(
  c: BenchCase,
  backend: string,
  opts: BenchOptions,
  torches: TorchRef[],
): Promise<TrainResult> {
  const work = buildWorkload(c);
  try {
    let ours = 0;
    let theirs: number | null = null;
    let policy: TorchWaitPolicy | undefined;
    // Untimed burn-in on both sides: a model's first seconds run slower (JIT,
    // allocator and thread-pool warm-up), and whichever side met it first
    // would lose its first rounds to that.
    if (opts.rounds > 1) {
      timeSteps(work.step, { ...opts.timing, warmup: 0, steps: 0 });
      for (const torch of torches) {
        await torch.request({
          op: "train",
          model: c.model,
          batch: c.batch,
          ...opts.timing,
          warmup: 0,
        });
      }
    }
    for (let r = 0; r < opts.rounds; r++) {
      ours = Math.max(
        ours,
        samplesPerS(timeSteps(work.step, opts.timing), c.batch),
      );
      for (const torch of torches) {
        const t = await torch.request({
          op: "train",
          model: c.model,
          batch: c.batch,
          ...opts.timing,
        });
        const rate = t.samples_per_s as number;
        if (rate > (theirs ?? 0)) {
          theirs = rate;
          policy = torch.waitPolicy;
        }
      }
    }
    const result: TrainResult = {
      name: caseName(c),
      backend,
      samplesPerS: ours,
      torchSamplesPerS: theirs,
      torchWaitPolicy: policy,
    };
    if (opts.profile) result.profile = await profileWorkload(work, 7);
    return result;
  } finally {
    work.dispose();
  }
}

/** Where a step's time goes, from `tf.profile` and a gradients-only timing. */
export interface StepProfile {
  /** Wall-clock ms of a full step (forward, backward, update), unprofiled. */
  stepMs: number;
  /** Wall-clock ms of forward + backward alone (no optimizer update). */
  gradientsMs: number;
  /** Sum of kernel times in a step, ms (tf.profile). */
  kernelMs: number;
  /** Kernel calls in a step. */
  kernelCalls: number;
  /** Per-kernel times, most expensive first. */
  kernels: KernelTime[];
}

/**
 * Profiles `work` over `steps` rounds of: one full step timed, one
 * gradients-only step timed, one full step under `tf.profile`. Reports medians
 * over the rounds (robust to the odd preempted step on a busy machine).
 */
export async function profileWorkload(
  work: Workload,
  steps: number,
): Promise<StepProfile> {
  work.step();
  work.gradients();
  const stepMs: number[] = [];
  const gradientsMs: number[] = [];
  const kernelMs: number[] = [];
  const perKernel = new Map<string, { ms: number[]; calls: number }>();
  for (let i = 0; i < steps; i++) {
    stepMs.push(1000 * timed(work.step));
    gradientsMs.push(1000 * timed(work.gradients));
    const info = await tf.profile(() => {
      work.step();
    });
    const sums = new Map<string, number>();
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
      sums.set(k.name, (sums.get(k.name) ?? 0) + ms);
      const t = perKernel.get(k.name) ?? { ms: [], calls: 0 };
      t.calls++;
      perKernel.set(k.name, t);
    }
    for (const [name, ms] of sums) perKernel.get(name)!.ms.push(ms);
    kernelMs.push(
      [...sums].filter(([name]) => !isComposite(name))
        .reduce((a, [, ms]) => a + ms, 0),
    );
  }
  const kernels = [...perKernel]
    .map(([name, t]) => ({
      name,
      msPerStep: median(t.ms),
      callsPerStep: t.calls / steps,
      composite: isComposite(name),
    }))
    .sort((a, b) => b.msPerStep - a.msPerStep);
  return {
    stepMs: median(stepMs),
    gradientsMs: median(gradientsMs),
    kernelMs: median(kernelMs),
    kernelCalls: kernels.filter((k) => !k.composite)
      .reduce((s, k) => s + k.callsPerStep, 0),
    kernels,
  };
}

// A name with no kernel registered for the backend is a tf.customGrad op.
function isComposite(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) === undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function formatProfile(r: TrainResult, top = 12): string {
  const p = r.profile!;
  // Medians of separate steps: a difference below zero is noise, shown as 0.
  const update = Math.max(0, p.stepMs - p.gradientsMs);
  const rest = Math.max(0, p.stepMs - p.kernelMs);
  const lines = [
    `# profile ${r.name} on ${r.backend}: step ${p.stepMs.toFixed(1)} ms ` +
    `(forward+backward ${p.gradientsMs.toFixed(1)} ms, update ~${
      update.toFixed(1)
    } ms); kernels ${p.kernelMs.toFixed(1)} ms in ${
      p.kernelCalls.toFixed(0)
    } calls; outside kernels (tape, dispatch, allocation) ~${
      rest.toFixed(1)
    } ms`,
    ...p.kernels.slice(0, top).map((k) =>
      `#   ${k.name.padEnd(22)} ${k.msPerStep.toFixed(2).padStart(8)} ms/step ${
        (100 * k.msPerStep / p.stepMs).toFixed(0).padStart(3)
      }%  ${k.callsPerStep.toFixed(0).padStart(4)} calls${
        k.composite ? "  (tf.customGrad op; includes kernels above/below)" : ""
      }`
    ),
  ];
  return lines.join("\n");
}

// ---------------------------------------------------------------- matmul

/** GFLOP/s of one matmul shape on one backend (or raw sgemm, or torch). */
export interface MatMulResult {
  backend: string;
  pair: string;
  gflops: number;
}

/**
 * `size`^3 matmul GFLOP/s for each transpose pair: raw `blas.sgemm` on plain
 * `Float32Array`s, `tf.matMul` on each of `backends` ("wasm+blas", "wasm"),
 * and `torch.mm` (NN) on each of `torches`. They take turns, `repeats`
 * times, and each keeps its best time, so all see the same machine load.
 */
export async function benchMatMul(
  backends: string[],
  threads: number,
  size: number,
  repeats: number,
  torches: TorchRef[],
): Promise<MatMulResult[]> {
  const blas = loadBlas();
  const flops = 2 * size ** 3;
  const best = new Map<string, MatMulResult>();
  const keep = (backend: string, pair: string, seconds: number) => {
    const key = `${backend}/${pair}`;
    const gflops = flops / seconds / 1e9;
    if ((best.get(key)?.gflops ?? 0) < gflops) {
      best.set(key, { backend, pair, gflops });
    }
  };
  const raw = {
    a: new Float32Array(size * size).map((_, i) => Math.sin(i)),
    b: new Float32Array(size * size).map((_, i) => Math.cos(i)),
    c: new Float32Array(size * size),
  };
  await initBackend({ backend: backends[0], threads });
  const a = tf.randomNormal([size, size], 0, 1, "float32", 1) as tf.Tensor2D;
  const b = tf.randomNormal([size, size], 0, 1, "float32", 2) as tf.Tensor2D;
  try {
    for (let r = 0; r <= repeats; r++) {
      const warm = r === 0;
      if (blas) {
        for (const pair of TRANSPOSE_PAIRS) {
          const s = timed(() =>
            blas.sgemm(
              pair[0] === "T",
              pair[1] === "T",
              size,
              size,
              size,
              1,
              raw.a,
              size,
              raw.b,
              size,
              0,
              raw.c,
              size,
            )
          );
          if (!warm) keep("sgemm", pair, s);
        }
      }
      for (const backend of backends) {
        await initBackend({ backend, threads });
        for (const pair of TRANSPOSE_PAIRS) {
          // wasm kernels (ours included) compute eagerly: timing the call is
          // timing the product.
          const s = timed(() =>
            tf.matMul(a, b, pair[0] === "T", pair[1] === "T").dispose()
          );
          if (!warm) keep(backend, pair, s);
        }
      }
      for (const torch of warm ? [] : torches) {
        const t = await torch.request({ op: "matmul", size, repeats: 1 });
        keep("torch", "NN", flops / ((t.gflops as number) * 1e9));
      }
    }
  } finally {
    a.dispose();
    b.dispose();
  }
  return [...best.values()];
}

function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

// ---------------------------------------------------------------- output

function fmtRate(x: number): string {
  return x >= 100 ? Math.round(x).toString() : x.toPrecision(3);
}

function ratio(r: TrainResult): string {
  return r.torchSamplesPerS
    ? (r.samplesPerS / r.torchSamplesPerS).toFixed(2)
    : "";
}

/** The issue's line format: `ffvae_bs100  wasm+blas  6123 samples/s  0.98x torch`. */
export function formatTrainLine(r: TrainResult): string {
  const head = `${r.name.padEnd(14)} ${r.backend.padEnd(10)} ${
    fmtRate(r.samplesPerS).padStart(7)
  } samples/s`;
  if (r.torchSamplesPerS === null) return head;
  const policy = r.torchWaitPolicy ? `, OpenMP wait ${r.torchWaitPolicy}` : "";
  return `${head}  ${ratio(r)}x torch  (torch ${
    fmtRate(r.torchSamplesPerS)
  } samples/s${policy})`;
}

function formatMatMulLine(m: MatMulResult, size: number, peak: number): string {
  const head = `matmul_${size}    ${m.backend.padEnd(10)} ${m.pair}  ${
    m.gflops.toFixed(1).padStart(6)
  } GFLOP/s`;
  if (m.backend === "sgemm") return `${head}  (raw blas.sgemm)`;
  if (m.backend === "torch") return `${head}  (torch.mm)`;
  return peak > 0
    ? `${head}  ${(m.gflops / peak).toFixed(2)}x sgemm peak`
    : head;
}

function markdownTables(
  train: TrainResult[],
  matmul: MatMulResult[],
  size: number,
  peak: number,
): string {
  const lines = [
    "| model | backend | samples/s | PyTorch samples/s | ours / PyTorch |",
    "| --- | --- | ---: | ---: | ---: |",
    ...train.map((r) =>
      `| ${r.name} | ${r.backend} | ${fmtRate(r.samplesPerS)} | ${
        r.torchSamplesPerS ? fmtRate(r.torchSamplesPerS) : "-"
      } | ${r.torchSamplesPerS ? ratio(r) + "x" : "-"} |`
    ),
  ];
  if (matmul.length) {
    const backends = [...new Set(matmul.map((m) => m.backend))];
    const get = (b: string, p: string) =>
      matmul.find((m) => m.backend === b && m.pair === p);
    lines.push(
      "",
      `| ${size}^3 matmul, GFLOP/s | ${TRANSPOSE_PAIRS.join(" | ")} |`,
      `| --- | ${TRANSPOSE_PAIRS.map(() => "---:").join(" | ")} |`,
      ...backends.map((b) => {
        const label = b === "sgemm"
          ? "raw blas.sgemm"
          : b === "torch"
          ? "torch.mm"
          : `tf.matMul on ${b}`;
        const cells = TRANSPOSE_PAIRS.map((p) => {
          const m = get(b, p);
          if (!m) return "-";
          const share = b !== "sgemm" && b !== "torch" && peak > 0
            ? ` (${Math.round((100 * m.gflops) / peak)}%)`
            : "";
          return `${m.gflops.toFixed(1)}${share}`;
        });
        return `| ${label} | ${cells.join(" | ")} |`;
      }),
    );
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------- main

/** The OpenBLAS core type this CPU's flags allow: SkylakeX with AVX-512, else Haswell. */
async function main(): Promise<void> {
  const opts = parseOptions(Deno.args);
  // With --markdown, stdout gets only the tables; progress goes to stderr.
  const log = opts.markdown ? console.error : console.log;
  const [l1, l5] = Deno.loadavg();
  // Loading our BLAS may set OPENBLAS_CORETYPE (lib/backend/blas.ts); PyTorch,
  // started later, inherits it, so both multiply with the same kernels.
  const blas = loadBlas();
  const coretype = Deno.env.get("OPENBLAS_CORETYPE");
  log(
    `# bench: ${opts.threads} thread${opts.threads === 1 ? "" : "s"}, ` +
      `${navigator.hardwareConcurrency} cores, load ${l1.toFixed(2)} ` +
      `(5 min ${l5.toFixed(2)}), OPENBLAS_CORETYPE=${coretype ?? "(unset)"}${
        coreTypeSet ? " (set from the CPU's flags)" : ""
      }, ` +
      `${opts.rounds} round${opts.rounds === 1 ? "" : "s"} of ${
        opts.timing.steps
          ? `${opts.timing.steps} steps`
          : `>= ${opts.timing.seconds} s`
      }`,
  );
  blas?.setThreads(opts.threads);
  log(`# blas: ${blas ? blas.describe() : "none loaded"}`);
  if (blas && /Prescott/i.test(blas.describe())) {
    log(
      "# note: OpenBLAS runs its slow generic Prescott kernels; unset " +
        "OPENBLAS_CORETYPE to let lib/backend/blas.ts choose from the CPU's flags.",
    );
  }

  const torches: TorchRef[] = [];
  let torchVersion = "not measured";
  if (opts.torch) {
    // One thread has no OpenMP waits to tune: one server is enough.
    const policies: TorchWaitPolicy[] = opts.threads === 1
      ? ["default"]
      : opts.torchWait === "both"
      ? ["default", "passive"]
      : [opts.torchWait];
    for (const policy of policies) {
      const started = await TorchRef.start(
        opts.python,
        opts.threads,
        policy,
        opts.torchCoretype === "same" ? coretype ?? null : null,
      );
      if (typeof started === "string") {
        log(
          `# torch: skipped, no Python with torch (${started}); install ` +
            "it (Debian: apt-get install python3-torch) or pass --python PATH",
        );
        break;
      }
      torches.push(started.torch);
      torchVersion = `PyTorch ${started.info.torch}`;
      const libs = (started.info.blas_libraries as string[])
        .filter((p) => /openblas/i.test(p)).map((p) => p.split("/").pop());
      log(
        `# torch: ${started.info.torch}, ${started.info.threads} ` +
          `thread${started.info.threads === 1 ? "" : "s"}, ` +
          `OpenMP wait ${policy}, ${libs.join(" ") || "no OpenBLAS loaded"}, ` +
          `OPENBLAS_CORETYPE=${started.info.openblas_coretype || "(unset)"}`,
      );
    }
  } else {
    log("# torch: skipped (--no-torch)");
  }

  const train: TrainResult[] = [];
  const matmul: MatMulResult[] = [];
  const matmulRepeats = opts.timing.warmup <= 1 && opts.rounds === 1 ? 2 : 5;
  try {
    const active: { name: string; info: BackendInfo }[] = [];
    for (const name of opts.backends) {
      let info: BackendInfo;
      try {
        info = await initBackend({ backend: name, threads: opts.threads });
      } catch (e) {
        const why = (e as Error).message.split("\n")[0];
        if (opts.explicitBackends) throw e;
        log(`# ${name}: not present (${why})`);
        continue;
      }
      active.push({ name, info });
      log(`# ${describeBackend(info)}`);
      if (info.name === "webgpu" && (await probeWebGPU()).summary?.software) {
        log(
          "# webgpu: a software adapter, which runs the shaders on the CPU: " +
            "its samples/s test that the models run, they say nothing of a GPU",
        );
      }
      for (const c of opts.cases) {
        const r = await benchCase(c, name, opts, torches);
        train.push(r);
        log(formatTrainLine(r));
        if (r.profile) log(formatProfile(r));
      }
    }
    const matmulBackends = active.map((a) => a.name)
      .filter((n) => n === "wasm+blas" || n === "wasm");
    if (opts.matmul && matmulBackends.length) {
      matmul.push(
        ...(await benchMatMul(
          matmulBackends,
          opts.threads,
          opts.matmulSize,
          matmulRepeats,
          torches,
        )),
      );
    }
    if (active.length === 0) log("# no backend could be set up");
  } finally {
    for (const t of torches) await t.close();
  }

  const endLoad = Deno.loadavg()[0];
  const caption =
    `Measured by \`deno task bench${
      Deno.args.length ? " " + Deno.args.join(" ") : ""
    }\` on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC: ` +
    `${opts.threads} thread${opts.threads === 1 ? "" : "s"} for our BLAS ` +
    `and PyTorch (plain wasm: 1), ${navigator.hardwareConcurrency} cores, ` +
    `load ${l1.toFixed(2)} at the start and ${
      endLoad.toFixed(2)
    } at the end, ` +
    `${blas ? blas.describe().replace(/ \(\d+ threads?\)$/, "") : "no BLAS"}` +
    `${coretype ? ` (OPENBLAS_CORETYPE=${coretype})` : ""}, ${torchVersion}` +
    `${
      torches.length > 1
        ? " (the faster of OpenMP wait policies default and passive)"
        : ""
    }.`;
  const peak = Math.max(
    0,
    ...matmul.filter((m) => m.backend === "sgemm").map((m) => m.gflops),
  );
  if (opts.markdown) {
    console.log(markdownTables(train, matmul, opts.matmulSize, peak));
    console.log(`\n${caption}`);
  } else {
    for (const m of matmul) {
      console.log(formatMatMulLine(m, opts.matmulSize, peak));
    }
    console.log(`# load at the end: ${endLoad.toFixed(2)}`);
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
