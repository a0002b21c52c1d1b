import assert from "node:assert/strict";
import { formatTable, tableHtml } from "../../lib/display/table.ts";

const rows = [
  { epoch: 1, loss: 0.123456, note: "warm" },
  { epoch: 10, loss: 12.5, note: "" },
  { epoch: 11, note: "no loss" },
];

Deno.test("formatTable aligns numbers right and text left", () => {
  assert.equal(
    formatTable(rows),
    [
      "epoch    loss  note",
      "-----  ------  -------",
      "    1  0.1235  warm",
      "   10    12.5",
      "   11          no loss",
    ].join("\n"),
  );
});

Deno.test("formatTable honours the column order and formatter", () => {
  assert.equal(
    formatTable(rows.slice(0, 2), {
      columns: ["loss", "epoch"],
      format: (v) => (typeof v === "number" ? v.toFixed(1) : String(v)),
    }),
    ["loss  epoch", "----  -----", " 0.1    1.0", "12.5   10.0"].join("\n"),
  );
});

Deno.test("tableHtml escapes cells", () => {
  assert.equal(
    tableHtml([{ a: "<b>", b: 2 }]),
    "<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>&lt;b&gt;</td><td>2</td></tr></tbody></table>",
  );
});
