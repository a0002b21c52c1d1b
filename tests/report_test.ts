import assert from "node:assert/strict";
import { join } from "node:path";
import { writeReport } from "../lib/report.ts";

Deno.test("writeReport: each week's numbers beside the reported ones, its figures, links, and why a week did not run", async () => {
  const root = await Deno.makeTempDir();
  try {
    const run = join(root, "outputs", "week09", "run1");
    await Deno.mkdir(run, { recursive: true });
    await Deno.writeTextFile(
      join(run, "metrics.json"),
      JSON.stringify({
        test: { cost: 35.01, kl: 5.83, reconstruction: 29.18 },
        meanImageCost: 52.9,
        sampleScore: { fid: 376.8, confidence: 0.804 },
      }),
    );
    await Deno.writeTextFile(
      join(run, "run.json"),
      JSON.stringify({ backend: "backend: wasm+blas (...)" }),
    );
    await Deno.writeTextFile(join(run, "cost.svg"), "<svg/>");
    const nb = join(root, "outputs", "notebooks");
    const report = await writeReport(join(root, "outputs", "report"), [
      {
        notebook: "week09_ff_vae.ipynb",
        status: "passed",
        wallSeconds: 233.4,
        ipynb: join(nb, "week09_ff_vae", "x", "week09_ff_vae.ipynb"),
        html: join(nb, "week09_ff_vae", "x", "week09_ff_vae.html"),
        runs: [run],
      },
      {
        notebook: "week08_bn_convnet.ipynb",
        status: "skipped",
        reason: "DatasetNotFoundError: Dogs vs. Cats dataset not found.",
        wallSeconds: 3,
        ipynb: join(nb, "week08_bn_convnet", "y", "week08_bn_convnet.ipynb"),
        html: join(nb, "week08_bn_convnet", "y", "week08_bn_convnet.html"),
        runs: [],
      },
    ], { date: new Date(Date.UTC(2026, 11, 1)) });
    const html = await Deno.readTextFile(report);
    assert.match(html, /<h2>week09_ff_vae: passed<\/h2>/);
    assert.match(
      html,
      /35\.01 \(KL 5\.83 \+ squared error 29\.18\)<\/td><td>at most 40/,
    );
    assert.match(html, /376\.8 \/ 0\.804/);
    assert.match(
      html,
      /href="\.\.\/notebooks\/week09_ff_vae\/x\/week09_ff_vae\.html"/,
    );
    assert.match(html, /backend: wasm\+blas/);
    // The figure was copied next to the page; a figure the run lacks is left out.
    assert.match(html, /<img src="week09_ff_vae_cost\.svg"/);
    assert.equal(
      await Deno.readTextFile(
        join(root, "outputs", "report", "week09_ff_vae_cost.svg"),
      ),
      "<svg/>",
    );
    assert.doesNotMatch(html, /samples\.png/);
    assert.match(html, /<h2>week08_bn_convnet: skipped<\/h2>/);
    assert.match(
      html,
      /class="why">DatasetNotFoundError: Dogs vs\. Cats dataset not found\./,
    );
    assert.match(html, /on 2026-12-01T00:00:00\.000Z/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("writeReport: Week 10's test errors beside Kingma et al.'s, read from the run folder, not the model folders inside it", async () => {
  const root = await Deno.makeTempDir();
  try {
    const run = join(root, "outputs", "week10", "run1");
    const inner = join(run, "m2", "model");
    await Deno.mkdir(inner, { recursive: true });
    await Deno.writeTextFile(
      join(run, "metrics.json"),
      JSON.stringify({
        runs: [
          {
            kind: "ss_vae",
            model: "seed's model",
            labels: 100,
            draw: 0,
            testError: 0.2378,
          },
          { kind: "m2", model: "M2", labels: 100, draw: 0, testError: 0.1608 },
          {
            kind: "m1m2",
            model: "M1+M2",
            labels: 600,
            draw: 1,
            testError: 0.05,
          },
        ],
      }),
    );
    // The model folder's metrics.json must not be the one read.
    await Deno.writeTextFile(join(inner, "metrics.json"), "{}");
    await Deno.writeTextFile(join(run, "class_grid_m2.png"), "png");
    const nb = join(root, "outputs", "notebooks", "w10");
    const report = await writeReport(join(root, "outputs", "report"), [{
      notebook: "week10_semi_supervised_vae.ipynb",
      status: "passed",
      wallSeconds: 900,
      ipynb: join(nb, "a.ipynb"),
      html: join(nb, "a.html"),
      runs: [run, join(run, "ss_vae", "model"), inner],
    }]);
    const html = await Deno.readTextFile(report);
    assert.match(
      html,
      /seed's model, 100 labels, draw 0: test error<\/td><td>23\.8%<\/td><td>planned by the seed, never run/,
    );
    assert.match(
      html,
      /M2, 100 labels, draw 0: test error<\/td><td>16\.1%<\/td><td>11\.97 \(±1\.71\)% \(Kingma et al\. 2014\)/,
    );
    assert.match(
      html,
      /M1\+M2, 600 labels, draw 1: test error<\/td><td>5\.0%<\/td><td>2\.59%/,
    );
    assert.match(
      html,
      /<img src="week10_semi_supervised_vae_class_grid_m2\.png"/,
    );
    assert.match(
      html,
      new RegExp(`run folder <code>${run.replaceAll("/", "\\/")}</code>`),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
