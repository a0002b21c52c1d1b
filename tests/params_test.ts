import assert from "node:assert/strict";
import {
  allowed,
  checkParams,
  describeSpec,
  ParameterError,
  type ParamSchema,
  zeroMeansAll,
} from "../lib/params.ts";

const schema: ParamSchema = {
  epochs: { type: "int", min: 1 },
  learningRate: { type: "number", min: 0, exclusiveMin: true },
  momentum: { type: "number", min: 0, max: 0.999 },
  dataset: { type: "enum", values: ["mnist", "mnist-full"] },
  sizes: { type: "int[]", min: 1, minLength: 1 },
  path: { type: "string" },
  flag: { type: "bool" },
};

const good = {
  epochs: 3,
  learningRate: 0.1,
  momentum: 0.9,
  dataset: "mnist",
  sizes: [512, 256],
  path: "",
  flag: false,
};

Deno.test("checkParams accepts allowed values and names the first bad one with what is allowed", () => {
  checkParams(good, schema);
  const bad: [Record<string, unknown>, RegExp][] = [
    [
      { epochs: "abc" },
      /parameter epochs is "abc"; it must be an integer >= 1/,
    ],
    [{ epochs: 2.5 }, /epochs is 2\.5; it must be an integer >= 1/],
    [{ epochs: 0 }, /epochs is 0/],
    [{ learningRate: -0.1 }, /learningRate is -0\.1; it must be a number > 0/],
    [{ learningRate: 0 }, /learningRate is 0; it must be a number > 0/],
    [{ momentum: 1 }, /momentum is 1; it must be a number >= 0 and <= 0\.999/],
    [
      { dataset: "mnsit" },
      /dataset is "mnsit"; it must be one of "mnist", "mnist-full"/,
    ],
    [
      { sizes: [] },
      /sizes is \[\]; it must be a list of integers >= 1 \(at least 1\)/,
    ],
    [{ sizes: [0, 3] }, /sizes is \[0,3\]/],
    [{ flag: "yes" }, /flag is "yes"; it must be true or false/],
    [{ learningRate: Infinity }, /learningRate is .*; it must be a number > 0/],
  ];
  for (const [change, message] of bad) {
    assert.throws(
      () => checkParams({ ...good, ...change }, schema),
      (e: Error) => e instanceof ParameterError && message.test(e.message),
      JSON.stringify(change),
    );
  }
  assert.throws(
    () => checkParams({ ...good, epoch: 3 }, schema),
    /unknown parameter "epoch"; the parameters are: epochs, learningRate/,
  );
  assert.throws(
    () => checkParams({ epochs: 3 }, schema),
    /parameters missing: learningRate/,
  );
  // Overrides are partial, and say where they go.
  checkParams({ epochs: 5 }, schema, { partial: true });
  assert.throws(
    () =>
      checkParams({ epochs: -1 }, schema, {
        partial: true,
        where: "week09_ff_vae.ipynb",
      }),
    /parameter epochs \(week09_ff_vae\.ipynb\) is -1/,
  );
});

Deno.test("describeSpec and allowed agree on the edges", () => {
  assert.equal(
    describeSpec({ type: "int", min: 0, max: 10 }),
    "an integer >= 0 and <= 10",
  );
  assert.equal(
    describeSpec({ type: "enum[]", values: ["a"], minLength: 2 }),
    'a list of at least 2 values from "a"',
  );
  assert.ok(allowed({ type: "int", min: 0, max: 10 }, 10));
  assert.ok(!allowed({ type: "int", min: 0, max: 10 }, 11));
  assert.ok(
    allowed({ type: "number[]", min: 0, exclusiveMin: true }, [0.5, 1]),
  );
  assert.ok(!allowed({ type: "number[]", min: 0, exclusiveMin: true }, [0, 1]));
  assert.ok(allowed({ type: "enum[]", values: ["a", "b"] }, ["b", "a"]));
  assert.ok(!allowed({ type: "enum[]", values: ["a", "b"] }, ["c"]));
  assert.ok(!allowed({ type: "string", nonEmpty: true }, ""));
});

Deno.test("zeroMeansAll: 0 is no limit", () => {
  assert.equal(zeroMeansAll(0), undefined);
  assert.equal(zeroMeansAll(7), 7);
});
