#pragma once

namespace fastbert::kernels {

// The int8 multiply-accumulate peak of this machine, measured with a JIT loop
// of independent vpdpbusd zmm instructions (no loads, 24 accumulators) on
// `threads` threads at once. Returned in GOP/s counting a MAC as 2 ops. Needs
// AVX512-VNNI; returns 0 without it.
double measure_vnni_peak_gops(int threads, double seconds = 0.2);

}  // namespace fastbert::kernels
