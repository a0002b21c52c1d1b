import assert from "node:assert/strict";
import {
  accuracyOf,
  argMaxRows,
  confidentMistakes,
  confusionMatrix,
  correlation,
} from "../../lib/eval/metrics.ts";
import { assertAllClose } from "../test_util.ts";

Deno.test("accuracy, confusion matrix and confident mistakes on hand-made predictions", () => {
  const labels = [0, 0, 0, 1, 1, 1, 1, 0];
  const predictions = Int32Array.from([0, 1, 0, 1, 0, 1, 1, 1]);
  assert.equal(accuracyOf(labels, predictions), 5 / 8);
  assert.ok(Number.isNaN(accuracyOf([], [])));
  // Rows: true class; columns: predicted.
  assert.deepEqual(confusionMatrix(labels, predictions, 2), [[2, 2], [1, 3]]);
  const p1 = [0.2, 0.7, 0.1, 0.9, 0.4, 0.6, 0.8, 0.95];
  const probabilities = Float32Array.from(p1.flatMap((p) => [1 - p, p]));
  assert.deepEqual(
    argMaxRows(probabilities, 2),
    Int32Array.from(p1, (p) => (p > 0.5 ? 1 : 0)),
  );
  const ev = { predictions, probabilities };
  // Mistakes: #1 (dog 0.7), #4 (cat 0.6), #7 (dog 0.95), most confident first.
  const m = confidentMistakes(labels, ev, 2);
  assert.deepEqual(m.map((x) => [x.index, x.label, x.predicted]), [
    [7, 0, 1],
    [1, 0, 1],
  ]);
  assertAllClose(m.map((x) => x.probability), [0.95, 0.7], 1e-6);
  assert.equal(confidentMistakes(labels, ev, 10).length, 3);
});

Deno.test("correlation of hand-made lists", () => {
  assertAllClose([correlation([1, 2, 3], [2, 4, 6])], [1], 1e-12);
  assertAllClose([correlation([1, 2, 3], [3, 2, 1])], [-1], 1e-12);
  // x = [1, 2, 3, 4], y = [1, 3, 2, 4]: cov 1.0, var 1.25 each -> 0.8.
  assertAllClose([correlation([1, 2, 3, 4], [1, 3, 2, 4])], [0.8], 1e-12);
  assert.ok(Number.isNaN(correlation([1, 1, 1], [1, 2, 3])));
});
