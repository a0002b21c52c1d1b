/**
 * The one training loop every week uses: epochs of minibatch steps, a
 * progress bar, an evaluation after each epoch (or every N steps, or when a
 * time budget runs out), and a history of rows, one per evaluation.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { epochMinibatches } from "./data/batches.ts";
import { formatMetric, progress } from "./display/mod.ts";

/**
 * What a step or an evaluation reports: per-example metrics (e.g. `cost`,
 * `accuracy`) and how many examples they cover (`count`), which weights the
 * epoch averages.
 */
export type Metrics = { count?: number } & Record<string, number>;

/**
 * One row of the history, written at each evaluation (by default once per
 * epoch): the mean training metrics since the row before (`train_*`), the
 * evaluation's metrics, and where training stands.
 */
export type EpochRecord = {
  /** The epoch the row closes, from 1; fractional for a row inside an epoch (2.5: half of epoch 3). */
  epoch: number;
  /** Training steps so far. */
  step: number;
  /** Seconds of training so far, evaluations not counted. */
  time: number;
  /** Wall seconds since the row before, evaluation included. */
  seconds: number;
} & Record<string, number>;

/** Options of {@linkcode fit}. */
export interface FitOptions {
  /** Number of epochs. */
  epochs: number;
  /** Number of steps in each epoch (called for every epoch before training starts). */
  steps: (epoch: number) => number;
  /**
   * One training step on batch `i` of `epoch` (run inside `tf.tidy`). Returns
   * the batch's per-example metrics; prefixed `train_` in the history.
   */
  step: (epoch: number, i: number) => Metrics;
  /** Metrics at each row, e.g. validation cost; merged into the history. */
  evaluate?: (epoch: number) => Metrics | Promise<Metrics>;
  /** Called with each new history row. */
  onEpoch?: (row: EpochRecord, history: EpochRecord[]) => void;
  /** Progress bar label; false hides the bar. */
  label?: string | false;
  /**
   * Stop once training has run this many seconds (evaluations not counted):
   * the epoch in progress ends early and gets its row. Default: no limit.
   */
  budgetSeconds?: number;
  /** Also write a row (and evaluate) every this many steps inside an epoch. */
  evaluateEvery?: number;
  /** How far above its start the first metric may go; default 100 times. */
  guardFactor?: number;
  /** The model's variables, for naming the first that turned non-finite. */
  variables?: () => tf.Variable[];
  /** Saves a checkpoint every `every` epochs and when stopped. */
  checkpoint?: { every: number; save: (at: FitProgress) => Promise<void> };
  /** Continue from a checkpoint's progress. */
  resume?: FitProgress;
}

/** Training stopped because a metric turned non-finite or blew up. */
export class DivergenceError extends Error {
  override name = "DivergenceError";
}

/** Training stopped on request (Ctrl-C, the kernel's interrupt, SIGTERM). */
export class TrainingInterrupted extends Error {
  override name = "TrainingInterrupted";
}

/** ", and <name> is the first variable holding a non-finite value" (or that none does). */
function firstNonFinite(variables: tf.Variable[] | undefined): string {
  if (!variables) return "";
  for (const v of variables) {
    if (!(v.dataSync() as Float32Array).every(Number.isFinite)) {
      return `; ${v.name} is the first variable holding a non-finite value`;
    }
  }
  return "; every variable is still finite (the cost overflowed)";
}

/**
 * Where a {@linkcode fit} stands between two steps: what a checkpoint keeps
 * and a resumed run starts from.
 */
export interface FitProgress {
  /** The epoch in progress, from 0 (`epochs` when all are done). */
  epoch: number;
  /** Steps of it done. */
  stepInEpoch: number;
  /** Steps done in all. */
  step: number;
  /** Seconds of training so far. */
  time: number;
  /** The rows so far. */
  history: EpochRecord[];
  /** The training metrics' sums and weight since the last row. */
  partial: { sums: Record<string, number>; weight: number };
  /** The divergence guard's reference value, once known. */
  reference: number | null;
}

/**
 * Trains for `epochs` epochs (or until `budgetSeconds` of training) and
 * returns the history, a row per evaluation.
 *
 * Guards: a step whose metric is not finite, or whose first metric exceeds
 * `guardFactor` (default 100) times its mean over the run's first 20 steps,
 * throws a {@linkcode DivergenceError} naming the epoch, the step and the
 * usual fix. Stops: SIGINT (Ctrl-C, Jupyter's interrupt) or SIGTERM ends
 * training after the step in progress, saves a checkpoint (when `checkpoint`
 * is given) and throws {@linkcode TrainingInterrupted}. Checkpoints: every
 * `checkpoint.every` epochs `checkpoint.save` gets the {@linkcode FitProgress};
 * `resume` continues from one, giving the same rows as a run never stopped.
 */
export async function fit(opts: FitOptions): Promise<EpochRecord[]> {
  const total = Array.from({ length: opts.epochs }, (_, e) => opts.steps(e));
  const budget = opts.budgetSeconds ?? Infinity;
  const every = opts.evaluateEvery ?? Infinity;
  const guardFactor = opts.guardFactor ?? 100;
  if (!(budget > 0)) {
    throw new RangeError(`budgetSeconds must be positive, got ${budget}`);
  }
  if (!(every >= 1)) {
    throw new RangeError(`evaluateEvery must be at least 1, got ${every}`);
  }
  const from = opts.resume;
  const history: EpochRecord[] = from ? [...from.history] : [];
  let done = from?.step ?? 0;
  let trainMs = (from?.time ?? 0) * 1000;
  let sums: Record<string, number> = { ...from?.partial.sums };
  let weight = from?.partial.weight ?? 0;
  let reference = from?.reference ?? null;
  const bar = opts.label === false
    ? null
    : progress(total.reduce((a, b) => a + b, 0), {
      label: opts.label ?? "training",
    });
  let lastYield = performance.now();
  let rowStart = performance.now();
  const where = (epoch: number, i: number) =>
    `epoch ${epoch + 1}, step ${i + 1}`;
  const snapshot = (epoch: number, stepInEpoch: number): FitProgress => ({
    epoch,
    stepInEpoch,
    step: done,
    time: trainMs / 1000,
    history: [...history],
    partial: { sums: { ...sums }, weight },
    reference,
  });
  const writeRow = async (epoch: number) => {
    const row = { epoch, step: done, time: trainMs / 1000 } as EpochRecord;
    for (const [k, v] of Object.entries(sums)) row[`train_${k}`] = v / weight;
    if (opts.evaluate) {
      const { count: _, ...ev } = await opts.evaluate(Math.ceil(epoch) - 1);
      Object.assign(row, ev);
    }
    row.seconds = (performance.now() - rowStart) / 1000;
    history.push(row);
    opts.onEpoch?.(row, history);
    sums = {};
    weight = 0;
    rowStart = performance.now();
  };
  let stop: string | null = null;
  const stoppers = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const f = () => (stop = signal);
    try {
      Deno.addSignalListener(signal, f);
    } catch { /* signals not available here: nothing to listen to */ }
    return [signal, f] as const;
  });
  bar?.update(done);
  try {
    const firstEpoch = from?.epoch ?? 0;
    epochs: for (let epoch = firstEpoch; epoch < opts.epochs; epoch++) {
      const firstStep = epoch === firstEpoch ? from?.stepInEpoch ?? 0 : 0;
      for (let i = firstStep; i < total[epoch]; i++) {
        const t0 = performance.now();
        const m = tf.tidy(() => opts.step(epoch, i));
        trainMs += performance.now() - t0;
        const count = m.count ?? 1;
        const entries = Object.entries(m).filter(([k]) => k !== "count");
        for (const [k, v] of entries) {
          if (!Number.isFinite(v)) {
            throw new DivergenceError(
              `training diverged: ${k} is ${v} at ${where(epoch, i)}` +
                `${firstNonFinite(opts.variables?.())}. ` +
                "Lower the learning rate (or check the data for NaNs).",
            );
          }
          sums[k] = (sums[k] ?? 0) + v * count;
        }
        if (entries.length > 0) {
          const [k, v] = entries[0];
          // The start is the first step's value, the model as initialized:
          // a mean over the first steps would take in a blow-up that begins
          // at once (a learning rate of 3 on Week 9's VAE).
          if (reference === null) {
            reference = v;
          } else if (reference > 0 && v > guardFactor * reference) {
            throw new DivergenceError(
              `training diverged: ${k} is ${v.toPrecision(4)} at ` +
                `${where(epoch, i)}, over ${guardFactor} times its start ` +
                `(${reference.toPrecision(4)}). Lower the learning rate.`,
            );
          }
        }
        weight += count;
        done++;
        const info: Record<string, number | string> = { epoch: epoch + 1 };
        for (const [k, v] of Object.entries(sums)) info[k] = v / weight;
        bar?.update(done, info);
        const last = i === total[epoch] - 1;
        const outOfTime = trainMs / 1000 >= budget;
        if (last || outOfTime || (i + 1) % every === 0) {
          await writeRow(last ? epoch + 1 : epoch + (i + 1) / total[epoch]);
          if (outOfTime) break epochs;
        }
        if (
          last && opts.checkpoint && (epoch + 1) % opts.checkpoint.every === 0
        ) {
          await opts.checkpoint.save(snapshot(epoch + 1, 0));
        }
        // Let Jupyter's display messages, timers and signals through now and then.
        if (stop === null && performance.now() - lastYield > 200) {
          await new Promise((r) => setTimeout(r, 0));
          lastYield = performance.now();
        }
        if (stop !== null) {
          const at = last ? snapshot(epoch + 1, 0) : snapshot(epoch, i + 1);
          await opts.checkpoint?.save(at);
          throw new TrainingInterrupted(
            `training stopped by ${stop} after ${where(epoch, i)}` +
              (opts.checkpoint
                ? "; a checkpoint was saved: rerun with the resume parameter to continue"
                : ""),
          );
        }
      }
    }
  } finally {
    for (const [signal, f] of stoppers) {
      try {
        Deno.removeSignalListener(signal, f);
      } catch { /* never added */ }
    }
    await bar?.close();
  }
  return history;
}

/**
 * What a model's training step computes on one batch: the loss the optimizer
 * minimizes, and any other scalars worth logging (accuracy, a cost's terms).
 */
export interface StepOutput {
  /** The loss to minimize. */
  loss: tf.Scalar;
  /** Scalars to log beside it, read after the update. */
  metrics?: Record<string, tf.Scalar>;
}

/**
 * One optimizer step on `objective()` over `variables`: minimizes its loss
 * and returns the loss and every metric as numbers (the tensors are
 * disposed).
 */
export function trainStep(
  optimizer: tf.Optimizer,
  variables: tf.Variable[],
  objective: () => StepOutput,
): { loss: number; metrics: Record<string, number> } {
  let kept: Record<string, tf.Scalar> = {};
  const value = optimizer.minimize(
    () => {
      const out = objective();
      // Kept past minimize()'s tidy, read below.
      kept = Object.fromEntries(
        Object.entries(out.metrics ?? {}).map(([k, t]) => [k, tf.keep(t)]),
      );
      return out.loss;
    },
    true,
    variables,
  )!;
  const loss = value.dataSync()[0];
  value.dispose();
  const metrics: Record<string, number> = {};
  for (const [k, t] of Object.entries(kept)) {
    metrics[k] = t.dataSync()[0];
    t.dispose();
  }
  return { loss, metrics };
}

/**
 * One line for an epoch of the history: its training metrics, then its
 * validation metrics, then the rest, each `name value`, and the epoch's
 * seconds, e.g. `epoch 3: train cost 45.21, kl 1.52 | valid cost 44.98 (12.1 s)`.
 * `name` (a network's, say) starts the line.
 */
export function describeEpoch(row: EpochRecord, name?: string): string {
  const groups = new Map<string, string[]>();
  for (const [key, v] of Object.entries(row)) {
    if (["epoch", "step", "time", "seconds"].includes(key)) continue;
    const m = /^(train|valid|test)_(.+)$/.exec(key);
    const group = m ? m[1] : "";
    const metric = m ? m[2] : key;
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group)!.push(`${metric} ${formatMetric(metric, v)}`);
  }
  const order = ["train", "valid", "test", ""];
  const parts = [...groups].sort((a, b) =>
    order.indexOf(a[0]) - order.indexOf(b[0])
  ).map(([g, items]) => (g ? `${g} ` : "") + items.join(", "));
  const prefix = name ? `${name} ` : "";
  const epoch = Number.isInteger(row.epoch) ? row.epoch : row.epoch.toFixed(2);
  return `${prefix}epoch ${epoch}: ${parts.join(" | ")} ` +
    `(${row.seconds.toFixed(1)} s)`;
}

/** Options of {@linkcode fitMinibatches}. */
export interface FitMinibatchesOptions
  extends Omit<FitOptions, "steps" | "step"> {
  /** Number of training examples. */
  count: number;
  /** Minibatch size (a smaller last batch is dropped). */
  batchSize: number;
  /** Seed of the per-epoch shuffles. */
  seed: number;
  /** One training step on the examples `idx`, step `i` of `epoch` (inside `tf.tidy`). */
  step: (idx: Int32Array, epoch: number, i: number) => Metrics;
}

/**
 * {@linkcode fit} over shuffled minibatches of `count` examples: each epoch
 * visits every full batch of a fresh seeded order once.
 */
export function fitMinibatches(
  opts: FitMinibatchesOptions,
): Promise<EpochRecord[]> {
  const { count, batchSize, seed, step, ...rest } = opts;
  // An epoch's order is made when its first step runs (a resumed run makes
  // none for the epochs it skips).
  let current = -1;
  let batches: Int32Array[] = [];
  return fit({
    ...rest,
    steps: () => Math.floor(count / batchSize),
    step: (epoch, i) => {
      if (epoch !== current) {
        batches = epochMinibatches(count, batchSize, seed, epoch);
        current = epoch;
      }
      return step(batches[i], epoch, i);
    },
  });
}
