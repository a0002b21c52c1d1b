import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { decode } from "fast-png";
import {
  captionedGridSvg,
  gridImage,
  imageGrid,
  imageGridFigure,
} from "../../lib/display/image_grid.ts";

Deno.test("imageGrid PNG: layout, scaling, range mapping, clipping and padding", async () => {
  // 3 gray 2x2 images; image i has pixels [i, i+0.25; -1 (clipped), 2 (clipped)] in [0,1].
  const values = new Float32Array(3 * 4);
  for (let i = 0; i < 3; i++) {
    values.set([i * 0.25, i * 0.25 + 0.25, -1, 2], i * 4);
  }
  const dir = await Deno.makeTempDir();
  try {
    const { png, path, width, height } = await imageGridFigure(values, {
      shape: [3, 2, 2],
      cols: 2,
      scale: 3,
      pad: 1,
      padColor: 100,
      name: "grid",
      dir,
    });
    assert.equal(path, join(dir, "grid.png"));
    assert.deepEqual(await Deno.readFile(join(dir, "grid.png")), png);
    const img = decode(png);
    assert.deepEqual([width, height], [img.width, img.height]);
    // 2 columns of 6 px + 3 pad; 2 rows of 6 px + 3 pad.
    assert.equal(img.width, 15);
    assert.equal(img.height, 15);
    assert.equal(img.channels, 1);
    const at = (x: number, y: number) => img.data[y * img.width + x];
    const expect = (i: number, px: number, py: number) =>
      Math.round([i * 0.25, i * 0.25 + 0.25, 0, 1][py * 2 + px] * 255);
    const origins = [[1, 1], [8, 1], [1, 8]]; // image 0, 1 in row 0; image 2 in row 1
    for (let i = 0; i < 3; i++) {
      const [x0, y0] = origins[i];
      for (let y = 0; y < 6; y++) {
        for (let x = 0; x < 6; x++) {
          assert.equal(
            at(x0 + x, y0 + y),
            expect(i, Math.floor(x / 3), Math.floor(y / 3)),
            `image ${i} pixel (${x}, ${y})`,
          );
        }
      }
    }
    // Borders and the empty fourth cell are the pad color.
    for (const [x, y] of [[0, 0], [7, 3], [3, 7], [14, 14], [10, 10]]) {
      assert.equal(at(x, y), 100, `pad at (${x}, ${y})`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("imageGrid takes an RGB tensor and a custom range", async () => {
  await tf.setBackend("cpu");
  // One 1x2 RGB image in [-1, 1]: pixel 0 red, pixel 1 mid gray.
  const t = tf.tensor4d([1, -1, -1, 0, 0, 0], [1, 1, 2, 3]);
  const dir = await Deno.makeTempDir();
  const img = decode(
    (await imageGridFigure(t, { range: [-1, 1], scale: 1, pad: 0, dir })).png,
  );
  t.dispose();
  await Deno.remove(dir, { recursive: true });
  assert.equal(img.channels, 3);
  assert.deepEqual([img.width, img.height], [2, 1]);
  assert.deepEqual([...img.data], [255, 0, 0, 128, 128, 128]);
});

Deno.test("gridImage defaults: ceil(sqrt(N)) columns, scale 2 for 28px digits", () => {
  const g = gridImage(new Float32Array(5 * 28 * 28), { shape: [5, 28, 28] });
  // 3 columns x 2 rows of 56 px cells with 2 px padding.
  assert.equal(g.width, 3 * 56 + 4 * 2);
  assert.equal(g.height, 2 * 56 + 3 * 2);
  assert.deepEqual(g.x, [2, 60, 118, 2, 60]);
  assert.deepEqual(g.y, [2, 2, 2, 60, 60]);
});

Deno.test("gridImage errors name the fault and the fix", () => {
  assert.throws(() => gridImage(new Float32Array(4)), /pass opts\.shape/);
  assert.throws(
    () => gridImage(new Float32Array(8), { shape: [1, 2, 2, 2] }),
    /1 or 3 channels/,
  );
  assert.throws(
    () => gridImage(new Float32Array(7), { shape: [2, 2, 2] }),
    /7 values do not match shape \[2,2,2\] \(8 values\)/,
  );
});

Deno.test("imageGrid with titles writes a captioned SVG next to the PNG", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await imageGrid(new Float32Array(2 * 4 * 4), {
      shape: [2, 4, 4],
      titles: ["cat 0.93", "dog <1>"],
      name: "pets",
      dir,
    });
    const svg = await Deno.readTextFile(join(dir, "pets.svg"));
    assert.match(svg, /<text[^>]*>cat 0\.93<\/text>/);
    assert.match(svg, /<text[^>]*>dog &lt;1&gt;<\/text>/);
    assert.match(svg, /data:image\/png;base64,iVBORw0KGgo/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("imageGrid resolves to nothing (no Out[n] line when it ends a cell); imageGridFigure's result shows a summary", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const opts = { shape: [2, 4, 4], name: "g", dir };
    assert.equal(await imageGrid(new Float32Array(32), opts), undefined);
    const figure = await imageGridFigure(new Float32Array(32), opts);
    const display = (figure as unknown as Record<symbol, () => unknown>)[
      Symbol.for("Jupyter.display")
    ];
    assert.deepEqual(display(), {
      "text/plain":
        `PNG ${figure.width}x${figure.height}, ${figure.png.length} bytes: ${
          join(dir, "g.png")
        }`,
    });
    assert.equal(figure.svg, null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("captioned grids get ids of their own, so two on one page never show each other's pictures", () => {
  const grid = gridImage(new Float32Array(4 * 4 * 4), {
    shape: [4, 4, 4],
    cols: 2,
  });
  const png = new Uint8Array([1, 2, 3]);
  const a = captionedGridSvg(grid, png, ["a", "b", "c", "d"]);
  const b = captionedGridSvg(grid, png, ["a", "b", "c", "d"]);
  const idsOf = (svg: string) =>
    [...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
  const [idA] = idsOf(a);
  const [idB] = idsOf(b);
  assert.equal(idsOf(a).length, 1);
  assert.notEqual(idA, idB);
  assert.notEqual(idA, "grid");
  // Each row viewport refers to its own SVG's image, once per row.
  const refs = [...a.matchAll(/<use xlink:href="#([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(refs, [idA, idA]);
});
