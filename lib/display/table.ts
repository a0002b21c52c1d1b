/**
 * Tables of rows (e.g. one row per epoch): HTML in Jupyter, aligned text in a
 * terminal.
 *
 * @module
 */

import { displayBundle } from "./jupyter.ts";
import { formatNumber } from "./progress.ts";

/** Options for {@linkcode table} and {@linkcode formatTable}. */
export interface TableOptions {
  /** Columns in order; default the keys of all rows in first-seen order. */
  columns?: string[];
  /** Formats a cell; default numbers to 4 significant digits, others with String. */
  format?: (value: unknown, column: string) => string;
}

function defaultFormat(value: unknown): string {
  if (value === undefined || value === null) return "";
  return typeof value === "number" ? formatNumber(value) : String(value);
}

function columnsOf(rows: Record<string, unknown>[], opts: TableOptions) {
  if (opts.columns) return opts.columns;
  const seen = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) seen.add(key);
  return [...seen];
}

function cells(rows: Record<string, unknown>[], opts: TableOptions) {
  const columns = columnsOf(rows, opts);
  const format = opts.format ?? defaultFormat;
  return {
    columns,
    body: rows.map((row) => columns.map((c) => format(row[c], c))),
  };
}

/**
 * Aligned plain text (pure): a header, a rule, one line per row; numbers are
 * right-aligned, other values left-aligned, columns two spaces apart.
 */
export function formatTable(
  rows: Record<string, unknown>[],
  opts: TableOptions = {},
): string {
  const { columns, body } = cells(rows, opts);
  const widths = columns.map((c, j) =>
    Math.max(c.length, ...body.map((r) => r[j].length))
  );
  const numeric = columns.map((c) =>
    rows.every((row) => row[c] === undefined || typeof row[c] === "number")
  );
  const line = (values: string[]) =>
    values.map((v, j) =>
      numeric[j] ? v.padStart(widths[j]) : v.padEnd(widths[j])
    ).join("  ").trimEnd();
  return [
    line(columns),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...body.map(line),
  ].join("\n");
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(
    />/g,
    "&gt;",
  );
}

/** The same table as an HTML `<table>` (pure). */
export function tableHtml(
  rows: Record<string, unknown>[],
  opts: TableOptions = {},
): string {
  const { columns, body } = cells(rows, opts);
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const trs = body.map((r) =>
    `<tr>${r.map((v) => `<td>${escapeHtml(v)}</td>`).join("")}</tr>`
  );
  return `<table><thead><tr>${head}</tr></thead><tbody>${
    trs.join("")
  }</tbody></table>`;
}

/**
 * Shows rows as a table: an HTML table inline in Jupyter (with the text form
 * as text/plain), aligned text on stdout elsewhere; {@linkcode formatTable}
 * gives the text without showing it.
 */
export async function table(
  rows: Record<string, unknown>[],
  opts: TableOptions = {},
): Promise<void> {
  const text = formatTable(rows, opts);
  const shown = await displayBundle({
    "text/plain": text,
    "text/html": tableHtml(rows, opts),
  });
  if (!shown) console.log(text);
}
