import assert from "node:assert/strict";
import {
  formatDuration,
  formatNumber,
  formatProgress,
  progress,
} from "../../lib/display/progress.ts";

Deno.test("formatDuration gives m:ss and h:mm:ss", () => {
  assert.equal(formatDuration(0), "0:00");
  assert.equal(formatDuration(5_400), "0:05");
  assert.equal(formatDuration(65_000), "1:05");
  assert.equal(formatDuration(3_725_000), "1:02:05");
});

Deno.test("formatNumber keeps integers and rounds others to 4 significant digits", () => {
  assert.equal(formatNumber(12), "12");
  assert.equal(formatNumber(0.123456), "0.1235");
  assert.equal(formatNumber(1234.567), "1235");
  assert.equal(formatNumber(NaN), "NaN");
});

Deno.test("formatProgress renders count, bar, percent, rate, elapsed<eta and info", () => {
  // 30 of 100 in 2 s: 15 it/s, 70 left -> 4.67 s -> 0:05.
  assert.equal(
    formatProgress({
      done: 30,
      total: 100,
      elapsedMs: 2000,
      label: "train",
      info: { loss: 0.51234, epoch: 3, phase: "warm" },
    }),
    "train  30/100 [######--------------]  30% 15.0 it/s 0:02<0:05 loss=0.5123 epoch=3 phase=warm",
  );
  assert.equal(
    formatProgress({ done: 0, total: 8, elapsedMs: 0, width: 4 }),
    "0/8 [----]   0% ? it/s 0:00<?",
  );
  assert.equal(
    formatProgress({ done: 0, total: 8, elapsedMs: 3000, width: 4 }),
    "0/8 [----]   0% 0.0 it/s 0:03<?",
  );
  assert.equal(
    formatProgress({ done: 8, total: 8, elapsedMs: 4000, width: 4 }),
    "8/8 [####] 100% 2.0 it/s 0:04<0:00",
  );
});

Deno.test("formatProgress shows no rate before a second has passed: a cached load's first frame", () => {
  // 20,000 images reported 32.5 ms after the bar started read 614919.0 it/s.
  assert.equal(
    formatProgress({ done: 20000, total: 20000, elapsedMs: 32.5, width: 4 }),
    "20000/20000 [####] 100% ? it/s 0:00<0:00",
  );
  assert.equal(
    formatProgress({ done: 1, total: 50, elapsedMs: 999, width: 4 }),
    " 1/50 [----]   2% ? it/s 0:01<?",
  );
  assert.equal(
    formatProgress({ done: 10, total: 50, elapsedMs: 1000, width: 4 }),
    "10/50 [#---]  20% 10.0 it/s 0:01<0:04",
  );
});

Deno.test("progress in a log (not a TTY) prints the first update, then a line per 10%", async () => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    const bar = progress(20, { label: "p" });
    for (let i = 1; i <= 20; i++) bar.update(i);
    await bar.close();
  } finally {
    console.log = log;
  }
  if (Deno.stdout.isTerminal()) return; // the \r mode writes to stdout instead
  const counts = lines.map((l) => l.match(/^p +(\d+)\/20/)?.[1]);
  assert.deepEqual(counts, [
    "1",
    "2",
    "4",
    "6",
    "8",
    "10",
    "12",
    "14",
    "16",
    "18",
    "20",
  ]);
});
