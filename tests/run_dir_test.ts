import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createRunDir,
  makeRunId,
  markRunEnded,
  readRunRecord,
  RUN_REGISTRY_ENV,
  writeNewFileAtomic,
} from "../lib/run_dir.ts";

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("makeRunId is a UTC timestamp plus 4 hex digits", () => {
  const id = makeRunId(new Date(Date.UTC(2026, 10, 27, 10, 55, 1)));
  assert.match(id, /^2026-11-27T10-55-01-[0-9a-f]{4}$/);
});

Deno.test("createRunDir makes a fresh directory under root/group", async () => {
  const root = await Deno.makeTempDir();
  try {
    const run = await createRunDir("week09", { root });
    assert.equal(run.path, join(root, "week09", run.id));
    assert.ok((await Deno.stat(run.path)).isDirectory);
    assert.equal(run.file("a.json"), join(run.path, "a.json"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("createRunDir never reuses an existing directory", async () => {
  const root = await Deno.makeTempDir();
  try {
    const first = await createRunDir("g", { root, runId: "fixed" });
    await first.writeText("keep.txt", "first run");
    const second = await createRunDir("g", { root, runId: "fixed" });
    const third = await createRunDir("g", { root, runId: "fixed" });
    assert.equal(first.id, "fixed");
    assert.equal(second.id, "fixed-2");
    assert.equal(third.id, "fixed-3");
    assert.deepEqual(await listDir(second.path), []);
    assert.equal(
      await Deno.readTextFile(join(first.path, "keep.txt")),
      "first run",
    );
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await createRunDir("h", { root })).id);
    assert.equal(ids.size, 5);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("run dir writes JSON, text and bytes, and refuses to overwrite", async () => {
  const root = await Deno.makeTempDir();
  try {
    const run = await createRunDir("g", { root });
    const json = await run.writeJson("config.json", { epochs: 3, lr: 0.1 });
    assert.deepEqual(JSON.parse(await Deno.readTextFile(json)), {
      epochs: 3,
      lr: 0.1,
    });
    await run.writeBytes("figures/x.bin", new Uint8Array([1, 2, 3]));
    assert.deepEqual(
      [...await Deno.readFile(run.file("figures/x.bin"))],
      [1, 2, 3],
    );
    await run.writeText("notes.txt", "one");
    await assert.rejects(
      () => run.writeText("notes.txt", "two"),
      /already exists.*never overwritten/,
    );
    assert.equal(await Deno.readTextFile(run.file("notes.txt")), "one");
    // No temporary files are left behind, by success or by refusal.
    assert.deepEqual(await listDir(run.path), [
      "config.json",
      "figures",
      "notes.txt",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("run dir rejects names that leave the directory", async () => {
  const root = await Deno.makeTempDir();
  try {
    const run = await createRunDir("g", { root });
    await assert.rejects(() => run.writeText("../escape.txt", "x"), /relative/);
    await assert.rejects(() => run.writeText("/tmp/abs.txt", "x"), /relative/);
    await assert.rejects(() => createRunDir("../up", { root }), /relative/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("writeNewFileAtomic leaves no partial file when the write fails", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const target = join(dir, "out.bin");
    // A stream that fails after its first chunk has been written.
    let sent = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) controller.error(new Error("source failed"));
        else {
          sent = true;
          controller.enqueue(new Uint8Array(1024).fill(7));
        }
      },
    });
    await assert.rejects(
      () => writeNewFileAtomic(target, stream),
      /source failed/,
    );
    assert.deepEqual(await listDir(dir), []);
    // The same call with good data succeeds.
    await writeNewFileAtomic(target, new Uint8Array([9]));
    assert.deepEqual([...await Deno.readFile(target)], [9]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a recorded run folder keeps run.json: running, then its end state, rewritten whole", async () => {
  const root = await Deno.makeTempDir();
  const registry = join(root, "registry.txt");
  Deno.env.set(RUN_REGISTRY_ENV, registry);
  try {
    const run = await createRunDir("g", {
      root,
      record: { params: { epochs: 3 } },
    });
    const first = await readRunRecord(run.path);
    assert.equal(first?.state, "running");
    assert.deepEqual(first?.params, { epochs: 3 });
    assert.equal(first?.started, first?.updated);
    // The folder is announced to whoever set the registry.
    assert.equal(await Deno.readTextFile(registry), run.path + "\n");
    await run.setState("complete", { seconds: 12 });
    const done = await readRunRecord(run.path);
    assert.equal(done?.state, "complete");
    assert.equal(done?.seconds, 12);
    assert.deepEqual(done?.params, { epochs: 3 });
    // markRunEnded leaves an ended run alone, and marks a running one.
    assert.equal(await markRunEnded(run.path, "failed", "x"), false);
    const other = await createRunDir("g", { root, record: {} });
    assert.equal(
      await markRunEnded(other.path, "interrupted", "SIGTERM"),
      true,
    );
    const stopped = await readRunRecord(other.path);
    assert.equal(stopped?.state, "interrupted");
    assert.equal(stopped?.reason, "SIGTERM");
    // No temporary files are left beside run.json.
    assert.deepEqual(await listDir(other.path), ["run.json"]);
    // A folder made without `record` has no run.json, and setState is a no-op.
    const plain = await createRunDir("g", { root });
    await plain.setState("complete");
    assert.equal(await readRunRecord(plain.path), null);
  } finally {
    Deno.env.delete(RUN_REGISTRY_ENV);
    await Deno.remove(root, { recursive: true });
  }
});
