/**
 * Steps of the optimizers worked out by hand, each a function that runs on
 * the active backend and throws on a mismatch. tests/optim/*_test.ts run
 * them on cpu (the tf-ops path); tests/backend/optimizer_kernels_test.ts on
 * wasm (the fused kernels, SIMD module and JavaScript loop).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { Adam } from "../../lib/optim/adam.ts";
import { CenteredRMSProp } from "../../lib/optim/rmsprop.ts";
import { RescaledRMSProp } from "../../lib/optim/rmsprop_rescaled.ts";
import { assertAllClose } from "../test_util.ts";

/** Named variables, disposed by {@linkcode withVariables} afterwards. */
function withVariables(
  values: Record<string, number[]>,
  fn: (vars: Record<string, tf.Variable>) => void | Promise<void>,
): Promise<void> {
  const vars: Record<string, tf.Variable> = {};
  for (const [name, v] of Object.entries(values)) {
    vars[name] = tf.tidy(() =>
      tf.variable(tf.tensor1d(v), true, `${name}_${crypto.randomUUID()}`)
    );
  }
  return Promise.resolve(fn(vars)).finally(() =>
    Object.values(vars).forEach((v) => v.dispose())
  );
}

/** `opt.applyGradients` with plain-number gradients for `vars`. */
function applyGrads(
  opt: tf.Optimizer,
  vars: Record<string, tf.Variable>,
  grads: Record<string, number[]>,
): void {
  const map: tf.NamedTensorMap = {};
  for (const [k, g] of Object.entries(grads)) {
    map[vars[k].name] = tf.tensor1d(g);
  }
  opt.applyGradients(map);
  tf.dispose(Object.values(map));
}

/** The optimizer's slot `suffix` of variable `v`, from getWeights. */
async function slot(
  opt: tf.Optimizer,
  v: tf.Variable,
  suffix: string,
): Promise<tf.Tensor> {
  const found = (await opt.getWeights()).find(({ name }) =>
    name === `${v.name}/${suffix}`
  );
  if (!found) throw new Error(`no weight ${v.name}/${suffix}`);
  return found.tensor;
}

/**
 * Rescaled RMSProp with a small gradient norm is Nesterov momentum exactly:
 * the three steps of tests/optim/nesterov_test.ts (loss 0.5 sum(c p^2),
 * p = [1, 2], c = [1, 3], lr 0.1, momentum 0.9). The norms are
 * sqrt(1 + 36) = 6.08, sqrt(0.6561 + 6.6564) = 2.70, sqrt(0.33074 + 0.12152)
 * = 0.67: sqrt(norm) <= 5, so the scale is 1 each time. Gradients
 * g1 = [1, 6], g2 = [0.81, 2.58], g3 = [0.5751, -0.3486]; running square
 * (0.9 sq + 0.1 g^2) and average (0.9 avg + 0.1 g):
 *   sq  [0.1, 3.6] -> [0.09 + 0.06561, 3.24 + 0.66564] = [0.15561, 3.90564]
 *       -> [0.140049 + 0.033074001, 3.515076 + 0.012152196]
 *        = [0.173123001, 3.527228196]
 *   avg [0.1, 0.6] -> [0.09 + 0.081, 0.54 + 0.258] = [0.171, 0.798]
 *       -> [0.1539 + 0.05751, 0.7182 - 0.03486] = [0.21141, 0.68334]
 *   memory (0.9 mem - 0.1 g) is -avg here, lr being 1 - 0.9:
 *       [-0.1, -0.6] -> [-0.171, -0.798] -> [-0.21141, -0.68334]
 */
export async function rescaledSmallNorm(): Promise<void> {
  await withVariables({ p: [1, 2] }, async ({ p }) => {
    const c = tf.tensor1d([1, 3]);
    const opt = new RescaledRMSProp({ learningRate: 0.1, momentum: 0.9 });
    const expected = [[0.81, 0.86], [0.5751, -0.1162], [0.327321, -0.696346]];
    for (const e of expected) {
      opt.minimize(() => tf.sum(tf.mul(0.5, tf.mul(c, tf.square(p)))), false, [
        p,
      ]);
      assertAllClose(p, e, 1e-5, "param");
      if (opt.lastStep?.scale !== 1) throw new Error("scale should be 1");
    }
    assertAllClose(await slot(opt, p, "memory"), [-0.21141, -0.68334], 1e-5);
    assertAllClose(
      await slot(opt, p, "running_square"),
      [0.173123001, 3.527228196],
      1e-5,
      "running_square",
    );
    assertAllClose(
      await slot(opt, p, "running_avg"),
      [0.21141, 0.68334],
      1e-5,
      "running_avg",
    );
    opt.dispose();
    c.dispose();
  });
}

/**
 * The norm is global, over both variables, and its square root is what is
 * compared with 5. a = [1], b = [2], lr 0.01, momentum 0.9, so
 * p += 0.81 mem - 0.019 g and mem = 0.9 mem - 0.01 g (g rescaled):
 *  1. g = [60], [80]: norm 100, sqrt 10, scale 5/10 = 0.5 -> g = [30], [40]
 *     (norm 50; per-variable norms would have scaled by 0.645 and 0.559).
 *     a = 1 - 0.57 = 0.43, b = 2 - 0.76 = 1.24; mem -0.3, -0.4;
 *     sq 0.1 g^2 = 90, 160; avg 3, 4.
 *  2. g = [15], [20]: norm 25, sqrt 5, scale 1 (the boundary: unchanged).
 *     a = 0.43 - 0.243 - 0.285 = -0.098, b = 1.24 - 0.324 - 0.38 = 0.536;
 *     mem -0.27 - 0.15 = -0.42, -0.36 - 0.2 = -0.56;
 *     sq 81 + 22.5 = 103.5, 144 + 40 = 184; avg 2.7 + 1.5 = 4.2, 3.6 + 2 = 5.6.
 *  3. g = [6000], [8000]: norm 10000, sqrt 100, scale 0.05 -> [300], [400].
 *     a = -0.098 - 0.3402 - 5.7 = -6.1382, b = 0.536 - 0.4536 - 7.6 = -7.5176;
 *     mem -0.378 - 3 = -3.378, -0.504 - 4 = -4.504;
 *     sq 93.15 + 9000 = 9093.15, 165.6 + 16000 = 16165.6;
 *     avg 3.78 + 30 = 33.78, 5.04 + 40 = 45.04.
 */
export async function rescaledLargeNorm(): Promise<void> {
  await withVariables({ a: [1], b: [2] }, async ({ a, b }) => {
    const opt = new RescaledRMSProp({ learningRate: 0.01, momentum: 0.9 });
    const steps = [
      { g: [60, 80], norm: 100, scale: 0.5, a: 0.43, b: 1.24 },
      { g: [15, 20], norm: 25, scale: 1, a: -0.098, b: 0.536 },
      { g: [6000, 8000], norm: 10000, scale: 0.05, a: -6.1382, b: -7.5176 },
    ];
    for (const s of steps) {
      applyGrads(opt, { a, b }, { a: [s.g[0]], b: [s.g[1]] });
      const last = opt.lastStep!;
      if (
        last.shrink || Math.abs(last.norm - s.norm) > 1e-3 * s.norm ||
        Math.abs(last.scale - s.scale) > 1e-6
      ) {
        throw new Error(
          `step ${JSON.stringify(s)}: got ${JSON.stringify(last)}`,
        );
      }
      assertAllClose(a, [s.a], 1e-5, "a");
      assertAllClose(b, [s.b], 1e-5, "b");
    }
    assertAllClose(await slot(opt, a, "memory"), [-3.378], 1e-5, "mem a");
    assertAllClose(await slot(opt, b, "memory"), [-4.504], 1e-5, "mem b");
    assertAllClose(await slot(opt, a, "running_square"), [9093.15], 1e-2);
    assertAllClose(await slot(opt, b, "running_square"), [16165.6], 1e-2);
    assertAllClose(await slot(opt, a, "running_avg"), [33.78], 1e-4);
    assertAllClose(await slot(opt, b, "running_avg"), [45.04], 1e-4);
    opt.dispose();
  });
}

/**
 * A non-finite norm replaces every gradient (of every variable, even the
 * finite ones) by 0.1 * param. a = [1, -2], b = [4], lr 0.1, momentum 0.9:
 * p += 0.81 mem - 0.19 g, mem = 0.9 mem - 0.1 g.
 *  1. g_a = [Inf, 1], g_b = [3]: g = 0.1 p = [0.1, -0.2], [0.4].
 *     a = [1 - 0.019, -2 + 0.038] = [0.981, -1.962], b = 4 - 0.076 = 3.924;
 *     mem [-0.01, 0.02], [-0.04]; sq 0.1 g^2 = [0.001, 0.004], [0.016].
 *  2. g_a = [1, 1], g_b = [NaN]: g = [0.0981, -0.1962], [0.3924].
 *     a0 = 0.981 - 0.0081 - 0.018639 = 0.954261,
 *     a1 = -1.962 + 0.0162 + 0.037278 = -1.908522,
 *     b = 3.924 - 0.0324 - 0.074556 = 3.817044;
 *     mem [-0.009 - 0.00981, 0.018 + 0.01962] = [-0.01881, 0.03762],
 *     [-0.036 - 0.03924] = [-0.07524];
 *     avg [0.009 + 0.00981, -0.018 - 0.01962] = [0.01881, -0.03762], [0.07524].
 */
export async function rescaledNonFinite(): Promise<void> {
  await withVariables({ a: [1, -2], b: [4] }, async ({ a, b }) => {
    const opt = new RescaledRMSProp({ learningRate: 0.1, momentum: 0.9 });
    applyGrads(opt, { a, b }, { a: [Infinity, 1], b: [3] });
    if (!opt.lastStep!.shrink) throw new Error("Inf: expected the shrink");
    assertAllClose(a, [0.981, -1.962], 1e-6, "a after Inf");
    assertAllClose(b, [3.924], 1e-6, "b after Inf");
    assertAllClose(await slot(opt, a, "running_square"), [0.001, 0.004], 1e-7);
    assertAllClose(await slot(opt, b, "running_square"), [0.016], 1e-7);
    applyGrads(opt, { a, b }, { a: [1, 1], b: [NaN] });
    if (!opt.lastStep!.shrink) throw new Error("NaN: expected the shrink");
    assertAllClose(a, [0.954261, -1.908522], 1e-6, "a after NaN");
    assertAllClose(b, [3.817044], 1e-6, "b after NaN");
    assertAllClose(await slot(opt, a, "memory"), [-0.01881, 0.03762], 1e-7);
    assertAllClose(await slot(opt, b, "memory"), [-0.07524], 1e-7);
    assertAllClose(
      await slot(opt, a, "running_avg"),
      [0.01881, -0.03762],
      1e-7,
    );
    assertAllClose(await slot(opt, b, "running_avg"), [0.07524], 1e-7);
    opt.dispose();
  });
}

/**
 * Squares that overflow float32 also take the shrink branch, as in the
 * seed's float32 graph: (1e20)^2 = 1e40 > 3.4e38 in one variable, and
 * (1.5e19)^2 = 2.25e38 in each of two, finite apiece but 4.5e38 together.
 * a = [2]: g = 0.2, a = 2 - 0.19 * 0.2 = 1.962 (lr 0.1, momentum 0.9);
 * b = [1], c = [-1]: b = 1 - 0.019 = 0.981, c = -0.981.
 */
export async function rescaledOverflow(): Promise<void> {
  await withVariables({ a: [2], b: [1], c: [-1] }, ({ a, b, c }) => {
    const one = new RescaledRMSProp({ learningRate: 0.1 });
    applyGrads(one, { a }, { a: [1e20] });
    if (!one.lastStep!.shrink) throw new Error("1e20: expected the shrink");
    assertAllClose(a, [1.962], 1e-6, "a");
    const two = new RescaledRMSProp({ learningRate: 0.1 });
    applyGrads(two, { b, c }, { b: [1.5e19], c: [1.5e19] });
    if (!two.lastStep!.shrink) throw new Error("2 x 1.5e19: expected shrink");
    assertAllClose(b, [0.981], 1e-6, "b");
    assertAllClose(c, [-0.981], 1e-6, "c");
    one.dispose();
    two.dispose();
  });
}

/**
 * Centred RMSProp (Graves 2013) with round numbers: decay 0.5, momentum 0.5,
 * lr 0.1, epsilon 0.01, p = [0, 0], gradients [2, -2], [4, -4], [-2, 2]
 * (element 1 mirrors element 0). For element 0:
 *  1. n = 0.5 * 4 = 2, gbar = 0.5 * 2 = 1, n - gbar^2 = 1,
 *     s = 0.1 * 2 / sqrt(1.01) = 0.2 / 1.004987562 = 0.199007438,
 *     delta = -0.199007438; plain: p = -0.199007438;
 *     Nesterov: p = 0.5 * delta - s = -0.298511157.
 *  2. n = 1 + 8 = 9, gbar = 0.5 + 2 = 2.5, n - gbar^2 = 2.75,
 *     s = 0.4 / sqrt(2.76) = 0.4 / 1.661324773 = 0.240771706,
 *     delta = -0.099503719 - 0.240771706 = -0.340275425;
 *     plain: p = -0.539282863; Nesterov: p = -0.298511157 - 0.170137713
 *     - 0.240771706 = -0.709420576.
 *  3. n = 4.5 + 2 = 6.5, gbar = 1.25 - 1 = 0.25, n - gbar^2 = 6.4375,
 *     s = -0.2 / sqrt(6.4475) = -0.2 / 2.539192785 = -0.078765189,
 *     delta = -0.170137713 + 0.078765189 = -0.091372523;
 *     plain: p = -0.630655387; Nesterov: p = -0.709420576 - 0.045686262
 *     + 0.078765189 = -0.676341648.
 */
export async function centeredRound(nesterov: boolean): Promise<void> {
  await withVariables({ p: [0, 0] }, async ({ p }) => {
    const opt = new CenteredRMSProp({
      learningRate: 0.1,
      decay: 0.5,
      momentum: 0.5,
      epsilon: 0.01,
      nesterov,
    });
    const grads = [[2, -2], [4, -4], [-2, 2]];
    const expected = nesterov
      ? [-0.298511157, -0.709420576, -0.676341648]
      : [-0.199007438, -0.539282863, -0.630655387];
    for (const [k, g] of grads.entries()) {
      applyGrads(opt, { p }, { p: g });
      assertAllClose(p, [expected[k], -expected[k]], 1e-6, `step ${k + 1}`);
    }
    assertAllClose(await slot(opt, p, "mean_square"), [6.5, 6.5], 1e-6);
    assertAllClose(await slot(opt, p, "mean_grad"), [0.25, -0.25], 1e-6);
    assertAllClose(
      await slot(opt, p, "delta"),
      [-0.091372523, 0.091372523],
      1e-6,
    );
    opt.dispose();
  });
}

/**
 * Centred RMSProp with Graves' own constants (the defaults: decay 0.95,
 * momentum 0.9, lr 1e-4, epsilon 1e-4), p = [0], gradients 1, 1, -2:
 *  1. n = 0.05, gbar = 0.05, n - gbar^2 = 0.0475, sqrt(0.0476) = 0.218174242,
 *     s = 1e-4 / 0.218174242 = 4.58349e-4, delta = p = -4.58349e-4.
 *  2. n = 0.0475 + 0.05 = 0.0975, gbar = 0.0975, n - gbar^2 = 0.08799375,
 *     sqrt(0.08809375) = 0.296805913, s = 3.369205e-4,
 *     delta = -4.125143e-4 - 3.369205e-4 = -7.494348e-4, p = -1.2077841e-3.
 *  3. n = 0.092625 + 0.2 = 0.292625, gbar = 0.092625 - 0.1 = -0.007375,
 *     n - gbar^2 = 0.292570609, sqrt(0.292670609) = 0.540990397,
 *     s = -2e-4 / 0.540990397 = -3.696923e-4,
 *     delta = -6.744913e-4 + 3.696923e-4 = -3.047990e-4, p = -1.5125831e-3.
 */
export async function centeredGraves(): Promise<void> {
  await withVariables({ p: [0] }, async ({ p }) => {
    const opt = new CenteredRMSProp();
    const expected = [-4.58349e-4, -1.2077841e-3, -1.5125831e-3];
    for (const [k, g] of [1, 1, -2].entries()) {
      applyGrads(opt, { p }, { p: [g] });
      assertAllClose(p, [expected[k]], 1e-9, `step ${k + 1}`);
    }
    assertAllClose(await slot(opt, p, "delta"), [-3.04799e-4], 1e-9);
    opt.dispose();
  });
}

/**
 * Adam, lr 0.1, beta1 0.9, beta2 0.999, epsilon 1e-8, p = [1, -2],
 * gradients [0.5, -1], [0.1, 2], [-0.3, 2]; p -= 0.1 mhat / (sqrt(vhat) + eps)
 * with c1 = 1 - 0.9^t = 0.1, 0.19, 0.271 and c2 = 1 - 0.999^t = 0.001,
 * 0.001999, 0.002997001:
 *  1. m = 0.1 g = [0.05, -0.1], v = 0.001 g^2 = [0.00025, 0.001];
 *     mhat = g, vhat = g^2: each step is 0.1 sign(g) (less 1e-9):
 *     p = [0.9, -1.9].
 *  2. m0 = 0.045 + 0.01 = 0.055, v0 = 0.00024975 + 0.00001 = 0.00025975,
 *     mhat 0.289473684, vhat 0.12993997 (sqrt 0.360472), step 0.080304096,
 *     p0 = 0.819695906;
 *     m1 = -0.09 + 0.2 = 0.11, v1 = 0.000999 + 0.004 = 0.004999,
 *     mhat 0.578947368, vhat 2.500750375 (sqrt 1.581376), step 0.036610352,
 *     p1 = -1.936610352.
 *  3. m0 = 0.0495 - 0.03 = 0.0195, v0 = 0.00025949025 + 0.00009 = 0.00034949025,
 *     mhat 0.07195572, vhat 0.116613325, step 0.021071295, p0 = 0.798624611;
 *     m1 = 0.099 + 0.2 = 0.299, v1 = 0.004994001 + 0.004 = 0.008994001,
 *     mhat 1.103321033, vhat 3.001000333, step 0.063689652,
 *     p1 = -2.000300005.
 */
export async function adamHand(): Promise<void> {
  await withVariables({ p: [1, -2] }, async ({ p }) => {
    const opt = new Adam({ learningRate: 0.1 });
    const grads = [[0.5, -1], [0.1, 2], [-0.3, 2]];
    const expected = [
      [0.9, -1.9],
      [0.819695906, -1.936610352],
      [0.798624611, -2.000300005],
    ];
    for (const [k, g] of grads.entries()) {
      applyGrads(opt, { p }, { p: g });
      assertAllClose(p, expected[k], 1e-6, `step ${k + 1}`);
    }
    assertAllClose(await slot(opt, p, "m"), [0.0195, 0.299], 1e-7);
    assertAllClose(await slot(opt, p, "v"), [0.00034949025, 0.008994001], 1e-9);
    opt.dispose();
  });
}

/** Every hand-computed case, by name. */
export const HAND_CASES: Record<string, () => Promise<void>> = {
  "rmsprop-rescaled, small norm (= Nesterov)": rescaledSmallNorm,
  "rmsprop-rescaled, global norm 100 -> 50, 25, 10000 -> 500":
    rescaledLargeNorm,
  "rmsprop-rescaled, Inf and NaN -> 0.1 * param": rescaledNonFinite,
  "rmsprop-rescaled, float32 overflow -> 0.1 * param": rescaledOverflow,
  "rmsprop (centred), round numbers": () => centeredRound(false),
  "rmsprop (centred), round numbers, nesterov": () => centeredRound(true),
  "rmsprop (centred), Graves' constants": centeredGraves,
  "adam": adamHand,
};
