import assert from "node:assert/strict";
import { join } from "node:path";
import { NOTEBOOK_PARAMETERS } from "../../lib/experiments/parameters.ts";
import { checkParams } from "../../lib/params.ts";
import {
  cellSource,
  findParametersCell,
  type Notebook,
  parametersObject,
  REPO_ROOT,
} from "../../scripts/run_notebook.ts";

const dir = join(REPO_ROOT, "notebooks");
const notebooks = [...Deno.readDirSync(dir)]
  .filter((e) => e.name.endsWith(".ipynb"))
  .map((e) => e.name)
  .sort();

for (const name of notebooks) {
  Deno.test(`${name}: its parameters cell declares what its schema does, and its defaults are allowed`, async () => {
    const schema = NOTEBOOK_PARAMETERS[name];
    assert.ok(schema, `${name} has no schema in lib/experiments/parameters.ts`);
    const nb: Notebook = JSON.parse(await Deno.readTextFile(join(dir, name)));
    const source = cellSource(nb.cells[findParametersCell(nb)]);
    const object = parametersObject(source);
    assert.ok(object, `${name}: the parameters cell is not one params object`);
    assert.deepEqual(object.keys, Object.keys(schema));
    // The cell is a plain object literal: evaluate it as JavaScript.
    const literal = source.slice(
      source.indexOf("{"),
      source.lastIndexOf("}") + 1,
    );
    const defaults = new Function(`return (${literal});`)();
    checkParams(defaults, schema, { where: name });
    // And the notebook checks its params before any work.
    assert.ok(
      nb.cells.some((c) =>
        /checkParams\(params, \w+_PARAMETERS\)/.test(cellSource(c))
      ),
      `${name} never calls checkParams(params, ...)`,
    );
  });
}
