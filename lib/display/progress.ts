/**
 * A progress bar: one output updated in place in Jupyter, a `\r`-rewritten
 * line on a terminal, and a line every 10% in a log (non-TTY).
 *
 * @module
 */

import { displayBundle, isJupyter } from "./jupyter.ts";

/** Extra values shown after the bar, e.g. `{ loss: 0.123 }`. */
export type ProgressInfo = Record<string, number | string>;

/** The state {@linkcode formatProgress} renders. */
export interface ProgressState {
  done: number;
  total: number;
  /** Milliseconds since the bar started. */
  elapsedMs: number;
  label?: string;
  info?: ProgressInfo;
  /** Characters inside the brackets; default 20. */
  width?: number;
}

/** `m:ss`, or `h:mm:ss` from one hour on. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** A number as shown in tables and bars: integers whole, others to 4 significant digits. */
export function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  if (!Number.isFinite(v)) return String(v);
  return Number(v.toPrecision(4)).toString();
}

/**
 * Milliseconds a bar must have run before it shows a rate and an ETA: over a
 * shorter time the count says more about when the bar was started than about
 * the speed (a cached load reporting all 20,000 images at once would read
 * 614919.0 it/s).
 */
export const MIN_RATE_MS = 1000;

/**
 * The one-line text of a progress bar (pure), e.g.
 * `train  30/100 [######--------------]  30% 15.0 it/s 0:02<0:05 loss=0.5`:
 * count/total, the bar, the percentage, the rate, elapsed<ETA and the info.
 * Before {@linkcode MIN_RATE_MS} the rate reads `? it/s` and the ETA `?`
 * (`0:00` once done).
 */
export function formatProgress(state: ProgressState): string {
  const { done, total, elapsedMs, label, info } = state;
  const width = state.width ?? 20;
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const filled = Math.round(fraction * width);
  const bar = "#".repeat(filled) + "-".repeat(width - filled);
  const digits = String(total).length;
  const seconds = elapsedMs / 1000;
  const measured = elapsedMs >= MIN_RATE_MS;
  const rate = measured ? done / seconds : NaN;
  const eta = done >= total
    ? 0
    : rate > 0
    ? ((total - done) / rate) * 1000
    : NaN;
  const parts = [
    `${String(done).padStart(digits)}/${total}`,
    `[${bar}]`,
    `${String(Math.round(fraction * 100)).padStart(3)}%`,
    `${measured ? rate.toFixed(1) : "?"} it/s`,
    `${formatDuration(elapsedMs)}<${
      Number.isFinite(eta) ? formatDuration(eta) : "?"
    }`,
  ];
  for (const [key, value] of Object.entries(info ?? {})) {
    parts.push(
      `${key}=${typeof value === "number" ? formatNumber(value) : value}`,
    );
  }
  return (label ? `${label} ` : "") + parts.join(" ");
}

/** Options for {@linkcode progress}. */
export interface ProgressOptions {
  /** Shown before the count, e.g. "epoch 3". */
  label?: string;
  /** Minimum milliseconds between Jupyter or terminal redraws; default 200. */
  intervalMs?: number;
}

/** A running progress bar; see {@linkcode progress}. */
export interface Progress {
  /** Sets the number of finished steps (not an increment) and the shown values. */
  update(done: number, info?: ProgressInfo): void;
  /** Draws the final state and ends the line; await it so the notebook gets the last update. */
  close(): Promise<void>;
}

let nextId = 0;

/**
 * Starts a progress bar over `total` steps. In Jupyter it is one output
 * updated in place (at most every `intervalMs`, the last state always shown);
 * on a terminal one line rewritten with `\r`; in a log (stdout not a TTY) a
 * line at the first update and each time another 10% is done (and the final
 * state at close if not printed yet).
 *
 * @example
 * ```ts
 * const bar = progress(batches, { label: "epoch 1" });
 * for (let i = 0; i < batches; i++) bar.update(i + 1, { loss });
 * await bar.close();
 * ```
 */
export function progress(total: number, opts: ProgressOptions = {}): Progress {
  const start = performance.now();
  const interval = opts.intervalMs ?? 200;
  const jupyter = isJupyter();
  const tty = !jupyter && Deno.stdout.isTerminal();
  const displayId = `progress-${Date.now()}-${nextId++}`;
  const encoder = new TextEncoder();
  let done = 0;
  let info: ProgressInfo | undefined;
  let lastDraw = -Infinity;
  let lastDecile = -1;
  let lastPrinted = -1;
  let shown = false;
  let closed = false;
  let pending: Promise<unknown> = Promise.resolve();

  const text = () =>
    formatProgress({
      done,
      total,
      elapsedMs: performance.now() - start,
      label: opts.label,
      info,
    });

  const draw = (final: boolean) => {
    const now = performance.now();
    if (jupyter) {
      if (!final && now - lastDraw < interval) return;
      lastDraw = now;
      const line = text();
      const update = shown;
      shown = true;
      // Chained so updates reach the notebook in order.
      pending = pending.then(() =>
        displayBundle({ "text/plain": line }, { displayId, update })
      );
    } else if (tty) {
      if (!final && now - lastDraw < interval) return;
      lastDraw = now;
      Deno.stdout.writeSync(
        encoder.encode(`\r${text()}\x1b[K${final ? "\n" : ""}`),
      );
    } else {
      const decile = total > 0 ? Math.floor((done / total) * 10) : 0;
      if (decile > lastDecile || (final && done !== lastPrinted)) {
        lastDecile = decile;
        lastPrinted = done;
        console.log(text());
      }
    }
  };

  return {
    update(value: number, values?: ProgressInfo) {
      if (closed) return;
      done = value;
      if (values) info = values;
      draw(false);
    },
    async close() {
      if (closed) return;
      closed = true;
      draw(true);
      await pending;
    },
  };
}
