/**
 * The notebooks' parameters: what each may be, checked before any work.
 *
 * Every notebook's `parameters` cell holds one object, `const params = { ... }`;
 * lib/experiments/parameters.ts declares, per notebook, what each entry may
 * be (a {@linkcode ParamSchema}). The notebook checks its object against it
 * in its first code cell ({@linkcode checkParams}), and the headless runner
 * checks command-line overrides against it before starting a kernel, so a
 * wrong value stops with one error naming the parameter, the value and what
 * is allowed, before data loads.
 *
 * @module
 */

/** What one parameter may be. */
export type ParamSpec =
  | { type: "int"; min?: number; max?: number }
  | {
    type: "number";
    min?: number;
    max?: number;
    /** Whether `min` itself is excluded (a learning rate must be > 0). */
    exclusiveMin?: boolean;
  }
  | { type: "string"; nonEmpty?: boolean }
  | { type: "enum"; values: readonly string[] }
  | { type: "bool" }
  | {
    type: "int[]" | "number[]";
    min?: number;
    max?: number;
    exclusiveMin?: boolean;
    minLength?: number;
  }
  | { type: "enum[]"; values: readonly string[]; minLength?: number };

/** A notebook's parameters: each name and what it may be. */
export type ParamSchema = Readonly<Record<string, ParamSpec>>;

/** A parameter's value is not allowed; the message says which, what and why. */
export class ParameterError extends Error {
  override name = "ParameterError";
}

/** What `spec` allows, in words (for error messages and the README). */
export function describeSpec(spec: ParamSpec): string {
  const range = (s: { min?: number; max?: number; exclusiveMin?: boolean }) => {
    const lo = s.min === undefined
      ? ""
      : s.exclusiveMin
      ? ` > ${s.min}`
      : ` >= ${s.min}`;
    const hi = s.max === undefined ? "" : `${lo ? " and" : ""} <= ${s.max}`;
    return lo + hi;
  };
  switch (spec.type) {
    case "int":
      return `an integer${range(spec)}`;
    case "number":
      return `a number${range(spec)}`;
    case "string":
      return spec.nonEmpty ? "a non-empty string" : "a string";
    case "enum":
      return `one of ${spec.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "bool":
      return "true or false";
    case "int[]":
    case "number[]": {
      const what = spec.type === "int[]" ? "integers" : "numbers";
      const len = spec.minLength ? ` (at least ${spec.minLength})` : "";
      return `a list of ${what}${range(spec)}${len}`;
    }
    case "enum[]": {
      const len = spec.minLength ? `at least ${spec.minLength} ` : "";
      return `a list of ${len}values from ${
        spec.values.map((v) => JSON.stringify(v)).join(", ")
      }`;
    }
  }
}

function inRange(
  v: number,
  s: { min?: number; max?: number; exclusiveMin?: boolean },
): boolean {
  if (s.min !== undefined && (s.exclusiveMin ? !(v > s.min) : !(v >= s.min))) {
    return false;
  }
  return s.max === undefined || v <= s.max;
}

/** Whether `value` is what `spec` allows. */
export function allowed(spec: ParamSpec, value: unknown): boolean {
  const isNumber = (v: unknown): v is number =>
    typeof v === "number" && Number.isFinite(v);
  switch (spec.type) {
    case "int":
      return Number.isInteger(value) && inRange(value as number, spec);
    case "number":
      return isNumber(value) && inRange(value, spec);
    case "string":
      return typeof value === "string" && (!spec.nonEmpty || value !== "");
    case "enum":
      return typeof value === "string" && spec.values.includes(value);
    case "bool":
      return typeof value === "boolean";
    case "int[]":
    case "number[]":
      return Array.isArray(value) &&
        value.length >= (spec.minLength ?? 0) &&
        value.every((v) =>
          (spec.type === "int[]" ? Number.isInteger(v) : isNumber(v)) &&
          inRange(v, spec)
        );
    case "enum[]":
      return Array.isArray(value) &&
        value.length >= (spec.minLength ?? 0) &&
        value.every((v) => typeof v === "string" && spec.values.includes(v));
  }
}

/**
 * Throws a {@linkcode ParameterError} for the first parameter of `values`
 * that `schema` does not declare or does not allow, naming it, its value and
 * what is allowed (or the declared names). With `partial`, parameters the
 * values leave out are fine (command-line overrides); otherwise every
 * declared one must be there.
 */
export function checkParams(
  values: Record<string, unknown>,
  schema: ParamSchema,
  opts: { partial?: boolean; where?: string } = {},
): void {
  const where = opts.where ? ` (${opts.where})` : "";
  for (const [name, value] of Object.entries(values)) {
    const spec = schema[name];
    if (!spec) {
      throw new ParameterError(
        `unknown parameter "${name}"${where}; the parameters are: ${
          Object.keys(schema).join(", ")
        }`,
      );
    }
    if (!allowed(spec, value)) {
      throw new ParameterError(
        `parameter ${name}${where} is ${
          JSON.stringify(value) ?? String(value)
        }; it must be ${describeSpec(spec)}`,
      );
    }
  }
  if (!opts.partial) {
    const missing = Object.keys(schema).filter((k) => !(k in values));
    if (missing.length > 0) {
      throw new ParameterError(
        `parameters missing${where}: ${missing.join(", ")}`,
      );
    }
  }
}

/**
 * The notebooks' "0 means all" (or "every core"): `undefined` for 0, the
 * count itself otherwise, for options whose absence means no limit.
 */
export function zeroMeansAll(n: number): number | undefined {
  return n === 0 ? undefined : n;
}
