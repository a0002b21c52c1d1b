import assert from "node:assert/strict";
import { join } from "node:path";
import { listNotebooks, parseMainArgs } from "../../scripts/main.ts";

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
