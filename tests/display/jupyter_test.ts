import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  displayBundle,
  isJupyter,
  toBase64,
} from "../../lib/display/jupyter.ts";

Deno.test("outside the kernel isJupyter is false and displayBundle is a no-op", async () => {
  assert.equal(isJupyter(), false);
  assert.equal(await displayBundle({ "text/plain": "x" }), false);
});

Deno.test("toBase64 matches Node's encoder, across its 32 KiB chunks", () => {
  const bytes = new Uint8Array(70_001).map((_, i) => (i * 7919) % 256);
  assert.equal(toBase64(bytes), Buffer.from(bytes).toString("base64"));
  assert.equal(toBase64(new Uint8Array([])), "");
});
