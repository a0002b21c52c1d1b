/**
 * Making standalone SVG text safe to put inline in any HTML page: ids that
 * no other figure on the page shares, and nested `<svg>` viewports that a
 * host stylesheet cannot clip.
 *
 * An inline SVG's ids live in the page's one id space, so two figures that
 * both define `id="grid"` (or Plot's `plot-clip-1`) show each other's
 * pictures; and Jupyter's classic Notebook styles `svg:not(:root)` with
 * `overflow: hidden`, an author rule that beats the `overflow="visible"`
 * presentation attribute, so anything drawn outside a nested viewport
 * (axis labels in a chart's margin) disappears there.
 *
 * @module
 */

let counter = 0;

/** FNV-1a of the text, in base 36: a short tag that differs between figures. */
function hashText(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36);
}

/**
 * A prefix for the ids of one SVG: from its content and a per-process
 * counter, so figures rendered in one kernel never share it, and figures
 * from other runs on the same page differ unless their content is identical.
 */
export function svgIdPrefix(svg: string): string {
  counter += 1;
  return `s${hashText(svg)}${counter.toString(36)}`;
}

/**
 * Renames every `id` the SVG defines to `<prefix>-<id>` and rewrites the
 * references to them (`url(#id)` in attributes and styles, `href="#id"` and
 * `xlink:href="#id"`), leaving references to ids it does not define alone.
 * Without `prefix`, a fresh one from {@linkcode svgIdPrefix}.
 */
export function uniqueSvgIds(svg: string, prefix?: string): string {
  const ids = new Set(
    [...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]),
  );
  if (ids.size === 0) return svg;
  const p = prefix ?? svgIdPrefix(svg);
  const renamed = (id: string) => `${p}-${id}`;
  return svg
    .replace(/(\sid=")([^"]+)(")/g, (_, a, id, b) => a + renamed(id) + b)
    .replace(
      /url\(\s*(['"]?)#([^'")\s]+)\1\s*\)/g,
      (m, q, id) => ids.has(id) ? `url(${q}#${renamed(id)}${q})` : m,
    )
    .replace(
      /(\s(?:xlink:)?href=")#([^"]+)(")/g,
      (m, a, id, b) => ids.has(id) ? a + "#" + renamed(id) + b : m,
    );
}

/**
 * Adds `overflow:visible` to an element's `style` attribute value: an inline
 * style outranks any stylesheet rule that is not `!important`, such as the
 * classic Notebook's `svg:not(:root) { overflow: hidden }`.
 */
export function withVisibleOverflow(style: string | null): string {
  const rest = (style ?? "").split(";").map((s) => s.trim()).filter((s) =>
    s !== "" && !/^overflow\s*:/.test(s)
  );
  return [...rest, "overflow:visible"].join(";");
}
