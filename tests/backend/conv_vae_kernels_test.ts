/**
 * The kernels the convolutional VAE (lib/models/conv_vae.ts) runs, on its
 * layer shapes at a small batch: "same" 3x3 convolutions with one and many
 * channels, the decoder's transposed convolutions (stride 2, explicit
 * padding), each forward and both backprops, against the cpu backend; the
 * SIMD module's col2im against the JavaScript one bit for bit; and the 2x2
 * max-pool gradient on memory that held other values.
 */
import * as tf from "@tensorflow/tfjs-core";
import { loadBlas } from "../../lib/backend/blas.ts";
import { setWasmKernelsEnabled } from "../../lib/backend/wasm_kernels.ts";
import {
  assertClose,
  onBackend,
  randn,
  type TestBackend,
} from "./test_util.ts";

const BACKENDS: TestBackend[] = loadBlas() !== null
  ? ["wasm", "wasm+blas"]
  : ["wasm"];

type Pad = "same" | "valid" | [
  [number, number],
  [number, number],
  [number, number],
  [number, number],
];

interface Layer {
  name: string;
  /** Input of the (forward) convolution, NHWC. */
  x: [number, number, number, number];
  /** Filter [fh, fw, inC, outC]. */
  f: [number, number, number, number];
  strides: number;
  pad: Pad;
}

// The conv VAE's layers at batch 3: the encoder's "same" convolutions, and
// the strided convolutions whose transposes (Conv2DBackpropInput) are the
// decoder's depool + conv (lib/nn/depool.ts: pads [1, 0]).
const TRANSPOSED_PAD: Pad = [[0, 0], [1, 0], [1, 0], [0, 0]];
const LAYERS: Layer[] = [
  {
    name: "enc0",
    x: [3, 28, 28, 1],
    f: [3, 3, 1, 16],
    strides: 1,
    pad: "same",
  },
  {
    name: "enc1",
    x: [3, 14, 14, 16],
    f: [3, 3, 16, 32],
    strides: 1,
    pad: "same",
  },
  {
    name: "dec1 (transposed)",
    x: [3, 14, 14, 16],
    f: [3, 3, 16, 32],
    strides: 2,
    pad: TRANSPOSED_PAD,
  },
  {
    name: "dec2 (transposed)",
    x: [3, 28, 28, 1],
    f: [3, 3, 1, 16],
    strides: 2,
    pad: TRANSPOSED_PAD,
  },
];

function outShape(l: Layer): number[] {
  return tf.backend_util.computeConv2DInfo(l.x, l.f, l.strides, 1, l.pad)
    .outShape;
}

function data(l: Layer, seed: number) {
  const y = outShape(l);
  return {
    x: randn(tf.util.sizeFromShape(l.x), seed),
    f: randn(tf.util.sizeFromShape(l.f), seed + 1, 0.3),
    dy: randn(tf.util.sizeFromShape(y), seed + 2),
    y,
  };
}

/** Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter of layer `l`. */
function kernels(l: Layer, d: ReturnType<typeof data>) {
  const attrs = { strides: l.strides, pad: l.pad, dataFormat: "NHWC" };
  const x = tf.tensor(d.x, l.x), f = tf.tensor(d.f, l.f);
  const dy = tf.tensor(d.dy, d.y);
  const run = (name: string, inputs: tf.NamedTensorMap, more: object) =>
    tf.engine().runKernel(name, inputs, {
      ...attrs,
      ...more,
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
  return {
    conv: run("Conv2D", { x, filter: f }, { dilations: 1 }),
    dx: run("Conv2DBackpropInput", { dy, filter: f }, { inputShape: l.x }),
    df: run("Conv2DBackpropFilter", { x, dy }, { filterShape: l.f }),
  };
}

Deno.test("the conv VAE's convolutions and both backprops match cpu (SIMD module on and off)", async () => {
  for (const [i, l] of LAYERS.entries()) {
    const d = data(l, 10 * i + 1);
    const expected = await onBackend("cpu", () => kernels(l, d));
    for (const backend of BACKENDS) {
      for (const simd of [true, false]) {
        setWasmKernelsEnabled(simd);
        try {
          const actual = await onBackend(backend, () => kernels(l, d));
          const label = `${backend}${simd ? "" : " (js)"} ${l.name}`;
          assertClose(actual.conv, expected.conv, 1e-4, `Conv2D ${label}`);
          assertClose(actual.dx, expected.dx, 1e-4, `BackpropInput ${label}`);
          // dFilter sums over every pixel of the batch: scale the tolerance.
          assertClose(actual.df, expected.df, 1e-4, `BackpropFilter ${label}`);
        } finally {
          setWasmKernelsEnabled(true);
        }
      }
    }
  }
});

Deno.test("col2im in the SIMD module equals the JavaScript one bit for bit", async () => {
  // Gathering (>= 8 channels) and scattering (fewer) col2im, with the
  // Week 8 convnet's layers among them, every padding kind, strides,
  // dilation and a non-square filter.
  const cases: Layer[] = [
    ...LAYERS,
    {
      name: "convnet1",
      x: [4, 11, 11, 32],
      f: [2, 2, 32, 64],
      strides: 1,
      pad: "valid",
    },
    {
      name: "convnet2",
      x: [4, 5, 5, 64],
      f: [2, 2, 64, 128],
      strides: 1,
      pad: "valid",
    },
    {
      name: "convnet0",
      x: [3, 48, 48, 3],
      f: [3, 3, 3, 32],
      strides: 2,
      pad: "valid",
    },
    {
      name: "3x2 s2",
      x: [2, 9, 8, 16],
      f: [3, 2, 16, 8],
      strides: 2,
      pad: "same",
    },
    {
      name: "5x5 s1",
      x: [2, 7, 6, 9],
      f: [5, 5, 9, 4],
      strides: 1,
      pad: "same",
    },
    {
      name: "1 channel",
      x: [2, 9, 8, 1],
      f: [3, 2, 1, 8],
      strides: 1,
      pad: "valid",
    },
    {
      name: "explicit",
      x: [2, 8, 9, 10],
      f: [3, 3, 10, 6],
      strides: 3,
      pad: [[0, 0], [2, 1], [0, 2], [0, 0]],
    },
  ];
  for (const backend of BACKENDS) {
    for (const [i, l] of cases.entries()) {
      const d = data(l, 100 + i);
      const run = () =>
        tf.engine().runKernel("Conv2DBackpropInput", {
          dy: tf.tensor(d.dy, d.y),
          filter: tf.tensor(d.f, l.f),
        }, {
          strides: l.strides,
          pad: l.pad,
          dataFormat: "NHWC",
          inputShape: l.x,
        } as unknown as tf.NamedAttrMap) as tf.Tensor;
      setWasmKernelsEnabled(false);
      let js: number[];
      try {
        js = await onBackend(backend, run);
      } finally {
        setWasmKernelsEnabled(true);
      }
      const simd = await onBackend(backend, run);
      assertClose(simd, js, 0, `${backend} col2im ${l.name}`);
    }
  }
});

Deno.test("MaxPoolGrad over windows that tile the input writes every element", async () => {
  const shape: [number, number, number, number] = [3, 8, 10, 16];
  const x = randn(tf.util.sizeFromShape(shape), 5);
  const dy = randn(3 * 4 * 5 * 16, 6);
  const run = () => {
    // Fill freed heap memory with NaN first, so the gradient's output (the
    // same size) likely reuses it.
    tf.fill(shape, NaN).dispose();
    const input = tf.tensor4d(x, shape);
    const output = tf.maxPool(input, 2, 2, "valid");
    return tf.engine().runKernel("MaxPoolGrad", {
      dy: tf.tensor4d(dy, [3, 4, 5, 16]),
      input,
      output,
    }, { filterSize: 2, strides: 2, pad: "valid" }) as tf.Tensor;
  };
  const expected = await onBackend("cpu", run);
  for (const backend of BACKENDS) {
    const actual = await onBackend(backend, run);
    assertClose(actual, expected, 0, `${backend} MaxPoolGrad`);
  }
});
