import assert from "node:assert/strict";
import { deriveSeed, Rng } from "../lib/random.ts";

Deno.test("deriveSeed: one 31-bit seed per (seed, purpose, index), the same every time", () => {
  const a = deriveSeed(1, "noise", 0, 5);
  assert.equal(a, deriveSeed(1, "noise", 0, 5));
  assert.ok(Number.isInteger(a) && a >= 0 && a < 2 ** 31);
  // Any change of seed, purpose or index gives another stream.
  const others = [
    deriveSeed(2, "noise", 0, 5),
    deriveSeed(1, "flips", 0, 5),
    deriveSeed(1, "noise", 5, 0),
    deriveSeed(1, "noise", 0),
    deriveSeed(1, "noise", 0, 5, 0),
    deriveSeed(1, "init", "enc0"),
    deriveSeed(1, "init", "enc", 0),
  ];
  assert.equal(new Set([a, ...others]).size, others.length + 1);
  // Strings are delimited: ("ab", "c") and ("a", "bc") differ.
  assert.notEqual(
    deriveSeed(1, "init", "ab", "c"),
    deriveSeed(1, "init", "a", "bc"),
  );
  assert.throws(() => deriveSeed(1.5, "noise"), /must be an integer/);
});

Deno.test("deriveSeed spreads consecutive steps evenly (no two share a seed, low bits balanced)", () => {
  const seeds = Array.from(
    { length: 20_000 },
    (_, i) => deriveSeed(1, "noise", 0, i),
  );
  assert.equal(new Set(seeds).size, seeds.length);
  const odd = seeds.filter((s) => s & 1).length;
  // Binomial(20000, 0.5): std about 71.
  assert.ok(Math.abs(odd - 10_000) < 400, `${odd} odd seeds`);
});

Deno.test("Rng: uniform in [0, 1), seeded permutations repeat", () => {
  const r = new Rng(3);
  const xs = Array.from({ length: 10_000 }, () => r.next());
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  assert.deepEqual(new Rng(9).permutation(50), new Rng(9).permutation(50));
  assert.deepEqual(
    [...new Rng(9).permutation(50)].sort((a, b) => a - b),
    [...Array(50).keys()],
  );
});
