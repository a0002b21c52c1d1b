/**
 * Where a run's numbers came from: the code (git commit, and whether the
 * working tree had changes), the runtime (Deno, V8, TypeScript), tfjs and
 * the machine. Recorded in each run folder's `run.json` (lib/run_dir.ts).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { fileURLToPath } from "node:url";

/** What {@linkcode provenance} finds. */
export interface Provenance {
  /** The commit checked out, and whether tracked or new files differ from it; nulls outside a git checkout. */
  git: { commit: string | null; dirty: boolean | null };
  deno: string;
  v8: string;
  typescript: string;
  /** tfjs-core's version. */
  tfjs: string;
  /** `os/arch`, e.g. "linux/x86_64". */
  platform: string;
  /** Logical cores. */
  cpus: number;
}

async function git(args: string[]): Promise<string | null> {
  try {
    const root = fileURLToPath(new URL("..", import.meta.url));
    const out = await new Deno.Command("git", {
      args: ["-C", root, ...args],
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null; // no git, or no permission to run it
  }
}

/** This process's provenance (git is asked; nothing else is slow). */
export async function provenance(): Promise<Provenance> {
  const commit = await git(["rev-parse", "HEAD"]);
  const status = commit === null ? null : await git(["status", "--porcelain"]);
  return {
    git: { commit, dirty: status === null ? null : status.length > 0 },
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    tfjs: tf.version_core,
    platform: `${Deno.build.os}/${Deno.build.arch}`,
    cpus: navigator.hardwareConcurrency ?? 1,
  };
}
