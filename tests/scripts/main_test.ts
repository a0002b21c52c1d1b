import assert from "node:assert/strict";
import { join } from "node:path";
import {
  listNotebooks,
  parseMainArgs,
  routeOverrides,
} from "../../scripts/main.ts";
import { REPO_ROOT } from "../../scripts/run_notebook.ts";

Deno.test("parseMainArgs reads --only filters and -p overrides", () => {
  assert.deepEqual(
    parseMainArgs(["--only", "week09,week08", "--only=x", "-p", "epochs=1"]),
    {
      only: ["week09", "week08", "x"],
      params: { epochs: 1 },
      timeoutS: undefined,
    },
  );
  assert.throws(() => parseMainArgs(["week09"]), /unknown argument week09/);
});

Deno.test("listNotebooks keeps .ipynb files matching --only, sorted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const name of ["week09_b.ipynb", "week08_a.ipynb", "notes.md"]) {
      await Deno.writeTextFile(join(dir, name), "{}");
    }
    assert.deepEqual(await listNotebooks(dir), [
      join(dir, "week08_a.ipynb"),
      join(dir, "week09_b.ipynb"),
    ]);
    assert.deepEqual(await listNotebooks(dir, ["week09"]), [
      join(dir, "week09_b.ipynb"),
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("routeOverrides sends each -p to the notebooks declaring it and rejects names none declares", async () => {
  const dir = join(REPO_ROOT, "notebooks");
  const w8 = join(dir, "week08_bn_convnet.ipynb");
  const w9 = join(dir, "week09_ff_vae.ipynb");
  const routed = await routeOverrides([w8, w9], {
    dataPath: "/data/train.zip",
    epochs: 2,
    scoreSamples: 100,
  });
  assert.deepEqual(routed.get(w8), { dataPath: "/data/train.zip", epochs: 2 });
  assert.deepEqual(routed.get(w9), { epochs: 2, scoreSamples: 100 });
  await assert.rejects(
    routeOverrides([w8, w9], { epoch: 2 }),
    /no notebook declares the parameter "epoch"; they declare:\n {2}week08_bn_convnet\.ipynb: backend, .*\n {2}week09_ff_vae\.ipynb: backend/,
  );
  await assert.rejects(
    routeOverrides([w8, w9], { epochs: 0 }),
    /parameter epochs \(week08_bn_convnet\.ipynb\) is 0/,
  );
});
