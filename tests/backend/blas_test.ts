import assert from "node:assert/strict";
import { coreTypeForCpu } from "../../lib/backend/blas.ts";

const cpuinfo = (flags: string) =>
  `processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: ${flags}\nbugs\t\t: spectre_v1\n`;

Deno.test("coreTypeForCpu: AVX-512 (F, CD, BW, DQ, VL) gives SkylakeX", () => {
  assert.equal(
    coreTypeForCpu(
      cpuinfo("fpu sse2 avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl"),
    ),
    "SkylakeX",
  );
});

Deno.test("coreTypeForCpu: AVX2 + FMA without full AVX-512 gives Haswell", () => {
  assert.equal(
    coreTypeForCpu(cpuinfo("fpu sse2 avx avx2 fma avx512f")),
    "Haswell",
  );
  assert.equal(coreTypeForCpu(cpuinfo("fpu sse2 avx avx2 fma")), "Haswell");
});

Deno.test("coreTypeForCpu: older CPUs and other text leave OpenBLAS to decide", () => {
  assert.equal(coreTypeForCpu(cpuinfo("fpu sse2 sse4_2 avx")), null);
  assert.equal(coreTypeForCpu(cpuinfo("fpu sse2 avx2")), null);
  assert.equal(
    coreTypeForCpu("Hardware\t: BCM2835\nFeatures\t: neon vfp\n"),
    null,
  );
  // Flags of the "bugs" line must not count.
  assert.equal(coreTypeForCpu("flags\t: fpu\nbugs\t: avx2 fma\n"), null);
});
