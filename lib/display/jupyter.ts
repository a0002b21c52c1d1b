/**
 * The Jupyter side of the display helpers: detecting the Deno kernel and
 * sending MIME bundles to the notebook.
 *
 * @module
 */

/** A MIME bundle: MIME type to content, e.g. `{"image/png": base64}`. */
export type MimeBundle = Record<string, unknown>;

/** Options for {@linkcode displayBundle}. */
export interface DisplayOptions {
  /** Names the output so that later calls with `update: true` replace it. */
  displayId?: string;
  /** Replace the output named by `displayId` instead of adding a new one. */
  update?: boolean;
}

interface JupyterApi {
  display(
    obj: unknown,
    options?: { raw?: boolean; update?: boolean; display_id?: string },
  ): Promise<void>;
}

function jupyterApi(): JupyterApi | undefined {
  try {
    // Reading Deno.jupyter outside `deno jupyter` throws.
    return (Deno as unknown as { jupyter?: JupyterApi }).jupyter;
  } catch {
    return undefined;
  }
}

/** True when running inside the Deno Jupyter kernel. */
export function isJupyter(): boolean {
  return jupyterApi() !== undefined;
}

/**
 * Shows a MIME bundle as a notebook output. Outside Jupyter it does nothing
 * and returns false, so callers can fall back to a terminal rendering.
 */
export async function displayBundle(
  bundle: MimeBundle,
  opts: DisplayOptions = {},
): Promise<boolean> {
  const api = jupyterApi();
  if (!api) return false;
  await api.display(bundle, {
    raw: true,
    update: opts.update ?? false,
    display_id: opts.displayId,
  });
  return true;
}

/** Base64 of bytes, as Jupyter wants binary MIME data such as image/png. */
export function toBase64(bytes: Uint8Array): string {
  let text = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    text += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(text);
}
