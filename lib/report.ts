/**
 * The reproduce-all report: one HTML page (`outputs/report/index.html`, by
 * the main job) with, for each week, its key numbers beside the numbers the
 * seed (or the paper it departs from) reported, its key figures, the
 * backend, the wall time and links to the executed notebook; a week that did
 * not run says why.
 *
 * @module
 */
import { basename, join, relative } from "node:path";
import { kingmaReference } from "./experiments/kingma_2014.ts";

/** One number of a week, ours beside the reference. */
export interface SummaryRow {
  quantity: string;
  ours: string;
  /** What the seed or the literature reported ("" when nothing). */
  reference: string;
}

/** What the report shows of one week's run folder. */
export interface WeekSummary {
  rows: SummaryRow[];
  /** Figure files of the run folder to show, in order. */
  figures: string[];
}

type Metrics = Record<string, unknown>;
type Row = Record<string, number>;

const pct = (v: unknown) =>
  typeof v === "number" ? `${(100 * v).toFixed(1)}%` : "—";
const num = (v: unknown, digits = 2) =>
  typeof v === "number" ? v.toFixed(digits) : "—";

function week08(m: Metrics): WeekSummary {
  const h = (m.histories ?? {}) as Record<string, Row[]>;
  const at = (net: string, epoch: number) =>
    h[net]?.find((r) => r.epoch === epoch)?.valid_accuracy;
  const last = (net: string) => h[net]?.at(-1);
  return {
    rows: [
      {
        quantity: "full BN net, valid accuracy at epoch 10",
        ours: pct(at("BN, full", 10)),
        reference: "81.4% (the seed's full-size net)",
      },
      {
        quantity: "half-width BN net, valid accuracy at its last epoch",
        ours: pct(last("BN, width 0.5")?.valid_accuracy),
        reference: "80.2% at epoch 11 (the seed's ~50% smaller net)",
      },
      {
        quantity: "half-width BN net, train accuracy and loss there",
        ours: `${pct(last("BN, width 0.5")?.train_accuracy)}, ${
          num(last("BN, width 0.5")?.train_loss, 3)
        }`,
        reference: "87.4%, 0.364",
      },
      {
        quantity: "full net without BN, valid accuracy at its last epoch",
        ours: pct(last("no BN, full")?.valid_accuracy),
        reference: "",
      },
    ],
    figures: ["curves.svg", "confusion.svg", "gamma_vs_std_bias.svg"],
  };
}

function week09(m: Metrics): WeekSummary {
  const test = (m.test ?? {}) as Row;
  const score = (m.sampleScore ?? {}) as Row;
  return {
    rows: [
      {
        quantity: "test cost per example (population statistics)",
        ours: `${num(test.cost)} (KL ${num(test.kl)} + squared error ${
          num(test.reconstruction)
        })`,
        reference: "at most 40 (PyTorch's calibration after 12 epochs)",
      },
      {
        quantity: "mean-image baseline",
        ours: num(m.meanImageCost),
        reference: "",
      },
      {
        quantity: "sample FID (2,000 samples) / confidence",
        ours: `${num(score.fid, 1)} / ${num(score.confidence, 3)}`,
        reference: "Week 11's threshold for good",
      },
    ],
    figures: ["cost.svg", "samples.png", "bn_statistics.svg"],
  };
}

function paper(kind: string, labels: number): string {
  const ref = kingmaReference(kind, labels);
  if (ref) return `${ref}% (Kingma et al. 2014)`;
  return kind === "ss_vae" ? "planned by the seed, never run" : "";
}

function week10(m: Metrics): WeekSummary {
  const runs = (m.runs ?? []) as Record<string, unknown>[];
  return {
    rows: runs.map((r) => ({
      quantity: `${r.model}, ${r.labels} labels, draw ${r.draw}: test error`,
      ours: pct(r.testError),
      reference: paper(String(r.kind), Number(r.labels)),
    })),
    figures: ["error_curves.svg", "class_grid_ss_vae.png", "class_grid_m2.png"],
  };
}

function week11(m: Metrics): WeekSummary {
  const table = (m.raceTable ?? []) as Record<string, unknown>[];
  const conv = (m.conv ?? []) as Row[];
  const good = (m.params as Row | undefined)?.goodFid ?? -Infinity;
  const convGood = conv.find((r) => r.sample_fid <= good);
  return {
    rows: [
      ...table.map((r) => ({
        quantity: `feed-forward VAE with ${r.optimizer}: time to good`,
        ours: `${r["time to good (s)"]} s (best FID ${r["best FID"]})`,
        reference: r.optimizer === "rmsprop-rescaled"
          ? "about 45 minutes on a 2015 GPU"
          : "",
      })),
      {
        quantity: `convolutional VAE (${m.convOptimizer}): time to good`,
        ours: convGood
          ? `${convGood.time.toFixed(0)} s`
          : `not reached in ${num(conv.at(-1)?.time, 0)} s`,
        reference: "3 days",
      },
    ],
    figures: ["race.svg", "ff_vs_conv.svg", "samples_conv.png"],
  };
}

/** The summary of each notebook's run folder, by notebook file name. */
export const WEEK_SUMMARIES: Readonly<
  Record<string, (metrics: Metrics) => WeekSummary>
> = {
  "week08_bn_convnet.ipynb": week08,
  "week09_ff_vae.ipynb": week09,
  "week10_semi_supervised_vae.ipynb": week10,
  "week11_rmsprop_conv_vae.ipynb": week11,
};

/** One notebook of a main-job run, as the report shows it. */
export interface ReportEntry {
  notebook: string;
  status: "passed" | "failed" | "skipped" | "rejected" | "interrupted";
  /** Why it did not pass. */
  reason?: string;
  wallSeconds: number;
  /** The executed notebook and its HTML export. */
  ipynb: string;
  html: string;
  /** The experiment run folders the notebook made. */
  runs: string[];
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(
    />/g,
    "&gt;",
  ).replace(/"/g, "&quot;");
}

async function readJson(path: string): Promise<Metrics | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    return null;
  }
}

/**
 * Writes `<dir>/index.html` for `entries` (copying the figures it shows
 * into `dir`) and returns its path.
 */
export async function writeReport(
  dir: string,
  entries: ReportEntry[],
  opts: { title?: string; date?: Date } = {},
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const sections: string[] = [];
  for (const e of entries) {
    // A notebook may make folders inside its run's (Week 10 saves each
    // model in one): the run is the last folder not inside another.
    const runDir = e.runs.filter((r) =>
      !e.runs.some((o) => o !== r && r.startsWith(o + "/"))
    ).at(-1);
    const metrics = runDir
      ? await readJson(join(runDir, "metrics.json"))
      : null;
    const record = runDir ? await readJson(join(runDir, "run.json")) : null;
    const summarize = WEEK_SUMMARIES[e.notebook];
    const parts = [
      `<h2>${escape(e.notebook.replace(/\.ipynb$/, ""))}: ${e.status}</h2>`,
      `<p>${e.wallSeconds.toFixed(0)} s wall; ` +
      `<a href="${
        escape(relative(dir, e.html))
      }">executed notebook (HTML)</a>, ` +
      `<a href="${escape(relative(dir, e.ipynb))}">.ipynb</a>` +
      (runDir ? `; run folder <code>${escape(runDir)}</code>` : "") +
      (record?.backend ? `; ${escape(String(record.backend))}` : "") +
      "</p>",
    ];
    if (e.status !== "passed") {
      parts.push(`<p class="why">${escape(e.reason ?? "no reason given")}</p>`);
    }
    if (metrics && summarize) {
      const s = summarize(metrics);
      parts.push(
        "<table><tr><th>quantity</th><th>ours</th><th>reported</th></tr>" +
          s.rows.map((r) =>
            `<tr><td>${escape(r.quantity)}</td><td>${escape(r.ours)}</td>` +
            `<td>${escape(r.reference)}</td></tr>`
          ).join("") + "</table>",
      );
      const week = basename(e.notebook, ".ipynb");
      for (const f of s.figures) {
        const from = join(runDir!, f);
        const to = join(dir, `${week}_${f}`);
        try {
          await Deno.copyFile(from, to);
          parts.push(`<img src="${escape(basename(to))}" alt="${escape(f)}">`);
        } catch { /* a figure the run did not make */ }
      }
    }
    sections.push(`<section>${parts.join("\n")}</section>`);
  }
  const title = opts.title ?? "IFT6266 (Winter 2015), reproduced";
  const when = (opts.date ?? new Date()).toISOString();
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
img{max-width:100%;display:block;margin:1em 0}.why{color:#a00}</style></head>
<body><h1>${
    escape(title)
  }</h1><p>Made by <code>deno task main</code> on ${when}.</p>
${sections.join("\n")}
</body></html>
`;
  const path = join(dir, "index.html");
  await Deno.writeTextFile(path, html);
  return path;
}
