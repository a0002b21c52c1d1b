/**
 * The models by kind, so a saved run can be rebuilt from its configuration
 * (see lib/runs.ts).
 *
 * @module
 */
import type { Module } from "../nn/module.ts";
import { BNConvNet, type BNConvNetConfig } from "./bn_convnet.ts";
import { ConvVAE, type ConvVAEConfig } from "./conv_vae.ts";
import { FFVAE, type FFVAEConfig } from "./ff_vae.ts";
import { M1, type M1Config } from "./m1.ts";
import { M2, type M2Config } from "./m2.ts";
import { SSVAE, type SSVAEConfig } from "./ss_vae.ts";

/** A model that can be saved in a run folder and rebuilt from it. */
export interface SavableModel extends Module {
  /** The key of its builder in {@linkcode MODEL_BUILDERS}. */
  readonly kind: string;
  /** Everything its constructor needs, as JSON. */
  readonly config: object;
}

/** Each model kind's constructor, from the configuration it was saved with. */
export const MODEL_BUILDERS: Record<string, (config: never) => SavableModel> = {
  bn_convnet: (config: BNConvNetConfig) => new BNConvNet(config),
  conv_vae: (config: ConvVAEConfig) => new ConvVAE(config),
  ff_vae: (config: FFVAEConfig) => new FFVAE(config),
  m1: (config: M1Config) => new M1(config),
  m2: (config: M2Config) => new M2(config),
  ss_vae: (config: SSVAEConfig) => new SSVAE(config),
};

/** Builds a model of `kind` from `config`; the error lists the known kinds. */
export function buildModel(kind: string, config: unknown): SavableModel {
  const build = MODEL_BUILDERS[kind] as
    | ((config: unknown) => SavableModel)
    | undefined;
  if (!build) {
    throw new Error(
      `unknown model kind "${kind}"; known: ${
        Object.keys(MODEL_BUILDERS).join(", ")
      } (was the run saved by a newer version?)`,
    );
  }
  return build(config);
}
